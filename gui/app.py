"""`asr-tray`: the tray app. Owns one ASR service (its child) and makes sure
every way out of the app leaves no process of its tree behind.

Start-up order matters:
  1. markers first (re-exec with ASR_TRAY_ROLE=tray and a fresh instance id),
     so every child inherits them and outside tools can see them;
  2. one instance per user: a second tray asks the first to show Status, exits;
  3. register in the registry (L3), show the icon (or the fallback window);
  4. start the service from the main thread (L0 follows the spawning thread);
  5. a leftover scan that only reports.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from service import logs

from service.safety import markers, registry

log = logging.getLogger("asr.tray")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="asr-tray", description="ASR Tray: local speech recognition "
                                "in the system tray.")
    p.add_argument("--model", default=None, help="model for the service this run (default: the one "
                   "chosen in Settings, at first the bundled tiny.en)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)
    p.add_argument("--port", type=int, default=None,
                   help="the service's port this run (default: Settings, at first 8765; the next "
                        "free one when taken; 0: any free port)")
    p.add_argument("--no-start", action="store_true", help="do not start the service at launch")
    p.add_argument("--no-tray", action="store_true",
                   help="show the controls in a window even where a system tray exists")
    return p.parse_args(argv)


def setup_logging() -> None:
    logs.setup("tray")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per status poll otherwise


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    markers.ensure_markers("tray", "gui", argv)   # may re-exec: nothing before this
    markers.withdraw_from_environment()  # children get theirs explicitly, strangers none
    opts = parse_args(argv)
    setup_logging()

    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    from gui import i18n
    from gui.controllers import single_instance
    from gui.tray_app import TrayApp

    app = QApplication([sys.argv[0]])
    app.setApplicationName("asr-tray")
    app.setQuitOnLastWindowClosed(False)
    i18n.install(app, i18n.chosen_language())  # before any text is made
    single = single_instance.SingleInstance()
    if not single.claim():
        if single_instance.send("show"):
            log.info("ASR Tray is already running: asked it to show its Status window")
            return 0
    if single.server is None and not single.take_over_if_stale():
        text = QCoreApplication.translate(
            "App", "ASR Tray seems to be running already (its lock is held) but does not answer. "
            "If no ASR Tray is running, delete {lock} and start it again."
        ).format(lock=single.lock.fileName())
        print(text, file=sys.stderr)
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.warning(None, "ASR Tray", text)  # a gui-script has no visible stderr
        return 1
    reg = registry.Registration("tray", argv=argv)
    tray_app = TrayApp(app, opts, single)
    tray_app.start()
    code = app.exec()
    tray_app.final_cleanup()
    reg.close()
    single.release()
    log.info("ASR Tray exits (code %s)", code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: daemon threads (status poll, sweeps) and Qt's
    # C++ destructors must not get a chance to hang or crash the exit.
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
