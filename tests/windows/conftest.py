"""The Windows lane: the service tree as real Windows processes under wine.

The lane is set up (cached under ~/.cache/asr-tray-wine) by
packaging/wine_lane.py. Without wine these tests are skipped with the reason,
except on CI, where setup installs it (apt-get, as root) or fails loudly.

Windows pids are not Linux pids: what happens inside wine is observed by
tests/windows/wine_probe.py running under the Windows python; from Linux, a
wine process is found by its place in the tree the test started, and every
process of the lane's prefix carries WINEPREFIX in its Linux environment,
which is how the teardown proves nothing of the prefix is left.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))
import wine_lane  # noqa: E402

CACHE = Path(os.environ.get("ASR_TRAY_WINE_CACHE", Path.home() / ".cache" / "asr-tray-wine"))
PROBE = Path(__file__).with_name("wine_probe.py")
TOKEN = "wine-lane-token"
READY_TIMEOUT = 300   # wine start + imports + model load, on a busy 2-core machine


def pytest_collection_modifyitems(session, config, items):
    """The lane runs after every other test, one test at a time (pytest here
    never runs tests in parallel): its wine prefix is shared, and each test
    ends the prefix's wineserver when it is done."""
    here = Path(__file__).parent
    lane = [here in Path(str(i.fspath)).parents for i in items]
    items[:] = ([i for i, w in zip(items, lane) if not w]
                + [i for i, w in zip(items, lane) if w])


@pytest.fixture(scope="session")
def lane() -> dict:
    if not sys.platform.startswith("linux"):
        pytest.skip("the Windows lane runs Windows processes under wine on Linux; on Windows "
                    "the rest of the suite already runs them natively.")
    if wine_lane.wine_binary() is None and not os.environ.get("CI"):
        pytest.skip("wine is not installed, so the Windows lane cannot run here: "
                    "`python packaging/wine_lane.py setup` installs it (Debian, as root).")
    try:
        info = wine_lane.setup(CACHE)
    except (SystemExit, OSError, subprocess.SubprocessError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the Windows lane could not be set up: {exc}")
        pytest.skip(f"the Windows lane could not be set up here: {exc}")
    yield info
    wine_lane.wineserver_kill(CACHE)


def readline_within(stream, timeout: float) -> str:
    """One line of a child's output, or "" if none came within `timeout`
    (a thread reads, so a silent wine process cannot hang the test)."""
    q: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: q.put(stream.readline()), daemon=True).start()
    try:
        return q.get(timeout=timeout)
    except queue.Empty:
        return ""


def prefix_processes() -> list[psutil.Process]:
    """Linux processes of the lane's wine prefix (wineserver included)."""
    prefix = str(wine_lane.prefix_dir(CACHE))
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("WINEPREFIX") == prefix:
                found.append(p)
        except (psutil.Error, OSError):
            pass
    return found


