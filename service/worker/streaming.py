"""Live captions inside the worker: per-stream Silero VAD and Whisper decoding.

The service (service/fronts/stream_api.py) turns one WebSocket into a series
of short worker requests, so many streams and file requests share the one
worker in FIFO order. The state a stream needs between requests (the VAD's
recurrent state, the audio of the utterance in progress) lives here, keyed by
the stream id; a worker restart loses it, and the service tells the client.

Requests: protocol.STREAM_OPS (service/protocol.py), each with the stream's id.
Events are the WebSocket protocol's own {"type": "partial"|"final", "text",
"start", "end"} (DESIGN.md), and, at most once per stream of an English-only
model hearing another language, {"type": "notice", "code": "not_english",
"message"} (language_notice.py). Where speech starts and ends is decided by
vad.VoiceActivity, the state machine the node's utterances use too, with
the stream's own threshold and end-of-speech silence when the client chose
them (Tuning, from protocol.stream_tuning).

Why the decoding is not a plain `model.transcribe`: faster-whisper pads every
input to Whisper's 30 s window, and encoding those 30 s costs ~0.6 s of CPU
here whatever the utterance length, which alone would break the 0.6 s
end-of-speech target. An utterance is instead encoded with 2 s of real
silence after it. Measured on espeak speech with tiny.en, beam 5: the same
word error rate as the 30 s window within one word over seven utterances,
at a third of the compute. Without that silence the decoder runs past the end
and repeats the sentence, so it is not optional.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace

import numpy as np

from service import protocol
from service.errors import BadInput, ServiceError
from service.pcm import SAMPLE_RATE as SR
from service.pcm import ChunkResampler as Resampler
from service.pcm import check_rate
from service.worker import language_notice
from service.worker.vad import (DROP, END, NEG_THRESHOLD, START, THRESHOLD, WINDOW,
                                StreamingVad, VoiceActivity)

MAX_STREAMS = 32      # a backstop: the service enforces its own, lower limit
IDLE_DROP_S = 600.0   # state nobody fed for this long belongs to a client the service lost


@dataclass(frozen=True)
class Tuning:
    threshold: float = THRESHOLD    # Silero probability that starts speech
    neg_threshold: float = NEG_THRESHOLD  # below this, it is a pause (hysteresis in between)
    # A pause this long ends the utterance (espeak's comma is ~0.2 s); a
    # stream may choose its own (?end_silence_ms=, protocol.stream_tuning).
    min_silence_s: float = protocol.END_SILENCE_MS_DEFAULT / 1000
    speculate_after_s: float = 0.1  # start decoding the final this far into a pause
    pad_start_s: float = 0.3        # audio kept before the detected start (soft onsets)
    pad_end_s: float = 0.1          # audio kept after the last speech window
    first_partial_s: float = 0.2    # first partial this long after speech was detected
    partial_every_s: float = 0.35   # then one per this much new audio (<= 0.5 s with the decode)
    max_utterance_s: float = 15.0   # monologues are cut before this (Whisper's window is 30 s)
    min_cut_s: float = 3.0          # a cut never leaves a piece shorter than this
    cut_pause_windows: int = 3      # a pause of ~0.1 s is a safe place to cut
    min_speech_s: float = 0.15      # shorter blips (clicks, a cough) never become utterances
    context_pad_s: float = 2.0      # silence encoded after the audio (see the module doc)
    final_beam: int = 5
    partial_beam: int = 1


# ---------------------------------------------------------------- pieces
class Decoder:
    """Whisper on one utterance, encoded with `context_pad_s` of silence."""

    def __init__(self, engine, language: str | None):
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.model = engine.model
        self.multilingual = bool(engine.model.model.is_multilingual)
        self.language = language or ("en" if not self.multilingual else None)
        self._tokenizers: dict = {}
        self._Tokenizer = Tokenizer
        self._suppressed = get_suppressed_tokens(self._tokenizer("en" if not self.multilingual
                                                                 else (self.language or "en")), [-1])

    def _tokenizer(self, language):
        tok = self._tokenizers.get(language)
        if tok is None:
            tok = self._Tokenizer(self.model.hf_tokenizer, self.multilingual,
                                  task="transcribe", language=language)
            self._tokenizers[language] = tok
        return tok

    def __call__(self, audio: np.ndarray, beam: int, pad_s: float, final: bool = True) -> dict:
        import ctranslate2

        t0 = time.perf_counter()
        n_frames = min(3000, int(np.ceil((audio.size / SR + pad_s) * 100)))
        padded = np.concatenate([audio, np.zeros(int(pad_s * SR), np.float32)])
        feats = self.model.feature_extractor(padded)[:, :n_frames]
        feats = ctranslate2.StorageView.from_array(np.ascontiguousarray(feats[None], np.float32))
        enc = self.model.model.encode(feats, to_cpu=False)
        language = self.language
        if language is None:  # multilingual and not told: detect per utterance
            language = self.model.model.detect_language(enc)[0][0][0][2:-2]
        tok = self._tokenizer(language)
        prompt = list(tok.sot_sequence) + [tok.no_timestamps]
        # Speech runs ~3-5 tokens a second; the bound stops a runaway decode,
        # tighter for partials, which are decoded often and thrown away.
        secs = audio.size / SR
        max_len = min(224, len(prompt) + (12 + int(8 * secs) if final else 4 + int(6 * secs)))
        res = self.model.model.generate(
            enc, [prompt], beam_size=beam, max_length=max_len, return_scores=True,
            return_no_speech_prob=True, suppress_blank=True,
            suppress_tokens=list(self._suppressed))[0]
        tokens = drop_repeats([t for t in res.sequences_ids[0] if t < tok.eot],
                              min_len=4 if final else 2, tail=True)
        avg_logprob = res.scores[0] * len(tokens) / (len(tokens) + 1) if res.scores else 0.0
        text = tok.decode(tokens).strip()
        # faster-whisper's own rule for "this was not speech" (no_speech and log-prob thresholds)
        if res.no_speech_prob > 0.6 and avg_logprob < -1.0:
            text = ""
        return {"text": text, "seconds": time.perf_counter() - t0,
                "avg_logprob": avg_logprob, "no_speech_prob": res.no_speech_prob,
                "tokens": len(tokens)}

    def words(self, audio: np.ndarray, beam: int) -> list:
        """Word timings, for the rare cut inside continuous speech."""
        segments, _ = self.model.transcribe(audio, language=self.language, beam_size=beam,
                                            vad_filter=False, word_timestamps=True,
                                            condition_on_previous_text=False)
        return [w for s in segments for w in (s.words or [])]


def drop_overlap(previous: str, text: str, max_words: int = 3) -> str:
    """`text` without its first words when they repeat the last words of
    `previous` (the overlap a cut inside speech decodes twice)."""
    def norm(w: str) -> str:
        return re.sub(r"[^\w']", "", w.lower())
    prev, new = previous.split(), text.split()
    for k in range(min(max_words, len(prev), len(new)), 0, -1):
        if [norm(w) for w in new[:k]] == [norm(w) for w in prev[-k:]]:
            return " ".join(new[k:])
    return text


def drop_repeats(tokens: list[int], min_len: int = 4, tail: bool = False) -> list[int]:
    """Cut a decode where it starts repeating itself ("A A ..." -> "A").

    Whisper loops on short inputs now and then (the same sentence twice,
    "bye bye bye"); a run of at least `min_len` tokens said twice in a row is
    taken as that loop, which real speech of a few seconds almost never is.
    With `tail`, an unfinished repeat at the end counts too ("A A-half"),
    which is how a loop looks when the token budget stops it."""
    n = len(tokens)
    for i in range(n):
        for p in range(min_len, n - i - min_len + 1):
            m = min(p, n - i - p)
            if (m == p or tail) and tokens[i + p:i + p + m] == tokens[i:i + m]:
                return tokens[:i + p]
    return tokens


# ---------------------------------------------------------------- one stream
@dataclass
class Utterance:
    """What the captions of one utterance need; where its speech and pauses
    are is the stream's VoiceActivity (judged speech, pause start, quiet windows)."""
    start: int                       # absolute sample where its audio begins
    detected: int                    # where speech was detected
    last_partial: int = 0            # absolute sample the last partial covered
    partials: int = 0
    cuts: list = field(default_factory=list)  # safe cut points (middles of short pauses)
    speculation: tuple | None = None  # (end sample, text, decode figures) decoded during the pause
    probs: list = field(default_factory=list)  # (window start, speech probability)
    after_cut: bool = False          # begins where a long utterance was cut
    decode_from: int | None = None   # after a cut inside speech: decoding starts this early,
                                     # on the last word already given, which is then dropped


