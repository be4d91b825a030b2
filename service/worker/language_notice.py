"""Does this sound like English? Asked of each final of a live stream whose
model is English-only (tiny.en): that decoder turns any speech into
English-looking text (Chinese comes out as "1, 2, 1, 1", Spanish as fluent
nonsense) and nothing tells the user why. Once a stream's finals sound
foreign, the stream sends one notice that suggests the multilingual model.

The rule, per final with at least MIN_VOICED_S of speech (VAD windows at or
above the stream's threshold), is "foreign" when any of these holds:
  avg_logprob < LOW_LOGPROB            the decoder was unsure of every token
  words per voiced second < FEW_WORDS  seconds of speech, hardly any words
  digits >= DIGITS and avg_logprob < DIGITS_LOGPROB
                                       "1, 2, 1, 1": how tones come out
and the notice goes out once NEEDED finals were foreign and they are at least
half of the judged ones, so one odd English line never raises it.

Measured here (tiny.en int8, the stream's own decode, beam 5) on espeak-ng
speech, one final per sentence; English: 12 sentences (digits, a phone
number, a date, fillers) x 8 voices (en-us, en-gb, en+f3, en+m3,
en-gb-scotland, en-029, en-gb-x-rp, en-us+f2, 130-180 wpm).

  language (finals >= 2 s)  avg_logprob median (range)  foreign by the rule
  English  (80)             -0.26 (-0.85 .. -0.10)        0 / 80
  Mandarin (38, 4 voices)   -0.52 (-1.28 .. -0.21)       30 / 38
  Spanish  (10)             -0.96 (-1.35 .. -0.61)       10 / 10
  German   (10)             -1.08 (-1.49 .. -0.81)        7 / 10
  French   (10)             -1.04 (-1.64 .. -0.49)        9 / 10
  Italian, Portuguese, Russian (12)                      11 / 12

English's closest calls: avg_logprob -0.85 (a Scottish voice's "quick round
fox"), 1.78 words a second ("My phone number is $5,5,1234"), and counting
"1, 2, 3 ... 10" (all digits, avg_logprob -0.11 .. -0.25). Mandarin's digit
strings that score as well as that ("4, 4," at -0.21) have under 0.6 words a
second and are caught by FEW_WORDS.
English finals under 2 s of speech ("Mm, yeah, right", "Thank you very
much") score as low as -1.3, hence MIN_VOICED_S. Chinese Mandarin speech
recorded from people may score differently; espeak's is what exists here.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger("asr.worker.language")

NOTICE = "notice"       # the stream event's type (docs/streaming.md)
CODE = "not_english"    # its code: what a client matches on, the message is for people

MIN_VOICED_S = 2.0      # shorter finals say too little to judge
LOW_LOGPROB = -0.9
FEW_WORDS = 1.4         # words per voiced second
DIGITS = 0.5            # share of a final's letters and digits that are digits
DIGITS_LOGPROB = -0.3
NEEDED = 2              # foreign finals before the notice


@dataclass(frozen=True)
class Evidence:
    """What one final tells about its language."""
    voiced_s: float       # seconds of it the VAD judged speech
    avg_logprob: float    # the decoder's log-probability per token
    digits: float         # share of its letters and digits that are digits
    words_per_s: float    # words per voiced second

    @classmethod
    def of(cls, text: str, voiced_s: float, figures: dict) -> "Evidence":
        alnum = [c for c in text if c.isalnum()]
        digits = sum(c.isdigit() for c in alnum) / len(alnum) if alnum else 0.0
        return cls(voiced_s=voiced_s, avg_logprob=float(figures.get("avg_logprob", 0.0)),
                   digits=digits, words_per_s=len(text.split()) / max(voiced_s, 1e-3))

    @property
    def judged(self) -> bool:
        return self.voiced_s >= MIN_VOICED_S

    @property
    def foreign(self) -> bool:
        return self.judged and (self.avg_logprob < LOW_LOGPROB
                                or self.words_per_s < FEW_WORDS
                                or (self.digits >= DIGITS and self.avg_logprob < DIGITS_LOGPROB))


def message(model: str) -> str:
    return (f"This does not sound like English, and the loaded model ({model}) only knows "
            "English. Choose the multilingual model (base) in Settings \u2192 Models, or start "
            "the service with --model base.")


class NotEnglishWatch:
    """One per stream of an English-only model: fed every final, it answers
    the notice event once enough of them sounded foreign, and never again."""

    def __init__(self, model: str):
        self.model = model
        self.judged = 0
        self.foreign = 0
        self.said = False

    def after_final(self, text: str, voiced_s: float, figures: dict) -> dict | None:
        if self.said:
            return None
        ev = Evidence.of(text, voiced_s, figures)
        if not ev.judged:
            return None
        self.judged += 1
        self.foreign += ev.foreign
        log.debug("language evidence %s: foreign=%s (%d of %d)", ev, ev.foreign,
                  self.foreign, self.judged)
        if self.foreign >= NEEDED and 2 * self.foreign >= self.judged:
            self.said = True
            return {"type": NOTICE, "code": CODE, "message": message(self.model)}
        return None
