"""Sync plans: what `seed` returns. Groups of steps run one after the other; a group's steps run
concurrently."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class EntityRef:
    """One entity, by type and id."""

    entity: str
    id: str


@dataclass(frozen=True)
class Target:
    """What a step applies to: `Target.ROOT`, `Target.all(entity)` or `Target.one(entity, id)`."""

    kind: str
    entity: str = ""
    id: str = ""

    ROOT = None  # type: ignore[assignment]

    @staticmethod
    def all(entity: str) -> "Target":
        """Every entity of this type known when the step runs."""
        return Target("all", entity)

    @staticmethod
    def one(entity: str, id: str) -> "Target":
        """One entity."""
        return Target("one", entity, id)


Target.ROOT = Target("root")  # type: ignore[misc]


@dataclass(frozen=True)
class Operation:
    """What a step does: load fields, load a collection, follow a change feed."""

    kind: str
    fields: Tuple[str, ...] = ()
    name: str = ""

    @staticmethod
    def fields_of(fields: Sequence[str]) -> "Operation":
        """Fill these fields through their resolvers' loaders."""
        return Operation("load-fields", tuple(fields))

    @staticmethod
    def collection(field_name: str) -> "Operation":
        """Load every page of this collection field."""
        return Operation("load-collection", name=field_name)

    @staticmethod
    def changes(loader: str) -> "Operation":
        """Drain this change-feed loader from its stored cursor."""
        return Operation("follow-changes", name=loader)


class SyncPlan:
    """Ordered groups of steps."""

    def __init__(self) -> None:
        self.groups: List[List[Tuple[Target, Operation]]] = []

    def then(self, target: Target, operation: Operation) -> "SyncPlan":
        """A group of one step, after every earlier group."""
        self.groups.append([(target, operation)])
        return self

    def together(self, steps: Sequence[Tuple[Target, Operation]]) -> "SyncPlan":
        """A group of steps that run concurrently, after every earlier group."""
        self.groups.append(list(steps))
        return self


@dataclass
class SeedState:
    """What the host knows when it asks for a plan."""

    last_completed_sync: Optional[str]
    cursors: List[Tuple[str, str]] = field(default_factory=list)
    full: bool = False

    def cursor(self, loader: str) -> Optional[str]:
        """The cursor an earlier sync stored for change-feed `loader`."""
        return next((c for name, c in self.cursors if name == loader), None)
