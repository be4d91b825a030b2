"""The node's /utterance, inside the worker: decode, find speech, transcribe it,
and compute the stream state the next utterance starts from.

The worker keeps no state of its own between requests. The service sends the
stream state with each request and stores what comes back, so a restarted
worker carries on where the old one stopped (service/fronts/node_api.py).

State (all optional, all cleared by /reset):
  vad            {"tail": float32[WINDOW], "speaking": bool}: the last VAD window of
                 the previous utterance and whether speech was still going on
                 when it ended, so speech cut by the node's chunking is not lost
                 at the start of the next utterance.
  context_audio  {"audio": float32 at 16 kHz, "text": str}: the end of the last
                 speech of the previous utterance (at most CONTEXT_SECONDS) and
                 that utterance's text. The audio goes in front of the next
                 utterance so Whisper hears how the sentence began; the words
                 that fall inside it are dropped from the answer.
  text_context   the previous utterance's text, given to Whisper as its prompt.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from service.errors import BadInput, TooLong
from service.protocol import (FILE_FORMATS, MAX_UTTERANCE_SECONDS, PCM_FORMATS,
                              check_utterance_length)
from service.worker.vad import (END, NEG_THRESHOLD, SAMPLE_RATE, THRESHOLD, WINDOW,
                                VoiceActivity, speech_probabilities)

CONTEXT_SECONDS = 2.0
TEXT_CONTEXT_CHARS = 400      # Whisper uses at most ~224 prompt tokens anyway
CONTEXT_END_WORDS = 1         # "the" and "a" end too many texts to count as a repeat
BORDER_SECONDS = 0.15         # word times closer than this to the context's end are unsure
MERGE_GAP_SECONDS = 2.0       # speech closer than this is decoded in one piece

# Ogg and WebM/Matroska: "opus" audio in a container is a file, anything else
# is the node's packet stream (see decode_opus_packets).
CONTAINER_MAGIC = (b"OggS", b"\x1a\x45\xdf\xa3")


@dataclass(frozen=True)
class VadParams:
    threshold: float = THRESHOLD
    neg_threshold: float = NEG_THRESHOLD
    min_speech_ms: int = 100
    min_silence_ms: int = 300
    pad_ms: int = 200


VAD = VadParams()


def handle(engine, msg: dict) -> dict:
    # Refused before any work, silence included, so the answer does not depend on the audio.
    engine.check_request(msg.get("options") or {}, language_fix="Send src_lang 'en' or 'auto'")
    audio = decode(engine, msg.get("audio") or b"", msg.get("audio_format") or "pcm16",
                   msg.get("sample_rate") or SAMPLE_RATE)
    state = msg.get("state") or {}
    kept = state.get("context_audio") if msg.get("use_context_buffer") else None
    context = np.asarray(kept["audio"], dtype=np.float32) if kept and len(kept["audio"]) else None
    text_context = state.get("text_context") if msg.get("use_text_context") else None
    n_ctx = 0 if context is None else context.size
    full = audio if context is None else np.concatenate([context, audio])

    # With context audio in front, Silero gets its lead-in from that audio; the
    # carried VAD state describes the end of the previous utterance, which is
    # only adjacent to this audio when nothing was put in between.
    carried = state.get("vad") if context is None else None
    speech, speaking_at_end = find_speech(engine.vad, full, carried, VAD)

    # Speech of this utterance, in its own sample indices; the context's last
    # speech reaching in by no more than its padding is not speech of ours.
    pad = SAMPLE_RATE * VAD.pad_ms // 1000
    own = [[max(0, s - n_ctx), e - n_ctx] for s, e in speech
           if e - n_ctx > (pad if s < n_ctx else 0)]
    result = {"text": "", "segments": [], "language": None, "language_probability": None,
              "language_probabilities": None, "duration": round(audio.size / SAMPLE_RATE, 3),
              "vad_segments": own,
              "context": {"audio_seconds": round(n_ctx / SAMPLE_RATE, 3),
                          "text": text_context or None, "vad_carried": carried is not None}}
    if own:
        padding = np.zeros(int(SAMPLE_RATE * (msg.get("padding_ms") or 0) / 1000), np.float32)
        asr_audio = np.concatenate([full, padding]) if padding.size else full
        options = dict(msg.get("options") or {})
        options.update(vad_filter=False, word_timestamps=n_ctx > 0,
                       clip_timestamps=clips(speech, full.size, asr_audio.size))
        if text_context:
            options["initial_prompt"] = text_context
        out = engine.transcribe(asr_audio, options)
        segments = drop_context(out["segments"], n_ctx / SAMPLE_RATE,
                                kept["text"] if context is not None else "")
        result.update(text="".join(s["text"] for s in segments).strip(), segments=segments,
                      language=out["language"],
                      language_probability=float(out["language_probability"]),
                      language_probabilities=out["language_probabilities"])
    elif not engine.info.multilingual:
        result.update(language="en", language_probability=1.0)
    else:
        lang = (msg.get("options") or {}).get("language")
        result.update(language=lang, language_probability=1.0 if lang else None)

    tail = audio[-WINDOW:]
    next_state = {
        "vad": {"tail": np.pad(tail, (WINDOW - tail.size, 0)), "speaking": speaking_at_end},
        "context_audio": state.get("context_audio"),
        "text_context": state.get("text_context"),
    }
    if result["text"]:
        if msg.get("use_context_buffer") and own:
            start, end = own[-1]
            first = max(start, end - int(CONTEXT_SECONDS * SAMPLE_RATE))
            next_state["context_audio"] = {"audio": audio[first:end].copy(), "text": result["text"]}
        if msg.get("use_text_context"):
            next_state["text_context"] = result["text"][-TEXT_CONTEXT_CHARS:]
    return {"response": result, "state": next_state}

def decode(engine, data: bytes, audio_format: str, sample_rate: int) -> np.ndarray:
    fmt = audio_format.strip().lower()
    if fmt not in PCM_FORMATS and fmt not in FILE_FORMATS:
        raise BadInput(f"The audio_format '{audio_format}' is not supported. Use 'pcm16' (raw "
                       "16-bit little-endian mono PCM) or an encoded file: "
                       f"{', '.join(FILE_FORMATS)}.")
    if not data:
        raise BadInput("The audio is empty: send at least a fraction of a second of sound.")
    if fmt in PCM_FORMATS:
        from service.pcm import check_rate, pcm16_to_float

        check_rate(sample_rate)
        check_utterance_length(len(data) / 2 / sample_rate)
        return pcm16_to_float(data, sample_rate)
    if fmt == "opus" and not data.startswith(CONTAINER_MAGIC):
        audio = decode_opus_packets(data)
    else:
        try:
            audio = engine.decode_file(data, max_seconds=MAX_UTTERANCE_SECONDS)
        except TooLong:
            raise BadInput(f"The utterance is longer than {MAX_UTTERANCE_SECONDS} s; /utterance "
                           "takes at most that. Send shorter utterances, or send long recordings "
                           "to /v1/audio/transcriptions.") from None
    check_utterance_length(audio.size / SAMPLE_RATE)
    return audio


def decode_opus_packets(data: bytes) -> np.ndarray:
    """The node's Opus stream: packets, each preceded by its length as a
    little-endian uint16, no container. Decoded with libopus through PyAV."""
    packets, pos = [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos:pos + 2], "little")
        if pos + 2 > len(data) or size == 0 or pos + 2 + size > len(data):
            raise BadInput("The opus audio is not a sequence of length-prefixed Opus packets "
                           f"(at byte {pos} of {len(data)}: each packet must follow its length as "
                           "a 2-byte little-endian number). Send Ogg/WebM Opus files as they are, "
                           "or the packets framed that way.")
        packets.append(data[pos + 2:pos + 2 + size])
        pos += 2 + size
    import av

    try:
        decoder = av.CodecContext.create("opus", "r")
        decoder.sample_rate = 48000
        decoder.layout = "mono"
        to_16k = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks = []
        for packet in [*packets, None]:
            frames = decoder.decode(av.Packet(packet) if packet is not None else None)
            for frame in frames:
                chunks += [f.to_ndarray().reshape(-1) for f in to_16k.resample(frame)]
        chunks += [f.to_ndarray().reshape(-1) for f in to_16k.resample(None)]
    except (av.FFmpegError, ValueError) as exc:
        raise BadInput(f"The Opus packets could not be decoded ({exc}). Send packets made by an "
                       "Opus encoder, each after its 2-byte little-endian length.") from None
    audio = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if audio.size == 0:
        raise BadInput("The Opus packets decoded to no audio samples.")
    return audio


def find_speech(vad, audio: np.ndarray, carried: dict | None,
                p: VadParams) -> tuple[list[list[int]], bool]:
    """Speech as [start, end] sample pairs, and whether speech goes on at the end.

    VoiceActivity decides where speech starts and ends (after
    `min_silence_ms`, judged on quiet windows only, as the service this API
    replaces did); here the speech is padded, merged, and rid of blips."""
    lead = None
    speaking = False
    if carried is not None and carried.get("tail") is not None:
        lead = np.asarray(carried["tail"], dtype=np.float32)[-WINDOW:]
        lead = np.pad(lead, (WINDOW - lead.size, 0))
        speaking = bool(carried.get("speaking"))
    probs = speech_probabilities(vad, audio, lead)
    n = audio.size
    activity = VoiceActivity(min_silence=SAMPLE_RATE * p.min_silence_ms // 1000,
                             threshold=p.threshold, neg_threshold=p.neg_threshold,
                             end_in_band=False, speaking=speaking)
    raw: list[list[int]] = []
    for prob in probs:   # float32 as Silero gave it (see VoiceActivity)
        change = activity.step(prob)
        if change is not None and change.kind == END:
            raw.append([change.start, change.at])
    speaking_at_end = activity.speaking and activity.pause_from is None
    if activity.speaking:
        raw.append([activity.start, activity.pause_from if activity.pause_from is not None else n])

    min_speech = SAMPLE_RATE * p.min_speech_ms // 1000
    pad = SAMPLE_RATE * p.pad_ms // 1000
    out: list[list[int]] = []
    for s, e in raw:
        # Speech carried over from the previous utterance counts however short it is here.
        if e - s < min_speech and not (s == 0 and speaking):
            continue
        s, e = max(0, s - pad), min(n, e + pad)
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out, speaking_at_end


def clips(speech: list[list[int]], n_audio: int, n_padded: int) -> list[float]:
    """faster-whisper's clip_timestamps (seconds): speech only, with short
    pauses kept inside a clip so Whisper hears whole phrases; a clip that runs
    to the end of the audio also takes the padding."""
    gap = int(MERGE_GAP_SECONDS * SAMPLE_RATE)
    merged: list[list[int]] = []
    for s, e in speech:
        if merged and s - merged[-1][1] < gap:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    if merged and merged[-1][1] >= n_audio:
        merged[-1][1] = n_padded
    return [round(x / SAMPLE_RATE, 3) for pair in merged for x in pair]


def drop_context(segments: list[dict], ctx_seconds: float, ctx_text: str) -> list[dict]:
    """Segments of the utterance itself, timed from the start of its own audio.

    Words spoken inside the context audio were returned with the previous
    utterance and are dropped. Word times of small models are loose near that
    border: Whisper often skips the repeated words and pulls the first new
    word back into the context. So the cut is made after the last word inside
    the context that repeats the previous text's last word (the context audio
    is the end of that speech); when none does (Whisper heard that word
    differently this time), words that end well inside the context go."""
    if ctx_seconds <= 0:
        return [dict({k: v for k, v in s.items() if k != "words"}, id=i)
                for i, s in enumerate(segments)]
    timed = [(i, w) for i, s in enumerate(segments) for w in s.get("words") or ()]
    previous_end = set(_words(ctx_text)[-CONTEXT_END_WORDS:])
    repeat = clearly_inside = 0
    for n, (_, w) in enumerate(timed):
        if (w["start"] + w["end"]) / 2 >= ctx_seconds:
            break
        if set(_words(w["word"])) & previous_end:
            repeat = n + 1
        if w["end"] <= ctx_seconds - BORDER_SECONDS:
            clearly_inside = n + 1
    keep_from = repeat or clearly_inside
    kept: dict[int, list] = {}
    for i, w in timed[keep_from:]:
        kept.setdefault(i, []).append(w)
    out = []
    for i, seg in enumerate(segments):
        words = kept.get(i)
        if not words:
            continue
        seg = {k: v for k, v in seg.items() if k != "words"}
        seg["text"] = "".join(w["word"] for w in words)
        seg["start"] = round(max(0.0, float(words[0]["start"]) - ctx_seconds), 3)
        seg["end"] = round(max(seg["start"], float(seg["end"]) - ctx_seconds), 3)
        seg["id"] = len(out)
        out.append(seg)
    return out


def _words(text: str) -> list[str]:
    return re.findall(r"[\w']+", text.lower())
