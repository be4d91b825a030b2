"""The requests waiting for the worker: a bounded FIFO, the one in flight,
and the counters /health and /v1/status show.

The worker runs one request at a time, so at most one job is "in flight";
the others wait here in arrival order. The queue refuses new jobs beyond
`max_queue` (503 with Retry-After) instead of letting callers wait without
end. Each job carries an id, and a reply settles the in-flight job only when
the ids match: a late reply to a request that already timed out is dropped.
Runs on the event loop only.
"""
from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

from service.errors import Busy, ServiceError

BUSY_RETRY_AFTER_S = 2


@dataclass
class Job:
    msg: dict
    future: asyncio.Future
    timeout: float
    enqueued: float = field(default_factory=time.monotonic)
    abandoned: bool = False  # its caller went away: not worth starting any more

    @property
    def id(self):
        return self.msg.get("id")

    async def outcome(self) -> dict:
        """The worker's result, or the ServiceError that ended the job."""
        try:
            # Shielded: a caller that goes away (client disconnect) must not
            # cancel the future the dispatcher is waiting on.
            return await asyncio.shield(self.future)
        except asyncio.CancelledError:
            self.abandoned = True
            self.future.add_done_callback(lambda f: f.cancelled() or f.exception())  # consumed
            raise


class RequestQueue:
    def __init__(self, max_queue: int):
        self.max_queue = max_queue
        self._waiting: asyncio.Queue[Job] = asyncio.Queue()
        self._ids = itertools.count(1)
        self.current: Job | None = None   # handed to the worker, no answer yet
        self.total = 0        # accepted
        self.completed = 0    # answered with a result
        self.failed = 0       # answered with an error, timed out, or ended by a dead worker
        self._wait_ms_sum = 0.0

    # ------------------------------------------------------------ filling
    def submit(self, msg: dict, timeout: float) -> Job:
        """Queue one request; Busy when `max_queue` are already waiting."""
        if self._waiting.qsize() >= self.max_queue:
            raise Busy(f"The service is busy: {self._waiting.qsize()} requests are already "
                       "waiting for the worker. Retry in a few seconds.",
                       retry_after=BUSY_RETRY_AFTER_S)
        job = Job(dict(msg, id=next(self._ids)), asyncio.get_running_loop().create_future(),
                  timeout)
        self.total += 1
        self._waiting.put_nowait(job)
        return job

    async def next(self) -> Job:
        """The oldest waiting job, once there is one."""
        return await self._waiting.get()

    # ------------------------------------------------------------ draining
    def begin(self, job: Job) -> None:
        """`job` is being handed to the worker now."""
        self.current = job
        self._wait_ms_sum += (time.monotonic() - job.enqueued) * 1000

    def settle(self, reply: dict) -> None:
        """A reply from the worker: it ends the in-flight job if the ids match."""
        job = self.current
        if job is None or reply.get("id") != job.id:
            return  # a reply to a request that already timed out
        self.current = None
        if job.future.done():
            return
        if reply.get("ok"):
            self.completed += 1
            job.future.set_result(reply["result"])
        else:
            self.failed += 1
            job.future.set_exception(ServiceError(reply["message"],
                                                  status=reply.get("status", 500)))

    def fail(self, job: Job, exc: ServiceError) -> None:
        """End one job with `exc`, unless it has ended already."""
        if self.current is job:
            self.current = None
        if not job.future.done():
            self.failed += 1
            job.future.set_exception(exc)

    def fail_current(self, exc: ServiceError) -> None:
        if self.current is not None:
            self.fail(self.current, exc)

    def fail_waiting(self, exc: ServiceError) -> None:
        while not self._waiting.empty():
            self.fail(self._waiting.get_nowait(), exc)

    # ------------------------------------------------------------ reporting
    @property
    def depth(self) -> int:
        return self._waiting.qsize()

    @property
    def busy(self) -> bool:
        return self.current is not None

    @property
    def avg_wait_ms(self) -> float:
        started = self.completed + self.failed
        return round(self._wait_ms_sum / started, 1) if started else 0.0
