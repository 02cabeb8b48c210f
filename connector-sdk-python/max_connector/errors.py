"""Typed connector errors: the kind tells the host whether to retry, wait or stop.

Raise them from any connector method; the SDK returns them to the host as the contract's
`connector-error`. Any other exception becomes `other` with its type and message.
"""

from __future__ import annotations

from typing import Optional


class ConnectorError(Exception):
    """A connector call failed. Use one of the subclasses, whose kind the host acts on."""

    #: The contract's name for this kind (`rate-limited`, `unauthorized`, ...).
    kind = "other"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    @staticmethod
    def unknown_loader(loader: str) -> "InvalidInput":
        """The host named a loader this connector doesn't have."""
        return InvalidInput(f"unknown loader `{loader}`")


class RateLimited(ConnectorError):
    """The API asked us to slow down; the host retries after `retry_after_ms` (when the API said)."""

    kind = "rate-limited"

    def __init__(self, retry_after_ms: Optional[int] = None) -> None:
        super().__init__("rate limited" if retry_after_ms is None else f"rate limited for {retry_after_ms} ms")
        self.retry_after_ms = retry_after_ms


class Unauthorized(ConnectorError):
    """The credentials were refused (expired, revoked or wrong): retrying will not help."""

    kind = "unauthorized"


class Forbidden(ConnectorError):
    """The credentials are valid but lack access to this data."""

    kind = "forbidden"


class NotFound(ConnectorError):
    """The requested entity or page does not exist."""

    kind = "not-found"


class Transient(ConnectorError):
    """A temporary failure (5xx, timeout, connection reset): retrying may help."""

    kind = "transient"


class InvalidInput(ConnectorError):
    """The host or the user gave the connector something it can't use (unknown loader, bad config)."""

    kind = "invalid-input"


class InvalidResponse(ConnectorError):
    """The API returned something the connector can't make sense of."""

    kind = "invalid-response"


class Other(ConnectorError):
    """Anything else."""

    kind = "other"
