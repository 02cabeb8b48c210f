//! The entities HubSpot syncs, as tables: each column's Max field, where HubSpot keeps it and its
//! kind. The schema, the properties a request names and the JSON-to-row conversion all follow from them.
//!
//! CRM objects (contacts, companies, deals, tickets, notes) carry their data as properties, every value a string
//! (`"amount": "1500.00"`), parsed into the column's kind. The properties declared here are the standard
//! ones every portal has; `discover` adds the rest of the portal's properties, custom ones included, and
//! a collection per association label (`contactsDecisionMaker`: the contacts associated with that label).

use max_connector_sdk::table::{self, EntityTable, Kind};

/// Where a column's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// A CRM property named by the column's source (its value a string), parsed as the column's kind.
    Property,
    /// A CRM property holding HTML (a note's body), written as its text.
    HtmlText,
    /// The object's associations with objects of the type whose path is the column's source, in id order.
    Association,
    /// The associated company whose association is the primary one.
    PrimaryCompany,
    /// A key of the JSON object as the API returns it (owners, pipelines, stages, the account).
    Key,
}

impl Read {
    /// Whether the column reads a CRM property (which requests then name).
    pub fn is_property(self) -> bool {
        matches!(self, Read::Property | Read::HtmlText)
    }
}

/// One column.
pub type Column = table::Column<Read>;

const fn prop(field: &'static str, kind: Kind, doc: &'static str) -> Column {
    table::Column::new(field, kind).doc(doc).with(Read::Property)
}

const fn key(field: &'static str, kind: Kind, doc: &'static str) -> Column {
    table::Column::new(field, kind).doc(doc).with(Read::Key)
}

const fn associated(field: &'static str, target: &'static str, doc: &'static str) -> Column {
    table::Column::new(field, Kind::Collection(target)).from(field).doc(doc).with(Read::Association)
}

use Kind::{Boolean as B, Datetime as D, Float as F, Integer as I, Json as J, Text as T};

const OWNER: Column = table::Column::new("owner", Kind::Ref("Owner"))
    .from("hubspot_owner_id")
    .doc("The owner (HubSpot property hubspot_owner_id)")
    .with(Read::Property);
const PRIMARY_COMPANY: Column = table::Column::new("primaryCompany", Kind::Ref("Company"))
    .doc("The company it is associated with as primary")
    .with(Read::PrimaryCompany);
const WITH_COMPANIES: Column = associated("companies", "Company", "Companies it is associated with");
const WITH_CONTACTS: Column = associated("contacts", "Contact", "Contacts it is associated with");
const WITH_DEALS: Column = associated("deals", "Deal", "Deals it is associated with");
const WITH_TICKETS: Column = associated("tickets", "Ticket", "Tickets it is associated with");
const WITH_NOTES: Column = associated("notes", "Note", "Notes logged on it");
const CREATED: Column = prop("createdate", D, "When it was created");
const WEBSITE: Column = prop("website", T, "Website URL");
const PHONE: Column = prop("phone", T, "Phone number");
const ADDRESS: Column = prop("address", T, "Street address");
const CITY: Column = prop("city", T, "City");
const STATE: Column = prop("state", T, "State or region");
const ZIP: Column = prop("zip", T, "Postal code");
const COUNTRY: Column = prop("country", T, "Country");
const DESCRIPTION: Column = prop("description", T, "Description").searchable(1);
const HS_MODIFIED: Column = prop("hs_lastmodifieddate", D, "When it last changed");

/// A CRM object type.
#[derive(Debug)]
pub struct ObjectKind {
    /// Its entity type in Max.
    pub entity: &'static str,
    /// What it is.
    pub description: &'static str,
    /// Its path segment in the API (`contacts`), also the name of its collection on the portal.
    pub path: &'static str,
    /// The property holding when it last changed: contacts have their own name for it.
    pub modified: &'static str,
    /// The type ids of its association to a company labelled primary, if it has one.
    pub primary_company_types: &'static [u64],
    /// Its columns, in the order rows carry them.
    pub columns: &'static [Column],
}

pub const CONTACT: ObjectKind = ObjectKind {
    entity: "Contact",
    description: "A person in the CRM",
    path: "contacts",
    modified: "lastmodifieddate",
    primary_company_types: &[1],
    columns: &[
        prop("email", T, "Email address"),
        prop("firstname", T, "First name").searchable(5),
        prop("lastname", T, "Last name").searchable(5),
        PHONE,
        prop("mobilephone", T, "Mobile phone number"),
        prop("jobtitle", T, "Job title"),
        prop("company", T, "Company name as entered on the contact"),
        WEBSITE,
        ADDRESS,
        CITY,
        STATE,
        ZIP,
        COUNTRY,
        prop("lifecyclestage", T, "Lifecycle stage (subscriber, lead, … customer)"),
        prop("hs_lead_status", T, "Lead status"),
        CREATED,
        prop("lastmodifieddate", D, "When it last changed"),
        OWNER,
        WITH_COMPANIES,
        WITH_DEALS,
        WITH_TICKETS,
        WITH_NOTES,
        PRIMARY_COMPANY,
    ],
};

