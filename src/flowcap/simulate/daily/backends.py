"""Which engine runs the daily model: NumPy on the CPU, or PyTorch on a CUDA GPU.

``device="cpu"`` (the default) is :func:`.numpy.run` (``engine="fused"``: the compiled kernel
:func:`.fused.run`, the same numbers with ``streams="pcg64"``); ``"cuda"`` (or ``"cuda:N"``) is
:func:`.torch.run` on that GPU, the same model with the same result type, agreeing in
distribution (not number for number: the random numbers differ). PyTorch is optional and
imported only here, when a GPU is asked for; without it, or without a CUDA GPU,
:class:`DeviceUnavailableError` says what to install.
"""

from __future__ import annotations

from typing import Any

from . import numpy as numpy_engine
from .numpy import RunSettings
from .spec import DailyResult, DailySpec

#: The install line for the GPU backend (PyTorch with CUDA).
GPU_INSTALL = "pip install 'flowcap[gpu]'"
DEVICES = ("cpu", "cuda")


class DeviceUnavailableError(RuntimeError):
    """The device asked for cannot run here (no PyTorch, or PyTorch sees no CUDA GPU)."""


def check_device(device: str) -> None:
    """Raise unless ``device`` can run here: ``"cpu"``, or ``"cuda"``/``"cuda:N"`` with a GPU.

    ``ValueError`` for a name that is neither; :class:`DeviceUnavailableError` for a CUDA
    device that this machine cannot give.
    """
    if device == "cpu":
        return
    if device != "cuda" and not (device.startswith("cuda:") and device[5:].isdigit()):
        raise ValueError(f"device must be 'cpu' or 'cuda' (or 'cuda:N'), got {device!r}")
    try:
        import torch
    except ImportError:
        raise DeviceUnavailableError(
            f"{device!r} needs PyTorch, which is not installed: {GPU_INSTALL} "
            "(on a machine with an NVIDIA GPU and its driver), or use 'cpu'"
        ) from None
    if not torch.cuda.is_available():
        raise DeviceUnavailableError(
            f"{device!r}: PyTorch {torch.__version__} sees no CUDA GPU "
            "(torch.cuda.is_available() is False; a CPU-only PyTorch build, or no NVIDIA "
            f"driver). Install a CUDA build ({GPU_INSTALL}) on a machine with a GPU, or use "
            "'cpu'"
        )
    index = int(device[5:]) if ":" in device else 0
    if index >= torch.cuda.device_count():
        raise DeviceUnavailableError(
            f"{device!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)"
        )


def _torch_engine(device: str):
    """The PyTorch engine module, once ``device`` is known to work (loaded on demand)."""
    check_device(device)
    from . import torch as engine

    return engine


def run(
    spec: DailySpec, replications: int, seed: int, *, device: str = "cpu", **keywords: Any
) -> DailyResult:
    """Simulate ``replications`` runs of ``spec`` on ``device``; see :func:`.numpy.run`.

    ``device``: ``"cpu"`` (NumPy) or ``"cuda"``/``"cuda:N"`` (PyTorch on that GPU). The other
    keywords are the fields of :class:`.numpy.RunSettings`; ``chunk_size`` ``None``: 65,536 on
    the CPU; on a GPU, as much as fits (see :mod:`.torch`). On the CPU, ``engine="fused"`` runs
    the compiled kernel (:mod:`.fused`, experimental) instead of the NumPy engine.
    """
    settings = RunSettings(**keywords)
    if device == "cpu":
        if settings.engine == "fused":
            settings.check(spec, replications)
            from . import fused  # numba: imported only when a run asks for it

            if not fused.supports(spec, settings):
                raise ValueError(
                    "engine='fused' runs no reneging, waits, paths or draws: use 'numpy'"
                )
            return fused.run(spec, replications, seed, settings)
        return numpy_engine.run(spec, replications, seed, settings)
    return _torch_engine(device).run(spec, replications, seed, settings, device=device)
