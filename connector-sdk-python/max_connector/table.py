"""Entity tables: declare each entity type once, as columns (the field in Max, where the API keeps it,
what it holds), and derive the schema entity, the by-id loader, empty batches and rows from API
objects from that one declaration.

    TASK = Table("Task", "A task in a project", [
        Column("title", Kind.TEXT).searchable(5),
        Column("project", Kind.ref("Project"), source="projectId"),
    ])
    schema.entity("Task", TASK.declare)
    batch = TASK.batch(); TASK.push(batch, {"id": "t1", "title": "Write", "projectId": "p1"})
"""

from __future__ import annotations

import json as _json
from dataclasses import dataclass, replace
from typing import Any, Dict, Iterable, List, Optional, Sequence

from .batch import Batch, RowWriter
from .describe import EntityBuilder, FieldType, Loader
from .errors import InvalidResponse


class Kind:
    """What a column holds, which gives its field type in Max."""

    TEXT = FieldType.STRING
    INTEGER = FieldType.INTEGER
    FLOAT = FieldType.FLOAT
    BOOLEAN = FieldType.BOOLEAN
    DATETIME = FieldType.DATETIME
    JSON = FieldType.JSON

    @staticmethod
    def ref(entity: str) -> FieldType:
        """The id of one entity of type `entity`."""
        return FieldType.ref(entity)

    @staticmethod
    def collection(entity: str) -> FieldType:
        """The ids of entities of type `entity`."""
        return FieldType.collection(entity)


@dataclass(frozen=True)
class Column:
    """One column: `field` in Max, read from the API's key `source` (the field's name by default)."""

    field: str
    kind: FieldType
    source: Optional[str] = None
    doc: str = ""
    search_weight: int = 0

    @property
    def key(self) -> str:
        """Where the API keeps it."""
        return self.source or self.field

    def searchable(self, weight: int) -> "Column":
        """The same text column in the full-text index, a match counting `weight` (1 to 100)."""
        return replace(self, search_weight=weight)


class Table:
    """An entity type declared as a table of columns."""

    def __init__(self, entity: str, description: str, columns: Sequence[Column]) -> None:
        self.entity = entity
        self.description = description
        self.columns: List[Column] = list(columns)
        self._by_key: Dict[str, int] = {c.key: i for i, c in enumerate(self.columns)}

    def fields(self) -> List[str]:
        """The field names, in column order."""
        return [c.field for c in self.columns]

    def declare(self, builder: EntityBuilder) -> EntityBuilder:
        """Declares the description and every column on a schema entity (more fields may follow)."""
        if self.description:
            builder.describe(self.description)
        for column in self.columns:
            builder.field(column.field, column.kind, column.doc or None)
            if column.search_weight:
                builder.searchable(column.field, column.search_weight)
        return builder

    def batch(self) -> Batch:
        """An empty batch whose rows carry every column."""
        return Batch(self.entity, self.fields())

    def by_id_loader(self, name: str, max_batch: int) -> Loader:
        """A batched loader `name` of up to `max_batch` ids filling every column."""
        return Loader.batched(name, self.entity, max_batch).fills(self.fields())

    def push(self, batch: Batch, obj: Dict[str, Any]) -> None:
        """Appends one API object (a parsed JSON object) as a row: each column read from its key, typed
        by its kind; keys no column wants are ignored. The id is `obj["id"]`."""
        if not isinstance(obj, dict):
            raise InvalidResponse(f"a {self.entity} object expected, not {type(obj).__name__}")
        id = obj.get("id")
        if id is None or id == "":
            raise InvalidResponse(f"a {self.entity} without an id")
        row = batch.start_row()
        try:
            for key, value in obj.items():
                column = self._by_key.get(key)
                if column is not None:
                    _write(row, column, self.columns[column], value)
            row.finish(_text(id))
        except BaseException:
            row.abandon()
            raise

    def rows(self, objects: Iterable[Dict[str, Any]]) -> Batch:
        """A batch of every object of a list response."""
        batch = self.batch()
        if not isinstance(objects, list):
            raise InvalidResponse(f"a list of {self.entity} objects expected")
        for obj in objects:
            self.push(batch, obj)
        return batch


def _text(value: Any) -> str:
    """A string, or the JSON text of any other scalar (`12` → `"12"`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return _json.dumps(value)


def _write(row: RowWriter, column: int, spec: Column, value: Any) -> None:
    kind = spec.kind.kind
    if value is None:
        row.null(column)
    elif kind == "json":
        row.json(column, _json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    elif kind == "string":
        row.text(column, _text(value))
    elif kind == "datetime":
        row.datetime(column, _text(value))
    elif kind == "ref":
        row.reference(column, _text(value))
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidResponse(f"{spec.field}: a boolean expected, not {value!r}")
        row.boolean(column, value)
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise InvalidResponse(f"{spec.field}: an integer expected, not {value!r}")
        try:
            number = int(value)
        except ValueError:
            raise InvalidResponse(f"{spec.field}: an integer expected, not {value!r}") from None
        if number != value and not isinstance(value, str):
            raise InvalidResponse(f"{spec.field}: an integer expected, not {value!r}")
        row.integer(column, number)
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidResponse(f"{spec.field}: a number expected, not {value!r}")
        row.float(column, float(value))
    elif kind == "collection":
        if not isinstance(value, list):
            raise InvalidResponse(f"{spec.field}: a list of ids expected")
        row.collection(column, [_text(v) for v in value])
    else:
        raise InvalidResponse(f"{spec.field}: unknown kind {kind}")
