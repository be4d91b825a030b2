"""The restart policy: what to do when a worker exits. Pure bookkeeping.

No asyncio, no processes, no clock: the supervisor tells it how long the
worker lived, whether it had become ready and whether the exit was expected,
and it answers "restart after this delay", "give up" or "nothing", counting
restarts and consecutive fast failures on the way. That keeps the rules of
docs/architecture.md ("Supervision rules") testable without a worker.

- An expected exit (a stop, a recycle, a model that could not load, which the
  worker reports before it exits) asks for nothing: a load failure is a
  configuration error, and retrying it in a loop would only repeat it.
- An unexpected exit within `fast_window` seconds of the start, or before the
  worker ever became ready, is a *fast* failure; consecutive fast failures
  back off along `backoff` (its last step repeats), and the `max_fast_failures`-th
  gives up. A failure after a longer healthy run starts the count again.
"""
from __future__ import annotations

from dataclasses import dataclass

FAST_FAILURE_WINDOW = 10.0   # a worker dying sooner than this after start counts as a fast failure
MAX_FAST_FAILURES = 5
BACKOFF = (0.0, 0.5, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class Restart:
    """Start a new worker after `delay` seconds."""
    delay: float


@dataclass(frozen=True)
class GiveUp:
    """Stop restarting; `reason` is the sentence shown to the user."""
    reason: str


class RestartPolicy:
    def __init__(self, backoff: tuple[float, ...] = BACKOFF,
                 max_fast_failures: int = MAX_FAST_FAILURES,
                 fast_window: float = FAST_FAILURE_WINDOW):
        if not backoff:
            raise ValueError("The restart backoff needs at least one delay.")
        self.backoff = tuple(backoff)
        self.max_fast_failures = max_fast_failures
        self.fast_window = fast_window
        self.fast_failures = 0   # consecutive fast failures, reset by a deliberate restart
        self.restarts = 0        # every worker started after the first one

    def after_exit(self, lived: float, was_ready: bool, expected: bool) -> Restart | GiveUp | None:
        """The worker exited `lived` seconds after it started. None: do nothing."""
        if expected:
            return None
        fast = not was_ready or lived < self.fast_window
        self.fast_failures = self.fast_failures + 1 if fast else 1
        if self.fast_failures >= self.max_fast_failures:
            return GiveUp(
                f"The ASR worker failed {self.fast_failures} times in a row soon after "
                "starting, so the service stopped restarting it. See the service log, "
                "then restart the worker (POST /v1/worker/restart or the tray menu).")
        return Restart(self.backoff[min(self.fast_failures - 1, len(self.backoff) - 1)])

    def restarted(self, deliberate: bool = False) -> None:
        """A new worker was started in place of an old one. A deliberate
        restart (asked for by a client, or a timeout) is a fresh start: the
        failures before it no longer count towards giving up."""
        self.restarts += 1
        if deliberate:
            self.fast_failures = 0
