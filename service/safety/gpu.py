"""GPU memory per process through NVML (nvidia-ml-py), for L4 verification and
the status views. Without an NVIDIA driver there is no NVML: report "no GPU"
and carry on. On Windows (WDDM) NVML lists our pids but hides their memory,
so a pid can be present with memory None ("in use, amount unknown").
"""
from __future__ import annotations

import logging
import threading

from service.sizes import mib

log = logging.getLogger(__name__)


class GpuProbe:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.available = False
        self.reason = "no GPU"
        self.names: list[str] = []
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self.names = [self._name(h) for h in self._handles]
            self.available = count > 0
            self.reason = ", ".join(self.names) if count else "no GPU"
        except Exception as exc:  # no driver, no library, no device
            log.debug("NVML unavailable: %s", exc)

    def _name(self, handle) -> str:
        name = self._nvml.nvmlDeviceGetName(handle)
        return name.decode() if isinstance(name, bytes) else str(name)

    def memory_by_pid(self) -> dict[int, int | None]:
        """pid -> bytes of GPU memory (None: present, amount hidden by the OS)."""
        if not self.available:
            return {}
        result: dict[int, int | None] = {}
        with self._lock:
            for handle in self._handles:
                for getter in ("nvmlDeviceGetComputeRunningProcesses",
                               "nvmlDeviceGetGraphicsRunningProcesses"):
                    try:
                        procs = getattr(self._nvml, getter)(handle)
                    except Exception:
                        continue
                    for p in procs:
                        used = getattr(p, "usedGpuMemory", None)
                        if used is None or used >= 2**63 - 1 or used < 0:
                            used = None  # NVML_VALUE_NOT_AVAILABLE (WDDM)
                        prev = result.get(p.pid)
                        result[p.pid] = used if prev is None else prev + (used or 0)
        return result

    def describe_pid(self, pid: int, table: dict[int, int | None] | None = None) -> str:
        """Human text for one pid: 'no GPU', '-', 'in use' or 'N MiB'."""
        if not self.available:
            return "no GPU"
        table = self.memory_by_pid() if table is None else table
        if pid not in table:
            return "-"
        used = table[pid]
        return "in use" if used is None else mib(used)


_probe: GpuProbe | None = None
_probe_lock = threading.Lock()


def probe() -> GpuProbe:
    global _probe
    with _probe_lock:
        if _probe is None:
            _probe = GpuProbe()
        return _probe
