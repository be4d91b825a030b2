"""Figures for the Status window and the tooltip, gathered off the UI thread.

A daemon thread asks the service for GET /v1/status and samples the tray's
own process (psutil) and GPU use (NVML), then hands one plain dict to the UI
thread through a queued signal. It polls every second while someone looks
(Status window open) and every few seconds otherwise (tooltip), which keeps
the tray's idle CPU low.
"""
from __future__ import annotations

import logging
import os
import threading
import time

import httpx
from PySide6.QtCore import QObject, Signal

from service.safety import gpu
from service.safety.processes import FigureSampler
from service.sizes import mib

log = logging.getLogger("asr.tray.status")

FAST_S = 1.0
SLOW_S = 5.0
HTTP_TIMEOUT_S = 0.8


class StatusPoller(QObject):
    snapshot = Signal(dict)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._url: str | None = None
        self._interval = SLOW_S
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._sampler = FigureSampler()
        self._thread: threading.Thread | None = None

    # ---- called from the UI thread (plain attribute writes + an Event)
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="status-poll", daemon=True)
            self._thread.start()

    def set_target(self, url: str | None) -> None:
        if url != self._url:
            self._url = url
            self._wake.set()

    def set_fast(self, fast: bool) -> None:
        interval = FAST_S if fast else SLOW_S
        if interval != self._interval:
            self._interval = interval
            self._wake.set()

    def poll_now(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    # ---- the poll thread
    def _run(self) -> None:
        with httpx.Client(timeout=HTTP_TIMEOUT_S, trust_env=False) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    self.snapshot.emit(self.collect(client))
                except Exception:  # a bad sample must not end the polling
                    log.exception("status poll failed")
                self._wake.wait(max(0.05, self._interval - (time.monotonic() - started)))
                self._wake.clear()

    def collect(self, client: httpx.Client) -> dict:
        probe = gpu.probe()
        table = probe.memory_by_pid()
        fig = self._sampler.sample(os.getpid())
        tray = {"role": "tray", "pid": os.getpid(), "alive": True,
                "state": "running", "rss": fig.rss if fig else None,
                "cpu_percent": fig.cpu_percent if fig else None,
                "uptime": fig.uptime if fig else None,
                "gpu": gpu_text(probe.available, os.getpid() in table, table.get(os.getpid()))}
        result = {"time": time.time(), "tray": tray, "url": self._url, "service": None,
                  "error": None, "gpu": probe.reason if probe.available else "no GPU"}
        url = self._url
        if url:
            try:
                resp = client.get(f"{url}/v1/status")
                resp.raise_for_status()
                result["service"] = resp.json()
            except (httpx.HTTPError, ValueError) as exc:
                result["error"] = self.tr("The service at {url} did not answer: {error}").format(
                    url=url, error=exc)
        return result


def gpu_text(available: bool, present: bool, used: int | None) -> str:
    """What the GPU column says: 'no GPU', '-', 'in use' (presence only) or 'N MiB'."""
    if not available:
        return "no GPU"
    if not present:
        return "-"
    return "in use" if used is None else mib(used)
