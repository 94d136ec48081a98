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

Without Graphviz, the HTML page is still drawn: the same boxes, arrows and words
(:class:`_Drawing`, shared with :func:`to_dot`) are laid out by flowcap's own simple layered
layout (:mod:`flowcap.report.process_map_layout`) and written as SVG by :func:`layered_svg`,
and the page says Graphviz was not found. SVG and PNG files need Graphviz; without it they
fail with how to install it.
"""

from __future__ import annotations

import html
import math
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from flowcap.checks import PROCESS_MAP_SUFFIXES, check_chart
from flowcap.errors import FlowcapError
from flowcap.processmap.dfg import END, START, ProcessMap
from flowcap.report._common import OKABE_ITO
from flowcap.report.process_map_layout import Box, layered_layout

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


def process_map_svg(
    pmap: ProcessMap,
    title: str,
    *,
    top_edges: int | None = DEFAULT_TOP_EDGES,
    graphviz: bool | None = None,
) -> str:
    """The picture of ``pmap`` as an ``<svg>`` element: its ``top_edges`` most frequent
    hand-offs with the worst bottlenecks kept. Drawn by Graphviz's ``dot`` when ``graphviz``
    (by default, when ``dot`` is installed), else laid out by flowcap itself (the web app's
    choice: a page that never depends on ``dot``). Text escaped, no script."""
    shown = _picture(pmap, top_edges, None) if len(pmap.edges) else pmap
    if has_graphviz() if graphviz is None else graphviz:
        return _svg_element(run_dot(to_dot(shown, title), "svg"))
    return layered_svg(_drawing(shown, title))


@dataclass(frozen=True)
class _Node:
    """A box (or the start or end circle) of the picture, as both renderers draw it."""

    id: str
    kind: str  # "start", "activity" or "end"
    name: str
    events: int
    fill: str
    tooltip: str


@dataclass(frozen=True)
class _Edge:
    """An arrow of the picture: its ends (node ids), thickness (points) and label lines."""

    source: str
    target: str
    count: int
    width: float
    lines: tuple[str, ...]
    tooltip: str
    artificial: bool  # from start or to end: dashed, no times
    bottleneck: bool


@dataclass(frozen=True)
class _Drawing:
    """What a picture of the map shows, before it is laid out (by Graphviz or by flowcap)."""

    title: str
    subtitle: tuple[str, ...]
    nodes: tuple[_Node, ...]
    edges: tuple[_Edge, ...]


def _drawing(shown: ProcessMap, title: str) -> _Drawing:
    """The nodes, arrows and words of the picture of ``shown`` (a map as it is to be drawn)."""
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

    nodes: list[_Node] = []
    ids: dict[str, str] = {}
    names = set(shown.edges["from"]) | set(shown.edges["to"])
    if START in names:
        ids[START] = "start"
        nodes.append(_Node("start", "start", "start", 0, "#009E73", "start"))
    max_events = max(int(shown.activities["events"].max()) if len(shown.activities) else 1, 1)
    for i, row in enumerate(shown.activities.itertuples(index=False)):
        ids[row.name] = f"a{i}"
        fill = _blend("#F2F7FC", "#9CC8EA", math.sqrt(row.events / max_events))
        tooltip = (
            f"{row.name}: {row.events:,} events in {row.cases:,} cases; "
            f"{format_hours(row.total_wait_hours)} in all on the arrows into it"
        )
        nodes.append(_Node(f"a{i}", "activity", str(row.name), int(row.events), fill, tooltip))
    if END in names:
        ids[END] = "end"
        nodes.append(_Node("end", "end", "end", 0, "#444444", "end"))

    edges: list[_Edge] = []
    max_count = max(int(shown.edges["count"].max()) if len(shown.edges) else 1, 1)
    for row in shown.edges.itertuples(index=False):
        source, target = row[0], row[1]
        count, cases = int(row.count), int(row.cases)
        artificial = source == START or target == END
        lines = [f"{count:,}×"]
        tooltip = f"{source} → {target}: {count:,} times in {cases:,} cases"
        if not artificial:
            lines.append(format_hours(row.median_wait_hours))
            tooltip += (
                f"; median {format_hours(row.median_wait_hours)}, "
                f"90th percentile {format_hours(row.p90_wait_hours)}, "
                f"{format_hours(row.total_wait_hours)} in all"
            )
        bottleneck = (source, target) in bottleneck_rank
        if bottleneck:
            rank, share = bottleneck_rank[(source, target)]
            lines += [f"p90 {format_hours(row.p90_wait_hours)}", f"#{rank} wait: {share:.0%}"]
            tooltip += f"; bottleneck #{rank}, {share:.1%} of all waiting"
        edges.append(
            _Edge(
                ids[source],
                ids[target],
                count,
                0.8 + 6.0 * math.sqrt(count / max_count),
                tuple(lines),
                tooltip,
                artificial,
                bottleneck,
            )
        )
    return _Drawing(title, tuple(subtitle), tuple(nodes), tuple(edges))


def to_dot(
    pmap: ProcessMap,
    title: str = "Process map",
    *,
    top_edges: int | None = None,
    top_variants: int | None = None,
) -> str:
    """The DOT text of the map (``pmap`` as given, or cut to ``top_edges`` edges of those on
    the ``top_variants`` most common variants; see :meth:`ProcessMap.filtered`)."""
    drawing = _drawing(_picture(pmap, top_edges, top_variants), title)
    label = (
        f'<<font point-size="18"><b>{html.escape(title)}</b></font>'
        + "".join(f'<br align="left"/>{html.escape(line)}' for line in drawing.subtitle)
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
    for node in drawing.nodes:
        if node.kind == "start":
            lines.append(
                '  start [label="start", shape=circle, style=filled, fillcolor="#009E73", '
                'fontcolor=white, color="#009E73", fontsize=10, width=0.6, fixedsize=true];'
            )
        elif node.kind == "end":
            lines.append(
                '  end [label="end", shape=doublecircle, style=filled, fillcolor="#444444", '
                'fontcolor=white, color="#444444", fontsize=10, width=0.5, fixedsize=true];'
            )
        else:
            text = f"{node.name}\n{node.events:,} events"
            lines.append(
                f"  {node.id} [label={_quote(text)}, "
                f'fillcolor="{node.fill}", tooltip={_quote(node.tooltip)}];'
            )
    for edge in drawing.edges:
        attrs = [f"penwidth={edge.width:.2f}"]
        if edge.artificial:
            attrs += ['style="dashed"', 'color="#B0B0B0"', 'fontcolor="#777777"']
        if edge.bottleneck:
            attrs += [f'color="{_BOTTLENECK}"', f'fontcolor="{_BOTTLENECK}"']
        attrs += [f"label={_quote(chr(10).join(edge.lines))}", f"tooltip={_quote(edge.tooltip)}"]
        if edge.artificial:
            attrs.append("weight=1")
        lines.append(f"  {edge.source} -> {edge.target} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- without Graphviz

#: Average width of a character (px) at the map's 12 px and 10 px font sizes: an estimate that
#: sizes the boxes (no font metrics are at hand without a browser).
_CHAR_12 = 7.0
_CHAR_10 = 6.0
_MARGIN = 24.0


def _box(node: _Node) -> Box:
    """The size of a node's box or circle (px), and the room a self-loop needs on its right."""
    if node.kind == "start":
        return Box(node.id, 43.2, 43.2)  # Graphviz's 0.6 inch circle at 72 px an inch
    if node.kind == "end":
        return Box(node.id, 36.0, 36.0)
    width = max(len(node.name), len(f"{node.events:,} events")) * _CHAR_12 + 28
    return Box(node.id, max(width, 90.0), 46.0)


