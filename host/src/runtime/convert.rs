//! Conversions between the generated WIT types and the host's own types ([`crate::manifest`],
//! [`crate::data`]), so nothing outside `runtime/` sees a wasmtime type.

use super::bindings::{discovery as wit_discovery, ownership, pacing, scoping, text_search, types as wit, versioned};
use crate::data;
use crate::manifest as m;

pub(crate) fn connector_info(info: wit::ConnectorInfo) -> m::ConnectorInfo {
    m::ConnectorInfo {
        name: info.name,
        version: info.version,
        description: info.description,
        schema: m::Schema {
            entities: info.schema.entities.into_iter().map(entity_def).collect(),
            roots: info.schema.roots.into_iter().map(|r| m::RootDef { entity: r.entity, id: r.id }).collect(),
            // Declared apart, through `searchable-fields` and `field-versions` (contract 0.3.0).
            searchable: Vec::new(),
            versioned: Vec::new(),
            owned: Vec::new(),
        },
        loaders: info.loaders.into_iter().map(loader_def).collect(),
        resolvers: info
            .resolvers
            .into_iter()
            .map(|r| m::Resolver { entity: r.entity, fields: r.fields, loader: r.loader })
            .collect(),
        onboarding: info.onboarding.into_iter().map(onboarding_step).collect(),
        permissions: permissions(info.permissions),
        // Declared apart, through `scoped-feeds` (contract 0.4.0).
        scoped_feeds: Vec::new(),
    }
}

fn entity_def(entity: wit::EntityDef) -> m::EntityDef {
    m::EntityDef {
        name: entity.name,
        description: entity.description,
        fields: entity
            .fields
            .into_iter()
            .map(field_def)
            .collect(),
    }
}

/// What `discover` returned, as host data (every field marked discovered).
pub(crate) fn schema_extension(extension: wit_discovery::SchemaExtension) -> m::SchemaExtension {
    m::SchemaExtension {
        entities: extension
            .entities
            .into_iter()
            .map(|e| m::DiscoveredFields {
                entity: e.entity,
                fields: e.fields.into_iter().map(|f| m::FieldDef { discovered: true, ..field_def(f) }).collect(),
            })
            .collect(),
        refill_on_new_fields: extension.refill_on_new_fields,
    }
}

/// The extension an instance's `initialise` gets.
pub(crate) fn schema_extension_to_wit(extension: &m::SchemaExtension) -> wit_discovery::SchemaExtension {
    wit_discovery::SchemaExtension {
        entities: extension
            .entities
            .iter()
            .map(|e| wit_discovery::DiscoveredFields {
                entity: e.entity.clone(),
                fields: e.fields.iter().map(field_def_to_wit).collect(),
            })
            .collect(),
        refill_on_new_fields: extension.refill_on_new_fields,
    }
}

fn field_def_to_wit(field: &m::FieldDef) -> wit::FieldDef {
    let type_ = match &field.field_type {
        m::FieldType::String => wit::FieldType::String,
        m::FieldType::Integer => wit::FieldType::Integer,
        m::FieldType::Float => wit::FieldType::Float,
        m::FieldType::Boolean => wit::FieldType::Boolean,
        m::FieldType::Datetime => wit::FieldType::Datetime,
        m::FieldType::Json => wit::FieldType::Json,
        m::FieldType::Ref(target) => wit::FieldType::Ref(target.clone()),
        m::FieldType::Collection(target) => wit::FieldType::Collection(target.clone()),
    };
    wit::FieldDef { name: field.name.clone(), type_, description: field.description.clone() }
}

fn field_def(field: wit::FieldDef) -> m::FieldDef {
    m::FieldDef { name: field.name, field_type: field_type(field.type_), description: field.description, discovered: false }
}

fn field_type(ty: wit::FieldType) -> m::FieldType {
    match ty {
        wit::FieldType::String => m::FieldType::String,
        wit::FieldType::Integer => m::FieldType::Integer,
        wit::FieldType::Float => m::FieldType::Float,
        wit::FieldType::Boolean => m::FieldType::Boolean,
        wit::FieldType::Datetime => m::FieldType::Datetime,
        wit::FieldType::Json => m::FieldType::Json,
        wit::FieldType::Ref(target) => m::FieldType::Ref(target),
        wit::FieldType::Collection(target) => m::FieldType::Collection(target),
    }
}