def end_prefix(timeout: float = 30) -> list[str]:
    """wineserver -k, then whatever of the prefix is still there is killed and named."""
    wine_lane.wineserver_kill(CACHE)
    deadline = time.monotonic() + timeout
    left = prefix_processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = [p for p in left if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    names = []
    for p in left:
        try:
            names.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
            p.kill()
        except psutil.Error:
            pass
    return names


def run_windows_python(*args: str, timeout: float = 120,
                       extra_env: dict | None = None) -> subprocess.CompletedProcess:
    cmd, env = wine_lane.python_cmd(CACHE, *args, extra_env=extra_env)
    # All three standard handles are pipes: anything else aborts CPython under wine.
    return subprocess.run(["nice", "-n", "10", *cmd], env=env, input="", capture_output=True,
                          text=True, timeout=timeout)


def _args(p: psutil.Process) -> list[str]:
    """A wine process's command line (wine pads the Linux argv with empty strings)."""
    return [a for a in p.cmdline() if a]


class Probe:
    """wine_probe.py watching Windows pids from inside wine."""

    def __init__(self, pids: list[int], timeout: float = 30):
        cmd, env = wine_lane.python_cmd(CACHE, wine_lane.winpath(PROBE), "watch",
                                        str(timeout), *map(str, pids))
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.armed = self._line(120)
        assert not self.armed["missing"], f"processes gone before the test acted: {self.armed}"

    def _line(self, timeout: float) -> dict:
        line = readline_within(self.proc.stdout, timeout)
        if not line.startswith("{"):
            self.proc.kill()
            raise AssertionError(f"the wine probe said {line!r}; stderr: "
                                 f"{self.proc.stderr.read()[-1500:]}")
        return json.loads(line)

    def result(self, timeout: float = 90) -> dict:
        out = self._line(timeout)
        self.proc.wait(10)
        return {"gone": {int(k): v for k, v in out["gone"].items()},
                "alive": out["alive"], "survivors": out["survivors"]}


def probe(*args: str, timeout: float = 120) -> dict:
    """One wine_probe.py command (suspend, kill, break, ps): its JSON answer."""
    res = run_windows_python(wine_lane.winpath(PROBE), *args, timeout=timeout)
    lines = [l for l in res.stdout.splitlines() if l.startswith("{")]
    assert res.returncode == 0 and lines, f"wine_probe {args}: {res.stdout} {res.stderr[-1500:]}"
    return json.loads(lines[-1])


def survivors() -> list[dict]:
    """python.exe processes of the lane's prefix (seen from inside wine)."""
    return probe("ps")["survivors"]


class WineService:
    """`python -m service serve` started from Linux under wine, as a terminal
    or an Electron app would start it on Windows: without markers, so its first
    process (the mirror) joins a kill-on-close job of its own and re-executes a
    marked service as its child, which joins its own job (nested in the
    mirror's) before it spawns the worker.

    parent=True puts a plain Windows python in front (tests/support/python_parent.py,
    the kill matrix's "Python parent"): it starts the service, relays the
    ready line and then just lives; self.proc is then that parent."""

    def __init__(self, runtime_dir: Path, *args: str, extra_env: dict | None = None,
                 parent: bool = False):
        self.log: list[str] = []
        self.parent = parent
        head = ([wine_lane.winpath(ROOT / "tests" / "support" / "python_parent.py")] if parent
                else ["-m", "service", "serve"])
        cmd, env = wine_lane.python_cmd(
            CACHE, *head, "--port", "0", "--token", TOKEN, *args,
            extra_env={"ASR_TRAY_RUNTIME_DIR": wine_lane.winpath(runtime_dir),
                       **(extra_env or {})})
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(["nice", "-n", "10", *cmd], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._drain, daemon=True).start()
        self.ready = self._ready_line()
        self.ready_seconds = time.monotonic() - self.t0
        self.url = self.ready["url"]
        status = self.get("/v1/status")
        self.service_pid, self.worker_pid = status["service_pid"], status["worker_pid"]

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self.log.append(line.rstrip())

    def _ready_line(self) -> dict:
        line = readline_within(self.proc.stdout, READY_TIMEOUT)
        event = json.loads(line) if line.startswith("{") else {"event": None, "line": line}
        assert event.get("event") == "ready", (
            f"no ready line from the service under wine: {event}\n" + "\n".join(self.log[-30:]))
        return event

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.loads(r.read())

    def post(self, path: str, token: str | None = TOKEN) -> int:
        req = urllib.request.Request(self.url + path, data=b"", method="POST",
                                     headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status

    def linux_service(self) -> psutil.Process:
        """The service's wine process. Wine does not start a Windows child as a
        Linux child of its parent, and Windows pids do not show on Linux: it is
        the prefix's other process with the mirror's command line."""
        mine = _args(psutil.Process(self.proc.pid))[1:]
        kids = [p for p in prefix_processes()
                if p.pid != self.proc.pid and _args(p)[1:] == mine]
        assert len(kids) == 1, (f"expected one service process with {mine!r}, found "
                                f"{[(p.pid, p.cmdline()) for p in prefix_processes()]}")
        return kids[0]

    def mirror_pid(self) -> int:
        """The mirror's Windows pid: the service's Windows parent."""
        return self.ancestors()[0]

    def ancestors(self) -> list[int]:
        """Windows pids above the service: [mirror] or, with parent=True,
        [mirror, Python parent]."""
        code = ("import psutil; m = psutil.Process({pid}).ppid(); "
                "print(m, psutil.Process(m).ppid())").format(pid=self.service_pid)
        res = run_windows_python("-c", code)
        assert res.returncode == 0, res.stderr[-1500:]
        mirror, above = map(int, res.stdout.strip().splitlines()[-1].split())
        return [mirror, above] if self.parent else [mirror]

    def health(self) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)


@pytest.fixture
def wine_service(lane, runtime_dir):
    started: list[WineService] = []

    def start(*args: str, **kw) -> WineService:
        svc = WineService(runtime_dir, *args, **kw)
        started.append(svc)
        return svc

    yield start
    for svc in started:
        svc.stop()
    # Before wineserver -k ends the prefix (which would hide a leak): the tree
    # must be gone by itself. Killing the first process above is what a
    # terminal closing does; the jobs take the rest.
    deadline = time.monotonic() + 10
    left_inside = survivors()
    while left_inside and time.monotonic() < deadline:
        time.sleep(0.5)
        left_inside = survivors()
    left = end_prefix()
    assert not left_inside, f"Windows processes of the test outlived it: {left_inside}"
    assert not left, f"processes of the wine prefix outlived wineserver -k: {left}"
