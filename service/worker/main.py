"""The worker process: holds the model, serves requests over one pipe.

Started by the supervisor with multiprocessing's "spawn" context, so it gets
a fresh interpreter: none of the service's signal handlers (uvicorn's among
them), threads, locks or event loop come along. Each worker generation gets
its own fresh Pipe; nothing is shared with a dead predecessor.

Protocol (pickled dicts over the pipe):
  worker -> service  {"event": "ready", "info": {...}}            once, after loading
                     {"event": "load_failed", "message": str}      then exit(2)
                     {"id": n, "ok": True, "result": ...}          one per request
                     {"id": n, "ok": False, "status": int, "message": str}
  service -> worker  {"id": n, "op": "transcribe_file", "data": bytes, "options": {...}}
                     {"id": n, "op": "transcribe_pcm", "pcm": bytes, "sample_rate": int, "options": {...}}
                     {"op": "stop"}                                 cooperative stop (L2)
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import time

log = logging.getLogger("asr.worker")

EXIT_LOAD_FAILED = 2
EXIT_PARENT_GONE = 3


def run(conn, model_cfg, expected_parent: int, log_level: str = "INFO") -> None:
    """Entry point in the spawned process."""
    # Logs and stray prints go to stderr: stdout carries the service's ready line.
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # Ctrl+C in a terminal hits the whole process group; the service decides
    # when we stop, and a KeyboardInterrupt inside native code helps nobody.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=log_level, stream=sys.stderr,
                        format="%(asctime)s worker[%(process)d] %(levelname)s %(message)s")

    from service.safety import lifeline, registry

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

    try:
        from service.worker.engine import Engine

        engine = Engine(model_cfg)
    except LoadFailed as exc:
        conn.send({"event": "load_failed", "message": exc.message})
        sys.exit(EXIT_LOAD_FAILED)
    except Exception as exc:  # anything unforeseen during load is still a load failure
        conn.send({"event": "load_failed",
                   "message": f"The worker could not start: {type(exc).__name__}: {exc}"})
        sys.exit(EXIT_LOAD_FAILED)
    conn.send({"event": "ready", "info": vars(engine.info)})
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
        op = msg.get("op")
        if op == "stop":
            return
        rid = msg.get("id")
        try:
            result = _handle(engine, msg)
            reply = {"id": rid, "ok": True, "result": result}
        except ServiceError as exc:
            reply = {"id": rid, "ok": False, "status": exc.status, "message": exc.message}
        except Exception as exc:  # a bug must fail one request, not the worker
            log.exception("request %s failed", rid)
            reply = {"id": rid, "ok": False, "status": 500,
                     "message": f"Transcription failed: {type(exc).__name__}: {exc}"}
        try:
            conn.send(reply)
        except (EOFError, OSError, BrokenPipeError):
            return


def _handle(engine, msg: dict):
    from service.errors import BadInput

    op = msg.get("op")
    if op == "transcribe_file":
        audio = engine.decode_file(msg["data"])
        return engine.transcribe(audio, msg.get("options") or {})
    if op == "transcribe_pcm":
        from service.pcm import pcm16_to_float

        audio = pcm16_to_float(msg["pcm"], msg.get("sample_rate", 16000))
        return engine.transcribe(audio, msg.get("options") or {})
    if op.startswith("stream_"):
        from service.worker import streaming

        return streaming.handle(engine, msg)
    if op == "utterance":
        from service.worker import utterance

        return utterance.handle(engine, msg)
    if op == "ping":
        return {"pong": time.time()}
    raise BadInput(f"Unknown worker operation {op!r}.")
