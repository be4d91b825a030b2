"""The restart policy, on its own (pure, no processes) and inside the
supervisor with a stand-in worker (tests/support/standin_worker.py): backoff
in order, give-up after five fast failures, a healthy run resets the count,
a load failure is never retried, recycle and stop during a pending restart,
and a crash failing the request in flight at once. The backoff (a recording
sleep) and the clock are injected, so nothing waits real seconds."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import time

import pytest

from service.config import ModelConfig
from service.errors import LoadFailed, WorkerUnavailable
from service.supervision.policy import BACKOFF, GiveUp, Restart, RestartPolicy
from service.supervision.supervisor import State, Supervisor
from tests.support import standin_worker

# Scaled down but distinct, so the order shows.
QUICK = (0.0, 0.01, 0.02, 0.03, 0.04)
WAIT_S = 10  # a bound for a stand-in to start or go, never waited out when all is well


# ------------------------------------------------------------------ pure policy
def test_fast_failures_back_off_in_order_then_give_up():
    policy = RestartPolicy()
    decisions = [policy.after_exit(lived=0.2, was_ready=True, expected=False) for _ in range(5)]
    assert decisions[:4] == [Restart(d) for d in BACKOFF[:4]] == [
        Restart(0.0), Restart(0.5), Restart(1.0), Restart(2.0)]
    assert isinstance(decisions[4], GiveUp)
    assert "failed 5 times in a row" in decisions[4].reason
    assert "POST /v1/worker/restart" in decisions[4].reason


def test_the_last_delay_repeats():
    policy = RestartPolicy(backoff=(0.1, 0.2), max_fast_failures=4)
    delays = [policy.after_exit(0.0, True, False) for _ in range(3)]
    assert delays == [Restart(0.1), Restart(0.2), Restart(0.2)]


def test_a_worker_that_never_became_ready_fails_fast_however_long_it_took():
    policy = RestartPolicy(backoff=QUICK, fast_window=1.0)
    policy.after_exit(lived=50.0, was_ready=False, expected=False)
    assert policy.after_exit(lived=50.0, was_ready=False, expected=False) == Restart(QUICK[1])
    assert policy.fast_failures == 2


def test_a_failure_after_a_healthy_run_starts_the_count_again():
    policy = RestartPolicy(backoff=QUICK, fast_window=1.0)
    for _ in range(4):
        policy.after_exit(lived=0.1, was_ready=True, expected=False)
    assert policy.after_exit(lived=1.5, was_ready=True, expected=False) == Restart(QUICK[0])
    assert policy.fast_failures == 1
    assert policy.after_exit(lived=0.1, was_ready=True, expected=False) == Restart(QUICK[1])


def test_an_expected_exit_asks_for_nothing_and_counts_nothing():
    policy = RestartPolicy()
    assert policy.after_exit(lived=0.1, was_ready=False, expected=True) is None
    assert policy.fast_failures == 0 and policy.restarts == 0


def test_a_deliberate_restart_forgives_earlier_failures():
    policy = RestartPolicy(backoff=QUICK)
    for _ in range(4):
        policy.after_exit(0.1, True, False)
        policy.restarted()
    policy.restarted(deliberate=True)
    assert policy.restarts == 5 and policy.fast_failures == 0
    assert policy.after_exit(0.1, True, False) == Restart(QUICK[0])


# --------------------------------------------------- the supervisor, stand-in worker
class Backoff:
    """Stands in for asyncio.sleep in the supervisor's restarts: records each
    delay; with hold=True the restart waits until release() (or is cancelled)."""

    def __init__(self, hold: bool = False):
        self.delays: list[float] = []
        self.hold = hold
        self.sleeping = asyncio.Event()
        self._released = asyncio.Event()

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        self.sleeping.set()
        if self.hold:
            await self._released.wait()

    def release(self) -> None:
        self._released.set()


class Clock:
    """Stands in for time.monotonic in the supervisor: skip() makes every
    worker look as if it had run that much longer."""

    def __init__(self):
        self.skipped = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skipped

    def skip(self, seconds: float) -> None:
        self.skipped += seconds


@contextlib.asynccontextmanager
async def supervised(model: str, backoff: Backoff, clock=time.monotonic, **policy):
    sup = Supervisor(ModelConfig(model=model), target=standin_worker.run,
                     policy=RestartPolicy(**{"backoff": QUICK, **policy}), sleep=backoff.sleep,
                     clock=clock)
    await sup.start()
    try:
        yield sup
    finally:
        await sup.stop(grace=0.5)
        assert multiprocessing.active_children() == [], "the supervisor left a worker running"


async def until(sup: Supervisor, predicate, timeout: float = WAIT_S) -> None:
    """Wait on the supervisor's own change notifications for predicate()."""
    deadline = time.monotonic() + timeout
    while not predicate():
        left = deadline - time.monotonic()
        assert left > 0, f"not reached in {timeout} s: state {sup.state}, gen {sup.gen.number}"
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(sup.wait_changed(), left)


async def settle() -> None:
    """Let every callback and task that is already due run."""
    for _ in range(10):
        await asyncio.sleep(0)


