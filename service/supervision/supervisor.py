"""Supervises the worker: start, watch, fail fast, restart with backoff, stop.

A small loop in the spirit of gunicorn's arbiter, living on the service's
asyncio loop in the main thread, so every worker is spawned from the main
thread (PR_SET_PDEATHSIG fires when the *spawning thread* exits). It ties
together the jobs that live in their own modules:

  handle.py         one worker generation: spawn, reader thread, send, L2 stop
  policy.py         what an exit means: restart after a backoff, give up, or nothing
  request_queue.py  the requests: streams before files, the one in flight, the counters
  watch.py          the one way to wait for a change (state or generation)

When a worker's pipe hits EOF it is gone (crash, OOM, SIGKILL): the request
it was running fails at once with 503, and the policy decides whether and
when a new generation starts. A model that cannot load is a configuration
error: reported, never retried in a loop.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Awaitable, Callable

from service import protocol
from service.config import ModelConfig
from service.errors import LoadFailed, ServiceError, TimedOut, WorkerUnavailable
from service.supervision import request_queue, tracker
from service.supervision.handle import WorkerHandle
from service.supervision.policy import GiveUp, Restart, RestartPolicy
from service.supervision.request_queue import RequestQueue
from service.supervision.watch import StateWatch

log = logging.getLogger("asr.supervisor")


class State:
    STARTING = "starting"
    READY = "ready"
    RESTARTING = "restarting"
    LOAD_FAILED = "load_failed"
    GAVE_UP = "gave_up"
    STOPPING = "stopping"
    STOPPED = "stopped"


# A worker is on its way in these states; in every other one, waiting for
# it is over (ready, or a state that a new worker does not end by itself).
COMING = (State.STARTING, State.RESTARTING)
ENDED = (State.STOPPING, State.STOPPED)


def _default_target():
    from service.worker import main as worker  # imported late: the fronts never need it

    return worker.run


class Supervisor:
    def __init__(self, model_cfg: ModelConfig, max_queue: int = 8,
                 request_timeout: float = 300.0, log_level: str = "INFO", *,
                 target: Callable | None = None, policy: RestartPolicy | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic):
        """`target` runs in the worker process as target(conn, model_cfg,
        expected_parent, log_level) (default: service.worker.main.run);
        `policy`, `sleep` (the backoff) and `clock` (how long a worker lived)
        let tests run the restart rules without waiting real seconds."""
        self.model_cfg = model_cfg
        self.request_timeout = request_timeout
        self.log_level = log_level
        self.target = target
        self.policy = policy or RestartPolicy()
        self._sleep = sleep
        self._clock = clock
        self._watch = StateWatch(State.STOPPED)
        self._requests = RequestQueue(max_queue)
        self.error: str | None = None
        self.last_exit: int | None = None
        self.gen: WorkerHandle | None = None
        self._numbers = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dispatcher: asyncio.Task | None = None
        self._restart_task: asyncio.Task | None = None
        self._recycle_lock = asyncio.Lock()
        self.tracker: tracker.TrackerRecord | None = None  # the resource tracker's record

    # ----------------------------------------------------------- lifecycle
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        # multiprocessing's resource tracker is a child of ours too: started
        # now, under our own markers, and recorded by identity (tracker.py).
        self.tracker = tracker.start()
        self._spawn()
        self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="dispatcher")

    def _spawn(self) -> None:
        self.gen = WorkerHandle.spawn(next(self._numbers), self.target or _default_target(),
                                      self.model_cfg, self.log_level,
                                      on_message=self._from_reader(self._on_message),
                                      on_exit=self._from_reader(self._on_exit),
                                      clock=self._clock)
        self._watch.set(State.STARTING)

    def _from_reader(self, callback: Callable) -> Callable:
        """The reader thread hands everything to the event loop."""
        def hand_over(*args) -> None:
            try:
                self._loop.call_soon_threadsafe(callback, *args)
            except RuntimeError:
                pass  # the loop is closed: the service is exiting, nobody is left to tell
        return hand_over

    def _on_message(self, gen: WorkerHandle, msg: dict) -> None:
        if gen is not self.gen:
            return
        event = msg.get("event")
        if event == protocol.READY:
            gen.mark_ready(msg["info"])
            self.error = None
            self._watch.set(State.READY)
        elif event == protocol.LOAD_FAILED:
            gen.expected_exit = True
            self.error = msg["message"]
            log.error("model load failed: %s", self.error)
            self._requests.fail_waiting(LoadFailed(self.error))
            self._watch.set(State.LOAD_FAILED)
        else:
            self._requests.settle(msg)

    def _on_exit(self, gen: WorkerHandle) -> None:
        gen.gone = True
        if gen is not self.gen:
            return
        code = gen.process.exitcode
        lived = gen.lived()
        self.last_exit = code
        expected = gen.expected_exit or self.state in ENDED
        if not expected:
            log.error("worker pid %d exited unexpectedly (exit code %s) after %.1fs",
                      gen.pid, code, lived)
            self._requests.fail_current(WorkerUnavailable(
                f"The ASR worker stopped unexpectedly (exit code {code}) while handling this "
                "request. It is being restarted; send the request again in a moment."))
        decision = self.policy.after_exit(lived, gen.ready_at is not None, expected)
        if isinstance(decision, GiveUp):
            self.error = decision.reason
            log.error(self.error)
            self._requests.fail_waiting(WorkerUnavailable(self.error))
            self._watch.set(State.GAVE_UP)
        elif isinstance(decision, Restart):
            self._watch.set(State.RESTARTING)
            self._restart_task = asyncio.ensure_future(self._restart_after(decision.delay))
        else:
            self._watch.changed()  # no new state, but worker_pid is gone

    async def _restart_after(self, delay: float) -> None:
        await self._sleep(delay)
        if self.state != State.RESTARTING:
            return
        self.policy.restarted()
        self._spawn()

    async def wait_changed(self) -> None:
        """Return after the next change of state or of worker generation."""
        await self._watch.wait_changed()

    async def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait while a worker is on its way; True if one is ready."""
        await self._watch.wait_for(lambda: self.state not in COMING, timeout)
        return self.state == State.READY

    # ------------------------------------------------------------- requests
    def _check_accepting(self) -> None:
        if self.state == State.LOAD_FAILED:
            raise LoadFailed(self.error or "The model could not be loaded.")
        if self.state == State.GAVE_UP:
            raise WorkerUnavailable(self.error)
        if self.state in ENDED:
            raise WorkerUnavailable("The service is shutting down; it takes no new requests.")

    async def call(self, msg: dict, timeout: float | None = None,
                   priority: str = request_queue.FILE) -> dict:
        """Queue one request for the worker and wait for its answer; a live
        stream's requests pass priority=request_queue.STREAM to go first."""
        self._check_accepting()
        job = self._requests.submit(msg, timeout or self.request_timeout, priority)
        return await job.outcome()

    async def _dispatch_loop(self) -> None:
        while True:
            job = await self._requests.next()
            try:
                await self._dispatch(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug here must fail one request, not stall them all
                log.exception("dispatching request %s failed", job.id)
                self._requests.fail(job, ServiceError(
                    f"The service failed to hand the request to the worker ({exc}). "
                    "Send it again; if it keeps failing, restart the service.", status=500))

    async def _dispatch(self, job) -> None:
        if job.future.done() or job.abandoned:
            return
        await self._watch.wait_for(lambda: self.state not in COMING)
        try:
            self._check_accepting()
        except ServiceError as exc:
            self._requests.fail(job, exc)
            return
        gen = self.gen
        self._requests.begin(job)
        try:
            await self._loop.run_in_executor(None, gen.send, job.msg)
        except (OSError, ValueError):
            pass  # the worker died; _on_exit fails the job
        try:
            await asyncio.wait_for(asyncio.shield(job.future), job.timeout)
        except asyncio.TimeoutError:
            self._requests.fail(job, TimedOut(
                f"The request took longer than its {job.timeout:g} s limit, so it was "
                "stopped and the worker restarted. Send shorter audio or raise "
                "--request-timeout."))
            await self.recycle("request timed out")
        except ServiceError:
            pass  # the job's own failure goes to its caller

    # --------------------------------------------------------- stop / restart
    async def recycle(self, why: str) -> None:
        """Replace the worker now (timeout, or a restart asked for by a client).
        Serialized: two overlapping restarts must not leave two workers."""
        seen = self.gen
        async with self._recycle_lock:
            if self.state in ENDED:
                return
            if self.gen is not seen:
                return  # someone replaced it while we waited: that is the restart asked for
            log.warning("recycling worker: %s", why)
            if self._restart_task:
                self._restart_task.cancel()  # a pending restart: this one replaces it
            gen = self.gen
            if gen is not None:
                gen.expected_exit = True
                self._requests.fail_current(WorkerUnavailable(
                    f"The worker was restarted ({why}). Send the request again."))
                await self._loop.run_in_executor(None, gen.stop, 0.0)
            if self.state in ENDED:
                return
            self.policy.restarted(deliberate=True)
            self.error = None
            self._spawn()

    async def stop(self, grace: float = 1.0) -> None:
        self._watch.set(State.STOPPING)  # whoever waits for the model learns it will not come
        self._requests.fail_current(WorkerUnavailable(
            "The service is shutting down; the request was not finished."))
        self._requests.fail_waiting(WorkerUnavailable(
            "The service is shutting down; the request was not started."))
        if self._restart_task:
            self._restart_task.cancel()
        gen = self.gen
        if gen is not None:
            gen.expected_exit = True
            await self._loop.run_in_executor(None, gen.stop, grace)
        await self._loop.run_in_executor(None, tracker.stop, self.tracker)  # the worker is gone
        self._watch.set(State.STOPPED)
        if self._dispatcher:
            self._dispatcher.cancel()

    def stop_now(self) -> None:
        """Synchronous last resort (exit paths, watchdog): no event loop needed."""
        gen = self.gen
        if gen is not None:
            gen.expected_exit = True
            self._watch.set(State.STOPPED)  # wakes nobody off the loop: the process is exiting
            gen.stop(0.3)

    # ------------------------------------------------------------- reporting
    @property
    def state(self) -> str:
        return self._watch.value

    @property
    def restarts(self) -> int:
        return self.policy.restarts

    @property
    def fast_failures(self) -> int:
        return self.policy.fast_failures

    @property
    def max_queue(self) -> int:
        return self._requests.max_queue

    @property
    def worker_pid(self) -> int | None:
        gen = self.gen
        if gen is None or gen.gone:
            return None
        return gen.pid

    @property
    def queue_depth(self) -> int:
        return self._requests.depth

    @property
    def busy(self) -> bool:
        return self._requests.busy

    @property
    def avg_wait_ms(self) -> float:
        return self._requests.avg_wait_ms

    @property
    def total(self) -> int:
        return self._requests.total

    @property
    def completed(self) -> int:
        return self._requests.completed

    @property
    def failed(self) -> int:
        return self._requests.failed

    @property
    def info(self) -> dict:
        return self.gen.info if self.gen is not None else {}
