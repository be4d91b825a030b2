"""Uploaded bytes -> 16 kHz mono samples: only real audio containers are
opened, and memory stays bounded whatever the duration.

Why an allow-list: FFmpeg's demuxers include playlists (concat, hls) that
open the files and URLs they name, so an upload holding
"ffconcat version 1.0 / file secret.wav" would read the service's own files
and return their transcript. The container is therefore recognised from its
first bytes HERE, before FFmpeg sees anything, and opened with that one
demuxer named explicitly (no probing). Two FFmpeg options back that up:
`format_whitelist` names the allowed demuxers, and `protocol_whitelist` names
no protocol at all, so even a demuxer that tried to open a second file or URL
could not. None of the allowed demuxers follows references by default (mov's
external data references are off unless `enable_drefs` is set).

Why windows: a few hundred KB of compressed silence decodes to hours of
samples (3 h of 16 kHz float32 is ~0.7 GB, and copies of it pile up). Audio
that fits in one window (WINDOW_SECONDS) is returned whole, exactly as
before; longer audio is counted in a first pass (so the length cap still
refuses before any transcription) and returned as a LongAudio that decodes
again, window by window, while it is transcribed.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from service.errors import BadInput, ServiceError, TooLong
from service.pcm import SAMPLE_RATE

# A few hundred KB of compressed silence can decode to hours of samples: the
# decoder stops past this, while decoding.
MAX_AUDIO_SECONDS = 3 * 3600
# Audio up to this long is handed over whole (the node's utterances, at most
# 600 s, always are); longer audio is transcribed in windows of this size:
# 10 min of float32 is 38 MB, and faster-whisper's working set for one
# window stays far below the 300 MB a request may add to the worker.
WINDOW_SECONDS = 600
# A window ends at the quietest 100 ms of its last CUT_SEARCH_SECONDS, so a
# word is rarely cut in two.
CUT_SEARCH_SECONDS = 30
CUT_FRAME = SAMPLE_RATE // 10

FORMATS_HINT = "wav, flac, mp3, ogg/opus, webm/mkv, m4a/mp4/mov, aac, aiff, caf, au or amr"
# FFmpeg demuxer names; the matroska demuxer also reads webm, mov reads mp4/m4a.
ALLOWED_DEMUXERS = ("wav", "flac", "mp3", "ogg", "matroska", "mov", "aac", "aiff", "caf",
                    "au", "amr")
# No protocol is called this: every URL or file a demuxer might open is refused.
NO_PROTOCOL = "none"
# Text that names other files: refused with its own sentence.
PLAYLIST_STARTS = (b"ffconcat", b"#extm3u", b"#extinf", b"concat:", b"file ", b"file:",
                   b"[playlist]", b"subfile,", b"<?xml", b"<asx", b"<smil")
MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")


def container_of(data: bytes) -> str:
    """The FFmpeg demuxer for these bytes, judged from their first bytes
    alone, or BadInput when they are not one of the audio containers allowed."""
    head = data[:64]
    if head.startswith(b"ID3") and len(data) >= 10:
        # An ID3v2 tag (FFmpeg skips it for any format): judge what follows;
        # behind a tag that is not followed by a known container, MP3 is what
        # is meant, and the mp3 demuxer opens nothing else.
        size = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(data[6:10]))
        size += 10 if data[5] & 0x10 else 0   # a footer
        return _plain_container(data[size:size + 64]) or "mp3"
    found = _plain_container(head)
    if found:
        return found
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith(PLAYLIST_STARTS):
        raise BadInput("The uploaded file is a playlist or a list of files, not audio. This "
                       "service never opens the files a playlist names. Send the audio file "
                       f"itself ({FORMATS_HINT}).")
    raise BadInput("The uploaded file could not be decoded as audio: it does not begin like "
                   f"any audio file this service reads ({FORMATS_HINT}). Send a valid audio "
                   "file.")


def _plain_container(head: bytes) -> str | None:
    if head[:4] in (b"RIFF", b"RIFX", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head[4:8] in MP4_BOXES:
        return "mov"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head.startswith(b"caff"):
        return "caf"
    if head.startswith(b".snd"):
        return "au"
    if head.startswith(b"#!AMR"):
        return "amr"
    if head.startswith(b"ADIF"):
        return "aac"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # MPEG audio frame sync: layer bits 00 is AAC in an ADTS header
        return "aac" if head[1] & 0x06 == 0 else "mp3"
    return None


def pieces(data: bytes, max_seconds: float = MAX_AUDIO_SECONDS) -> Iterator[np.ndarray]:
    """The audio as 16 kHz mono int16 pieces (a decoded frame each), in
    order; TooLong as soon as more than `max_seconds` came out. Everything
    the client must fix is a BadInput with a sentence."""
    if not data:
        raise BadInput(f"The uploaded file is empty. Send an audio file ({FORMATS_HINT}).")
    fmt = container_of(data)   # before FFmpeg reads a byte
    cap = int(max_seconds * SAMPLE_RATE)
    total = 0
    try:
        for piece in _decode(data, fmt):
            total += piece.size
            if total > cap:
                raise TooLong(f"The audio is longer than {max_seconds / 60:.0f} minutes, the "
                              "most this service decodes in one request. Split the recording "
                              "and send the parts.")
            yield piece
    except ServiceError:
        raise
    except Exception as exc:
        raise BadInput("The uploaded file could not be decoded as audio "
                       f"({type(exc).__name__}: {exc}). Send a valid audio file "
                       f"({FORMATS_HINT}).") from exc


def _decode(data: bytes, fmt: str) -> Iterator[np.ndarray]:
    import av

    options = {"format_whitelist": ",".join(ALLOWED_DEMUXERS), "protocol_whitelist": NO_PROTOCOL}
    with av.open(io.BytesIO(data), mode="r", format=fmt, container_options=options,
                 metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise BadInput("The uploaded file has no audio stream. Send an audio file "
                           f"({FORMATS_HINT}).")
        to_mono = _ToMono()
        frames = container.decode(audio=0)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                frame = None
            except av.error.InvalidDataError:
                continue  # a damaged frame: skip it, as faster-whisper does
            for out in to_mono.resample(frame):
                yield out.to_ndarray().reshape(-1)
            if frame is None:
                return


class _ToMono:
    """FFmpeg's resampler to 16 kHz mono s16 (the samples faster-whisper's own
    decoder gives). It cannot mix down channel counts without a standard
    layout (9 or 64 channels: "Invalid argument"); those are averaged here
    first, frame by frame."""

    def __init__(self):
        import av

        self._av = av
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        self._averaging = False
        self._started = False

    def resample(self, frame):
        if frame is not None and self._averaging:
            frame = _averaged(frame)
        if self._started or frame is None:
            return self._resampler.resample(frame)
        self._started = True
        try:
            return self._resampler.resample(frame)
        except self._av.error.ArgumentError:
            if len(frame.layout.channels) <= 2:
                raise
            self._averaging = True
            self._resampler = self._av.AudioResampler(format="s16", layout="mono",
                                                      rate=SAMPLE_RATE)
            return self._resampler.resample(_averaged(frame))


def _averaged(frame):
    """A mono frame holding the mean of the frame's channels."""
    import av

    x = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:
        x = x.reshape(-1, channels).T
    mean = x.mean(axis=0, dtype=np.float64)
    if np.issubdtype(x.dtype, np.integer):
        info = np.iinfo(x.dtype)
        mean = np.clip(np.rint(mean), info.min, info.max)
    out = av.AudioFrame.from_ndarray(mean.astype(x.dtype)[None, :], format=frame.format.name,
                                     layout="mono")
    out.sample_rate = frame.sample_rate
    out.pts, out.time_base = frame.pts, frame.time_base
    return out


