"""Supervises the worker: start, watch, fail fast, restart with backoff, stop.

A small loop in the spirit of gunicorn's arbiter, living on the service's
asyncio loop in the main thread, so every worker is spawned from the main
thread (PR_SET_PDEATHSIG fires when the *spawning thread* exits).

Per worker generation: a fresh Pipe and a reader thread. When the pipe hits
EOF the worker is gone (crash, OOM, SIGKILL): the request it was running
fails at once with 503, and a new generation starts after a backoff. Fast
repeated failures make it give up and say so. A model that cannot load is a
configuration error: reported, never retried in a loop.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass, field

import psutil

from service.safety import lifeline, markers
from service.config import ModelConfig
from service.errors import Busy, LoadFailed, ServiceError, TimedOut, WorkerUnavailable
from service.safety.processes import end_processes

log = logging.getLogger("asr.supervisor")

FAST_FAILURE_WINDOW = 10.0   # a worker dying sooner than this after start counts as a fast failure
MAX_FAST_FAILURES = 5
BACKOFF = (0.0, 0.5, 1.0, 2.0, 4.0)


class State:
    STARTING = "starting"
    READY = "ready"
    RESTARTING = "restarting"
    LOAD_FAILED = "load_failed"
    GAVE_UP = "gave_up"
    STOPPING = "stopping"
    STOPPED = "stopped"


@dataclass
class Job:
    msg: dict
    future: asyncio.Future
    timeout: float
    enqueued: float = field(default_factory=time.monotonic)
    abandoned: bool = False  # its caller went away: not worth starting any more


class Generation:
    """One worker process and its private channel."""

    def __init__(self, number: int, process, conn):
        self.number = number
        self.process = process
        self.conn = conn
        self.started = time.monotonic()
        self.ready_at: float | None = None
        self.info: dict = {}
        self.gone = False
        self.exited = threading.Event()   # set by the reader thread once it reaped the process
        self.send_lock = threading.Lock()  # a stop message must not interleave with a request
        self.expected_exit = False
        self.ps: psutil.Process | None = None
        try:
            self.ps = psutil.Process(process.pid)
        except psutil.Error:
            pass

    def send(self, msg: dict) -> None:
        with self.send_lock:
            self.conn.send(msg)


class Supervisor:
    def __init__(self, model_cfg: ModelConfig, max_queue: int = 8,
                 request_timeout: float = 300.0, log_level: str = "INFO"):
        self.model_cfg = model_cfg
        self.max_queue = max_queue
        self.request_timeout = request_timeout
        self.log_level = log_level
        self.state = State.STOPPED
        self.error: str | None = None
        self.restarts = 0
        self.fast_failures = 0
        self.last_exit: int | None = None
        self.gen: Generation | None = None
        self._numbers = itertools.count(1)
        self._ids = itertools.count(1)
        self._queue: asyncio.Queue[Job] | None = None
        self._current: Job | None = None
        self._ready = asyncio.Event()
        self._changed = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dispatcher: asyncio.Task | None = None
        self._restart_task: asyncio.Task | None = None
        self._recycle_lock = asyncio.Lock()
        self.completed = 0
        self.failed = 0
        self.total = 0
        self._wait_ms_sum = 0.0
        self.started_at = time.time()

    # ----------------------------------------------------------- lifecycle
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        # multiprocessing's resource tracker is a child of ours too. Start it
        # now, under our own markers, or it would start inside _spawn while
        # the environment says "worker".
        if os.name == "posix":  # Windows has no resource tracker process
            from multiprocessing import resource_tracker
            resource_tracker.ensure_running()
        self._spawn()
        self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="dispatcher")

    def _spawn(self) -> None:
        assert threading.current_thread() is threading.main_thread(), \
            "workers are spawned from the main thread only (PDEATHSIG follows the thread)"
        ctx = multiprocessing.get_context("spawn")
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        # The worker's markers must be in its *initial* environment.
        saved = os.environ.get(markers.ROLE)
        os.environ[markers.ROLE] = "worker"
        try:
            from service.worker import main as worker

            proc = ctx.Process(target=worker.run, name="asr-worker", daemon=False,
                               args=(child_conn, self.model_cfg, os.getpid(), self.log_level))
            proc.start()
        finally:
            if saved is None:
                os.environ.pop(markers.ROLE, None)
            else:
                os.environ[markers.ROLE] = saved
        child_conn.close()  # so that EOF on our end means the worker is gone
        lifeline.bind_child_to_us(proc.pid)  # Windows L0; no-op elsewhere
        gen = Generation(next(self._numbers), proc, parent_conn)
        self.gen = gen
        self.state = State.STARTING
        self._ready.clear()
        self._notify()
        threading.Thread(target=self._reader, args=(gen,), name=f"worker-reader-{gen.number}",
                         daemon=True).start()
        log.info("worker generation %d started, pid %d", gen.number, proc.pid)

    def _reader(self, gen: Generation) -> None:
        """Blocking reads off the event loop; everything is handed back to it."""
        while True:
            try:
                msg = gen.conn.recv()
            except (EOFError, OSError):
                break
            except Exception as exc:  # unpicklable garbage: treat as a dead channel
                log.error("bad message from worker: %s", exc)
                break
            self._loop.call_soon_threadsafe(self._on_message, gen, msg)
        gen.process.join()  # it is gone or going: the pipe closed; only this thread reaps it
        gen.exited.set()
        self._loop.call_soon_threadsafe(self._on_exit, gen)

    def _on_message(self, gen: Generation, msg: dict) -> None:
        if gen is not self.gen:
            return
        event = msg.get("event")
        if event == "ready":
            gen.ready_at = time.monotonic()
            gen.info = msg["info"]
            self.state = State.READY
            self.error = None
            self._ready.set()
            self._notify()
            return
        if event == "load_failed":
            gen.expected_exit = True
            self.error = msg["message"]
            self.state = State.LOAD_FAILED
            log.error("model load failed: %s", self.error)
            self._fail_queued(LoadFailed(self.error))
            self._ready.set()  # wake waiters so they see the failure
            self._notify()
            return
        job = self._current
        if job is None or msg.get("id") != job.msg.get("id"):
            return  # a reply to a request that already timed out
        self._current = None
        if job.future.done():
            return
        if msg.get("ok"):
            self.completed += 1
            job.future.set_result(msg["result"])
        else:
            self.failed += 1
            job.future.set_exception(ServiceError(msg["message"], status=msg.get("status", 500)))

    def _on_exit(self, gen: Generation) -> None:
        gen.gone = True
        code = gen.process.exitcode
        if gen is not self.gen:
            return
        self.last_exit = code
        if gen.expected_exit or self.state in (State.STOPPING, State.STOPPED):
            return
        lived = time.monotonic() - gen.started
        log.error("worker pid %d exited unexpectedly (exit code %s) after %.1fs",
                  gen.process.pid, code, lived)
        self._fail_current(WorkerUnavailable(
            f"The ASR worker stopped unexpectedly (exit code {code}) while handling this "
            "request. It is being restarted; send the request again in a moment."))
        self.fast_failures = self.fast_failures + 1 if (gen.ready_at is None or lived < FAST_FAILURE_WINDOW) else 1
        if self.fast_failures >= MAX_FAST_FAILURES:
            self.state = State.GAVE_UP
            self.error = (f"The ASR worker failed {self.fast_failures} times in a row soon after "
                          "starting, so the service stopped restarting it. See the service log, "
                          "then restart the worker (POST /v1/worker/restart or the tray menu).")
            log.error(self.error)
            self._fail_queued(WorkerUnavailable(self.error))
            self._ready.set()
            self._notify()
            return
        delay = BACKOFF[min(self.fast_failures - 1, len(BACKOFF) - 1)]
        self.state = State.RESTARTING
        self._notify()
        self._restart_task = asyncio.ensure_future(self._restart_after(delay))

    async def _restart_after(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        if self.state != State.RESTARTING:
            return
        self.restarts += 1
        self._spawn()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_changed(self) -> None:
        await self._changed.wait()

    # ------------------------------------------------------------- requests
    async def wait_ready(self, timeout: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return self.state == State.READY

    def _check_accepting(self) -> None:
        if self.state == State.LOAD_FAILED:
            raise LoadFailed(self.error or "The model could not be loaded.")
        if self.state == State.GAVE_UP:
            raise WorkerUnavailable(self.error)
        if self.state in (State.STOPPING, State.STOPPED):
            raise WorkerUnavailable("The service is shutting down; it takes no new requests.")

    async def call(self, msg: dict, timeout: float | None = None) -> dict:
        """Queue one request for the worker and wait for its answer."""
        self._check_accepting()
        if self._queue.qsize() >= self.max_queue:
            raise Busy(f"The service is busy: {self._queue.qsize()} requests are already "
                       "waiting for the worker. Retry in a few seconds.", retry_after=2)
        msg = dict(msg, id=next(self._ids))
        job = Job(msg, self._loop.create_future(), timeout or self.request_timeout)
        self.total += 1
        self._queue.put_nowait(job)
        try:
            # Shielded: a caller that goes away (client disconnect) must not
            # cancel the future the dispatcher is waiting on.
            return await asyncio.shield(job.future)
        except asyncio.CancelledError:
            job.abandoned = True
            job.future.add_done_callback(lambda f: f.cancelled() or f.exception())  # consumed
            raise

    async def _dispatch_loop(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await self._dispatch(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug here must fail one request, not stall them all
                log.exception("dispatching request %s failed", job.msg.get("id"))
                self._current = None
                if not job.future.done():
                    job.future.set_exception(ServiceError(
                        f"The service failed to hand the request to the worker ({exc}). "
                        "Send it again; if it keeps failing, restart the service.", status=500))

    async def _dispatch(self, job: Job) -> None:
        if job.future.done() or job.abandoned:
            return
        while self.state != State.READY:
            if self.state in (State.LOAD_FAILED, State.GAVE_UP, State.STOPPING, State.STOPPED):
                break
            await self.wait_changed()
        try:
            self._check_accepting()
        except ServiceError as exc:
            if not job.future.done():
                job.future.set_exception(exc)
            return
        gen = self.gen
        self._current = job
        self._wait_ms_sum += (time.monotonic() - job.enqueued) * 1000
        try:
            await self._loop.run_in_executor(None, gen.send, job.msg)
        except (OSError, ValueError):
            pass  # the worker died; _on_exit fails the job
        try:
            await asyncio.wait_for(asyncio.shield(job.future), job.timeout)
        except asyncio.TimeoutError:
            self._current = None
            self.failed += 1
            if not job.future.done():
                job.future.set_exception(TimedOut(
                    f"The request took longer than its {job.timeout:g} s limit, so it was "
                    "stopped and the worker restarted. Send shorter audio or raise "
                    "--request-timeout."))
            await self.recycle("request timed out")
        except ServiceError:
            pass  # the job's own failure goes to its caller

    def _fail_current(self, exc: ServiceError) -> None:
        job, self._current = self._current, None
        if job is not None and not job.future.done():
            self.failed += 1
            job.future.set_exception(exc)

    def _fail_queued(self, exc: ServiceError) -> None:
        while self._queue is not None and not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                self.failed += 1
                job.future.set_exception(exc)

    # --------------------------------------------------------- stop / restart
    async def recycle(self, why: str) -> None:
        """Replace the worker now (timeout, or a restart asked for by a client).
        Serialized: two overlapping restarts must not leave two workers."""
        seen = self.gen
        async with self._recycle_lock:
            if self.state in (State.STOPPING, State.STOPPED):
                return
            if self.gen is not seen:
                return  # someone replaced it while we waited: that is the restart asked for
            log.warning("recycling worker: %s", why)
            if self._restart_task:
                self._restart_task.cancel()
            gen = self.gen
            if gen is not None:
                gen.expected_exit = True
                self._fail_current(WorkerUnavailable(f"The worker was restarted ({why}). "
                                                     "Send the request again."))
                await self._loop.run_in_executor(None, self._stop_generation, gen, 0.0)
            if self.state in (State.STOPPING, State.STOPPED):
                return
            self.fast_failures = 0
            self.restarts += 1
            self.error = None
            self._spawn()

    async def stop(self, grace: float = 1.0) -> None:
        self.state = State.STOPPING
        self._notify()
        self._fail_current(WorkerUnavailable("The service is shutting down; the request was not finished."))
        self._fail_queued(WorkerUnavailable("The service is shutting down; the request was not started."))
        if self._restart_task:
            self._restart_task.cancel()
        self._ready.set()  # whoever waits for the model learns it will not come
        gen = self.gen
        if gen is not None:
            gen.expected_exit = True
            await self._loop.run_in_executor(None, self._stop_generation, gen, grace)
        self.state = State.STOPPED
        self._notify()
        if self._dispatcher:
            self._dispatcher.cancel()

    def stop_now(self) -> None:
        """Synchronous last resort (exit paths, watchdog): no event loop needed."""
        gen = self.gen
        if gen is not None:
            gen.expected_exit = True
            self.state = State.STOPPED
            self._stop_generation(gen, 0.3)

    @staticmethod
    def _stop_generation(gen: Generation, grace: float) -> None:
        """L2: ask → wait → terminate → kill, then sweep anything it started."""
        proc = gen.process
        kids = []
        if gen.ps is not None:
            try:
                kids = gen.ps.children(recursive=True)
            except psutil.Error:
                pass
        if grace > 0:
            try:
                gen.send({"op": "stop"})
            except (OSError, ValueError):
                pass
            gen.exited.wait(grace)
        # The reader thread reaps the process; signalling only while it has not
        # means we never signal a pid that was already reaped (and maybe reused).
        if not gen.exited.is_set():
            proc.terminate()
            gen.exited.wait(0.5)
        if not gen.exited.is_set():
            proc.kill()
            gen.exited.wait(1.0)
        if kids:
            end_processes(kids, grace=0.2)
        try:
            gen.conn.close()
        except OSError:
            pass

    # ------------------------------------------------------------- reporting
    @property
    def worker_pid(self) -> int | None:
        gen = self.gen
        if gen is None or gen.gone:
            return None
        return gen.process.pid

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    @property
    def busy(self) -> bool:
        return self._current is not None

    @property
    def avg_wait_ms(self) -> float:
        started = self.completed + self.failed
        return round(self._wait_ms_sum / started, 1) if started else 0.0

    @property
    def info(self) -> dict:
        return self.gen.info if self.gen is not None else {}
