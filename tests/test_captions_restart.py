"""Live captions through the service's ups and downs, in the real tray.

The real `python -m gui` on the test desktop (Xvfb + trayer) with test
hooks on, its captions window on the virtual microphone (espeak speech into
PulseAudio's FIFO source), a real service on tiny.en. What the person saw is
read from the tray's test snapshot ("captions": the finished lines, the
status line) and its log (every notification and every captions status line
is logged there):
- the tray's Restart while captioning: the captions go on by themselves, the
  next sentence is captioned, and no error is shown;
- Quit while captioning: no balloon, no "press Start", nothing survives;
- "Live captions…" with the service stopped starts it, and Start pressed
  meanwhile begins captions once it runs; the service's Stop ends them with
  a sentence, and the status line says when it is ready again.
"""
from __future__ import annotations

import time

import pytest

from tests.support import desktop, speech
from tests.support.desktop import TrayProc, wait_no_survivors
from tests.support.microphone import mic, need_mic  # noqa: F401
from tests.support.speech import read_wav

pytestmark = pytest.mark.desktop

MICROPHONE = "ALSA|pulse"          # the virtual microphone, as tests/test_captions_e2e.py picks it
GAP = b"\0\0" * int(16000 * 1.2)
QUIT_BOUND_S = 3.0
CAPTIONS_NOTIFIED = "notification: Live captions"
CALM = "The ASR service is restarting; captions continue by themselves"


@pytest.fixture(autouse=True)
def _desktop():
    desktop.need_desktop()
    need_mic()


def launch(trays, runtime_dir, *args) -> TrayProc:
    from gui.settings.store import Settings, SettingsStore

    SettingsStore().save(Settings(microphone=MICROPHONE))   # read by the tray's captions window
    tray = TrayProc(runtime_dir, *args)
    trays.append(tray)
    return tray


def captions(snap: dict) -> dict:
    return snap["captions"] or {}


def open_captions_window(tray: TrayProc) -> dict:
    tray.send("action captions")
    return tray.wait_for(lambda s: captions(s)["visible"] and captions(s).get("start_button")
                         and (captions(s)["source"] or {}).get("key") == MICROPHONE,
                         "the captions window on the virtual microphone", 30)


def press_start(snap: dict) -> None:
    """A real click on the window's Start button."""
    x, y, w, h = captions(snap)["start_button"]
    desktop.xdotool("mousemove", str(x + w // 2), str(y + h // 2))
    time.sleep(0.15)
    desktop.xdotool("click", "1")


def say_until_captioned(tray: TrayProc, mic, speech_files, key: str, after: int,
                        what: str) -> dict:
    """Say the sentence `key` until the finished lines after the first
    `after` hold most of its words (three tries). More than once because the virtual
    microphone's writer, blocked while nobody records, catches up in a burst
    when a capture opens, and the capture's queue may drop what is said
    during that burst: a test artefact, not what is tested here."""
    said = set(speech.words(speech.SENTENCES[key][2]))

    def heard(snap: dict) -> bool:   # most of its words (the service may cut it in two)
        shown = " ".join(line["text"] for line in captions(snap)["lines"][after:])
        return len(said & set(speech.words(shown))) >= 0.7 * len(said)
    for attempt in range(3):
        mic.say(read_wav(speech_files[key]) + GAP)
        try:
            return tray.wait_for(heard, what, 40)
        except AssertionError:
            if attempt == 2 or tray.popen.poll() is not None:
                raise


def captions_status_lines(tray: TrayProc) -> list[str]:
    return [line.split("captions status: ", 1)[1] for line in tray.log_tail(2000).splitlines()
            if "captions status: " in line]


def quit_silently(tray: TrayProc, runtime_dir) -> None:
    tray.send("action quit")
    assert tray.wait_exit(QUIT_BOUND_S + 2) == 0, tray.log_tail(80)
    log = tray.log_tail(2000)
    assert CAPTIONS_NOTIFIED not in log, log
    after_quit = log[log.index("quitting: "):]
    assert "captions status: " not in after_quit, after_quit
    by_markers, by_records, _ = wait_no_survivors(runtime_dir, 2.0)
    assert not by_markers and not by_records, (by_markers, by_records)


def test_restart_keeps_captions_going_and_quit_is_silent(trays, runtime_dir, mic, speech_files):
    tray = launch(trays, runtime_dir)
    first = tray.wait_running()
    press_start(open_captions_window(tray))
    tray.wait_for(lambda s: captions(s)["listening"]
                  and captions(s)["status"].startswith("Listening on"), "listening", 30)
    snap = say_until_captioned(tray, mic, speech_files, "apples", 0, "the first sentence captioned")

    tray.send("action restart")
    snap = tray.wait_for(lambda s: s["state"] == "running"
                         and s["service_pid"] not in (None, first["service_pid"])
                         and captions(s)["status"].startswith("Listening again on"),
                         "captions listening again on the restarted service", 120)
    assert captions(snap)["listening"], snap["captions"]
    said = captions_status_lines(tray)
    assert [line for line in said if line.startswith(CALM)], said
    assert not [line for line in said if "Press Start" in line], said

    n = len(captions(snap)["lines"])
    snap = say_until_captioned(tray, mic, speech_files, "train", n,
                               "the next sentence captioned after the restart")
    assert captions(snap)["listening"]
    log = tray.log_tail(2000)
    assert CAPTIONS_NOTIFIED not in log and "ASR service failed" not in log, log

    # Quit while the person speaks (the sentence lasts about 4 s)
    mic.say(read_wav(speech_files["weather"]) + GAP)
    time.sleep(1.5)
    quit_silently(tray, runtime_dir)


def test_live_captions_start_a_stopped_service(trays, runtime_dir, mic, speech_files):
    tray = launch(trays, runtime_dir, "--no-start")
    tray.wait_for(lambda s: s["state"] == "stopped" and s["icon_visible_at"], "a stopped service",
                  30)
    snap = open_captions_window(tray)
    assert snap["state"] in ("starting", "running"), snap["state"]
    press_start(snap)       # usually while it still starts: captions begin once it runs
    tray.wait_for(lambda s: s["state"] == "running" and captions(s)["listening"]
                  and captions(s)["status"].startswith("Listening on"),
                  "captions listening on the started service", 120)
    say_until_captioned(tray, mic, speech_files, "train", 0, "a sentence captioned")

    # The person stops the service: captions end with a sentence, not an error;
    # once it runs again, the status line says so (not "not running" any more).
    tray.send("action stop")
    tray.wait_for(lambda s: s["state"] == "stopped" and not captions(s)["listening"]
                  and captions(s)["status"].startswith("The ASR service was stopped"),
                  "captions ended by the service's Stop", 30)
    tray.send("action start")
    tray.wait_for(lambda s: s["state"] == "running"
                  and captions(s)["status"].startswith("The ASR service is ready"),
                  "the status line saying the service is ready", 120)
    assert CAPTIONS_NOTIFIED not in tray.log_tail(2000), tray.log_tail(80)
    quit_silently(tray, runtime_dir)
