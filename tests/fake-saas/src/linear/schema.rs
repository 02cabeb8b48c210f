//! The GraphQL schema of the fake: the subset of Linear's schema a sync uses, built at run time
//! (async-graphql's dynamic schema) from one table of types, so queries are parsed, validated and
//! executed by a real GraphQL engine. Lists are Relay connections with `first`/`after`, `filter`,
//! `includeArchived` and `orderBy`, at the root and nested (`issue.labels`, `team.members`, …).

use std::sync::{Arc, RwLock};

use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object as GqlObject, ResolverContext, Scalar,
    Schema, TypeRef,
};
use async_graphql::{Error, Value};
use serde_json::Value as Json;

use super::data::{Dataset, Object, TYPES};

/// What a field of an object type is.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A scalar stored under the field's name, of this GraphQL type (`String!`, `[String!]!`).
    Scalar(&'static str),
    /// An object of type `target` whose id is stored under `key`.
    Ref { target: &'static str, key: &'static str, required: bool },
    /// A connection of `target` objects whose ids are listed under `key`.
    Connection { target: &'static str, key: &'static str },
}

use Kind::Scalar as S;

const fn r(target: &'static str, key: &'static str) -> Kind {
    Kind::Ref { target, key, required: false }
}
const fn rr(target: &'static str, key: &'static str) -> Kind {
    Kind::Ref { target, key, required: true }
}
#[allow(non_snake_case, reason = "reads like the other one-letter kinds in the table")]
const fn C(target: &'static str, key: &'static str) -> Kind {
    Kind::Connection { target, key }
}

const STAMPS: [(&str, Kind); 4] =
    [("id", S("ID!")), ("createdAt", S("DateTime!")), ("updatedAt", S("DateTime!")), ("archivedAt", S("DateTime"))];

/// The object types and their fields (besides `id` and the timestamps every type has).
pub const FIELDS: &[(&str, &[(&str, Kind)])] = &[
    (
        "Team",
        &[
            ("key", S("String!")),
            ("name", S("String!")),
            ("displayName", S("String!")),
            ("description", S("String")),
            ("color", S("String")),
            ("icon", S("String")),
            ("timezone", S("String!")),
            ("private", S("Boolean!")),
            ("cyclesEnabled", S("Boolean!")),
            ("members", C("User", "_memberIds")),
        ],
    ),
    (
        "User",
        &[
            ("name", S("String!")),
            ("displayName", S("String!")),
            ("email", S("String!")),
            ("active", S("Boolean!")),
            ("admin", S("Boolean!")),
            ("guest", S("Boolean!")),
            ("app", S("Boolean!")),
            ("avatarUrl", S("String")),
            ("timezone", S("String")),
            ("lastSeen", S("DateTime")),
            ("url", S("String!")),
            ("teams", C("Team", "_teamIds")),
        ],
    ),
    (
        "WorkflowState",
        &[
            ("name", S("String!")),
            ("type", S("String!")),
            ("color", S("String!")),
            ("position", S("Float!")),
            ("description", S("String")),
            ("team", rr("Team", "teamId")),
        ],
    ),
    (
        "IssueLabel",
        &[
            ("name", S("String!")),
            ("color", S("String!")),
            ("description", S("String")),
            ("isGroup", S("Boolean!")),
            ("team", r("Team", "teamId")),
            ("parent", r("IssueLabel", "parentId")),
            ("creator", r("User", "creatorId")),
        ],
    ),
    (
        "Project",
        &[
            ("name", S("String!")),
            ("description", S("String!")),
            ("content", S("String")),
            ("slugId", S("String!")),
            ("color", S("String!")),
            ("icon", S("String")),
            ("priority", S("Int!")),
            ("progress", S("Float!")),
            ("startDate", S("TimelessDate")),
            ("targetDate", S("TimelessDate")),
            ("startedAt", S("DateTime")),
            ("completedAt", S("DateTime")),
            ("canceledAt", S("DateTime")),
            ("url", S("String!")),
            ("state", S("String!")),
            ("lead", r("User", "leadId")),
            ("creator", r("User", "creatorId")),
            ("teams", C("Team", "_teamIds")),
            ("members", C("User", "_memberIds")),
        ],
    ),
    (
        "Cycle",
        &[
            ("number", S("Float!")),
            ("name", S("String")),
            ("description", S("String")),
            ("startsAt", S("DateTime!")),
            ("endsAt", S("DateTime!")),
            ("completedAt", S("DateTime")),
            ("progress", S("Float!")),
            ("isActive", S("Boolean!")),
            ("team", rr("Team", "teamId")),
        ],
    ),
    (
        "Issue",
        &[
            ("identifier", S("String!")),
            ("number", S("Float!")),
            ("title", S("String!")),
            ("description", S("String")),
            ("priority", S("Float!")),
            ("priorityLabel", S("String!")),
            ("estimate", S("Float")),
            ("dueDate", S("TimelessDate")),
            ("completedAt", S("DateTime")),
            ("canceledAt", S("DateTime")),
            ("startedAt", S("DateTime")),
            ("url", S("String!")),
            ("branchName", S("String!")),
            ("labelIds", S("[String!]!")),
            ("sortOrder", S("Float!")),
            ("trashed", S("Boolean")),
            ("team", rr("Team", "teamId")),
            ("state", rr("WorkflowState", "stateId")),
            ("assignee", r("User", "assigneeId")),
            ("creator", r("User", "creatorId")),
            ("project", r("Project", "projectId")),
            ("cycle", r("Cycle", "cycleId")),
            ("parent", r("Issue", "parentId")),
            ("children", C("Issue", "_childIds")),
            ("labels", C("IssueLabel", "labelIds")),
            ("comments", C("Comment", "_commentIds")),
        ],
    ),
    (
        "Comment",
        &[
            ("body", S("String!")),
            ("url", S("String!")),
            ("editedAt", S("DateTime")),
            ("resolvedAt", S("DateTime")),
            ("issueId", S("String")),
            ("issue", r("Issue", "issueId")),
            ("user", r("User", "userId")),
            ("parent", r("Comment", "parentId")),
        ],
    ),
];

