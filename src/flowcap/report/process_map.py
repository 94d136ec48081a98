"""Drawing a process map with Graphviz: SVG, PNG, or an interactive offline HTML page.

The map is written as DOT text and laid out by Graphviz's ``dot`` program (Debian package
``graphviz``), called as a subprocess; no Python binding is needed. Boxes are activities with
their event counts; arrows are hand-offs labelled with how often they happen and the median
time between the two events, thicker the more frequent. The three hand-offs where most
waiting accumulates are drawn in vermillion. Only complete events are mapped; the time
between two of them is the waiting for the second step plus doing it, and the map says so,
and how many start events were left out (:attr:`ProcessMap.times_note`).

Unless told otherwise the picture shows the 30 most frequent edges (plus the top bottlenecks);
``top_variants`` keeps only the edges of the most common variants. The JSON of a map is
always the full graph.
"""

from __future__ import annotations

import html
import math
import shutil
import subprocess
from pathlib import Path

from flowcap.checks import PROCESS_MAP_SUFFIXES, check_chart
from flowcap.errors import FlowcapError
from flowcap.processmap.dfg import END, START, ProcessMap
from flowcap.report._common import OKABE_ITO

#: File suffixes :func:`write_process_map` accepts.
SUFFIXES = PROCESS_MAP_SUFFIXES
#: Edges drawn by default (the most frequent ones).
DEFAULT_TOP_EDGES = 30
#: Bottleneck edges highlighted (most total waiting).
HIGHLIGHTED_BOTTLENECKS = 3
_FONT = "Helvetica,Arial,DejaVu Sans,sans-serif"
_BOTTLENECK = OKABE_ITO["vermillion"]
_EDGE_GREY = "#8A8A8A"
_NODE_LINE = OKABE_ITO["blue"]
_DOT_TIMEOUT_S = 300


def format_hours(hours: float | None) -> str:
    """A duration for people: minutes under an hour, hours under two days, then days."""
    if hours is None or not math.isfinite(hours):
        return "–"
    if hours <= 0:
        return "0 min"
    if hours < 1 / 120:
        return "< 1 min"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    days = hours / 24
    return f"{days:.1f} d" if days < 10 else f"{days:,.0f} d"


