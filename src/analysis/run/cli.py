"""The ``rendeert`` command line.

    rendeert synth --persons N --seed S --out DIR [--block-persons B] [--workers K | --scheduler tcp://H:P]
    rendeert validate DIR                             check a dataset against the contract
    rendeert studies [STUDY]                          list studies and their parameters
    rendeert new NAME [--from STUDY]                  start a study: notebooks/NN_NAME.py and its test
    rendeert run STUDY --help                         the parameters a study declares
    rendeert run STUDY|all [--dataset DIR] [-p NAME VALUE]... [-f params.yml] [--lang nl|en] [--out DIR] [--policy FILE]
    rendeert rerun reports/<study>/<run-id>           rerun from a manifest, compare estimates
    rendeert batch STUDY [--grid grid.yml] [-p NAME v1,v2]... [--workers N] [--scheduler tcp://H:P] [--resume] [--policy FILE]
    rendeert export RUN_DIR... --out FILE.zip [--policy FILE] [--differencing withhold|refuse]   CBS output check
    rendeert import-cbs SOURCE_DIR --out DATASET_DIR [--mapping mapping.yml]   CBS microdata -> dataset

Bad input (a dataset that breaks the contract, an unknown parameter, a
malformed YAML file, a policy that loosens the rules, an export that would
reveal a difference of fewer than 10 persons with --differencing refuse) is
reported without a traceback and exits with status 2; a failing run exits 1;
an interrupted one (Ctrl-C, SIGTERM) 130 and its manifest says "interrupted".
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from analysis.errors import AnalysisError, DataValidationError, ParameterError, RunError, StudyError

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1


def _cmd_synth(args) -> int:
    from analysis.data.synthetic import generate

    scenario = {"pre_exit_dip": True} if args.pre_exit_dip else {}
    if args.experiment is not None:  # default: the simulator's (the experiment is in)
        scenario["experiment"] = args.experiment
    if args.block_persons is not None:  # default: the simulator's (synthetic.blocks.DEFAULT_BLOCK_PERSONS)
        scenario["block_persons"] = args.block_persons
    out = generate(Path(args.out), n_persons=args.persons, seed=args.seed, progress=True, workers=args.workers,
                   scheduler=args.scheduler, **scenario)
    print(f"Synthetic dataset written to {out}")
    return 0


def _cmd_validate(args) -> int:
    from analysis.data import load_dataset

    ds = load_dataset(Path(args.dataset), merge_touching=args.merge_touching)
    rows = ", ".join(f"{name} {n:,}" for name, n in ds.n_rows().items())  # counted, no table read
    print(f"{ds.path}: valid ({rows} rows).")
    return 0


def describe_study(study, *, detail: bool = False) -> str:
    """A study and each of its declarations, one line each (``detail``: what each allows, too)."""
    lines = [f"{study.name}  (notebooks/{study.notebook.name}): {study.title}"]
    for p in study.user_parameters:
        lines.append(f"    {p.describe()}")
        if detail and p.declaration is not None:
            lines.append(f"        allowed: {p.declaration.allowed()}; default {p.declaration.default_source}")
    return "\n".join(lines)


def _cmd_studies(args) -> int:
    from analysis.run.catalog import get_study, list_studies

    if args.name:
        print(describe_study(get_study(args.name), detail=True))
        print(f"\nRun it with `rendeert run {args.name} -p NAME VALUE ...`; a parameter left out keeps its default.")
        return 0
    for study in list_studies(required=True).values():
        print(describe_study(study))
    return 0


def _cmd_new(args) -> int:
    from analysis.run.scaffold import new_study

    made = new_study(args.name, from_study=args.from_study)
    root_rel = (lambda p: p.relative_to(Path.cwd()) if p.is_relative_to(Path.cwd()) else p)
    print(f"Study {made.name!r} written: {root_rel(made.notebook)} (from {made.source.name}) and its test "
          f"{root_rel(made.test)}.\nOpen it with `make lab`, run it with `rendeert run {made.name}`.")
    return 0


class _StudyHelp(argparse.Action):
    """``rendeert run STUDY --help``: the usage of ``run``, then the parameters STUDY declares."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.print_help()
        name = getattr(namespace, "study", None)
        if name and name != "all":
            from analysis.run.catalog import get_study

            try:
                study = get_study(name)
            except ParameterError as exc:
                parser.exit(EXIT_BAD_INPUT, f"\nerror: {exc}\n")
            print("\nparameters (-p NAME VALUE):\n" + describe_study(study, detail=True))
        parser.exit()