async def crash_when_ready(sup: Supervisor) -> None:
    assert await sup.wait_ready(WAIT_S)
    gen = sup.gen
    os.kill(gen.pid, signal.SIGKILL)
    await until(sup, lambda: gen.gone)


def test_supervisor_backs_off_in_order_then_gives_up_and_fails_queued_requests():
    async def scenario():
        backoff = Backoff()
        async with supervised("crash-at-once", backoff) as sup:
            # The first waits in the dispatcher, the second in the queue.
            queued = [asyncio.ensure_future(sup.call({"op": "echo"})) for _ in range(2)]
            await until(sup, lambda: sup.state == State.GAVE_UP)
            assert backoff.delays == list(QUICK[:4])
            assert sup.restarts == 4 and sup.gen.number == 5
            assert "stopped restarting" in sup.error
            for task in queued:
                with pytest.raises(WorkerUnavailable) as caught:
                    await task
                assert caught.value.status == 503 and caught.value.message == sup.error
            with pytest.raises(WorkerUnavailable, match="stopped restarting"):
                await sup.call({"op": "echo"})
            assert not await sup.wait_ready(0)
    asyncio.run(scenario())


def test_supervisor_failure_after_a_healthy_run_resets_the_count():
    async def scenario():
        backoff, clock = Backoff(), Clock()
        async with supervised("echo", backoff, clock, fast_window=10.0) as sup:
            await crash_when_ready(sup)
            await crash_when_ready(sup)
            assert sup.fast_failures == 2
            assert await sup.wait_ready(WAIT_S)
            clock.skip(10.0)  # the third has now run past the fast-failure window
            await crash_when_ready(sup)
            assert sup.fast_failures == 1
            assert await sup.wait_ready(WAIT_S)
            assert backoff.delays == [QUICK[0], QUICK[1], QUICK[0]] and sup.restarts == 3
    asyncio.run(scenario())


def test_supervisor_reports_a_load_failure_once_and_never_retries(caplog):
    caplog.set_level(logging.ERROR, logger="asr.supervisor")

    async def scenario():
        backoff = Backoff()
        async with supervised("load-fail", backoff) as sup:
            assert not await sup.wait_ready(WAIT_S)
            assert sup.state == State.LOAD_FAILED
            assert sup.error == standin_worker.LOAD_FAILED_MESSAGE
            gen = sup.gen
            await until(sup, lambda: gen.gone)
            await settle()
            assert sup.gen is gen and sup.state == State.LOAD_FAILED
            assert sup.restarts == 0 and backoff.delays == [] and sup.worker_pid is None
            assert multiprocessing.active_children() == []
            with pytest.raises(LoadFailed) as caught:
                await sup.call({"op": "echo"})
            assert caught.value.status == 503
            assert caught.value.message == standin_worker.LOAD_FAILED_MESSAGE
    asyncio.run(scenario())
    reports = [r for r in caplog.records if "model load failed" in r.getMessage()]
    assert len(reports) == 1, [r.getMessage() for r in caplog.records]


def test_recycle_while_a_restart_is_pending_leaves_exactly_one_worker():
    async def scenario():
        backoff = Backoff(hold=True)
        async with supervised("echo", backoff) as sup:
            await crash_when_ready(sup)
            await backoff.sleeping.wait()
            assert sup.state == State.RESTARTING
            await asyncio.gather(sup.recycle("first"), sup.recycle("second"))
            assert await sup.wait_ready(WAIT_S)
            backoff.release()  # had the pending restart survived, it would go on now
            await settle()
            assert sup.gen.number == 2 and sup.restarts == 1
            assert [p.pid for p in multiprocessing.active_children()] == [sup.worker_pid]
            assert (await sup.call({"op": "echo"})) == {"op": "echo"}
    asyncio.run(scenario())


def test_stop_during_backoff_spawns_nothing_more():
    async def scenario():
        backoff = Backoff(hold=True)
        async with supervised("echo", backoff) as sup:
            await crash_when_ready(sup)
            await backoff.sleeping.wait()
            await sup.stop(grace=0.5)
            backoff.release()
            await settle()
            assert sup.state == State.STOPPED
            assert sup.gen.number == 1 and sup.restarts == 0
            assert multiprocessing.active_children() == []
    asyncio.run(scenario())


def test_a_request_in_flight_when_the_worker_crashes_fails_at_once_with_503():
    async def scenario():
        async with supervised("echo", Backoff()) as sup:
            assert await sup.wait_ready(WAIT_S)
            t0 = time.monotonic()
            with pytest.raises(WorkerUnavailable) as caught:
                await asyncio.wait_for(sup.call({"op": "crash"}), WAIT_S)
            assert time.monotonic() - t0 < 2.0, "the caller waited for a dead worker"
            assert caught.value.status == 503 and "stopped unexpectedly" in caught.value.message
            assert sup.last_exit == standin_worker.CRASH_EXIT
            assert await sup.wait_ready(WAIT_S) and sup.restarts == 1
            assert (await sup.call({"op": "echo"})) == {"op": "echo"}
    asyncio.run(scenario())
