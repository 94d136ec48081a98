"""Where a service's event log is and what its columns mean (flowcap.model.eventlog)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from flowcap.model.eventlog import EventLogConfig


def test_config_resolves_its_file_and_refuses_unknown_keys(tmp_path):
    assert EventLogConfig(file="logs/a.csv").path_in(tmp_path) == tmp_path / "logs" / "a.csv"
    assert EventLogConfig(file="/data/a.csv").path_in(tmp_path) == Path("/data/a.csv")
    with pytest.raises(ValidationError):
        EventLogConfig(file="a.csv", case="x")
    with pytest.raises(ValidationError):
        EventLogConfig(file="a.csv", timezone="Mars/Olympus")
