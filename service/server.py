"""`asr-service serve`: bind, start the worker, serve HTTP, print the ready
line, and make sure every way out stops the worker (DESIGN.md layers L0-L2).

Ways out, and what handles each:
  SIGTERM / SIGINT / SIGBREAK -> uvicorn's handler, extended below to stop the
                                 worker at once (uvicorn alone would first wait
                                 for open requests, then run the lifespan)
  parent dies                 -> L0 PDEATHSIG (Linux) / job object (Windows);
                                 L1 lifeline threads (parent pid, stdin EOF)
  POST /v1/shutdown           -> same path as a signal
  anything hangs              -> a watchdog thread ends the worker and the
                                 process after EXIT_DEADLINE seconds
"""
from __future__ import annotations

import asyncio
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


class _Server(uvicorn.Server):
    """uvicorn's server, whose exit handler also stops our worker."""

    on_exit_requested = None

    def handle_exit(self, sig, frame) -> None:
        super().handle_exit(sig, frame)
        if self.on_exit_requested is not None:
            self.on_exit_requested(f"signal {signal.Signals(sig).name}" if sig else "exit")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if os.name == "nt":
        sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_EXCLUSIVEADDRUSE", 0), 1)
    else:
        # A port freed by a killed service is reusable at once (TIME_WAIT).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


def emit(event: dict) -> None:
    """One JSON line on stdout: the only thing this program ever prints there."""
    sys.__stdout__.write(json.dumps(event) + "\n")
    sys.__stdout__.flush()


def serve(cfg: ServiceConfig, log_level: str = "INFO") -> int:
    logs.setup("service", log_level)
    expected_parent = int(os.environ.get(markers.PARENT_PID) or os.getppid())
    lifeline.arm_parent_death_signal(expected_parent)                          # L0

    if cfg.host not in ("127.0.0.1", "localhost", "::1") and not cfg.token_given:
        msg = (f"Refusing to listen on {cfg.host}: this service has no authentication unless "
               "you give it a token. Use --host 127.0.0.1, or pass --token to expose it.")
        log.error(msg)
        emit({"event": "error", "message": msg})
        return 2
    try:
        sock = _bind(cfg.host, cfg.port)
    except OSError as exc:
        msg = (f"Cannot listen on {cfg.host}:{cfg.port}: {exc.strerror or exc}. Another program "
               "(maybe another ASR service) uses that port: stop it, or choose another with "
               "--port (0 picks a free one).")
        log.error(msg)
        emit({"event": "error", "message": msg})
        return 2
    port = sock.getsockname()[1]
    host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
    url = f"http://{host}:{port}"

    reg = registry.Registration("service", url=url, port=port,
                                argv=sys.argv[1:], parent_started_us=expected_parent)  # L3
    supervisor = Supervisor(cfg.model, max_queue=cfg.max_queue,
                            request_timeout=cfg.request_timeout, log_level=log_level)
    stop_requested = threading.Event()
    loop_holder: dict = {}

    def request_stop(why: str) -> None:
        """Any thread, any time, idempotent."""
        if stop_requested.is_set():
            return
        stop_requested.set()
        log.info("stopping: %s", why)
        loop = loop_holder.get("loop")
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(_begin_shutdown)
        threading.Thread(target=_watchdog, name="exit-watchdog", daemon=True).start()

    def _begin_shutdown() -> None:
        server.should_exit = True
        loop_holder["stopping"] = asyncio.ensure_future(supervisor.stop(grace=0.8))

    def _watchdog() -> None:
        time.sleep(EXIT_DEADLINE)
        log.error("shutdown took longer than %.1fs: ending the worker and exiting now", EXIT_DEADLINE)
        supervisor.stop_now()
        reg.close()
        os._exit(1)

    lifeline.watch_parent_pid(expected_parent, request_stop)                    # L1
    if cfg.lifeline_stdin:
        lifeline.watch_stdin_eof(request_stop)

    app = build_app(cfg, supervisor, request_stop)
    # log_config=None: uvicorn's loggers go through ours to stderr; its default
    # config would print the access log on stdout, which carries only the ready line.
    uconfig = uvicorn.Config(app, log_level=log_level.lower(), lifespan="off", log_config=None,
                             timeout_graceful_shutdown=1, ws="websockets-sansio",
                             access_log=log_level == "DEBUG")
    server = _Server(uconfig)
    server.on_exit_requested = request_stop

    async def main() -> None:
        loop_holder["loop"] = asyncio.get_running_loop()
        await supervisor.start()
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.005)
        if not serving.done():
            ok = await supervisor.wait_ready()
            if stop_requested.is_set():
                pass  # stopping before the model was ready: no ready line, no error line
            elif ok:
                reg.update(ready=True, worker_pid=supervisor.worker_pid)
                emit({"event": "ready", "url": url, "pid": os.getpid(),
                      "worker_pid": supervisor.worker_pid})
                log.info("ready on %s (worker pid %s)", url, supervisor.worker_pid)
            else:
                emit({"event": "error", "url": url, "pid": os.getpid(),
                      "message": supervisor.error or "The worker did not start."})
        await serving
        if "stopping" in loop_holder:
            await loop_holder["stopping"]
        elif supervisor.state != State.STOPPED:
            await supervisor.stop(grace=0.8)

    # uvicorn re-raises a captured signal after its shutdown, under the handler
    # that was in place before it: make that ours, so the cleanup below runs.
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGBREAK", None)):
        if sig is not None:
            signal.signal(sig, lambda s, f: request_stop(f"signal {s}"))
    try:
        asyncio.run(main())
    finally:
        supervisor.stop_now()
        reg.close()
        log.info("stopped")
    return 0
