"""service/worker/vad.py's VoiceActivity on synthetic probability sequences,
and the node's find_speech driving it (no model: a stand-in Silero returns
the probabilities)."""
from __future__ import annotations

import numpy as np
import pytest

from service.worker import vad
from service.worker.utterance import VadParams, find_speech
from service.worker.vad import DROP, END, PAUSE, RESUME, START, WINDOW, VoiceActivity

HI, BAND, LO = 0.9, 0.4, 0.1   # above THRESHOLD, inside the hysteresis band, below NEG_THRESHOLD


def feed(activity: VoiceActivity, probs) -> list[tuple[str, int, int]]:
    """(kind, at, start) of every change, in order."""
    out = []
    for p in probs:
        change = activity.step(p)
        if change is not None:
            out.append((change.kind, change.at, change.start))
    return out


def w(n: int) -> int:
    return n * WINDOW


def test_constants_are_the_ones_silero_and_whisper_use():
    from service import pcm

    assert vad.SAMPLE_RATE == pcm.SAMPLE_RATE == 16000
    assert (vad.WINDOW, vad.THRESHOLD, vad.NEG_THRESHOLD) == (512, 0.5, 0.35)


def test_speech_starts_at_the_first_window_at_or_above_threshold():
    a = VoiceActivity(min_silence=w(4))
    changes = feed(a, [LO, BAND, 0.4999, vad.THRESHOLD])
    assert changes == [(START, w(3), w(3))]
    assert a.speaking and a.speech == WINDOW and a.position == w(4)


def test_the_hysteresis_band_neither_starts_nor_pauses_speech():
    a = VoiceActivity(min_silence=w(2))
    assert feed(a, [BAND] * 20) == []          # band alone never starts speech
    assert not a.speaking
    assert feed(a, [HI] + [BAND] * 20) == [(START, w(20), w(20))]
    assert a.speaking and a.pause_from is None  # band inside speech holds it
    assert a.speech == WINDOW                   # ... without counting as speech


def test_a_quiet_window_starts_a_pause_and_speech_resumes_it():
    a = VoiceActivity(min_silence=w(5))
    changes = feed(a, [HI, HI, LO, BAND, LO, HI])
    assert changes == [(START, 0, 0), (PAUSE, w(2), 0), (RESUME, w(5), 0)]
    assert a.pause_from is None and a.quiet_windows == 0 and a.speech == w(3)


def test_resume_reports_how_many_quiet_windows_the_pause_had():
    a = VoiceActivity(min_silence=w(10))
    feed(a, [HI, LO, BAND, LO, LO])
    change = a.step(HI)
    assert change.kind == RESUME and change.quiet_windows == 3


def test_speech_ends_where_the_pause_began_after_min_silence():
    a = VoiceActivity(min_silence=w(3))
    changes = feed(a, [HI, HI, HI, LO, LO])
    assert changes == [(START, 0, 0), (PAUSE, w(3), 0)]
    assert a.pause() == w(2)
    change = a.step(LO)
    assert (change.kind, change.at, change.start) == (END, w(3), 0)
    assert not a.speaking and a.pause() == 0
    assert a.speech == w(3)   # the ended speech's, until the next starts
    assert feed(a, [HI]) == [(START, w(6), w(6))]


def test_min_silence_counts_band_windows_of_a_pause():
    # Live streams: a band window can be the one that ends a long pause.
    a = VoiceActivity(min_silence=w(3))
    assert feed(a, [HI, LO, BAND, BAND])[-1] == (END, w(1), 0)
    # The node's rule (Silero's get_speech_timestamps): only a quiet window ends it.
    b = VoiceActivity(min_silence=w(3), end_in_band=False)
    assert feed(b, [HI, LO, BAND, BAND, BAND])[-1] == (PAUSE, w(1), 0)
    assert b.step(LO).kind == END and not b.speaking