def _label_width(lines: tuple[str, ...]) -> float:
    return max((len(line) for line in lines), default=0) * _CHAR_10


def _text_lines(x: float, y: float, lines, size: float, colour: str, anchor: str) -> str:
    """A ``<text>`` of several lines, the first baseline at ``y``, 1.2 line height apart."""
    spans = "".join(
        f'<tspan x="{x:.1f}" dy="{0 if i == 0 else size * 1.2:.1f}">{html.escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:g}" fill="{colour}" '
        f'text-anchor="{anchor}" stroke="white" stroke-width="3" paint-order="stroke">'
        f"{spans}</text>"
    )


def _arrow(tip: tuple[float, float], towards: tuple[float, float], width: float) -> tuple:
    """An arrowhead's polygon at ``tip`` pointing away from ``towards``, and where the line
    should stop (inside the head, so that a thick line does not poke out of its point)."""
    dx, dy = tip[0] - towards[0], tip[1] - towards[1]
    norm = math.hypot(dx, dy) or 1.0
    ux, uy = dx / norm, dy / norm
    length, half = 7.0 + width, (6.0 + width) / 2
    bx, by = tip[0] - ux * length, tip[1] - uy * length
    corners = [tip, (bx - uy * half, by + ux * half), (bx + uy * half, by - ux * half)]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in corners)
    return points, (tip[0] - ux * length * 0.6, tip[1] - uy * length * 0.6)


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class _LabelSpots:
    """Where the arrows' labels go: beside the first candidate spot whose box is clear of the
    boxes and of the labels already placed (a label may still cross an arrow)."""

    def __init__(self, taken: list[tuple[float, float, float, float]]):
        self.taken = list(taken)

    def place(self, spots, lines: tuple[str, ...]) -> tuple[float, float, str]:
        """(x, first baseline, text-anchor) of a label beside one of ``spots``, each tried on
        its right, then its left; beside the first spot when none is clear."""
        width, height = _label_width(lines), 12.0 * len(lines)

        def box(x: float, y: float, side: str) -> tuple[float, float, float, float]:
            # 3 px round the text: the character widths are an estimate.
            left = x + 6 if side == "start" else x - 6 - width
            return (left - 3, y - height / 2 - 1, left + width + 3, y + height / 2 + 1)

        tries = [(x, y, side) for x, y in spots for side in ("start", "end")]
        x, y, side = next(
            (t for t in tries if not any(_overlaps(box(*t), b) for b in self.taken)), tries[0]
        )
        self.taken.append(box(x, y, side))
        return (x + 6 if side == "start" else x - 6), y - height / 2 + 9, side


