"""Entity data: batches of rows packed in the contract's format (`entity-batch` in `wit/types.wit`),
pages of collections and pages of change feeds.

A batch names its columns once; each row is one value per column followed by its id. Values are
written straight into two buffers, so a row costs no objects of its own once it is added.
"""

from __future__ import annotations

import json as _json
import math
import struct
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

_NULL, _TEXT, _INTEGER, _FLOAT, _FALSE, _TRUE, _DATETIME, _JSON, _REFERENCE, _COLLECTION = range(10)
_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")


def _varint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


class Value:
    """A typed value for `Batch.row`, where a plain Python value doesn't say which type it is
    (a datetime, a reference, JSON text or a collection). Plain `str`, `int`, `float`, `bool` and
    `None` are text, integer, float, boolean and null."""

    __slots__ = ("tag", "payload")

    def __init__(self, tag: int, payload: Any) -> None:
        self.tag = tag
        self.payload = payload

    @staticmethod
    def datetime(text: str) -> "Value":
        """An ISO-8601 instant or date."""
        return Value(_DATETIME, text)

    @staticmethod
    def reference(id: str) -> "Value":
        """The id of a referenced entity."""
        return Value(_REFERENCE, id)

    @staticmethod
    def json(value: Any) -> "Value":
        """Any JSON value, serialized."""
        return Value(_JSON, _json.dumps(value, separators=(",", ":"), ensure_ascii=False))

    @staticmethod
    def json_text(text: str) -> "Value":
        """JSON already serialized."""
        return Value(_JSON, text)

    @staticmethod
    def collection(ids: Iterable[str]) -> "Value":
        """The ids of a collection's items, in order."""
        return Value(_COLLECTION, list(ids))


class RowWriter:
    """One row being written into a batch: set values by column index, in any order, then `finish(id)`.
    A column set twice keeps its first value; columns never set are null. A writer never finished
    (say, on a parse error halfway) leaves the batch as it was."""

    __slots__ = ("_batch", "_data_start", "_text_start", "_seen")

    def __init__(self, batch: "Batch") -> None:
        self._batch = batch
        self._data_start = len(batch._data)
        self._text_start = len(batch._text)
        self._seen = 0

    def _claim(self, column: int, tag: int) -> bool:
        if not 0 <= column < len(self._batch.columns):
            raise IndexError(f"column {column} of a batch of {len(self._batch.columns)} columns")
        bit = 1 << column
        if self._seen & bit:
            return False
        self._seen |= bit
        data = self._batch._data
        _varint(data, column)
        data.append(tag)
        return True

    def _span(self, text: str) -> None:
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            # A lone surrogate (JSON may carry "\ud800") is no UTF-8: it becomes U+FFFD, as in JavaScript.
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            size = len(text.encode("utf-8"))
        _varint(self._batch._data, size)
        self._batch._text.append(text)

    def _spanned(self, column: int, tag: int, text: str) -> "RowWriter":
        if self._claim(column, tag):
            self._span(str(text))
        return self

    def null(self, column: int) -> "RowWriter":
        """Sets `column` to null (the API said null)."""
        self._claim(column, _NULL)
        return self

    def text(self, column: int, value: str) -> "RowWriter":
        """Sets a string field."""
        return self._spanned(column, _TEXT, value)

    def integer(self, column: int, value: int) -> "RowWriter":
        """Sets an integer field (a signed 64-bit number)."""
        if self._claim(column, _INTEGER):
            self._batch._data += _I64.pack(value)
        return self

    def float(self, column: int, value: float) -> "RowWriter":
        """Sets a float field; must be finite."""
        if not math.isfinite(value):
            raise ValueError(f"a float must be finite, not {value}")
        if self._claim(column, _FLOAT):
            self._batch._data += _F64.pack(value)
        return self

    def boolean(self, column: int, value: bool) -> "RowWriter":
        """Sets a boolean field."""
        self._claim(column, _TRUE if value else _FALSE)
        return self

    def datetime(self, column: int, text: str) -> "RowWriter":
        """Sets a datetime field (ISO-8601 text)."""
        return self._spanned(column, _DATETIME, text)

    def json(self, column: int, text: str) -> "RowWriter":
        """Sets a json field to serialized JSON text."""
        return self._spanned(column, _JSON, text)

    def reference(self, column: int, id: str) -> "RowWriter":
        """Sets a ref field to the referenced entity's id."""
        return self._spanned(column, _REFERENCE, id)

    def collection(self, column: int, ids: Sequence[str]) -> "RowWriter":
        """Sets a collection field to its items' ids, in order."""
        if self._claim(column, _COLLECTION):
            ids = list(ids)
            _varint(self._batch._data, len(ids))
            for id in ids:
                self._span(str(id))
        return self

    def value(self, column: int, value: Any) -> "RowWriter":
        """Sets `column` from a plain Python value or a `Value`."""
        if value is None:
            return self.null(column)
        if isinstance(value, Value):
            if value.tag == _COLLECTION:
                return self.collection(column, value.payload)
            return self._spanned(column, value.tag, value.payload)
        if isinstance(value, bool):
            return self.boolean(column, value)
        if isinstance(value, int):
            return self.integer(column, value)
        if isinstance(value, float):
            return self.float(column, value)
        if isinstance(value, str):
            return self.text(column, value)
        raise TypeError(f"column {column}: no field type holds a {type(value).__name__}; use Value.json")

    def finish(self, id: str) -> None:
        """Adds the row to the batch with this id; columns never set are null."""
        id = str(id)
        if not id:
            raise ValueError("an entity id can't be empty")
        for column in range(len(self._batch.columns)):
            if not self._seen & (1 << column):
                self.null(column)
        self._span(id)
        self._batch.row_count += 1
        self._data_start = -1

    def abandon(self) -> None:
        """Drops what was written of this row."""
        if self._data_start >= 0:
            del self._batch._data[self._data_start :]
            del self._batch._text[self._text_start :]
            self._data_start = -1


