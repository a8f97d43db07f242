"""Sensitivity of event-study effects to violations of parallel trends (Rambachan & Roth 2023).

Why it is written here rather than taken from PyPI (checked 2026-12, see
tests/reference/honestdid/SOURCE.md): ``moderndid`` 0.2.0 does not reproduce
HonestDiD's documented output (Medicaid example, relative magnitudes
M-bar = 0.5: lower bound 0.0221 where R prints 0.0241; smoothness M = 0.02:
0.00283 where R prints 0.00286) and took 211 s for four values of M-bar;
``honestdid`` 0.1.1 requires torch (a CUDA build of several GB, not
installable in CBS Remote Access) and draws its least-favourable critical
values from numpy's generator, so it cannot reproduce R's simulated critical
values either. This implementation reproduces the R package's printed
bounds (tests/estimators/test_honest_did.py).

Modules: :mod:`.rstream` (R's normal stream), :mod:`.arp` (relative
magnitudes, C-LF), :mod:`.flci` (smoothness, FLCI), :mod:`.result`,
:mod:`.api` (input handling and the public function), :mod:`.binning` (monthly event time in
quarters or years, for the relative-magnitudes interval).
"""

from analysis.estimators.honest_did.api import honest_did
from analysis.estimators.honest_did.binning import bin_event_time, bin_of
from analysis.estimators.honest_did.result import HonestDiDResult

__all__ = ["honest_did", "HonestDiDResult", "bin_event_time", "bin_of"]
