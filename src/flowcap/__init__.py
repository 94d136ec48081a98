"""flowcap: demand, capacity, activity and backlog planning for public services.

Open a service once, from its folder or from the store, then ask it questions::

    import flowcap
    history = flowcap.open("examples/victim-support")   # imports what changed, then loads
    history.measures.table                              # one row per resource and day, minutes

    from flowcap.plan import simulate_ahead
    simulate_ahead(history, horizon=90).as_json()

The names are imported on first use, so that ``flowcap.simulate.daily`` (NumPy only) can run
on a machine that has nothing else installed.
"""

__version__ = "0.1.0"
_HISTORY = ("ServiceHistory", "open_event_log")
_MANAGE = (
    "erase_case",
    "import_folder",
    "init_folder",
    "list_services",
    "save_settings",
    "validate_folder",
)
__all__ = ["open", *_HISTORY, *_MANAGE]


def __getattr__(name: str):
    if name == "open":
        from flowcap.history import open_service

        return open_service
    if name in _HISTORY:
        from flowcap import history

        return getattr(history, name)
    if name in _MANAGE:
        from flowcap import manage

        return getattr(manage, name)
    raise AttributeError(f"module 'flowcap' has no attribute {name!r}")
