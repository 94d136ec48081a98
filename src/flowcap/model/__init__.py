"""The service definition (``service.yaml``) and the options to change it (``scenarios.yaml``)."""

from flowcap.model.calendar import bank_holidays, working_calendar
from flowcap.model.scenario import Scenario
from flowcap.model.service import CaseType, Resource, Service, Step

__all__ = [
    "CaseType",
    "Resource",
    "Scenario",
    "Service",
    "Step",
    "bank_holidays",
    "working_calendar",
]
