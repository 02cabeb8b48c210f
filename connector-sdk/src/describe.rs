//! Builders for what `describe` returns: schema, loaders (with their resolvers), onboarding and
//! permissions.

use crate::FieldType;
use crate::bindings::max::connector::ownership::OwnedCollection;
use crate::bindings::max::connector::scoping::ScopedFeed;
use crate::bindings::max::connector::text_search::SearchableField;
use crate::bindings::max::connector::types as wit;
use crate::bindings::max::connector::versioned::VersionedFields;

/// Everything a connector tells Max about itself.
#[derive(Debug, Clone)]
pub struct ConnectorInfo {
    pub(crate) info: wit::ConnectorInfo,
    pub(crate) searchable: Vec<SearchableField>,
    pub(crate) versioned: Vec<VersionedFields>,
    pub(crate) owned: Vec<OwnedCollection>,
    pub(crate) scoped: Vec<ScopedFeed>,
}

impl ConnectorInfo {
    /// Starts a description: `name` is the lowercase identifier used in commands, `version` the
    /// connector's semver, `description` one line for `max connector list`.
    pub fn new(name: &str, version: &str, description: &str, schema: Schema) -> Self {
        let info = wit::ConnectorInfo {
            name: name.to_string(),
            version: version.to_string(),
            description: description.to_string(),
            schema: schema.def,
            loaders: Vec::new(),
            resolvers: Vec::new(),
            onboarding: Vec::new(),
            permissions: Permissions::new().0,
        };
        ConnectorInfo {
            info,
            searchable: schema.searchable,
            versioned: schema.versioned,
            owned: schema.owned,
            scoped: Vec::new(),
        }
    }

    /// Adds a loader and the resolver of the fields it fills. A collection loader resolves its
    /// collection field without `fills`.
    pub fn loader(mut self, loader: Loader) -> Self {
        if let Some(entity) = &loader.scope {
            self.scoped.push(ScopedFeed { loader: loader.def.name.clone(), entity: entity.clone() });
        }
        if let wit::LoaderKind::Collection(c) = &loader.def.kind {
            self.info.resolvers.push(wit::Resolver {
                entity: c.parent.clone(),
                fields: vec![c.field.clone()],
                loader: loader.def.name.clone(),
            });
        }
        if !loader.fills.is_empty() {
            self.info.resolvers.push(wit::Resolver {
                entity: loader.def.entity.clone(),
                fields: loader.fills,
                loader: loader.def.name.clone(),
            });
        }
        self.info.loaders.push(loader.def);
        self
    }

    /// Sets the onboarding steps.
    pub fn onboarding(mut self, onboarding: Onboarding) -> Self {
        self.info.onboarding = onboarding.0;
        self
    }

    /// Sets the permissions the connector asks for.
    pub fn permissions(mut self, permissions: Permissions) -> Self {
        self.info.permissions = permissions.0;
        self
    }
}

/// The data model: entity types, roots and the fields searched by their words.
#[derive(Debug, Clone)]
pub struct Schema {
    def: wit::Schema,
    searchable: Vec<SearchableField>,
    versioned: Vec<VersionedFields>,
    owned: Vec<OwnedCollection>,
}

impl Default for Schema {
    fn default() -> Self {
        Self::new()
    }
}

impl Schema {
    /// An empty schema.
    pub fn new() -> Self {
        let def = wit::Schema { entities: Vec::new(), roots: Vec::new() };
        Schema { def, searchable: Vec::new(), versioned: Vec::new(), owned: Vec::new() }
    }

    /// Adds an entity type, described by `build`.
    pub fn entity(mut self, name: &str, build: impl FnOnce(EntityBuilder) -> EntityBuilder) -> Self {
        let def = wit::EntityDef { name: name.to_string(), description: None, fields: Vec::new() };
        let builder = build(EntityBuilder { def, searchable: Vec::new(), versioned: Vec::new(), owned: Vec::new() });
        self.searchable.extend(builder.searchable);
        self.versioned.extend(builder.versioned);
        self.owned.extend(builder.owned);
        self.def.entities.push(builder.def);
        self
    }

    /// Declares a root: the singleton entity with this id every sync starts from.
    pub fn root(mut self, entity: &str, id: &str) -> Self {
        self.def.roots.push(wit::RootDef { entity: entity.to_string(), id: id.to_string() });
        self
    }
}

