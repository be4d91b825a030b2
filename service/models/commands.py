"""`asr-service models ...`: list the models usable now, download one, check
a folder.

  asr-service models [--json] [--current NAME]
  asr-service models download NAME [--json] [--lifeline-stdin]
  asr-service models check PATH [--json]

With --json, `models` prints one JSON list (DESIGN.md), `check` one object,
and `download` one object per line on stdout: progress events, then `done`
or `error`. --lifeline-stdin is for the tray's child: EOF on stdin (the tray
gone, or its Cancel) stops the download at once, keeping what arrived for the
next try, with the same L0/L1 functions the service uses (safety/lifeline.py).
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time

from service.config import BUNDLED_MODEL
from service.sizes import mib

CANCEL_DEADLINE = 2.0   # seconds a cancelled download may take to stop before we exit anyway


def add_parser(sub) -> None:
    m = sub.add_parser("models", help="list, download or check Whisper models",
                       description="Without a sub-command: the models usable now.")
    m.add_argument("--json", action="store_true", help="machine-readable output (a JSON list)")
    m.add_argument("--current", default=BUNDLED_MODEL, metavar="NAME",
                   help=f"the model to mark as current (default {BUNDLED_MODEL})")
    msub = m.add_subparsers(dest="models_command")
    d = msub.add_parser("download", help="download a faster-whisper model into the model cache "
                                         "(needs a network; resumes a stopped download)")
    d.add_argument("name", help="a faster-whisper name, e.g. large-v3 or distil-large-v3")
    d.add_argument("--json", action="store_true", dest="json_lines",
                   help="one JSON event per line on stdout")
    d.add_argument("--lifeline-stdin", action="store_true",
                   help="stop (keeping what arrived) when stdin reaches EOF")
    c = msub.add_parser("check", help="check a CTranslate2 model folder without loading it")
    c.add_argument("path")
    c.add_argument("--json", action="store_true", dest="json_lines")


def run(args) -> int:
    if args.models_command == "download":
        return _download(args)
    if args.models_command == "check":
        return _check(args)
    return _list(args)


def _list(args) -> int:
    from service.models.catalog import list_models

    entries = list_models(current=args.current)
    if args.json:
        print(json.dumps([e.to_json() for e in entries], indent=1))
        return 0
    for e in entries:
        mark = "*" if e.current else " "
        kind = "English-only" if e.languages == "en" else "multilingual"
        print(f"{mark} {e.name:<16} {kind:<13} {mib(e.size_bytes):>9}  {e.source:<16} {e.path}")
    return 0


def _check(args) -> int:
    from service.models.folder import check_folder

    check = check_folder(args.path)
    if args.json_lines:
        print(json.dumps({"ok": check.ok, "path": check.path, "message": check.sentence,
                          "languages": check.languages, "size_bytes": check.size_bytes}))
    else:
        print(check.sentence)
    return 0 if check.ok else 1


def _download(args) -> int:
    from service.models import download as dl

    cancel = threading.Event()
    if args.lifeline_stdin:
        _share_fate_with_parent(cancel)
    emit = _json_emitter() if args.json_lines else _text_emitter(args.name)
    try:
        path = dl.download(args.name, on_progress=lambda p: emit(p.to_json()), cancel=cancel)
    except dl.DownloadFailed as exc:
        emit({"event": "error", "message": exc.message,
              "cancelled": isinstance(exc, dl.DownloadCancelled)})
        return 1
    except Exception as exc:   # a LoadFailed from preparing an offline model, an OSError
        message = getattr(exc, "message", None) or (
            f"The download of '{args.name}' failed: {exc}. Try again.")
        emit({"event": "error", "message": message, "cancelled": False})
        return 1
    emit({"event": "done", "name": args.name, "path": str(path)})
    return 0


def _share_fate_with_parent(cancel: threading.Event) -> None:
    """The tray's child never outlives it: L0 (Linux PDEATHSIG; the tray's job
    object on Windows) and L1, EOF on stdin, which cancels the download and,
    should a read hang, ends the process after CANCEL_DEADLINE."""
    from service.safety import lifeline

    lifeline.arm_parent_death_signal(os.getppid())

    def on_eof(why: str) -> None:
        cancel.set()
        time.sleep(CANCEL_DEADLINE)
        sys.stderr.write(f"asr-service models download: {why}; exiting\n")
        os._exit(1)

    lifeline.watch_stdin_eof(on_eof)


def _json_emitter():
    lock = threading.Lock()

    def emit(event: dict) -> None:
        with lock:
            sys.stdout.write(json.dumps(event) + "\n")
            sys.stdout.flush()
    return emit


def _text_emitter(name: str):
    """Progress for a person: a line every few seconds on stderr, the result on stdout."""
    last = [0.0]

    def emit(event: dict) -> None:
        kind = event["event"]
        if kind == "progress":
            now = time.monotonic()
            if now - last[0] < 2.0 and event["bytes"] < event["total"]:
                return
            last[0] = now
            eta = f", {event['eta']:.0f} s left" if event.get("eta") is not None else ""
            sys.stderr.write(f"{name}: {mib(event['bytes'])} of {mib(event['total'])}, "
                             f"{mib(event['speed'])}/s{eta}\n")
        elif kind == "done":
            print(f"{name} is ready in {event['path']}")
        else:
            print(event["message"], file=sys.stderr)
    return emit