pub const COMPANY: ObjectKind = ObjectKind {
    entity: "Company",
    description: "A company in the CRM",
    path: "companies",
    modified: "hs_lastmodifieddate",
    primary_company_types: &[],
    columns: &[
        prop("name", T, "Company name").searchable(5),
        prop("domain", T, "Company domain name"),
        WEBSITE,
        PHONE,
        prop("industry", T, "Industry"),
        prop("type", T, "Type (prospect, partner, …)"),
        DESCRIPTION,
        ADDRESS,
        CITY,
        STATE,
        ZIP,
        COUNTRY,
        prop("numberofemployees", F, "Number of employees"),
        prop("annualrevenue", F, "Annual revenue"),
        prop("lifecyclestage", T, "Lifecycle stage"),
        CREATED,
        HS_MODIFIED,
        OWNER,
        WITH_CONTACTS,
        WITH_DEALS,
        WITH_TICKETS,
        WITH_NOTES,
    ],
};

pub const DEAL: ObjectKind = ObjectKind {
    entity: "Deal",
    description: "A deal in a pipeline",
    path: "deals",
    modified: "hs_lastmodifieddate",
    primary_company_types: &[5],
    columns: &[
        prop("dealname", T, "Deal name").searchable(5),
        prop("amount", F, "Amount"),
        prop("closedate", D, "Close date"),
        prop("dealtype", T, "Deal type (newbusiness, existingbusiness)"),
        DESCRIPTION,
        table::Column::new("pipeline", Kind::Ref("Pipeline"))
            .doc("Its pipeline (HubSpot property pipeline)")
            .with(Read::Property),
        table::Column::new("stage", Kind::Ref("PipelineStage"))
            .from("dealstage")
            .doc("Its stage (HubSpot property dealstage)")
            .with(Read::Property),
        prop("hs_deal_stage_probability", F, "Probability of closing at its stage (0–1)"),
        prop("hs_is_closed", B, "Whether it is closed"),
        prop("hs_is_closed_won", B, "Whether it is closed won"),
        CREATED,
        HS_MODIFIED,
        OWNER,
        WITH_CONTACTS,
        WITH_COMPANIES,
        WITH_TICKETS,
        WITH_NOTES,
        PRIMARY_COMPANY,
    ],
};

pub const TICKET: ObjectKind = ObjectKind {
    entity: "Ticket",
    description: "A support ticket in a pipeline",
    path: "tickets",
    modified: "hs_lastmodifieddate",
    primary_company_types: &[339],
    columns: &[
        prop("subject", T, "Ticket name").searchable(5),
        prop("content", T, "Ticket description").searchable(1),
        prop("hs_ticket_priority", T, "Priority (LOW, MEDIUM, HIGH)"),
        prop("hs_ticket_category", T, "Category"),
        prop("source_type", T, "Where it came from (EMAIL, CHAT, FORM, PHONE)"),
        table::Column::new("pipeline", Kind::Ref("Pipeline"))
            .from("hs_pipeline")
            .doc("Its pipeline (HubSpot property hs_pipeline)")
            .with(Read::Property),
        table::Column::new("stage", Kind::Ref("PipelineStage"))
            .from("hs_pipeline_stage")
            .doc("Its status (HubSpot property hs_pipeline_stage)")
            .with(Read::Property),
        prop("closed_date", D, "When it was closed"),
        CREATED,
        HS_MODIFIED,
        OWNER,
        WITH_CONTACTS,
        WITH_COMPANIES,
        WITH_DEALS,
        WITH_NOTES,
        PRIMARY_COMPANY,
    ],
};

pub const NOTE: ObjectKind = ObjectKind {
    entity: "Note",
    description: "A note logged on contacts, companies, deals or tickets (an engagement)",
    path: "notes",
    modified: "hs_lastmodifieddate",
    primary_company_types: &[],
    columns: &[
        table::Column::new("body", T)
            .from("hs_note_body")
            .doc("The note's text (HubSpot property hs_note_body, without its HTML)")
            .searchable(1)
            .with(Read::HtmlText),
        table::Column::new("bodyHtml", T)
            .from("hs_note_body")
            .doc("The note as HubSpot keeps it, in HTML (HubSpot property hs_note_body)")
            .with(Read::Property),
        table::Column::new("timestamp", D)
            .from("hs_timestamp")
            .doc("When the activity happened (HubSpot property hs_timestamp)")
            .with(Read::Property),
        prop("hs_attachment_ids", T, "Ids of attached files, separated by semicolons"),
        table::Column::new("createdate", D)
            .from("hs_createdate")
            .doc("When it was created (HubSpot property hs_createdate)")
            .with(Read::Property),
        HS_MODIFIED,
        OWNER,
        WITH_CONTACTS,
        WITH_COMPANIES,
        WITH_DEALS,
        WITH_TICKETS,
    ],
};

/// Every CRM object type, in the order onboarding offers them.
pub const OBJECTS: [&ObjectKind; 5] = [&CONTACT, &COMPANY, &DEAL, &TICKET, &NOTE];

