"""`asr-service serve`: bind, start the worker, serve HTTP, print the ready
line, and make sure every way out stops the worker (DESIGN.md layers L0-L2).

Ways out, and what handles each:
  SIGTERM / SIGINT / SIGBREAK -> uvicorn's handler, extended below to request a
                                 stop, so the worker stops at once (uvicorn
                                 alone would first wait for open requests,
                                 then run the lifespan)
  parent dies                 -> L0 PDEATHSIG (Linux) / job object (Windows);
                                 L1 lifeline threads (parent pid, stdin EOF)
  POST /v1/shutdown           -> the same stop request as a signal
  anything hangs              -> the stop thread ends the worker and the
                                 process EXIT_DEADLINE seconds after a request

Every way out goes through one `StopRequest`: whoever asks (a signal handler,
a lifeline thread, the HTTP front) only records why and wakes the stop thread;
the stop thread wakes the event loop, where the log line and
`supervisor.stop()` run, and then keeps the exit deadline.
"""
from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import signal
import socket
import sys
import threading
import time

import uvicorn

from service import logs

from service.safety import lifeline, markers, registry
from service.fronts.app import build_app
from service.config import ServiceConfig
from service.supervision.supervisor import State, Supervisor

log = logging.getLogger("asr.service")

EXIT_DEADLINE = 1.8   # seconds from a stop request to this process being gone
WSAEACCES = 10013     # Windows: a port another socket holds exclusively, or a reserved one
# What a port another program holds (or one we may not use) fails with: the
# search goes on to the next port only on these.
PORT_TAKEN = (errno.EADDRINUSE, errno.EACCES, WSAEACCES)


class StopRequest:
    """A request to stop: made from anywhere, acted on by one thread.

    A Python signal handler runs in the main thread between two bytecodes,
    wherever that thread is: maybe inside `logging` holding its lock, or in
    the middle of starting a thread. So, gunicorn's rule, a handler does no
    work: `request()` is an assignment and one byte written to a self-pipe.
    The pipe is a socketpair whose writing end does not block (a full buffer
    means a wake-up is already pending), and socketpairs exist on Windows too.
    The stop thread, started once at startup, blocks on the reading end.
    """

    def __init__(self) -> None:
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        self.why: str | None = None

    def request(self, why: str) -> None:
        """Any thread or signal handler, any time, idempotent (the first reason stays)."""
        if self.why is None:
            self.why = why
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass  # buffer full: the stop thread has a wake-up waiting already

    @property
    def requested(self) -> bool:
        return self.why is not None

    def wait(self) -> str:
        """Block until the first request; return its reason (set before the byte is sent)."""
        self._wake_r.recv(1)
        return self.why or "stop requested"


class _Server(uvicorn.Server):
    """uvicorn's server, whose exit handler also requests our stop, so the
    worker stops at once instead of after uvicorn's graceful wait."""

    stop_request: StopRequest | None = None

    def handle_exit(self, sig, frame) -> None:
        super().handle_exit(sig, frame)  # records the signal and sets should_exit
        if self.stop_request is not None:
            self.stop_request.request(_signal_reason(sig))


def _signal_reason(sig) -> str:
    return f"signal {signal.Signals(sig).name}" if sig else "exit"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if os.name == "nt":
            sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_EXCLUSIVEADDRUSE", 0), 1)
        else:
            # A port freed by a killed service is reusable at once (TIME_WAIT).
            # A port another socket listens on stays refused (no SO_REUSEPORT).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


def bind_first_free(host: str, port: int, search: int) -> socket.socket:
    """The listening socket on `port`, or, when that port is taken, on the
    first free one of the `search` ports after it. Each port is tried by
    binding it, so no other program can take it between a check and the
    bind: the socket that bound is the one uvicorn serves on. OSError of
    the requested port when none is free."""
    first_error: OSError | None = None
    last = port if port == 0 else min(65535, port + max(0, search))
    for candidate in range(port, last + 1):
        try:
            sock = _bind(host, candidate)
        except OSError as exc:
            if first_error is None:
                first_error = exc
            if exc.errno not in PORT_TAKEN:
                raise  # not a taken port (no such address, ...): the next one fails alike
            continue
        if candidate != port:
            log.warning("Port %d on %s is taken by another program (%s), so the service "
                        "listens on port %d instead.", port, host,
                        first_error.strerror if first_error else "in use", candidate)
        return sock
    assert first_error is not None
    raise first_error


def _bind_refusal(cfg: ServiceConfig, exc: OSError) -> str:
    where = f"{cfg.host}:{cfg.port}"
    if cfg.port and cfg.port_search and exc.errno in PORT_TAKEN:
        where = f"{cfg.host} on ports {cfg.port}-{min(65535, cfg.port + cfg.port_search)}"
        return (f"Cannot listen on {where}: every one of them is taken ({exc.strerror or exc}). "
                "Stop the programs using them (maybe other ASR services: asr-service status), "
                "or choose another --port (0 picks a free one).")
    return (f"Cannot listen on {where}: {exc.strerror or exc}. Another program "
            "(maybe another ASR service) uses that port: stop it, or choose another with "
            "--port (0 picks a free one, --port-search N tries the next N ports).")