class Batch:
    """Entities of one type sharing a column list, packed as rows are added."""

    def __init__(self, entity: str, columns: Sequence[str]) -> None:
        self.entity = entity
        self.columns: List[str] = list(columns)
        self.row_count = 0
        self._data = bytearray()
        self._text: List[str] = []

    def __len__(self) -> int:
        return self.row_count

    def start_row(self) -> RowWriter:
        """A writer for one row; call `finish(id)` on it to add the row."""
        return RowWriter(self)

    def row(self, id: str, values: Sequence[Any]) -> None:
        """Adds a row with one value per column, in column order (plain values or `Value`s)."""
        if len(values) != len(self.columns):
            raise ValueError(f"{len(values)} values for {len(self.columns)} columns of {self.entity}")
        writer = RowWriter(self)
        try:
            for column, value in enumerate(values):
                writer.value(column, value)
            writer.finish(id)
        except BaseException:
            writer.abandon()
            raise

    def add(self, id: str, values: Dict[str, Any]) -> None:
        """Adds a row from a mapping of column name to value; columns left out are null."""
        writer = RowWriter(self)
        try:
            for name, value in values.items():
                writer.value(self.columns.index(name), value)
            writer.finish(id)
        except BaseException:
            writer.abandon()
            raise

    @staticmethod
    def id_only(entity: str) -> "Batch":
        """A batch with no columns: its rows only say these entities exist."""
        return Batch(entity, [])

    def packed(self) -> Tuple[bytes, str]:
        """The two buffers the contract carries: `data` and `text`."""
        return bytes(self._data), "".join(self._text)


class Page:
    """One page of a collection: its items, other entities found along the way, the next cursor."""

    def __init__(self, items: Batch, next_cursor: Optional[str] = None) -> None:
        self.items = items
        self.related: List[Batch] = []
        self.next_cursor = next_cursor

    def next(self, cursor: Optional[str]) -> "Page":
        """Sets the cursor of the next page (None on the last page)."""
        self.next_cursor = cursor
        return self

    def with_related(self, batch: Batch) -> "Page":
        """Adds entities found along the way (users embedded in tasks, say)."""
        self.related.append(batch)
        return self


class ChangePage:
    """One page of a change feed: upserts, deletions, the cursor to store, whether more waits."""

    def __init__(self, next_cursor: str, has_more: bool = False) -> None:
        self.upserts: List[Batch] = []
        self.deletions: List[Tuple[str, str]] = []
        self.next_cursor = next_cursor
        self.has_more = has_more

    def upsert(self, batch: Batch) -> "ChangePage":
        """Entities created or updated since the cursor."""
        self.upserts.append(batch)
        return self

    def delete(self, entity: str, id: str) -> "ChangePage":
        """An entity deleted or archived since the cursor."""
        self.deletions.append((entity, str(id)))
        return self
