"""The Settings window with real Qt: refused values stay in the window with
their reason, good ones are saved and reported with the fields that need a
restart; the Models page fills from the real `asr-service models --json`
and judges folders with the real `models check`; a download is driven by a
stand-in command that prints the download's progress lines (the real
download is tested against a local fake hub in tests/test_models_*.py), and
Cancel ends that child (psutil says it is gone)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import sys  # noqa: E402
import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

import psutil  # noqa: E402
import pytest  # noqa: E402

from gui.controllers.model_download import ModelDownload  # noqa: E402
from gui.controllers.models_catalog import ModelsCatalog  # noqa: E402
from gui.settings.store import Settings, SettingsStore  # noqa: E402
from gui.widgets.settings_window import PAGES, SettingsWindow  # noqa: E402
from service.safety import markers  # noqa: E402

# A stand-in for `python -m service models download NAME --json --lifeline-stdin`.
# FAKE_DOWNLOAD says how it behaves: "finish" (three progress lines, then done),
# "lifeline" (progress until stdin closes, then the cancelled error, as the real
# command does), "stubborn" (ignores stdin and SIGTERM: only a kill ends it),
# "fail" (an error sentence).
FAKE_DOWNLOAD = textwrap.dedent("""
    import json, os, signal, sys, threading, time
    mode = os.environ["FAKE_DOWNLOAD"]
    assert sys.argv[1:3] == ["models", "download"] and sys.argv[4:] == ["--json", "--lifeline-stdin"]
    name = sys.argv[3]
    def say(**event):
        sys.stdout.write(json.dumps(event) + "\\n"); sys.stdout.flush()
    total = 75 * 2**20
    if mode == "fail":
        say(event="error", message="The download of '%s' needs a network: the hub could not "
            "be reached." % name, cancelled=False)
        sys.exit(1)
    if mode == "finish":
        for i in (1, 2, 3):
            say(event="progress", file="model.bin", bytes=total * i // 3, total=total,
                speed=3.5 * 2**20, eta=(3 - i) * 7.0)
            time.sleep(0.05)
        say(event="done", name=name, path="/cache/" + name)
        sys.exit(0)
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        def lifeline():
            sys.stdin.read()
            say(event="error", message="cancelled", cancelled=True)
            os._exit(1)
        threading.Thread(target=lifeline, daemon=True).start()
    done = 0
    while True:
        done = min(total, done + 2**20)
        say(event="progress", file="model.bin", bytes=done, total=total, speed=2**20 * 2.0,
            eta=(total - done) / (2**20 * 2.0))
        time.sleep(0.2)   # the real command reports every 0.2 s (download.PROGRESS_EVERY)