/// Describes one entity type.
#[derive(Debug, Clone)]
pub struct EntityBuilder {
    def: wit::EntityDef,
    searchable: Vec<SearchableField>,
    versioned: Vec<VersionedFields>,
    owned: Vec<OwnedCollection>,
}

impl EntityBuilder {
    /// Puts the string field `name` (declared before or after) in the full-text index (contract 0.3.0):
    /// `max search --match` finds rows by its words, a match counting `weight` (1 to 100) times when
    /// results are ranked (a title's words usually count more than a body's).
    pub fn searchable(mut self, name: &str, weight: u8) -> Self {
        self.searchable.push(SearchableField { entity: self.def.name.clone(), field: name.to_string(), weight });
        self
    }

    /// Marks the collection `field` as owning its items (contract 0.3.0): they are deleted with this
    /// entity, and when its collection is listed anew without them (a file's permissions).
    pub fn owns(mut self, field: &str) -> Self {
        self.owned.push(OwnedCollection { entity: self.def.name.clone(), field: field.to_string() });
        self
    }

    /// Marks `fields` as loaded again only when the fields `versions` change (contract 0.3.0): a
    /// `load-fields` step of them loads only the entities whose version changed since, or that never
    /// had them (a document's text, versioned by its version or checksum). A batched or single loader
    /// must fill them.
    pub fn versioned(mut self, fields: &[&str], versions: &[&str]) -> Self {
        let names = |list: &[&str]| list.iter().map(|f| f.to_string()).collect();
        self.versioned.push(VersionedFields {
            entity: self.def.name.clone(),
            fields: names(fields),
            versions: names(versions),
        });
        self
    }

    /// Sets the one-line description.
    pub fn describe(mut self, text: &str) -> Self {
        self.def.description = Some(text.to_string());
        self
    }

    /// Adds a field.
    pub fn field(mut self, name: &str, ty: FieldType) -> Self {
        self.def.fields.push(wit::FieldDef { name: name.to_string(), type_: ty, description: None });
        self
    }

    /// Adds a field with a one-line description.
    pub fn field_doc(mut self, name: &str, ty: FieldType, description: &str) -> Self {
        self.def.fields.push(wit::FieldDef {
            name: name.to_string(),
            type_: ty,
            description: Some(description.to_string()),
        });
        self
    }

    /// Adds a reference to one entity of type `target`.
    pub fn reference(self, name: &str, target: &str) -> Self {
        self.field(name, FieldType::Ref(target.to_string()))
    }

    /// Adds a collection of entities of type `item`.
    pub fn collection(self, name: &str, item: &str) -> Self {
        self.field(name, FieldType::Collection(item.to_string()))
    }
}

/// A loader definition plus the fields it fills.
#[derive(Debug, Clone)]
pub struct Loader {
    def: wit::LoaderDef,
    fills: Vec<String>,
    scope: Option<String>,
}

impl Loader {
    fn new(name: &str, entity: &str, kind: wit::LoaderKind) -> Self {
        Loader {
            def: wit::LoaderDef { name: name.to_string(), entity: entity.to_string(), kind, description: None },
            fills: Vec::new(),
            scope: None,
        }
    }

    /// A loader called with one ref at a time.
    pub fn single(name: &str, entity: &str) -> Self {
        Self::new(name, entity, wit::LoaderKind::Single)
    }

    /// A loader called with up to `max_batch` refs at a time.
    pub fn batched(name: &str, entity: &str, max_batch: u32) -> Self {
        Self::new(name, entity, wit::LoaderKind::Batched(max_batch))
    }

    /// A loader of the collection `field` of `parent`, whose items are `item` entities, `page_size` a page.
    pub fn collection(name: &str, parent: &str, field: &str, item: &str, page_size: u32) -> Self {
        let shape = wit::CollectionLoader {
            parent: parent.to_string(),
            field: field.to_string(),
            page_size,
            parent_field: None,
        };
        Self::new(name, item, wit::LoaderKind::Collection(shape))
    }

    /// For a collection loader: the item's reference field naming its parent, so items from a change
    /// feed keep the collection current (see the contract's `collection-loader`).
    pub fn parent_field(mut self, field: &str) -> Self {
        if let wit::LoaderKind::Collection(shape) = &mut self.def.kind {
            shape.parent_field = Some(field.to_string());
        }
        self
    }

