"""A clean Quit says nothing; a real survivor is named (issue 9).

The real tray on the test desktop (Xvfb + trayer), quit again and again by
its menu (real clicks) and by SIGTERM, idle and with the CPU loaded by busy
processes this test starts and ends: every quit must log
`quit cleanup after S s: Every process of the ASR service stopped cleanly`
and show no "processes had to be ended" notice. Then the other side: a
process of the tree that really lingers must be named in the alarm, with its
role and pid.
"""
from __future__ import annotations

import re
import signal
import subprocess
import sys

import psutil
import pytest

from tests.support import desktop
from tests.support.desktop import TrayProc, wait_no_survivors

pytestmark = pytest.mark.desktop

QUIT_BOUND_S = 3.0
CLEAN = "Every process of the ASR service stopped cleanly"
ALARM = "notification: ASR Tray: processes had to be ended"
QUIT_LINE = re.compile(r"quit cleanup after [0-9.]+ s: (.*)")
BUSY = "while True: pass"

# 20 cycles: both ways of quitting, idle and under load, interleaved.
CYCLES = [(how, load) for _ in range(5) for how in ("menu", "sigterm") for load in (False, True)]


@pytest.fixture(autouse=True)
def _desktop():
    desktop.need_desktop()


@pytest.fixture
def cpu_load():
    """Busy loops, one per core, ended by the test (no markers: not our tree)."""
    procs: list[subprocess.Popen] = []

    def start() -> None:
        for _ in range(psutil.cpu_count() or 2):
            procs.append(subprocess.Popen([sys.executable, "-c", BUSY]))
    yield start
    for p in procs:
        p.kill()
        p.wait(5)


def quit_line(tray: TrayProc) -> str:
    lines = [m.group(1) for m in map(QUIT_LINE.search, tray.log_tail(200).splitlines()) if m]
    assert len(lines) == 1, f"expected one quit line, got {lines}:\n{tray.log_tail(80)}"
    return lines[0]


def quit_by(tray: TrayProc, how: str) -> int | None:
    if how == "menu":
        tray.click_menu("quit")
    else:
        tray.popen.send_signal(signal.SIGTERM)
    return tray.wait_exit(QUIT_BOUND_S + 2)


@pytest.mark.parametrize("how,load", CYCLES,
                         ids=[f"{i:02d}-{h}-{'busy' if b else 'idle'}" for i, (h, b) in enumerate(CYCLES)])
def test_a_clean_quit_reports_clean(trays, runtime_dir, cpu_load, how, load):
    tray = TrayProc(runtime_dir)
    trays.append(tray)
    tray.wait_running()
    if load:
        cpu_load()
    rc = quit_by(tray, how)
    assert rc == 0, tray.log_tail(80)
    line = quit_line(tray)
    assert line.startswith(CLEAN), f"false alarm after a clean {how} quit: {line}"
    assert ALARM not in tray.log_tail(200), tray.log_tail(80)
    by_markers, by_records, _ = wait_no_survivors(runtime_dir, 2.0)
    assert not by_markers and not by_records, (by_markers, by_records)


def test_a_process_that_lingers_is_named(trays, runtime_dir):
    """A marked process of the tray's tree that ignores SIGTERM (as a worker of
    an older version would be) is still there after the service stopped: the
    quit must end it and say so, naming its role and pid."""
    tray = TrayProc(runtime_dir)
    trays.append(tray)
    snap = tray.wait_running()
    lingering = desktop.orphan({"ASR_TRAY_ROLE": "worker", "ASR_TRAY_INSTANCE": snap["instance"],
                                "ASR_TRAY_PARENT_PID": str(snap["service_pid"])},
                               role_record="worker", ignore_sigterm=True)
    try:
        rc = quit_by(tray, "menu")
        assert rc == 0, tray.log_tail(80)
        line = quit_line(tray)
        assert not line.startswith(CLEAN), line
        assert f"worker pid {lingering.pid} (found by markers and registry)" in line, line
        alarms = [l for l in tray.log_tail(200).splitlines() if ALARM in l]
        assert len(alarms) == 1 and f"worker pid {lingering.pid}" in alarms[0], tray.log_tail(80)
        assert "service pid" not in alarms[0], alarms[0]
        assert not lingering.is_running() or lingering.status() == psutil.STATUS_ZOMBIE
    finally:
        desktop.end(lingering)
    by_markers, by_records, _ = wait_no_survivors(runtime_dir, 2.0)
    assert not by_markers and not by_records, (by_markers, by_records)


def test_a_stuck_resource_tracker_is_named_as_such(trays, runtime_dir):
    """The resource tracker is named by its identity (the service's record of
    its pid and create_time), never as "service": frozen with SIGSTOP it
    cannot leave, so the quit has to end it and says what it was."""
    tray = TrayProc(runtime_dir)
    trays.append(tray)
    tray.wait_running()
    snap = tray.wait_for(lambda s: any(r["role"] == "resource tracker"
                                       for r in s["status_window"]["rows"]),
                         "the resource tracker in the Status window", 20)
    [row] = [r for r in snap["status_window"]["rows"] if r["role"] == "resource tracker"]
    tracker = psutil.Process(row["pid"])
    assert tracker.ppid() == snap["service_pid"], "the tracker is the service's child"
    tracker.suspend()
    try:
        rc = quit_by(tray, "sigterm")
        assert rc == 0, tray.log_tail(80)
        line = quit_line(tray)
        assert f"resource tracker pid {tracker.pid}" in line, line
        assert f"service pid {tracker.pid}" not in line, line
    finally:
        try:
            tracker.resume()
        except psutil.Error:
            pass
    by_markers, by_records, _ = wait_no_survivors(runtime_dir, 2.0)
    assert not by_markers and not by_records, (by_markers, by_records)
