"""StateWatch: the one way to wait for the supervisor to change.

The supervisor's state, its worker generation and the worker's exit all
change on the event loop, mostly in callbacks (the reader thread hands every
message over with call_soon_threadsafe), where nothing can be awaited. So a
change is recorded at once (the value and a version counter move together)
and the waiters are woken through an asyncio.Condition from a small task.
Waiters always re-check their predicate against the recorded values, so a
wake-up that comes one loop turn late cannot make anyone miss a change:
`wait_changed()` waits for the version to move past the one it saw first.
"""
from __future__ import annotations

import asyncio
from typing import Callable


class StateWatch:
    def __init__(self, initial: str):
        self.value = initial
        self.version = 0
        self._cond = asyncio.Condition()
        self._wakers: set[asyncio.Task] = set()  # held so they are not collected mid-way

    def set(self, value: str) -> None:
        """Record a new state and wake the waiters."""
        self.value = value
        self.changed()

    def changed(self) -> None:
        """Something observable changed (the state, or which worker runs)."""
        self.version += 1
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # the synchronous exit path: no loop here, so no waiter to wake
        task = loop.create_task(self._wake())
        self._wakers.add(task)
        task.add_done_callback(self._wakers.discard)

    async def _wake(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        """Wait until predicate() holds; False if `timeout` seconds pass first."""
        async def until() -> None:
            async with self._cond:
                await self._cond.wait_for(predicate)
        try:
            await asyncio.wait_for(until(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def wait_changed(self) -> None:
        """Return after the next change."""
        seen = self.version
        await self.wait_for(lambda: self.version != seen)
