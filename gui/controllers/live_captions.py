"""Live captions from the microphone: the controller behind the captions window.

LiveCaptions owns what a captions session is made of: the Capture and the
StreamClient of the stream that is listening, the stopped streams still
delivering their last words (the flush), the session's timeline of finished
lines, the microphone-listing thread and the level meter. It reports
through signals and holds no widget; the window shows what it reports and
calls start/stop/clear/export when the user asks.

Losing the service is not a failure: when the service restarts (the tray's
Restart, new settings), its worker is restarted (a crash) or the connection
drops, the stream is "lost" (gui/controllers/stream_client.py classifies it)
and LiveCaptions goes on listening: one calm status line, the microphone kept
open (what is said meanwhile is captioned once the service is back, when the
gap was short and nothing was dropped), and a new stream on the same source
with the same options as soon as the service runs again, on the same
timeline. The tray says what the service is doing through
set_service_state(); without it (a window on its own) the new stream is
tried with a bounded backoff. When the service ends up stopped or failed,
listening ends with a sentence saying what to do.

Signals (all emitted in the UI thread; the threads' own signals are queued
there first):
    listening(bool)          the microphone is open / was released (it stays
                             "open" between two streams of a reconnect)
    status(str)              a sentence for the status line (calm: not an error)
    error(str)               a sentence about a failure (the tray shows it too)
    partial(str)             the words heard so far of the utterance in progress
    final(str)               a finished line ("" when the utterance had no words:
                             the partial goes away and nothing takes its place)
    finished_line(dict)      the same line on the session's timeline, right after
                             `final`: {"text", "start", "end"} in seconds since the
                             session began, plus "cut": True when the service cut
                             continuous speech there (the next line goes on with the
                             same sentence); {} for an utterance without words
    devices(list, str)       the microphones found, and a sentence when listing failed
    level(float)             0..1 input level, every 50 ms while listening
    model_info(ModelInfo)    what GET /v1/status says of the loaded model (its
                             languages: what the window's language box offers)
    notice(str, str)         a stream's notice: its code and a sentence in the
                             interface language; each code once per model (the
                             service says it once per stream, and a person who
                             stops and starts again has read it already)
"""
from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QObject, QTimer, Signal
from shiboken6 import isValid

from gui.controllers.stream_client import StreamOptions
from service import formats

log = logging.getLogger("asr.captions")


def to_text_joined(segments) -> str:
    """Plain text, one line per utterance: a line the service cut inside
    continuous speech ("cut") goes on with the next one on the same line."""
    lines, run = [], []
    for seg in segments:
        text = str(seg.get("text", "")).strip()
        if not text:
            continue
        run.append(text)
        if not seg.get("cut"):
            lines.append(" ".join(run))
            run = []
    if run:
        lines.append(" ".join(run))
    return "\n".join(lines) + "\n"


# format -> (name: English source, shown through format_name(), renderer)
FORMATS = {"txt": (QT_TRANSLATE_NOOP("LiveCaptions", "Text"), to_text_joined),
           "srt": (QT_TRANSLATE_NOOP("LiveCaptions", "SubRip subtitles"), formats.to_srt),
           "vtt": (QT_TRANSLATE_NOOP("LiveCaptions", "WebVTT subtitles"), formats.to_vtt)}
NO_SERVICE = QT_TRANSLATE_NOOP(
    "LiveCaptions", "Live captions cannot start: the ASR service is not running. Start it from "
    "the tray menu (or wait until it is ready), then press Start.")
RESTARTING = QT_TRANSLATE_NOOP(
    "LiveCaptions", "The ASR service is restarting; captions continue by themselves when it is "
    "back.")
WAITING_FOR_SERVICE = QT_TRANSLATE_NOOP(
    "LiveCaptions", "Starting the ASR service… captions begin when it is ready.")
READY = QT_TRANSLATE_NOOP(
    "LiveCaptions", "The ASR service is ready. Press Start to caption what the microphone hears.")
SERVICE_STOPPED = QT_TRANSLATE_NOOP(
    "LiveCaptions", "The ASR service was stopped, so live captions stopped. Start the service "
    "again (tray menu → Start service), then press Start.")
SERVICE_FAILED = QT_TRANSLATE_NOOP(
    "LiveCaptions", "The ASR service failed, so live captions stopped. The tray's message says "
    "why; once the service runs again, press Start.")