def _edge_svg(edge: _Edge, points, turned: bool, box: Box, centre, spots: _LabelSpots) -> str:
    """One arrow: a smooth curve through its points (or a loop beside its box), its head and
    its label, with the tooltip as the group's ``<title>``."""
    if edge.artificial:
        stroke, text_colour, dash = "#B0B0B0", "#777777", ' stroke-dasharray="5,4"'
    elif edge.bottleneck:
        stroke, text_colour, dash = _BOTTLENECK, _BOTTLENECK, ""
    else:
        stroke, text_colour, dash = _EDGE_GREY, "#333333", ""
    if not points:  # a self-loop, on the right of its box
        right, cy = centre[0] + box.width / 2, centre[1]
        start, c1, c2 = (right, cy - 8), (right + 38, cy - 32), (right + 38, cy + 32)
        head, stop = _arrow((right, cy + 8), c2, edge.width)
        curve = f"M{start[0]:.1f},{start[1]:.1f} C{c1[0]:.1f},{c1[1]:.1f} "
        curve += f"{c2[0]:.1f},{c2[1]:.1f} {stop[0]:.1f},{stop[1]:.1f}"
        candidates = [(right + 34, cy)]
    else:
        # Vertical tangents at every point: the curve leaves and enters boxes straight, and
        # bends smoothly through the dummy points. A turned-round edge bows to the right so
        # that it does not lie on an arrow the other way between the same boxes.
        bow = 28.0 if turned else 0.0
        segments = []
        for (x0, y0), (x1, y1) in zip(points[:-1], points[1:], strict=True):
            half = (y1 - y0) / 2
            segments.append(((x0 + bow, y0 + half), (x1 + bow, y1 - half), (x1, y1)))
        c1, c2, _ = segments[-1]
        head, stop = _arrow(points[-1], c2, edge.width)
        segments[-1] = (c1, c2, stop)
        curve = f"M{points[0][0]:.1f},{points[0][1]:.1f}" + "".join(
            f" C{a[0]:.1f},{a[1]:.1f} {b[0]:.1f},{b[1]:.1f} {e[0]:.1f},{e[1]:.1f}"
            for a, b, e in segments
        )
        # Candidate spots along the arrow, from its middle outwards: each segment's own
        # middle, (P0 + 3 C1 + 3 C2 + P1) / 8, and the points between segments.
        along = []
        for i, ((x0, y0), (a, b, _)) in enumerate(zip(points[:-1], segments, strict=True)):
            x1, y1 = points[i + 1]
            middle = ((x0 + 3 * a[0] + 3 * b[0] + x1) / 8, (y0 + 3 * a[1] + 3 * b[1] + y1) / 8)
            along.append((i + 0.5, middle))
            if i:
                along.append((float(i), (x0, y0)))
        centre_of_path = (len(points) - 1) / 2
        candidates = [p for _, p in sorted(along, key=lambda t: abs(t[0] - centre_of_path))]
    x, y, anchor = spots.place(candidates, edge.lines)
    return (
        f'<g class="edge"><title>{html.escape(edge.tooltip)}</title>'
        f'<path d="{curve}" fill="none" stroke="{stroke}" stroke-width="{edge.width:.2f}"{dash}/>'
        f'<polygon points="{head}" fill="{stroke}" stroke="none"/>'
        + _text_lines(x, y, edge.lines, 10, text_colour, anchor)
        + "</g>"
    )


