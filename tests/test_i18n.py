"""The interface languages: every string of gui/ has a finished Simplified
Chinese translation and the compiled .qm is current (packaging/i18n.py
--check); the tray run under zh_CN shows no English of ours (menu, tooltip,
Status window, captions window, leftovers dialog, fallback window) and Qt's
standard buttons follow; the language comes from $ASR_TRAY_UI_LANGUAGE, the
saved setting or the system's locale, and a missing catalogue is no crash.

The zh_CN runs happen in child interpreters: the translators and the locale
are process-wide, and the other tests of this session read English."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# ASR_TRAY_UI_LANGUAGE too: conftest sets it to "en" for every other test
LOCALE_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG", "ASR_TRAY_UI_LANGUAGE")


def run_python(code: str, env_extra: dict[str, str], timeout: float = 120) -> dict:
    """Run `code` in a child interpreter (offscreen Qt); its last stdout line is JSON."""
    env = {k: v for k, v in os.environ.items() if k not in LOCALE_VARS}
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT), **env_extra)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"exit {out.returncode}\n{out.stdout}\n{out.stderr}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_string_has_a_finished_translation_and_the_qm_is_current():
    out = subprocess.run([sys.executable, str(ROOT / "packaging" / "i18n.py"), "--check"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "translations: OK" in out.stdout


# ------------------------------------------------------------ choosing the language
CHOICE = """
    import json, logging, sys
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox
    app = QApplication(["asr-tray"])
    from gui import i18n
    if {save!r}:
        from gui.settings import store
        settings = store.load()
        settings.ui_language = {save!r}
        store.save(settings)
    chosen = i18n.chosen_language()
    loaded = i18n.install(app, chosen)
    box = QMessageBox(QMessageBox.Icon.Information, "t", "x",
                      QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel)
    print(json.dumps({{"chosen": chosen, "loaded": [p.rsplit("/", 1)[-1] for p in loaded],
                      "buttons": sorted(b.text() for b in box.buttons())}}))
