"""A duration or count distribution as service.yaml gives it (flowcap.model.distribution)."""

from __future__ import annotations

import pytest

from flowcap.model.distribution import Distribution


@pytest.mark.parametrize(
    "dist, message",
    [
        ({"dist": "exponential", "mean": 20, "sd": 5}, "sd is not used by a exponential"),
        ({"dist": "fixed", "mean": 20, "sd": 5}, "sd is not used by a fixed"),
        ({"dist": "empirical", "values": [1, 2], "mean": 3}, "takes values only"),
    ],
)
def test_settings_a_distribution_would_ignore_are_refused(dist, message):
    with pytest.raises(ValueError, match=message):
        Distribution.model_validate(dist)
