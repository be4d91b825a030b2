"""Voice activity: Silero's speech probability per window, and the one
hysteresis state machine that turns those probabilities into speech.

Both the live stream (streaming.py, window by window as audio arrives) and
the node's utterances (utterance.py, a whole clip at once) drive the same
`VoiceActivity`; each passes its own settings (how long a pause ends speech,
what counts as a blip). File transcriptions use faster-whisper's own
`get_speech_timestamps` through `vad_filter`, which is not ours to change.

Silero runs through onnxruntime with the weights faster-whisper ships (the
engine loads them once), so torch is never imported.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.pcm import SAMPLE_RATE

WINDOW = 512           # samples Silero judges at once at SAMPLE_RATE (32 ms)
CONTEXT = 64           # samples of the previous window Silero sees with each window
THRESHOLD = 0.5        # a window this likely to be speech starts (or resumes) speech
NEG_THRESHOLD = 0.35   # below this a window is quiet; in between, the state holds (hysteresis)

# What VoiceActivity.step reports.
START = "start"        # speech began at this window
PAUSE = "pause"        # a quiet window inside speech: a pause began here
RESUME = "resume"      # speech came back before the pause was long enough to end it
END = "end"            # the pause lasted min_silence: speech ended where the pause began
DROP = "drop"          # as END, but there was less than min_speech of speech: a blip

__all__ = ["SAMPLE_RATE", "WINDOW", "CONTEXT", "THRESHOLD", "NEG_THRESHOLD",
           "START", "PAUSE", "RESUME", "END", "DROP",
           "Change", "VoiceActivity", "StreamingVad", "speech_probabilities"]


@dataclass(frozen=True)
class Change:
    """What one window changed. `at` is the sample it happened at: the
    window's start for START, PAUSE and RESUME, the pause's start for END and
    DROP (where the speech itself ended). `start` is where that speech began."""
    kind: str
    at: int
    start: int
    quiet_windows: int = 0   # RESUME, END, DROP: quiet windows the pause had


class VoiceActivity:
    """Hysteresis as Silero recommends, fed one probability per WINDOW.

    Silence becomes speech at a window >= `threshold`. Speech becomes a pause
    at a window < `neg_threshold`; windows in between change nothing (a pause
    goes on through them, speech goes on through them). A pause that lasts
    `min_silence` samples ends the speech at the pause's start, reported as
    DROP when fewer than `min_speech` samples of it were judged speech.

    `end_in_band`: whether a window in the hysteresis band can be the one
    that ends a long pause. The live stream says yes (the pause has lasted,
    whatever the band window is). The node's utterances say no: they keep
    Silero's `get_speech_timestamps` rule of the service they replace, which
    ends speech only on a quiet window.

    `speaking`: start inside speech (the previous audio ended in speech);
    that speech starts at sample 0 and has no judged speech samples yet.

    Probabilities are compared as given: NumPy compares a float32 from Silero
    with a Python float in float32, so converting it first would move a
    window that sits exactly on a threshold to the other side.
    """

    def __init__(self, min_silence: int, threshold: float = THRESHOLD,
                 neg_threshold: float = NEG_THRESHOLD, min_speech: int = 0,
                 end_in_band: bool = True, speaking: bool = False):
        self.min_silence = min_silence
        self.threshold = threshold
        self.neg_threshold = neg_threshold
        self.min_speech = min_speech
        self.end_in_band = end_in_band
        self.position = 0                 # samples judged so far
        self.start: int | None = 0 if speaking else None   # where the speech began
        self.speech = 0                   # samples of windows >= threshold in that speech,
                                          # or in the last one once it ended
        self.pause_from: int | None = None  # where the current pause began
        self.quiet_windows = 0            # windows < neg_threshold in the current pause

    @property
    def speaking(self) -> bool:
        """Inside speech, pauses included."""
        return self.start is not None

    def step(self, prob: float) -> Change | None:
        at = self.position
        self.position += WINDOW
        if self.start is None:
            if prob >= self.threshold:
                self.start, self.speech = at, WINDOW
                return Change(START, at, at)
            return None
        if prob >= self.threshold:
            self.speech += WINDOW
            if self.pause_from is None:
                return None
            change = Change(RESUME, at, self.start, self.quiet_windows)
            self.pause_from, self.quiet_windows = None, 0
            return change
        quiet = prob < self.neg_threshold
        change = None
        if quiet:
            if self.pause_from is None:
                self.pause_from = at
                change = Change(PAUSE, at, self.start)
            self.quiet_windows += 1
        if self.pause_from is not None and (quiet or self.end_in_band) \
                and self.position - self.pause_from >= self.min_silence:
            kind = DROP if self.speech < self.min_speech else END
            change = Change(kind, self.pause_from, self.start, self.quiet_windows)
            # `speech` stays: what the caller decides about the ended speech needs it.
            self.start, self.pause_from, self.quiet_windows = None, None, 0
        return change

    def pause(self) -> int:
        """Samples of the current pause so far (0 when there is none)."""
        return 0 if self.pause_from is None else self.position - self.pause_from

    def restart(self, at: int) -> None:
        """Speech goes on as a new stretch from sample `at` (the live stream
        cut a monologue there): a pause that began after `at` goes on, one
        that began before it is forgotten."""
        self.start, self.speech = at, WINDOW
        if self.pause_from is not None and self.pause_from <= at:
            self.pause_from, self.quiet_windows = None, 0


# ---------------------------------------------------------------- Silero
class StreamingVad:
    """Silero through onnxruntime, one WINDOW at a time, with the recurrent
    state (h, c) and the CONTEXT samples kept between calls: the same numbers
    faster_whisper.vad gets for the whole file at once."""

    def __init__(self, session):
        self.session = session
        self.h = np.zeros((1, 1, 128), np.float32)
        self.c = np.zeros((1, 1, 128), np.float32)
        self.context = np.zeros(CONTEXT, np.float32)

    def __call__(self, window: np.ndarray) -> float:
        x = np.concatenate([self.context, window])[None, :]
        out, self.h, self.c = self.session.run(None, {"input": x, "h": self.h, "c": self.c})
        self.context = window[-CONTEXT:]
        return float(np.ravel(out)[0])


def speech_probabilities(vad, audio: np.ndarray, lead: np.ndarray | None) -> np.ndarray:
    """One probability per WINDOW of `audio` (the last window zero-padded),
    from faster-whisper's whole-clip Silero `vad`. `lead`, one window of the
    audio before, gives Silero its recurrent state and is judged but not
    returned."""
    x = audio if lead is None else np.concatenate([lead, audio])
    x = np.pad(x, (0, (-x.size) % WINDOW))
    if x.size == 0:
        return np.zeros(0, np.float32)
    probs = np.asarray(vad(x), dtype=np.float32).reshape(-1)
    return probs[1:] if lead is not None else probs
