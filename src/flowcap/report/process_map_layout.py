"""A simple layered layout of a directed graph, for drawing a process map without Graphviz.

The steps are those of a Sugiyama layout, each done the simple way:

1. **Cycles** are broken by a depth-first search from the first node (``start``), heaviest
   edges first: an edge back to a node still on the search path is turned round for the
   layout (and drawn curving up the right-hand side); self-loops are left out of it.
2. **Layers** are the longest path from the top; the last node (``end``) goes on a layer of
   its own at the bottom.
3. An edge that spans several layers passes through a **dummy point** on each layer between,
   so that edges take part in the ordering and bend around the boxes rather than through them.
4. **Order within a layer** comes from barycentre sweeps (each node moves to the mean position
   of its neighbours on the layer above, then below), keeping the order with fewest crossings.
5. **Coordinates**: each node is pulled towards the mean of its neighbours' x, then the layer
   is pushed apart so that no two boxes are closer than the gap; layers are spaced evenly.

Units are SVG user units (pixels at 100%). Everything is deterministic: ties keep the order
the nodes and edges were given in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Horizontal gap between neighbouring boxes on a layer (px).
NODE_GAP = 36.0
#: Vertical gap between one layer's boxes and the next's (px): room for the edge labels.
LAYER_GAP = 96.0
#: Width given to a dummy point (px): edges passing a layer keep this far apart.
DUMMY_WIDTH = 18.0
_SWEEPS = 12
_PLACEMENT_ROUNDS = 8


@dataclass(frozen=True)
class Box:
    """A node to place: its id, its size (px) and extra room on its right (a self-loop)."""

    id: str
    width: float
    height: float
    right_room: float = 0.0


@dataclass(frozen=True)
class Layout:
    """Where everything goes.

    Attributes
    ----------
    centres : dict
        Node id → (x, y) of the box's centre (px).
    layers : dict
        Node id → layer (0 at the top).
    paths : list
        Per edge, in the order given, the points the edge passes through (px), from the
        source's border to the target's, through one dummy point per layer crossed; a
        self-loop's list is empty (it is drawn beside its node).
    reversed : list
        Per edge, whether it points up (it was turned round to break a cycle).
    width, height : float
        The extent of the drawing (px); every box lies in [0, width] × [0, height].
    """

    centres: dict[str, tuple[float, float]]
    layers: dict[str, int]
    paths: list[list[tuple[float, float]]]
    reversed: list[bool]
    width: float
    height: float


def layered_layout(
    boxes: Sequence[Box],
    edges: Sequence[tuple[str, str]],
    weights: Sequence[float] | None = None,
    *,
    first: str | None = None,
    last: str | None = None,
) -> Layout:
    """Lay out ``boxes`` joined by ``edges`` (source id, target id) top to bottom.

    ``weights`` (e.g. how often each hand-off happens) decide which edge of a cycle is turned
    round: the heavier edges are followed first, so the light ones point back. ``first`` is
    put on the top layer and ``last`` on the bottom one, when given.
    """
    ids = [b.id for b in boxes]
    size = {b.id: b for b in boxes}
    weights = list(weights) if weights is not None else [1.0] * len(edges)
    back = _back_edges(ids, edges, weights, first)
    # The graph the layout works on: no self-loops, cycles broken, parallel edges merged.
    dag: dict[str, list[str]] = {i: [] for i in ids}
    for k, (u, v) in enumerate(edges):
        if u == v:
            continue
        a, b = (v, u) if back[k] else (u, v)
        if b not in dag[a]:
            dag[a].append(b)
    layer = _longest_path_layers(ids, dag, first, last)

    # Dummy points: one per layer crossed, shared by the edges with the same ends.
    chains: dict[tuple[str, str], list[str]] = {}
    down: dict[str, list[str]] = {i: [] for i in ids}
    widths = {i: size[i].width + size[i].right_room for i in ids}
    for a in ids:
        for b in dag[a]:
            chain = [a]
            for step in range(layer[a] + 1, layer[b]):
                dummy = f"\0{a}\0{b}\0{step}"
                layer[dummy], widths[dummy], down[dummy] = step, DUMMY_WIDTH, []
                chain.append(dummy)
            chain.append(b)
            chains[(a, b)] = chain
            for p, q in zip(chain[:-1], chain[1:], strict=True):
                down[p].append(q)
    up: dict[str, list[str]] = {n: [] for n in down}
    for p, targets in down.items():
        for q in targets:
            up[q].append(p)

    n_layers = max(layer.values(), default=0) + 1
    order = _initial_order(ids, down, layer, n_layers)
    order = _reduce_crossings(order, up, down)
    x = _place(order, widths, up, down)

    # y: each layer as tall as its tallest box, LAYER_GAP between layers.
    heights = [max((size[n].height for n in row if n in size), default=0.0) for row in order]
    top, y_of_layer = 0.0, []
    for h in heights:
        y_of_layer.append(top + h / 2)
        top += h + LAYER_GAP
    height = top - LAYER_GAP
    left = min((x[n] - widths[n] / 2 for n in x), default=0.0)
    right = max((x[n] - widths[n] / 2 + widths[n] for n in x), default=0.0)
    # The box's centre is left of its slot's centre by half the room kept on its right.
    centre = {
        n: (
            x[n] - left - size[n].right_room / 2 if n in size else x[n] - left,
            y_of_layer[layer[n]],
        )
        for n in x
    }

    # Each edge leaves the bottom of the upper box and enters the top of the lower one; the
    # edges at one side of a box are spread along it, in the order of where they go, so they
    # do not all meet in one point.
    inner: dict[int, list[tuple[float, float]]] = {}
    ports: dict[tuple[str, str], list[tuple[float, int, int]]] = {}
    for k, (u, v) in enumerate(edges):
        if u == v:
            continue
        a, b = (v, u) if back[k] else (u, v)
        chain = chains[(a, b)]
        inner[k] = [centre[n] for n in chain[1:-1]]
        after_a = centre[chain[1]][0]
        before_b = centre[chain[-2]][0]
        ports.setdefault((a, "bottom"), []).append((after_a, k, 0))
        ports.setdefault((b, "top"), []).append((before_b, k, 1))
    ends: dict[tuple[int, int], tuple[float, float]] = {}
    for (node, side), attached in ports.items():
        attached.sort()
        cx, cy = centre[node]
        box = size[node]
        step = min(14.0, 0.7 * box.width / max(len(attached) - 1, 1))
        y = cy + box.height / 2 if side == "bottom" else cy - box.height / 2
        for j, (_, k, end) in enumerate(attached):
            ends[(k, end)] = (cx + (j - (len(attached) - 1) / 2) * step, y)
    paths, turned = [], []
    for k, (u, v) in enumerate(edges):
        turned.append(bool(back[k]))
        if u == v:
            paths.append([])
            continue
        points = [ends[(k, 0)], *inner[k], ends[(k, 1)]]
        paths.append(points[::-1] if back[k] else points)
    nodes = {i: centre[i] for i in ids}
    return Layout(nodes, {i: layer[i] for i in ids}, paths, turned, right - left, height)


def _back_edges(ids, edges, weights, first) -> list[bool]:
    """Which edges point back to a node on the depth-first search's path (iterative DFS)."""
    out: dict[str, list[tuple[float, int, str]]] = {i: [] for i in ids}
    for k, (u, v) in enumerate(edges):
        if u != v:
            out[u].append((-weights[k], k, v))
    for targets in out.values():
        targets.sort()
    state = dict.fromkeys(ids, 0)  # 0 unseen, 1 on the path, 2 done
    back = [False] * len(edges)
    roots = ([first] if first in state else []) + ids
    for root in roots:
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(out[root]))]
        while stack:
            node, todo = stack[-1]
            step = next(todo, None)
            if step is None:
                state[node] = 2
                stack.pop()
                continue
            _, k, target = step
            if state[target] == 1:
                back[k] = True
            elif state[target] == 0:
                state[target] = 1
                stack.append((target, iter(out[target])))
    return back


