"""Start `asr-service serve` as a real child process and read its ready line."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from service.safety.markers import without_markers

READY_TIMEOUT = 60.0


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
