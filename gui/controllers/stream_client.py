"""The WebSocket side of live captions, off the UI thread.

One StreamClient is one stream: its own thread opens the audio source,
connects to WS /v1/stream and sends PCM; a second thread receives events.
Everything reaches the UI through Qt signals (queued across threads), and
`finished` is always the last one, exactly once.

How a stream ends that was not stopped is classified, so the controller can
decide without reading sentences: at most one of
    lost(str)    recoverable: the service or its worker went away for a while
                 (connection refused or lost, "service stopping", "worker
                 restarted", a close in RECOVERABLE_CLOSES). Opening the same
                 stream again once the service is back is the remedy; with
                 keep_source the audio source is left open for that next stream.
    error(str)   fatal: trying again as it is would fail the same way (a
                 request the service refused, the audio source failing, a bug);
                 the sentence says what to do.
`read_s` is how much audio (seconds) was taken from the source, so a next
stream on the same source can carry the timeline on from where this one ended.

StreamOptions is what the stream is opened with besides the audio: the
language and the two voice-activity settings, as WS /v1/stream's query
parameters (docs/streaming.md). A `notice` event (information, the stream
goes on: `not_english` today) is passed up as it came.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol
from urllib.parse import urlencode

from PySide6.QtCore import QObject, Signal

log = logging.getLogger("asr.stream_client")

SEND_EVERY_BYTES = 3200      # 100 ms at 16 kHz: small enough for timely partials
BYTES_PER_S = 32000          # 16 kHz mono s16le
RX_SETTLE_S = 2.0            # a failed send -> the receiver has seen the close by then
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


# Close codes after which the same stream can simply be opened again: the
# server going away or restarting (1001, 1012: what uvicorn sends when it shuts
# down before the stream could say why), the service's own trouble (1011:
# worker died or restarted, service stopping, 1014) or "try again later" (1013:
# worker not ready yet, too many streams, fell behind).
RECOVERABLE_CLOSES = (1001, 1011, 1012, 1013, 1014)


class StreamClient(QObject):
    opened = Signal(object)      # whatever open_source returned (the capture)
    connected = Signal()         # the service accepted the stream
    partial = Signal(dict)
    final = Signal(dict)
    notice = Signal(dict)        # {"type": "notice", "code": ..., "message": ...}
    error = Signal(str)          # fatal: a sentence for the person
    lost = Signal(str)           # recoverable: why, for the log (the controller words it)
    finished = Signal()

    def __init__(self, service_url: str, open_source: Callable[[], AudioSource],
                 options: StreamOptions | None = None, parent=None, keep_source: bool = False):
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
        self.keep_source = keep_source
        self.ended_by: str | None = None     # "lost" | "error" | None (stopped, or ended normally)
        self.source_kept = False             # lost with keep_source: the source is still open
        self.read_s = 0.0                    # audio taken from the source so far
        self.began: float | None = None      # monotonic time of the stream's audio 0 (see opened)
        self.connected_at: float | None = None
        self.heard = False                   # a partial or final came: the service took it
        self.catching_up = False             # the controller's: it sends a gap's audio at once
        self._service_said = ""              # the message of the service's last error event

    # ------------------------------------------------------------ UI thread
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="captions-stream", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Flush: what was said so far is transcribed, then the stream ends."""
        self._stop.set()

    # ------------------------------------------------------------ stream thread
    def _fail(self, message: str) -> None:
        """The stream cannot go on, and opening it again would not help."""
        if not self._failed:
            self._failed = True
            self.ended_by = "error"
            log.warning("captions stream: %s", message)
            self._emit(self.error, message)

    def _lose(self, why: str) -> None:
        """The service went away for a while: the stream may be opened again.
        After our own Stop nothing is reported: the flush just ends early."""
        if self._stop.is_set():
            log.info("captions stream lost while finishing: %s", why)
            return
        if not self._failed:
            self._failed = True
            self.ended_by = "lost"
            log.info("captions stream lost (recoverable): %s", why)
            self._emit(self.lost, why)

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
                if self.keep_source and self.ended_by == "lost" and not self._stop.is_set():
                    self.source_kept = True   # for the next stream (the controller's to stop)
                else:
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
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        try:
            self.source = self._open_source()
        except CaptureError as exc:
            self._fail(str(exc))
            return
        if self._stop.is_set():
            return
        if self.began is None:
            self.began = getattr(self.source, "started_at", None)
        self._emit(self.opened, self.source)
        try:
            # proxy=None: a desktop's HTTP proxy settings must not capture loopback traffic
            self._ws = connect(self.url, proxy=None, open_timeout=CONNECT_TIMEOUT_S,
                               max_size=2**20, legacy=True)
        except Exception as exc:
            why = f"{type(exc).__name__}: {exc}"
            if _service_away(exc):
                self._lose(f"cannot connect to {self.service_url} ({why})")
            else:
                self._fail(self.tr("Live captions could not connect to the ASR service at {url} "
                                   "({error}). Check that the service is running (tray menu, "
                                   "Status), then press Start again.").format(
                                       url=self.service_url, error=why))
            return
        self.connected_at = time.monotonic()
        self._emit(self.connected)
        rx = threading.Thread(target=self._receive, name="captions-rx", daemon=True)
        rx.start()
        pending = bytearray()
        capture_failure = None
        try:
            while not self._stop.is_set() and not self._closed.is_set():
                try:
                    chunk = self.source.read(0.1)
                except CaptureError as exc:
                    capture_failure = str(exc)
                    self._stop.set()      # keep what was heard (the flush), then say why
                    break
                self.read_s += len(chunk) / BYTES_PER_S
                pending += chunk
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
        except (ConnectionClosed, OSError) as exc:
            # A send fails when the connection went away; the receiver sees
            # how (the close code) and classifies it, so let it finish first.
            if not self._closed.wait(RX_SETTLE_S):
                log.info("the receiver did not see the close within %g s", RX_SETTLE_S)
            self._lose(f"the connection broke while sending ({type(exc).__name__}: {exc})")
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
                    # Either a frame it ignored (the stream goes on) or the
                    # reason of the close that follows: that close decides.
                    self._service_said = str(event.get("message") or "")
                    log.info("the service reported on the stream: %s", self._service_said)
                elif kind == "done":
                    pass  # the close that follows ends the loop
                if kind in ("partial", "final"):
                    self.heard = True
        except ConnectionClosed as exc:
            self._classify_close(exc.rcvd.code if exc.rcvd else None,
                                 exc.rcvd.reason if exc.rcvd else "")
        except Exception as exc:
            self._fail(self.tr("The ASR service sent something unreadable ({error}). Press Start "
                               "to begin again.").format(error=f"{type(exc).__name__}: {exc}"))
        finally:
            self._closed.set()

    def _classify_close(self, code: int | None, reason: str) -> None:
        said = self._service_said
        if code == 1000 and self._stop.is_set():
            return                                       # the end of our own Stop
        if code is None or code == 1000 or code in RECOVERABLE_CLOSES:
            # No close frame (the service vanished), a close we did not ask
            # for, or the service's own trouble: open it again when it is back.
            self._lose(said or reason or f"connection closed (code {code})")
            return
        # The service refused something this stream asked for (1008, ...): its
        # sentence speaks to developers ("start a new stream"); the person needs the button.
        if said:
            self._fail(self.tr("{message} Press Start to caption again.").format(message=said))
        else:
            why = reason or self.tr("code {code}").format(code=code)
            self._fail(self.tr("The ASR service ended the stream ({why}). Press Start to "
                               "begin again.").format(why=why))

    @staticmethod
    def _close_quietly(ws) -> None:
        if ws is None:
            return
        try:
            ws.close()
        except Exception:
            pass



def _service_away(exc: BaseException) -> bool:
    """A failed connect that means "not there right now" (refused, reset,
    timed out, a 5xx while it starts or stops), not "it will never work"."""
    from websockets.exceptions import InvalidMessage, InvalidStatus

    if isinstance(exc, InvalidStatus):
        return exc.response.status_code >= 500
    return isinstance(exc, (OSError, TimeoutError, InvalidMessage, EOFError))