/// Types whose filter has `team`.
const TEAM_FILTERED: &[&str] = &["Issue", "WorkflowState", "IssueLabel", "Cycle"];

/// The names of every connection field (root lists and nested), for the complexity estimate.
pub fn connection_fields() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = TYPES.iter().map(|(_, list)| *list).collect();
    for (_, fields) in FIELDS {
        for (name, kind) in *fields {
            if matches!(kind, Kind::Connection { .. }) && !names.contains(name) {
                names.push(name);
            }
        }
    }
    names
}

/// What the resolvers read: the data set, and the largest `first` allowed.
pub struct Context {
    /// The workspace.
    pub data: Arc<RwLock<Dataset>>,
    /// The largest page a connection serves.
    pub max_first: usize,
}

/// One page of a connection, as resolved.
struct Page {
    nodes: Vec<Object>,
    cursors: Vec<String>,
    has_next: bool,
}

/// `"[String!]!"` → a type reference.
fn type_ref(text: &str) -> TypeRef {
    if let Some(inner) = text.strip_prefix('[') {
        let (inner, outer_nn) = match inner.strip_suffix("]!") {
            Some(inner) => (inner, true),
            None => (inner.trim_end_matches(']'), false),
        };
        let (name, inner_nn) = match inner.strip_suffix('!') {
            Some(name) => (name, true),
            None => (inner, false),
        };
        return match (inner_nn, outer_nn) {
            (true, true) => TypeRef::named_nn_list_nn(name),
            (true, false) => TypeRef::named_nn_list(name),
            (false, true) => TypeRef::named_list_nn(name),
            (false, false) => TypeRef::named_list(name),
        };
    }
    match text.strip_suffix('!') {
        Some(name) => TypeRef::named_nn(name),
        None => TypeRef::named(text),
    }
}

fn parent(ctx: &ResolverContext<'_>) -> Result<Object, Error> {
    Ok(ctx.parent_value.try_downcast_ref::<Object>()?.clone())
}

fn state<'a>(ctx: &'a ResolverContext<'_>) -> Result<&'a Context, Error> {
    ctx.data::<Context>()
}

fn scalar_field(name: &'static str, ty: &'static str) -> Field {
    Field::new(name, type_ref(ty), move |ctx| {
        FieldFuture::new(async move {
            let object = parent(&ctx)?;
            let value = object.get(name).cloned().unwrap_or(Json::Null);
            Ok((!value.is_null()).then(|| FieldValue::value(Value::from_json(value).unwrap_or(Value::Null))))
        })
    })
}

