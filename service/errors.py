"""Failures that carry a sentence for the user and an HTTP status."""
from __future__ import annotations


class ServiceError(Exception):
    status = 500

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.retry_after = retry_after


class BadInput(ServiceError):
    """The request is wrong; the worker is fine."""
    status = 400


class TooLong(BadInput):
    """More audio than a request may carry (found while decoding)."""


class LoadFailed(ServiceError):
    """The model could not be loaded: a configuration problem, not a crash to retry."""
    status = 503


class WorkerUnavailable(ServiceError):
    status = 503


class Busy(ServiceError):
    status = 503


class TimedOut(ServiceError):
    status = 504