def emit(event: dict) -> None:
    """One JSON line on stdout: the only thing this program ever prints there."""
    sys.__stdout__.write(json.dumps(event) + "\n")
    sys.__stdout__.flush()


def serve(cfg: ServiceConfig, log_level: str = "INFO") -> int:
    logs.setup("service", log_level)
    logs.add_secret(cfg.token)  # written as *** wherever a log line would show it
    expected_parent = int(os.environ.get(markers.PARENT_PID) or os.getppid())
    lifeline.arm_parent_death_signal(expected_parent)                          # L0

    if not cfg.loopback and not cfg.token_given:
        msg = (f"Refusing to listen on {cfg.host}: this service has no authentication unless "
               "you give it a token. Use --host 127.0.0.1, or pass --token to expose it.")
        log.error(msg)
        emit({"event": "error", "message": msg})
        return 2
    try:
        sock = bind_first_free(cfg.host, cfg.port, cfg.port_search)
    except OSError as exc:
        msg = _bind_refusal(cfg, exc)
        log.error(msg)
        emit({"event": "error", "message": msg})
        return 2
    port = sock.getsockname()[1]
    host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
    url = f"http://{host}:{port}"

    # The record is for finding this process later: it never holds the token.
    reg = registry.Registration("service", url=url, port=port,
                                argv=logs.redact_argv(sys.argv[1:]),
                                parent_started_us=expected_parent)  # L3
    supervisor = Supervisor(cfg.model, max_queue=cfg.max_queue,
                            request_timeout=cfg.request_timeout, log_level=log_level)
    stop = StopRequest()
    loop_holder: dict = {}

    def _begin_shutdown() -> None:
        """On the loop, once, as soon as a stop was requested."""
        if "stopping" in loop_holder:
            return
        log.info("stopping: %s", stop.why)
        server.should_exit = True
        loop_holder["stopping"] = asyncio.ensure_future(supervisor.stop(grace=0.8))

    def _stop_thread() -> None:
        """Started once, before anything can request a stop; a handler never
        starts a thread. Wakes the loop, then keeps the exit deadline."""
        why = stop.wait()
        loop = loop_holder.get("loop")
        try:
            if loop is not None:
                loop.call_soon_threadsafe(_begin_shutdown)
        except RuntimeError:
            pass  # the loop has closed: the exit path below it is under way
        # (A stop requested before the loop runs is picked up by main().)
        time.sleep(EXIT_DEADLINE)
        log.error("shutdown (%s) took longer than %.1fs: ending the worker and exiting now",
                  why, EXIT_DEADLINE)
        supervisor.stop_now()
        reg.close()
        os._exit(1)

    threading.Thread(target=_stop_thread, name="exit-watchdog", daemon=True).start()

    lifeline.watch_parent_pid(expected_parent, stop.request)                   # L1
    if cfg.lifeline_stdin:
        lifeline.watch_stdin_eof(stop.request)

    app = build_app(cfg, supervisor, stop.request, url=url)
    # log_config=None: uvicorn's loggers go through ours to stderr; its default
    # config would print the access log on stdout, which carries only the ready line.
    uconfig = uvicorn.Config(app, log_level=log_level.lower(), lifespan="off", log_config=None,
                             timeout_graceful_shutdown=1, ws="websockets-sansio",
                             access_log=log_level == "DEBUG")
    server = _Server(uconfig)
    server.stop_request = stop

    async def main() -> None:
        loop_holder["loop"] = asyncio.get_running_loop()
        if stop.requested:  # asked before there was a loop to wake
            _begin_shutdown()
        await supervisor.start()
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.005)
        if not serving.done():
            ok = await supervisor.wait_ready()
            if stop.requested:
                pass  # stopping before the model was ready: no ready line, no error line
            elif ok:
                reg.update(ready=True, worker_pid=supervisor.worker_pid)
                emit({"event": "ready", "url": url, "pid": os.getpid(),
                      "worker_pid": supervisor.worker_pid})
                log.info("ready on %s (worker pid %s)", url, supervisor.worker_pid)
            else:
                # "load_failed": the model itself (a caller can offer another one)
                emit({"event": "error", "url": url, "pid": os.getpid(),
                      "code": supervisor.state,
                      "message": supervisor.error or "The worker did not start."})
        await serving
        if "stopping" in loop_holder:
            await loop_holder["stopping"]
        elif supervisor.state != State.STOPPED:
            await supervisor.stop(grace=0.8)

    # uvicorn re-raises a captured signal after its shutdown, under the handler
    # that was in place before it: make that ours (it only requests the stop,
    # like uvicorn's), so the cleanup below runs. It also covers a signal that
    # comes before uvicorn installed its own.
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGBREAK", None)):
        if sig is not None:
            signal.signal(sig, lambda s, f: stop.request(_signal_reason(s)))
    try:
        asyncio.run(main())
    finally:
        supervisor.stop_now()
        reg.close()
        log.info("stopped")
    return 0
