//! The HubSpot connector: syncs contacts, companies, deals, tickets and notes (every property typed, the
//! portal's custom ones discovered), their associations with labels, owners, and deal and ticket
//! pipelines with their stages from HubSpot's CRM API (`https://api.hubapi.com`) into Max.
//!
//! A full sync lists each object type a hundred at a time (`GET /crm/v3/objects/{type}`, properties
//! past what fits a URL read with a batch read of the page) and reads the page's associations through
//! the v4 batch read. An incremental sync reads changes through the search API (see `changes`) and
//! deletions through the archived listings. Auth is a private-app access token or an OAuth access token
//! the host refreshes; the connector never sees either. Search has a limit of its own, about four
//! requests a second, that HubSpot announces in no header: the connector declares it and the host
//! paces every instance's searches together.

mod api;
mod changes;
mod discovery;
mod html;
mod model;
mod objects;
mod plain;

use max_connector_sdk::http::Method;
use max_connector_sdk::table::EntityTable;
use max_connector_sdk::{
    Config, Connector, ConnectorError, ConnectorInfo, Discovery, Entities, EntityRef, FieldType, Loader, Onboarding,
    Page, Permissions, RequestLimit, Result, Schema, SeedState, StepBuilder, SyncPlan, Target, export_connector,
};

use api::{Api, DEFAULT_BASE_URL};
use discovery::Properties;
use model::{OBJECTS, OWNER_TABLE, ObjectKind, PIPELINE, PORTAL, PORTAL_ID, STAGE};
use objects::Shape;

/// Ids per call of a by-id loader.
const BY_ID_BATCH: u32 = objects::BATCH_READ as u32;

struct HubSpot {
    api: Api,
    /// The object types to sync, in `OBJECTS` order.
    synced: Vec<&'static ObjectKind>,
    /// Which properties `discover` returns.
    properties: Properties,
    /// What is read and written per synced type: declared columns and discovered properties.
    shapes: Vec<Shape>,
}

impl HubSpot {
    /// The shape of the object type whose loaders `matches` names.
    fn shape(&self, matches: impl Fn(&ObjectKind) -> bool) -> Option<&Shape> {
        self.shapes.iter().find(|s| matches(s.kind))
    }

    /// The object types with pipelines that are synced (`deals`, `tickets`).
    fn with_pipelines(&self) -> Vec<&'static str> {
        plain::WITH_PIPELINES.into_iter().filter(|p| self.synced.iter().any(|k| k.path == *p)).collect()
    }

    /// Every pipeline and stage of the synced types.
    fn all_pipelines(&self) -> Result<(max_connector_sdk::Batch, max_connector_sdk::Batch)> {
        let (mut pipelines, mut stages) = (PIPELINE.batch(), STAGE.batch());
        for object_type in self.with_pipelines() {
            plain::pipelines(&self.api, object_type, &mut pipelines, &mut stages)?;
        }
        Ok((pipelines, stages))
    }
}

