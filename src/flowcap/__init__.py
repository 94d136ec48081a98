"""flowcap: demand, capacity, activity and backlog planning for public services.

The verbs a user needs most, on a service folder::

    import flowcap
    flowcap.import_folder("examples/victim-support")
    measures = flowcap.measure_folder("examples/victim-support")
    measures.table  # one row per resource and day, in minutes
"""

from flowcap.workflow import erase_case, import_folder, init_folder, measure_folder, validate_folder

__version__ = "0.1.0"
__all__ = ["erase_case", "import_folder", "init_folder", "measure_folder", "validate_folder"]
