"""``flowcap serve --demo`` (flowcap.web.demo): the example and a demo login in the app's
store, on loopback only, and no serving beyond loopback while the demo account exists."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowcap.accounts import Accounts
from flowcap.cli.main import app as cli
from flowcap.errors import FlowcapError
from flowcap.store import Store
from flowcap.web.demo import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    address,
    check_host,
    is_loopback,
    prepare_demo,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.org"])
def test_other_hosts(host):
    assert not is_loopback(host)


def test_the_demo_imports_the_example_and_makes_a_login_that_works(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # examples/victim-support, as `flowcap demo` finds it
    url = f"sqlite:///{tmp_path / 'flowcap.db'}"
    login = prepare_demo("127.0.0.1", url)
    assert (login.email, login.password) == (DEMO_EMAIL, DEMO_PASSWORD)
    assert login.service == "Northshire Victim Support Hub"
    again = prepare_demo("127.0.0.1", url)  # a second run changes nothing
    assert again == login
    store = Store.open(url)
    try:
        user = Accounts(store).authenticate(DEMO_EMAIL, DEMO_PASSWORD)
    finally:
        store.close()
    assert user.roles == {login.service: "admin"}
    check_host("127.0.0.1", url)
    with pytest.raises(FlowcapError, match="demo account"):
        check_host("0.0.0.0", url)


def test_the_demo_is_refused_beyond_loopback(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'flowcap.db'}"
    monkeypatch.setenv("FLOWCAP_DATABASE_URL", url)
    with pytest.raises(FlowcapError, match="only on this machine"):
        prepare_demo("0.0.0.0", url)
    result = CliRunner().invoke(cli, ["serve", "--demo", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "only on this machine" in result.stderr
    check_host("0.0.0.0", url)  # no demo account: a real server may listen anywhere


def test_the_address_to_open():
    assert address("127.0.0.1", 8000) == "http://127.0.0.1:8000/"
    assert address("::1", 8000) == "http://[::1]:8000/"
