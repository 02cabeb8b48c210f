//! The HubSpot portal the fake serves, deterministic from a seed: CRM objects of five types (notes, an
//! engagement, with an HTML body), each with
//! standard and custom properties of every HubSpot type (all values strings, as HubSpot sends them),
//! associations between the types with their type ids and labels, owners, and the deal and ticket
//! pipelines with their stages.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::{Rng, format_ms};

/// How many objects of each kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Size {
    /// Contacts.
    pub contacts: usize,
    /// Companies.
    pub companies: usize,
    /// Deals.
    pub deals: usize,
    /// Tickets.
    pub tickets: usize,
    /// Notes (engagements logged on contacts, companies and deals).
    pub notes: usize,
    /// Owners (users of the portal).
    pub owners: usize,
}

impl Default for Size {
    fn default() -> Self {
        Size { contacts: 30, companies: 12, deals: 20, tickets: 10, notes: 15, owners: 5 }
    }
}

/// A CRM object type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectType {
    /// `contacts` (`0-1`).
    Contacts,
    /// `companies` (`0-2`).
    Companies,
    /// `deals` (`0-3`).
    Deals,
    /// `tickets` (`0-5`).
    Tickets,
    /// `notes` (`0-46`).
    Notes,
}

impl ObjectType {
    /// Every type.
    pub const ALL: [ObjectType; 5] =
        [ObjectType::Contacts, ObjectType::Companies, ObjectType::Deals, ObjectType::Tickets, ObjectType::Notes];

    /// The path segment (`contacts`).
    pub fn path(self) -> &'static str {
        match self {
            ObjectType::Contacts => "contacts",
            ObjectType::Companies => "companies",
            ObjectType::Deals => "deals",
            ObjectType::Tickets => "tickets",
            ObjectType::Notes => "notes",
        }
    }

    /// HubSpot's id of the type (`0-1`).
    pub fn type_id(self) -> &'static str {
        match self {
            ObjectType::Contacts => "0-1",
            ObjectType::Companies => "0-2",
            ObjectType::Deals => "0-3",
            ObjectType::Tickets => "0-5",
            ObjectType::Notes => "0-46",
        }
    }

    /// The type a path segment names, by name, singular name or type id.
    pub fn from_path(segment: &str) -> Option<ObjectType> {
        ObjectType::ALL
            .into_iter()
            .find(|t| segment == t.path() || segment == t.type_id() || Some(segment) == t.path().strip_suffix('s'))
    }

    /// The property holding when an object was created: engagements have their own name for it.
    pub fn created(self) -> &'static str {
        match self {
            ObjectType::Notes => "hs_createdate",
            _ => "createdate",
        }
    }

    /// The property holding when an object last changed: contacts have their own name for it.
    pub fn last_modified(self) -> &'static str {
        match self {
            ObjectType::Contacts => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }

    /// The singular name used in v3 association types (`contact_to_company`).
    fn singular(self) -> &'static str {
        match self {
            ObjectType::Contacts => "contact",
            ObjectType::Companies => "company",
            ObjectType::Deals => "deal",
            ObjectType::Tickets => "ticket",
            ObjectType::Notes => "note",
        }
    }

    /// The properties returned when a request names none.
    fn default_properties(self) -> &'static [&'static str] {
        match self {
            ObjectType::Contacts => {
                &["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"]
            }
            ObjectType::Companies => &["createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"],
            ObjectType::Deals => &[
                "amount",
                "closedate",
                "createdate",
                "dealname",
                "dealstage",
                "hs_lastmodifieddate",
                "hs_object_id",
                "pipeline",
            ],
            ObjectType::Tickets => &[
                "content",
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
                "hs_pipeline",
                "hs_pipeline_stage",
                "hs_ticket_priority",
                "subject",
            ],
            ObjectType::Notes => &["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
        }
    }
}

/// A property's definition, as the properties API describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// Its internal name (`amount`).
    pub name: String,
    /// Its label.
    pub label: String,
    /// `string`, `number`, `date`, `datetime`, `enumeration` or `bool`.
    pub kind: &'static str,
    /// How HubSpot's forms show it (`text`, `number`, `date`, `select`, `booleancheckbox`…).
    pub field_type: &'static str,
    /// What it is for.
    pub description: String,
    /// The group it is shown in.
    pub group: String,
    /// An enumeration's options: (value, label).
    pub options: Vec<(String, String)>,
    /// HubSpot's own (false for a portal's custom properties).
    pub hubspot_defined: bool,
}

