"""The process map page: the directly-follows map of a service's stored event log (as
``flowcap processmap --service NAME`` maps it), drawn by flowcap's own layered layout as
inline SVG (its labels escaped, no script), and the bottleneck tables: where the waiting
accumulates, the longest delays and the rework loops. A service whose settings have no
``event_log:`` gets a sentence saying so."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from flowcap.report.process_map import format_hours
from flowcap.web.deps import CacheDep, NotFound, PageService, Visitor
from flowcap.web.render import render

router = APIRouter(include_in_schema=False)

#: Rows in each table (as ``flowcap processmap`` prints them).
MAP_ROWS = 10


@router.get("/services/{name}/processmap", response_class=HTMLResponse)
def process_map_page(
    request: Request, name: PageService, visitor: Visitor, cache: CacheDep
) -> Response:
    if cache.revision(name) is None:
        raise NotFound
    view = cache.process_map(name)
    context = {"title": f"{name}: process map", "name": name, "visitor": visitor, "view": view}
    if view is not None:
        pmap = view.pmap
        edges = pmap.edges.set_index(["from", "to"])
        context |= {
            "rows": MAP_ROWS,
            "hours": format_hours,
            "bottlenecks": [
                {**row, **edges.loc[(row["from"], row["to"])].to_dict()} | {"share": row["share"]}
                for row in pmap.bottlenecks.head(MAP_ROWS).to_dict("records")
            ],
            "delays": pmap.longest_delays.head(MAP_ROWS).to_dict("records"),
            "rework": pmap.rework.head(MAP_ROWS).to_dict("records"),
            "common": pmap.share_of_top_variants(MAP_ROWS) if len(pmap.variants) else None,
        }
    return render(request, "processmap.html", context)
