"""Start `asr-service serve` as a real child process and read its ready line;
a factory that stops and leak-checks every service it started (the one way
fixtures get a service); and polling of /v1/status and /health, so tests wait
for a state the service reports instead of sleeping and hoping."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx

from service.safety.markers import without_markers

READY_TIMEOUT = 60.0
LEAK_GRACE = 5.0
POLL_TIMEOUT = 10.0


@dataclass
class ServiceProc:
    popen: subprocess.Popen
    lines: "queue.Queue[str]"
    stderr_path: str
    ready: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def url(self) -> str:
        return self.ready["url"]

    @property
    def worker_pid(self) -> int:
        return self.ready["worker_pid"]

    def wait_event(self, timeout: float = READY_TIMEOUT) -> dict:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event line from the service within {timeout}s; "
                                 f"stderr:\n{self.stderr_tail()}") from None
        if line is None:
            raise AssertionError(f"service exited with {self.popen.poll()} before its ready "
                                 f"line; stderr:\n{self.stderr_tail()}")
        return json.loads(line)

    def stderr_tail(self, n: int = 40) -> str:
        try:
            with open(self.stderr_path, errors="replace") as fh:
                return "".join(fh.readlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def start_service(tmp_path, *args: str, env: dict | None = None, wait_ready: bool = True,
                  stdin=subprocess.DEVNULL, python_args: tuple = (),
                  runtime_dir=None) -> ServiceProc:
    """Runs `python -m service serve --port 0 ARGS`. No markers are passed, so the
    service re-executes itself with them, as it does under any foreign parent."""
    stderr_path = str(tmp_path / f"service-{time.monotonic_ns()}.stderr")
    if env is None:
        full_env = without_markers(os.environ)
    else:
        full_env = dict(env)
    if runtime_dir is not None:
        full_env["ASR_TRAY_RUNTIME_DIR"] = str(runtime_dir)
    cmd = [sys.executable, *python_args, "-m", "service", "serve", "--port", "0", *args]
    with open(stderr_path, "wb") as err:
        popen = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=stdin,
                                 env=full_env, text=True, bufsize=1)
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in popen.stdout:
            if line.strip():
                lines.put(line)
        lines.put(None)
    threading.Thread(target=pump, daemon=True).start()
    svc = ServiceProc(popen, lines, stderr_path)
    if wait_ready:
        event = svc.wait_event()
        assert event.get("event") == "ready", event
        svc.ready = event
    return svc


class ServiceFactory:
    """Starts services (`factory(*args, **start_service_kwargs)`) in one runtime
    directory and, on close(), stops them all and fails if any process of that
    directory's tree outlives them. Used by the function-scoped fixtures (whose
    runtime directory is the test's own) and by module-scoped ones (which get a
    runtime directory of their own: the per-test one does not exist yet)."""

    def __init__(self, base: Path, runtime_dir: Path | None = None):
        self.base = Path(base)
        self.runtime_dir = runtime_dir
        self.started: list[ServiceProc] = []

    def __call__(self, *args: str, **kwargs) -> ServiceProc:
        if self.runtime_dir is not None:
            kwargs.setdefault("runtime_dir", self.runtime_dir)
        svc = start_service(self.base, *args, **kwargs)
        self.started.append(svc)
        return svc

    def close(self) -> None:
        from tests.support import procs

        for svc in reversed(self.started):
            svc.stop()
        rt = str(self.runtime_dir) if self.runtime_dir is not None else os.environ.get(
            "ASR_TRAY_RUNTIME_DIR")
        if not rt:
            return
        left = procs.wait_tree_gone(rt, LEAK_GRACE)
        desc = [f"pid {p.pid}" for p in left]
        procs.kill_all(left)
        assert not left, f"the services this fixture started left {len(left)} process(es): {desc}"


def wait_for(url: str, check: Callable[[dict], bool], what: str, path: str = "/v1/status",
             timeout: float = POLL_TIMEOUT) -> dict:
    """Polls GET url+path until check(body) holds and returns that body; fails
    naming `what` and the last body seen when it never does."""
    deadline = time.monotonic() + timeout
    body: dict = {}
    while True:
        r = httpx.get(url + path, timeout=5)
        body = r.json()
        if check(body):
            return body
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s; last {path}: {body}")
        time.sleep(0.02)


def wait_live_streams(url: str, n: int, timeout: float = POLL_TIMEOUT) -> dict:
    """Waits until /v1/status reports exactly `n` live streams."""
    return wait_for(url, lambda st: st.get("live_streams") == n,
                    f"the service counting {n} live stream(s)", timeout=timeout)