def _given_parameters(args) -> dict:
    from analysis.run.params import load_parameter_file

    given = {}
    if args.file:
        given.update(load_parameter_file(args.file))
    for name, value in args.param or []:
        given[name] = value
    if args.dataset is not None:
        given["dataset"] = args.dataset
    if args.lang is not None:
        given["lang"] = args.lang
    return given


def _cmd_run(args) -> int:
    from analysis.run.catalog import list_studies
    from analysis.run.runner import run_study

    given = _given_parameters(args)
    out = Path(args.out) if args.out else None
    if args.study != "all":
        outcome = run_study(args.study, given, out_root=out, pdf=not args.no_pdf, policy=args.policy,
                            link_latest=True)
        print(f"{outcome.study}: {outcome.run_dir}")
        return 0
    failures = []
    from analysis.run.runner import load_policy

    load_policy(args.policy)  # a bad policy is refused once, before any study runs
    for study in list_studies(required=True).values():
        declared = {p.name for p in study.user_parameters}
        mine = {k: v for k, v in given.items() if k in declared}
        print(f"== {study.name}", flush=True)
        try:
            outcome = run_study(study.name, mine, out_root=out, pdf=not args.no_pdf, policy=args.policy,
                                link_latest=True)
            print(f"{study.name}: {outcome.run_dir}", flush=True)
        except AnalysisError as exc:
            failures.append((study.name, str(exc)))
            print(f"{study.name}: FAILED\n{exc}", file=sys.stderr, flush=True)
    if failures:
        print("\nFailed studies:", file=sys.stderr)
        for name, msg in failures:
            print(f"  {name}: {msg.splitlines()[0]}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _cmd_rerun(args) -> int:
    from analysis.run.runner import rerun

    report = rerun(Path(args.run_dir), policy=args.policy)
    print("\n".join(report.lines()))
    return 0 if report.identical else EXIT_FAILED


def _cmd_import_cbs(args) -> int:
    from analysis.data.cbs import import_cbs

    report = import_cbs(Path(args.source_dir), Path(args.out), mapping=args.mapping)
    print(report.summary())
    return 0


def _cmd_batch(args) -> int:
    from analysis.run.batch import failures_table, read_grid, run_batch

    grid = read_grid(args.grid, args.param)
    fixed = {}
    if args.dataset is not None:
        fixed["dataset"] = args.dataset
    if args.lang is not None:
        fixed["lang"] = args.lang
    batch_dir = run_batch(args.study, grid, fixed=fixed, workers=args.workers, scheduler=args.scheduler,
                          resume=args.resume, out_root=Path(args.out) if args.out else None, pdf=not args.no_pdf,
                          estimate=args.estimate, policy=args.policy)
    print(f"Batch written to {batch_dir} (runs.csv, summary.csv{'' if args.no_pdf else ', summary.pdf'})")
    failed = failures_table(batch_dir)
    if failed:
        print(failed, file=sys.stderr)
        return EXIT_FAILED
    return 0


def _cmd_export(args) -> int:
    from analysis.run.export import export_runs

    outcome = export_runs(args.run_dirs, out=args.out, policy=args.policy, on_differencing=args.differencing)
    print(f"Output-check package written to {outcome.path} ({len(outcome.runs)} runs).")
    if outcome.withheld:
        print(f"{len(outcome.withheld)} cell(s) withheld by the export (see differencing.json in the package):",
              file=sys.stderr)
        for f in outcome.withheld[:20]:
            print(f"  run {f['run_id']}: {f['object']} / {f['cell']} ({f['rule']})", file=sys.stderr)
        if outcome.pdfs_left_out:
            print(f"report.pdf left out for run(s) {', '.join(outcome.pdfs_left_out)}: they show withheld cells.",
                  file=sys.stderr)
    return 0


POLICY_HELP = "disclosure-policy YAML that tightens the CBS rules (refused if it loosens them); default $RENDEERT_POLICY"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rendeert", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="rendeert: reproducible studies of what pays off in the Dutch social domain.",
        epilog="examples:\n" + __doc__.split("\n\n")[1].replace("    rendeert", "  rendeert")
        + "\n\n" + __doc__.split("\n\n")[2])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="generate a synthetic register dataset with known truth")
    p.add_argument("--persons", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True)
    p.add_argument("--block-persons", type=int, default=None,
                   help="persons simulated together in memory, rounded up to whole shards of 100,000 (about 2 GB "
                        "per block; default 200,000; the data do not depend on it)")
    p.add_argument("--workers", type=int, default=1,
                   help="processes simulating blocks at once (memory: one block each; the data do not depend on it)")
    p.add_argument("--scheduler", default=None,
                   help="simulate the blocks on a Dask cluster (tcp://HOST:PORT), as `rendeert batch --scheduler` "
                        "runs batches; the data do not depend on it")
    p.add_argument("--pre-exit-dip", action="store_true", help="build in a health dip before exit to work")
    p.add_argument("--experiment", action=argparse.BooleanOptionalAction, default=None,
                   help="the randomised multi-arm experiment (the experiments table, for the experiment study) "
                        "is in by default; --no-experiment leaves it out")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("validate", help="check a dataset directory against the data contract")
    p.add_argument("dataset")
    p.add_argument("--merge-touching", action="store_true", help="merge touching spells (recorded)")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("studies", help="list the studies and their parameters")
    p.add_argument("name", nargs="?", help="one study: each declaration with what it allows")
    p.set_defaults(func=_cmd_studies)

    p = sub.add_parser("new", help="start a study: notebooks/NN_NAME.py from the template (or another study) "
                                   "and tests/studies/test_NAME.py")
    p.add_argument("name", help="the new study's name: lower-case letters, digits, underscores")
    p.add_argument("--from", dest="from_study", metavar="STUDY", help="copy this study's notebook instead")
    p.set_defaults(func=_cmd_new)

    p = sub.add_parser("run", help="run one study, or all of them", add_help=False)
    p.add_argument("-h", "--help", action=_StudyHelp, help="show this help; after a STUDY: its parameters too")
    p.add_argument("study", help="a study name (see `rendeert studies`) or 'all'")
    p.add_argument("--dataset", help="dataset directory (data contract)")
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"))
    p.add_argument("-f", "--file", help="YAML file of parameters")
    p.add_argument("--lang", choices=("nl", "en"))
    p.add_argument("--out", help="output root (default: reports/)")
    p.add_argument("--no-pdf", action="store_true", help="skip the PDF (faster, for checks)")
    p.add_argument("--policy", help=POLICY_HELP)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("rerun", help="rerun a report from its manifest and compare the estimates")
    p.add_argument("run_dir")
    p.add_argument("--policy", help="policy file (default: the one the run recorded)")
    p.set_defaults(func=_cmd_rerun)
    p = sub.add_parser("batch", help="run a study for every combination of parameter values")
    p.add_argument("study")
    p.add_argument("--grid", help="YAML mapping: parameter -> list of values")
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUES"),
                   help="comma-separated values, or @municipalities for every code in the dataset")
    p.add_argument("--dataset")
    p.add_argument("--lang", choices=("nl", "en"))
    p.add_argument("--workers", type=int, help="local processes (default: number of cores)")
    p.add_argument("--scheduler", help="address of an existing Dask scheduler, tcp://HOST:PORT")
    p.add_argument("--resume", action="store_true", help="skip runs whose results exist (same parameters and data)")
    p.add_argument("--out", help="output root (default: reports/)")
    p.add_argument("--no-pdf", action="store_true")
    p.add_argument("--estimate", help="estimate compared across runs in summary.pdf (default: first with an se)")
    p.add_argument("--policy", help=POLICY_HELP)
    p.set_defaults(func=_cmd_batch)
    p = sub.add_parser("export", help="package runs for the CBS output check (zip with output list and checks)")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories reports/<study>/<run-id>")
    p.add_argument("--out", required=True, help="the package, FILE.zip (must not exist)")
    p.add_argument("--policy", help=POLICY_HELP)
    p.add_argument("--differencing", choices=("withhold", "refuse"), default="withhold",
                   help="a cell that differs from another run's by 1-9 units: withhold it in the package "
                        "(default) or refuse the export (exit 2)")
    p.set_defaults(func=_cmd_export)
    p = sub.add_parser("import-cbs", help="turn CBS microdata files (.sav/.csv) into a dataset (data contract)")
    p.add_argument("source_dir", help="directory with the CBS files (GBAPERSOONTAB, SECMBUS, ...)")
    p.add_argument("--out", required=True, help="new dataset directory")
    p.add_argument("--mapping", help="mapping file (default: the bundled cbs_mapping.yml; copy and adjust it)")
    p.set_defaults(func=_cmd_import_cbs)
    return parser


def _terminate(signum, frame):  # SIGTERM: unwind like Ctrl-C, so every run records how it ended
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread (called from a test runner's worker thread)
        previous = None
    try:
        return args.func(args)
    except (DataValidationError, ParameterError, StudyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (RunError, AnalysisError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a path that cannot be read or written, a full disk: said plainly
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_FAILED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