impl Property {
    fn new(name: &str, kind: &'static str, label: &str, hubspot_defined: bool) -> Self {
        let field_type = match kind {
            "number" => "number",
            "date" | "datetime" => "date",
            "enumeration" => "select",
            "bool" => "booleancheckbox",
            _ => "text",
        };
        Property {
            name: name.to_string(),
            label: label.to_string(),
            kind,
            field_type,
            description: format!("{label}."),
            group: if hubspot_defined { "information".into() } else { "custom".into() },
            options: Vec::new(),
            hubspot_defined,
        }
    }

    fn options(mut self, values: &[&str]) -> Self {
        self.options = values.iter().map(|v| (v.to_string(), title(v))).collect();
        self
    }

    /// As `GET /crm/v3/properties/{objectType}` lists it.
    pub fn json(&self, epoch: &str) -> Value {
        let options: Vec<Value> = self
            .options
            .iter()
            .enumerate()
            .map(|(i, (value, label))| json!({ "label": label, "value": value, "displayOrder": i, "hidden": false }))
            .collect();
        json!({
            "name": self.name,
            "label": self.label,
            "type": self.kind,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group,
            "options": options,
            "displayOrder": -1,
            "calculated": false,
            "externalOptions": false,
            "hasUniqueValue": self.name == "hs_object_id",
            "hidden": false,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {
                "archivable": !self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": matches!(self.name.as_str(), "hs_object_id" | "createdate" | "lastmodifieddate" | "hs_lastmodifieddate"),
            },
            "formField": self.kind != "datetime",
            "createdAt": epoch,
            "updatedAt": epoch,
            "archived": false,
        })
    }
}

fn title(value: &str) -> String {
    let mut chars = value.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// One CRM object.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// Its id (a number, sent as a string).
    pub id: u64,
    /// Its property values, all strings; a property absent here is null.
    pub properties: BTreeMap<String, String>,
    /// Creation time, epoch milliseconds.
    pub created_ms: u64,
    /// Last change, epoch milliseconds.
    pub updated_ms: u64,
    /// When it was archived, if it is.
    pub archived_ms: Option<u64>,
}

/// An association's types one way: (HubSpot's type id, its label if it has one).
pub type AssociationTypes = [(u32, Option<String>)];

/// An association between two objects, with HubSpot's type ids and labels in each direction.
#[derive(Debug, Clone, PartialEq)]
pub struct Association {
    /// The object it starts from.
    pub from: (ObjectType, u64),
    /// The object it points to.
    pub to: (ObjectType, u64),
    /// Its types from `from` to `to`: (type id, label).
    pub types: Vec<(u32, Option<String>)>,
    /// Its types the other way.
    pub reverse: Vec<(u32, Option<String>)>,
}

/// The portal's own association label (`USER_DEFINED`) from a deal to its decision maker, and back.
pub const DECIDES_DEAL: u32 = 1001;
/// The way back of [`DECIDES_DEAL`].
pub const DECIDES_FOR: u32 = 1002;

fn decision_maker(type_id: u32) -> (u32, Option<String>) {
    (type_id, Some("Decision maker".to_string()))
}

/// The category of an association type: the portal's own labels are `USER_DEFINED`.
pub fn category(type_id: u32) -> &'static str {
    if type_id >= DECIDES_DEAL { "USER_DEFINED" } else { "HUBSPOT_DEFINED" }
}

/// A user of the portal that objects are assigned to.
#[derive(Debug, Clone, PartialEq)]
pub struct Owner {
    /// The owner id (`hubspot_owner_id` holds it).
    pub id: u64,
    /// The user id (a number in the API).
    pub user_id: u64,
    /// Email.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
}

/// A pipeline and its stages: (id, label) each.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// Its id (`default` for the first deal pipeline, as in HubSpot).
    pub id: String,
    /// Its label.
    pub label: String,
    /// Its stages in order: (id, label, a deal stage's probability).
    pub stages: Vec<(String, String, Option<f64>)>,
}

/// Everything the fake serves.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The portal (hub) id.
    pub portal_id: u64,
    objects: BTreeMap<ObjectType, Vec<Object>>,
    properties: BTreeMap<ObjectType, Vec<Property>>,
    associations: Vec<Association>,
    owners: Vec<Owner>,
    pipelines: BTreeMap<ObjectType, Vec<Pipeline>>,
    /// The newest time handed out, epoch milliseconds.
    clock_ms: u64,
}

