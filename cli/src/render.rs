//! Text renderings of connectors shared by several commands.

use max_host::manifest::{ConnectorInfo, OnboardingStep};
use max_host::project::{InstalledConnector, permission_lines};

use crate::output::Printer;

/// Name, version, contract, hash, description and what it asks for.
pub fn summary(printer: &Printer, connector: &InstalledConnector) -> String {
    let info = &connector.info;
    let mut out = vec![
        format!(
            "{} {}  {}",
            printer.bold(&info.name),
            info.version,
            printer.dim(&format!("(max:connector@{})", connector.contract))
        ),
        format!("  {}", info.description),
        format!("  sha256 {}  {} KiB", connector.sha256, connector.size_bytes.div_ceil(1024)),
        String::new(),
        format!("  Entities ({}): {}", info.schema.entities.len(), entity_names(info)),
        "  Permissions it asks for:".to_string(),
    ];
    let lines = permission_lines(&connector.granted);
    if lines.is_empty() {
        out.push("    none (no network access)".to_string());
    }
    out.extend(lines.into_iter().map(|l| format!("    - {l}")));
    out.join("\n")
}

/// The first entity names, and how many more there are: a connector may declare thousands.
fn entity_names(info: &ConnectorInfo) -> String {
    const SHOWN: usize = 12;
    let names: Vec<&str> = info.schema.entities.iter().take(SHOWN).map(|e| e.name.as_str()).collect();
    let more = info.schema.entities.len().saturating_sub(SHOWN);
    if more == 0 { names.join(", ") } else { format!("{}, … and {more} more", names.join(", ")) }
}

/// The full description: summary, entities with fields, loaders and onboarding.
pub fn details(printer: &Printer, connector: &InstalledConnector) -> String {
    let info: &ConnectorInfo = &connector.info;
    let mut out = vec![summary(printer, connector), String::new(), printer.bold("Entities")];
    for entity in &info.schema.entities {
        let root = info
            .schema
            .roots
            .iter()
            .find(|r| r.entity == entity.name)
            .map(|r| format!(" (root, id `{}`)", r.id))
            .unwrap_or_default();
        out.push(format!("  {}{root}", printer.bold(&entity.name)));
        let rows: Vec<Vec<String>> = entity
            .fields
            .iter()
            .map(|f| {
                let loader = info
                    .resolvers
                    .iter()
                    .find(|r| r.entity == entity.name && r.fields.contains(&f.name))
                    .map(|r| r.loader.clone())
                    .unwrap_or_else(|| "-".to_string());
                vec![f.name.clone(), f.field_type.to_string(), loader]
            })
            .collect();
        for line in printer.table(&["FIELD", "TYPE", "LOADER"], &rows).lines() {
            out.push(format!("    {line}"));
        }
    }
    out.push(String::new());
    out.push(printer.bold("Loaders"));
    let rows: Vec<Vec<String>> = info
        .loaders
        .iter()
        .map(|l| {
            let kind = match info.feed_scope(&l.name) {
                Some(scope) => format!("{} per {scope}", l.kind),
                None => l.kind.to_string(),
            };
            vec![l.name.clone(), l.entity.clone(), kind, l.description.clone().unwrap_or_default()]
        })
        .collect();
    for line in printer.table(&["NAME", "ENTITY", "KIND", "DESCRIPTION"], &rows).lines() {
        out.push(format!("  {line}"));
    }
    out.push(String::new());
    out.push(printer.bold("Onboarding (max connect)"));
    for (i, step) in info.onboarding.iter().enumerate() {
        out.push(format!("  {}. {}", i + 1, onboarding_line(step)));
    }
    out.join("\n")
}

fn onboarding_line(step: &OnboardingStep) -> String {
    match step {
        OnboardingStep::Input(s) => {
            let default = s.default_value.as_ref().map(|d| format!(" [default: {d}]")).unwrap_or_default();
            format!("{} (`{}`){default}", s.label, s.key)
        }
        OnboardingStep::Secret(s) => format!("{} (`{}`, secret)", s.label, s.key),
        OnboardingStep::Select(s) => {
            format!("{} (`{}`, choice{})", s.label, s.key, if s.multiple { ", several" } else { "" })
        }
        OnboardingStep::Validate { label } => format!("{label} (calls the API)"),
    }
}