GAVE_UP = QT_TRANSLATE_NOOP(
    "LiveCaptions", "Live captions stopped: the ASR service did not take the stream back after "
    "{n} tries ({why}). Check the service (tray menu → Status), then press Start.")
# The service's states as the tray reports them (set_service_state)
RUNNING, STARTING, RESTARTING_STATE, STOPPING = "running", "starting", "restarting", "stopping"
STOPPED, FAILED = "stopped", "error"
WAITING_STATES = (STARTING, RESTARTING_STATE, STOPPING)   # it may come back: wait
ENDED_STATES = (STOPPED, FAILED)
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0, 8.0)   # a service that runs but refuses: then give up
STABLE_S = 10.0              # a stream that lived this long was fine: a later loss starts afresh
GIVE_UP_GRACE_MS = 1500      # "stopped" right before "starting" is a restart: wait that long
BACKLOG_KEEP_S = 10.0        # audio captured during a gap up to this long is captioned after it
DRAIN_MAX_S = 1.0            # dropping a gap's stale audio never takes longer than this
STATUS_HOLD_MS = 6000        # a passing line ("Saved …") while listening, then "Listening on …"
LEVEL_EVERY_MS = 50
STATUS_TIMEOUT_S = 5.0       # GET /v1/status samples processes: a moment, off the UI thread
NOT_ENGLISH = "not_english"  # the notice code of an English-only model hearing another language
BEHIND = "behind"            # the notice code of a stream the service is behind with


def format_name(fmt: str) -> str:
    """An export format's name in the interface language ("SubRip subtitles")."""
    return QCoreApplication.translate("LiveCaptions", FORMATS[fmt][0])


@dataclass
class CaptionSession:
    """Finished lines on one timeline: seconds since the session began, over
    any number of start/stop cycles (each stream counts from its own 0)."""
    began: float | None = None                      # time.monotonic() of the first start
    segments: list[dict] = field(default_factory=list)

    def add(self, stream_began: float, event: dict) -> dict | None:
        text = str(event.get("text", "")).strip()
        if not text:
            return None
        if self.began is None:
            self.began = stream_began
        shift = stream_began - self.began
        seg = {"start": max(0.0, round(event["start"] + shift, 3)),
               "end": max(0.0, round(event["end"] + shift, 3)), "text": text}
        if event.get("cut"):
            seg["cut"] = True
        self.segments.append(seg)
        self.segments.sort(key=lambda s: s["start"])  # a flushing old stream may land late
        return seg

    def clear(self) -> None:
        self.began = None
        self.segments.clear()

    def render(self, fmt: str) -> str:
        return FORMATS[fmt][1](self.segments)


@dataclass(frozen=True)
class ModelInfo:
    """What GET /v1/status says of the loaded model."""
    model: str | None
    multilingual: bool | None              # None: no model loaded yet
    languages: tuple[str, ...] | None      # its language codes; None: not known yet

    @classmethod
    def of(cls, status: dict) -> "ModelInfo":
        codes = status.get("languages")
        return cls(model=status.get("model") or None, multilingual=status.get("multilingual"),
                   languages=tuple(str(c) for c in codes) if isinstance(codes, list) else None)


def _model_named_in(message: str) -> str | None:
    """The model a service notice names ("... the loaded model (tiny.en) ...")."""
    found = re.search(r"model \(([^()]+)\)", message)
    return found.group(1) if found else None


@dataclass
class KeptSource:
    """The capture of a lost stream, open for the next stream of a reconnect."""
    capture: object
    began_next: float     # monotonic time of the next stream's audio 0: where the last one ended
    dropped: int          # capture.dropped when the gap began (more later: its audio has holes)
    lost_at: float        # when the gap began (the first loss, not a failed retry)


