"""Bridges the component's `source` exports to a `Connector`: keeps the object `initialise` created,
converts the SDK's data to the contract's types (componentize-py's `wit_world` bindings), and turns
exceptions into `connector-error`s. Imported only inside a component build."""

from __future__ import annotations

import traceback
from typing import Any, Callable, List, Optional, Type

from componentize_py_types import Err, Ok
from wit_world.imports import discovery as wit_discovery
from wit_world.imports import http as wit_http
from wit_world.imports import log as wit_log
from wit_world.imports import ownership as wit_ownership
from wit_world.imports import pacing as wit_pacing
from wit_world.imports import scoping as wit_scoping
from wit_world.imports import text_search as wit_text_search
from wit_world.imports import types as wit
from wit_world.imports import versioned as wit_versioned

from . import http as sdk_http
from . import _log as sdk_logging
from .batch import Batch, ChangePage, Page
from .config import Config, DiscoveredField, Discovery
from .connector import Connector
from .describe import ConnectorInfo, FieldDef, FieldType
from .errors import ConnectorError
from .plan import EntityRef, SeedState, SyncPlan


def export(connector: Type[Connector]) -> type:
    """The class componentize-py exports as the `source` interface: `Source = export(MyConnector)`."""
    sdk_http.set_transport(_HostTransport())
    sdk_logging.set_sink(_host_log)
    state: dict = {}
    info_cache: List[ConnectorInfo] = []

    def info() -> ConnectorInfo:
        if not info_cache:
            info_cache.append(connector.describe())
        return info_cache[0]

    def instance() -> Connector:
        if "connector" not in state:
            raise Err(wit.ConnectorError_InvalidInput("the host called the connector before `initialise`"))
        return state["connector"]

    class Source:
        def describe(self) -> wit.ConnectorInfo:
            return _info(info())

        def request_limits(self) -> List[wit_pacing.RequestLimit]:
            return [
                wit_pacing.RequestLimit(
                    l.name, None if l.method is None else wit_http.Method[l.method.upper()], l.path, l.max, l.interval_ms
                )
                for l in connector.request_limits()
            ]

        def searchable_fields(self) -> List[wit_text_search.SearchableField]:
            return [
                wit_text_search.SearchableField(e.name, f, w) for e in info().schema.entities for f, w in e.searchable
            ]

        def field_versions(self) -> List[wit_versioned.VersionedFields]:
            return [
                wit_versioned.VersionedFields(e.name, fields, versions)
                for e in info().schema.entities
                for fields, versions in e.versioned
            ]

        def owned_collections(self) -> List[wit_ownership.OwnedCollection]:
            return [wit_ownership.OwnedCollection(e.name, f) for e in info().schema.entities for f in e.owned]

        def scoped_feeds(self) -> List[wit_scoping.ScopedFeed]:
            return [wit_scoping.ScopedFeed(l.name, l.scope) for l in info().loaders if l.scope is not None]

        def initialise(self, config: List[Any], discovered: wit_discovery.SchemaExtension) -> None:
            fields = [
                DiscoveredField(d.entity, f.name, _sdk_type(f.type), f.description)
                for d in discovered.entities
                for f in d.fields
            ]
            state["connector"] = _call(lambda: connector(Config([tuple(e) for e in config], fields)))

        def validate(self) -> str:
            return _call(lambda: instance().validate())

        def discover(self) -> wit_discovery.SchemaExtension:
            found: Discovery = _call(lambda: instance().discover())
            by_entity: dict = {}
            for f in found.fields:
                by_entity.setdefault(f.entity, []).append(_field(FieldDef(f.name, f.type, f.description)))
            return wit_discovery.SchemaExtension(
                [wit_discovery.DiscoveredFields(e, fs) for e, fs in by_entity.items()], found.refill_on_new_fields
            )

        def select_options(self, key: str) -> List[wit.SelectOption]:
            return [wit.SelectOption(v, l) for v, l in _call(lambda: instance().select_options(key))]

        def seed(self, state_: wit.SeedState) -> wit.SyncPlan:
            seed = SeedState(state_.last_completed_sync, [tuple(c) for c in state_.cursors], state_.full)
            return _plan(_call(lambda: instance().seed(seed)))

        def load(self, loader: str, refs: List[wit.EntityRef]) -> List[wit.EntityBatch]:
            sdk_refs = [EntityRef(r.entity, r.id) for r in refs]
            batches = _call(lambda: instance().load(loader, sdk_refs))
            if isinstance(batches, Batch):
                batches = [batches]
            return [_batch(b) for b in batches]

        def load_page(self, loader: str, parent: wit.EntityRef, cursor: Optional[str]) -> wit.Page:
            page: Page = _call(lambda: instance().load_page(loader, EntityRef(parent.entity, parent.id), cursor))
            return wit.Page(_batch(page.items), [_batch(b) for b in page.related], page.next_cursor)

        def changes(self, loader: str, cursor: Optional[str]) -> wit.ChangePage:
            return _change_page(_call(lambda: instance().changes(loader, cursor)))

        def changes_of(self, loader: str, parent: wit.EntityRef, cursor: Optional[str]) -> wit.ChangePage:
            scope = EntityRef(parent.entity, parent.id)
            return _change_page(_call(lambda: instance().changes_of(loader, scope, cursor)))

    Source.__name__ = Source.__qualname__ = "Source"
    return Source


