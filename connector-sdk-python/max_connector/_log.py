"""Logging through the host: messages go to Max's log (`max -v`) with the connector named."""

from __future__ import annotations

import sys
from typing import Callable

LEVELS = ("trace", "debug", "info", "warn", "error")


def _stderr(level: str, message: str) -> None:
    print(f"[{level}] {message}", file=sys.stderr)


_sink: Callable[[str, str], None] = _stderr


def set_sink(sink: Callable[[str, str], None]) -> None:
    """Where messages go: the host inside a component, stderr natively."""
    global _sink
    _sink = sink


def log(level: str, message: str) -> None:
    """Logs `message` at `level` (`trace`, `debug`, `info`, `warn` or `error`). The host truncates long
    messages, blanks control characters and drops messages from a connector that logs too much."""
    if level not in LEVELS:
        raise ValueError(f"log level {level!r}: one of {', '.join(LEVELS)}")
    _sink(level, str(message))