    /// A loader called without refs that decides itself what to fetch.
    pub fn raw(name: &str, entity: &str) -> Self {
        Self::new(name, entity, wit::LoaderKind::Raw)
    }

    /// A change feed of `entity`.
    pub fn change_feed(name: &str, entity: &str) -> Self {
        Self::new(name, entity, wit::LoaderKind::ChangeFeed)
    }

    /// Follows this change feed per entity of type `entity` (contract 0.4.0): the host keeps a cursor
    /// for each and calls [`crate::Connector::changes_of`] with it, on every entity a
    /// `follow-changes` step targets.
    pub fn per(mut self, entity: &str) -> Self {
        self.scope = Some(entity.to_string());
        self
    }

    /// Declares the fields of the loader's entity this loader fills (its resolver).
    pub fn fills(mut self, fields: &[&str]) -> Self {
        self.fills = fields.iter().map(|f| f.to_string()).collect();
        self
    }

    /// Sets the one-line description.
    pub fn describe(mut self, text: &str) -> Self {
        self.def.description = Some(text.to_string());
        self
    }
}

/// The steps of `max connect`, in order.
#[derive(Debug, Clone, Default)]
pub struct Onboarding(Vec<wit::OnboardingStep>);

impl Onboarding {
    /// No steps yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn input_step(key: &str, label: &str, default_value: Option<&str>) -> wit::InputStep {
        wit::InputStep {
            key: key.to_string(),
            label: label.to_string(),
            help: None,
            default_value: default_value.map(str::to_string),
            required: true,
            shown_when: None,
        }
    }

    /// A required plain input stored in the config; `default_value` is used when the user enters nothing.
    pub fn input(mut self, key: &str, label: &str, default_value: Option<&str>) -> Self {
        self.0.push(wit::OnboardingStep::Input(Self::input_step(key, label, default_value)));
        self
    }

    /// A required secret, stored in the credential store and never shown to the connector.
    pub fn secret(mut self, key: &str, label: &str) -> Self {
        self.0.push(wit::OnboardingStep::Secret(Self::input_step(key, label, None)));
        self
    }

    /// A choice among fixed options (`dynamic = false`) or options fetched with `select_options`.
    pub fn select(mut self, key: &str, label: &str, options: &[(&str, &str)], dynamic: bool, multiple: bool) -> Self {
        let options = options
            .iter()
            .map(|(value, label)| wit::SelectOption { value: value.to_string(), label: label.to_string() })
            .collect();
        self.0.push(wit::OnboardingStep::Select(wit::SelectStep {
            key: key.to_string(),
            label: label.to_string(),
            help: None,
            options,
            dynamic,
            multiple,
        }));
        self
    }

    /// The secrets of an OAuth grant Max refreshes itself, asked when the earlier step `key` was answered
    /// `value`: `oauth_access_token`, `oauth_refresh_token`, `oauth_client_id` and `oauth_client_secret`
    /// (the keys [`Permissions::oauth2`] then names).
    pub fn oauth_secrets(self, key: &str, value: &str) -> Self {
        self.secret("oauth_access_token", "OAuth access token")
            .help("The access token of your OAuth app's grant")
            .when(key, value)
            .secret("oauth_refresh_token", "OAuth refresh token")
            .help("Max refreshes the access token with it and stores the new tokens")
            .when(key, value)
            .secret("oauth_client_id", "OAuth client id")
            .help("Your OAuth app's client id")
            .when(key, value)
            .secret("oauth_client_secret", "OAuth client secret")
            .help("Your OAuth app's client secret")
            .when(key, value)
    }

    /// A validation step: the host calls `validate` with what was collected so far.
    pub fn validate(mut self, label: &str) -> Self {
        self.0.push(wit::OnboardingStep::Validate(label.to_string()));
        self
    }

    /// Sets the help text of the last input, secret or select step.
    pub fn help(mut self, text: &str) -> Self {
        match self.0.last_mut() {
            Some(wit::OnboardingStep::Input(s) | wit::OnboardingStep::Secret(s)) => s.help = Some(text.to_string()),
            Some(wit::OnboardingStep::Select(s)) => s.help = Some(text.to_string()),
            _ => {}
        }
        self
    }

    /// Asks the last input or secret step only when the earlier step `key` was answered `value`.
    pub fn when(mut self, key: &str, value: &str) -> Self {
        if let Some(wit::OnboardingStep::Input(s) | wit::OnboardingStep::Secret(s)) = self.0.last_mut() {
            s.shown_when = Some((key.to_string(), value.to_string()));
        }
        self
    }

    /// Makes the last input or secret step optional.
    pub fn optional(mut self) -> Self {
        if let Some(wit::OnboardingStep::Input(s) | wit::OnboardingStep::Secret(s)) = self.0.last_mut() {
            s.required = false;
        }
        self
    }
}

