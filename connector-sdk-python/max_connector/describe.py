"""What a connector says about itself: schema, loaders, onboarding and permissions, built as data.

`describe` must be pure data (no HTTP, no config): the host calls it before anything else, shows it in
`max schema`, and checks it at install.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Dict, List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class FieldType:
    """The type of a field, which decides its SQLite column. Use the constants and `ref`/`collection`."""

    kind: str
    target: Optional[str] = None

    STRING: ClassVar["FieldType"]
    INTEGER: ClassVar["FieldType"]
    FLOAT: ClassVar["FieldType"]
    BOOLEAN: ClassVar["FieldType"]
    DATETIME: ClassVar["FieldType"]
    JSON: ClassVar["FieldType"]

    @staticmethod
    def ref(entity: str) -> "FieldType":
        """A reference to one entity of type `entity`: the value is its id."""
        return FieldType("ref", entity)

    @staticmethod
    def collection(entity: str) -> "FieldType":
        """An ordered collection of entities of type `entity` (a link table)."""
        return FieldType("collection", entity)


for _name in ("string", "integer", "float", "boolean", "datetime", "json"):
    setattr(FieldType, _name.upper(), FieldType(_name))


@dataclass
class FieldDef:
    """One field of an entity type (`id` is implicit)."""

    name: str
    type: FieldType
    description: Optional[str] = None


@dataclass
class EntityDef:
    """One entity type: one table."""

    name: str
    description: Optional[str]
    fields: List[FieldDef]
    #: Its searchable fields and their weights (contract 0.3.0).
    searchable: List[Tuple[str, int]] = field(default_factory=list)
    #: Its owned collection fields (contract 0.3.0).
    owned: List[str] = field(default_factory=list)
    #: Fields loaded again only when their version fields change: (fields, versions) (contract 0.3.0).
    versioned: List[Tuple[List[str], List[str]]] = field(default_factory=list)


class EntityBuilder:
    """Declares one entity type's fields; made by `Schema.entity`."""

    def __init__(self, name: str) -> None:
        self.entity = EntityDef(name, None, [])

    def describe(self, text: str) -> "EntityBuilder":
        """One line for `max schema`."""
        self.entity.description = text
        return self

    def field(self, name: str, type: FieldType, description: Optional[str] = None) -> "EntityBuilder":
        """Adds a field of `type`."""
        self.entity.fields.append(FieldDef(name, type, description))
        return self

    def reference(self, name: str, target: str, description: Optional[str] = None) -> "EntityBuilder":
        """Adds a reference to one entity of type `target`."""
        return self.field(name, FieldType.ref(target), description)

    def collection(self, name: str, item: str, description: Optional[str] = None) -> "EntityBuilder":
        """Adds a collection of entities of type `item`."""
        return self.field(name, FieldType.collection(item), description)

    def searchable(self, name: str, weight: int) -> "EntityBuilder":
        """Indexes the string field `name` for `max search --match`, a match counting `weight` (1-100)."""
        self.entity.searchable.append((name, weight))
        return self

    def owns(self, field_name: str) -> "EntityBuilder":
        """The items of collection `field_name` belong to this entity: deleted with it, and when it no
        longer lists them."""
        self.entity.owned.append(field_name)
        return self

    def versioned(self, fields: Sequence[str], versions: Sequence[str]) -> "EntityBuilder":
        """`fields` are loaded again only when one of `versions` changes."""
        self.entity.versioned.append((list(fields), list(versions)))
        return self


class Schema:
    """The data model: entity types and the roots every sync starts from."""

    def __init__(self) -> None:
        self.entities: List[EntityDef] = []
        self.roots: List[Tuple[str, str]] = []

    def entity(self, name: str, build=None) -> "Schema":
        """Declares entity type `name`; `build(EntityBuilder)` adds its fields and returns the builder."""
        builder = EntityBuilder(name)
        if build is not None:
            builder = build(builder)
        self.entities.append(builder.entity)
        return self

    def root(self, entity: str, id: str) -> "Schema":
        """Declares the singleton `entity` with id `id` that syncs start from."""
        self.roots.append((entity, id))
        return self