/// A change to the portal, as `POST /_fake/mutate` takes it (`{"op": "update", ...}`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Mutation {
    /// Sets properties of a live object (a null value unsets one).
    Update {
        /// `contacts`, `companies`, `deals` or `tickets`.
        #[serde(rename = "type")]
        object_type: String,
        /// The object's id.
        id: String,
        /// The properties to set.
        properties: Map<String, Value>,
    },
    /// Creates an object.
    Create {
        /// Its type.
        #[serde(rename = "type")]
        object_type: String,
        /// Its properties.
        #[serde(default)]
        properties: Map<String, Value>,
    },
    /// Archives a live object, as deleting it in HubSpot does.
    Archive {
        /// Its type.
        #[serde(rename = "type")]
        object_type: String,
        /// Its id.
        id: String,
    },
    /// Adds a custom property (an admin creating one between syncs).
    AddProperty {
        /// The type it belongs to.
        #[serde(rename = "type")]
        object_type: String,
        /// Its internal name.
        name: String,
        /// `string`, `number`, `date`, `datetime`, `enumeration` or `bool`.
        kind: String,
        /// Its label (the name when absent).
        label: Option<String>,
        /// An enumeration's option values.
        #[serde(default)]
        options: Vec<String>,
    },
    /// Marks the first `count` live objects of a type modified now (an import or a workflow touching
    /// many at once), a millisecond apart or, `at_once`, in the same millisecond.
    Touch {
        /// Their type.
        #[serde(rename = "type")]
        object_type: String,
        /// How many.
        count: usize,
        /// All with one timestamp.
        #[serde(default)]
        at_once: bool,
    },
}

/// Marks `object` changed at `now`.
fn stamp(object: &mut Object, object_type: ObjectType, now: u64) {
    object.updated_ms = now;
    object.properties.insert(object_type.last_modified().to_string(), format_ms(now));
}

/// 2024-01-01T00:00:00Z: the data's first day.
const START_MS: u64 = 1_704_067_200_000;
const DAY_MS: u64 = 86_400_000;

const FIRST_NAMES: [&str; 8] = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken"];
const LAST_NAMES: [&str; 8] = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"];
const INDUSTRIES: [&str; 4] = ["COMPUTER_SOFTWARE", "FINANCIAL_SERVICES", "HOSPITAL_HEALTH_CARE", "RETAIL"];

fn standard(object_type: ObjectType) -> Vec<Property> {
    let p = |name: &str, kind: &'static str, label: &str| Property::new(name, kind, label, true);
    let mut list = vec![
        p("hs_object_id", "number", "Record ID"),
        p(object_type.created(), "datetime", "Create Date"),
        p(object_type.last_modified(), "datetime", "Last Modified Date"),
        p("hubspot_owner_id", "enumeration", "Owner"),
    ];
    list.extend(match object_type {
        ObjectType::Contacts => vec![
            p("email", "string", "Email"),
            p("firstname", "string", "First Name"),
            p("lastname", "string", "Last Name"),
            p("phone", "string", "Phone Number"),
            p("jobtitle", "string", "Job Title"),
            p("lifecyclestage", "enumeration", "Lifecycle Stage").options(&[
                "subscriber",
                "lead",
                "opportunity",
                "customer",
            ]),
        ],
        ObjectType::Companies => vec![
            p("name", "string", "Company name"),
            p("domain", "string", "Company Domain Name"),
            p("industry", "enumeration", "Industry").options(&INDUSTRIES),
            p("numberofemployees", "number", "Number of Employees"),
            p("annualrevenue", "number", "Annual Revenue"),
            p("city", "string", "City"),
        ],
        ObjectType::Deals => vec![
            p("dealname", "string", "Deal Name"),
            p("amount", "number", "Amount"),
            p("closedate", "datetime", "Close Date"),
            p("pipeline", "enumeration", "Pipeline"),
            p("dealstage", "enumeration", "Deal Stage"),
            p("dealtype", "enumeration", "Deal Type").options(&["newbusiness", "existingbusiness"]),
            p("hs_is_closed_won", "bool", "Is Closed Won"),
        ],
        ObjectType::Tickets => vec![
            p("subject", "string", "Ticket name"),
            p("content", "string", "Ticket description"),
            p("hs_pipeline", "enumeration", "Pipeline"),
            p("hs_pipeline_stage", "enumeration", "Ticket status"),
            p("hs_ticket_priority", "enumeration", "Priority").options(&["LOW", "MEDIUM", "HIGH"]),
        ],
        ObjectType::Notes => vec![
            p("hs_timestamp", "datetime", "Activity date"),
            p("hs_note_body", "string", "Note body"),
            p("hs_attachment_ids", "enumeration", "Attached file IDs"),
        ],
    });
    list
}