"""


@pytest.mark.parametrize("env, save, chosen, loaded, buttons", [
    # the system's locale when nothing is chosen
    ({"LANG": "zh_CN.UTF-8"}, "", "", ["asr_tray_zh_CN.qm", "qtbase_zh_CN.qm"], ["取消", "确定"]),
    # the environment wins over the system's locale, both ways
    ({"LANG": "zh_CN.UTF-8", "ASR_TRAY_UI_LANGUAGE": "en"}, "", "en", ["qtbase_en.qm"],
     ["Cancel", "OK"]),
    ({"LANG": "C.UTF-8", "ASR_TRAY_UI_LANGUAGE": "zh_CN"}, "", "zh_CN",
     ["asr_tray_zh_CN.qm", "qtbase_zh_CN.qm"], ["取消", "确定"]),
    # the saved setting, when the environment says nothing
    ({"LANG": "C.UTF-8"}, "zh_CN", "zh_CN", ["asr_tray_zh_CN.qm", "qtbase_zh_CN.qm"],
     ["取消", "确定"]),
    # a language we have no catalogue for: Qt's own only, our texts stay English
    ({"LANG": "C.UTF-8", "ASR_TRAY_UI_LANGUAGE": "fr"}, "", "fr", ["qtbase_fr.qm"],
     ["Annuler", "OK"]),
], ids=["system-zh", "env-en-over-zh", "env-zh", "saved-zh", "no-catalogue"])
def test_the_language_comes_from_env_setting_or_system(tmp_path, env, save, chosen, loaded,
                                                        buttons):
    env = dict(env, ASR_TRAY_CONFIG_DIR=str(tmp_path / "config"))
    result = run_python(CHOICE.format(save=save), env, timeout=60)
    assert result == {"chosen": chosen, "loaded": loaded, "buttons": buttons}


# ------------------------------------------------------------ English stays the source
def test_the_translated_reports_say_in_english_what_the_logs_and_cli_say(qapp):
    """Under English the tray's renderings are the very sentences of the CLI
    (KillReport.sentence) and of the quit log line (a contract)."""
    import psutil

    from gui.controllers.leftovers_flow import LeftoversFlow
    from gui.controllers.sweep import SweepReport, Survivor
    from service.safety.leftovers import KillReport, Leftover

    def item(pid):
        return Leftover(pid=pid, create_time=0.0, role="worker", instance="x", reason="",
                        rss=None, age=1.0, gpu_memory="no GPU", proc=psutil.Process())
    flow = LeftoversFlow()
    for report in (KillReport([], [], 0, []), KillReport([item(1), item(2)], [], 0, []),
                   KillReport([item(1)], [item(3), item(4)], 0, [7, 8]),
                   KillReport([], [item(3)], 1, [])):
        assert flow.kill_sentence(report) == report.sentence()
    clean = SweepReport()
    assert clean.sentence() == clean.shown_sentence()
    assert clean.sentence().startswith("Every process of the ASR service stopped cleanly")
    messy = SweepReport(found=[Survivor(5, "worker", "markers"),
                               Survivor(6, "resource-tracker", "registry", helper=True)],
                        still_alive=[6])
    assert messy.sentence() == messy.shown_sentence() == (
        "The ASR service left process(es) behind, which were ended: worker pid 5 (found by "
        "markers). Could not end pid 6: end them with 'asr-service leftovers --kill' or your "
        "task manager.")


# ------------------------------------------------------------ the tray under zh_CN
TRAY_UNDER_ZH = """
    import json, os, sys, time, types
    import psutil
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import (QAbstractButton, QApplication, QComboBox, QDialogButtonBox,
                                   QFileDialog, QGroupBox, QLabel, QLineEdit, QMenu,
                                   QMessageBox, QSpinBox, QTableWidget, QTextEdit, QWidget)
    app = QApplication(["asr-tray"])
    app.setQuitOnLastWindowClosed(False)
    from gui import i18n
    loaded = i18n.install(app, i18n.chosen_language())     # what gui/app.py does

    from gui.tray_app import TrayApp
    from gui.widgets.fallback_window import FallbackWindow
    from gui.widgets.leftovers_dialog import LeftoversDialog
    from service.safety import gpu, leftovers

    def wait_until(check, what, timeout=60.0):
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}")
            app.processEvents()
            time.sleep(0.02)

    def texts(widget, skip=()):
        found = [widget.windowTitle(), widget.toolTip()]
        for w in [widget, *widget.findChildren(QWidget)]:
            if w in skip:
                continue
            found.append(w.toolTip())
            if isinstance(w, (QLabel, QAbstractButton)):
                found.append(w.text())
            if isinstance(w, QGroupBox):
                found.append(w.title())
            if isinstance(w, (QLineEdit, QTextEdit)):
                found.append(w.placeholderText())
            if isinstance(w, QSpinBox):
                found += [w.prefix(), w.suffix()]
            if isinstance(w, QComboBox):
                found += [w.itemText(i) for i in range(w.count())]
            if isinstance(w, QMenu):
                found += [a.text() for a in w.actions()]
            if isinstance(w, QTableWidget):
                found += [w.horizontalHeaderItem(c).text() for c in range(w.columnCount())]
                found += [w.item(r, c).text() for r in range(w.rowCount())
                          for c in range(w.columnCount())
                          if w.item(r, c) is not None and c not in TABLE_DATA_COLUMNS.get(
                              w.window().objectName(), ())]
        return [t for t in found if t and t.strip()]

    # the leftovers table's runtime directory and command line are the process's own data
    # and the models' names and folders are theirs
    TABLE_DATA_COLUMNS = {"leftovers": (6, 7), "settings": (0, 3)}

    opts = types.SimpleNamespace(model=None, device=None, no_start=False, no_tray=False)
    tray = TrayApp(app, opts, use_tray=True, exit_hard=lambda code: None, end_loop=lambda: None)
    tray.start(signals=False)
    wait_until(lambda: tray.service.state.value in ("running", "error"), "the service", 90)
    assert tray.service.state.value == "running", tray.service.error
    tray.poller.poll_now()
    wait_until(lambda: (tray.last_snapshot.get("service") or {}).get("processes"), "a poll")
    tray.open_status()
    tray.open_settings()
    tray.settings_window.setObjectName("settings")
    wait_until(lambda: tray.settings_window.models_page.table.rowCount() > 0, "the models", 60)
    tray.open_captions()
    wait_until(lambda: not tray.captions.live.is_listing(), "the microphone list", 30)
    app.processEvents()
    status = tray.last_snapshot["service"]

    worker = psutil.Process(tray.service.worker_pid)
    scan = leftovers.Scan(leftovers=[leftovers.Leftover(
        pid=worker.pid, create_time=worker.create_time(), role="worker", instance="other",
        reason="its tray is gone", rss=worker.memory_info().rss, age=75.0,
        gpu_memory=gpu.probe().describe_pid(worker.pid), proc=worker,
        runtime_dir=os.environ["ASR_TRAY_RUNTIME_DIR"], cmdline=" ".join(worker.cmdline()),
        started="2024-01-01T00:00:00")], stale_records=[], live_records=[])
    dialog = LeftoversDialog(scan)
    dialog.setObjectName("leftovers")
    dialog.show()
    fallback = FallbackWindow(tray.controls)
    box = QMessageBox(QMessageBox.Icon.Information, "ASR Tray", "-",
                      QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel)
    box.show()
    from gui.controllers.live_captions import format_name
    files = QFileDialog(None, "", os.getcwd(), QCoreApplication.translate(
        "CaptionsWindow", "{name} (*.{ext})").format(name=format_name("txt"), ext="txt"))
    files.setOption(QFileDialog.Option.DontUseNativeDialog)
    files.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    files.show()
    app.processEvents()

    shown = {
        "menu": [a.text() for a in tray.ui.menu.actions() if not a.isSeparator()],
        "tooltip": [tray.ui.icon.toolTip()],
        "status": texts(tray.status_window),
        "captions": texts(tray.captions, skip={tray.captions.device_box}),
        "leftovers": texts(dialog),
        # microphones, model names and compute types are data; languages are named
        # in their own language (a language box lists them as their speakers write them)
        "settings": texts(tray.settings_window, skip={
            tray.settings_window.fields[name] for name in
            ("microphone", "model", "compute_type", "language", "ui_language")}
            | {tray.settings_window.models_page.download_box}),
        "fallback": texts(fallback),
        "message_box": [b.text() for b in box.buttons()],
        "file_dialog": [b.text() for b in files.findChild(QDialogButtonBox).buttons()],
    }
    data = [str(status.get(k) or "") for k in ("model", "device", "compute_type")]
    if tray.last_snapshot.get("gpu") != "no GPU":
        data.append(tray.last_snapshot.get("gpu") or "")     # the GPUs' names
    tray.quit("test done")
    wait_until(lambda: tray.quit_sequence.finished, "the quit sequence", 10)
    print(json.dumps({"loaded": loaded, "shown": shown, "data": data}))
    sys.stdout.flush()
    os._exit(0)
