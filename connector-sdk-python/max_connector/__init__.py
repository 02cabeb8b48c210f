"""Write Max connectors in Python.

A connector is a WebAssembly component that tells Max what data it can load (its schema, loaders and
permissions) and loads it on request through HTTP calls the host makes for it. Subclass `Connector`,
describe yourself with the builders, call your API with `http`, return rows in `Batch`es, and export
the class from your app module:

    from max_connector import Connector, export
    class Notes(Connector): ...
    Source = export(Notes)

Build with `max connector build` (componentize-py, pinned by Max). Test natively with
`max_connector.testing`, which answers requests from a fake instead of the host.
"""

from __future__ import annotations

from . import http
from ._log import log
from .batch import Batch, ChangePage, Page, RowWriter, Value
from .config import Config, DiscoveredField, Discovery
from .connector import Connector
from .describe import ConnectorInfo, EntityBuilder, FieldDef, FieldType, Loader, Onboarding, Permissions, RequestLimit, Schema
from .errors import (
    ConnectorError,
    Forbidden,
    InvalidInput,
    InvalidResponse,
    NotFound,
    Other,
    RateLimited,
    Transient,
    Unauthorized,
)
from .plan import EntityRef, Operation, SeedState, SyncPlan, Target
from .table import Column, Kind, Table

#: The contract this SDK builds against.
CONTRACT_VERSION = "0.4.0"

__all__ = [
    "Batch",
    "ChangePage",
    "Column",
    "Config",
    "Connector",
    "ConnectorError",
    "ConnectorInfo",
    "CONTRACT_VERSION",
    "DiscoveredField",
    "Discovery",
    "EntityBuilder",
    "EntityRef",
    "FieldDef",
    "FieldType",
    "Forbidden",
    "InvalidInput",
    "InvalidResponse",
    "Kind",
    "Loader",
    "NotFound",
    "Onboarding",
    "Operation",
    "Other",
    "Page",
    "Permissions",
    "RateLimited",
    "RequestLimit",
    "RowWriter",
    "Schema",
    "SeedState",
    "SyncPlan",
    "Table",
    "Target",
    "Transient",
    "Unauthorized",
    "Value",
    "export",
    "http",
    "log",
]


def export(connector: type) -> type:
    """The class to export as the component's `source` interface: `Source = export(MyConnector)` in the
    app module componentize-py builds. Works only inside a component build."""
    from ._export import export as _export

    return _export(connector)
