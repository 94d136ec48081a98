"""The role matrix's entries for the scenario planner and the jobs (tests/test_web_roles.py):
a viewer sees the planner, its runs and their results; running and editing the options need an
editor. A job is its service's: ``GET /api/jobs/{id}`` answers only those who may see it.

``PARAMS`` fills the path parameters that are not the service's name: ``id`` is a finished
job of the service asked for (one made per store, with a tiny simulation), or an id that no
job has for a service the store does not hold.
"""

from __future__ import annotations

import time

ROUTES = {
    ("GET", "/services/{name}/planner"): "service page",
    ("POST", "/services/{name}/planner/run"): "service write",
    ("POST", "/services/{name}/planner/options"): "service write",
    ("GET", "/services/{name}/jobs/{id}"): "service page",
    ("POST", "/api/services/{name}/jobs"): "service api write",
    ("GET", "/api/jobs/{id}"): "service api",
}

#: An id no job has.
NO_JOB = "987654321"
_made: dict[tuple[str, str], str] = {}


def job_of(service: str, database_url: str) -> str:
    """The id of a finished job of ``service`` in the store at ``database_url`` (submitted
    once, run by whichever worker claims it first); :data:`NO_JOB` for a service the store
    does not hold."""
    from flowcap import jobs
    from flowcap.errors import FlowcapError
    from flowcap.store import Store

    key = (database_url, service)
    if key in _made:
        return _made[key]
    store = Store.open(database_url)
    try:
        try:
            job = jobs.submit(
                store, service, "simulate", {"horizon": 7, "replications": 10}, "role-matrix"
            )
        except FlowcapError:
            _made[key] = NO_JOB
            return NO_JOB
        deadline = time.monotonic() + 120
        while not job.finished and time.monotonic() < deadline:
            if jobs.work_once(store) is None:  # the app's workers have it: wait for them
                time.sleep(0.2)
            job = jobs.get_job(store, job.id)
    finally:
        store.close()
    _made[key] = str(job.id)
    return _made[key]


PARAMS = {"id": job_of}
