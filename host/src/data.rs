//! Entity data, sync plans and connector errors as host types (mirrors of the WIT types without
//! wasmtime in their signatures).

use serde::{Deserialize, Serialize};

/// One entity, by type and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntityRef {
    /// Entity type.
    pub entity: String,
    /// Id.
    pub id: String,
}

/// One field value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum FieldValue {
    /// Explicitly null.
    Null,
    /// Text.
    Text(String),
    /// Integer.
    Integer(i64),
    /// Float.
    Float(f64),
    /// Boolean.
    Boolean(bool),
    /// ISO-8601 text.
    Datetime(String),
    /// JSON text.
    Json(String),
    /// Id of the referenced entity.
    Reference(String),
    /// Ids of a collection's items.
    Collection(Vec<String>),
}

/// One entity's values in its batch's column order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Id.
    pub id: String,
    /// Values.
    pub values: Vec<FieldValue>,
}

/// Entities of one type sharing a column list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityBatch {
    /// Entity type.
    pub entity: String,
    /// Field names.
    pub columns: Vec<String>,
    /// Rows.
    pub rows: Vec<Row>,
}

/// One page of a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// The collection's items in order.
    pub items: EntityBatch,
    /// Other entities found along the way.
    pub related: Vec<EntityBatch>,
    /// The next page's cursor.
    pub next_cursor: Option<String>,
}

/// One page of a change feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePage {
    /// Created or updated entities.
    pub upserts: Vec<EntityBatch>,
    /// Deleted or archived entities.
    pub deletions: Vec<EntityRef>,
    /// Cursor to store.
    pub next_cursor: String,
    /// Whether more changes wait.
    pub has_more: bool,
}

/// What a step applies to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Every root.
    Root,
    /// Every known entity of a type.
    All(String),
    /// One entity.
    One(EntityRef),
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Fill fields.
    LoadFields(Vec<String>),
    /// Load a collection.
    LoadCollection(String),
    /// Drain a change feed.
    FollowChanges(String),
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Target.
    pub target: Target,
    /// Operation.
    pub operation: Operation,
}

/// Ordered groups of concurrent steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncPlan {
    /// The groups, in order.
    pub groups: Vec<Vec<Step>>,
}

/// What the host tells `seed`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeedState {
    /// Start of the last completed sync (ISO-8601).
    pub last_completed_sync: Option<String>,
    /// Stored change-feed cursors.
    pub cursors: Vec<(String, String)>,
    /// Whether a full sync was asked for.
    pub full: bool,
}

/// Why a connector call failed, as the connector said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum ConnectorError {
    /// Slow down; retry after this many ms if given.
    #[error("rate limited{}", .0.map(|ms| format!(" (retry after {ms} ms)")).unwrap_or_default())]
    RateLimited(Option<u64>),
    /// Credentials refused.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// No access.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Temporary failure.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Bad input to the connector.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The API answered nonsense.
    #[error("invalid response from the API: {0}")]
    InvalidResponse(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// `2024-05-02T12:11:12.345+02:00` → `2024-05-02T10:11:12.345Z`; a plain date stays a date.
pub fn normalize_datetime(text: &str) -> Result<String, String> {
    normalized_datetime(text).map(std::borrow::Cow::into_owned)
}

/// [`normalize_datetime`], borrowing `text` when it is already in that form (as most APIs send it).
pub fn normalized_datetime(text: &str) -> Result<std::borrow::Cow<'_, str>, String> {
    let text = text.trim();
    if is_normalized(text) || date_is_valid(text.as_bytes()) {
        return Ok(std::borrow::Cow::Borrowed(text));
    }
    if let Ok(instant) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(instant.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string().into());
    }
    if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Ok(naive.and_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string().into());
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.format("%Y-%m-%d").to_string().into());
    }
    Err(format!("`{text}` is not an ISO-8601 date or datetime"))
}

/// Whether `text` is already `YYYY-MM-DDTHH:MM:SS.mmmZ` with a valid date and time: most APIs send
/// exactly that, and checking it is much cheaper than parsing and formatting.
fn is_normalized(text: &str) -> bool {
    let b = text.as_bytes();
    let shape = b.len() == 24 && b[10] == b'T' && b[13] == b':' && b[16] == b':' && b[19] == b'.' && b[23] == b'Z';
    if !shape || !date_is_valid(&b[..10]) {
        return false;
    }
    match (digits(&b[11..13]), digits(&b[14..16]), digits(&b[17..19]), digits(&b[20..23])) {
        (Some(hour), Some(minute), Some(second), Some(_)) => hour < 24 && minute < 60 && second < 60,
        _ => false,
    }
}

/// Whether `b` is `YYYY-MM-DD`, a date that exists.
fn date_is_valid(b: &[u8]) -> bool {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    match (digits(&b[0..4]), digits(&b[5..7]), digits(&b[8..10])) {
        (Some(year), Some(month), Some(day)) => chrono::NaiveDate::from_ymd_opt(year as i32, month, day).is_some(),
        _ => false,
    }
}

/// The number `b` spells in ASCII digits, if it is only digits.
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
}
