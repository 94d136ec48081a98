"""The service definition: what a service is made of, read from ``service.yaml``."""

from flowcap.model.calendar import bank_holidays, working_calendar
from flowcap.model.service import CaseType, Resource, Service, Step

__all__ = ["CaseType", "Resource", "Service", "Step", "bank_holidays", "working_calendar"]