@dataclass
class Loader:
    """A named way of fetching data. Make one with the static methods."""

    name: str
    entity: str
    #: `single`, `batched`, `collection`, `raw` or `change-feed`.
    kind: str
    max_batch: int = 0
    parent: str = ""
    collection_field: str = ""
    page_size: int = 0
    parent_field_name: Optional[str] = None
    description: Optional[str] = None
    #: The fields this loader fills (becomes a resolver).
    filled: List[str] = field(default_factory=list)
    #: For a change feed followed per entity: that entity type (contract 0.4.0).
    scope: Optional[str] = None

    @staticmethod
    def single(name: str, entity: str) -> "Loader":
        """`load` with one ref per call."""
        return Loader(name, entity, "single")

    @staticmethod
    def batched(name: str, entity: str, max_batch: int) -> "Loader":
        """`load` with up to `max_batch` refs per call."""
        return Loader(name, entity, "batched", max_batch=max_batch)

    @staticmethod
    def collection(name: str, parent: str, field_name: str, item: str, page_size: int) -> "Loader":
        """`load_page`: one page of `parent.field_name` (items of type `item`) per call."""
        return Loader(name, item, "collection", parent=parent, collection_field=field_name, page_size=page_size)

    @staticmethod
    def raw(name: str, entity: str) -> "Loader":
        """`load` with no refs: the loader decides what to fetch."""
        return Loader(name, entity, "raw")

    @staticmethod
    def change_feed(name: str, entity: str) -> "Loader":
        """`changes`: what changed since a cursor."""
        return Loader(name, entity, "change-feed")

    def per(self, entity: str) -> "Loader":
        """Follows this change feed per entity of type `entity` (contract 0.4.0): the host keeps a cursor
        for each and calls `Connector.changes_of` with it, on every entity a `follow-changes` step
        targets."""
        self.scope = entity
        return self

    def parent_field(self, field_name: str) -> "Loader":
        """The item's reference field naming its parent (keeps the collection current from a feed)."""
        self.parent_field_name = field_name
        return self

    def fills(self, fields: Sequence[str]) -> "Loader":
        """Declares a resolver: this loader fills `fields` of its entity."""
        self.filled = list(fields)
        return self

    def describe(self, text: str) -> "Loader":
        """One line for `max connector inspect`."""
        self.description = text
        return self


@dataclass
class OnboardingStep:
    """One step of `max connect`: `input`, `secret`, `select` or `validate`."""

    kind: str
    key: str = ""
    label: str = ""
    help: Optional[str] = None
    default_value: Optional[str] = None
    required: bool = True
    shown_when: Optional[Tuple[str, str]] = None
    options: List[Tuple[str, str]] = field(default_factory=list)
    dynamic: bool = False
    multiple: bool = False


class Onboarding:
    """The steps of `max connect`, in order; `help`, `when` and `optional` change the last one."""

    def __init__(self) -> None:
        self.steps: List[OnboardingStep] = []

    def input(self, key: str, label: str, default_value: Optional[str] = None) -> "Onboarding":
        """A plain input, stored in the config the connector sees."""
        self.steps.append(OnboardingStep("input", key, label, default_value=default_value))
        return self

    def secret(self, key: str, label: str) -> "Onboarding":
        """A secret, stored by the host; the connector names it in requests and never sees it."""
        self.steps.append(OnboardingStep("secret", key, label))
        return self

    def select(
        self,
        key: str,
        label: str,
        options: Sequence[Tuple[str, str]] = (),
        dynamic: bool = False,
        multiple: bool = False,
    ) -> "Onboarding":
        """A choice among `(value, label)` options, or options from `select_options` when dynamic."""
        self.steps.append(OnboardingStep("select", key, label, options=list(options), dynamic=dynamic, multiple=multiple))
        return self

    def validate(self, label: str) -> "Onboarding":
        """Calls `validate` with the config collected so far."""
        self.steps.append(OnboardingStep("validate", label=label))
        return self

    def help(self, text: str) -> "Onboarding":
        """A longer explanation of the last step."""
        self._last().help = text
        return self

    def when(self, key: str, value: str) -> "Onboarding":
        """Asks the last step only when step `key` was answered `value`."""
        self._last().shown_when = (key, value)
        return self

    def optional(self) -> "Onboarding":
        """The last step may be left empty."""
        self._last().required = False
        return self

    def _last(self) -> OnboardingStep:
        if not self.steps or self.steps[-1].kind == "validate":
            raise ValueError("help, when and optional change the last input, secret or select step")
        return self.steps[-1]