/// The portal's own properties: one of each type.
fn custom(object_type: ObjectType) -> Vec<Property> {
    let c = |name: &str, kind: &'static str, label: &str| Property::new(name, kind, label, false);
    match object_type {
        ObjectType::Contacts => vec![
            c("favorite_color", "enumeration", "Favorite color").options(&["red", "green", "blue"]),
            c("loyalty_score", "number", "Loyalty score"),
            c("renewal_date", "date", "Renewal date"),
            c("last_demo_at", "datetime", "Last demo"),
            c("is_champion", "bool", "Champion"),
            c("nickname", "string", "Nickname"),
        ],
        _ => vec![
            c("tier", "enumeration", "Tier").options(&["gold", "silver", "bronze"]),
            c("health_score", "number", "Health score"),
            c("contract_end", "date", "Contract end"),
            c("last_review_at", "datetime", "Last review"),
            c("strategic", "bool", "Strategic"),
            c("account_code", "string", "Account code"),
        ],
    }
}

/// A value of a custom property of `kind`.
fn custom_value(rng: &mut Rng, property: &Property) -> Option<String> {
    if rng.below(5) == 0 {
        return None; // not every object has every property
    }
    Some(match property.kind {
        "number" => format!("{}.{}", rng.below(1000), rng.below(100)),
        "date" => format_ms(START_MS + rng.below(700) * DAY_MS)[..10].to_string(),
        "datetime" => format_ms(START_MS + rng.below(700 * DAY_MS)),
        "bool" => (rng.below(2) == 0).to_string(),
        "enumeration" => rng.pick(&property.options).0.clone(),
        _ => format!("code-{}", rng.below(100_000)),
    })
}

