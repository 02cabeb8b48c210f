//! The rate budgets of one installation's API account, shared through its schema by every process
//! that calls the account at once (`max sync` and its workers), so that together they spend no more
//! than the server allows: each takes what a request costs before sending it, and each response
//! lowers a budget to what the server reports (never raises it within a window, since requests of
//! others may be in flight). When a budget's reset time has passed, or before anything is known, one
//! request goes out alone (a probe) and its response sets the budget anew; the others wait for it,
//! or take over after [`PROBE`].

use std::time::{Duration, SystemTime};

use super::connection::{connect, failed, wait};
use crate::http::SharedBudgets;
use crate::storage::schema::quote;

/// How long the others wait for a probe's response before one of them probes instead.
const PROBE: Duration = Duration::from_secs(2);

/// The key of the row that says a first probe is out, before any budget is known.
const FIRST: &str = "";

/// One installation's shared budgets (`_max_rate` in its schema).
pub struct PgBudgets {
    url: String,
    table: String,
    place: String,
}

impl PgBudgets {
    /// The budgets kept in the schema `schema` of the database at `url` (created with the schema).
    pub fn new(url: &str, schema: &str) -> Self {
        PgBudgets {
            url: url.to_string(),
            table: format!("{}._max_rate", quote(schema)),
            place: format!("{} (schema {schema})", super::connection::shown(url)),
        }
    }