impl Connector for HubSpot {
    fn describe() -> ConnectorInfo {
        let mut schema = Schema::new().entity(PORTAL.entity, |mut e| {
            e = PORTAL.declare(e);
            for kind in OBJECTS {
                e = e.field_doc(
                    kind.path,
                    FieldType::Collection(kind.entity.to_string()),
                    &format!("Every {} synced", kind.entity),
                );
            }
            e.field_doc("owners", FieldType::Collection(OWNER_TABLE.entity.to_string()), "Every active owner")
                .field_doc("pipelines", FieldType::Collection(PIPELINE.entity.to_string()), "Every pipeline")
        });
        for kind in OBJECTS {
            schema = schema.entity(kind.entity, |e| kind.declare(e));
        }
        for table in [&OWNER_TABLE, &PIPELINE, &STAGE] {
            schema = schema.entity(table.entity, |e| table.declare(e));
        }
        let mut info = ConnectorInfo::new(
            "hubspot",
            env!("CARGO_PKG_VERSION"),
            "HubSpot CRM: contacts, companies, deals, tickets, notes (custom properties included), owners and pipelines",
            schema.root(PORTAL.entity, PORTAL_ID),
        )
        .loader(
            Loader::single("portal", PORTAL.entity).fills(&PORTAL.fields()).describe("GET /account-info/v3/details"),
        )
        .loader(
            Loader::collection("owners", PORTAL.entity, "owners", OWNER_TABLE.entity, 100)
                .describe("GET /crm/v3/owners, page by page"),
        )
        .loader(
            OWNER_TABLE
                .by_id_loader("owners-by-id", BY_ID_BATCH)
                .describe("GET /crm/v3/owners/{id} (archived ones too)"),
        )
        .loader(
            Loader::collection("pipelines", PORTAL.entity, "pipelines", PIPELINE.entity, 100)
                .describe("GET /crm/v3/pipelines/{deals|tickets}, with their stages"),
        )
        .loader(PIPELINE.by_id_loader("pipelines-by-id", BY_ID_BATCH).describe("GET /crm/v3/pipelines/{type}"))
        .loader(STAGE.by_id_loader("stages-by-id", BY_ID_BATCH).describe("GET /crm/v3/pipelines/{type}"));
        for kind in OBJECTS {
            let mut fills = kind.fields();
            fills.push(max_connector_sdk::ALL_DISCOVERED);
            info = info
                .loader(
                    Loader::collection(kind.list_loader(), PORTAL.entity, kind.path, kind.entity, objects::PAGE_SIZE)
                        .describe(&format!(
                            "GET /crm/v3/objects/{}?properties=… and associations v4 batch reads, page by page",
                            kind.path
                        )),
                )
                .loader(
                    Loader::batched(&kind.by_id_loader(), kind.entity, BY_ID_BATCH)
                        .fills(&fills)
                        .describe(&format!("POST /crm/v3/objects/{}/batch/read", kind.path)),
                )
                .loader(Loader::change_feed(&kind.changes_loader(), kind.entity).describe(&format!(
                    "POST /crm/v3/objects/{}/search on {} and GET …?archived=true",
                    kind.path, kind.modified
                )));
        }
        let objects: Vec<(&str, &str)> = OBJECTS.iter().map(|k| (k.path, k.entity)).collect();
        info.onboarding(
            Onboarding::new()
                .input("base_url", "HubSpot API URL", Some(DEFAULT_BASE_URL))
                .help("Leave as is; change it only to point at a test server")
                .select(
                    "auth",
                    "How to sign in",
                    &[("private_app", "A private app's access token"), ("oauth", "OAuth tokens")],
                    false,
                    false,
                )
                .help("A private app is simplest: HubSpot → Settings → Integrations → Private apps, with the CRM read scopes of the objects to sync")
                .secret("access_token", "Private app access token")
                .help("Starts with pat-")
                .when("auth", "private_app")
                .oauth_secrets("auth", "oauth")
                .validate("Checking the token with HubSpot (account details)")
                .select("objects", "Object types to sync", &objects, false, true)
                .help("None chosen means all; each needs its read scope (tickets need `tickets`, notes the contacts one)")
                .select(
                    "properties",
                    "Properties to sync",
                    &[
                        ("all", "Every property, standard and custom"),
                        ("custom", "The main standard properties and every custom one"),
                    ],
                    false,
                    false,
                )
                .help("Every property is what HubSpot shows; custom only keeps tables narrower"),
        )
        .permissions(
            Permissions::new()
                .host("api.hubapi.com")
                .bearer("access_token")
                .oauth2(
                    "oauth_access_token",
                    "https://api.hubapi.com/oauth/v1/token",
                    "oauth_refresh_token",
                    Some("oauth_client_id"),
                    Some("oauth_client_secret"),
                )
                .base_url_key("base_url"),
        )
    }

    fn request_limits() -> Vec<RequestLimit> {
        vec![RequestLimit::new("HubSpot CRM search", "/crm/v3/objects/*/search", 4, 1000).method(Method::Post)]
    }

    fn initialise(config: Config) -> Result<Self> {
        let base_url = config.base_url(DEFAULT_BASE_URL)?;
        let credential = match config.get("auth").unwrap_or("private_app") {
            "private_app" => "access_token",
            "oauth" => "oauth_access_token",
            other => {
                return Err(ConnectorError::InvalidInput(format!("auth `{other}`: expected private_app or oauth")));
            }
        };
        let chosen: Vec<&str> =
            config.get("objects").unwrap_or_default().split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
        if let Some(unknown) = chosen.iter().find(|c| ObjectKind::by_path(c).is_none()) {
            let known: Vec<&str> = OBJECTS.iter().map(|k| k.path).collect();
            return Err(ConnectorError::InvalidInput(format!(
                "objects: `{unknown}` is not one of {}",
                known.join(", ")
            )));
        }
        let synced: Vec<&'static ObjectKind> =
            OBJECTS.into_iter().filter(|k| chosen.is_empty() || chosen.contains(&k.path)).collect();
        let properties = match config.get("properties").unwrap_or("all") {
            "all" | "" => Properties::All,
            "custom" => Properties::Custom,
            other => {
                return Err(ConnectorError::InvalidInput(format!("properties `{other}`: expected all or custom")));
            }
        };
        let shapes = synced
            .iter()
            .map(|kind| {
                let discovered = config
                    .discovered()
                    .fields_of(kind.entity)
                    .filter_map(|f| match &f.type_ {
                        // A label's collection; one of a type no longer synced is left out of rows.
                        FieldType::Collection(entity) => ObjectKind::by_entity(entity)
                            .filter(|to| synced.iter().any(|s| s.path == to.path))
                            .map(|to| objects::Discovered::Labelled(f.name.clone(), to)),
                        other => Some(objects::Discovered::Property(f.name.clone(), discovery::kind_of_field(other))),
                    })
                    .collect();
                Shape::new(kind, &synced, discovered)
            })
            .collect();
        Ok(HubSpot { api: Api::new(base_url, credential), synced, properties, shapes })
    }

