//! Linear's rate limiting: two leaky buckets (requests and complexity points) refilled continuously
//! over a period, and the complexity of a query estimated the way Linear documents it: each scalar
//! field 0.1 point, each object 1 point, and a connection multiplies what it selects by its `first`
//! (50 when absent).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_graphql::Value;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet};

/// A budget refilled continuously: `limit` units per `period`.
#[derive(Debug, Clone)]
pub struct Bucket {
    limit: f64,
    period: Duration,
    level: f64,
    updated: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn new(limit: u64, period: Duration) -> Self {
        Bucket { limit: limit as f64, period, level: limit as f64, updated: Instant::now() }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let rate = self.limit / self.period.as_secs_f64().max(0.001);
        self.level = (self.level + rate * now.duration_since(self.updated).as_secs_f64()).min(self.limit);
        self.updated = now;
    }

    /// Takes `amount`, or says how long until that much is available.
    pub fn take(&mut self, amount: f64) -> Result<(), Duration> {
        self.refill();
        if self.level >= amount {
            self.level -= amount;
            return Ok(());
        }
        let rate = self.limit / self.period.as_secs_f64().max(0.001);
        Err(Duration::from_secs_f64((amount.min(self.limit) - self.level) / rate))
    }

    /// The advertised limit.
    pub fn limit(&self) -> u64 {
        self.limit as u64
    }

    /// Whole units left.
    pub fn remaining(&mut self) -> u64 {
        self.refill();
        self.level.floor() as u64
    }

    /// When the bucket is full again, in UTC epoch milliseconds.
    pub fn reset_epoch_ms(&mut self) -> u64 {
        self.refill();
        let rate = self.limit / self.period.as_secs_f64().max(0.001);
        epoch_ms(Duration::from_secs_f64((self.limit - self.level) / rate))
    }
}

/// Now plus `later`, in UTC epoch milliseconds.
pub fn epoch_ms(later: Duration) -> u64 {
    (SystemTime::now() + later).duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The complexity of the operation `operation_name` picks in `document`.
pub fn complexity(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &HashMap<String, Value>,
    connections: &[&str],
) -> f64 {
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => {
            ops.iter().find(|(n, _)| n.as_str() == name).map(|(_, op)| op)
        }
        (DocumentOperations::Multiple(ops), None) => ops.values().next(),
    };
    let Some(operation) = operation else { return 0.0 };
    let estimator = Estimator { document, variables, connections };
    estimator.selection_set(&operation.node.selection_set.node, 0)
}

struct Estimator<'a> {
    document: &'a ExecutableDocument,
    variables: &'a HashMap<String, Value>,
    connections: &'a [&'a str],
}

impl Estimator<'_> {
    fn selection_set(&self, set: &SelectionSet, depth: usize) -> f64 {
        if depth > 32 {
            return 0.0;
        }
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let children = &field.selection_set.node;
                    if children.items.is_empty() {
                        return 0.1;
                    }
                    if !self.connections.contains(&field.name.node.as_str()) {
                        return 1.0 + self.selection_set(children, depth + 1);
                    }
                    let first = field
                        .arguments
                        .iter()
                        .find(|(name, _)| name.node.as_str() == "first")
                        .and_then(|(_, value)| {
                            let value = value.node.clone().into_const_with(|name| {
                                Ok::<_, ()>(self.variables.get(name.as_str()).cloned().unwrap_or(Value::Null))
                            });
                            match value {
                                Ok(Value::Number(n)) => n.as_f64(),
                                _ => None,
                            }
                        })
                        .unwrap_or(50.0);
                    // The page info is charged once; everything else once per item.
                    let (per_item, once): (Vec<_>, Vec<_>) = children.items.iter().partition(
                        |s| !matches!(&s.node, Selection::Field(f) if f.node.name.node.as_str() == "pageInfo"),
                    );
                    let per_item = SelectionSet { items: per_item.into_iter().cloned().collect() };
                    let once = SelectionSet { items: once.into_iter().cloned().collect() };
                    first * self.selection_set(&per_item, depth + 1) + 1.0 + self.selection_set(&once, depth + 1)
                }
                Selection::FragmentSpread(spread) => self
                    .document
                    .fragments
                    .get(&spread.node.fragment_name.node)
                    .map_or(0.0, |f| self.selection_set(&f.node.selection_set.node, depth + 1)),
                Selection::InlineFragment(inline) => self.selection_set(&inline.node.selection_set.node, depth + 1),
            })
            .sum()
    }
}
