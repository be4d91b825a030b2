"""`asr-service models ...` (filled in by the models work of issue 11)."""
from __future__ import annotations


def add_parser(sub) -> None:
    sub.add_parser("models", help="list the Whisper models usable now")


def run(args) -> int:
    print("not yet")
    return 2