impl EntityTable for ObjectKind {
    type Extra = Read;

    fn entity(&self) -> &str {
        self.entity
    }

    fn description(&self) -> &str {
        self.description
    }

    fn columns(&self) -> &[Column] {
        self.columns
    }
}

impl ObjectKind {
    /// The object type whose path is `path`.
    pub fn by_path(path: &str) -> Option<&'static ObjectKind> {
        OBJECTS.into_iter().find(|k| k.path == path)
    }

    /// The properties its declared columns read (what every request names, before discovered ones).
    pub fn declared_properties(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns.iter().filter(|c| c.extra.is_property()).map(|c| c.source)
    }

    /// The name of its collection loader (listing every object), also its collection on the portal.
    pub fn list_loader(&self) -> &'static str {
        self.path
    }

    /// The name of its by-id loader.
    pub fn by_id_loader(&self) -> String {
        format!("{}-by-id", self.path)
    }

    /// The object type whose entity type is `entity`.
    pub fn by_entity(entity: &str) -> Option<&'static ObjectKind> {
        OBJECTS.into_iter().find(|k| k.entity == entity)
    }

    /// The name of its change feed.
    pub fn changes_loader(&self) -> String {
        format!("{}-changes", self.path)
    }
}

/// A table of JSON objects the API returns as they are (owners, pipelines, stages).
pub type Plain = table::Table<Read>;

pub const OWNER_TABLE: Plain = Plain {
    entity: "Owner",
    description: "A user objects can be assigned to",
    columns: &[
        key("email", T, "Email address"),
        key("firstName", T, "First name"),
        key("lastName", T, "Last name"),
        key("userId", I, "The HubSpot user id"),
        key("type", T, "PERSON or QUEUE"),
        key("archived", B, "Whether the owner was deactivated"),
        key("teams", J, "Teams: id, name and whether primary"),
        key("createdAt", D, "When it was created"),
        key("updatedAt", D, "When it last changed"),
    ],
};

pub const PIPELINE: Plain = Plain {
    entity: "Pipeline",
    description: "A deal or ticket pipeline",
    columns: &[
        key("label", T, "Its name"),
        key("objectType", T, "deals or tickets"),
        key("displayOrder", I, "Its position among the pipelines"),
        key("archived", B, "Whether it is archived"),
        key("stages", Kind::Collection("PipelineStage"), "Its stages, in order"),
        key("createdAt", D, "When it was created"),
        key("updatedAt", D, "When it last changed"),
    ],
};

pub const STAGE: Plain = Plain {
    entity: "PipelineStage",
    description: "A stage of a pipeline (a deal stage or a ticket status)",
    columns: &[
        key("label", T, "Its name"),
        key("displayOrder", I, "Its position in the pipeline"),
        key("pipeline", Kind::Ref("Pipeline"), "Its pipeline"),
        key("probability", F, "A deal stage's probability of closing (0–1)"),
        key("isClosed", B, "Whether a deal at this stage is closed"),
        key("ticketState", T, "OPEN or CLOSED for a ticket status"),
        key("archived", B, "Whether it is archived"),
        key("createdAt", D, "When it was created"),
        key("updatedAt", D, "When it last changed"),
    ],
};

/// The portal (the root): HubSpot's account details.
pub const PORTAL: Plain = Plain {
    entity: "Portal",
    description: "The HubSpot account (portal) the credentials belong to",
    columns: &[
        key("portalId", I, "The account (hub) id"),
        key("accountType", T, "STANDARD, SANDBOX, DEVELOPER_TEST or APP_DEVELOPER"),
        key("timeZone", T, "The account's time zone"),
        key("companyCurrency", T, "The account's currency"),
        key("utcOffset", T, "The time zone's offset from UTC"),
        key("uiDomain", T, "Where the account is opened in a browser"),
        key("dataHostingLocation", T, "Where its data is hosted"),
    ],
};

/// The field of the collection of objects at `to_path` associated with the label `label`:
/// `contactsDecisionMaker` for contacts labelled "Decision maker"; none when the label has no letter or
/// digit.
pub fn label_field(to_path: &str, label: &str) -> Option<String> {
    let words: String = label
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w[..1].to_ascii_uppercase() + &w[1..])
        .collect();
    (!words.is_empty()).then(|| format!("{to_path}{words}"))
}

/// The portal's id in Max.
pub const PORTAL_ID: &str = "portal";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_names_its_collection_in_camel_case() {
        assert_eq!(label_field("contacts", "Decision maker").as_deref(), Some("contactsDecisionMaker"));
        assert_eq!(label_field("companies", "Primary").as_deref(), Some("companiesPrimary"));
        assert_eq!(label_field("deals", "re-seller / partner 2").as_deref(), Some("dealsReSellerPartner2"));
        assert_eq!(label_field("deals", "Évaluateur").as_deref(), Some("dealsValuateur"));
        assert_eq!(label_field("deals", "★ ★"), None);
    }
}
