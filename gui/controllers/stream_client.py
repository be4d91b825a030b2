"""The WebSocket side of live captions, off the UI thread.

One StreamClient is one stream: its own thread opens the audio source,
connects to WS /v1/stream and sends PCM; a second thread receives events.
Everything reaches the UI through Qt signals (queued across threads), and
`finished` is always the last one, exactly once.

StreamOptions is what the stream is opened with besides the audio: the
language and the two voice-activity settings, as WS /v1/stream's query
parameters (docs/streaming.md). A `notice` event (information, the stream
goes on: `not_english` today) is passed up as it came.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Callable, Protocol
from urllib.parse import urlencode

from PySide6.QtCore import QObject, Signal

log = logging.getLogger("asr.stream_client")

SEND_EVERY_BYTES = 3200      # 100 ms at 16 kHz: small enough for timely partials
FLUSH_WAIT_S = 20.0          # stop -> done: the last utterance is decoded first
CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class StreamOptions:
    """The stream's query parameters besides the sample rate. "" / None
    leave a choice to the service: no language means English for an
    English-only model and detection for a multilingual one, no VAD value
    means the service's default."""
    language: str = ""
    vad_threshold: float | None = None
    end_silence_ms: int | None = None

    def query(self) -> dict:
        query: dict = {"sample_rate": 16000}
        if self.language:
            query["language"] = self.language
        if self.vad_threshold is not None:
            query["vad_threshold"] = f"{self.vad_threshold:g}"
        if self.end_silence_ms is not None:
            query["end_silence_ms"] = int(self.end_silence_ms)
        return query


class AudioSource(Protocol):
    def read(self, timeout: float = 0.1) -> bytes: ...
    def stop(self) -> None: ...


class StreamClient(QObject):
    opened = Signal(object)      # whatever open_source returned (the capture)
    partial = Signal(dict)
    final = Signal(dict)
    notice = Signal(dict)        # {"type": "notice", "code": ..., "message": ...}
    error = Signal(str)
    finished = Signal()

    def __init__(self, service_url: str, open_source: Callable[[], AudioSource],
                 options: StreamOptions | None = None, parent=None):
        super().__init__(parent)
        base = service_url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        self.options = options or StreamOptions()
        self.url = f"{base}/v1/stream?" + urlencode(self.options.query())
        self.service_url = service_url
        self._open_source = open_source
        self.source: AudioSource | None = None
        self._stop = threading.Event()
        self._closed = threading.Event()
        self._ws = None
        self._failed = False
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ UI thread
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="captions-stream", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Flush: what was said so far is transcribed, then the stream ends."""
        self._stop.set()

    # ------------------------------------------------------------ stream thread
    def _fail(self, message: str) -> None:
        if not self._failed:
            self._failed = True
            log.warning("captions stream: %s", message)
            self._emit(self.error, message)

    def _run(self) -> None:
        try:
            self._stream()
        except Exception as exc:  # a bug must end the stream with a sentence, not silently
            log.exception("captions stream failed")
            self._fail(self.tr("Live captions stopped because of an internal error ({error}). "
                               "Press Start to try again; the log has the details.").format(
                                   error=f"{type(exc).__name__}: {exc}"))
        finally:
            if self.source is not None:
                try:
                    self.source.stop()
                except Exception:
                    log.exception("stopping the audio source")
            self._emit(self.finished)

    @staticmethod
    def _emit(signal, *args) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:
            pass  # the window that listened was closed and deleted: nobody to tell

    def _stream(self) -> None:
        from gui.sources.capture import CaptureError
        from websockets.sync.client import connect

        try:
            self.source = self._open_source()
        except CaptureError as exc:
            self._fail(str(exc))
            return
        if self._stop.is_set():
            return
        self._emit(self.opened, self.source)
        try:
            # proxy=None: a desktop's HTTP proxy settings must not capture loopback traffic
            self._ws = connect(self.url, proxy=None, open_timeout=CONNECT_TIMEOUT_S,
                               max_size=2**20, legacy=True)
        except Exception as exc:
            self._fail(self.tr("Live captions could not connect to the ASR service at {url} "
                               "({error}). Check that the service is running (tray menu, "
                               "Status), then press Start again.").format(
                                   url=self.service_url, error=f"{type(exc).__name__}: {exc}"))
            return
        rx = threading.Thread(target=self._receive, name="captions-rx", daemon=True)
        rx.start()
        pending = bytearray()
        capture_failure = None
        try:
            while not self._stop.is_set() and not self._closed.is_set():
                try:
                    pending += self.source.read(0.1)
                except CaptureError as exc:
                    capture_failure = str(exc)
                    break
                if len(pending) >= SEND_EVERY_BYTES:
                    self._ws.send(bytes(pending))
                    pending.clear()
            if self._closed.is_set():
                return
            # Flush: the audio already captured goes out, then `stop`; the
            # service answers with the last final and `done`.
            self.source.stop()
            try:
                while chunk := self.source.read(0.0):
                    pending += chunk
            except CaptureError:
                pass
            if pending:
                self._ws.send(bytes(pending))
            self._ws.send(json.dumps({"type": "stop"}))
            if not self._closed.wait(FLUSH_WAIT_S):
                self._fail(self.tr("The ASR service did not finish the last words within {s} s "
                                   "after Stop; the captions so far are kept.").format(
                                       s=f"{FLUSH_WAIT_S:g}"))
        except Exception as exc:
            if not self._closed.is_set():
                self._fail(self.tr("The connection to the ASR service broke ({error}). Press "
                                   "Start to begin again.").format(
                                       error=f"{type(exc).__name__}: {exc}"))
        finally:
            if capture_failure:
                self._fail(capture_failure)
            self._close_quietly(self._ws)
            rx.join(5)

    def _receive(self) -> None:
        from websockets.exceptions import ConnectionClosed

        ws = self._ws
        try:
            while True:
                event = json.loads(ws.recv())
                kind = event.get("type")
                if kind == "partial":
                    self._emit(self.partial, event)
                elif kind == "final":
                    self._emit(self.final, event)
                elif kind == "notice":
                    self._emit(self.notice, event)
                elif kind == "error":
                    # The service speaks to developers ("start a new stream");
                    # the person at the window needs the button.
                    message = event.get("message") or self.tr("The ASR service reported an error.")
                    self._fail(self.tr("{message} Press Start to caption again.").format(
                        message=message))
                elif kind == "done":
                    pass  # the close that follows ends the loop
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
            if code not in (1000, None):
                reason = exc.rcvd.reason if exc.rcvd else ""
                why = reason or self.tr("code {code}").format(code=code)
                self._fail(self.tr("The ASR service ended the stream ({why}). Press Start to "
                                   "begin again.").format(why=why))
            elif code is None and not self._stop.is_set():
                self._fail(self.tr("The connection to the ASR service was lost (the service "
                                   "stopped or restarted). Press Start to begin again once it "
                                   "is running."))
        except Exception as exc:
            self._fail(self.tr("The ASR service sent something unreadable ({error}). Press Start "
                               "to begin again.").format(error=f"{type(exc).__name__}: {exc}"))
        finally:
            self._closed.set()

    @staticmethod
    def _close_quietly(ws) -> None:
        if ws is None:
            return
        try:
            ws.close()
        except Exception:
            pass

