"""The worker process: holds the model, serves requests over one pipe.

Started by the supervisor with multiprocessing's "spawn" context, so it gets
a fresh interpreter: none of the service's signal handlers (uvicorn's among
them), threads, locks or event loop come along. Each worker generation gets
its own fresh Pipe; nothing is shared with a dead predecessor.

The messages on that pipe are service/protocol.py's, built and read only
through it: `handle` serves every op in protocol.REQUESTS, protocol.STOP ends
the loop.
"""
from __future__ import annotations

import logging
import os
import signal
import sys

from service import protocol

log = logging.getLogger("asr.worker")

EXIT_LOAD_FAILED = 2
EXIT_PARENT_GONE = 3
# Requests that can hold tens of MB for a moment (a file, an utterance); after
# them the freed memory goes back to the system (service/worker/memory.py).
GIVES_BACK_MEMORY = (protocol.TRANSCRIBE_FILE, protocol.UTTERANCE)


def run(conn, model_cfg, expected_parent: int, log_level: str = "INFO") -> None:
    """Entry point in the spawned process."""
    # Logs and stray prints go to stderr: stdout carries the service's ready line.
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # Ctrl+C in a terminal hits the whole process group; the service decides
    # when we stop, and a KeyboardInterrupt inside native code helps nobody.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from service import logs
    from service.safety import lifeline, registry

    # stderr (the service's log stream) and worker.log in the log folder, so
    # a worker's last words survive the terminal the service ran in.
    logs.setup("worker", log_level)
    lifeline.arm_parent_death_signal(expected_parent)                      # L0
    lifeline.watch_mp_parent(lambda why: _die(why, EXIT_PARENT_GONE))     # L1
    reg = registry.Registration("worker", service_pid=expected_parent)   # L3
    try:
        _serve(conn, model_cfg)
    finally:
        reg.close()


def _die(why: str, code: int) -> None:
    log.warning("exiting at once: %s", why)
    # No cleanup that could hang: the registry record is left for leftovers
    # to find, and the kernel frees memory and GPU contexts.
    os._exit(code)


def _serve(conn, model_cfg) -> None:
    from service.errors import LoadFailed, ServiceError
    from service.worker import memory

    try:
        if os.environ.get("ASR_TRAY_ENGINE") == "standin":  # a test aid, never a default
            from service.worker.standin_engine import StandinEngine as Engine

            log.warning("ASR_TRAY_ENGINE=standin: running the stand-in engine, not the model")
        else:
            from service.worker.engine import Engine
        engine = Engine(model_cfg)
    except LoadFailed as exc:
        conn.send(protocol.load_failed(exc.message))
        sys.exit(EXIT_LOAD_FAILED)
    except Exception as exc:  # anything unforeseen during load is still a load failure
        conn.send(protocol.load_failed(f"The worker could not start: {type(exc).__name__}: {exc}"))
        sys.exit(EXIT_LOAD_FAILED)
    conn.send(protocol.ready(vars(engine.info)))
    log.info("model %s loaded on %s in %.2fs", engine.info.model, engine.info.device,
             engine.info.load_seconds)

    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return  # the service closed its end: nothing more will come
        except Exception as exc:  # a garbled message: the channel can no longer be trusted
            log.error("unreadable message from the service (%s); exiting", exc)
            return
        if msg.get("op") == protocol.STOP:
            return
        rid = msg.get("id")
        try:
            reply = protocol.reply(rid, handle(engine, msg))
        except ServiceError as exc:
            reply = protocol.failure(rid, exc.status, exc.message)
        except Exception as exc:  # a bug must fail one request, not the worker
            log.exception("request %s failed", rid)
            reply = protocol.failure(rid, 500, f"Transcription failed: {type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (EOFError, OSError, BrokenPipeError):
            return
        if msg.get("op") in GIVES_BACK_MEMORY:
            reply = msg = None   # the upload and its result, before the trim
            memory.give_back()


def handle(engine, msg: dict):
    """One request (an op of protocol.REQUESTS) -> its result. What the
    client must fix raises a ServiceError with a sentence (400 for an op this
    worker does not know)."""
    from service.errors import BadInput

    op = msg.get("op")
    if hasattr(engine, "refuse"):   # the stand-in engine serves a subset
        engine.refuse(op)
    if op == protocol.TRANSCRIBE_FILE:
        audio = engine.decode_file(msg["data"])
        return engine.transcribe(audio, msg.get("options") or {})
    if op in protocol.STREAM_OPS:
        from service.worker import streaming

        return streaming.handle(engine, msg)
    if op == protocol.UTTERANCE:
        from service.worker import utterance

        return utterance.handle(engine, msg)
    raise BadInput(f"The ASR worker does not know the operation {op!r}; it serves "
                   f"{', '.join(protocol.REQUESTS)}. The service and its worker are from "
                   "different versions: reinstall, then start again.")