class Stream:
    def __init__(self, engine, sid: str, sample_rate: int, language: str | None,
                 tuning: Tuning):
        self.sid = sid
        self.t = tuning
        self.vad = StreamingVad(engine.vad.session)
        self.activity = VoiceActivity(min_silence=int(tuning.min_silence_s * SR),
                                      threshold=tuning.threshold,
                                      neg_threshold=tuning.neg_threshold,
                                      min_speech=int(tuning.min_speech_s * SR))
        self.decode = Decoder(engine, language)
        self.resample = Resampler(sample_rate)
        self.pending = np.zeros(0, np.float32)    # < one VAD window, not yet judged
        self.buf = np.zeros(0, np.float32)        # audio from self.buf_at on
        self.buf_at = 0                           # absolute sample of buf[0]
        self.utt: Utterance | None = None
        self.last_final = ""                      # text of the latest final
        self.touched = time.monotonic()
        self.compute = 0.0
        self.last_decode: dict = {}               # figures of the latest Whisper decode
        # An English-only model hears other languages as English-like noise:
        # this watch says so once (language_notice.py has the measured rule).
        self.language_watch = (None if engine.info.multilingual
                               else language_notice.NotEnglishWatch(engine.info.model))

    @property
    def judged(self) -> int:
        """Absolute samples through the VAD."""
        return self.activity.position

    # -- audio bookkeeping
    def _audio(self, a: int, b: int) -> np.ndarray:
        return self.buf[max(0, a - self.buf_at):max(0, b - self.buf_at)]

    def _trim(self) -> None:
        """Keep only what a future utterance can still need."""
        keep_from = min(self.utt.start, self.utt.decode_from or self.utt.start) if self.utt else self.judged - int(self.t.pad_start_s * SR)
        drop = keep_from - self.buf_at
        if drop > 0:
            self.buf = self.buf[drop:]
            self.buf_at += drop

    def _sec(self, sample: int) -> float:
        return round(sample / SR, 3)

    def _decode(self, a: int, b: int, beam: int, final: bool = True) -> str:
        u = self.utt
        overlap = u is not None and u.decode_from is not None
        audio = self._audio(u.decode_from if overlap else a, b)
        if u is not None and u.after_cut:
            # A piece that starts where a monologue was cut starts mid-flow;
            # Whisper reads its first word better after a moment of silence.
            audio = np.concatenate([np.zeros(int(0.3 * SR), np.float32), audio])
        out = self.decode(audio, beam, self.t.context_pad_s, final)
        self.compute += out["seconds"]
        self.last_decode = out
        # Word timings are loose, so a cut inside speech can fall inside a
        # word: the piece after it is decoded from the start of the last word
        # already given, and that repeated word is dropped here.
        return drop_overlap(self.last_final, out["text"]) if overlap else out["text"]

    # -- events
    def feed(self, pcm: bytes) -> list[dict]:
        self.touched = time.monotonic()
        if len(pcm) % 2:
            raise BadInput(f"An audio frame had an odd number of bytes ({len(pcm)}); "
                           "16-bit PCM needs two bytes per sample.")
        x = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        x = self.resample(x)
        self.buf = np.concatenate([self.buf, x])
        self.pending = np.concatenate([self.pending, x])
        events: list[dict] = []
        n = self.pending.size // WINDOW
        for i in range(n):
            window = self.pending[i * WINDOW:(i + 1) * WINDOW]
            self._step(self.vad(window), events)
        self.pending = self.pending[n * WINDOW:]
        self._maybe_partial(events)
        self._trim()
        return events

    def flush(self) -> list[dict]:
        """End of stream: whatever was being said becomes a final now."""
        events: list[dict] = []
        u = self.utt
        if u is not None:
            end = self.buf_at + self.buf.size   # everything received, judged or not
            if self.activity.pause_from is not None:
                end = min(end, self.activity.pause_from + int(self.t.pad_end_s * SR))
            self._final(end, events)
        return events

    def _step(self, prob: float, events: list) -> None:
        t, va = self.t, self.activity
        w_start = va.position
        quiet_before = va.quiet_windows   # the pause this window may end by resuming speech
        change = va.step(prob)
        u = self.utt
        if u is None:
            if change is not None and change.kind == START:
                start = max(self.buf_at, w_start - int(t.pad_start_s * SR))
                self.utt = Utterance(start=start, detected=w_start, last_partial=w_start)
            return
        u.probs.append((w_start, prob))
        if prob >= t.threshold:
            if quiet_before >= t.cut_pause_windows:
                u.cuts.append(w_start - quiet_before * WINDOW // 2)
            u.speculation = None
        ended = change is not None and change.kind in (END, DROP)
        pause_from = change.at if ended else va.pause_from
        if pause_from is not None:
            pause = self.judged - pause_from
            end = pause_from + int(t.pad_end_s * SR)
            if ended and change.kind == DROP:
                self._drop(events)     # a click: no text, and no final unless partials went out
                return
            if u.speculation is None and pause >= int(t.speculate_after_s * SR) \
                    and va.speech >= int(t.min_speech_s * SR):
                # Decode the final now, while waiting to learn whether the pause
                # is the end: if it is, the text is ready the moment it is known.
                text = self._decode(u.start, end, t.final_beam)
                u.speculation = (end, text, self.last_decode)
            if ended:
                self._final(end, events)
                return
        if self.judged - u.start >= int(t.max_utterance_s * SR):
            self._cut(events)

    def _maybe_partial(self, events: list) -> None:
        u, t = self.utt, self.t
        if u is None or self.activity.pause_from is not None:
            return
        due = (u.detected + int(t.first_partial_s * SR)) if u.partials == 0 \
            else (u.last_partial + int(t.partial_every_s * SR))
        if self.judged < due:
            return
        text = self._decode(u.start, self.judged, t.partial_beam, final=False)
        u.last_partial = self.judged
        if text:
            u.partials += 1
            events.append({"type": "partial", "text": text, "start": self._sec(u.start),
                           "end": self._sec(self.judged)})

    def _final(self, end: int, events: list, text: str | None = None) -> None:
        u = self.utt
        figures = None   # the decode's figures, when this final's text comes from one
        if text is None:
            if u.speculation is not None and u.speculation[0] == end:
                _, text, figures = u.speculation
            elif self.activity.speech >= int(self.t.min_speech_s * SR):
                text = self._decode(u.start, end, self.t.final_beam)
                figures = self.last_decode
            else:
                text = ""
        # A final closes what partials opened; an utterance that never showed
        # text and has none needs no event at all.
        self.last_final = text
        if text or u.partials:
            events.append({"type": "final", "text": text, "start": self._sec(u.start),
                           "end": self._sec(end)})
        if self.language_watch is not None and figures is not None:
            voiced = sum(1 for at, p in u.probs if at < end and p >= self.t.threshold)
            notice = self.language_watch.after_final(text, voiced * WINDOW / SR, figures)
            if notice is not None:
                events.append(notice)
        self.utt = None

    def _drop(self, events: list) -> None:
        if self.utt.partials:
            self._final(self.utt.start, events, text="")
        self.utt = None

    def _cut(self, events: list) -> None:
        """A monologue reached max_utterance_s: end it where no word is cut."""
        u, t = self.utt, self.t
        now = self.judged
        overlap_from = None
        floor = u.start + int(t.min_cut_s * SR)
        safe = [c for c in u.cuts if c >= floor]
        if safe:
            cut, text = safe[-1], None
        else:
            # No pause at all: ask Whisper where the words are and end after the
            # last word that is clearly over, so the next piece starts with
            # the next word instead of half of it.
            words = self.decode.words(self._audio(u.start, now), t.final_beam)
            limit = (now - u.start) / SR - 1.0
            done = [w for w in words if w.end <= limit]
            if done:
                # Word timings are only good to ~0.1 s: cut at the quietest
                # window (lowest speech probability) around the gap between
                # the last word kept and the next one.
                nxt = next((w for w in words if w.start >= done[-1].end), None)
                lo = u.start + int((done[-1].end - 0.1) * SR)
                hi = u.start + int(((nxt.start if nxt else done[-1].end) + 0.1) * SR)
                around = [(p, s) for s, p in u.probs if lo <= s <= hi]
                cut = min(around)[1] if around else u.start + int(done[-1].end * SR)
                text = "".join(w.word for w in done).strip()
                overlap_from = u.start + int(done[-1].start * SR)
            else:
                cut, text = now - int(1.0 * SR), None
        remaining_cuts = [c for c in u.cuts if c > cut]
        self._final(cut, events, text=text)
        self.utt = Utterance(start=cut, detected=cut, last_partial=cut,
                             cuts=remaining_cuts, probs=[x for x in u.probs if x[0] >= cut],
                             after_cut=True,
                             decode_from=overlap_from if overlap_from is not None and overlap_from < cut else None)
        self.activity.restart(cut)   # a pause that began after the cut goes on


# ---------------------------------------------------------------- worker entry
_streams: dict[str, Stream] = {}


def _get(sid) -> Stream:
    stream = _streams.get(sid)
    if stream is None:
        raise ServiceError("This stream is not known to the ASR worker (the worker was "
                           "restarted, or the stream already ended). Start a new stream.",
                           status=410)
    return stream


def handle(engine, msg: dict):
    op = msg["op"]
    sid = msg.get("stream")
    if op == protocol.STREAM_OPEN:
        _drop_idle()
        if len(_streams) >= MAX_STREAMS:
            raise ServiceError(f"The ASR worker already serves {len(_streams)} live streams. "
                               "Close one, then start again.", status=503)
        language = msg.get("language")
        engine.check_request({"language": language}, language_fix="Use language=en")
        rate = msg.get("sample_rate", SR)
        check_rate(rate)
        tuning = replace(Tuning(), **(msg.get("tuning") or {}))
        _streams[sid] = Stream(engine, sid, rate, language, tuning)
        return {"stream": sid, "streams": len(_streams)}
    if op == protocol.STREAM_FEED:
        stream = _get(sid)
        events = stream.feed(msg["pcm"])
        return {"events": events, "position": stream._sec(stream.judged)}
    if op == protocol.STREAM_FLUSH:
        stream = _get(sid)
        try:
            return {"events": stream.flush(), "position": stream._sec(stream.judged),
                    "compute_seconds": round(stream.compute, 3)}
        finally:
            _streams.pop(sid, None)
    if op == protocol.STREAM_CLOSE:
        _streams.pop(sid, None)
        return {"closed": sid}
    raise BadInput(f"Unknown stream operation {op!r}.")


def _drop_idle() -> None:
    now = time.monotonic()
    for sid in [s for s, st in _streams.items() if now - st.touched > IDLE_DROP_S]:
        _streams.pop(sid, None)
