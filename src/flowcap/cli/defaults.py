"""The library's defaults that commands show in their ``--help``, copied here so that ``--help``
need not import the library (pandas, SciPy). tests/test_cli_startup.py checks each against
the library's own value."""

#: flowcap.model.scenario.RECRUITMENT_LEAD_DAYS: calendar days from recruiting to a first day.
RECRUITMENT_LEAD_DAYS = 84
#: flowcap.model.scenario.INDUCTION_DAYS: calendar days a recruit works at half output.
INDUCTION_DAYS = 28
#: flowcap.plan.outlook.PLAN_REPLICATIONS: simulated futures per candidate in ``flowcap plan``.
PLAN_REPLICATIONS = 2000
#: flowcap.export.FORMATS, HORIZON_DAYS and REPLICATIONS: ``flowcap export``.
EXPORT_FORMATS = ("csv", "parquet")
EXPORT_HORIZON_DAYS = 90
EXPORT_REPLICATIONS = 2000
