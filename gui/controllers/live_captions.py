"""Live captions from the microphone: the controller behind the captions window.

LiveCaptions owns what a captions session is made of: the Capture and the
StreamClient of the stream that is listening, the stopped streams still
delivering their last words (the flush), the session's timeline of finished
lines, the microphone-listing thread and the level meter. It reports
through signals and holds no widget; the window shows what it reports and
calls start/stop/clear/export when the user asks.

Signals (all emitted in the UI thread; the threads' own signals are queued
there first):
    listening(bool)          the microphone is open / was released
    status(str)              a sentence for the status line
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

# format -> (name: English source, shown through format_name(), renderer)
FORMATS = {"txt": (QT_TRANSLATE_NOOP("LiveCaptions", "Text"), formats.to_text),
           "srt": (QT_TRANSLATE_NOOP("LiveCaptions", "SubRip subtitles"), formats.to_srt),
           "vtt": (QT_TRANSLATE_NOOP("LiveCaptions", "WebVTT subtitles"), formats.to_vtt)}
NO_SERVICE = QT_TRANSLATE_NOOP(
    "LiveCaptions", "Live captions cannot start: the ASR service is not running. Start it from "
    "the tray menu (or wait until it is ready), then press Start.")
LEVEL_EVERY_MS = 50
STATUS_TIMEOUT_S = 5.0       # GET /v1/status samples processes: a moment, off the UI thread
NOT_ENGLISH = "not_english"  # the notice code of an English-only model hearing another language


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
        self._capture = None         # its Capture
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

    # ------------------------------------------------------------ asked by the window
    def is_listening(self) -> bool:
        return self._listening

    def is_listing(self) -> bool:
        """A microphone scan is running (the window's ↻ waits for it)."""
        return self._listing

    def is_idle(self) -> bool:
        """No stream is listening or still delivering its last words."""
        return self._client is None and not self._flushing

    def start(self, device, options: StreamOptions | None = None) -> None:
        """Open `device` (an InputDevice, or None for the system's default)
        and stream it with `options` (language, VAD settings); the device
        opens and the network runs in threads."""
        if self._listening:
            return
        url = self.service_url()
        if not url:
            self._fail(self.tr(NO_SERVICE))
            return
        from gui.controllers.stream_client import StreamClient
        from gui.sources.capture import Capture

        capture = Capture()

        def open_source():
            capture.start(device)
            return capture
        client = StreamClient(url, open_source, options)
        # Lambdas outlive this object (Qt cannot disconnect them when it is
        # deleted with its window), and a stopped stream may still report after that.
        alive = lambda: isValid(self)  # noqa: E731
        client.opened.connect(lambda cap, c=client: alive() and self._on_opened(c, cap))
        client.partial.connect(lambda ev, c=client: alive() and self.on_partial(c, ev))
        client.final.connect(lambda ev, c=client: alive() and self.on_final(c, ev))
        client.notice.connect(lambda ev, c=client: alive() and self.on_notice(c, ev))
        client.error.connect(lambda msg: alive() and self._fail(msg))
        client.finished.connect(lambda c=client: alive() and self._on_finished(c))
        self._client, self._capture = client, capture
        self.last_error = ""
        self.status.emit(self.tr("Opening the microphone…"))
        self._set_listening(True)
        client.start()

    def stop(self) -> None:
        """Stops listening now; the last utterance still arrives (flush)."""
        client = self._client
        if client is None:
            return
        self._client, self._capture = None, None
        self._flushing.add(client)
        client.stop()
        self.status.emit(self.tr("Stopped. Finishing the last words…"))
        self._set_listening(False)

    def clear(self) -> None:
        """Forget the finished lines and start the timeline again."""
        self.session.clear()
        if self._listening and self._capture is not None and self._capture.started_at:
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
        cap = client.source
        return cap.started_at if cap is not None and cap.started_at else time.monotonic()

    def _on_opened(self, client, capture) -> None:
        if client is self._client:
            self.status.emit(self.tr("Listening on {device}.").format(device=capture.device.label))
            self.fetch_model_info()   # the stream is open, so the model is loaded: its languages

    def _on_finished(self, client) -> None:
        self._flushing.discard(client)
        if client is self._client:        # ended by itself: an error, already reported
            self._client, self._capture = None, None
            self._set_listening(False)
        elif not self.last_error and not self._listening:
            self.status.emit(self.tr("Stopped. Press Start to caption again."))
        client.deleteLater()

    # ------------------------------------------------------------ inside
    def _fail(self, message: str) -> None:
        self.last_error = message
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
