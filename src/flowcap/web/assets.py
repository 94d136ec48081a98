"""The scripts and styles the pages load, all from this server (no CDN: the app works
offline): htmx, vendored in ``static/`` (see ``static/README.md``), and Plotly.js from the
installed ``plotly`` package, so the chart library always matches the figures
:mod:`flowcap.report.chart` builds.

Plotly.js adds its own stylesheet rules from script when it loads, which a strict
Content-Security-Policy (``style-src 'self'``) refuses. Since plotly.js 2.35 a page can hold
those rules in a stylesheet of its own instead: a ``<link id="plotly.js-style-global"
class="no-inline-styles">`` makes plotly.js skip them. :func:`plotly_css` writes that
stylesheet from the rules in the installed plotly.min.js, so the two never drift apart.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import plotly

STATIC = Path(__file__).with_name("static")
TEMPLATES = Path(__file__).with_name("templates")
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

#: Where plotly.min.js keeps its global style rules (src/build/plotcss.js), and how it names
#: the selectors ("X" the plot, "Y" the notifier).
_RULES_START = '{"X,X div"'
_RULES_END = "};for("


#: Stylesheets plotly.js adds as ``<style>`` elements unless an element with their id is
#: already in the page (maplibre's, for map traces).
_STYLE_BLOCK = re.compile(
    r"""getElementById\("([0-9a-f]{16,})"\)\)\{var (\w+)=document\.createElement\("style"\);"""
    r"""\2\.id="\1",\2\.textContent=('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
)


@cache
def plotly_style_blocks() -> tuple[tuple[str, str], ...]:
    """The ``(id, css)`` of each stylesheet plotly.js would add as a ``<style>`` element: the
    page holds an element with each id (so plotly.js adds none) and :func:`plotly_css`
    serves their rules."""
    source = PLOTLY_JS.read_text(encoding="utf-8")
    return tuple(
        (found.group(1), ast.literal_eval(found.group(3)))
        for found in _STYLE_BLOCK.finditer(source)
    )


@cache
def plotly_css() -> str:
    """The global style rules of the installed plotly.js as a stylesheet; empty when they
    cannot be found (a plotly.js that moved them: the chart still draws, the mode bar looks
    plainer)."""
    source = PLOTLY_JS.read_text(encoding="utf-8")
    start = source.find(_RULES_START)
    end = source.find(_RULES_END, start)
    if start < 0 or end < 0:
        return "\n".join(css for _, css in plotly_style_blocks())
    rules = _string_object(source[start + 1 : end])
    lines = [css for _, css in plotly_style_blocks()]
    for selector, body in rules.items():
        full = selector.replace("X", ".js-plotly-plot .plotly").replace("Y", ".plotly-notifier")
        if full.startswith(","):
            full = " " + full
        lines.append(f"{full}{{{body}}}")
    return "\n".join(lines) + "\n"


#: One ``key: value`` of a JavaScript object literal whose values are string literals (its
#: keys quoted, or bare names).
_PAIR = re.compile(
    r"""\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[A-Za-z_$][\w$]*)\s*:\s*"""
    r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*(?:,|$)"""
)


def _string_object(body: str) -> dict[str, str]:
    """The pairs of a JavaScript object literal's body; empty unless every character of it is
    read as ``key: "value"`` pairs."""
    rules, at = {}, 0
    while at < len(body):
        found = _PAIR.match(body, at)
        if found is None:
            return {}
        key, value = found.groups()
        key = ast.literal_eval(key) if key[0] in "'\"" else key
        rules[key] = ast.literal_eval(value)
        at = found.end()
    return rules