    fn take_now(&self, costs: &[(String, u64)]) -> crate::Result<Option<SystemTime>> {
        let client = connect(&self.url)?;
        let place = &self.place;
        let table = &self.table;
        wait(async {
            client.batch_execute("BEGIN").await.map_err(failed(place))?;
            let outcome = async {
                // Serializes the takers of this installation for the moment of the transaction.
                client
                    .execute(&format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"), &[])
                    .await
                    .map_err(failed(place))?;
                let rows = client
                    .query(
                        &format!(
                            "SELECT key, remaining, cost, reset_at <= now(), probe_until <= now(),
                                    EXTRACT(EPOCH FROM COALESCE(reset_at, probe_until))::float8
                             FROM {table}"
                        ),
                        &[],
                    )
                    .await
                    .map_err(failed(place))?;
                if rows.is_empty() {
                    // Nothing known yet: this request goes first, the others wait for its answer.
                    let sql = format!(
                        "INSERT INTO {table} (key, remaining, cost, reset_at, probe_until)
                         VALUES ($1, 0, 1, NULL, now() + make_interval(secs => $2))"
                    );
                    client.execute(&sql, &[&FIRST, &PROBE.as_secs_f64()]).await.map_err(failed(place))?;
                    return Ok(None);
                }
                let mut blocked: Option<f64> = None;
                let mut takes: Vec<Take> = Vec::new();
                for row in &rows {
                    let key: String = row.get(0);
                    let remaining: i64 = row.get(1);
                    let local = costs.iter().find(|(k, _)| *k == key).map_or(1, |(_, c)| *c as i64);
                    let cost = local.max(row.get::<_, i64>(2)).max(1);
                    let (reset_passed, probe_over): (Option<bool>, Option<bool>) = (row.get(3), row.get(4));
                    let until: Option<f64> = row.get(5);
                    let hold = |blocked: &mut Option<f64>| {
                        let at = until.unwrap_or_else(|| epoch_now() + 1.0);
                        *blocked = Some(blocked.map_or(at, |b| b.min(at)));
                    };
                    if key == FIRST {
                        // The first request to the account: others wait for its answer, or take
                        // over from one that got none; once answered, it holds nothing back.
                        match probe_over {
                            Some(false) => hold(&mut blocked),
                            Some(true) => takes.push(Take::Probe(key)),
                            None => {}
                        }
                        continue;
                    }
                    let take = match (reset_passed, probe_over) {
                        // A window that has reset: this request learns the new one.
                        (Some(true), _) => Some(Take::Probe(key)),
                        // A probe is out: wait for its answer, or take over from one that got none.
                        (None, Some(false)) => None,
                        (None, Some(true)) => Some(Take::Probe(key)),
                        _ if remaining >= cost => Some(Take::Spend(key, remaining - cost)),
                        // Spent, with no reset announced: probe.
                        (None, None) => Some(Take::Probe(key)),
                        (Some(false), _) => None,
                    };
                    match take {
                        Some(take) => takes.push(take),
                        None => hold(&mut blocked),
                    }
                }
                if let Some(at) = blocked {
                    return Ok(Some(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(at.max(0.0))));
                }
                for take in takes {
                    match take {
                        Take::Probe(key) if key == FIRST => {
                            let sql = format!("UPDATE {table} SET probe_until = now() + make_interval(secs => $2) WHERE key = $1");
                            client.execute(&sql, &[&key, &PROBE.as_secs_f64()]).await.map_err(failed(place))?;
                        }
                        Take::Probe(key) => {
                            let sql = format!(
                                "UPDATE {table} SET remaining = 0, reset_at = NULL,
                                     probe_until = now() + make_interval(secs => $2) WHERE key = $1"
                            );
                            client.execute(&sql, &[&key, &PROBE.as_secs_f64()]).await.map_err(failed(place))?;
                        }
                        Take::Spend(key, left) => {
                            let sql = format!("UPDATE {table} SET remaining = $2 WHERE key = $1");
                            client.execute(&sql, &[&key, &left]).await.map_err(failed(place))?;
                        }
                    }
                }
                Ok(None)
            }
            .await;
            let end = if matches!(outcome, Ok(None)) { "COMMIT" } else { "ROLLBACK" };
            client.batch_execute(end).await.map_err(failed(place))?;
            outcome
        })
    }

    fn observed_now(&self, key: &str, remaining: u64, reset: Option<SystemTime>, cost: u64) -> crate::Result<()> {
        let client = connect(&self.url)?;
        let reset = reset.and_then(|at| at.duration_since(SystemTime::UNIX_EPOCH).ok()).map(|d| d.as_secs_f64());
        let table = &self.table;
        // Within a window a budget only goes down (others' requests may be in flight); a probe's
        // answer, or the first one, sets it.
        let sql = format!(
            "INSERT INTO {table} AS r (key, remaining, cost, reset_at, probe_until)
             VALUES ($1, $2, $3, to_timestamp($4), NULL)
             ON CONFLICT (key) DO UPDATE SET
                 remaining = CASE WHEN r.reset_at IS NULL THEN excluded.remaining
                                  ELSE LEAST(r.remaining, excluded.remaining) END,
                 reset_at = CASE WHEN r.reset_at IS NULL THEN excluded.reset_at
                                 ELSE GREATEST(r.reset_at, excluded.reset_at) END,
                 cost = GREATEST(r.cost, excluded.cost),
                 probe_until = NULL"
        );
        let (remaining, cost) = (remaining.min(i64::MAX as u64) as i64, cost.min(i64::MAX as u64) as i64);
        wait(client.execute(&sql, &[&key, &remaining, &cost, &reset])).map_err(failed(&self.place))?;
        Ok(())
    }

    fn answered_now(&self) -> crate::Result<()> {
        let client = connect(&self.url)?;
        let sql = format!("UPDATE {} SET probe_until = NULL WHERE key = $1", self.table);
        wait(client.execute(&sql, &[&FIRST])).map_err(failed(&self.place))?;
        Ok(())
    }
}

/// What one request does to one budget.
enum Take {
    /// Goes out alone to learn the budget anew.
    Probe(String),
    /// Spends from it, leaving this much.
    Spend(String, i64),
}

fn epoch_now() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl SharedBudgets for PgBudgets {
    fn take(&self, costs: &[(String, u64)]) -> Result<Option<SystemTime>, String> {
        self.take_now(costs).map_err(|e| e.to_string())
    }

    fn observed(&self, key: &str, remaining: u64, reset: Option<SystemTime>, cost: u64) {
        if let Err(error) = self.observed_now(key, remaining, reset, cost) {
            tracing::warn!(%error, "recording a shared rate budget failed");
        }
    }

    fn answered(&self) {
        if let Err(error) = self.answered_now() {
            tracing::warn!(%error, "recording the account's first answer failed");
        }
    }
}