def _longest_path_layers(ids, dag, first, last) -> dict[str, int]:
    """Layer of each node: the longest path to it from a node with no incoming edge."""
    indegree = dict.fromkeys(ids, 0)
    for targets in dag.values():
        for b in targets:
            indegree[b] += 1
    layer = dict.fromkeys(ids, 0)
    ready = [i for i in ids if indegree[i] == 0]
    while ready:
        a = ready.pop(0)
        for b in dag[a]:
            layer[b] = max(layer[b], layer[a] + 1)
            indegree[b] -= 1
            if indegree[b] == 0:
                ready.append(b)
    if first in layer:
        # Only the first node on the top layer: a node reached only along turned-round edges
        # would otherwise sit beside it.
        for i in ids:
            if i != first and layer[i] == 0:
                layer[i] = 1
                for b in dag[i]:
                    layer[b] = max(layer[b], 2)
        layer = _relax(ids, dag, layer)
    if last in layer:
        others = [layer[i] for i in ids if i != last]
        layer[last] = max(others, default=-1) + 1
    return layer


def _relax(ids, dag, layer) -> dict[str, int]:
    """Push targets below their sources again after a node was moved down (a DAG: terminates)."""
    changed = True
    while changed:
        changed = False
        for a in ids:
            for b in dag[a]:
                if layer[b] <= layer[a]:
                    layer[b] = layer[a] + 1
                    changed = True
    return layer


