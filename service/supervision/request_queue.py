"""The requests waiting for the worker: two bounded FIFOs (live streams and
file work), the one in flight, and the counters /health and /v1/status show.

The worker runs one request at a time, so at most one job is "in flight";
the others wait here. Live captions must stay real time while file requests
pile up, so there are two classes:

  STREAM  a live stream's open/feed/flush/close: taken first whenever one waits
  FILE    file transcriptions and /utterance: taken when no stream job waits

The job in flight is never preempted: a stream whose audio arrives while a
file request runs waits for that one request (its whole duration: the worst
case, docs/reliability.md), then goes before every file job still queued.
Within a class the order is arrival order; each stream keeps at most one
job here, so arrival order is a round-robin among streams. File work is not
starved for good: once stream jobs have been taken ahead of a waiting file
job for FILE_PASS_S, the next job is that file job (so busy streams leave
file work at least one request per FILE_PASS_S, and pay for it with one
file request's delay).

Each class refuses new jobs beyond `max_queue` waiting (503 with
Retry-After) instead of letting callers wait without end; file requests
filling their class never refuse a stream's audio. Each job carries an id,
and a reply settles the in-flight job only when the ids match: a late reply
to a request that already timed out is dropped. Runs on the event loop only.
"""
from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from service.errors import Busy, ServiceError

BUSY_RETRY_AFTER_S = 2

STREAM = "stream"  # live captions: served before queued file work
FILE = "file"      # file transcriptions and utterances
# How long stream jobs may keep going ahead of a waiting file job before it
# gets its turn. Long enough that streams in real time rarely meet a file
# request mid-utterance (an utterance lasts a few seconds), short enough
# that file clients keep being answered while streams are live.
FILE_PASS_S = 10.0


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
    def __init__(self, max_queue: int, file_pass_s: float = FILE_PASS_S,
                 clock: Callable[[], float] = time.monotonic):
        self.max_queue = max_queue
        self.file_pass_s = file_pass_s
        self._clock = clock
        self._waiting: dict[str, deque[Job]] = {STREAM: deque(), FILE: deque()}
        self._arrived = asyncio.Event()   # set when a job is queued
        self._passed_since: float | None = None  # streams went ahead of waiting file work since
        self._ids = itertools.count(1)
        self.current: Job | None = None   # handed to the worker, no answer yet
        self.total = 0        # accepted
        self.completed = 0    # answered with a result
        self.failed = 0       # answered with an error, timed out, or ended by a dead worker
        self._wait_ms_sum = 0.0

    # ------------------------------------------------------------ filling
    def submit(self, msg: dict, timeout: float, priority: str = FILE) -> Job:
        """Queue one request in its class (STREAM or FILE); Busy when
        `max_queue` of that class are already waiting."""
        waiting = self._waiting[priority]
        if len(waiting) >= self.max_queue:
            raise Busy(f"The service is busy: {len(waiting)} requests are already "
                       "waiting for the worker. Retry in a few seconds.",
                       retry_after=BUSY_RETRY_AFTER_S)
        job = Job(dict(msg, id=next(self._ids)), asyncio.get_running_loop().create_future(),
                  timeout)
        self.total += 1
        waiting.append(job)
        self._arrived.set()
        return job

    async def next(self) -> Job:
        """The next job to hand to the worker, once there is one: a stream's
        first, unless file work has already waited FILE_PASS_S behind them."""
        while True:
            job = self._take()
            if job is not None:
                return job
            self._arrived.clear()
            await self._arrived.wait()

    def _take(self) -> Job | None:
        streams, files = self._waiting[STREAM], self._waiting[FILE]
        now = self._clock()
        if streams and files and self._passed_since is None:
            self._passed_since = now
        if streams and not (files and now - self._passed_since >= self.file_pass_s):
            if not files:
                self._passed_since = None
            return streams.popleft()
        self._passed_since = None
        return files.popleft() if files else None

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
        for waiting in self._waiting.values():
            while waiting:
                self.fail(waiting.popleft(), exc)

    # ------------------------------------------------------------ reporting
    @property
    def depth(self) -> int:
        return sum(len(w) for w in self._waiting.values())

    @property
    def busy(self) -> bool:
        return self.current is not None

    @property
    def avg_wait_ms(self) -> float:
        started = self.completed + self.failed
        return round(self._wait_ms_sum / started, 1) if started else 0.0
