"""End to end on a real X desktop with a tray host (Xvfb + trayer): the real
`python -m gui`, real clicks on its icon and menu (xdotool), real signals,
and proof by markers and registry records that nothing survives.

The tray runs with ASR_TRAY_TEST_HOOKS=1, which makes it write what its
Status window and menu show into the runtime dir (so the test can compare
the PIDs it shows with the real processes and find where to click).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import psutil
import pytest

from service.safety.processes import marked_processes
from tests.support import desktop
from tests.support.desktop import TrayProc, wait_no_survivors

pytestmark = pytest.mark.desktop

QUIT_BOUND_S = 3.0


@pytest.fixture(autouse=True)
def _desktop():
    desktop.need_desktop()


def launch(trays, runtime_dir, *args) -> TrayProc:
    t = TrayProc(runtime_dir, *args)
    trays.append(t)
    return t


def real_tree(runtime_dir) -> dict[str, list[psutil.Process]]:
    by_role: dict[str, list] = {}
    for m in marked_processes(runtime_dir=str(runtime_dir)):
        by_role.setdefault(m.role, []).append(m)
    return by_role


def assert_status_pids_are_real(tray: TrayProc, snap: dict) -> None:
    rows = {r["role"]: r for r in snap["status_window"]["rows"]}
    assert set(rows) == {"tray", "service", "worker", "resource tracker"}, rows
    tree = real_tree(tray.runtime_dir)
    # multiprocessing's resource tracker: the service's child, with the service's
    # markers (it inherits its environment), shown under its own name
    [tracker] = [m for m in tree["service"] if m.pid == rows["resource tracker"]["pid"]]
    assert tracker.proc.ppid() == rows["service"]["pid"]
    assert rows["tray"]["pid"] == tray.pid == tree["tray"][0].pid
    services = [m for m in tree["service"] if m.proc.ppid() == tray.pid]
    assert [m.pid for m in services] == [rows["service"]["pid"]], "one service, the tray's child"
    assert [m.pid for m in tree["worker"]] == [rows["worker"]["pid"]]
    assert tree["worker"][0].proc.ppid() == rows["service"]["pid"]
    instance = snap["instance"]
    assert {m.instance for ms in tree.values() for m in ms} == {instance}


def test_tray_icon_status_pids_and_quit_from_the_menu(trays, runtime_dir):
    tray = launch(trays, runtime_dir)
    snap = tray.wait_for(lambda s: s["icon_visible_at"], "embedded tray icon", 20)
    assert snap["mode"] == "tray"
    snap = tray.wait_running()
    assert snap["icon"] == "running"

    tray.click_icon(1)  # left click opens Status
    snap = tray.wait_for(lambda s: s["status_visible"] and len(s["status_window"]["rows"]) == 4
                         and s["status_window"]["rows"][2]["state"] == "ready",
                         "Status window with four processes", 20)
    assert_status_pids_are_real(tray, snap)
    assert snap["status_window"]["url"] == snap["url"]
    assert snap["status_window"]["model"] == "tiny.en"
    assert snap["status_window"]["gpu"]  # "no GPU" here, device names where NVML has a driver
    shot = desktop.screenshot("tray-status.png")
    assert shot.stat().st_size > 10_000

    ids = desktop.tree_identities(runtime_dir)
    assert len(ids) >= 3
    t0 = time.monotonic()
    tray.click_menu("quit")
    rc = tray.wait_exit(QUIT_BOUND_S + 1)
    gone_after = time.monotonic() - t0
    assert rc == 0, tray.log_tail()
    by_markers, by_records, _ = wait_no_survivors(runtime_dir, 1.0)
    assert not by_markers and not by_records, (by_markers, by_records)
    assert gone_after < QUIT_BOUND_S
    assert "quitting: menu Quit" in tray.log_tail(60)
    assert not list((runtime_dir / "registry").glob("*.json")), "a clean quit leaves no records"


def test_second_instance_shows_status_then_sigterm_cleans_up(trays, runtime_dir):
    tray = launch(trays, runtime_dir)
    tray.wait_running()
    assert not tray.snapshot()["status_visible"]
    second = subprocess.run([sys.executable, "-m", "gui"], env=tray.env, capture_output=True,
                            text=True, timeout=20)
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stderr
    tray.wait_for(lambda s: s["status_visible"], "Status window brought forward", 10)
    assert len(real_tree(runtime_dir)["tray"]) == 1

    t0 = time.monotonic()
    tray.popen.send_signal(signal.SIGTERM)
    rc = tray.wait_exit(QUIT_BOUND_S + 1)
    assert rc == 0 and time.monotonic() - t0 < QUIT_BOUND_S, tray.log_tail()
    by_markers, by_records, _ = wait_no_survivors(runtime_dir, 1.0)
    assert not by_markers and not by_records
    assert "quitting: signal SIGTERM" in tray.log_tail(60)


def test_sigint_takes_the_same_path(trays, runtime_dir):
    tray = launch(trays, runtime_dir)
    tray.wait_running()
    tray.popen.send_signal(signal.SIGINT)
    assert tray.wait_exit(QUIT_BOUND_S + 1) == 0, tray.log_tail()
    by_markers, by_records, _ = wait_no_survivors(runtime_dir, 1.0)
    assert not by_markers and not by_records
    assert "quitting: signal SIGINT" in tray.log_tail(60)


def test_sigkill_of_the_tray_takes_its_service_and_worker(trays, runtime_dir):
    tray = launch(trays, runtime_dir)
    snap = tray.wait_running()
    service_pid, worker_pid = snap["service_pid"], snap["worker_pid"]
    assert service_pid and worker_pid
    tray.popen.kill()
    tray.popen.wait(5)
    by_markers, by_records, waited = wait_no_survivors(runtime_dir, 3.0)
    assert not by_markers and not by_records, (by_markers, by_records)
    # the records stay (nobody could remove them) but match no live process
    assert {p.name.split("-")[0] for p in (runtime_dir / "registry").glob("*.json")} >= {"service"}


def test_leftovers_of_a_killed_tray_are_cleared_with_the_button(trays, runtime_dir):
    """Tray A runs; a process of A's tree is made to survive A (started by hand
    with A's markers and no L0/L1, as an older version's worker would be); A is
    SIGKILLed. An older dead tree (instance dead…) left a service and a worker.
    Tray B reports them at start-up, the menu button shows and ends them;
    decoys - a look-alike name without markers and a registry record whose pid
    was reused by an unrelated process - are left alone."""
    a = launch(trays, runtime_dir)
    snap_a = a.wait_running()
    survivor = desktop.orphan({"ASR_TRAY_ROLE": "worker", "ASR_TRAY_INSTANCE": snap_a["instance"],
                               "ASR_TRAY_PARENT_PID": str(snap_a["service_pid"])},
                              role_record="worker")
    a.popen.kill()
    a.popen.wait(5)
    psutil.wait_procs([psutil.Process(p) for p in (snap_a["service_pid"], snap_a["worker_pid"])
                       if psutil.pid_exists(p)], timeout=3)

    dead = "dead" + uuid.uuid4().hex[:8]
    old = {"ASR_TRAY_INSTANCE": dead, "ASR_TRAY_PARENT_PID": str(desktop.exited_pid())}
    old_service = desktop.orphan(dict(old, ASR_TRAY_ROLE="service"), role_record="service")
    old_worker = desktop.orphan(dict(old, ASR_TRAY_ROLE="worker"))
    look_alike = desktop.orphan({}, argv_tail=("asr-service", "serve", "--port", "0"))
    reused = desktop.write_record(look_alike.pid, look_alike.create_time() - 300, "worker", dead)
    leftovers = [survivor, old_service, old_worker]
    try:
        b = launch(trays, runtime_dir)
        snap = b.wait_for(lambda s: s["leftovers_found"] == 3, "start-up leftover report", 30)
        assert all(p.is_running() for p in leftovers), "the start-up scan only reports"
        b.wait_running()

        b.click_menu("leftovers")
        snap = b.wait_for(lambda s: s["leftovers_kill_button"], "the leftovers dialog", 20)
        shot = desktop.screenshot("tray-leftovers-dialog.png")
        assert shot.exists()
        x, y, w, h = snap["leftovers_kill_button"]
        desktop.xdotool("mousemove", str(x + w // 2), str(y + h // 2), "click", "1")
        snap = b.wait_for(lambda s: s["leftovers_report"], "the leftovers report", 20)
        assert snap["leftovers_report"].startswith("Ended 3 leftover process(es)."), snap
        for p in leftovers:
            assert not p.is_running() or p.status() == psutil.STATUS_ZOMBIE, p
        assert look_alike.is_running(), "a similar name is not a reason to kill"
        assert not reused.exists()
        # B's own tree was not touched
        assert psutil.pid_exists(snap["service_pid"]) and psutil.pid_exists(snap["worker_pid"])

        b.send("action quit")
        assert b.wait_exit(QUIT_BOUND_S + 1) == 0, b.log_tail()
        by_markers, by_records, _ = wait_no_survivors(runtime_dir, 1.0)
        assert not by_markers and not by_records
    finally:
        desktop.end(*leftovers, look_alike)


def test_the_display_going_away_ends_the_tree(trays, runtime_dir):
    """At log-out the X server goes away under the tray: Qt ends the event
    loop without our quit, and aboutToQuit's cleanup must still leave nothing."""
    from pathlib import Path

    display = next(f":{n}" for n in range(140, 240)
                   if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists())
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    host = None
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{display[1:]}").exists():
            assert time.monotonic() < deadline, "Xvfb did not start"
            time.sleep(0.05)
        host = subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--widthtype",
                                 "request", "--height", "24"], env=dict(os.environ, DISPLAY=display),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        tray = TrayProc(runtime_dir, env=dict(os.environ, DISPLAY=display))
        trays.append(tray)
        tray.wait_running()
        xvfb.terminate()
        xvfb.wait(5)
        rc = tray.wait_exit(QUIT_BOUND_S + 1)
        assert rc is not None, "the tray outlived its display"
        by_markers, by_records, _ = wait_no_survivors(runtime_dir, 1.0)
        assert not by_markers and not by_records, (by_markers, by_records)
        # Two ways out, and Qt picks: it ends the loop (our aboutToQuit cleanup
        # runs) or its X I/O error handler exits the process at once (the
        # service then follows by its lifelines). Either way nothing survived.
        log_tail = tray.log_tail(60)
        assert ("the event loop ended without our quit" in log_tail
                or "fatal IO error" in log_tail), log_tail
    finally:
        for p in (host, xvfb):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(5)
