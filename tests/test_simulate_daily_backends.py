"""Choosing a device for the daily model (flowcap.simulate.daily.backends): ``cpu`` is the
NumPy engine and loads no PyTorch; ``cuda`` without PyTorch, or without a GPU, is a clear
error. These run everywhere, except the one that needs PyTorch installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import anchor_spec
from flowcap.cli.main import app
from flowcap.errors import FlowcapError
from flowcap.simulate.daily import DeviceUnavailableError, run
from flowcap.simulate.daily import numpy as numpy_engine

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
runner = CliRunner()


def folder(tmp_path: Path) -> Path:
    path = tmp_path / "anchor"
    shutil.copytree(EXAMPLES / "anchor-lindley", path)
    return path


@pytest.fixture
def engine():
    """The PyTorch engine module (skips where torch is not installed)."""
    pytest.importorskip("torch")
    from flowcap.simulate.daily import torch as torch_engine

    return torch_engine


@pytest.fixture
def no_torch(monkeypatch):
    """As on a machine without PyTorch: ``import torch`` fails."""
    monkeypatch.setitem(sys.modules, "torch", None)


def test_cuda_without_torch_from_python(tmp_path, no_torch):
    from flowcap import open as open_service
    from flowcap.plan import plan_capacity, simulate_ahead

    path = folder(tmp_path)
    with pytest.raises(DeviceUnavailableError, match=r"flowcap\[gpu\]"):
        run(anchor_spec(days=5), 10, 0, device="cuda")
    with pytest.raises(FlowcapError, match=r"pip install 'flowcap\[gpu\]'"):
        simulate_ahead(open_service(path), start=None, device="cuda")
    with pytest.raises(FlowcapError, match="needs PyTorch"):
        plan_capacity(open_service(path), target_backlog_minutes=2400, risk=0.05, device="cuda")


def test_cuda_with_a_cpu_only_torch_is_a_clear_error(engine, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceUnavailableError, match="sees no CUDA GPU"):
        run(anchor_spec(days=5), 10, 0, device="cuda")


def test_an_unknown_device_is_refused(tmp_path):
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        run(anchor_spec(days=5), 10, 0, device="gpu")
    result = runner.invoke(app, ["plan", str(folder(tmp_path)), "--device", "tpu"])
    assert result.exit_code == 1 and "'cpu' or 'cuda'" in result.output


def test_cpu_is_the_numpy_engine_and_loads_no_torch():
    spec = anchor_spec(days=30)
    np.testing.assert_array_equal(
        run(spec, 300, 4, device="cpu").final_backlog,
        numpy_engine.run(spec, 300, 4).final_backlog,
    )
    code = textwrap.dedent(
        """
        import sys
        from flowcap.simulate.daily import DailySpec, run
        spec = DailySpec.one_resource(days=30, mean_cases_per_day=10, minutes_per_case=60,
                                      staff=3, minutes_per_staff=240, absence_rate=0.1)
        run(spec, 200, 1, device="cpu")
        print("torch" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