class LiveCaptions(QObject):
    listening = Signal(bool)
    status = Signal(str)
    error = Signal(str)
    partial = Signal(str)
    final = Signal(str)
    finished_line = Signal(object)
    devices = Signal(object, str)
    level = Signal(float)
    model_info = Signal(object)
    notice = Signal(str, str)
    _listed = Signal(object, str)   # from the listing thread: (devices, error sentence or "")
    _fetched = Signal(object)       # from the status thread: a ModelInfo, or None

    def __init__(self, service_url: Callable[[], str | None], parent: QObject | None = None):
        super().__init__(parent)
        self.service_url = service_url
        self.session = CaptionSession()
        self.last_error = ""
        self._client = None          # the StreamClient that is listening now
        self._capture = None         # its Capture (between two streams: the kept one)
        self._flushing: set = set()  # stopped clients still delivering their last words
        self._listening = False
        self._listing = False
        self._listed.connect(self._on_listed)
        self.model: ModelInfo | None = None   # the last answer of fetch_model_info()
        self._fetching = False
        self._fetched.connect(self._on_fetched)
        self._noticed: set[str] = set()       # notice codes shown for this model
        self._meter = QTimer(self)
        self._meter.setInterval(LEVEL_EVERY_MS)
        self._meter.timeout.connect(self._report_level)
        # -- reconnecting
        self._device = None                   # what the person started: reopened as it was
        self._options: StreamOptions | None = None
        self._service_state: str | None = None   # None: nobody tells (a window on its own)
        self._kept: KeptSource | None = None
        self._between = False                 # listening, no stream: lost, or waiting to begin
        self._first_stream = True             # the next stream is the first of this Start
        self._calm_shown = False              # the one "restarting" line of this gap was shown
        self._attempts = 0
        self._lost_why = ""
        self._gap: tuple[float, int] | None = None   # (since, capture.dropped then) of this gap
        self._quiet = False                   # shut_down(): nothing more to say
        self._listening_line = ""             # "Listening on …", shown again after a passing line
        self._releasing: list[threading.Thread] = []
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.timeout.connect(self._reconnect)
        self._give_up = QTimer(self)
        self._give_up.setSingleShot(True)
        self._give_up.setInterval(GIVE_UP_GRACE_MS)
        self._give_up.timeout.connect(self._service_gone)
        self._status_back = QTimer(self)
        self._status_back.setSingleShot(True)
        self._status_back.setInterval(STATUS_HOLD_MS)
        self._status_back.timeout.connect(self._show_listening_line)

    # ------------------------------------------------------------ asked by the window
    def is_listening(self) -> bool:
        return self._listening

    def is_listing(self) -> bool:
        """A microphone scan is running (the window's ↻ waits for it)."""
        return self._listing

    def is_reconnecting(self) -> bool:
        """Listening, but between two streams (the service is away or starting)."""
        return self._listening and self._between

    def is_idle(self) -> bool:
        """Not listening, and no stream or microphone is still being wound down."""
        self._releasing = [t for t in self._releasing if t.is_alive()]
        return (not self._listening and self._client is None and not self._flushing
                and not self._releasing)

    def start(self, device, options: StreamOptions | None = None) -> None:
        """Open `device` (an InputDevice, or None for the system's default)
        and stream it with `options` (language, VAD settings); the device
        opens and the network runs in threads. While the service is still
        starting, listening begins once it runs."""
        if self._listening:
            return
        self._quiet = False
        self._device, self._options = device, options
        self._attempts, self._first_stream, self._calm_shown, self._gap = 0, True, False, None
        self.last_error = ""
        if not self.service_url():
            if self._service_state in WAITING_STATES:
                self._between = True
                self.status.emit(self.tr(WAITING_FOR_SERVICE))
                self._set_listening(True)
                return
            self._fail(self.tr(NO_SERVICE))
            return
        self._set_listening(True)
        self._open_stream()

    def stop(self) -> None:
        """Stops listening now; the last utterance still arrives (flush)."""
        client = self._client
        if client is None:
            if self._listening:           # between two streams: nothing to flush
                self._end_listening()
                self._say(self.tr("Stopped. Press Start to caption again."))
            return
        self._client, self._capture = None, None
        self._flushing.add(client)
        client.stop()
        self._say(self.tr("Stopped. Finishing the last words…"))
        self._set_listening(False)

    def shut_down(self) -> None:
        """Stop without a word (the app quits): the flush, the service going
        away under it and its reports are nobody's concern any more."""
        self._quiet = True
        self.stop()

    def set_service_state(self, state: str) -> None:
        """What the ASR service is doing, from the tray: "running",
        "starting", "restarting", "stopping", "stopped" or "error"."""
        previous, self._service_state = self._service_state, state
        if state == previous or self._quiet:
            return
        if state == RUNNING:
            self._give_up.stop()
            if self._listening and self._between:
                self._attempts = 0
                self._retry.stop()
                self._reconnect()
            elif not self._listening and previous is not None:
                self._say(self.tr(READY))       # "not running" said earlier is not true any more
        elif state in WAITING_STATES:
            self._give_up.stop()
            self._retry.stop()                  # the move to "running" reconnects
            if self.is_reconnecting() and not self._first_stream and state != STOPPING:
                self._say_calm()                # (a Start waiting for it said so already)
        elif self.is_reconnecting():            # stopped or failed: unless a start follows at once
            self._retry.stop()
            self._give_up.start()

    def clear(self) -> None:
        """Forget the finished lines and start the timeline again."""
        self.session.clear()
        if self._listening and (self._between or (
                self._capture is not None and self._capture.started_at)):
            # the running stream continues: its time now counts from here
            self.session.began = time.monotonic()

    def lines(self) -> list[str]:
        return [s["text"] for s in self.session.segments]

    def export(self, path, fmt: str) -> Path:
        """Write the session (finished lines) as txt, srt or vtt."""
        fmt = fmt.lower().lstrip(".")
        if fmt not in FORMATS:
            raise ValueError(f"Unknown export format {fmt!r}: use txt, srt or vtt.")
        path = Path(path)
        path.write_text(self.session.render(fmt), encoding="utf-8")
        return path

    def save(self, path, fmt: str) -> bool:
        """export() for the person at the window: the outcome as a sentence."""
        try:
            self.export(path, fmt)
        except OSError as exc:
            self._fail(self.tr("The captions could not be saved to {path} ({why}). Pick a folder "
                               "you can write to and export again.").format(
                                   path=path, why=exc.strerror or exc))
            return False
        self.status.emit(self.tr("Saved {n} lines to {path}.").format(
            n=len(self.session.segments), path=path))
        if self._listening:
            self._status_back.start()   # then the listening line again: it is what is true
        return True

    def refresh_devices(self, rescan: bool = True) -> bool:
        """List microphones in a thread (PortAudio can take a while); the
        answer comes as `devices`. False when no scan was started."""
        if self._listening or self._listing:
            return False   # re-initialising PortAudio would break the open stream
        self._listing = True

        def work():
            from gui.sources.capture import CaptureError, list_input_devices
            try:
                devices, why = list_input_devices(rescan=rescan), ""
            except CaptureError as exc:
                devices, why = [], str(exc)
            except Exception as exc:
                devices, why = [], self.tr("The microphones could not be listed ({why}).").format(
                    why=exc)
            try:
                self._listed.emit(devices, why)
            except RuntimeError:
                pass  # the window was closed and deleted meanwhile: nobody to tell
        threading.Thread(target=work, name="list-microphones", daemon=True).start()
        return True

    def fetch_model_info(self) -> bool:
        """Ask the service which model it runs and its languages, in a
        thread; the answer comes as `model_info`. False when there is no
        service to ask or a question is already out."""
        url = self.service_url()
        if not url or self._fetching:
            return False
        self._fetching = True

        def work():
            info = None
            try:
                with httpx.Client(timeout=STATUS_TIMEOUT_S, trust_env=False) as client:
                    resp = client.get(f"{url}/v1/status")
                    resp.raise_for_status()
                    info = ModelInfo.of(resp.json())
            except (httpx.HTTPError, ValueError, AttributeError) as exc:
                # The window keeps what it offers; the next start asks again.
                log.info("the model's languages could not be read from %s: %s", url, exc)
            try:
                self._fetched.emit(info)
            except RuntimeError:
                pass  # the window was closed and deleted meanwhile
        threading.Thread(target=work, name="captions-model-info", daemon=True).start()
        return True

    # ------------------------------------------------------------ streams
    def _open_stream(self) -> None:
        """A stream of the person's source and options: the first of a Start,
        or the next one of a reconnect (on the kept capture when there is one)."""
        from gui.controllers.stream_client import StreamClient
        from gui.sources.capture import Capture

        url = self.service_url()
        kept, self._kept = self._kept, None
        client = None
        if kept is not None:
            capture = kept.capture
            # The gap's audio is captioned after it, unless it has holes (the
            # capture's queue overflowed) or is too old to be worth it now.
            fresh = (capture.dropped != kept.dropped
                     or time.monotonic() - kept.lost_at > BACKLOG_KEEP_S)

            def open_source():
                if fresh:   # (bounded: the device keeps delivering while this reads)
                    until = time.monotonic() + DRAIN_MAX_S
                    while capture.read(0.0) and time.monotonic() < until:
                        pass
                    client.began = time.monotonic()
                return capture
        else:
            capture, device = Capture(), self._device

            def open_source():
                capture.start(device)
                return capture
        client = StreamClient(url, open_source, self._options, keep_source=True)
        if kept is not None:
            client.began = kept.began_next
            client.catching_up = not fresh   # the gap's audio goes out at once
        again = not self._first_stream
        self._first_stream = False
        # Lambdas outlive this object (Qt cannot disconnect them when it is
        # deleted with its window), and a stopped stream may still report after that.
        alive = lambda: isValid(self)  # noqa: E731
        client.opened.connect(lambda cap, c=client: alive() and self._on_opened(c, cap, again))
        client.connected.connect(lambda c=client: alive() and self._on_connected(c, again))
        client.partial.connect(lambda ev, c=client: alive() and self.on_partial(c, ev))
        client.final.connect(lambda ev, c=client: alive() and self.on_final(c, ev))
        client.notice.connect(lambda ev, c=client: alive() and self.on_notice(c, ev))
        client.error.connect(lambda msg: alive() and self._fail(msg))
        client.lost.connect(lambda why, c=client: alive() and self._on_lost(c, why))
        client.finished.connect(lambda c=client: alive() and self._on_finished(c))
        self._client, self._capture = client, capture
        self._between = False
        if not again:
            self.status.emit(self.tr("Opening the microphone…"))
        client.start()

    def _reconnect(self) -> None:
        if not self._listening or not self._between or self._client is not None or self._quiet:
            return
        if not self.service_url():
            self._plan_reconnect()      # not there (yet): later, or the tray's state decides
            return
        self._open_stream()

    def _plan_reconnect(self) -> None:
        state = self._service_state
        if state in WAITING_STATES:
            return                      # its move to "running" reconnects
        if state in ENDED_STATES:
            if not self._give_up.isActive():
                self._give_up.start()
            return
        if self._attempts >= len(RETRY_DELAYS_S):
            why = self._lost_why
            self._end_listening()
            self._fail(self.tr(GAVE_UP).format(n=self._attempts, why=why))
            return
        self._retry.start(int(RETRY_DELAYS_S[self._attempts] * 1000))
        self._attempts += 1

    def _service_gone(self) -> None:
        """The service stopped or failed while captions waited for it."""
        if not self.is_reconnecting() or self._quiet:
            return
        failed = self._service_state == FAILED
        self._end_listening()
        self._say(self.tr(SERVICE_FAILED if failed else SERVICE_STOPPED))

    def _end_listening(self) -> None:
        """Listening ends between two streams: the kept microphone is released."""
        self._retry.stop()
        self._give_up.stop()
        self._between = False
        kept, self._kept = self._kept, None
        self._capture = None
        if kept is not None:
            self._release(kept.capture)
        self._set_listening(False)

    def _release(self, capture) -> None:
        """Close a kept capture (PortAudio blocks a moment: not on the UI thread)."""
        def work():
            try:
                capture.stop()
            except Exception:
                log.exception("closing the kept microphone")
        thread = threading.Thread(target=work, name="captions-release", daemon=True)
        thread.start()
        self._releasing.append(thread)

    # ------------------------------------------------------------ stream events
    # on_partial/on_final take the stream they came from: a test can drive
    # them with a stand-in that has `source.started_at`.
    def on_partial(self, client, event: dict) -> None:
        if client is self._client or client in self._flushing:
            self.partial.emit(str(event.get("text", "")).strip())

    def on_final(self, client, event: dict) -> None:
        seg = self.session.add(self._stream_began(client), event)
        self.final.emit(seg["text"] if seg else "")
        self.finished_line.emit(dict(seg) if seg else {})

    def on_notice(self, client, event: dict) -> None:
        code = str(event.get("code") or "")
        if code == BEHIND and getattr(client, "catching_up", False):
            # Behind because the audio of a reconnect's gap went out at once:
            # known, and over in a moment; not worth a notice that blames other work.
            log.info("stream notice %s after a reconnect: %s", code, event.get("message"))
            return
        if not code or code in self._noticed:
            return
        text = self._notice_sentence(code, str(event.get("message") or ""))
        if not text:
            return
        self._noticed.add(code)
        log.info("stream notice %s: %s", code, event.get("message"))
        self.notice.emit(code, text)

    def _notice_sentence(self, code: str, message: str) -> str:
        """The notice in the interface language where we know its code (the
        service writes English); its own words otherwise."""
        if code == NOT_ENGLISH:
            model = (self.model.model if self.model is not None else None) or \
                _model_named_in(message)
            if model:
                return self.tr("This does not sound like English, and the loaded model ({model}) "
                               "knows only English. To caption other languages, choose the "
                               "multilingual model (base) in Settings → Models.").format(
                                   model=model)
        return message

    @staticmethod
    def _stream_began(client) -> float:
        """When the stream's audio 0 was heard: its capture's start, or for a
        stream after a reconnect, where the one before it ended."""
        began = getattr(client, "began", None)
        if began:
            return began
        cap = client.source
        return cap.started_at if cap is not None and cap.started_at else time.monotonic()

    def _on_opened(self, client, capture, again: bool) -> None:
        if client is self._client and not again:
            self._listening_line = self.tr("Listening on {device}.").format(
                device=capture.device.label)
            self._say(self._listening_line)
            self.fetch_model_info()   # the stream is open, so the model is loaded: its languages

    def _on_connected(self, client, again: bool) -> None:
        if client is self._client and again:
            device = client.source.device.label if client.source is not None else "?"
            self._listening_line = self.tr("Listening on {device}.").format(device=device)
            self._say(self.tr("Listening again on {device}.").format(device=device))
            self._calm_shown, self._gap = False, None
            self.fetch_model_info()   # a restart with new settings may have another model

    def _on_lost(self, client, why: str) -> None:
        """The service went away under the stream: not an error (see the top)."""
        if client is not self._client or self._quiet:
            return
        self._lost_why = why
        if self._service_state not in (STOPPING, *ENDED_STATES):   # a Stop says its own sentence
            self._say_calm()

    def _on_finished(self, client) -> None:
        self._flushing.discard(client)
        if client is self._client:
            self._client = None
            if client.ended_by == "lost" and self._listening and not self._quiet:
                now = time.monotonic()
                if client.heard or (client.connected_at and now - client.connected_at >= STABLE_S):
                    self._attempts = 0         # it worked until now: a new trouble
                if client.source_kept:
                    gap = self._gap or (now, client.source.dropped)   # a failed retry: the same gap
                    self._gap = gap
                    self._kept = KeptSource(client.source,
                                            self._stream_began(client) + client.read_s,
                                            dropped=gap[1], lost_at=gap[0])
                else:
                    self._capture = None
                self._between = True
                self._plan_reconnect()
            else:                             # ended by itself: an error, already reported
                self._capture = None
                if client.source_kept:
                    self._release(client.source)
                self._between = False
                self._set_listening(False)
        else:
            if client.source_kept:
                self._release(client.source)
            if not self.last_error and not self._listening:
                self._say(self.tr("Stopped. Press Start to caption again."))
        client.deleteLater()

    # ------------------------------------------------------------ inside
    def _say(self, sentence: str) -> None:
        """A status line, unless the app is quitting."""
        if not self._quiet:
            self._status_back.stop()
            self.status.emit(sentence)

    def _say_calm(self) -> None:
        """The one line of a gap: calm, not an error, not shown by the tray."""
        if not self._calm_shown:
            self._calm_shown = True
            self._say(self.tr(RESTARTING))

    def _show_listening_line(self) -> None:
        if self._listening and not self._between and self._listening_line:
            self._say(self._listening_line)

    def _fail(self, message: str) -> None:
        self.last_error = message
        if self._quiet:
            log.info("after quitting, live captions reported: %s", message)
            return
        self.error.emit(message)

    def _set_listening(self, on: bool) -> None:
        if on == self._listening:
            return
        self._listening = on
        if on:
            self._meter.start()
        else:
            self._meter.stop()
            self.level.emit(0.0)
        self.listening.emit(on)

    def _report_level(self) -> None:
        cap = self._capture
        self.level.emit(cap.level if cap is not None else 0.0)

    def _on_fetched(self, info: ModelInfo | None) -> None:
        self._fetching = False
        if info is None:
            return
        if self.model is not None and info.model != self.model.model:
            self._noticed.clear()   # another model: what it hears is news again
        self.model = info
        self.model_info.emit(info)

    def _on_listed(self, devices: list, why: str) -> None:
        self._listing = False
        self.devices.emit(devices, why)
