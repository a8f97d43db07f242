"""rendeert: reproducible research into what pays off in the Dutch social domain.

The package mirrors the data flow of DESIGN.md:
``data -> panel -> estimators -> studies -> report``, with ``run`` on top.
"""

__version__ = "0.1.0"
