"""The base of every model read from service.yaml: frozen, unknown keys are an error and
every number is finite (``.inf`` and ``.nan`` are refused)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