    fn validate(&mut self) -> Result<String> {
        let (details, _) = self.api.send(self.api.get("/account-info/v3/details"))?;
        let text = |key: &str| match &details[key] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => "?".to_string(),
        };
        let name = details["portalName"].as_str().map(|n| format!("\"{n}\", ")).unwrap_or_default();
        Ok(format!(
            "HubSpot account {} ({name}{}, {}, {})",
            text("portalId"),
            text("uiDomain"),
            text("timeZone"),
            text("companyCurrency")
        ))
    }

    fn discover(&mut self) -> Result<Discovery> {
        discovery::discover(&self.api, &self.synced, self.properties)
    }

    /// After a completed sync whose change cursors are all stored: the changes of every synced type,
    /// and owners, pipelines and the account listed again (a few requests). Otherwise everything, after
    /// taking a change cursor per type.
    fn seed(&mut self, state: &SeedState) -> Result<SyncPlan> {
        let feeds: Vec<(Target, max_connector_sdk::Operation)> =
            self.synced.iter().map(|k| (Target::Root, StepBuilder.changes(&k.changes_loader()))).collect();
        let small = vec![
            (Target::Root, StepBuilder.fields(&PORTAL.fields())),
            (Target::Root, StepBuilder.collection("owners")),
            (Target::Root, StepBuilder.collection("pipelines")),
        ];
        let cursors_kept = self.synced.iter().all(|k| state.cursor(&k.changes_loader()).is_some());
        if !state.full && state.last_completed_sync.is_some() && cursors_kept {
            return Ok(SyncPlan::new().together(feeds.into_iter().chain(small).collect()));
        }
        let lists = self.synced.iter().map(|k| (Target::Root, StepBuilder.collection(k.path)));
        Ok(SyncPlan::new().together(feeds).together(small.into_iter().chain(lists).collect()))
    }

    fn load(&mut self, loader: &str, refs: &[EntityRef]) -> Result<Entities> {
        let ids: Vec<&str> = refs.iter().map(|r| r.id.as_str()).collect();
        match loader {
            "portal" => Ok(Entities::from(plain::portal(&self.api)?)),
            "owners-by-id" => Ok(Entities::from(plain::owners_by_id(&self.api, &ids)?)),
            "pipelines-by-id" | "stages-by-id" => {
                let (pipelines, stages) = self.all_pipelines()?;
                Ok(Entities::new().with(pipelines).with(stages))
            }
            _ => {
                let shape =
                    self.shape(|k| k.by_id_loader() == loader).ok_or_else(|| ConnectorError::unknown_loader(loader))?;
                Ok(Entities::from(shape.by_id(&self.api, &ids)?))
            }
        }
    }

    fn load_page(&mut self, loader: &str, _parent: &EntityRef, cursor: Option<&str>) -> Result<Page> {
        match loader {
            "owners" => {
                let (batch, next) = plain::owners_page(&self.api, cursor)?;
                Ok(Page::new(batch).next(next))
            }
            "pipelines" => {
                // One page per object type with pipelines, the cursor naming the type.
                let types = self.with_pipelines();
                let at = cursor.and_then(|c| types.iter().position(|t| *t == c)).unwrap_or(0);
                let Some(object_type) = types.get(at) else { return Ok(Page::new(PIPELINE.batch())) };
                let (mut pipelines, mut stages) = (PIPELINE.batch(), STAGE.batch());
                plain::pipelines(&self.api, object_type, &mut pipelines, &mut stages)?;
                Ok(Page::new(pipelines).related(stages).next(types.get(at + 1).map(|t| t.to_string())))
            }
            _ => {
                let shape =
                    self.shape(|k| k.list_loader() == loader).ok_or_else(|| ConnectorError::unknown_loader(loader))?;
                let (batch, next) = shape.list_page(&self.api, cursor)?;
                Ok(Page::new(batch).next(next))
            }
        }
    }

    fn changes(&mut self, loader: &str, cursor: Option<&str>) -> Result<max_connector_sdk::ChangePage> {
        let shape =
            self.shape(|k| k.changes_loader() == loader).ok_or_else(|| ConnectorError::unknown_loader(loader))?;
        changes::page(&self.api, shape, cursor)
    }
}

export_connector!(HubSpot);