"""

# Words that stay as they are in any language: product and format names, units, acronyms.
ALLOWED = {"ASR", "Tray", "PID", "CPU", "RSS", "GPU", "MiB", "URL", "TXT", "SRT", "VTT", "JSON",
           "SubRip", "WebVTT", "PulseAudio", "PortAudio", "Whisper", "CUDA", "NVIDIA",
           "CTranslate2", "Hugging", "Face", "Hub", "int", "float"}
# A token holding one of these is a name, not a sentence: a path, file, URL, option,
# command or model name (tiny.en, service.log, --no-tray, http://127.0.0.1:8765).
TECHNICAL = re.compile(r"[/\\._\-:=@]")
CJK = re.compile(r"[\u4e00-\u9fff]")


def english_left(text: str, also_allowed: set[str]) -> list[str]:
    words = []
    for token in text.split():
        if TECHNICAL.search(token.strip(".,;:()（）“”'\"…")):
            continue
        words += [w for w in re.findall(r"[A-Za-z]{3,}", token)
                  if w not in ALLOWED and w not in also_allowed]
    return words


def test_the_tray_under_zh_CN_shows_no_english_of_ours(tmp_path):
    result = run_python(TRAY_UNDER_ZH, {
        "ASR_TRAY_UI_LANGUAGE": "zh_CN", "LANG": "zh_CN.UTF-8", "ASR_TRAY_ENGINE": "standin",
        "ASR_TRAY_INSTANCE": "t" + uuid.uuid4().hex[:11],
        "ASR_TRAY_CONFIG_DIR": str(tmp_path / "config")}, timeout=180)
    assert [Path(p).name for p in result["loaded"]] == ["asr_tray_zh_CN.qm", "qtbase_zh_CN.qm"]
    # what the service itself reported (model, device, GPU names) is data, not our text
    data = {w for value in result["data"] for w in re.findall(r"[A-Za-z]+", value)}
    shown = result["shown"]
    left = {where: [(t, english_left(t, data)) for t in texts if english_left(t, data)]
            for where, texts in shown.items()}
    assert not any(left.values()), json.dumps(left, ensure_ascii=False, indent=1)
    for where in ("menu", "tooltip", "status", "captions", "leftovers", "fallback", "settings"):
        assert any(CJK.search(t) for t in shown[where]), (where, shown[where])
    assert "取消" in shown["message_box"] and "确定" in shown["message_box"], shown["message_box"]
    assert "取消" in shown["file_dialog"], shown["file_dialog"]
    assert any(t.startswith("保存") for t in shown["file_dialog"]), shown["file_dialog"]
    # (the start-up scan may have found leftovers of other runs: "… (found N)")
    assert any(t.startswith("结束残留的工作进程") for t in shown["menu"]) and "退出" in shown["menu"]
    assert "取消" in shown["leftovers"] and "结束它们" in shown["leftovers"]
