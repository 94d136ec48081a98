"""Benchmark: 50 users at once on the web app over a store of 1,000,000 referrals.

Run: ``python benchmarks/bench_web_load.py [--referrals N] [--users 50] [--requests 40]
[--seconds 120] [--workers 1] [--dir DIR] [--reuse] [--database-url URL]``.

Builds a store holding the generated service of ``bench_import_measures.py`` (1M referrals
over three years, three resources) and ``--users`` viewers of it (SQLite in ``--dir``, else a
temporary folder; PostgreSQL when ``--database-url`` or ``FLOWCAP_BENCH_POSTGRES_URL`` names
one; ``--reuse`` keeps a store built before), serves it with ``flowcap serve --workers N`` on
a free loopback port, logs every user in (a session cookie for the pages, a Bearer token for
the API), opens the dashboard once (the cold request: history opened and measured, unless
the app's warming on start got there first), waits for the dashboard's SPC alerts and risk
(computed once in the background), then
runs one async httpx client per user, each looping without pause over the services page,
the dashboard (the page, then its chart's figure as its script fetches it, revalidated with
the ETag of the user's last copy as a browser does), the measures API for the whole range
and for 30 days, until ``--requests`` each or ``--seconds`` in all. Prints per route and
overall: requests, errors, p50/p95/p99 latency, requests per second, the goal (issue 11: p95
under 300 ms and no errors), the cold first request and the server's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import_measures import SERVICE, write_folder  # noqa: E402

NAME = SERVICE["name"]
PASSWORD = "benchmark password 1234"
GOAL_P95_MS = 300.0
ROUTES = ("services page", "dashboard", "API measures, all", "API measures, 30 days")


def email(i: int) -> str:
    return f"user{i:03d}@bench.test"


# --- the store -----------------------------------------------------------------------------


def build_store(url: str, root: Path, referrals: int, users: int, reuse: bool) -> str:
    """Import the generated service and add the users unless ``reuse`` finds them there;
    returns what was done."""
    from argon2 import PasswordHasher

    from flowcap import manage
    from flowcap.accounts import Accounts
    from flowcap.store import Store
    from flowcap.web.cache import service_revision

    store = Store.open(url)
    try:
        present = service_revision(store, NAME) is not None
        if present and not reuse:
            raise SystemExit(
                f"the store at {redact(url)} already holds {NAME!r}: pass --reuse, or a fresh "
                "database"
            )
        done = []
        if not present:
            folder = root / "service"
            folder.mkdir(parents=True, exist_ok=True)
            start = time.perf_counter()
            write_folder(folder, referrals)
            manage.import_folder(folder, database_url=url)
            done.append(f"imported {referrals:,} referrals in {time.perf_counter() - start:.0f} s")
        else:
            done.append(f"reused the store's {NAME!r}")
        # Cheap Argon2 parameters for making the users only (as tests/web_server.py does); the
        # app rehashes each password with its own parameters at the user's first login.
        accounts = Accounts(store, hasher=PasswordHasher(time_cost=1, memory_cost=8192))
        added = 0
        for i in range(users):
            if accounts.user(email(i)) is None:
                accounts.add_user(email(i), PASSWORD, role="viewer", service=NAME)
                added += 1
        done.append(f"added {added} users" if added else "reused the users")
        return "; ".join(done)
    finally:
        store.close()


def redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, root: Path, workers: int) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    command = shutil.which("flowcap", path=str(Path(sys.executable).parent)) or "flowcap"
    log = root / "server.log"
    env = {**os.environ, "FLOWCAP_DATABASE_URL": url}
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [command, "serve", "--port", str(port), "--workers", str(workers)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    address = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"flowcap serve stopped:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{address}/healthz", timeout=2).status_code == 200:
                return server, address, log
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop_server(server)
    raise SystemExit(f"flowcap serve did not answer within 120 s:\n{log.read_text()[-3000:]}")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc; Linux only)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def peak_rss_mb(pid: int) -> dict[int, float]:
    """The peak resident memory (VmHWM) of each process of the server, in MB."""
    peaks = {}
    for each in process_tree(pid):
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[each] = int(line.split()[1]) / 1024
        except OSError:
            continue
    return peaks


# --- the users -----------------------------------------------------------------------------


@dataclass
class User:
    index: int
    client: httpx.AsyncClient
    token: str = ""
    timings: list[tuple[str, float, str]] = field(default_factory=list)
    etags: dict[str, str] = field(default_factory=dict)


async def log_in(user: User) -> None:
    """The login form (a session cookie) and POST /api/token (a Bearer token)."""
    client = user.client
    form = await client.get("/login")
    csrf = form.cookies.get("flowcap_login_csrf") or _hidden(form.text, "csrf_token")
    answer = await client.post(
        "/login",
        data={"email": email(user.index), "password": PASSWORD, "csrf_token": csrf},
    )
    if answer.status_code != 303:
        raise SystemExit(f"login of {email(user.index)} answered {answer.status_code}")
    answer = await client.post(
        "/api/token",
        data={"username": email(user.index), "password": PASSWORD, "client_id": "bench"},
    )
    answer.raise_for_status()
    user.token = answer.json()["access_token"]


def _hidden(html: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def requests_of(user: User, paths: dict[str, str]) -> list[tuple[str, str, dict]]:
    bearer = {"Authorization": f"Bearer {user.token}"}
    return [
        ("services page", paths["services page"], {}),
        ("dashboard", paths["dashboard"], {}),
        ("API measures, all", paths["API measures, all"], bearer),
        ("API measures, 30 days", paths["API measures, 30 days"], bearer),
    ]


async def run_user(user: User, paths: dict, count: int, deadline: float) -> None:
    plan = requests_of(user, paths)
    for n in range(count):
        if time.monotonic() >= deadline:
            return
        route, path, headers = plan[(user.index + n) % len(plan)]
        start = time.perf_counter()
        try:
            answer = await user.client.get(path, headers=headers)
            await answer.aread()
            outcome = "" if answer.status_code == 200 else f"HTTP {answer.status_code}"
            if route == "dashboard" and not outcome:
                outcome = await fetch_chart(user, answer.text)
        except httpx.HTTPError as error:
            outcome = type(error).__name__
        user.timings.append((route, (time.perf_counter() - start) * 1000, outcome))


async def fetch_chart(user: User, page: str) -> str:
    """What the dashboard's script does in a browser: fetch the chart's figure, revalidated
    with the ETag of the last answer (the browser keeps it: a 304 while the data are the
    same). Part of the dashboard's time; returns the outcome as :func:`run_user` records it."""
    found = re.search(r'data-figure="([^"]+)"', page)
    if found is None:
        return "no chart in the page"
    url = html.unescape(found.group(1))
    known = user.etags.get(url)
    answer = await user.client.get(url, headers={"If-None-Match": known} if known else {})
    await answer.aread()
    if answer.status_code == 200:
        user.etags[url] = answer.headers.get("etag", "")
        return ""
    return "" if answer.status_code == 304 and known else f"chart HTTP {answer.status_code}"