impl Dataset {
    /// The portal for `seed` and `size`.
    pub fn generate(seed: u64, size: &Size) -> Self {
        let mut rng = Rng::new(seed);
        let owners: Vec<Owner> = (0..size.owners as u64)
            .map(|i| {
                let (first, last) = (FIRST_NAMES[i as usize % 8], LAST_NAMES[(i as usize / 8 + i as usize) % 8]);
                Owner {
                    id: 41_629_779 + i,
                    user_id: 9_586_504 + i,
                    email: format!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase()),
                    first_name: first.to_string(),
                    last_name: last.to_string(),
                }
            })
            .collect();
        let deal_pipelines = vec![
            Pipeline {
                id: "default".into(),
                label: "Sales Pipeline".into(),
                stages: ["appointmentscheduled", "qualifiedtobuy", "contractsent", "closedwon", "closedlost"]
                    .iter()
                    .zip([0.2, 0.4, 0.9, 1.0, 0.0])
                    .map(|(id, p)| (id.to_string(), title(id), Some(p)))
                    .collect(),
            },
            Pipeline {
                id: "75e28846-ad0d-4be2-a027-5e1da6590b98".into(),
                label: "Renewals".into(),
                stages: vec![
                    ("1234567".into(), "Up for renewal".into(), Some(0.5)),
                    ("1234568".into(), "Renewed".into(), Some(1.0)),
                ],
            },
        ];
        let ticket_pipelines = vec![Pipeline {
            id: "0".into(),
            label: "Support Pipeline".into(),
            stages: [("1", "New"), ("2", "Waiting on contact"), ("3", "Waiting on us"), ("4", "Closed")]
                .iter()
                .map(|(id, label)| (id.to_string(), label.to_string(), None))
                .collect(),
        }];
        let mut data = Dataset {
            portal_id: 62_515 + seed % 1000,
            objects: BTreeMap::new(),
            properties: ObjectType::ALL.into_iter().map(|t| (t, [standard(t), custom(t)].concat())).collect(),
            associations: Vec::new(),
            owners,
            pipelines: BTreeMap::from([(ObjectType::Deals, deal_pipelines), (ObjectType::Tickets, ticket_pipelines)]),
            clock_ms: START_MS,
        };
        let counts = [
            (ObjectType::Companies, size.companies),
            (ObjectType::Contacts, size.contacts),
            (ObjectType::Deals, size.deals),
            (ObjectType::Tickets, size.tickets),
            (ObjectType::Notes, size.notes),
        ];
        let mut next_id = 100;
        for (object_type, count) in counts {
            for i in 0..count {
                next_id += 1 + rng.below(3);
                let object = data.generated(&mut rng, object_type, next_id, i);
                data.objects.entry(object_type).or_default().push(object);
            }
        }
        data.associate(&mut rng);
        data.clock_ms = data.objects.values().flatten().map(|o| o.updated_ms).max().unwrap_or(START_MS);
        data
    }

    /// The `i`th generated object of `object_type`, with id `id`.
    fn generated(&self, rng: &mut Rng, object_type: ObjectType, id: u64, i: usize) -> Object {
        let created_ms = START_MS + rng.below(400 * DAY_MS);
        let updated_ms = created_ms + rng.below(200 * DAY_MS);
        let mut properties = BTreeMap::new();
        let mut set = |name: &str, value: String| {
            properties.insert(name.to_string(), value);
        };
        set("hs_object_id", id.to_string());
        set(object_type.created(), format_ms(created_ms));
        set(object_type.last_modified(), format_ms(updated_ms));
        if !self.owners.is_empty() && rng.below(6) != 0 {
            set("hubspot_owner_id", rng.pick(&self.owners).id.to_string());
        }
        let (first, last) = (*rng.pick(&FIRST_NAMES), *rng.pick(&LAST_NAMES));
        match object_type {
            ObjectType::Contacts => {
                set("email", format!("{}.{}{i}@example.com", first.to_lowercase(), last.to_lowercase()));
                set("firstname", first.to_string());
                set("lastname", last.to_string());
                set("phone", format!("+1 555 {:04}", rng.below(10_000)));
                set("jobtitle", rng.pick(&["Engineer", "CTO", "Buyer", "Analyst"]).to_string());
                set("lifecyclestage", rng.pick(&["subscriber", "lead", "opportunity", "customer"]).to_string());
            }
            ObjectType::Companies => {
                set("name", format!("{last} {}", rng.pick(&["Labs", "Systems", "Partners", "Inc"])));
                set("domain", format!("{}{i}.example.com", last.to_lowercase()));
                set("industry", rng.pick(&INDUSTRIES).to_string());
                set("numberofemployees", (10 + rng.below(5000)).to_string());
                set("annualrevenue", (100_000 + rng.below(90_000_000)).to_string());
                set("city", rng.pick(&["Boston", "Dublin", "Berlin", "Singapore"]).to_string());
            }
            ObjectType::Deals => {
                let pipeline = rng.pick(&self.pipelines[&ObjectType::Deals]).clone();
                let stage = rng.pick(&pipeline.stages).0.clone();
                set("dealname", format!("{last} expansion {i}"));
                set("amount", format!("{}.{:02}", 200 + rng.below(20_000), rng.below(100)));
                set("closedate", format_ms(created_ms + rng.below(90 * DAY_MS)));
                set("hs_is_closed_won", (stage == "closedwon" || stage == "1234568").to_string());
                set("pipeline", pipeline.id);
                set("dealstage", stage);
                set("dealtype", rng.pick(&["newbusiness", "existingbusiness"]).to_string());
            }
            ObjectType::Tickets => {
                let pipeline = &self.pipelines[&ObjectType::Tickets][0];
                set("subject", format!("{first} can't sign in ({i})"));
                set("content", format!("Reported by {first} {last}."));
                set("hs_pipeline", pipeline.id.clone());
                set("hs_pipeline_stage", rng.pick(&pipeline.stages).0.clone());
                set("hs_ticket_priority", rng.pick(&["LOW", "MEDIUM", "HIGH"]).to_string());
            }
            ObjectType::Notes => {
                let topic = rng.pick(&["pricing", "the renewal", "onboarding", "a security review"]);
                set("hs_timestamp", format_ms(created_ms));
                set(
                    "hs_note_body",
                    format!(
                        "<div><p>Call with {first} {last} about {topic}.</p><p>Next steps &amp; owners agreed ({i}).</p></div>"
                    ),
                );
            }
        }
        for property in custom(object_type) {
            if let Some(value) = custom_value(rng, &property) {
                properties.insert(property.name.clone(), value);
            }
        }
        Object { id, properties, created_ms, updated_ms, archived_ms: None }
    }

    /// Links every contact to a company, every deal to contacts and a company, every ticket to a
    /// contact and a company, with HubSpot's association types (primary ones labelled).
    fn associate(&mut self, rng: &mut Rng) {
        let ids = |data: &Dataset, t: ObjectType| -> Vec<u64> { data.all(t).iter().map(|o| o.id).collect() };
        let (contacts, companies) = (ids(self, ObjectType::Contacts), ids(self, ObjectType::Companies));
        let primary = |id: u32| (id, Some("Primary".to_string()));
        let mut links = Vec::new();
        if !companies.is_empty() {
            for &contact in &contacts {
                let company = *rng.pick(&companies);
                links.push((
                    ObjectType::Contacts,
                    contact,
                    ObjectType::Companies,
                    company,
                    vec![primary(1), (279, None)],
                    vec![primary(2), (280, None)],
                ));
            }
        }
        for (n, deal) in ids(self, ObjectType::Deals).into_iter().enumerate() {
            for i in 0..1 + rng.below(2) {
                if let Some(&contact) = (!contacts.is_empty()).then(|| rng.pick(&contacts)) {
                    // A label of the portal's own on some: its deal's decision maker.
                    let (types, reverse) = if i == 0 && n % 3 == 0 {
                        (vec![(3, None), decision_maker(DECIDES_DEAL)], vec![(4, None), decision_maker(DECIDES_FOR)])
                    } else {
                        (vec![(3, None)], vec![(4, None)])
                    };
                    links.push((ObjectType::Deals, deal, ObjectType::Contacts, contact, types, reverse));
                }
            }
            if !companies.is_empty() {
                let company = *rng.pick(&companies);
                links.push((
                    ObjectType::Deals,
                    deal,
                    ObjectType::Companies,
                    company,
                    vec![primary(5), (341, None)],
                    vec![(6, None), (342, None)],
                ));
            }
        }
        let deals = ids(self, ObjectType::Deals);
        for note in ids(self, ObjectType::Notes) {
            if !contacts.is_empty() {
                let contact = *rng.pick(&contacts);
                links.push((
                    ObjectType::Notes,
                    note,
                    ObjectType::Contacts,
                    contact,
                    vec![(202, None)],
                    vec![(201, None)],
                ));
            }
            if !companies.is_empty() && rng.below(2) == 0 {
                let company = *rng.pick(&companies);
                links.push((
                    ObjectType::Notes,
                    note,
                    ObjectType::Companies,
                    company,
                    vec![(190, None)],
                    vec![(189, None)],
                ));
            }
            if !deals.is_empty() && rng.below(2) == 0 {
                let deal = *rng.pick(&deals);
                links.push((ObjectType::Notes, note, ObjectType::Deals, deal, vec![(214, None)], vec![(213, None)]));
            }
        }
        for ticket in ids(self, ObjectType::Tickets) {
            if !contacts.is_empty() {
                let contact = *rng.pick(&contacts);
                links.push((
                    ObjectType::Tickets,
                    ticket,
                    ObjectType::Contacts,
                    contact,
                    vec![(16, None)],
                    vec![(15, None)],
                ));
            }
            if !companies.is_empty() {
                let company = *rng.pick(&companies);
                links.push((
                    ObjectType::Tickets,
                    ticket,
                    ObjectType::Companies,
                    company,
                    vec![primary(339), (26, None)],
                    vec![(25, None)],
                ));
            }
        }
        for (from_type, from, to_type, to, types, reverse) in links {
            let exists = self.associations.iter().any(|a| a.from == (from_type, from) && a.to == (to_type, to));
            if !exists {
                self.associations.push(Association { from: (from_type, from), to: (to_type, to), types, reverse });
            }
        }
    }

    /// Every object of `object_type`, archived ones included, by id.
    pub fn all(&self, object_type: ObjectType) -> &[Object] {
        self.objects.get(&object_type).map_or(&[], Vec::as_slice)
    }

    /// The object of `object_type` with `id`, archived or not.
    pub fn get(&self, object_type: ObjectType, id: u64) -> Option<&Object> {
        let all = self.all(object_type);
        all.binary_search_by_key(&id, |o| o.id).ok().map(|i| &all[i])
    }

    /// Objects per type, archived ones left out (`Contact`: n).
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        ObjectType::ALL
            .into_iter()
            .map(|t| (t.path(), self.all(t).iter().filter(|o| o.archived_ms.is_none()).count()))
            .collect()
    }

    /// The property definitions of `object_type`.
    pub fn properties(&self, object_type: ObjectType) -> &[Property] {
        self.properties.get(&object_type).map_or(&[], Vec::as_slice)
    }

    /// The owners.
    pub fn owners(&self) -> &[Owner] {
        &self.owners
    }

    /// The pipelines of `object_type` (deals and tickets have some).
    pub fn pipelines(&self, object_type: ObjectType) -> &[Pipeline] {
        self.pipelines.get(&object_type).map_or(&[], Vec::as_slice)
    }

    /// The association types from `from` objects to `to` objects that the portal's associations use:
    /// (type id, label), labelled or not, each once.
    pub fn association_labels(&self, from: ObjectType, to: ObjectType) -> Vec<(u32, Option<String>)> {
        let mut found: Vec<(u32, Option<String>)> = self
            .associations
            .iter()
            .flat_map(|a| {
                let forward = (a.from.0 == from && a.to.0 == to).then_some(&a.types);
                let back = (a.to.0 == from && a.from.0 == to).then_some(&a.reverse);
                forward.into_iter().chain(back).flatten().cloned()
            })
            .collect();
        found.sort();
        found.dedup();
        found
    }

    /// The associations of one object with objects of `to_type`: (their id, the types from it).
    pub fn associations_of(&self, from: (ObjectType, u64), to_type: ObjectType) -> Vec<(u64, &AssociationTypes)> {
        let live = |t: ObjectType, id: u64| self.get(t, id).is_some_and(|o| o.archived_ms.is_none());
        let mut found: Vec<(u64, &AssociationTypes)> = self
            .associations
            .iter()
            .filter_map(|a| {
                if a.from == from && a.to.0 == to_type {
                    Some((a.to.1, a.types.as_slice()))
                } else if a.to == from && a.from.0 == to_type {
                    Some((a.from.1, a.reverse.as_slice()))
                } else {
                    None
                }
            })
            .filter(|(id, _)| live(to_type, *id))
            .collect();
        found.sort_by_key(|(id, _)| *id);
        found
    }

    /// An object as the objects API returns it: `properties` are the ones `wanted` names (null when
    /// unset; the type's defaults when none are named), and the associations with each of `with`.
    pub fn object_json(
        &self,
        object_type: ObjectType,
        object: &Object,
        wanted: &[String],
        with: &[ObjectType],
    ) -> Value {
        let mut properties = Map::new();
        let names: Vec<&str> = if wanted.is_empty() {
            object_type.default_properties().to_vec()
        } else {
            // HubSpot adds the record id, creation and last-modified times to whatever is asked for.
            let always = ["hs_object_id", "createdate", object_type.last_modified()];
            wanted.iter().map(String::as_str).chain(always).collect()
        };
        for name in names {
            let value = object.properties.get(name).map_or(Value::Null, |v| Value::String(v.clone()));
            properties.insert(name.to_string(), value);
        }
        let mut json = json!({
            "id": object.id.to_string(),
            "properties": properties,
            "createdAt": format_ms(object.created_ms),
            "updatedAt": format_ms(object.updated_ms),
            "archived": object.archived_ms.is_some(),
        });
        if let Some(archived) = object.archived_ms {
            json["archivedAt"] = Value::String(format_ms(archived));
        }
        let mut associations = Map::new();
        for &to_type in with {
            let results: Vec<Value> = self
                .associations_of((object_type, object.id), to_type)
                .into_iter()
                .flat_map(|(id, types)| {
                    types.iter().map(move |(_, label)| {
                        let kind = format!("{}_to_{}", object_type.singular(), to_type.singular());
                        let kind = if label.is_some() { kind } else { format!("{kind}_unlabeled") };
                        json!({ "id": id.to_string(), "type": kind })
                    })
                })
                .collect();
            if !results.is_empty() {
                associations.insert(to_type.path().to_string(), json!({ "results": results }));
            }
        }
        if !associations.is_empty() {
            json["associations"] = Value::Object(associations);
        }
        json
    }

    /// One page of `object_type`'s objects after the object with id `after` (archived ones only, or
    /// only the others), and the `after` of the next page.
    pub fn page(
        &self,
        object_type: ObjectType,
        after: u64,
        limit: usize,
        archived: bool,
    ) -> (Vec<&Object>, Option<u64>) {
        let mut matching = self.all(object_type).iter().filter(|o| o.id > after && o.archived_ms.is_some() == archived);
        let page: Vec<&Object> = matching.by_ref().take(limit).collect();
        let next = matching.next().and(page.last().map(|o| o.id));
        (page, next)
    }

    /// Applies one change a test or a person makes to the portal (`POST /_fake/mutate`); what it did.
    pub fn mutate(&mut self, mutation: &Mutation) -> Result<Value, String> {
        let object_type = |name: &str| ObjectType::from_path(name).ok_or_else(|| format!("no object type `{name}`"));
        match mutation {
            Mutation::Update { object_type: t, id, properties } => {
                let t = object_type(t)?;
                let now = self.tick();
                let object = self.live_mut(t, id)?;
                for (name, value) in properties {
                    match value.as_str() {
                        Some(v) => object.properties.insert(name.clone(), v.to_string()),
                        None => object.properties.remove(name),
                    };
                }
                stamp(object, t, now);
                Ok(json!({ "id": object.id.to_string() }))
            }
            Mutation::Create { object_type: t, properties } => {
                let t = object_type(t)?;
                let now = self.tick();
                let id = self.objects.values().flatten().map(|o| o.id).max().unwrap_or(100) + 1;
                let mut object =
                    Object { id, properties: BTreeMap::new(), created_ms: now, updated_ms: now, archived_ms: None };
                object.properties.insert("hs_object_id".into(), id.to_string());
                object.properties.insert("createdate".into(), format_ms(now));
                for (name, value) in properties {
                    if let Some(v) = value.as_str() {
                        object.properties.insert(name.clone(), v.to_string());
                    }
                }
                stamp(&mut object, t, now);
                self.objects.entry(t).or_default().push(object);
                Ok(json!({ "id": id.to_string() }))
            }
            Mutation::Archive { object_type: t, id } => {
                let t = object_type(t)?;
                let now = self.tick();
                let object = self.live_mut(t, id)?;
                object.archived_ms = Some(now);
                stamp(object, t, now);
                Ok(json!({ "id": id }))
            }
            Mutation::AddProperty { object_type: t, name, kind, label, options } => {
                let t = object_type(t)?;
                let kind = ["string", "number", "date", "datetime", "enumeration", "bool"]
                    .into_iter()
                    .find(|k| k == kind)
                    .ok_or_else(|| format!("no property type `{kind}`"))?;
                let properties = self.properties.entry(t).or_default();
                if properties.iter().any(|p| &p.name == name) {
                    return Err(format!("{} already has a property `{name}`", t.path()));
                }
                let option_values: Vec<&str> = options.iter().map(String::as_str).collect();
                properties
                    .push(Property::new(name, kind, label.as_deref().unwrap_or(name), false).options(&option_values));
                Ok(json!({ "name": name }))
            }
            Mutation::Touch { object_type: t, count, at_once } => {
                let t = object_type(t)?;
                let first = self.tick();
                let live = self.objects.entry(t).or_default().iter_mut().filter(|o| o.archived_ms.is_none());
                let mut touched = 0;
                for (i, object) in live.take(*count).enumerate() {
                    stamp(object, t, if *at_once { first } else { first + i as u64 });
                    touched += 1;
                }
                if !at_once && touched > 0 {
                    self.clock_ms = self.clock_ms.max(first + touched as u64 - 1);
                }
                Ok(json!({ "touched": touched }))
            }
        }
    }

    fn live_mut(&mut self, object_type: ObjectType, id: &str) -> Result<&mut Object, String> {
        let id: u64 = id.parse().map_err(|_| format!("`{id}` is no object id"))?;
        self.objects
            .get_mut(&object_type)
            .and_then(|all| all.iter_mut().find(|o| o.id == id && o.archived_ms.is_none()))
            .ok_or_else(|| format!("no live {} {id}", object_type.path()))
    }

    /// Archives the `index`th live object of `object_type` (as deleting it in HubSpot does) and returns
    /// its id.
    pub fn archive(&mut self, object_type: ObjectType, index: usize) -> u64 {
        let now = self.tick();
        let objects = self.objects.entry(object_type).or_default();
        let object =
            objects.iter_mut().filter(|o| o.archived_ms.is_none()).nth(index).expect("a live object to archive");
        object.archived_ms = Some(now);
        stamp(object, object_type, now);
        object.id
    }

    /// The next time to stamp a change with: now, or a millisecond after the last one.
    pub fn tick(&mut self) -> u64 {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        self.clock_ms = now.max(self.clock_ms + 1);
        self.clock_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_custom_property_type_is_present_and_values_are_strings_of_their_type() {
        let data = Dataset::generate(7, &Size::default());
        for object_type in ObjectType::ALL {
            let custom: Vec<&Property> = data.properties(object_type).iter().filter(|p| !p.hubspot_defined).collect();
            let kinds: Vec<&str> = custom.iter().map(|p| p.kind).collect();
            for kind in ["string", "number", "date", "datetime", "enumeration", "bool"] {
                assert!(kinds.contains(&kind), "{object_type:?} has a custom {kind} property");
            }
            for object in data.all(object_type) {
                for property in &custom {
                    let Some(value) = object.properties.get(&property.name) else { continue };
                    let ok = match property.kind {
                        "number" => value.parse::<f64>().is_ok(),
                        "date" => chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok(),
                        "datetime" => chrono::DateTime::parse_from_rfc3339(value).is_ok(),
                        "bool" => value == "true" || value == "false",
                        "enumeration" => property.options.iter().any(|(v, _)| v == value),
                        _ => true,
                    };
                    assert!(ok, "{} = {value:?} is a {}", property.name, property.kind);
                }
            }
        }
    }

    #[test]
    fn pages_follow_ids_and_say_where_the_next_starts() {
        let data = Dataset::generate(1, &Size { contacts: 25, ..Size::default() });
        let (first, next) = data.page(ObjectType::Contacts, 0, 10, false);
        assert_eq!(first.len(), 10);
        let (second, _) = data.page(ObjectType::Contacts, next.unwrap(), 10, false);
        assert!(second[0].id > first[9].id);
        let (last, none) = data.page(ObjectType::Contacts, 0, 25, false);
        assert_eq!((last.len(), none), (25, None), "no next page after the last");
    }

    #[test]
    fn associations_read_the_same_both_ways() {
        let data = Dataset::generate(3, &Size::default());
        let contact = &data.all(ObjectType::Contacts)[0];
        let companies = data.associations_of((ObjectType::Contacts, contact.id), ObjectType::Companies);
        assert_eq!(companies.len(), 1, "a contact has one company");
        let (company, types) = &companies[0];
        assert_eq!(types.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [1, 279]);
        let back = data.associations_of((ObjectType::Companies, *company), ObjectType::Contacts);
        assert!(back.iter().any(|(id, types)| *id == contact.id && types[0].0 == 2));
    }
}
