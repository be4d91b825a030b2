"""WS /v1/stream: live captions over a WebSocket (protocol in DESIGN.md).

One WebSocket becomes a series of short worker requests (service/worker/streaming.py
holds the per-stream state in the worker). Four tasks per connection:

  receiver  reads frames, checks them, appends audio to a buffer
  pump      keeps at most ONE feed request of this stream in the supervisor's
            queue, in its STREAM class, which the worker serves before queued
            file work (service/supervision/request_queue.py); audio that
            arrives meanwhile is sent with the next one, up to FEED_MAX_S in
            one request, so a stream that fell behind (a long file request
            was running) catches up in one or two turns, not one per second.
  watcher   wakes on every supervisor change: a new worker generation means
            this stream's state is gone, and the client hears so at once,
            even when no request of its own was in flight.
  idle      ends a stream that sent no audio for --stream-idle-timeout (with
            nothing of it left to transcribe): a client that connects and
            then sends nothing must not hold one of the --max-streams slots.

Decisions (docs/streaming.md): `stop` flushes, sends `done`, and closes the
socket normally; a frame that is wrong (odd length, bad JSON, unknown type)
gets an `error` event and is ignored, the stream goes on; what makes the
stream unusable (bad query, too many streams, worker gone, idle too long)
gets an `error` event and a close with a reason.
"""
from __future__ import annotations

import asyncio
import json
import logging
import uuid

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect

from service import languages, protocol
from service.config import ServiceConfig
from service.fronts.auth import token_ok
from service.fronts.deps import get_config, get_live_streams, get_supervisor
from service.errors import Busy, ServiceError
from service.pcm import check_rate
from service.supervision.request_queue import STREAM
from service.supervision.supervisor import State

log = logging.getLogger("asr.stream")

# Audio per worker request, at most. In real time a feed holds what came
# while the previous one ran (a fraction of a second); after a long file
# request it holds the whole backlog, so the stream is back in real time
# after one turn. Bounded so one feed stays a short request.
FEED_MAX_S = 8.0
MAX_BACKLOG_S = 20.0      # audio waiting for the worker before the stream gives up
READY_WAIT_S = 60.0       # a stream opened during a worker restart waits this long
REQUEST_TIMEOUT_S = 60.0
BUSY_RETRY_S = 0.2

# Close codes (RFC 6455): 1000 normal, 1008 policy (bad request), 1011 server
# error, 1013 try again later.
NORMAL, BAD_REQUEST, SERVER_ERROR, TRY_LATER = 1000, 1008, 1011, 1013


_background: set = set()  # fire-and-forget tasks, referenced so they are not collected


class StreamEnded(Exception):
    """The stream cannot go on; carries the sentence for the client."""

    def __init__(self, message: str, code: int, reason: str):
        super().__init__(message)
        self.message, self.code, self.reason = message, code, reason


router = APIRouter()


@router.websocket("/v1/stream")
async def stream(ws: WebSocket, supervisor=Depends(get_supervisor),
                 cfg: ServiceConfig = Depends(get_config),
                 active: set = Depends(get_live_streams)):
    # Accepted first, so that a refusal reaches the client as an error event
    # and a close reason, not as a bare failed handshake.
    await ws.accept()
    session = StreamSession(ws, supervisor, active, cfg.max_streams, cfg.stream_idle_timeout)
    # Browsers cannot set headers on a WebSocket: ?token= stands in for one.
    if not cfg.loopback and not token_ok(cfg, ws.headers.get("authorization"),
                                         ws.query_params.get("token", "")):
        await session.end(StreamEnded(
            "This service is reachable beyond this computer, so a stream needs "
            "'Authorization: Bearer <token>' (or ?token=...).", BAD_REQUEST, "token required"))
        return
    await session.run()


