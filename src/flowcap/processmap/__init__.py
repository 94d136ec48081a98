"""Process maps of event logs: the directly-follows graph, its times and its bottlenecks.

:func:`process_map` builds a :class:`ProcessMap` from the events of a log (as
:func:`flowcap.io.eventlog.read_event_log` returns them);
:func:`flowcap.report.process_map.write_process_map` draws it with Graphviz to SVG or PNG, or
as an interactive HTML page. Where a log records lifecycle transitions, only its complete
events are mapped (:func:`complete_events`).
"""

from flowcap.processmap.dfg import END, START, ProcessMap, complete_events, process_map

__all__ = [
    "END",
    "START",
    "ProcessMap",
    "complete_events",
    "process_map",
]
