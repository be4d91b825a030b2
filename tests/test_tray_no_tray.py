"""Where no system tray exists, the real app shows its controls in a window
and still owns, and cleans up, its service. Runs the real `python -m gui`
on Qt's offscreen platform, which has no tray: no desktop needed."""
from __future__ import annotations

import time

from tests.support import desktop
from tests.support.desktop import TrayProc, wait_no_survivors


def test_without_a_tray_the_window_has_the_controls_and_quit_cleans_up(runtime_dir):
    tray = TrayProc(runtime_dir, platform="offscreen")
    try:
        snap = tray.wait_running()
        assert snap["mode"] == "window" and snap["icon"] is None
        assert snap["actions"]["stop"] and snap["actions"]["quit"] and not snap["actions"]["start"]
        assert "No system tray" in tray.log_tail(80)
        ids = desktop.tree_identities(runtime_dir)
        assert len(ids) >= 3, ids
        t0 = time.monotonic()
        tray.send("action quit")
        assert tray.wait_exit(4) == 0, tray.log_tail()
        assert time.monotonic() - t0 < 3.0
        by_markers, by_records, _ = wait_no_survivors(runtime_dir, 1.0)
        assert not by_markers and not by_records
    finally:
        tray.kill()


def test_stop_and_start_from_the_window(runtime_dir):
    tray = TrayProc(runtime_dir, platform="offscreen")
    try:
        first = tray.wait_running()
        tray.send("action stop")
        tray.wait_for(lambda s: s["state"] == "stopped" and s["actions"]["start"], "stopped", 10)
        # The tray itself is still there; the service's resource tracker may
        # take a moment longer than the service to notice and leave.
        by_markers, _, _ = wait_no_survivors(runtime_dir, 2.0, keep=frozenset({tray.pid}))
        assert {pid for pid, _ in by_markers} == {tray.pid}
        tray.send("action start")
        second = tray.wait_running()
        assert second["service_pid"] != first["service_pid"]
        tray.send("action quit")
        assert tray.wait_exit(4) == 0
        by_markers, by_records, _ = wait_no_survivors(runtime_dir, 1.0)
        assert not by_markers and not by_records
    finally:
        tray.kill()