class StreamSession:
    def __init__(self, ws: WebSocket, supervisor, active: set, max_streams: int,
                 idle_timeout: float = 0.0):
        self.ws = ws
        self.max_streams = max_streams
        self.idle_timeout = idle_timeout      # 0: a stream may stay silent for ever
        self.last_activity = 0.0              # loop time of the last audio or worker answer
        self.pumping = False                  # a request of this stream is with the worker
        self.sup = supervisor
        self.active = active
        self.sid = uuid.uuid4().hex
        self.rate = 16000
        self.buf = bytearray()
        self.wake = asyncio.Event()
        self.stopping = False
        self.opened = False
        self.gen = None
        self._send_lock = asyncio.Lock()
        self._closed = False
        self.language: str | None = None
        self.tuning: dict | None = None       # the stream's VAD options (protocol.stream_tuning)

    # ------------------------------------------------------------ sending
    async def send(self, event: dict) -> None:
        async with self._send_lock:
            if not self._closed:
                await self.ws.send_text(json.dumps(event))

    async def end(self, why: StreamEnded | None) -> None:
        """Error event (when there is one), then close with a reason."""
        async with self._send_lock:
            if self._closed:
                return
            self._closed = True
            try:
                if why is not None:
                    await self.ws.send_text(json.dumps({"type": "error", "message": why.message}))
                    await self.ws.close(code=why.code, reason=why.reason[:120])
                else:
                    await self.ws.close(code=NORMAL, reason="stream finished")
            except (RuntimeError, WebSocketDisconnect, OSError):
                pass  # the client is already gone

    # ------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        try:
            self._parse_query()
            if len(self.active) >= self.max_streams:
                raise StreamEnded(
                    f"The service already serves {len(self.active)} live streams, its limit, so "
                    "this one was refused to keep the others in real time. Stop another stream "
                    "and try again (the limit is set by --max-streams).",
                    TRY_LATER, "too many live streams")
            self.active.add(self.sid)
            await self._open()
        except StreamEnded as why:
            self.active.discard(self.sid)
            await self.end(why)
            return
        self.last_activity = asyncio.get_running_loop().time()
        tasks = [asyncio.create_task(self._receiver(), name=f"stream-rx-{self.sid[:6]}"),
                 asyncio.create_task(self._pump(), name=f"stream-pump-{self.sid[:6]}"),
                 asyncio.create_task(self._watcher(), name=f"stream-watch-{self.sid[:6]}")]
        if self.idle_timeout > 0:
            tasks.append(asyncio.create_task(self._idle(), name=f"stream-idle-{self.sid[:6]}"))
        why: StreamEnded | None = None
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                exc = t.exception()
                if isinstance(exc, StreamEnded):
                    why = exc
                elif exc is not None and not isinstance(exc, WebSocketDisconnect):
                    log.error("stream %s failed: %r", self.sid[:6], exc)
                    why = StreamEnded(f"The stream failed inside the service ({type(exc).__name__}: "
                                      f"{exc}). Start a new stream; if it happens again, see the "
                                      "service log.", SERVER_ERROR, "internal error")
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.active.discard(self.sid)
            if self.opened:
                task = asyncio.ensure_future(self._forget())
                _background.add(task)
                task.add_done_callback(_background.discard)
        await self.end(why)

    def _parse_query(self) -> None:
        q = self.ws.query_params
        raw = q.get("sample_rate", "16000")
        try:
            rate = int(raw)
            check_rate(rate)
        except (ValueError, ServiceError):
            raise StreamEnded(f"The sample rate {raw!r} is not usable: send 16-bit mono PCM at a "
                              "whole number of Hz between 4000 and 192000 (16000 is best), e.g. "
                              "/v1/stream?sample_rate=16000.", BAD_REQUEST, "bad sample_rate") from None
        self.rate = rate
        try:
            self.language = languages.normalize(q.get("language"))
        except ValueError as exc:
            raise StreamEnded(str(exc), BAD_REQUEST, "bad language") from None
        options = {name: q.get(name) for name in ("vad_threshold", "end_silence_ms")}
        for name, value in options.items():
            try:
                protocol.stream_tuning(**{name: value})
            except ServiceError as exc:
                raise StreamEnded(exc.message, BAD_REQUEST, f"bad {name}") from None
        self.tuning = protocol.stream_tuning(**options)

    async def _open(self) -> None:
        if self.sup.state != State.READY:
            ready = await self.sup.wait_ready(timeout=READY_WAIT_S)
            if not ready:
                raise StreamEnded(
                    "The ASR worker is not ready (" + (self.sup.error or f"state: {self.sup.state}")
                    + "). Try again in a moment.", TRY_LATER, "worker not ready")
        self.gen = self.sup.gen
        await self._call(protocol.stream_open(self.sid, self.rate, self.language, self.tuning))
        self.opened = True

    async def _forget(self) -> None:
        """Free the worker's state of a stream that ended without a flush."""
        if self.sup.gen is not self.gen:
            return
        try:
            await self.sup.call(protocol.stream_close(self.sid), timeout=10, priority=STREAM)
        except ServiceError:
            pass

    # ------------------------------------------------------------ tasks
    async def _receiver(self) -> None:
        while True:
            msg = await self.ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            data, text = msg.get("bytes"), msg.get("text")
            if data is not None:
                await self._audio(data)
            elif text is not None:
                await self._control(text)

    async def _audio(self, data: bytes) -> None:
        if self.stopping:
            await self.send({"type": "error", "message": "Audio sent after 'stop' was ignored: "
                             "the stream is being flushed. Start a new stream to go on."})
            return
        if len(data) % 2:
            await self.send({"type": "error", "message":
                             f"An audio frame of {len(data)} bytes was ignored: 16-bit PCM needs "
                             "two bytes per sample, so every binary frame must have an even "
                             "length."})
            return
        max_backlog = MAX_BACKLOG_S * self.rate * 2
        if len(data) > max_backlog:
            # One frame, not the worker, is too much: say so, and go on without it.
            await self.send({"type": "error", "message":
                             f"An audio frame of {len(data) / 2 / self.rate:.1f} s was ignored: "
                             f"a stream holds at most {MAX_BACKLOG_S:g} s of audio waiting for "
                             "the worker. Send audio as it is captured, in frames of a fraction "
                             "of a second."})
            return
        if data:
            self.last_activity = asyncio.get_running_loop().time()
        self.buf += data
        if len(self.buf) > max_backlog:
            raise StreamEnded(
                f"The service fell more than {MAX_BACKLOG_S:g} s behind this stream: audio "
                "arrived faster than the worker transcribed it (it had other work, or the "
                "audio came faster than real time), so the stream was ended. Start it again, "
                "sending audio in real time.", TRY_LATER, "fell behind")
        self.wake.set()

    async def _control(self, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            await self.send({"type": "error", "message": "A text frame that is not JSON was "
                             "ignored. Send audio as binary frames and {\"type\": \"stop\"} "
                             "to finish."})
            return
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "stop":
            self.stopping = True
            self.wake.set()
            return
        await self.send({"type": "error", "message": f"A message of type {kind!r} was ignored: "
                         "the only message a client sends is {\"type\": \"stop\"}."})

    async def _pump(self) -> None:
        max_bytes = int(FEED_MAX_S * self.rate) * 2
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.buf:
                chunk = bytes(self.buf[:max_bytes])
                del self.buf[:len(chunk)]
                self.pumping = True
                try:
                    res = await self._call(protocol.stream_feed(self.sid, chunk))
                finally:
                    self.pumping = False
                    self.last_activity = asyncio.get_running_loop().time()
                for event in res["events"]:
                    await self.send(event)
            if self.stopping and not self.buf:
                res = await self._call(protocol.stream_flush(self.sid))
                self.opened = False
                for event in res["events"]:
                    await self.send(event)
                await self.send({"type": "done"})
                return  # run() closes the socket normally

    async def _watcher(self) -> None:
        while True:
            self._check_generation()
            if self.sup.state in (State.STOPPING, State.STOPPED):
                raise StreamEnded("The service is shutting down, so the stream ended.",
                                  SERVER_ERROR, "service stopping")
            await self.sup.wait_changed()

    async def _idle(self) -> None:
        """Ends the stream once no audio came for idle_timeout seconds and none
        of its audio is left for the worker (a slow worker is not the client's
        silence). Silence sent as audio counts as audio."""
        loop = asyncio.get_running_loop()
        while True:
            left = self.last_activity + self.idle_timeout - loop.time()
            if left <= 0 and not (self.pumping or self.buf or self.stopping):
                raise StreamEnded(
                    f"No audio arrived on this stream for {self.idle_timeout:g} s, so it was "
                    "closed to free its place for other streams. Keep sending audio (silence "
                    "counts) while the stream is open, or open a new stream when there is "
                    "audio again.", BAD_REQUEST, f"no audio for {self.idle_timeout:g} s")
            await asyncio.sleep(left if left > 0 else self.idle_timeout)

    # ------------------------------------------------------------ worker calls
    def _check_generation(self) -> None:
        gen = self.gen
        if gen is not None and (self.sup.gen is not gen or gen.gone):
            self.opened = False
            raise StreamEnded(
                "The ASR worker stopped while this stream was live, and the stream's state went "
                "with it; the service is restarting the worker. Start a new stream in a moment.",
                SERVER_ERROR, "worker restarted")

    async def _call(self, msg: dict) -> dict:
        while True:
            self._check_generation()
            try:
                # A client that vanishes cancels this task; Supervisor.call
                # shields its own job, so the worker finishes it and the answer
                # is dropped (or it is skipped if it had not started).
                return await self.sup.call(msg, timeout=REQUEST_TIMEOUT_S, priority=STREAM)
            except Busy:
                await asyncio.sleep(BUSY_RETRY_S)  # --max-queue stream requests wait already
            except ServiceError as exc:
                self._check_generation()  # a dead worker: say that, not the request's error
                code = BAD_REQUEST if exc.status < 500 else SERVER_ERROR
                raise StreamEnded(exc.message, code, "stream ended by the worker") from None