/// What the connector asks the user to grant.
#[derive(Debug, Clone)]
pub struct Permissions(wit::Permissions);

impl Default for Permissions {
    fn default() -> Self {
        Self::new()
    }
}

impl Permissions {
    /// Nothing granted yet.
    pub fn new() -> Self {
        Permissions(wit::Permissions {
            hosts: Vec::new(),
            credentials: Vec::new(),
            base_url_key: None,
            resources: wit::ResourceNeeds { memory_mib: None, call_timeout_ms: None },
        })
    }

    /// Asks to reach `host` (`api.example.com`, `*.example.com`, `localhost:8080`).
    pub fn host(mut self, host: &str) -> Self {
        self.0.hosts.push(wit::HostPermission { host: host.to_string(), path_prefix: None });
        self
    }

    /// Asks to reach only paths under `path_prefix` on `host`.
    pub fn host_path(mut self, host: &str, path_prefix: &str) -> Self {
        self.0.hosts.push(wit::HostPermission { host: host.to_string(), path_prefix: Some(path_prefix.to_string()) });
        self
    }

    fn credential(mut self, name: &str, injection: wit::CredentialInjection) -> Self {
        self.0.credentials.push(wit::CredentialDef { name: name.to_string(), injection, hosts: Vec::new() });
        self
    }

    /// A secret sent as `Authorization: Bearer <secret>`.
    pub fn bearer(self, name: &str) -> Self {
        self.credential(name, wit::CredentialInjection::Bearer)
    }

    /// A secret sent verbatim as the `Authorization` header.
    pub fn authorization(self, name: &str) -> Self {
        self.credential(name, wit::CredentialInjection::Authorization)
    }

    /// A secret sent in the header `header`.
    pub fn header(self, name: &str, header: &str) -> Self {
        self.credential(name, wit::CredentialInjection::Header(header.to_string()))
    }

    /// A secret sent as the query parameter `param`.
    pub fn query(self, name: &str, param: &str) -> Self {
        self.credential(name, wit::CredentialInjection::Query(param.to_string()))
    }

    /// An OAuth2 access token (the secret `name`) the host refreshes at `token_url` with the refresh
    /// token stored under `refresh_token_key`, sending the client id and secret stored under those keys.
    pub fn oauth2(
        self,
        name: &str,
        token_url: &str,
        refresh_token_key: &str,
        client_id_key: Option<&str>,
        client_secret_key: Option<&str>,
    ) -> Self {
        self.credential(
            name,
            wit::CredentialInjection::Oauth2(wit::Oauth2 {
                token_url: token_url.to_string(),
                refresh_token_key: refresh_token_key.to_string(),
                client_id_key: client_id_key.map(str::to_string),
                client_secret_key: client_secret_key.map(str::to_string),
            }),
        )
    }

    /// Restricts the last credential to these hosts.
    pub fn bound_to(mut self, hosts: &[&str]) -> Self {
        if let Some(c) = self.0.credentials.last_mut() {
            c.hosts = hosts.iter().map(|h| h.to_string()).collect();
        }
        self
    }

    /// Names the config key holding a base URL the user may change (its host is allowed too).
    pub fn base_url_key(mut self, key: &str) -> Self {
        self.0.base_url_key = Some(key.to_string());
        self
    }

    /// Asks for more linear memory than the default 256 MiB.
    pub fn memory_mib(mut self, mib: u32) -> Self {
        self.0.resources.memory_mib = Some(mib);
        self
    }

    /// Asks for more wall-clock time per call than the default.
    pub fn call_timeout_ms(mut self, ms: u32) -> Self {
        self.0.resources.call_timeout_ms = Some(ms);
        self
    }
}