def _initial_order(ids, down, layer, n_layers) -> list[list[str]]:
    """Nodes per layer in the order a breadth-first walk from the top meets them."""
    order: list[list[str]] = [[] for _ in range(n_layers)]
    seen: set[str] = set()
    queue = [i for i in ids if layer[i] == 0] + [i for i in ids if layer[i] != 0]
    for start in queue:
        if start in seen:
            continue
        seen.add(start)
        walk = [start]
        while walk:
            node = walk.pop(0)
            order[layer[node]].append(node)
            for nxt in down[node]:
                if nxt not in seen:
                    seen.add(nxt)
                    walk.append(nxt)
    return order


def _crossings(order, down) -> int:
    """Edge crossings between neighbouring layers (each pair of edges compared)."""
    total = 0
    for upper, lower in zip(order[:-1], order[1:], strict=False):
        position = {n: i for i, n in enumerate(lower)}
        pairs = [(i, position[q]) for i, p in enumerate(upper) for q in down[p] if q in position]
        for k, (a, b) in enumerate(pairs):
            for c, d in pairs[k + 1 :]:
                if (a - c) * (b - d) < 0:
                    total += 1
    return total


def _reduce_crossings(order, up, down) -> list[list[str]]:
    best, fewest = [row[:] for row in order], _crossings(order, down)
    for sweep in range(_SWEEPS):
        downward = sweep % 2 == 0
        rows = range(1, len(order)) if downward else range(len(order) - 2, -1, -1)
        for r in rows:
            fixed = order[r - 1] if downward else order[r + 1]
            position = {n: i for i, n in enumerate(fixed)}
            neighbours = up if downward else down
            keys = []
            for i, n in enumerate(order[r]):
                near = [position[m] for m in neighbours[n] if m in position]
                keys.append((sum(near) / len(near) if near else float(i), i))
            order[r] = [order[r][i] for _, i in sorted(keys)]
        count = _crossings(order, down)
        if count < fewest:
            best, fewest = [row[:] for row in order], count
    return best


def _place(order, widths, up, down) -> dict[str, float]:
    """x of each slot's centre: pulled towards the neighbours' mean, then pushed apart."""
    x: dict[str, float] = {}
    for row in order:
        left = 0.0
        for i, n in enumerate(row):
            left += _gap(row[i - 1], n) if i else 0.0
            x[n] = left + widths[n] / 2
            left += widths[n]
    for round_ in range(_PLACEMENT_ROUNDS):
        rows = order if round_ % 2 == 0 else order[::-1]
        for row in rows:
            wanted = []
            for n in row:
                near = [x[m] for m in up[n] + down[n]]
                wanted.append(sum(near) / len(near) if near else x[n])
            placed = _push_apart(row, wanted, widths)
            for n, value in zip(row, placed, strict=True):
                x[n] = value
    return x


def _gap(left: str, right: str) -> float:
    """Room between two neighbours: less where an edge's dummy point is one of them."""
    return NODE_GAP / 3 if left.startswith("\0") or right.startswith("\0") else NODE_GAP


def _push_apart(row, wanted, widths) -> list[float]:
    """Positions as near ``wanted`` as the order and the gaps allow: a left-to-right pass
    pushes each slot right of its left neighbour, then one shift puts the row's mean where
    the wanted mean is (the order and the gaps are kept)."""
    placed = list(wanted)
    for i in range(1, len(row)):
        least = (
            placed[i - 1] + (widths[row[i - 1]] + widths[row[i]]) / 2 + _gap(*row[i - 1 : i + 1])
        )
        placed[i] = max(placed[i], least)
    shift = (sum(wanted) - sum(placed)) / len(row) if row else 0.0
    return [p + shift for p in placed]