def _node_svg(node: _Node, box: Box, centre) -> str:
    cx, cy = centre
    head = f'<g class="node"><title>{html.escape(node.tooltip)}</title>'
    if node.kind in ("start", "end"):
        r = box.width / 2
        shape = f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="{node.fill}"/>'
        if node.kind == "end":  # a double circle, as Graphviz draws the end
            shape += (
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r - 4:.1f}" fill="none" '
                'stroke="white" stroke-width="1.2"/>'
            )
        text = (
            f'<text x="{cx:.1f}" y="{cy + 3.5:.1f}" font-size="10" fill="white" '
            f'text-anchor="middle">{html.escape(node.kind)}</text>'
        )
        return head + shape + text + "</g>"
    left, top = cx - box.width / 2, cy - box.height / 2
    shape = (
        f'<rect x="{left:.1f}" y="{top:.1f}" width="{box.width:.1f}" height="{box.height:.1f}" '
        f'rx="6" fill="{node.fill}" stroke="{_NODE_LINE}" stroke-width="1.2"/>'
    )
    text = (
        f'<text x="{cx:.1f}" y="{cy - 3:.1f}" font-size="12" fill="#222222" '
        f'text-anchor="middle">{html.escape(node.name)}</text>'
        f'<text x="{cx:.1f}" y="{cy + 13:.1f}" font-size="11" fill="#444444" '
        f'text-anchor="middle">{html.escape(f"{node.events:,} events")}</text>'
    )
    return head + shape + text + "</g>"


def layered_svg(drawing: _Drawing) -> str:
    """The map as an SVG element laid out by flowcap itself
    (:func:`~flowcap.report.process_map_layout.layered_layout`), for when Graphviz is not
    installed: start at the top, end at the bottom, edges in time order downwards and the
    edges that close a loop curving back up on the right. Coordinates are px; the element has
    a ``viewBox`` (the HTML page zooms by it)."""
    loops = {e.source for e in drawing.edges if e.source == e.target}
    loop_room = {
        e.source: 46 + _label_width(e.lines) for e in drawing.edges if e.source == e.target
    }
    boxes = []
    for node in drawing.nodes:
        box = _box(node)
        if node.id in loops:
            box = Box(box.id, box.width, box.height, loop_room[node.id])
        boxes.append(box)
    layout = layered_layout(
        boxes,
        [(e.source, e.target) for e in drawing.edges],
        [e.count for e in drawing.edges],
        first="start",
        last="end",
    )
    size = {b.id: b for b in boxes}
    header = 40.0 + 16.0 * len(drawing.subtitle) + 16.0
    # Labels beside the rightmost arrows need room beyond the boxes.
    label_room = max((_label_width(e.lines) for e in drawing.edges), default=0.0) + 12
    text_width = max(
        [len(drawing.title) * 10.5] + [len(line) * _CHAR_12 * 0.95 for line in drawing.subtitle]
    )
    width = max(layout.width + 2 * _MARGIN + label_room, text_width + 2 * _MARGIN)
    height = header + layout.height + 2 * _MARGIN
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'font-family="{_FONT.replace(",", ", ")}">',
        f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="white"/>',
        f'<text x="{_MARGIN:.0f}" y="30" font-size="18" font-weight="bold" fill="#222222">'
        f"{html.escape(drawing.title)}</text>",
    ]
    for i, line in enumerate(drawing.subtitle):
        parts.append(
            f'<text x="{_MARGIN:.0f}" y="{52 + 16 * i}" font-size="12" fill="#444444">'
            f"{html.escape(line)}</text>"
        )
    parts.append(f'<g transform="translate({_MARGIN:.0f},{header + _MARGIN:.0f})">')
    taken = []
    for node in drawing.nodes:
        (cx, cy), box = layout.centres[node.id], size[node.id]
        taken.append((cx - box.width / 2 - 2, cy - box.height / 2 - 2, cx + box.width / 2 + 2,
                      cy + box.height / 2 + 2))  # fmt: skip
        if node.id in loops:  # the loop itself
            taken.append((cx + box.width / 2, cy - 26, cx + box.width / 2 + 34, cy + 26))
    spots = _LabelSpots(taken)
    # Self-loops' labels first (they have one spot), then the busiest arrows' labels.
    order = sorted(range(len(drawing.edges)), key=lambda k: bool(layout.paths[k]))
    drawn = {}
    for k in order:
        edge = drawing.edges[k]
        box, centre = size[edge.source], layout.centres[edge.source]
        drawn[k] = _edge_svg(edge, layout.paths[k], layout.reversed[k], box, centre, spots)
    parts += [drawn[k] for k in range(len(drawing.edges))]
    for node in drawing.nodes:  # over the arrows, as Graphviz's outputorder=edgesfirst
        parts.append(_node_svg(node, size[node.id], layout.centres[node.id]))
    parts.append("</g></svg>")
    return "\n".join(parts)


