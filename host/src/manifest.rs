//! What a connector says about itself (`describe`), as plain host data: serializable, checked for
//! consistency, and free of wasmtime types so the CLI and storage can use it.

#[cfg(test)]
pub(crate) mod arbitrary;
mod check;
mod discovered;
mod pacing;

use serde::{Deserialize, Serialize};

pub use check::{check, check_size, valid_connector_name};
pub use discovered::{
    ALL_DISCOVERED, DiscoveredFields, MAX_DISCOVERED_FIELDS, MAX_DISCOVERED_NAME_BYTES, SchemaExtension,
    check_extension,
};
pub use pacing::{MAX_LIMIT_INTERVAL_MS, MAX_REQUEST_LIMITS, MAX_REQUESTS_PER_LIMIT, RequestLimit};

/// Everything `describe` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorInfo {
    /// Lowercase identifier used in commands.
    pub name: String,
    /// The connector's semver.
    pub version: String,
    /// One line for listings.
    pub description: String,
    /// The data model.
    pub schema: Schema,
    /// How data is fetched.
    pub loaders: Vec<LoaderDef>,
    /// Which loader fills which fields.
    pub resolvers: Vec<Resolver>,
    /// The steps of `max connect`.
    pub onboarding: Vec<OnboardingStep>,
    /// What the connector asks to be granted.
    pub permissions: Permissions,
    /// Change feeds followed per entity (contract 0.4.0's `scoped-feeds`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scoped_feeds: Vec<ScopedFeed>,
}

/// A change-feed loader followed per entity of a type, with a cursor for each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopedFeed {
    /// The change-feed loader.
    pub loader: String,
    /// The entity type it is scoped to.
    pub entity: String,
}

impl ConnectorInfo {
    /// The entity type the change-feed loader `loader` is scoped to, if it is followed per entity.
    pub fn feed_scope(&self, loader: &str) -> Option<&str> {
        self.scoped_feeds.iter().find(|f| f.loader == loader).map(|f| f.entity.as_str())
    }

    /// The entity type named `name`.
    pub fn entity(&self, name: &str) -> Option<&EntityDef> {
        self.schema.entities.iter().find(|e| e.name == name)
    }

    /// The loader named `name`.
    pub fn loader(&self, name: &str) -> Option<&LoaderDef> {
        self.loaders.iter().find(|l| l.name == name)
    }
}

/// Entity types and roots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// The entity types.
    pub entities: Vec<EntityDef>,
    /// The singletons every sync starts from.
    pub roots: Vec<RootDef>,
    /// The text fields in the full-text index (contract 0.3.0's `searchable-fields`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub searchable: Vec<SearchableField>,
    /// Fields loaded again only when others change (contract 0.3.0's `field-versions`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versioned: Vec<VersionedFields>,
    /// Collections whose items belong to their parent (contract 0.3.0's `owned-collections`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owned: Vec<OwnedCollection>,
}

/// A collection whose items belong to their parent: deleted with it, or when it no longer lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedCollection {
    /// The parent's entity type.
    pub entity: String,
    /// Its collection field.
    pub field: String,
}

/// Fields of an entity type loaded again only when the fields that version them change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionedFields {
    /// The entity type.
    pub entity: String,
    /// The fields loaded only when the version changes.
    pub fields: Vec<String>,
    /// The fields whose values are the version.
    pub versions: Vec<String>,
}

/// A text field in the full-text index, and how much its matches count in ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchableField {
    /// The entity type.
    pub entity: String,
    /// One of its declared string fields.
    pub field: String,
    /// 1 to 100.
    pub weight: u8,
}

impl Schema {
    /// The searchable fields of `entity`, in the order declared (the columns of its index).
    pub fn searchable_fields(&self, entity: &str) -> Vec<&SearchableField> {
        self.searchable.iter().filter(|s| s.entity == entity).collect()
    }

    /// Whether `entity`'s collection `field` owns its items.
    pub fn owns(&self, entity: &str, field: &str) -> bool {
        self.owned.iter().any(|o| o.entity == entity && o.field == field)
    }

    /// The group of versioned fields of `entity` that holds every one of `fields`, if one does.
    pub fn versioned_group(&self, entity: &str, fields: &[String]) -> Option<&VersionedFields> {
        self.versioned
            .iter()
            .find(|g| g.entity == entity && !fields.is_empty() && fields.iter().all(|f| g.fields.contains(f)))
    }
}

/// One entity type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityDef {
    /// PascalCase name.
    pub name: String,
    /// One line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Fields other than `id`.
    pub fields: Vec<FieldDef>,
}

impl EntityDef {
    /// The field named `name`.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// One field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDef {
    /// The field name.
    pub name: String,
    /// Its type.
    #[serde(flatten)]
    pub field_type: FieldType,
    /// One line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether `discover` found it in the account (contract 0.2.0) rather than `describe` declaring it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub discovered: bool,
}

/// The type of a field; `ref` and `collection` name their target entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "target", rename_all = "snake_case")]
pub enum FieldType {
    /// Text.
    String,
    /// 64-bit integer.
    Integer,
    /// 64-bit float.
    Float,
    /// Boolean.
    Boolean,
    /// ISO-8601 instant.
    Datetime,
    /// JSON text.
    Json,
    /// Reference to one entity.
    Ref(String),
    /// Ordered collection of entities.
    Collection(String),
}

impl std::fmt::Display for FieldType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldType::String => f.write_str("string"),
            FieldType::Integer => f.write_str("integer"),
            FieldType::Float => f.write_str("float"),
            FieldType::Boolean => f.write_str("boolean"),
            FieldType::Datetime => f.write_str("datetime"),
            FieldType::Json => f.write_str("json"),
            FieldType::Ref(target) => write!(f, "ref({target})"),
            FieldType::Collection(target) => write!(f, "collection({target})"),
        }
    }
}

