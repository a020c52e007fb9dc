"""Errors of the SDK: a server error with its ErrorInfo reason, and the failures a handler raises."""
from __future__ import annotations

from typing import Any, Dict, Optional

import grpc

from ._proto.google.rpc import error_details_pb2, status_pb2


class SwitchyardError(Exception):
    """A call the server refused: the gRPC code name, the ErrorInfo reason and its metadata."""

    def __init__(self, code: str, reason: str, message: str, metadata: Optional[Dict[str, str]] = None):
        super().__init__(f"{code} {reason}: {message}" if reason else f"{code}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.metadata = metadata or {}

    @staticmethod
    def from_rpc(error: grpc.RpcError) -> "SwitchyardError":
        code = error.code().name if hasattr(error, "code") and error.code() else "UNKNOWN"
        message = error.details() if hasattr(error, "details") else str(error)
        reason, metadata = "", {}
        trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
        for key, value in trailers or ():
            if key == "grpc-status-details-bin":
                status = status_pb2.Status.FromString(value)
                for detail in status.details:
                    if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                        info = error_details_pb2.ErrorInfo()
                        detail.Unpack(info)
                        reason, metadata = info.reason, dict(info.metadata)
        return SwitchyardError(code, reason, message or "", metadata)


class TaskFailure(Exception):
    """Raised by a handler to fail the attempt with a reason and details (retryable by default)."""

    retryable = True

    def __init__(self, message: str = "", *, reason: str = "", details: Optional[Dict[str, Any]] = None,
                 retry_delay: Optional[float] = None):
        super().__init__(message)
        self.reason = reason
        self.details = details
        self.retry_delay = retry_delay


class RetryableError(TaskFailure):
    """The attempt failed and another attempt may succeed (the server retries with backoff)."""

    retryable = True


class NonRetryableError(TaskFailure):
    """The attempt failed for good: the task goes to the dead-letter set whatever attempts are left."""

    retryable = False


class TaskCancelled(Exception):
    """Raised inside a handler (by `ctx.raise_if_cancelled()`) once its task was cancelled or taken away."""