""")


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A config dir, an autostart folder and a model cache of this test's own."""
    monkeypatch.setenv("ASR_TRAY_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("ASR_TRAY_MODEL_CACHE", str(tmp_path / "models"))
    return tmp_path


@pytest.fixture
def fake_cli(env) -> list[str]:
    script = env / "fake_service_cli.py"
    script.write_text(FAKE_DOWNLOAD)
    return [sys.executable, str(script)]


def no_microphones():
    return []


@pytest.fixture
def window(qtbot, env):
    w = SettingsWindow(list_microphones=no_microphones)
    qtbot.addWidget(w)
    yield w
    if w.download.is_running():
        with qtbot.waitSignal(w.download.running_changed, timeout=10000):
            w.download.cancel()


def ini_text(env: Path) -> str:
    path = env / "config" / "settings.ini"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def test_a_bad_port_is_refused_with_its_reason_and_nothing_is_saved(qtbot, window, env):
    w = window
    w.open_page("general")
    applied = []
    w.applied.connect(lambda s, r: applied.append((s, r)))
    w.fields["port"].setText("80")
    reason = w.reasons["port"]
    assert not reason.isHidden() and "1024" in reason.text()   # said as it is typed
    assert w.apply() is False
    assert w.pages.currentIndex() == PAGES.index("service")    # the page with the problem
    assert "1024 to 65535" in reason.text() and "80" in reason.text()
    assert "Nothing was saved" in w.message.text()
    w.fields["vad_threshold"].setText("lots")
    w.ok()
    assert w.isVisible()                                       # OK refused too
    assert "lots" in w.reasons["vad_threshold"].text()
    assert applied == [] and ini_text(env) == ""
    w.fields["port"].setText("9123")
    assert reason.isHidden()


def test_a_good_change_is_saved_and_applied_with_its_restart_fields(qtbot, window, env):
    w = window
    w.open_page("service")
    w.fields["port"].setText("9123")
    w.fields["vad_threshold"].setText("0,6")        # a decimal comma is fine
    w.fields["end_silence_ms"].setText("800")
    w._select(w.fields["language"], "es")
    w._select(w.fields["ui_language"], "zh_CN")
    w.fields["start_at_login"].setChecked(True)
    with qtbot.waitSignal(w.applied, timeout=5000) as got:
        assert w.apply() is True
    settings, restart = got.args
    assert restart == ["port"]
    assert (settings.port, settings.vad_threshold, settings.end_silence_ms, settings.language,
            settings.ui_language, settings.start_at_login) == (9123, 0.6, 800, "es", "zh_CN", True)
    assert SettingsStore().load() == settings           # on disk, as applied
    entry = env / "xdg" / "autostart" / "asr-tray.desktop"
    assert entry.is_file() and "Exec=" in entry.read_text()   # start at log-in, for real
    # a second Apply with no change restarts nothing
    with qtbot.waitSignal(w.applied, timeout=5000) as again:
        w.apply()
    assert again.args[1] == []
    w.fields["start_at_login"].setChecked(False)
    w._select(w.fields["device"], "cpu")
    with qtbot.waitSignal(w.applied, timeout=5000) as third:
        w.ok()
    assert third.args[1] == ["device"] and not w.isVisible() and not entry.exists()


def test_cancel_forgets_the_edits(qtbot, window, env):
    w = window
    w.open_page()
    w.fields["port"].setText("9999")
    w.reject()
    assert ini_text(env) == "" or "9999" not in ini_text(env)
    w.open_page()
    assert w.fields["port"].text() == str(Settings().port)


def test_models_page_lists_the_models_the_service_can_use(qtbot, window):
    w = window
    w.open_page("models")
    page = w.models_page
    qtbot.waitUntil(lambda: page.table.rowCount() > 0, timeout=30000)
    rows = {page.table.item(r, 0).text(): [page.table.item(r, c).text() for c in range(5)]
            for r in range(page.table.rowCount())}
    assert "tiny.en" in rows and "base" in rows, rows
    assert rows["tiny.en"][1] == "English only" and rows["base"][1] == "Multilingual"
    assert rows["tiny.en"][2].endswith("MiB") and Path(rows["tiny.en"][3]).is_dir()
    assert rows["tiny.en"][4] == "Yes" and rows["base"][4] == ""
    # Use this model: proposed in the window, applied with the rest
    r = next(i for i in range(page.table.rowCount()) if page.table.item(i, 0).text() == "base")
    page.table.selectRow(r)
    page.use_button.click()
    assert w.fields["model"].currentText() == "base"
    assert page.table.item(r, 4).text() == "Yes"
    with qtbot.waitSignal(w.applied, timeout=5000) as got:
        w.apply()
    assert got.args[0].model == "base" and got.args[1] == ["model"]
    # what can be downloaded leaves out what is here already
    offered = [page.download_box.itemText(i) for i in range(page.download_box.count())]
    assert "large-v3" in offered and "tiny.en" not in offered and "base" not in offered


def test_a_chosen_folder_is_checked_by_the_service_before_it_is_used(qtbot, window, env):
    w = window
    w.open_page("models")
    page = w.models_page
    empty = env / "empty-folder"
    empty.mkdir()
    with qtbot.waitSignal(w.catalog.checked, timeout=30000):
        page.check_folder(str(empty))
    assert "not a CTranslate2 model" in page.folder_label.text()
    assert w.fields["model"].currentText() == "tiny.en"
    from service.models import offline

    tiny = str(offline.tiny_en_folder())
    with qtbot.waitSignal(w.catalog.checked, timeout=30000):
        page.check_folder(tiny)
    assert w.fields["model"].currentText() == tiny
    with qtbot.waitSignal(w.applied, timeout=5000) as got:
        w.apply()
    assert got.args[0].model == tiny and got.args[1] == ["model"]


def test_a_typed_folder_waits_for_the_check_then_applies_or_is_refused(qtbot, window, env):
    w = window
    w.open_page("service")
    missing = env / "no-such-folder"
    w.fields["model"].setCurrentText(str(missing))
    assert "does not exist" in w.reasons["model"].text()
    assert w.apply() is False
    bad = env / "not-a-model"
    bad.mkdir()
    (bad / "model.bin").write_bytes(b"not CTranslate2 at all")
    w.fields["model"].setCurrentText(str(bad))
    applied = []
    w.applied.connect(lambda s, r: applied.append(s))
    with qtbot.waitSignal(w.catalog.checked, timeout=30000):
        assert w.apply() is False           # waits for the service's verdict
    assert applied == [] and str(bad) in w.reasons["model"].text()
    assert "Nothing was saved" in w.message.text() and ini_text(env) == ""
    from service.models import offline

    good = str(offline.tiny_en_folder())
    w.fields["model"].setCurrentText(good)
    with qtbot.waitSignal(w.applied, timeout=30000) as got:
        w.ok()                              # goes on by itself once the check says yes
    assert got.args[0].model == good and got.args[1] == ["model"] and not w.isVisible()
    assert SettingsStore().load().model == good


def test_english_only_model_with_another_language_says_so(qtbot, window):
    w = window
    w.open_page("captions")
    w._select(w.fields["language"], "zh")
    assert not w.language_hint.isHidden() and "tiny.en" in w.language_hint.text()
    w.fields["model"].setCurrentText("base")
    assert w.language_hint.isHidden()


def test_microphones_come_from_a_thread_and_a_missing_one_is_kept(qtbot, env):
    class Dev:
        def __init__(self, key, label):
            self.key, self.label = key, label
    import threading

    main = threading.get_ident()
    seen = []

    def lister():
        seen.append(threading.get_ident())
        return [Dev("PulseAudio|USB mic", "USB mic"), Dev("ALSA|default", "System default")]
    st = SettingsStore()
    st.save(Settings(microphone="PulseAudio|Headset"))
    w = SettingsWindow(list_microphones=lister)
    qtbot.addWidget(w)
    w.open_page("captions")
    box = w.fields["microphone"]
    qtbot.waitUntil(lambda: box.count() == 4, timeout=5000)
    assert seen and seen[0] != main
    assert [box.itemData(i) for i in range(box.count())] == \
        ["", "PulseAudio|USB mic", "ALSA|default", "PulseAudio|Headset"]
    assert box.currentData() == "PulseAudio|Headset" and "not connected" in box.currentText()


def test_a_download_shows_bytes_speed_and_time_left_then_done(qtbot, fake_cli, env, monkeypatch):
    monkeypatch.setenv("FAKE_DOWNLOAD", "finish")
    w = SettingsWindow(catalog=ModelsCatalog(), download=ModelDownload(command=fake_cli),
                       list_microphones=no_microphones)
    qtbot.addWidget(w)
    page = w.models_page
    seen = []
    page.download.progress.connect(lambda p: seen.append(page.progress_label.text()))
    with qtbot.waitSignal(page.download.done, timeout=20000) as done:
        assert page.start_download("large-v3")
        assert not page.download_button.isEnabled() and page.cancel_button.isEnabled()
    assert done.args == ["large-v3", "/cache/large-v3"]
    assert seen[0] == "model.bin: 25.0 MiB of 75.0 MiB · 3.5 MiB/s · 14 s left", seen
    assert seen[-1].endswith("0 s left")
    qtbot.waitUntil(lambda: not page.download.is_running(), timeout=5000)
    assert page.progress_bar.value() == 1000 and "large-v3 is downloaded" in page.progress_label.text()
    assert page.download_button.isEnabled() and not page.cancel_button.isEnabled()
    assert page.start_download("no-such-model") is False
    assert "not a faster-whisper model name" in page.progress_label.text()


def test_a_failed_download_says_why(qtbot, fake_cli, monkeypatch):
    monkeypatch.setenv("FAKE_DOWNLOAD", "fail")
    d = ModelDownload(command=fake_cli)
    with qtbot.waitSignal(d.failed, timeout=20000) as failed:
        d.start("large-v3")
    assert "needs a network" in failed.args[0]
    qtbot.waitUntil(lambda: not d.is_running(), timeout=5000)


def _wait_child(qtbot, d: ModelDownload) -> psutil.Process:
    qtbot.waitUntil(lambda: d.last is not None, timeout=20000)   # it runs and reports
    proc = psutil.Process(d.pid)
    env = proc.environ()
    assert env[markers.ROLE] == "service" and env[markers.INSTANCE]
    assert env[markers.PARENT_PID] == str(os.getpid())
    assert env.get("ASR_TRAY_RUNTIME_DIR") == os.environ["ASR_TRAY_RUNTIME_DIR"]
    return proc


def _gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("mode", ["lifeline", "stubborn"])
def test_cancel_ends_the_child(qtbot, fake_cli, monkeypatch, mode):
    """lifeline: it stops by itself when its stdin closes; stubborn: it
    ignores that (and SIGTERM) and is killed after the grace."""
    monkeypatch.setenv("FAKE_DOWNLOAD", mode)
    d = ModelDownload(command=fake_cli, grace_ms=1000)
    page_texts = []
    d.failed.connect(page_texts.append)
    d.start("large-v3")
    proc = _wait_child(qtbot, d)
    with qtbot.waitSignal(d.cancelled, timeout=10000):
        assert d.cancel()
    assert _gone(proc) and not d.is_running()
    assert page_texts == []     # a cancel is not an error
    assert not d.cancel()


def test_the_page_cancel_button_ends_the_download(qtbot, fake_cli, monkeypatch, env):
    monkeypatch.setenv("FAKE_DOWNLOAD", "lifeline")
    w = SettingsWindow(download=ModelDownload(command=fake_cli), list_microphones=no_microphones)
    qtbot.addWidget(w)
    page = w.models_page
    page.start_download("distil-large-v3")
    proc = _wait_child(qtbot, page.download)
    qtbot.waitUntil(lambda: "left" in page.progress_label.text(), timeout=5000)
    with qtbot.waitSignal(page.download.cancelled, timeout=10000):
        page.cancel_button.click()
    assert _gone(proc)
    assert "cancelled" in page.progress_label.text() and "resume" in page.progress_label.text()


def test_a_list_command_that_fails_is_a_sentence(qtbot, env):
    script = env / "broken_cli.py"
    script.write_text("import sys\nprint('Traceback: boom', file=sys.stderr)\nsys.exit(3)\n")
    c = ModelsCatalog(command=[sys.executable, str(script)])
    with qtbot.waitSignal(c.list_failed, timeout=20000) as failed:
        c.refresh()
    assert "could not be read" in failed.args[0] and "exit code 3" in failed.args[0]
    missing = ModelsCatalog(command=[str(env / "no-such-program")])
    with qtbot.waitSignal(missing.list_failed, timeout=20000) as failed:
        missing.refresh()
    assert "could not be started" in failed.args[0]
    assert not missing.busy()