def has_graphviz() -> bool:
    """Whether Graphviz's ``dot`` program is on the PATH."""
    return shutil.which("dot") is not None


def _dot_binary() -> str:
    found = shutil.which("dot")
    if found is None:
        raise FlowcapError(
            "drawing a process map as .svg or .png needs Graphviz's `dot` program, which was "
            "not found on the PATH; install Graphviz (Debian/Ubuntu: `apt-get install "
            "graphviz`, as scripts/test.sh does; macOS: `brew install graphviz`; conda: "
            "`conda install graphviz`), or draw it as .html, which works without it"
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


#: Said on an HTML map drawn without Graphviz.
NO_GRAPHVIZ_NOTE = (
    "Graphviz was not found, so flowcap laid out this map itself (a simple layered layout); "
    "install Graphviz (Debian/Ubuntu: apt-get install graphviz) for a tidier one."
)


def _html_page(pmap: ProcessMap, title: str, svg: str, note: str | None = None) -> str:
    """The interactive page: ``svg`` (an ``<svg>`` element with a ``viewBox``) to zoom and
    pan, the notes, ``note`` when given, and the tables of the whole log."""
    full = pmap.full if pmap.full is not None else pmap
    notes = [
        f"{full.n_cases:,} cases, {full.n_events:,} events. {full.times_note}",
        "Hover over a box or an arrow for its numbers; scroll to zoom, drag to pan. "
        "The tables below cover the whole log.",
        *([note] if note else []),
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
        svg=svg,
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
    """Draw the map to ``path``: ``.svg`` or ``.png`` (Graphviz), or ``.html`` (interactive;
    laid out by Graphviz, or by :func:`layered_svg` when Graphviz is not installed).

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
        For an unsupported suffix, a ``top_edges`` or ``top_variants`` below 1, when
        Graphviz's ``dot`` is missing (``.svg`` and ``.png`` only: the message says how to
        install it) or when it fails. Nothing is written then.
    """
    path = Path(path)
    check_chart(path, suffixes=SUFFIXES)
    suffix = path.suffix.lower()
    shown = _picture(pmap, top_edges, top_variants)
    if suffix == ".html" and not has_graphviz():
        page = _html_page(pmap, title, layered_svg(_drawing(shown, title)), NO_GRAPHVIZ_NOTE)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
        return path
    # Graphviz runs before the folder is made, so a missing `dot` leaves nothing behind.
    drawn = run_dot(to_dot(shown, title), "png" if suffix == ".png" else "svg")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".html":
        path.write_text(_html_page(pmap, title, _svg_element(drawn)), encoding="utf-8")
    else:
        path.write_bytes(drawn)
    return path