fn loader_def(loader: wit::LoaderDef) -> m::LoaderDef {
    let kind = match loader.kind {
        wit::LoaderKind::Single => m::LoaderKind::Single,
        wit::LoaderKind::Batched(max_batch) => m::LoaderKind::Batched { max_batch },
        wit::LoaderKind::Collection(c) => m::LoaderKind::Collection {
            parent: c.parent,
            field: c.field,
            page_size: c.page_size,
            parent_field: c.parent_field,
        },
        wit::LoaderKind::Raw => m::LoaderKind::Raw,
        wit::LoaderKind::ChangeFeed => m::LoaderKind::ChangeFeed,
    };
    m::LoaderDef { name: loader.name, entity: loader.entity, kind, description: loader.description }
}

fn input_step(step: wit::InputStep) -> m::InputStep {
    m::InputStep {
        key: step.key,
        label: step.label,
        help: step.help,
        default_value: step.default_value,
        required: step.required,
        shown_when: step.shown_when,
    }
}

fn onboarding_step(step: wit::OnboardingStep) -> m::OnboardingStep {
    match step {
        wit::OnboardingStep::Input(s) => m::OnboardingStep::Input(input_step(s)),
        wit::OnboardingStep::Secret(s) => m::OnboardingStep::Secret(input_step(s)),
        wit::OnboardingStep::Select(s) => m::OnboardingStep::Select(m::SelectStep {
            key: s.key,
            label: s.label,
            help: s.help,
            options: s.options.into_iter().map(select_option).collect(),
            dynamic: s.dynamic,
            multiple: s.multiple,
        }),
        wit::OnboardingStep::Validate(label) => m::OnboardingStep::Validate { label },
    }
}

pub(crate) fn select_option(option: wit::SelectOption) -> m::SelectOption {
    m::SelectOption { value: option.value, label: option.label }
}

fn permissions(p: wit::Permissions) -> m::Permissions {
    m::Permissions {
        hosts: p.hosts.into_iter().map(|h| m::HostPermission { host: h.host, path_prefix: h.path_prefix }).collect(),
        credentials: p
            .credentials
            .into_iter()
            .map(|c| m::CredentialDef { name: c.name, injection: injection(c.injection), hosts: c.hosts })
            .collect(),
        base_url_key: p.base_url_key,
        resources: m::ResourceNeeds {
            memory_mib: p.resources.memory_mib,
            call_timeout_ms: p.resources.call_timeout_ms,
        },
        // Declared apart, through `request-limits` (contract 0.2.0).
        request_limits: Vec::new(),
    }
}

pub(crate) fn searchable_field(field: text_search::SearchableField) -> m::SearchableField {
    m::SearchableField { entity: field.entity, field: field.field, weight: field.weight }
}

pub(crate) fn versioned_fields(group: versioned::VersionedFields) -> m::VersionedFields {
    m::VersionedFields { entity: group.entity, fields: group.fields, versions: group.versions }
}

pub(crate) fn owned_collection(owned: ownership::OwnedCollection) -> m::OwnedCollection {
    m::OwnedCollection { entity: owned.entity, field: owned.field }
}

pub(crate) fn scoped_feed(feed: scoping::ScopedFeed) -> m::ScopedFeed {
    m::ScopedFeed { loader: feed.loader, entity: feed.entity }
}