@dataclass
class Credential:
    """A secret the connector names in requests, and how the host attaches it."""

    name: str
    #: `bearer`, `authorization`, `header`, `query` or `oauth2`.
    injection: str
    #: The header or query parameter name, for `header` and `query`.
    parameter: str = ""
    #: For `oauth2`: token URL, refresh-token key, client-id key, client-secret key.
    oauth2: Optional[Tuple[str, str, Optional[str], Optional[str]]] = None
    hosts: List[str] = field(default_factory=list)


class Permissions:
    """What the connector asks the user to grant: hosts, credentials, resources."""

    def __init__(self) -> None:
        self.hosts: List[Tuple[str, Optional[str]]] = []
        self.credentials: List[Credential] = []
        self.base_url_config: Optional[str] = None
        self.memory: Optional[int] = None
        self.call_timeout: Optional[int] = None

    def host(self, host: str, path_prefix: Optional[str] = None) -> "Permissions":
        """A host it may reach over HTTPS (optionally only under `path_prefix`)."""
        self.hosts.append((host, path_prefix))
        return self

    def bearer(self, name: str) -> "Permissions":
        """Secret `name` sent as `Authorization: Bearer <secret>`."""
        self.credentials.append(Credential(name, "bearer"))
        return self

    def authorization(self, name: str) -> "Permissions":
        """Secret `name` sent verbatim as `Authorization`."""
        self.credentials.append(Credential(name, "authorization"))
        return self

    def header(self, name: str, header: str) -> "Permissions":
        """Secret `name` sent verbatim in header `header`."""
        self.credentials.append(Credential(name, "header", parameter=header))
        return self

    def query(self, name: str, param: str) -> "Permissions":
        """Secret `name` sent as query parameter `param`."""
        self.credentials.append(Credential(name, "query", parameter=param))
        return self

    def oauth2(
        self,
        name: str,
        token_url: str,
        refresh_token_key: str,
        client_id_key: Optional[str] = None,
        client_secret_key: Optional[str] = None,
    ) -> "Permissions":
        """An OAuth2 access token the host refreshes itself, named `name` in requests."""
        self.credentials.append(
            Credential(name, "oauth2", oauth2=(token_url, refresh_token_key, client_id_key, client_secret_key))
        )
        return self

    def bound_to(self, hosts: Sequence[str]) -> "Permissions":
        """The last credential may be sent only to `hosts`."""
        if not self.credentials:
            raise ValueError("bound_to changes the last credential: declare one first")
        self.credentials[-1].hosts = list(hosts)
        return self

    def base_url_key(self, key: str) -> "Permissions":
        """Config key `key` holds a base URL the user may point elsewhere; its host is allowed too."""
        self.base_url_config = key
        return self

    def memory_mib(self, mib: int) -> "Permissions":
        """Linear memory needed beyond the default 256 MiB."""
        self.memory = mib
        return self

    def call_timeout_ms(self, ms: int) -> "Permissions":
        """Wall-clock time one call needs beyond the default 60 s."""
        self.call_timeout = ms
        return self


@dataclass
class RequestLimit:
    """A limit the API sets on a group of requests without announcing it in headers (contract 0.2.0).

    `path` matches request paths, `*` standing for one segment; at most `max` matching requests start in
    any `interval_ms`, for all of an installation's instances together."""

    name: str
    path: str
    max: int
    interval_ms: int
    #: `get`, `post`, ... or None for any method.
    method: Optional[str] = None


class ConnectorInfo:
    """Everything `describe` returns."""

    def __init__(self, name: str, version: str, description: str, schema: Schema) -> None:
        self.name = name
        self.version = version
        self.description = description
        self.schema = schema
        self.loaders: List[Loader] = []
        self.onboarding_steps: List[OnboardingStep] = []
        self.permission_set = Permissions()

    def loader(self, loader: Loader) -> "ConnectorInfo":
        """Adds a loader (and its resolver, when it `fills` fields)."""
        self.loaders.append(loader)
        return self

    def onboarding(self, onboarding: Onboarding) -> "ConnectorInfo":
        """Sets the steps of `max connect`."""
        self.onboarding_steps = onboarding.steps
        return self

    def permissions(self, permissions: Permissions) -> "ConnectorInfo":
        """Sets what the user is asked to grant."""
        self.permission_set = permissions
        return self

    def entity(self, name: str) -> Optional[EntityDef]:
        """The declared entity type `name`."""
        return next((e for e in self.schema.entities if e.name == name), None)

    def by_name(self) -> Dict[str, Loader]:
        """The loaders by name."""
        return {loader.name: loader for loader in self.loaders}