def _change_page(page: ChangePage) -> wit.ChangePage:
    return wit.ChangePage(
        [_batch(b) for b in page.upserts],
        [wit.EntityRef(e, i) for e, i in page.deletions],
        page.next_cursor,
        page.has_more,
    )


_ERRORS = {
    "unauthorized": wit.ConnectorError_Unauthorized,
    "forbidden": wit.ConnectorError_Forbidden,
    "not-found": wit.ConnectorError_NotFound,
    "transient": wit.ConnectorError_Transient,
    "invalid-input": wit.ConnectorError_InvalidInput,
    "invalid-response": wit.ConnectorError_InvalidResponse,
    "other": wit.ConnectorError_Other,
}


def _call(call: Callable[[], Any]) -> Any:
    """Runs a connector method; a `ConnectorError` becomes its case, any other exception `other` with its
    type, message and the file:line it was raised at."""
    try:
        return call()
    except Err:
        raise
    except ConnectorError as e:
        if e.kind == "rate-limited":
            raise Err(wit.ConnectorError_RateLimited(getattr(e, "retry_after_ms", None))) from None
        raise Err(_ERRORS.get(e.kind, wit.ConnectorError_Other)(e.message or str(e))) from None
    except Exception as e:  # an author's bug: keep what and where
        frame = traceback.extract_tb(e.__traceback__)[-1]
        where = f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
        raise Err(wit.ConnectorError_Other(f"{type(e).__name__}: {e} (at {where} in {frame.name})")) from None


def _host_log(level: str, message: str) -> None:
    wit_log.log(wit_log.Level[level.upper()], message)


class _HostTransport(sdk_http.Transport):
    def send(self, request: "sdk_http.Request") -> Any:
        try:
            r = wit_http.send(_request(request))
        except Err as e:
            return _transport_error(e.value)
        return sdk_http.Response(r.status, r.headers, r.body)

    def send_all(self, requests: List["sdk_http.Request"]) -> List[Any]:
        out: List[Any] = []
        for result in wit_http.send_all([_request(r) for r in requests]):
            if isinstance(result, Ok):
                out.append(sdk_http.Response(result.value.status, result.value.headers, result.value.body))
            else:
                out.append(_transport_error(result.value))
        return out


def _request(r: "sdk_http.Request") -> wit_http.Request:
    return wit_http.Request(wit_http.Method[r.method.upper()], r.url, r.headers, r.body, r.credential_name, r.timeout)


def _transport_error(error: Any) -> ConnectorError:
    case = {
        wit_http.HttpError_Denied: "denied",
        wit_http.HttpError_UnknownCredential: "unknown-credential",
        wit_http.HttpError_InvalidRequest: "invalid-request",
        wit_http.HttpError_Timeout: "timeout",
        wit_http.HttpError_Connection: "connection",
        wit_http.HttpError_TooLarge: "too-large",
    }.get(type(error), "other")
    return sdk_http.transport_error(case, getattr(error, "value", None))