/// A root singleton.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootDef {
    /// Its entity type.
    pub entity: String,
    /// Its fixed id.
    pub id: String,
}

/// A named way of fetching data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoaderDef {
    /// Unique name.
    pub name: String,
    /// The entity type it returns.
    pub entity: String,
    /// How the host calls it.
    #[serde(flatten)]
    pub kind: LoaderKind,
    /// One line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// How the host calls a loader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LoaderKind {
    /// One ref per call.
    Single,
    /// Up to `max_batch` refs per call.
    Batched {
        /// Most refs per call.
        max_batch: u32,
    },
    /// One page of a collection per call.
    Collection {
        /// The entity owning the collection.
        parent: String,
        /// The collection field.
        field: String,
        /// Items per page.
        page_size: u32,
        /// The item field referencing the parent, which keeps the collection current from change feeds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_field: Option<String>,
    },
    /// No refs; the loader decides what to fetch.
    Raw,
    /// A change feed.
    ChangeFeed,
}

impl std::fmt::Display for LoaderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoaderKind::Single => f.write_str("single"),
            LoaderKind::Batched { max_batch } => write!(f, "batched({max_batch})"),
            LoaderKind::Collection { parent, field, page_size, .. } => {
                write!(f, "collection({parent}.{field}, {page_size}/page)")
            }
            LoaderKind::Raw => f.write_str("raw"),
            LoaderKind::ChangeFeed => f.write_str("change feed"),
        }
    }
}

/// Which loader fills which fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolver {
    /// The entity type.
    pub entity: String,
    /// Its fields this loader fills.
    pub fields: Vec<String>,
    /// The loader's name.
    pub loader: String,
}

/// A text prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputStep {
    /// Where the answer is stored.
    pub key: String,
    /// The prompt.
    pub label: String,
    /// A longer explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Used when the answer is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<String>,
    /// Whether an empty answer is refused.
    pub required: bool,
    /// Asked only when the earlier step with this key was answered with this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown_when: Option<(String, String)>,
}

/// One option of a select step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectOption {
    /// Stored value.
    pub value: String,
    /// Shown label.
    pub label: String,
}

/// A choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectStep {
    /// Where the answer is stored.
    pub key: String,
    /// The prompt.
    pub label: String,
    /// A longer explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Fixed options.
    pub options: Vec<SelectOption>,
    /// Whether the options come from `select-options`.
    pub dynamic: bool,
    /// Whether several options may be chosen.
    pub multiple: bool,
}

/// One onboarding step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum OnboardingStep {
    /// Plain input stored in the config.
    Input(InputStep),
    /// Secret stored in the credential store.
    Secret(InputStep),
    /// A choice stored in the config.
    Select(SelectStep),
    /// Calls `validate`.
    Validate {
        /// What the user sees while it runs.
        label: String,
    },
}

/// A host the connector may reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPermission {
    /// Host name, optionally with port; `*.` prefix matches subdomains.
    pub host: String,
    /// Allowed path prefix, if restricted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
}

impl std::fmt::Display for HostPermission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.host)?;
        if let Some(prefix) = &self.path_prefix {
            f.write_str(prefix)?;
        }
        Ok(())
    }
}

/// OAuth2 refresh settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuth2 {
    /// Token endpoint.
    pub token_url: String,
    /// Credential key of the refresh token.
    pub refresh_token_key: String,
    /// Credential key of the client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id_key: Option<String>,
    /// Credential key of the client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_key: Option<String>,
}

/// How a secret is attached to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "inject", rename_all = "snake_case")]
pub enum CredentialInjection {
    /// `Authorization: Bearer <secret>`.
    Bearer,
    /// `Authorization: <secret>`.
    Authorization,
    /// A named header. (Stored as `header`: the credential's own `name` sits beside it.)
    Header {
        /// The header name.
        #[serde(rename = "header")]
        name: String,
    },
    /// A query parameter. (Stored as `parameter`, beside the credential's own `name`.)
    Query {
        /// The parameter name.
        #[serde(rename = "parameter")]
        name: String,
    },
    /// A refreshed OAuth2 access token as a bearer token.
    #[serde(rename = "oauth2")]
    OAuth2(OAuth2),
}

impl std::fmt::Display for CredentialInjection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialInjection::Bearer => f.write_str("Authorization: Bearer header"),
            CredentialInjection::Authorization => f.write_str("Authorization header"),
            CredentialInjection::Header { name } => write!(f, "{name} header"),
            CredentialInjection::Query { name } => write!(f, "query parameter `{name}`"),
            CredentialInjection::OAuth2(o) => write!(f, "OAuth2 bearer token refreshed at {}", o.token_url),
        }
    }
}

/// A secret the connector needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialDef {
    /// The credential key.
    pub name: String,
    /// How it is attached.
    #[serde(flatten)]
    pub injection: CredentialInjection,
    /// Hosts it may be sent to; empty means all granted hosts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}

/// Resources above the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceNeeds {
    /// Memory in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u32>,
    /// Wall-clock per call in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_timeout_ms: Option<u32>,
}

/// What a connector asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    /// Hosts it may reach.
    pub hosts: Vec<HostPermission>,
    /// Secrets it needs.
    pub credentials: Vec<CredentialDef>,
    /// The config key holding a user-changeable base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url_key: Option<String>,
    /// Resources above the defaults.
    #[serde(default)]
    pub resources: ResourceNeeds,
    /// Limits the API sets on groups of requests without announcing them (contract 0.2.0), which the
    /// host paces the installation's requests by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_limits: Vec<RequestLimit>,
}