async def load(address: str, users: int, count: int, seconds: float, paths: dict) -> dict:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [
        httpx.AsyncClient(base_url=address, timeout=120, limits=limits) for _ in range(users)
    ]
    people = [User(i, client) for i, client in enumerate(clients)]
    try:
        # Logging in is set-up (each login checks an Argon2 hash: a deliberately slow step),
        # a few at a time.
        gate = asyncio.Semaphore(4)

        async def gated(person: User) -> None:
            async with gate:
                await log_in(person)

        start = time.perf_counter()
        await asyncio.gather(*(gated(person) for person in people))
        login_s = time.perf_counter() - start

        start = time.perf_counter()
        first = await people[0].client.get(paths["dashboard"])
        cold_ms = (time.perf_counter() - start) * 1000
        if first.status_code != 200:
            raise SystemExit(f"the first dashboard answered {first.status_code}")
        page_kb = len(first.content) / 1024
        # The app warms each service when it starts (measures, then the SPC alerts and risk
        # in the background): the load below is the warm steady state, so wait for it.
        start = time.perf_counter()
        insight = paths["dashboard"] + "/insight"
        while "being calculated" in (await people[0].client.get(insight)).text:
            if time.perf_counter() - start > 600:
                raise SystemExit("the dashboard's SPC alerts and risk took over 600 s")
            await asyncio.sleep(1)
        warm_s = time.perf_counter() - start

        start = time.perf_counter()
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(run_user(p, paths, count, deadline) for p in people))
        elapsed = time.perf_counter() - start
        api = await people[0].client.get(
            paths["API measures, all"], headers={"Authorization": f"Bearer {people[0].token}"}
        )
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    return {
        "timings": [t for p in people for t in p.timings],
        "elapsed": elapsed,
        "login_s": login_s,
        "cold_ms": cold_ms,
        "warm_s": warm_s,
        "page_kb": page_kb,
        "api_kb": len(api.content) / 1024,
    }