def _type(t: FieldType) -> Any:
    simple = {
        "string": wit.FieldType_String,
        "integer": wit.FieldType_Integer,
        "float": wit.FieldType_Float,
        "boolean": wit.FieldType_Boolean,
        "datetime": wit.FieldType_Datetime,
        "json": wit.FieldType_Json,
    }
    if t.kind in simple:
        return simple[t.kind]()
    if t.kind == "ref":
        return wit.FieldType_Ref(t.target)
    return wit.FieldType_Collection(t.target)


def _sdk_type(t: Any) -> FieldType:
    if isinstance(t, wit.FieldType_Ref):
        return FieldType.ref(t.value)
    if isinstance(t, wit.FieldType_Collection):
        return FieldType.collection(t.value)
    return FieldType(type(t).__name__.split("_", 1)[1].lower())


def _field(f: FieldDef) -> wit.FieldDef:
    return wit.FieldDef(f.name, _type(f.type), f.description)


def _info(info: ConnectorInfo) -> wit.ConnectorInfo:
    schema = wit.Schema(
        [wit.EntityDef(e.name, e.description, [_field(f) for f in e.fields]) for e in info.schema.entities],
        [wit.RootDef(entity, id) for entity, id in info.schema.roots],
    )
    loaders, resolvers = [], []
    for l in info.loaders:
        if l.kind == "single":
            kind: Any = wit.LoaderKind_Single()
        elif l.kind == "batched":
            kind = wit.LoaderKind_Batched(l.max_batch)
        elif l.kind == "collection":
            kind = wit.LoaderKind_Collection(
                wit.CollectionLoader(l.parent, l.collection_field, l.page_size, l.parent_field_name)
            )
        elif l.kind == "raw":
            kind = wit.LoaderKind_Raw()
        else:
            kind = wit.LoaderKind_ChangeFeed()
        loaders.append(wit.LoaderDef(l.name, l.entity, kind, l.description))
        if l.filled:
            resolvers.append(wit.Resolver(l.entity, l.filled, l.name))
    steps = []
    for s in info.onboarding_steps:
        if s.kind == "validate":
            steps.append(wit.OnboardingStep_Validate(s.label))
        elif s.kind == "select":
            options = [wit.SelectOption(v, l) for v, l in s.options]
            steps.append(
                wit.OnboardingStep_Select(wit.SelectStep(s.key, s.label, s.help, options, s.dynamic, s.multiple))
            )
        else:
            step = wit.InputStep(s.key, s.label, s.help, s.default_value, s.required, s.shown_when)
            steps.append(wit.OnboardingStep_Secret(step) if s.kind == "secret" else wit.OnboardingStep_Input(step))
    p = info.permission_set
    credentials = []
    for c in p.credentials:
        if c.injection == "bearer":
            injection: Any = wit.CredentialInjection_Bearer()
        elif c.injection == "authorization":
            injection = wit.CredentialInjection_Authorization()
        elif c.injection == "header":
            injection = wit.CredentialInjection_Header(c.parameter)
        elif c.injection == "query":
            injection = wit.CredentialInjection_Query(c.parameter)
        else:
            injection = wit.CredentialInjection_Oauth2(wit.Oauth2(*c.oauth2))
        credentials.append(wit.CredentialDef(c.name, injection, c.hosts))
    permissions = wit.Permissions(
        [wit.HostPermission(h, prefix) for h, prefix in p.hosts],
        credentials,
        p.base_url_config,
        wit.ResourceNeeds(p.memory, p.call_timeout),
    )
    return wit.ConnectorInfo(
        info.name, info.version, info.description, schema, loaders, resolvers, steps, permissions
    )


def _batch(b: Batch) -> wit.EntityBatch:
    data, text = b.packed()
    return wit.EntityBatch(b.entity, b.columns, b.row_count, data, text)


def _plan(plan: SyncPlan) -> wit.SyncPlan:
    def target(t: Any) -> Any:
        if t.kind == "root":
            return wit.Target_Root()
        if t.kind == "all":
            return wit.Target_All(t.entity)
        return wit.Target_One(wit.EntityRef(t.entity, t.id))

    def operation(o: Any) -> Any:
        if o.kind == "load-fields":
            return wit.Operation_LoadFields(list(o.fields))
        if o.kind == "load-collection":
            return wit.Operation_LoadCollection(o.name)
        return wit.Operation_FollowChanges(o.name)

    return wit.SyncPlan([[wit.Step(target(t), operation(o)) for t, o in group] for group in plan.groups])