@dataclass(frozen=True)
class LongAudio:
    """Audio longer than one window: the upload itself, counted, decoded
    again window by window when it is transcribed."""
    data: bytes
    samples: int
    max_seconds: float = MAX_AUDIO_SECONDS

    @property
    def size(self) -> int:
        return self.samples

    def windows(self, seconds: float = WINDOW_SECONDS) -> Iterator[tuple[int, np.ndarray]]:
        """The audio, decoded again, in windows (see `windows`)."""
        return windows(pieces(self.data, self.max_seconds), seconds)


def windows(pcm: Iterator[np.ndarray],
            seconds: float = WINDOW_SECONDS) -> Iterator[tuple[int, np.ndarray]]:
    """int16 pieces -> (offset in samples, float32 samples) windows covering
    them in order, each at most `seconds` long and ending at a quiet moment.
    Memory: one int16 buffer of a window, plus the window handed out."""
    size = int(seconds * SAMPLE_RATE)
    buf = np.empty(size, np.int16)
    filled = offset = 0
    for piece in pcm:
        pos = 0
        while pos < piece.size:
            n = min(size - filled, piece.size - pos)
            buf[filled:filled + n] = piece[pos:pos + n]
            filled += n
            pos += n
            if filled == size:
                cut = quiet_cut(buf)
                yield offset, _as_float(buf[:cut])
                buf[:size - cut] = buf[cut:].copy()
                filled, offset = size - cut, offset + cut
    if filled:
        yield offset, _as_float(buf[:filled])


def quiet_cut(buf: np.ndarray) -> int:
    """Where to end a full window: the middle of the quietest 100 ms of its
    last CUT_SEARCH_SECONDS."""
    search = min(buf.size, CUT_SEARCH_SECONDS * SAMPLE_RATE) // CUT_FRAME * CUT_FRAME
    if search == 0:
        return buf.size
    tail = buf[buf.size - search:].astype(np.float32).reshape(-1, CUT_FRAME)
    quietest = int(np.argmin(np.einsum("ij,ij->i", tail, tail)))
    return buf.size - search + quietest * CUT_FRAME + CUT_FRAME // 2


def _as_float(samples: np.ndarray) -> np.ndarray:
    # The same values as faster-whisper's `audio.astype(np.float32) / 32768.0`,
    # without a second full-size temporary.
    out = samples.astype(np.float32)
    out /= 32768.0
    return out


def decode(data: bytes, max_seconds: float = MAX_AUDIO_SECONDS,
           whole_up_to: float = WINDOW_SECONDS) -> np.ndarray | LongAudio:
    """Any allowed container -> 16 kHz mono float32 samples when the audio
    lasts at most `whole_up_to` seconds, else a LongAudio (counted in full
    here, so TooLong comes before any transcription)."""
    keep = int(whole_up_to * SAMPLE_RATE)
    chunks: list[np.ndarray] | None = []
    total = 0
    for piece in pieces(data, max_seconds):
        total += piece.size
        if chunks is not None:
            if total <= keep:
                chunks.append(piece)
            else:
                chunks = None   # too long to hold: count the rest, keep nothing
    if total == 0:
        raise BadInput("The uploaded file contains no audio samples.")
    if chunks is None:
        return LongAudio(data, total, max_seconds)
    return _as_float(np.concatenate(chunks))