pub(crate) fn request_limit(limit: pacing::RequestLimit) -> m::RequestLimit {
    let method = limit.method.map(|method| {
        use super::bindings::v0_1::max::connector::http::Method;
        match method {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
        .to_string()
    });
    m::RequestLimit { name: limit.name, method, path: limit.path, max: limit.max, interval_ms: limit.interval_ms }
}

fn injection(injection: wit::CredentialInjection) -> m::CredentialInjection {
    match injection {
        wit::CredentialInjection::Bearer => m::CredentialInjection::Bearer,
        wit::CredentialInjection::Authorization => m::CredentialInjection::Authorization,
        wit::CredentialInjection::Header(name) => m::CredentialInjection::Header { name },
        wit::CredentialInjection::Query(name) => m::CredentialInjection::Query { name },
        wit::CredentialInjection::Oauth2(o) => m::CredentialInjection::OAuth2(m::OAuth2 {
            token_url: o.token_url,
            refresh_token_key: o.refresh_token_key,
            client_id_key: o.client_id_key,
            client_secret_key: o.client_secret_key,
        }),
    }
}

/// The guest's error, its message passed through `clean` (it may quote what a server echoed).
pub(crate) fn connector_error(error: wit::ConnectorError, clean: impl Fn(&str) -> String) -> data::ConnectorError {
    match error {
        wit::ConnectorError::RateLimited(ms) => data::ConnectorError::RateLimited(ms),
        wit::ConnectorError::Unauthorized(m) => data::ConnectorError::Unauthorized(clean(&m)),
        wit::ConnectorError::Forbidden(m) => data::ConnectorError::Forbidden(clean(&m)),
        wit::ConnectorError::NotFound(m) => data::ConnectorError::NotFound(clean(&m)),
        wit::ConnectorError::Transient(m) => data::ConnectorError::Transient(clean(&m)),
        wit::ConnectorError::InvalidInput(m) => data::ConnectorError::InvalidInput(clean(&m)),
        wit::ConnectorError::InvalidResponse(m) => data::ConnectorError::InvalidResponse(clean(&m)),
        wit::ConnectorError::Other(m) => data::ConnectorError::Other(clean(&m)),
    }
}

pub(crate) fn entity_ref_to_wit(r: &data::EntityRef) -> wit::EntityRef {
    wit::EntityRef { entity: r.entity.clone(), id: r.id.clone() }
}

fn entity_ref(r: wit::EntityRef) -> data::EntityRef {
    data::EntityRef { entity: r.entity, id: r.id }
}

pub(crate) fn seed_state_to_wit(state: &data::SeedState) -> wit::SeedState {
    wit::SeedState {
        last_completed_sync: state.last_completed_sync.clone(),
        cursors: state.cursors.clone(),
        full: state.full,
    }
}

pub(crate) fn sync_plan(plan: wit::SyncPlan) -> data::SyncPlan {
    let step = |s: wit::Step| data::Step {
        target: match s.target {
            wit::Target::Root => data::Target::Root,
            wit::Target::All(entity) => data::Target::All(entity),
            wit::Target::One(r) => data::Target::One(entity_ref(r)),
        },
        operation: match s.operation {
            wit::Operation::LoadFields(fields) => data::Operation::LoadFields(fields),
            wit::Operation::LoadCollection(field) => data::Operation::LoadCollection(field),
            wit::Operation::FollowChanges(loader) => data::Operation::FollowChanges(loader),
        },
    };
    data::SyncPlan { groups: plan.groups.into_iter().map(|g| g.into_iter().map(step).collect()).collect() }
}

pub(crate) fn entity_batch(batch: wit::EntityBatch, limits: &super::Limits) -> crate::Result<data::EntityBatch> {
    let rows =
        super::packed::decode_rows(&batch.entity, &batch.columns, batch.row_count, &batch.data, &batch.text, limits)?;
    Ok(data::EntityBatch { entity: batch.entity, columns: batch.columns, rows })
}

pub(crate) fn entity_batches(
    batches: Vec<wit::EntityBatch>,
    limits: &super::Limits,
) -> crate::Result<Vec<data::EntityBatch>> {
    batches.into_iter().map(|batch| entity_batch(batch, limits)).collect()
}

pub(crate) fn page(page: wit::Page, limits: &super::Limits) -> crate::Result<data::Page> {
    Ok(data::Page {
        items: entity_batch(page.items, limits)?,
        related: entity_batches(page.related, limits)?,
        next_cursor: page.next_cursor,
    })
}

pub(crate) fn change_page(page: wit::ChangePage, limits: &super::Limits) -> crate::Result<data::ChangePage> {
    if let Some(deleted) = page.deletions.iter().find(|d| d.id.len() > limits.max_id_bytes) {
        return Err(crate::Error::LimitExceeded {
            connector: String::new(),
            call: String::new(),
            limit: crate::LimitKind::IdSize,
            detail: format!(
                "a deletion of {} with an id of {} bytes; ids of at most {} bytes are stored",
                deleted.entity,
                deleted.id.len(),
                limits.max_id_bytes
            ),
        });
    }
    Ok(data::ChangePage {
        upserts: entity_batches(page.upserts, limits)?,
        deletions: page.deletions.into_iter().map(entity_ref).collect(),
        next_cursor: page.next_cursor,
        has_more: page.has_more,
    })
}
