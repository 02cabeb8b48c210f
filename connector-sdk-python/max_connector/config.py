"""The non-secret configuration collected by onboarding."""

from __future__ import annotations

from typing import Iterable, List, Optional, Tuple

from .errors import InvalidInput
from .describe import FieldType


class DiscoveredField:
    """A field `discover` found that the host accepted for this installation."""

    def __init__(self, entity: str, name: str, type: FieldType, description: Optional[str]) -> None:
        self.entity = entity
        self.name = name
        self.type = type
        self.description = description


class Config:
    """Key/value pairs from onboarding, and the fields discovered so far."""

    def __init__(self, entries: Iterable[Tuple[str, str]] = (), discovered: Iterable[DiscoveredField] = ()) -> None:
        self.entries: List[Tuple[str, str]] = list(entries)
        #: The fields the host accepted from an earlier `discover` (empty before the first).
        self.discovered: List[DiscoveredField] = list(discovered)

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        """The value of `key`, or `default` when it isn't set."""
        for k, v in self.entries:
            if k == key:
                return v
        return default

    def require(self, key: str) -> str:
        """The value of `key`, or an `InvalidInput` error naming it."""
        value = self.get(key)
        if not value:
            raise InvalidInput(f"missing config value `{key}`")
        return value

    def base_url(self, default: str) -> str:
        """The API's base URL: `base_url` (or `default`) without a trailing `/`; `InvalidInput` unless
        it starts with `https://` (or `http://`, for test servers)."""
        base_url = (self.get("base_url") or default).rstrip("/")
        if not (base_url.startswith("https://") or base_url.startswith("http://")):
            raise InvalidInput(f"base_url `{base_url}` must start with https://")
        return base_url


class Discovery:
    """What `discover` found: fields the account adds to declared entity types (contract 0.2.0)."""

    def __init__(self, refill_on_new_fields: bool = False) -> None:
        self.fields: List[DiscoveredField] = []
        #: Whether a field that appears holds values for objects that didn't change (the host then
        #: makes the next sync full).
        self.refill_on_new_fields = refill_on_new_fields

    def field(self, entity: str, name: str, type: FieldType, description: Optional[str] = None) -> "Discovery":
        """Adds field `name` of `type` to entity type `entity`."""
        self.fields.append(DiscoveredField(entity, name, type, description))
        return self
