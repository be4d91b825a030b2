"""service/gpu.py against a stand-in NVML: no GPU exists here, so this is the
one place a fake is used. The real path (nvidia-ml-py against a driver) is the
same code; without a driver the probe must say "no GPU" and not fail."""
from __future__ import annotations

import sys
import types

from service.safety.gpu import GpuProbe


def fake_nvml(procs_by_kind: dict[str, list]) -> types.ModuleType:
    m = types.ModuleType("pynvml")
    m.nvmlInit = lambda: None
    m.nvmlDeviceGetCount = lambda: 1
    m.nvmlDeviceGetHandleByIndex = lambda i: f"gpu{i}"
    m.nvmlDeviceGetName = lambda h: b"Fake H200"
    m.nvmlDeviceGetComputeRunningProcesses = lambda h: procs_by_kind["compute"]
    m.nvmlDeviceGetGraphicsRunningProcesses = lambda h: procs_by_kind["graphics"]
    return m


def proc(pid, used):
    return types.SimpleNamespace(pid=pid, usedGpuMemory=used)


def test_no_driver_means_no_gpu(monkeypatch):
    broken = types.ModuleType("pynvml")

    def fail():
        raise OSError("NVML Shared Library Not Found")
    broken.nvmlInit = fail
    monkeypatch.setitem(sys.modules, "pynvml", broken)
    p = GpuProbe()
    assert not p.available and p.memory_by_pid() == {} and p.describe_pid(1) == "no GPU"


def test_memory_per_pid_and_hidden_amounts(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml({
        "compute": [proc(10, 512 * 2**20), proc(11, None)],   # 11: WDDM hides the amount
        "graphics": [proc(10, 2**20)],
    }))
    p = GpuProbe()
    assert p.available and p.reason == "Fake H200"
    table = p.memory_by_pid()
    assert table == {10: 513 * 2**20, 11: None}
    assert p.describe_pid(10, table) == "513 MiB"
    assert p.describe_pid(11, table) == "in use"
    assert p.describe_pid(12, table) == "-"
