//! Arbitrary connector descriptions for property tests: every kind of field, loader, onboarding step,
//! credential injection and optional part, with any text (the names needn't be valid: a description
//! is stored before it is judged by nothing but its own round trip).

use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;

use super::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-zA-Z_][a-zA-Z0-9_]{0,12}", Just(String::new()), Just("name".to_string())]
}

fn field_type() -> impl Strategy<Value = FieldType> {
    prop_oneof![
        Just(FieldType::String),
        Just(FieldType::Integer),
        Just(FieldType::Float),
        Just(FieldType::Boolean),
        Just(FieldType::Datetime),
        Just(FieldType::Json),
        text().prop_map(FieldType::Ref),
        text().prop_map(FieldType::Collection),
    ]
}

fn entity() -> impl Strategy<Value = EntityDef> {
    (text(), of(text()), vec((text(), field_type(), of(text()), any::<bool>()), 0..4)).prop_map(
        |(name, description, fields)| EntityDef {
            name,
            description,
            fields: fields
                .into_iter()
                .map(|(name, field_type, description, discovered)| FieldDef {
                    name,
                    field_type,
                    description,
                    discovered,
                })
                .collect(),
        },
    )
}

fn loader() -> impl Strategy<Value = LoaderDef> {
    let kind = prop_oneof![
        Just(LoaderKind::Single),
        any::<u32>().prop_map(|max_batch| LoaderKind::Batched { max_batch }),
        (text(), text(), any::<u32>(), of(text())).prop_map(|(parent, field, page_size, parent_field)| {
            LoaderKind::Collection { parent, field, page_size, parent_field }
        }),
        Just(LoaderKind::Raw),
        Just(LoaderKind::ChangeFeed),
    ];
    (text(), text(), kind, of(text())).prop_map(|(name, entity, kind, description)| LoaderDef {
        name,
        entity,
        kind,
        description,
    })
}

fn input() -> impl Strategy<Value = InputStep> {
    (text(), text(), of(text()), of(text()), any::<bool>(), of((text(), text()))).prop_map(
        |(key, label, help, default_value, required, shown_when)| InputStep {
            key,
            label,
            help,
            default_value,
            required,
            shown_when,
        },
    )
}

fn onboarding_step() -> impl Strategy<Value = OnboardingStep> {
    let option = (text(), text()).prop_map(|(value, label)| SelectOption { value, label });
    let select = (text(), text(), of(text()), vec(option, 0..3), any::<bool>(), any::<bool>()).prop_map(
        |(key, label, help, options, dynamic, multiple)| SelectStep { key, label, help, options, dynamic, multiple },
    );
    prop_oneof![
        input().prop_map(OnboardingStep::Input),
        input().prop_map(OnboardingStep::Secret),
        select.prop_map(OnboardingStep::Select),
        text().prop_map(|label| OnboardingStep::Validate { label }),
    ]
}

fn injection() -> impl Strategy<Value = CredentialInjection> {
    let oauth = (text(), text(), of(text()), of(text())).prop_map(
        |(token_url, refresh_token_key, client_id_key, client_secret_key)| {
            CredentialInjection::OAuth2(OAuth2 { token_url, refresh_token_key, client_id_key, client_secret_key })
        },
    );
    prop_oneof![
        Just(CredentialInjection::Bearer),
        Just(CredentialInjection::Authorization),
        text().prop_map(|name| CredentialInjection::Header { name }),
        text().prop_map(|name| CredentialInjection::Query { name }),
        oauth,
    ]
}

/// Permissions with every kind of credential injection.
pub(crate) fn permissions() -> impl Strategy<Value = Permissions> {
    let host = (text(), of(text())).prop_map(|(host, path_prefix)| HostPermission { host, path_prefix });
    let credential = (text(), injection(), vec(text(), 0..3)).prop_map(|(name, injection, hosts)| CredentialDef {
        name,
        injection,
        hosts,
    });
    let resources = (of(any::<u32>()), of(any::<u32>()))
        .prop_map(|(memory_mib, call_timeout_ms)| ResourceNeeds { memory_mib, call_timeout_ms });
    let request_limit = (text(), of(text()), text(), any::<u32>(), any::<u32>())
        .prop_map(|(name, method, path, max, interval_ms)| RequestLimit { name, method, path, max, interval_ms });
    (vec(host, 0..3), vec(credential, 0..4), of(text()), resources, vec(request_limit, 0..2)).prop_map(
        |(hosts, credentials, base_url_key, resources, request_limits)| Permissions {
            hosts,
            credentials,
            base_url_key,
            resources,
            request_limits,
        },
    )
}

/// A whole description.
pub(crate) fn connector_info() -> impl Strategy<Value = ConnectorInfo> {
    let root = (text(), text()).prop_map(|(entity, id)| RootDef { entity, id });
    let resolver =
        (text(), vec(text(), 0..3), text()).prop_map(|(entity, fields, loader)| Resolver { entity, fields, loader });
    (
        (text(), text(), text()),
        (vec(entity(), 0..4), vec(root, 0..2)),
        vec(loader(), 0..4),
        vec(resolver, 0..3),
        vec(onboarding_step(), 0..5),
        permissions(),
    )
        .prop_map(
            |((name, version, description), (entities, roots), loaders, resolvers, onboarding, permissions)| {
                ConnectorInfo {
                    name,
                    version,
                    description,
                    schema: Schema {
                        entities,
                        roots,
                        searchable: Vec::new(),
                        versioned: Vec::new(),
                        owned: Vec::new(),
                    },
                    loaders,
                    resolvers,
                    onboarding,
                    permissions,
                    scoped_feeds: Vec::new(),
                }
            },
        )
}
