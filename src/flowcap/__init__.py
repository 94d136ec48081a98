"""flowcap: demand, capacity, activity and backlog planning for public services.

The verbs a user needs most, on a service folder::

    import flowcap
    flowcap.import_folder("examples/victim-support")
    measures = flowcap.measure_folder("examples/victim-support")
    measures.table  # one row per resource and day, in minutes

The verbs are imported on first use, so that ``flowcap.simulate.daily`` (NumPy only) can run
on a machine that has nothing else installed.
"""

__version__ = "0.1.0"
__all__ = ["erase_case", "import_folder", "init_folder", "measure_folder", "validate_folder"]


def __getattr__(name: str):
    if name in __all__:
        from flowcap import workflow

        return getattr(workflow, name)
    raise AttributeError(f"module 'flowcap' has no attribute {name!r}")