fn ref_field(name: &'static str, target: &'static str, key: &'static str, required: bool) -> Field {
    let ty = if required { TypeRef::named_nn(target) } else { TypeRef::named(target) };
    Field::new(name, ty, move |ctx| {
        FieldFuture::new(async move {
            let object = parent(&ctx)?;
            let Some(id) = object.get(key).and_then(Json::as_str) else { return Ok(None) };
            let data = state(&ctx)?.data.read().map_err(|_| Error::new("data lock poisoned"))?;
            Ok(data.get(id).cloned().map(FieldValue::owned_any))
        })
    })
}

/// The arguments every connection takes.
fn with_connection_args(field: Field, target: &str) -> Field {
    field
        .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
        .argument(InputValue::new("after", TypeRef::named(TypeRef::STRING)))
        .argument(InputValue::new("last", TypeRef::named(TypeRef::INT)))
        .argument(InputValue::new("before", TypeRef::named(TypeRef::STRING)))
        .argument(InputValue::new("includeArchived", TypeRef::named(TypeRef::BOOLEAN)))
        .argument(InputValue::new("orderBy", TypeRef::named("PaginationOrderBy")))
        .argument(InputValue::new("filter", TypeRef::named(format!("{target}Filter"))))
}

/// A connection over the objects `source` picks (all of a type, or a parent's id list).
fn connection_field(name: &'static str, target: &'static str, key: Option<&'static str>) -> Field {
    let field = Field::new(name, TypeRef::named_nn(format!("{target}Connection")), move |ctx| {
        FieldFuture::new(async move {
            let context = state(&ctx)?;
            let data = context.data.read().map_err(|_| Error::new("data lock poisoned"))?;
            let candidates: Vec<Object> = match key {
                None => data.all(target).to_vec(),
                Some(key) => {
                    let object = parent(&ctx)?;
                    let ids = object.get(key).and_then(Json::as_array).cloned().unwrap_or_default();
                    ids.iter().filter_map(Json::as_str).filter_map(|id| data.get(id).cloned()).collect()
                }
            };
            let page = paginate(&ctx, &data, context.max_first, target, candidates)?;
            Ok(Some(FieldValue::owned_any(page)))
        })
    });
    with_connection_args(field, target)
}

