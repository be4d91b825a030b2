"""The tray's widgets (offscreen Qt): icons, menu states, the Status window
fed by the real poller against a real service, the fallback window, the
leftovers flow with real leftover processes and decoys, single instance."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re  # noqa: E402
import types  # noqa: E402
import uuid  # noqa: E402

import psutil  # noqa: E402
from PySide6.QtGui import QIcon  # noqa: E402

from gui.widgets.controls import Controls  # noqa: E402
from gui.widgets.fallback_window import NOTICE, FallbackWindow  # noqa: E402
from gui.controllers.leftovers_flow import LeftoversFlow  # noqa: E402
from gui.widgets.leftovers_dialog import LeftoversDialog  # noqa: E402
from gui.controllers.single_instance import SingleInstance, send  # noqa: E402
from gui.controllers.status_poll import StatusPoller  # noqa: E402
from gui.widgets.status_window import StatusWindow, rows_from  # noqa: E402
from gui.widgets.tray import icon_state, tooltip_text  # noqa: E402
from resources.icons import STATES, icon_path  # noqa: E402
from service.safety import leftovers  # noqa: E402
from service.safety.gpu import GpuProbe  # noqa: E402
from tests.support import desktop  # noqa: E402


def test_every_state_has_an_icon_that_renders(qapp):
    for state in STATES:
        icon = QIcon(str(icon_path(state)))
        pixmap = icon.pixmap(22, 22)
        assert not icon.isNull() and not pixmap.isNull(), state
        image = pixmap.toImage()
        assert image.pixelColor(11, 11).alpha() > 0, f"{state} icon is blank"
    assert icon_state("stopping", False) == "starting"
    assert icon_state("running", True) == "listening"
    assert icon_state("error", True) == "error"


def test_tooltip_says_state_model_worker_and_memory():
    text = tooltip_text("running", False, {"model": "tiny.en", "device": "cpu",
                                           "worker_pid": 4242, "memory": "RAM: 177 MiB (worker)"})
    assert "running" in text and "tiny.en on cpu" in text and "4242" in text and "177 MiB" in text


def test_menu_actions_follow_the_service_state(qapp):
    c = Controls()
    c.update_for_state("stopped")
    assert c["start"].isEnabled() and not c["stop"].isEnabled()
    c.update_for_state("running")
    assert not c["start"].isEnabled() and c["stop"].isEnabled() and c["restart"].isEnabled()
    c.update_for_state("running", quitting=True)
    assert not any(c[n].isEnabled() for n in ("start", "stop", "restart", "quit"))
    c.mark_leftovers(2)
    assert "(2 found)" in c["leftovers"].text() and c["leftovers"].font().bold()
    names = [a.text() for a in c.layout() if a is not None]
    assert names == ["Start service", "Stop service", "Restart service", "Live captions…",
                     "Status…", "Settings…", "Kill leftover workers (2 found)",
                     "Open log folder", "Quit"]


def test_status_window_shows_the_real_tree(qtbot, service):
    window = StatusWindow()
    qtbot.addWidget(window)
    poller = StatusPoller()
    poller.snapshot.connect(window.show_snapshot)
    poller.set_target(service.url)
    poller.set_fast(True)
    poller.start()
    try:
        qtbot.waitUntil(lambda: len(window.rows) == 4, timeout=10000)  # + resource tracker
    finally:
        poller.stop()
    rows = {r["role"]: r for r in window.rows}
    assert rows["tray"]["pid"] == os.getpid()
    assert rows["service"]["pid"] == service.pid
    assert rows["worker"]["pid"] == service.worker_pid
    assert rows["worker"]["state"] == "ready"
    assert rows["worker"]["rss"].endswith("MiB")
    assert window.labels["url"].text() == service.url
    assert window.labels["model"].text() == "tiny.en"
    assert window.labels["restarts"].text() == "0"
    # What NVML says, asked here and now, not read back from the window.
    probe = GpuProbe()
    assert window.labels["gpu"].text() == (", ".join(probe.names) if probe.available else "no GPU")
    on_gpu = probe.memory_by_pid()
    for row in window.rows:
        if not probe.available:
            assert row["gpu"] == "no GPU", row
        elif row["pid"] not in on_gpu:
            assert row["gpu"] == "-", row
        else:
            assert row["gpu"] == "in use" or re.fullmatch(r"\d+ MiB", row["gpu"]), row
    # the table shows what `rows` says
    assert window.table.item(2, 1).text() == str(service.worker_pid)


def test_status_rows_gpu_presence_only():
    snap = {"tray": {"pid": 1, "gpu": "-"}, "gpu": "NVIDIA X",
            "service": {"state": "ready", "processes": [
                {"role": "service", "pid": 2, "alive": True, "gpu_present": False, "gpu_memory": None},
                {"role": "worker", "pid": 3, "alive": True, "gpu_present": True, "gpu_memory": None}]}}
    rows = {r["role"]: r for r in rows_from(snap)}
    assert rows["worker"]["gpu"] == "in use" and rows["service"]["gpu"] == "-"


def test_fallback_window_offers_every_control_and_close_means_quit(qtbot):
    controls = Controls()
    window = FallbackWindow(controls)
    qtbot.addWidget(window)
    window.show()
    from PySide6.QtWidgets import QToolButton

    shown = {b.defaultAction().text() for b in window.findChildren(QToolButton)}
    assert shown == {a.text() for a in controls.actions.values()}
    assert window.notice.text() == NOTICE
    window.set_state("error")
    with qtbot.waitSignal(window.close_requested, timeout=1000):
        window.close()
    assert window.isVisible(), "closing asks the quit sequence; the window stays until it is done"


def test_leftovers_flow_ends_leftovers_and_spares_decoys(qtbot, runtime_dir):
    dead = "dead" + uuid.uuid4().hex[:8]
    gone_parent = desktop.exited_pid()
    markers = {"ASR_TRAY_INSTANCE": dead, "ASR_TRAY_PARENT_PID": str(gone_parent)}
    service_left = desktop.orphan(dict(markers, ASR_TRAY_ROLE="service"), role_record="service")
    worker_left = desktop.orphan(dict(markers, ASR_TRAY_ROLE="worker"))
    named_like = desktop.orphan({}, argv_tail=("asr-service", "serve", "asr-worker"))
    reused = desktop.write_record(named_like.pid, named_like.create_time() - 500, "worker", dead)
    # the default scan is machine-wide: narrowed to this test's dir, it cannot end others' processes
    flow = LeftoversFlow(scan_fn=lambda: leftovers.scan(runtime_dir=str(runtime_dir)))
    try:
        with qtbot.waitSignal(flow.found_at_startup, timeout=20000) as found:
            flow.scan_at_startup()
        assert found.args == [2]
        assert service_left.is_running() and worker_left.is_running(), "a start-up scan only reports"

        with qtbot.waitSignal(flow.ask, timeout=20000) as asked:
            flow.run()
        scan = asked.args[0]
        assert flow.busy and flow.asking
        # the question the tray shows, answered the way the tray wires it
        dialog = LeftoversDialog(scan)
        qtbot.addWidget(dialog)
        dialog.accepted.connect(lambda: flow.end(scan))
        table = dialog.table
        pids = {int(table.item(r, 0).text()) for r in range(table.rowCount())}
        assert pids == {service_left.pid, worker_left.pid}
        assert {table.item(r, 1).text() for r in range(table.rowCount())} == {"service", "worker"}
        assert all(table.item(r, 3).text().endswith(" MiB") for r in range(table.rowCount()))
        with qtbot.waitSignal(flow.ask_again, timeout=1000):
            flow.run()   # the menu item again while the question is open: no second scan
        with qtbot.waitSignal(flow.finished, timeout=20000) as done:
            dialog.accept()
        assert done.args[0].startswith("Ended 2 leftover process(es).")
        assert flow.last_report == done.args[0] and not flow.busy and not flow.asking
        for p in (service_left, worker_left):
            assert not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
        assert named_like.is_running(), "a process with a similar name is not ours"
        assert not reused.exists(), "the record with a reused pid is pruned, its process spared"

        with qtbot.waitSignal(flow.finished, timeout=20000) as again:
            flow.run()
        assert again.args[0] == "No leftover workers were found."
    finally:
        desktop.end(service_left, worker_left, named_like)


def test_second_instance_is_refused_and_its_message_arrives(qtbot):
    first = SingleInstance()
    assert first.claim()
    try:
        second = SingleInstance()
        assert not second.claim()
        with qtbot.waitSignal(first.message, timeout=3000) as got:
            assert send("show", wait_s=1)
        assert got.args == ["show"]
    finally:
        first.release()
    third = SingleInstance()
    assert third.claim(), "the lock is free again once the first released it"
    third.release()


def test_tray_app_without_a_tray_uses_the_window(qtbot, qapp, monkeypatch):
    from gui.tray_app import TrayApp

    monkeypatch.setenv("ASR_TRAY_INSTANCE", "t" + uuid.uuid4().hex[:11])
    opts = types.SimpleNamespace(model=None, device=None, no_start=True, no_tray=False)
    app = TrayApp(qapp, opts, use_tray=None, exit_hard=lambda code: None,
                  end_loop=lambda: None)  # pytest-qt's app must keep its loop
    _KEEP.append(app)  # its threads may still emit after the test: it lives on, as in the app
    assert app.mode == "window"  # offscreen has no system tray
    with qtbot.waitSignal(app.leftovers.found_at_startup, timeout=20000):
        app.start(signals=False)
    qtbot.addWidget(app.ui)
    assert app.ui.isVisible()
    assert app.ui.notice.text() == NOTICE
    with qtbot.waitSignal(app.quit_sequence.done, timeout=3000):
        app.ui.close()
    assert app.quit_sequence.reason == "fallback window closed"
    app.poller._thread.join(3)


_KEEP: list = []


def _tray_app(qapp, monkeypatch, use_tray):
    from gui.tray_app import TrayApp

    monkeypatch.setenv("ASR_TRAY_INSTANCE", "t" + uuid.uuid4().hex[:11])
    opts = types.SimpleNamespace(model=None, device=None, no_start=True, no_tray=False)
    app = TrayApp(qapp, opts, use_tray=use_tray, exit_hard=lambda code: None,
                  end_loop=lambda: None)  # pytest-qt's app must keep its loop
    _KEEP.append(app)
    return app


def test_live_captions_window_is_single_and_drives_the_listening_icon(qtbot, qapp, monkeypatch):
    import gui.widgets.captions_window as module   # the real one: an import failure fails here

    app = _tray_app(qapp, monkeypatch, use_tray=True)
    app.controls["captions"].trigger()
    window = app.captions
    assert app.message_box is None, app.message_box and app.message_box.text()
    assert isinstance(window, module.CaptionsWindow) and window.isVisible()
    qtbot.addWidget(window)
    app.controls["captions"].trigger()
    assert app.captions is window, "one captions window per tray"
    assert app.service_url() is None, "no URL while the service is not running"
    app.ui.set_state("running")
    window.listening_changed.emit(True)
    assert app.ui.current_icon_name() == "listening"
    window.listening_changed.emit(False)
    assert app.ui.current_icon_name() == "running"
    # Opening the captions started the stopped service: it is this test's to end
    assert app.service.state.value in ("starting", "running")
    app.service.stop_blocking()


def test_live_captions_unavailable_is_said_in_a_sentence(qtbot, qapp, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "gui.widgets.captions_window", None)  # import fails
    app = _tray_app(qapp, monkeypatch, use_tray=False)
    qtbot.addWidget(app.ui)
    app.controls["captions"].trigger()
    assert app.captions is None
    text = app.message_box.text()
    assert text.startswith("Live captions are not available") and "reinstall" in text
    app.message_box.close()


FORBIDDEN_IN_THE_TRAY = ("torch", "ctranslate2", "faster_whisper", "onnxruntime", "fastapi",
                         "service.worker")


def test_the_tray_never_imports_the_model_stack():
    """Every module of gui/, subpackages included, imported in a fresh
    interpreter (any import error fails the test): none of the model stack,
    the HTTP server or the worker comes with them."""
    import json
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        import importlib, json, pkgutil, sys
        import gui

        def fail(name):
            raise ImportError(f"{{name}} could not be imported")

        names = ["gui"]
        for m in pkgutil.walk_packages(gui.__path__, "gui.", onerror=fail):
            if m.name != "gui.__main__":     # runs the app
                importlib.import_module(m.name)
                names.append(m.name)
        bad = {FORBIDDEN_IN_THE_TRAY!r}
        found = sorted(k for k in sys.modules if any(k == b or k.startswith(b + ".") for b in bad))
        print(json.dumps({{"imported": names, "forbidden": found}}))
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for expected in ("gui.tray_app", "gui.controllers.stream_client", "gui.sources.capture",
                     "gui.widgets.captions_window", "gui.widgets.leftovers_dialog"):
        assert expected in result["imported"], result["imported"]
    assert result["forbidden"] == []


def test_a_lock_naming_a_process_that_is_no_tray_is_taken_over(qtbot, runtime_dir):
    """After a reboot the pid in an old lock file (in a state dir, not tmpfs)
    may belong to any python program, and QLockFile would call the lock live.
    Our markers say that process is no tray."""
    import subprocess
    import sys

    from PySide6.QtCore import QSysInfo

    from service.safety.processes import read_markers

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        proc = psutil.Process(other.pid)
        assert read_markers(proc) is None
        exe = os.path.basename(os.path.realpath(f"/proc/{other.pid}/exe"))
        # the lock file a tray with this pid would have left (Qt's format), no flock held
        (runtime_dir / "tray.lock").write_text(f"{other.pid}\n{exe}\n{QSysInfo.machineHostName()}\n")
        single = SingleInstance()
        assert not single.claim(), "QLockFile alone takes the lock for live"
        assert not send("show", wait_s=0.3)
        assert single.take_over_if_stale()
        assert single.server is not None and single.server.isListening()
        single.release()
    finally:
        other.kill()
        other.wait()