def test_short_blips_are_dropped_not_ended():
    a = VoiceActivity(min_silence=w(2), min_speech=w(3))
    assert feed(a, [HI, HI, LO, LO]) == [(START, 0, 0), (PAUSE, w(2), 0), (DROP, w(2), 0)]
    # Band windows lengthen the speech but are not speech: still a blip.
    assert feed(a, [HI, BAND, BAND, HI, LO, LO])[-1] == (DROP, w(8), w(4))
    assert feed(a, [HI, HI, HI, LO, LO])[-1] == (END, w(13), w(10))


def test_carried_speaking_state_starts_inside_speech():
    a = VoiceActivity(min_silence=w(2), speaking=True)
    assert a.speaking and a.start == 0
    assert feed(a, [BAND, BAND, LO, LO]) == [(PAUSE, w(2), 0), (END, w(2), 0)]
    quiet = VoiceActivity(min_silence=w(2))
    assert feed(quiet, [BAND, BAND, LO, LO]) == []


def test_restart_keeps_only_a_pause_that_began_after_the_cut():
    a = VoiceActivity(min_silence=w(10))
    feed(a, [HI] * 8 + [LO, LO])
    a.restart(w(6))
    assert (a.start, a.speech, a.pause_from, a.quiet_windows) == (w(6), WINDOW, w(8), 2)
    a.restart(w(9))
    assert (a.start, a.pause_from, a.quiet_windows) == (w(9), None, 0)


def test_float32_probabilities_on_a_threshold_compare_as_silero_gives_them():
    # float32(0.35) is a hair below 0.35 as a double: NumPy compares it in float32.
    a = VoiceActivity(min_silence=w(1))
    assert feed(a, [np.float32(0.5), np.float32(0.35)]) == [(START, 0, 0)]


# ------------------------------------------------------------- find_speech
def stand_in_silero(probs):
    probs = np.asarray(probs, np.float32)

    def silero(x):
        assert x.size % WINDOW == 0 and x.size // WINDOW == probs.size
        return probs.reshape(-1, 1)
    return silero


def test_find_speech_pads_and_drops_blips():
    # min_speech just over 3 windows, min_silence 3 windows, padding 1 window
    p = VadParams(min_speech_ms=100, min_silence_ms=96, pad_ms=32)
    probs = [LO] * 4 + [HI] * 6 + [LO] * 4 + [HI, HI] + [LO] * 4 + [HI] * 4
    audio = np.zeros(w(len(probs)), np.float32)
    speech, speaking = find_speech(stand_in_silero(probs), audio, None, p)
    # the 2-window blip in the middle is dropped; the last speech runs to the end
    assert speech == [[w(4) - 512, w(10) + 512], [w(20) - 512, w(24)]]
    assert speaking is True


def test_find_speech_carries_speaking_across_utterances():
    p = VadParams(min_silence_ms=64, pad_ms=0)       # a pause of 2 windows ends speech
    carried = {"tail": np.zeros(WINDOW, np.float32), "speaking": True}
    # The first probability is the carried tail's, not returned. One band window
    # of carried speech before the pause: kept, although shorter than min_speech.
    probs = [BAND, BAND, LO, LO, LO]
    speech, speaking = find_speech(stand_in_silero(probs), np.zeros(w(4), np.float32), carried, p)
    assert speech == [[0, w(1)]] and speaking is False
    speech, _ = find_speech(stand_in_silero(probs), np.zeros(w(4), np.float32),
                            dict(carried, speaking=False), p)
    assert speech == []


@pytest.mark.parametrize("n", [0, 1, WINDOW - 1, WINDOW, 3 * WINDOW + 7])
def test_speech_probabilities_pad_the_last_window(n):
    seen = []

    def silero(x):
        seen.append(x.size)
        return np.full((x.size // WINDOW, 1), 0.2, np.float32)
    probs = vad.speech_probabilities(silero, np.zeros(n, np.float32), None)
    assert probs.size == -(-n // WINDOW)
    assert all(s % WINDOW == 0 for s in seen)
    lead = vad.speech_probabilities(silero, np.zeros(n, np.float32), np.zeros(WINDOW, np.float32))
    assert lead.size == -(-n // WINDOW)
