"""One worker generation: spawn it, read from it, write to it, stop it.

A WorkerHandle is one worker process and its private Pipe. It knows nothing
about restarts or requests: it reports every message and its own exit to
the callbacks it was given, from its reader thread, and the supervisor
decides what they mean.

- Spawned with multiprocessing's "spawn" context (a fresh interpreter: none
  of the service's signal handlers, threads or locks come along), from the
  main thread only, because PR_SET_PDEATHSIG fires when the *spawning thread*
  exits.
- The markers of DESIGN.md are in the child's *initial* environment.
- Each generation gets a fresh Pipe and reader thread: nothing is shared
  with a dead predecessor (a shared multiprocessing.Queue would keep the
  lock a SIGKILLed worker died holding).
- stop() is layer L2: stop message -> join -> terminate -> kill, then a
  psutil sweep of anything the worker started.
- Once the reader thread has reaped the worker, the worker's registry record
  (L3) goes too: a worker ended by SIGKILL, a crash or a restart cannot
  remove its own, and a record of a reaped process only misleads leftovers.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from typing import Callable

import psutil

from service import protocol
from service.safety import lifeline, markers, registry
from service.safety.processes import end_processes

log = logging.getLogger("asr.supervisor")

TERMINATE_WAIT_S = 0.5   # after SIGTERM, before SIGKILL
KILL_WAIT_S = 1.0        # after SIGKILL, for the reader thread to reap it
SWEEP_GRACE_S = 0.2      # for the worker's own children, once it is gone


class WorkerHandle:
    """One worker process and its channel. `process`, `gone` and `info` are
    read by the fronts (service/fronts/stream_api.py tells generations apart)."""

    def __init__(self, number: int, process, conn, clock: Callable[[], float] = time.monotonic):
        self.number = number
        self.process = process
        self.conn = conn
        self._clock = clock
        self.started = clock()
        self.ready_at: float | None = None
        self.info: dict = {}
        self.gone = False                  # its exit was handled on the event loop
        self.expected_exit = False         # a stop, a recycle or a load failure: no restart
        self.exited = threading.Event()    # set by the reader thread once it reaped the process
        self._send_lock = threading.Lock()  # a stop message must not interleave with a request
        self._ps: psutil.Process | None = None
        self._created: float | None = None   # its create_time, to match its registry record
        try:
            self._ps = psutil.Process(process.pid)
            self._created = self._ps.create_time()
        except psutil.Error:
            pass

    @classmethod
    def spawn(cls, number: int, target: Callable, model_cfg, log_level: str,
              on_message: Callable[[WorkerHandle, dict], None],
              on_exit: Callable[[WorkerHandle], None],
              clock: Callable[[], float] = time.monotonic) -> WorkerHandle:
        """Start `target(conn, model_cfg, our_pid, log_level)` in a new process.
        The callbacks run on the reader thread, never on the caller's; `clock`
        measures how long it lived (tests move it on)."""
        assert threading.current_thread() is threading.main_thread(), \
            "workers are spawned from the main thread only (PDEATHSIG follows the thread)"
        ctx = multiprocessing.get_context("spawn")
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        # The worker's markers must be in its *initial* environment.
        saved = os.environ.get(markers.ROLE)
        os.environ[markers.ROLE] = "worker"
        try:
            proc = ctx.Process(target=target, name="asr-worker", daemon=False,
                               args=(child_conn, model_cfg, os.getpid(), log_level))
            proc.start()
        finally:
            if saved is None:
                os.environ.pop(markers.ROLE, None)
            else:
                os.environ[markers.ROLE] = saved
        child_conn.close()  # so that EOF on our end means the worker is gone
        lifeline.bind_child_to_us(proc.pid)  # Windows L0; no-op elsewhere
        handle = cls(number, proc, parent_conn, clock)
        threading.Thread(target=handle._read, args=(on_message, on_exit),
                         name=f"worker-reader-{number}", daemon=True).start()
        log.info("worker generation %d started, pid %d", number, proc.pid)
        return handle

    @property
    def pid(self) -> int:
        return self.process.pid

    def lived(self) -> float:
        """Seconds since it was started."""
        return self._clock() - self.started

    def mark_ready(self, info: dict) -> None:
        """It reported its model loaded, with these facts about it."""
        self.ready_at = self._clock()
        self.info = info

    def send(self, msg: dict) -> None:
        """Blocking (a large message fills the pipe): call it off the event loop."""
        with self._send_lock:
            self.conn.send(msg)

    def _read(self, on_message, on_exit) -> None:
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                break
            except Exception as exc:  # unpicklable garbage: treat as a dead channel
                log.error("bad message from worker: %s", exc)
                break
            on_message(self, msg)
        self.process.join()  # it is gone or going: the pipe closed; only this thread reaps it
        self._remove_record()
        self.exited.set()
        on_exit(self)

    def _remove_record(self) -> None:
        """Remove the registry record of this (reaped) worker: only the one
        whose pid AND create_time are this process's, as pids are reused."""
        if self._created is None:
            return  # it died before we saw it: too early to have written a record
        try:
            for record in registry.read_all():
                if (record.role == "worker" and record.pid == self.pid
                        and abs(record.create_time - self._created)
                        <= registry.CREATE_TIME_TOLERANCE):
                    registry.remove(record)
        except (OSError, psutil.Error) as exc:
            log.warning("could not remove the record of worker %d: %s", self.pid, exc)

    def stop(self, grace: float) -> None:
        """L2: ask -> wait -> terminate -> kill, then sweep anything it started.
        Blocking, up to grace + 1.5 s: call it off the event loop. The caller
        sets expected_exit first, on its own thread."""
        kids = []
        if self._ps is not None:
            try:
                kids = self._ps.children(recursive=True)
            except psutil.Error:
                pass
        if grace > 0:
            try:
                self.send(protocol.stop())
            except (OSError, ValueError):
                pass
            self.exited.wait(grace)
        # The reader thread reaps the process; signalling only while it has not
        # means we never signal a pid that was already reaped (and maybe reused).
        if not self.exited.is_set():
            self.process.terminate()
            self.exited.wait(TERMINATE_WAIT_S)
        if not self.exited.is_set():
            self.process.kill()
            self.exited.wait(KILL_WAIT_S)
        if kids:
            end_processes(kids, grace=SWEEP_GRACE_S)
        try:
            self.conn.close()
        except OSError:
            pass
