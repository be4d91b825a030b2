"""Driving the real tray app on a real (virtual) desktop, and making the
processes the leftover tests need.

The desktop (Xvfb + trayer) is started by `python packaging/dev.py test`,
which sets DISPLAY and ASR_TRAY_TEST_TRAY_HOST; without them these tests skip,
except under CI=true where a missing desktop is a failure.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from service.safety import markers, registry

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
SNAPSHOT = "tray-test-snapshot.json"


def need_desktop() -> None:
    """Skip (or fail under CI) unless a display with a tray host is there."""
    missing = [v for v in ("DISPLAY", "ASR_TRAY_TEST_TRAY_HOST") if not os.environ.get(v)]
    tools = [t for t in ("xdotool", "import") if shutil.which(t) is None]
    if missing or tools:
        why = ("needs a desktop with a tray host: run the tests with `python packaging/dev.py "
               "test`, which starts Xvfb and trayer" + (f" (missing env: {', '.join(missing)})"
                                                      if missing else "")
               + (f" (missing tools: {', '.join(tools)})" if tools else ""))
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)


# ------------------------------------------------------------------ the tray
class TrayProc:
    """`python -m gui` as a subprocess, with test hooks on: it writes what its
    Status window and menu show into the runtime dir, and takes "action NAME"
    and "dialog accept|reject" lines on its single-instance socket."""

    def __init__(self, runtime_dir: Path, *args: str, env: dict | None = None,
                 platform: str | None = None, log_path: Path | None = None):
        self.runtime_dir = Path(runtime_dir)
        full = dict(os.environ if env is None else env)
        for k in (markers.ROLE, markers.INSTANCE, markers.PARENT_PID, "QT_QPA_PLATFORM"):
            full.pop(k, None)  # widget tests set offscreen for themselves, not for the tray
        if platform:
            full["QT_QPA_PLATFORM"] = platform
        full[markers.RUNTIME_DIR] = str(self.runtime_dir)
        full["ASR_TRAY_TEST_HOOKS"] = "1"
        # The tray's leftover scan is machine-wide; a test's tray looks only at
        # its own runtime dir, so it never ends what tests beside it started.
        full["ASR_TRAY_TEST_LEFTOVERS_RUNTIME_DIR"] = str(self.runtime_dir)
        self.env = full
        self.log_path = log_path or self.runtime_dir.parent / f"tray-{time.monotonic_ns()}.log"
        self.started = time.monotonic()
        self.snapshot_path = self.runtime_dir / SNAPSHOT
        try:
            self.snapshot_path.unlink()
        except FileNotFoundError:
            pass
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen([sys.executable, "-m", "gui", *args], env=full,
                                          stdout=log, stderr=subprocess.STDOUT)
        self.pid = self.popen.pid
        self.create_time = psutil.Process(self.pid).create_time()

    # ---- what it shows
    def snapshot(self) -> dict:
        try:
            return json.loads(self.snapshot_path.read_text())
        except (OSError, ValueError):
            return {}

    def wait_for(self, check, what: str, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            snap = self.snapshot()
            try:
                if snap and check(snap):
                    return snap
            except (KeyError, TypeError, IndexError):
                pass
            if self.popen.poll() is not None:
                raise AssertionError(f"the tray exited ({self.popen.returncode}) while waiting "
                                     f"for {what}; its log:\n{self.log_tail()}")
            if time.monotonic() >= deadline:
                raise AssertionError(f"no {what} within {timeout}s; last snapshot: {snap}\n"
                                     f"log:\n{self.log_tail()}")
            time.sleep(0.05)

    def wait_running(self, timeout: float = 90.0) -> dict:
        return self.wait_for(lambda s: s["state"] == "running" and s["worker_pid"],
                             "running service", timeout)

    def log_tail(self, n: int = 40) -> str:
        try:
            return "".join(self.log_path.read_text(errors="replace").splitlines(True)[-n:])
        except OSError:
            return ""

    # ---- talking to it
    def send(self, line: str) -> None:
        """One line to its single-instance socket (a Unix socket QLocalServer
        made under the temp dir)."""
        from gui.controllers.single_instance import server_name

        old = os.environ.get(markers.RUNTIME_DIR)
        os.environ[markers.RUNTIME_DIR] = str(self.runtime_dir)
        try:
            name = server_name()
        finally:
            if old is None:
                os.environ.pop(markers.RUNTIME_DIR, None)
            else:
                os.environ[markers.RUNTIME_DIR] = old
        path = os.path.join(tempfile.gettempdir(), name)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(3)
            s.connect(path)
            s.sendall((line + "\n").encode())

    def click_icon(self, button: int = 1) -> None:
        snap = self.wait_for(lambda s: s["icon_geometry"] and s["icon_geometry"][2] > 0,
                             "tray icon geometry", 10)
        x, y, w, h = snap["icon_geometry"]
        xdotool("mousemove", str(x + w // 2), str(y + h // 2), "click", str(button))

    def click_menu(self, item: str) -> None:
        """Right-click the icon, wait for the menu, click the item: real input events."""
        self.click_icon(3)
        snap = self.wait_for(lambda s: s["menu"] and item in s["menu"]["items"], "open menu", 10)
        x, y, w, h = snap["menu"]["items"][item]
        xdotool("mousemove", str(x + w // 2), str(y + h // 2))
        time.sleep(0.15)  # let the menu see the hover before the click
        xdotool("click", "1")

    # ---- its tree
    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(5)


def xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, timeout=10)


def screenshot(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    subprocess.run(["import", "-window", "root", str(path)], check=True, timeout=20)
    return path


# ------------------------------------------------------------------ checks
def tree_identities(runtime_dir: Path) -> set[tuple[int, float]]:
    """(pid, create_time) of every live process with our runtime dir in its markers."""
    from service.safety.processes import marked_processes

    out = set()
    for m in marked_processes(runtime_dir=str(runtime_dir)):
        try:
            out.add((m.pid, m.proc.create_time()))
        except psutil.Error:
            pass
    return out


def live_records(runtime_dir: Path) -> list[registry.Record]:
    """Registry records of the runtime dir whose process still runs (pid AND create_time)."""
    old = os.environ.get(markers.RUNTIME_DIR)
    os.environ[markers.RUNTIME_DIR] = str(runtime_dir)
    try:
        return [r for r in registry.read_all() if r.process() is not None]
    finally:
        if old is None:
            os.environ.pop(markers.RUNTIME_DIR, None)
        else:
            os.environ[markers.RUNTIME_DIR] = old


def wait_no_survivors(runtime_dir: Path, timeout: float,
                      keep: frozenset = frozenset()) -> tuple[set, list, float]:
    """Poll until nothing of the tree runs (but the pids in `keep`, such as a
    tray that stays up), by markers and by records."""
    t0 = time.monotonic()
    while True:
        by_markers, by_records = tree_identities(runtime_dir), live_records(runtime_dir)
        elapsed = time.monotonic() - t0
        gone = ({pid for pid, _ in by_markers} <= keep
                and {r.pid for r in by_records} <= keep)
        if gone or elapsed >= timeout:
            return by_markers, by_records, elapsed
        time.sleep(0.02)


# ------------------------------------------------------------------ leftovers
SLEEPER = "import time\nwhile True: time.sleep(1)"
STUBBORN = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: time.sleep(1)"


def orphan(env_extra: dict[str, str], argv_tail: tuple[str, ...] = (),
           role_record: str | None = None, ignore_sigterm: bool = False) -> psutil.Process:
    """A `python -c` sleeper started through a parent that exits at once, so it
    is re-parented like a process whose tree lost its top. With `env_extra`
    holding markers it stands for a worker or service that escaped L0/L1
    (e.g. of an older version); `role_record` also writes the registry record
    such a process would have left (pid + create_time); `ignore_sigterm`
    makes it one that lingers when asked to stop. An ASR_TRAY_RUNTIME_DIR in
    `env_extra` puts it in another runtime dir than the test's."""
    env = dict(os.environ)
    for k in (markers.ROLE, markers.INSTANCE, markers.PARENT_PID):
        env.pop(k, None)
    env.update(env_extra)
    code = STUBBORN if ignore_sigterm else SLEEPER
    launcher = ("import subprocess, sys\n"
                f"p = subprocess.Popen([sys.executable, '-c', {code!r}, *sys.argv[1:]],"
                " start_new_session=True, stdin=subprocess.DEVNULL,"
                " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
                "print(p.pid, flush=True)\n")
    out = subprocess.run([sys.executable, "-c", launcher, *argv_tail], env=env,
                         capture_output=True, text=True, timeout=20, check=True)
    proc = psutil.Process(int(out.stdout.strip()))
    if role_record:
        write_record(proc.pid, proc.create_time(), role_record, env_extra.get(markers.INSTANCE, ""),
                     parent_pid=int(env_extra.get(markers.PARENT_PID) or 0) or None)
    return proc


def write_record(pid: int, create_time: float, role: str, instance: str,
                 parent_pid: int | None = None, name: str | None = None) -> Path:
    """A registry record as registry.Registration writes it."""
    path = registry.registry_dir() / (name or f"{role}-{pid}.json")
    path.write_text(json.dumps({"pid": pid, "create_time": create_time, "role": role,
                                "instance": instance, "parent_pid": parent_pid,
                                "started_at": create_time, "extra": {}}))
    return path


def exited_pid() -> int:
    """The pid of a process that has exited (for ASR_TRAY_PARENT_PID of an orphan)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def end(*procs) -> None:
    for p in procs:
        try:
            p.kill()
        except (psutil.Error, OSError):
            pass
    psutil.wait_procs([p for p in procs if isinstance(p, psutil.Process)], timeout=3)