/// Applies `includeArchived`, `filter`, `orderBy`, `after` and `first` to `objects`.
fn paginate(
    ctx: &ResolverContext<'_>,
    data: &Dataset,
    max_first: usize,
    target: &str,
    mut objects: Vec<Object>,
) -> Result<Page, Error> {
    let arg = |name: &str| ctx.args.get(name).filter(|v| !v.is_null());
    if arg("last").is_some() || arg("before").is_some() {
        return Err(Error::new("The fake serves forward pagination only (first/after)"));
    }
    let first = match arg("first") {
        Some(first) => first.i64()?,
        None => 50,
    };
    if first < 0 || first as usize > max_first {
        return Err(Error::new(format!("first must be between 0 and {max_first}")));
    }
    let include_archived = match arg("includeArchived") {
        Some(value) => value.boolean()?,
        None => false,
    };
    if !include_archived {
        objects.retain(|o| o.get("archivedAt").is_none_or(Json::is_null));
    }
    if let Some(filter) = arg("filter") {
        let filter = filter.as_value().clone().into_json().map_err(|e| Error::new(e.to_string()))?;
        let mut kept = Vec::with_capacity(objects.len());
        for object in objects {
            if super::filter::matches(&object, &filter, data, target).map_err(Error::new)? {
                kept.push(object);
            }
        }
        objects = kept;
    }
    let order = match arg("orderBy") {
        Some(order) => order.enum_name()?.to_string(),
        None => "createdAt".to_string(),
    };
    let sort_key = |o: &Object| {
        format!("{}|{}", o.get(&order).and_then(Json::as_str).unwrap_or_default(), o["id"].as_str().unwrap_or_default())
    };
    let mut keyed: Vec<(String, Object)> = objects.into_iter().map(|o| (sort_key(&o), o)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let start = match arg("after") {
        Some(after) => {
            let after = decode_cursor(after.string()?)?;
            keyed.partition_point(|(key, _)| key.as_str() <= after.as_str())
        }
        None => 0,
    };
    let rest = &keyed[start.min(keyed.len())..];
    let taken = rest.iter().take(first as usize);
    let (cursors, nodes): (Vec<String>, Vec<Object>) = taken.map(|(k, o)| (encode_cursor(k), o.clone())).unzip();
    Ok(Page { has_next: rest.len() > nodes.len(), nodes, cursors })
}

/// Cursors are opaque to clients: the sort key, hex-encoded.
fn encode_cursor(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(cursor: &str) -> Result<String, Error> {
    let invalid = || Error::new(format!("invalid cursor `{cursor}`"));
    if !cursor.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let bytes: Option<Vec<u8>> =
        (0..cursor.len()).step_by(2).map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes.ok_or_else(invalid)?).map_err(|_| invalid())
}

fn connection_types(target: &'static str) -> [GqlObject; 2] {
    let nodes = Field::new("nodes", TypeRef::named_nn_list_nn(target), |ctx| {
        FieldFuture::new(async move {
            let page = ctx.parent_value.try_downcast_ref::<Page>()?;
            Ok(Some(FieldValue::list(page.nodes.iter().map(|o| FieldValue::owned_any(o.clone())))))
        })
    });
    let edges = Field::new("edges", TypeRef::named_nn_list_nn(format!("{target}Edge")), |ctx| {
        FieldFuture::new(async move {
            let page = ctx.parent_value.try_downcast_ref::<Page>()?;
            let edges =
                page.nodes.iter().zip(&page.cursors).map(|(o, c)| FieldValue::owned_any((o.clone(), c.clone())));
            Ok(Some(FieldValue::list(edges)))
        })
    });
    let page_info = Field::new("pageInfo", TypeRef::named_nn("PageInfo"), |ctx| {
        FieldFuture::new(async move {
            let page = ctx.parent_value.try_downcast_ref::<Page>()?;
            let info = serde_json::json!({
                "hasNextPage": page.has_next, "hasPreviousPage": false,
                "startCursor": page.cursors.first(), "endCursor": page.cursors.last(),
            });
            Ok(Some(FieldValue::value(Value::from_json(info).unwrap_or(Value::Null))))
        })
    });
    let connection = GqlObject::new(format!("{target}Connection")).field(nodes).field(edges).field(page_info);
    let edge = GqlObject::new(format!("{target}Edge"))
        .field(Field::new("node", TypeRef::named_nn(target), |ctx| {
            FieldFuture::new(async move {
                let (object, _) = ctx.parent_value.try_downcast_ref::<(Object, String)>()?;
                Ok(Some(FieldValue::owned_any(object.clone())))
            })
        }))
        .field(Field::new("cursor", TypeRef::named_nn(TypeRef::STRING), |ctx| {
            FieldFuture::new(async move {
                let (_, cursor) = ctx.parent_value.try_downcast_ref::<(Object, String)>()?;
                Ok(Some(Value::from(cursor.clone())))
            })
        }));
    [connection, edge]
}

/// A field of `PageInfo`, read from the JSON object the connection resolved it to.
fn page_info_type() -> GqlObject {
    let mut object = GqlObject::new("PageInfo");
    for (name, ty) in [
        ("hasNextPage", "Boolean!"),
        ("hasPreviousPage", "Boolean!"),
        ("startCursor", "String"),
        ("endCursor", "String"),
    ] {
        object = object.field(Field::new(name, type_ref(ty), move |ctx| {
            FieldFuture::new(async move {
                let info = ctx.parent_value.try_to_value()?;
                let Value::Object(map) = info else { return Ok(None) };
                Ok(map.get(name).filter(|v| !matches!(v, Value::Null)).cloned().map(FieldValue::value))
            })
        }));
    }
    object
}

fn filter_type(target: &str) -> InputObject {
    let name = format!("{target}Filter");
    let mut filter = InputObject::new(&name)
        .field(InputValue::new("id", TypeRef::named("IDComparator")))
        .field(InputValue::new("createdAt", TypeRef::named("DateComparator")))
        .field(InputValue::new("updatedAt", TypeRef::named("DateComparator")))
        .field(InputValue::new("and", TypeRef::named_nn_list(&name)))
        .field(InputValue::new("or", TypeRef::named_nn_list(&name)));
    if TEAM_FILTERED.contains(&target) {
        filter = filter.field(InputValue::new("team", TypeRef::named("TeamFilter")));
    }
    if target == "Comment" {
        filter = filter.field(InputValue::new("issue", TypeRef::named("IssueFilter")));
    }
    if target == "Team" {
        filter = filter.field(InputValue::new("key", TypeRef::named("StringComparator")));
    }
    filter
}

/// Builds the schema over `context`.
pub fn build(context: Context) -> Result<Schema, async_graphql::dynamic::SchemaError> {
    let mut query = GqlObject::new("Query")
        .field(Field::new("viewer", TypeRef::named_nn("User"), |ctx| {
            FieldFuture::new(async move {
                let data = state(&ctx)?.data.read().map_err(|_| Error::new("data lock poisoned"))?;
                let viewer = data.get(&data.viewer_id).cloned().ok_or_else(|| Error::new("no viewer"))?;
                Ok(Some(FieldValue::owned_any(viewer)))
            })
        }))
        .field(Field::new("organization", TypeRef::named_nn("Organization"), |ctx| {
            FieldFuture::new(async move {
                let data = state(&ctx)?.data.read().map_err(|_| Error::new("data lock poisoned"))?;
                Ok(Some(FieldValue::owned_any(data.organization.clone())))
            })
        }));
    let mut builder = Schema::build("Query", None, None);
    for &(type_name, list_field) in TYPES {
        query = query.field(connection_field(list_field, type_name, None));
        let single = lower_first(type_name);
        query = query.field(
            Field::new(single, TypeRef::named_nn(type_name), move |ctx| {
                FieldFuture::new(async move {
                    let id = ctx.args.try_get("id")?.string()?;
                    let data = state(&ctx)?.data.read().map_err(|_| Error::new("data lock poisoned"))?;
                    match data.get(id).filter(|o| data.all(type_name).iter().any(|x| x["id"] == o["id"])) {
                        Some(object) => Ok(Some(FieldValue::owned_any(object.clone()))),
                        None => Err(Error::new("Entity not found")),
                    }
                })
            })
            .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::STRING))),
        );
        let fields = FIELDS.iter().find(|(name, _)| *name == type_name).map_or(&[][..], |(_, f)| *f);
        let mut object = GqlObject::new(type_name);
        for (name, kind) in STAMPS.iter().chain(fields.iter()) {
            object = object.field(match *kind {
                Kind::Scalar(ty) => scalar_field(name, ty),
                Kind::Ref { target, key, required } => ref_field(name, target, key, required),
                Kind::Connection { target, key } => connection_field(name, target, Some(key)),
            });
        }
        let [connection, edge] = connection_types(type_name);
        builder = builder.register(object).register(connection).register(edge).register(filter_type(type_name));
    }
    let organization = GqlObject::new("Organization")
        .field(scalar_field("id", "ID!"))
        .field(scalar_field("name", "String!"))
        .field(scalar_field("urlKey", "String!"))
        .field(scalar_field("createdAt", "DateTime!"));
    let id_comparator = ["eq", "neq"]
        .into_iter()
        .fold(InputObject::new("IDComparator"), |o, f| o.field(InputValue::new(f, TypeRef::named(TypeRef::ID))))
        .field(InputValue::new("in", TypeRef::named_nn_list(TypeRef::ID)))
        .field(InputValue::new("nin", TypeRef::named_nn_list(TypeRef::ID)));
    let string_comparator = ["eq", "neq"]
        .into_iter()
        .fold(InputObject::new("StringComparator"), |o, f| o.field(InputValue::new(f, TypeRef::named(TypeRef::STRING))))
        .field(InputValue::new("in", TypeRef::named_nn_list(TypeRef::STRING)))
        .field(InputValue::new("nin", TypeRef::named_nn_list(TypeRef::STRING)));
    let date_comparator =
        ["eq", "neq", "gt", "gte", "lt", "lte"].into_iter().fold(InputObject::new("DateComparator"), |o, f| {
            o.field(InputValue::new(f, TypeRef::named("DateTimeOrDuration")))
        });
    builder
        .register(query)
        .register(organization)
        .register(page_info_type())
        .register(id_comparator)
        .register(string_comparator)
        .register(date_comparator)
        .register(Enum::new("PaginationOrderBy").item("createdAt").item("updatedAt"))
        .register(Scalar::new("DateTime"))
        .register(Scalar::new("TimelessDate"))
        .register(Scalar::new("DateTimeOrDuration"))
        .data(context)
        .finish()
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |c| c.to_lowercase().chain(chars).collect())
}
