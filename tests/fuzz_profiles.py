"""Hypothesis profiles for the fuzz tests of flowcap's readers (tests/test_fuzz_*.py).

- ``ci`` (the default): 50 inputs per reader, derandomised (the same inputs every run, so
  the suite is deterministic), the whole fuzz suite in well under a minute on two cores;
- ``long``: 1,000 inputs per reader, random, for a run before a release (and the README's
  figures).

Every profile gives each input ``DEADLINE_MS``: an input a reader takes longer over is a
hang, reported and shrunk like any failure.

Choose the long profile with the environment variable::

    HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/test_fuzz_*.py

or with Hypothesis' own option, which needs the profiles registered before pytest starts
(this module loaded as a plugin; ``tests`` is not on the path then, hence ``PYTHONPATH``)::

    PYTHONPATH=tests .venv/bin/pytest -p fuzz_profiles --hypothesis-profile=long \
        tests/test_fuzz_*.py

The profiles are applied to the fuzz tests only (:func:`fuzz_settings`), so other Hypothesis
tests keep their own settings.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

#: The longest one input may take, in milliseconds: a reader that needs more on a file of a
#: few kilobytes is hanging (the deep YAML that took 33 s, the 200,000-comma header).
DEADLINE_MS = 5_000
#: Inputs per reader in each profile.
EXAMPLES = {"ci": 50, "long": 1_000}

_common = dict(
    deadline=DEADLINE_MS,
    # The machine is shared: slow generation is not a failure of the reader.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "ci", max_examples=EXAMPLES["ci"], derandomize=True, database=None, **_common
)
settings.register_profile("long", max_examples=EXAMPLES["long"], **_common)


def profile_name() -> str:
    """The fuzz profile in force: ``HYPOTHESIS_PROFILE`` when set, else the one loaded with
    ``--hypothesis-profile`` when it is a fuzz profile, else ``ci``."""
    chosen = os.environ.get("HYPOTHESIS_PROFILE", "").strip()
    if chosen:
        return chosen
    current = settings.get_current_profile_name()
    return current if current in EXAMPLES else "ci"


def fuzz_settings(**changes) -> settings:
    """The settings for one fuzz test: the profile in force, with ``changes`` (call it when
    the test module is imported, which is after pytest has loaded ``--hypothesis-profile``)."""
    return settings(settings.get_profile(profile_name()), **changes)
