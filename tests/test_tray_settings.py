"""The tray runs on its Settings (issue 11): the fixed port and the next free
one when it is taken, said where a user looks; a model that cannot load opens
Settings on its Models page with the sentence; a changed model restarts the
service on it. Real trays and services; every settings file is the test's own
(tests/conftest.py points ASR_TRAY_CONFIG_DIR at a temp folder)."""
from __future__ import annotations

import socket
import types
from pathlib import Path

import httpx
import pytest

from gui.settings.store import Settings, SettingsStore, settings_path
from tests.support import desktop
from tests.support.desktop import TrayProc, wait_no_survivors


def held_port() -> socket.socket:
    """A listening socket on a port whose next neighbour is free too."""
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                s.close()
                continue
        s.listen()
        return s


def quit_and_check(tray: TrayProc, runtime_dir: Path) -> None:
    tray.send("action quit")
    assert tray.wait_exit(10) == 0, tray.log_tail()
    by_markers, by_records, _ = wait_no_survivors(runtime_dir, 3.0)
    assert not by_markers and not by_records, (by_markers, by_records)


@pytest.mark.desktop
def test_a_taken_port_moves_to_the_next_free_one_and_says_so(trays, runtime_dir):
    desktop.need_desktop()
    holder = held_port()
    port = holder.getsockname()[1]
    try:
        SettingsStore().save(Settings(port=port))
        tray = TrayProc(runtime_dir)
        trays.append(tray)
        snap = tray.wait_running()
        assert snap["requested_port"] == port
        assert snap["url"] == f"http://127.0.0.1:{port + 1}"
        assert str(port) in snap["port_note"] and str(port + 1) in snap["port_note"]
        tray.send("action status")
        snap = tray.wait_for(lambda s: s["status_visible"] and s["status_window"]["port_note"],
                             "Status window with the port note", 20)
        assert snap["status_window"]["url"] == snap["url"]
        assert snap["status_window"]["port_note"] == snap["port_note"]
        assert snap["status_window"]["token"], "the token is shown (masked)"
        assert httpx.get(snap["url"] + "/health", trust_env=False).status_code == 200
        quit_and_check(tray, runtime_dir)
    finally:
        holder.close()


@pytest.mark.desktop
def test_a_model_that_cannot_load_opens_the_models_page_with_the_reason(trays, runtime_dir,
                                                                       tmp_path):
    desktop.need_desktop()
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    SettingsStore().save(Settings(model=str(folder)))
    tray = TrayProc(runtime_dir, "--port", "0")
    trays.append(tray)
    snap = tray.wait_for(lambda s: s["state"] == "error" and s["settings_window"],
                         "the Models page after the failed load", 90)
    assert snap["settings_window"]["page"] == "models"
    problem = snap["settings_window"]["model_problem"]
    assert str(folder) in problem and "model.bin" in problem, problem
    assert "Repo id" not in problem and "huggingface" not in problem.lower()
    assert settings_path().exists()
    quit_and_check(tray, runtime_dir)


def test_applying_another_model_restarts_the_service_on_it(qtbot, qapp, runtime_dir):
    from gui.controllers.service_process import State
    from gui.tray_app import TrayApp

    opts = types.SimpleNamespace(model=None, device=None, port=0, no_start=False,
                                 no_tray=False)
    app = TrayApp(qapp, opts, use_tray=False, exit_hard=lambda code: None,
                  end_loop=lambda: None)
    qtbot.addWidget(app.ui)
    try:
        with qtbot.waitSignal(app.service.state_changed, timeout=90_000,
                              check_params_cb=lambda s: s == "running"):
            app.start(signals=False)
        first_worker = app.service.worker_pid
        app.open_settings()
        window = app.settings_window
        qtbot.addWidget(window)
        window.fields["model"].setCurrentText("base")
        with qtbot.waitSignal(app.service.state_changed, timeout=120_000,
                              check_params_cb=lambda s: s == "running"):
            assert window.apply()
        assert app.service.worker_pid != first_worker
        status = httpx.get(app.service.url + "/v1/status", trust_env=False).json()
        assert status["model"] == "base" and status["multilingual"]
        assert SettingsStore().load().model == "base", "saved for the next start"
    finally:
        app.final_cleanup()
        app.poller.stop()
    assert app.service.state == State.STOPPED
