"""Text from data or parameters is printed as text, never read as markup.

The PDF is made by pandoc (Markdown in) and Typst; the notebook shows the same
text as HTML. A municipality name such as ``#str(6*7)``, `` `#panic("x")`{=typst} ``,
``*bold*``, ``[link](x)``, ``$x$``, ``<tag>`` or ``@ref`` would otherwise be
executed, formatted or linked. :func:`markdown_text` backslash-escapes every
character with a meaning in Pandoc Markdown (pandoc then writes it to Typst as
an escaped literal); :func:`plain_text` undoes that for the HTML and plain-text
views; :func:`plot_text` keeps matplotlib from reading ``$...$`` as mathtext.
"""

from __future__ import annotations

import re

#: Characters with a meaning in Pandoc Markdown inline text (all are ASCII punctuation,
#: so pandoc accepts a backslash escape for each and prints the character itself).
SPECIAL = "\\`*_{}[]<>#$@|~^&!=+-:\"'"
_SPECIAL_RE = re.compile("([" + re.escape(SPECIAL) + "])")
_UNESCAPE_RE = re.compile(r"\\([" + re.escape(SPECIAL) + "])")


def markdown_text(value) -> str:
    """``value`` as Markdown that reads back as exactly this text (one line)."""
    text = " ".join(str(value).split())  # newlines and tabs would start new blocks
    return _SPECIAL_RE.sub(r"\\\1", text)


def plain_text(markdown: str) -> str:
    """Undo :func:`markdown_text` (for the HTML and text/plain views of the same output)."""
    return _UNESCAPE_RE.sub(r"\1", str(markdown))


def plot_text(value) -> str:
    """``value`` for a matplotlib label: ``$`` is printed, not read as mathtext."""
    return str(value).replace("$", r"\$")