def _quote(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, line breaks as ``\\n``."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return f'"{text}"'


def _blend(low: str, high: str, t: float) -> str:
    a = [int(low[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(high[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02X}" for x, y in zip(a, b, strict=True))


def _picture(pmap: ProcessMap, top_edges: int | None, top_variants: int | None) -> ProcessMap:
    if pmap.is_filtered or (top_edges is None and top_variants is None):
        return pmap
    return pmap.filtered(
        top_edges=top_edges, top_variants=top_variants, keep_bottlenecks=HIGHLIGHTED_BOTTLENECKS
    )


def to_dot(
    pmap: ProcessMap,
    title: str = "Process map",
    *,
    top_edges: int | None = None,
    top_variants: int | None = None,
) -> str:
    """The DOT text of the map (``pmap`` as given, or cut to ``top_edges`` edges of those on
    the ``top_variants`` most common variants; see :meth:`ProcessMap.filtered`)."""
    shown = _picture(pmap, top_edges, top_variants)
    full = shown.full if shown.full is not None else shown
    top = full.bottlenecks.head(HIGHLIGHTED_BOTTLENECKS)
    top = top[top["total_wait_hours"] > 0]
    bottleneck_rank = {
        (f, t): (int(r), float(s))
        for f, t, r, s in zip(top["from"], top["to"], top["rank"], top["share"], strict=True)
    }

    n_edges_full = len(full.edges)
    n_acts_full = len(full.activities)
    subtitle = [
        f"{full.n_cases:,} cases, {full.n_events:,} events, {n_acts_full} activities, "
        f"{n_edges_full} hand-offs.",
    ]
    if shown.is_filtered and len(shown.edges) < n_edges_full:
        subtitle.append(
            f"Showing {len(shown.edges)} of the {n_edges_full} hand-offs ({shown.selection}) "
            f"and {len(shown.activities)} of the {n_acts_full} activities."
        )
    subtitle.append(
        "Arrows: times the hand-off happens, median time to the next step; thicker = more frequent."
    )
    subtitle.append(full.times_note)
    if bottleneck_rank:
        subtitle.append(
            f"Vermillion: the {len(bottleneck_rank)} hand-offs where most waiting accumulates."
        )
    label = (
        f'<<font point-size="18"><b>{html.escape(title)}</b></font>'
        + "".join(f'<br align="left"/>{html.escape(line)}' for line in subtitle)
        + '<br align="left"/>>'
    )

    lines = [
        "digraph processmap {",
        f"  graph [rankdir=TB, fontname={_quote(_FONT)}, fontsize=12, labelloc=t, "
        f"labeljust=l, label={label}, nodesep=0.4, ranksep=0.5, pad=0.3, bgcolor=white, "
        f"outputorder=edgesfirst, tooltip={_quote(title)}];",
        f'  node [shape=box, style="rounded,filled", fontname={_quote(_FONT)}, fontsize=12, '
        f'color="{_NODE_LINE}", penwidth=1.2, margin="0.18,0.08"];',
        f"  edge [fontname={_quote(_FONT)}, fontsize=10, arrowsize=0.7, "
        f'color="{_EDGE_GREY}", fontcolor="#333333"];',
    ]
    ids: dict[str, str] = {}
    names = set(shown.edges["from"]) | set(shown.edges["to"])
    if START in names:
        ids[START] = "start"
        lines.append(
            '  start [label="start", shape=circle, style=filled, fillcolor="#009E73", '
            'fontcolor=white, color="#009E73", fontsize=10, width=0.6, fixedsize=true];'
        )
    max_events = max(int(shown.activities["events"].max()) if len(shown.activities) else 1, 1)
    for i, row in enumerate(shown.activities.itertuples(index=False)):
        ids[row.name] = f"a{i}"
        fill = _blend("#F2F7FC", "#9CC8EA", math.sqrt(row.events / max_events))
        tooltip = (
            f"{row.name}: {row.events:,} events in {row.cases:,} cases; "
            f"{format_hours(row.total_wait_hours)} in all on the arrows into it"
        )
        lines.append(
            f"  a{i} [label={_quote(f'{row.name}' + chr(10) + f'{row.events:,} events')}, "
            f'fillcolor="{fill}", tooltip={_quote(tooltip)}];'
        )
    if END in names:
        ids[END] = "end"
        lines.append(
            '  end [label="end", shape=doublecircle, style=filled, fillcolor="#444444", '
            'fontcolor=white, color="#444444", fontsize=10, width=0.5, fixedsize=true];'
        )

    max_count = max(int(shown.edges["count"].max()) if len(shown.edges) else 1, 1)
    for row in shown.edges.itertuples(index=False):
        source, target = row[0], row[1]
        count, cases = int(row.count), int(row.cases)
        width = 0.8 + 6.0 * math.sqrt(count / max_count)
        artificial = source == START or target == END
        text = f"{count:,}×"
        tooltip = f"{source} → {target}: {count:,} times in {cases:,} cases"
        attrs = [f"penwidth={width:.2f}"]
        if artificial:
            attrs += ['style="dashed"', 'color="#B0B0B0"', 'fontcolor="#777777"']
        else:
            text += f"\n{format_hours(row.median_wait_hours)}"
            tooltip += (
                f"; median {format_hours(row.median_wait_hours)}, "
                f"90th percentile {format_hours(row.p90_wait_hours)}, "
                f"{format_hours(row.total_wait_hours)} in all"
            )
        if (source, target) in bottleneck_rank:
            rank, share = bottleneck_rank[(source, target)]
            text += f"\np90 {format_hours(row.p90_wait_hours)}\n#{rank} wait: {share:.0%}"
            tooltip += f"; bottleneck #{rank}, {share:.1%} of all waiting"
            attrs += [f'color="{_BOTTLENECK}"', f'fontcolor="{_BOTTLENECK}"']
        attrs += [f"label={_quote(text)}", f"tooltip={_quote(tooltip)}"]
        if artificial:
            attrs.append("weight=1")
        lines.append(f"  {ids[source]} -> {ids[target]} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_binary() -> str:
    found = shutil.which("dot")
    if found is None:
        raise FlowcapError(
            "drawing a process map needs Graphviz's `dot` program, which was not found on the "
            "PATH; install Graphviz (Debian/Ubuntu: `apt-get install graphviz`; macOS: `brew "
            "install graphviz`; conda: `conda install graphviz`), or use --json for the numbers"
        )
    return found


def run_dot(dot_text: str, fmt: str) -> bytes:
    """Lay out ``dot_text`` with Graphviz and return it in ``fmt`` (``svg`` or ``png``)."""
    command = [_dot_binary(), f"-T{fmt}"]
    if fmt == "png":
        command.append("-Gdpi=110")
    try:
        done = subprocess.run(
            command, input=dot_text.encode("utf-8"), capture_output=True, timeout=_DOT_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        raise FlowcapError(
            f"Graphviz took over {_DOT_TIMEOUT_S} s to lay out the map; draw fewer edges"
        ) from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise FlowcapError(f"Graphviz could not draw the process map: {message}")
    return done.stdout


def _svg_element(svg: bytes) -> str:
    """The ``<svg>`` element of dot's output, without its XML declaration and doctype."""
    text = svg.decode("utf-8")
    return text[text.index("<svg") :]


def _table(title: str, headers: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return (
        f"<section><h2>{html.escape(title)}</h2><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></section>"
    )


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 0; color: #222; }}
header {{ padding: 10px 16px; border-bottom: 1px solid #ddd; }}
header h1 {{ font-size: 20px; margin: 0 0 4px 0; }}
header p {{ margin: 2px 0; color: #555; font-size: 13px; }}
#controls {{ position: absolute; right: 16px; margin-top: 8px; z-index: 2; }}
#controls button {{ font-size: 14px; margin-left: 4px; padding: 2px 10px; }}
#map {{ height: 78vh; overflow: hidden; cursor: grab; border-bottom: 1px solid #ddd; }}
#map svg {{ width: 100%; height: 100%; }}
#map.dragging {{ cursor: grabbing; }}
main {{ padding: 0 16px 24px 16px; display: flex; flex-wrap: wrap; gap: 24px; }}
h2 {{ font-size: 15px; margin: 16px 0 6px 0; }}
table {{ border-collapse: collapse; font-size: 12px; }}
th, td {{ border-bottom: 1px solid #e3e3e3; padding: 3px 8px; text-align: left; }}
td:nth-child(n+3) {{ text-align: right; }}
</style></head>
<body>
<header><h1>{title}</h1>{notes}</header>
<div id="controls"><button id="zin" title="Zoom in">+</button>
<button id="zout" title="Zoom out">&minus;</button>
<button id="fit" title="Show the whole map">Fit</button></div>
<div id="map">{svg}</div>
<main>{tables}</main>
<script>
(function () {{
  var box = document.getElementById("map");
  var svg = box.querySelector("svg");
  svg.removeAttribute("width"); svg.removeAttribute("height");
  var home = svg.getAttribute("viewBox").split(/[ ,]+/).map(Number);
  var view = home.slice();
  function show() {{ svg.setAttribute("viewBox", view.join(" ")); }}
  function zoom(factor, cx, cy) {{
    var r = svg.getBoundingClientRect();
    var scale = Math.max(view[2] / r.width, view[3] / r.height);
    var px = view[0] + (cx - r.left) * scale, py = view[1] + (cy - r.top) * scale;
    view[0] = px - (px - view[0]) * factor; view[1] = py - (py - view[1]) * factor;
    view[2] *= factor; view[3] *= factor; show();
  }}
  box.addEventListener("wheel", function (e) {{
    e.preventDefault(); zoom(e.deltaY < 0 ? 0.85 : 1 / 0.85, e.clientX, e.clientY);
  }}, {{ passive: false }});
  var last = null;
  box.addEventListener("mousedown", function (e) {{
    last = [e.clientX, e.clientY]; box.classList.add("dragging");
  }});
  window.addEventListener("mouseup", function () {{
    last = null; box.classList.remove("dragging");
  }});
  window.addEventListener("mousemove", function (e) {{
    if (!last) return;
    var r = svg.getBoundingClientRect();
    var scale = Math.max(view[2] / r.width, view[3] / r.height);
    view[0] -= (e.clientX - last[0]) * scale; view[1] -= (e.clientY - last[1]) * scale;
    last = [e.clientX, e.clientY]; show();
  }});
  function centre(f) {{
    var r = svg.getBoundingClientRect(); zoom(f, r.left + r.width / 2, r.top + r.height / 2);
  }}
  document.getElementById("zin").onclick = function () {{ centre(0.8); }};
  document.getElementById("zout").onclick = function () {{ centre(1.25); }};
  document.getElementById("fit").onclick = function () {{ view = home.slice(); show(); }};
}})();
</script>
</body></html>
"""


def _html_page(pmap: ProcessMap, shown: ProcessMap, title: str, svg: bytes) -> str:
    full = pmap.full if pmap.full is not None else pmap
    notes = [
        f"{full.n_cases:,} cases, {full.n_events:,} events. {full.times_note}",
        "Hover over a box or an arrow for its numbers; scroll to zoom, drag to pan. "
        "The tables below cover the whole log.",
    ]
    bottlenecks = [
        [
            str(r.rank),
            f"{r._1} → {r.to}",
            format_hours(r.total_wait_hours),
            f"{r.share:.1%}",
            f"{r.count:,}",
            format_hours(r.median_wait_hours),
        ]
        for r in full.bottlenecks.head(10).itertuples(index=False)
    ]
    delays = [
        [
            str(i + 1),
            f"{r._0} → {r.to}",
            format_hours(r.p90_wait_hours),
            format_hours(r.median_wait_hours),
            f"{r.count:,}",
        ]
        for i, r in enumerate(full.longest_delays.head(10).itertuples(index=False))
    ]
    rework = [
        [
            r.kind,
            f"{r._1} ↺" if r.kind == "self-loop" else f"{r._1} → {r.to} → {r._1}",
            f"{r.count:,}",
            f"{r.cases:,}",
        ]
        for r in full.rework.head(10).itertuples(index=False)
    ]
    variants = [
        [str(i + 1), " → ".join(r.variant), f"{r.cases:,}", f"{r.share:.1%}"]
        for i, r in enumerate(full.variants.head(10).itertuples(index=False))
    ]
    tables = "".join(
        [
            _table(
                "Bottlenecks: where the waiting accumulates",
                ["#", "hand-off", "total time", "share", "times", "median"],
                bottlenecks,
            ),
            _table(
                "Longest delays (90th percentile)",
                ["#", "hand-off", "p90", "median", "times"],
                delays,
            ),
            _table("Rework loops", ["kind", "loop", "times", "cases"], rework),
            _table("Most common variants", ["#", "variant", "cases", "share"], variants),
        ]
    )
    return _PAGE.format(
        title=html.escape(title),
        notes="".join(f"<p>{html.escape(n)}</p>" for n in notes),
        svg=_svg_element(svg),
        tables=tables,
    )


def write_process_map(
    pmap: ProcessMap,
    path: str | Path,
    title: str = "Process map",
    *,
    top_edges: int | None = DEFAULT_TOP_EDGES,
    top_variants: int | None = None,
) -> Path:
    """Draw the map to ``path``: ``.svg`` or ``.png`` (Graphviz), or ``.html`` (interactive).

    Parameters
    ----------
    pmap : ProcessMap
        A full map (cut to ``top_edges`` for the picture) or one already cut with
        :meth:`ProcessMap.filtered` (drawn as it is).
    path : str or Path
        Output file; its suffix picks the format.
    title : str
        Printed at the top of the map.
    top_edges : int or None
        How many of the most frequent edges to draw (default 30; the top three bottlenecks
        are always drawn); None draws every edge.
    top_variants : int or None
        Draw only the edges of the this many most common variants (then at most
        ``top_edges`` of them, plus the top three bottlenecks); None: every variant.

    Raises
    ------
    FlowcapError
        For an unsupported suffix, a ``top_edges`` or ``top_variants`` below 1, or when
        Graphviz's ``dot`` is missing or fails.
    """
    path = Path(path)
    check_chart(path, suffixes=SUFFIXES)
    suffix = path.suffix.lower()
    shown = _picture(pmap, top_edges, top_variants)
    dot_text = to_dot(shown, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".png":
        path.write_bytes(run_dot(dot_text, "png"))
    elif suffix == ".svg":
        path.write_bytes(run_dot(dot_text, "svg"))
    else:
        page = _html_page(pmap, shown, title, run_dot(dot_text, "svg"))
        path.write_text(page, encoding="utf-8")
    return path