# --- the report ----------------------------------------------------------------------------


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} CPUs ({model or platform.machine()}), {memory:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def report(result: dict, args, backend: str, built: str, rss: dict[int, float]) -> bool:
    timings = result["timings"]
    elapsed = result["elapsed"]
    print(f"\nmachine: {machine()}; server and clients on the same machine")
    print(
        f"store: {backend}, {built}; {args.users} users, {args.workers} worker(s), "
        f"at most {args.requests} requests each or {args.seconds:.0f} s; ran {elapsed:.1f} s"
    )
    print(
        f"set-up: {args.users} logins (form + token) in {result['login_s']:.1f} s; cold first "
        f"dashboard {result['cold_ms'] / 1000:.1f} s ({result['page_kb']:.0f} KB), its SPC "
        f"alerts and risk ready {result['warm_s']:.1f} s later; whole-range "
        f"measures JSON {result['api_kb']:.0f} KB"
    )
    header = (
        f"{'route':<24}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'req/s':>8}  goal (p95 < {GOAL_P95_MS:.0f} ms, 0 errors)"
    )
    print(header)
    met_all = True
    for route in (*ROUTES, "all"):
        rows = [t for t in timings if route == "all" or t[0] == route]
        if not rows:
            continue
        times = np.array([t[1] for t in rows])
        errors = sum(1 for t in rows if t[2])
        p50, p95, p99 = np.percentile(times, [50, 95, 99])
        met = p95 < GOAL_P95_MS and errors == 0
        met_all &= met
        print(
            f"{route:<24}{len(rows):>9,}{errors:>8}{p50:>9.0f}{p95:>9.0f}{p99:>9.0f}"
            f"{len(rows) / elapsed:>8.1f}  {'met' if met else 'MISSED'}"
        )
    kinds = Counter(t[2] for t in timings if t[2])
    if kinds:
        print("errors: " + ", ".join(f"{kind} x{n}" for kind, n in kinds.most_common()))
    total = sum(rss.values())
    biggest = max(rss.values(), default=0.0)
    print(
        f"server peak RSS: {biggest:,.0f} MB"
        + (f" (largest of {len(rss)} processes; {total:,.0f} MB summed)" if len(rss) > 1 else "")
    )
    print(f"goal met on {backend}: {'yes' if met_all else 'NO'}")
    return met_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40, help="at most, per user")
    parser.add_argument("--seconds", type=float, default=120.0, help="at most, in all")
    parser.add_argument("--workers", type=int, default=1, help="flowcap serve --workers")
    parser.add_argument("--dir", type=Path, help="where the SQLite store, key and log live")
    parser.add_argument("--reuse", action="store_true", help="reuse a store built before")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("FLOWCAP_BENCH_POSTGRES_URL"),
        help="a PostgreSQL store (default: FLOWCAP_BENCH_POSTGRES_URL, else SQLite in --dir)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = args.dir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        os.environ["FLOWCAP_KEY_FILE"] = str(root / "pseudonym.key")
        os.environ.pop("FLOWCAP_KEY", None)
        os.environ.pop("FLOWCAP_DATABASE_URL", None)
        url = args.database_url or f"sqlite:///{root / 'flowcap.db'}"
        backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        if backend == "SQLite" and not args.reuse:
            (root / "flowcap.db").unlink(missing_ok=True)
        print(f"building the store ({backend}) ...", file=sys.stderr, flush=True)
        built = build_store(url, root, args.referrals, args.users, args.reuse)
        print(f"{built}; starting flowcap serve ...", file=sys.stderr, flush=True)
        server, address, log = start_server(url, root, args.workers)
        try:
            paths = service_paths(url)
            result = asyncio.run(load(address, args.users, args.requests, args.seconds, paths))
            rss = peak_rss_mb(server.pid)
        finally:
            stop_server(server)
        met = report(result, args, backend, built, rss)
        if args.dir:
            print(f"server log: {log}")
    sys.exit(0 if met else 1)


def service_paths(url: str) -> dict[str, str]:
    """The four addresses, the 30-day range being the service's last 30 days of referrals."""
    from sqlalchemy import func, select

    from flowcap.store import Store, schema

    store = Store.open(url)
    try:
        with store.engine.connect() as connection:
            last = connection.scalar(select(func.max(schema.referrals.c.referral_date)))
    finally:
        store.close()
    first = last - timedelta(days=29)
    quoted = quote(NAME, safe="")
    return {
        "services page": "/services",
        "dashboard": f"/services/{quoted}",
        "API measures, all": f"/api/services/{quoted}/measures",
        "API measures, 30 days": f"/api/services/{quoted}/measures?from={first}&to={last}",
    }


if __name__ == "__main__":
    main()
