"""A stand-in worker for supervisor tests: the worker protocol, no model stack.

Supervisor(..., target=run) starts it exactly like the real worker (spawned,
with the worker markers), so the supervisor's restart and request handling
can be tested in well under a second per case. It is a module-level function
in an importable module because a spawned child finds its target by name.

model_cfg.model says how it behaves:
  "echo"               READY, then one reply per request ({"op": ...} echoed back);
                       the op "crash" makes it exit at once, with no reply
  "crash-after-ready"  READY, then exit at once
  "crash-at-once"      exit before READY
  "load-fail"          LOAD_FAILED with LOAD_FAILED_MESSAGE, then exit 2 (as the real one)
"""
from __future__ import annotations

import os
import sys

CRASH_EXIT = 13
LOAD_FAILED_MESSAGE = "The stand-in model could not be loaded (as the test asked)."


def run(conn, model_cfg, expected_parent: int, log_level: str = "INFO") -> None:
    from service import protocol
    from service.safety import lifeline

    # Like the real worker: die with the test process, however it ends.
    lifeline.arm_parent_death_signal(expected_parent)
    lifeline.watch_mp_parent(lambda why: os._exit(CRASH_EXIT))
    behaviour = model_cfg.model
    if behaviour == "crash-at-once":
        os._exit(CRASH_EXIT)
    if behaviour == "load-fail":
        conn.send(protocol.load_failed(LOAD_FAILED_MESSAGE))
        sys.exit(2)
    conn.send(protocol.ready({"model": f"stand-in {behaviour}", "device": "none"}))
    if behaviour == "crash-after-ready":
        os._exit(CRASH_EXIT)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg.get("op") == protocol.STOP:
            return
        if msg.get("op") == "crash":
            os._exit(CRASH_EXIT)
        conn.send(protocol.reply(msg.get("id"), {"op": msg.get("op")}))
