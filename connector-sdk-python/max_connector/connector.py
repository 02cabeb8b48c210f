"""The connector class an author subclasses."""

from __future__ import annotations

from typing import List

from .batch import Batch, ChangePage, Page
from .config import Config, Discovery
from .describe import ConnectorInfo, RequestLimit
from .errors import ConnectorError, InvalidInput
from .plan import EntityRef, SeedState, SyncPlan


class Connector:
    """A connector: what it is (`describe`) and how it loads data.

    The host creates one object per instance, `YourConnector(config)`, and then calls the other methods
    on it, one call at a time. Raise a `ConnectorError` subclass when a call fails: its kind tells the
    host whether to retry, wait or stop. Export the class with `Source = export(YourConnector)` in the
    module you build (`app.py`).
    """

    def __init__(self, config: Config) -> None:
        self.config = config

    @staticmethod
    def describe() -> ConnectorInfo:
        """Describes the connector: pure data, with no HTTP and no dependence on config."""
        raise NotImplementedError("a connector describes itself: implement the static method `describe`")

    @staticmethod
    def request_limits() -> List[RequestLimit]:
        """Limits the API sets on groups of requests without saying so in its responses; most have none."""
        return []

    def validate(self) -> str:
        """Checks that the config and credentials work by calling the API; returns what it connected to."""
        raise InvalidInput("this connector has no validate step")

    def discover(self) -> Discovery:
        """Reads the fields the account adds to declared entity types (before each new sync)."""
        return Discovery()

    def select_options(self, key: str) -> List[tuple]:
        """The `(value, label)` options of a dynamic select step."""
        raise InvalidInput(f"no dynamic select step named `{key}`")

    def seed(self, state: SeedState) -> SyncPlan:
        """Plans a sync."""
        raise NotImplementedError("a connector plans its syncs: implement `seed`")

    def load(self, loader: str, refs: List[EntityRef]) -> List[Batch]:
        """Runs a single, batched or raw loader; returns batches (of any declared types)."""
        raise ConnectorError.unknown_loader(loader)

    def load_page(self, loader: str, parent: EntityRef, cursor: "str | None") -> Page:
        """Runs a collection loader for one page of `parent`'s collection."""
        raise ConnectorError.unknown_loader(loader)

    def changes(self, loader: str, cursor: "str | None") -> ChangePage:
        """Runs a change-feed loader from `cursor` (None: no sync stored one yet)."""
        raise ConnectorError.unknown_loader(loader)

    def changes_of(self, loader: str, parent: EntityRef, cursor: "str | None") -> ChangePage:
        """Runs a change feed followed per entity (`Loader.per`, contract 0.4.0) on `parent`'s feed from
        `cursor`; None means no sync followed this parent yet, so read everything it holds."""
        raise ConnectorError.unknown_loader(loader)
