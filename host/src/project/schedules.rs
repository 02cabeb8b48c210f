//! The project's sync schedules (`.max/schedules.json`): which installations the daemon syncs on
//! its own, every so long (`--every 15m`) or at the times a cron expression names (`--cron
//! "*/15 * * * *"`, standard five fields, in UTC).

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::files;
use crate::{Error, Result};

/// When an installation is synced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    /// Every so many seconds, counted from the start of the last run.
    EverySeconds(u64),
    /// At the times a five-field cron expression names (UTC).
    Cron(String),
}

impl Cadence {
    /// `every` as a cadence (at least a second).
    pub fn every(every: Duration) -> Result<Cadence> {
        if every < Duration::from_secs(1) {
            return Err(Error::BadSchedule { reason: "the interval must be at least 1s".to_string() });
        }
        Ok(Cadence::EverySeconds(every.as_secs()))
    }

    /// A cron expression as a cadence, checked.
    pub fn cron(expression: &str) -> Result<Cadence> {
        parse_cron(expression)?;
        Ok(Cadence::Cron(expression.trim().to_string()))
    }

    /// The first run after `last` started (or, never run, the first one from `now`).
    pub fn next(&self, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Cadence::EverySeconds(seconds) => match last {
                Some(last) => last + chrono::Duration::seconds(*seconds as i64),
                None => now,
            },
            Cadence::Cron(expression) => parse_cron(expression)
                .ok()
                .and_then(|cron| cron.find_next_occurrence(&last.unwrap_or(now).max(now), false).ok())
                .unwrap_or(now + chrono::Duration::days(365)),
        }
    }

    /// How often it runs, roughly: the interval, or the time between a cron expression's next two
    /// runs (what a failing installation's backoff grows from).
    pub fn period(&self, now: DateTime<Utc>) -> Duration {
        match self {
            Cadence::EverySeconds(seconds) => Duration::from_secs(*seconds),
            Cadence::Cron(_) => {
                let first = self.next(None, now);
                (self.next(Some(first), first) - first).to_std().unwrap_or(Duration::from_secs(3600))
            }
        }
    }
}

impl std::fmt::Display for Cadence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cadence::EverySeconds(seconds) => write!(f, "every {}", crate::format::duration(*seconds)),
            Cadence::Cron(expression) => write!(f, "cron `{expression}` (UTC)"),
        }
    }
}

fn parse_cron(expression: &str) -> Result<croner::Cron> {
    let fields = expression.split_whitespace().count();
    if fields != 5 {
        return Err(Error::BadSchedule {
            reason: format!(
                "`{expression}` has {fields} fields; a cron expression has five: minute hour day month weekday"
            ),
        });
    }
    croner::Cron::from_str(expression)
        .map_err(|e| Error::BadSchedule { reason: format!("`{expression}` is not a cron expression: {e}") })
}

/// One installation's schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// `connector/name`.
    pub installation: String,
    /// When it runs.
    pub cadence: Cadence,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SchedulesFile {
    schedules: Vec<Schedule>,
}

/// The schedules of one project.
#[derive(Debug, Clone)]
pub struct ScheduleStore {
    path: PathBuf,
}

impl ScheduleStore {
    /// The schedules kept at `path` (`.max/schedules.json`).
    pub fn new(path: PathBuf) -> Self {
        ScheduleStore { path }
    }

    /// Where they are kept (the daemon reads them again when the file changes).
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Every schedule (none when the file doesn't exist).
    pub fn list(&self) -> Result<Vec<Schedule>> {
        if !self.path.is_file() {
            return Ok(Vec::new());
        }
        Ok(files::read_json::<SchedulesFile>(&self.path)?.schedules)
    }

    /// Schedules `installation` (a label), replacing its schedule if it had one.
    pub fn set(&self, installation: &str, cadence: Cadence) -> Result<Schedule> {
        let mut schedules = self.list()?;
        schedules.retain(|s| s.installation != installation);
        let schedule = Schedule { installation: installation.to_string(), cadence };
        schedules.push(schedule.clone());
        schedules.sort_by(|a, b| a.installation.cmp(&b.installation));
        files::write_json(&self.path, &SchedulesFile { schedules })?;
        Ok(schedule)
    }

    /// Unschedules `installation`; returns its schedule, if it had one.
    pub fn remove(&self, installation: &str) -> Result<Option<Schedule>> {
        let mut schedules = self.list()?;
        let removed = schedules.iter().position(|s| s.installation == installation).map(|i| schedules.remove(i));
        if removed.is_some() {
            files::write_json(&self.path, &SchedulesFile { schedules })?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn intervals_count_from_the_last_start_and_cron_from_now() {
        let now = at("2026-12-07T10:07:30Z");
        let every = Cadence::every(Duration::from_secs(900)).unwrap();
        assert_eq!(every.next(None, now), now, "never run: now");
        assert_eq!(every.next(Some(at("2026-12-07T10:00:00Z")), now), at("2026-12-07T10:15:00Z"));
        let cron = Cadence::cron("*/15 * * * *").unwrap();
        assert_eq!(cron.next(None, now), at("2026-12-07T10:15:00Z"));
        assert_eq!(cron.next(Some(at("2026-12-07T10:15:00Z")), at("2026-12-07T10:15:01Z")), at("2026-12-07T10:30:00Z"));
        assert_eq!(cron.period(now), Duration::from_secs(900));
    }

    #[test]
    fn bad_cadences_are_refused_with_what_is_wrong() {
        assert!(Cadence::every(Duration::ZERO).is_err());
        for (expression, says) in
            [("*/15 * * *", "has 4 fields"), ("0 0 * * * *", "has 6 fields"), ("61 * * * *", "not a cron")]
        {
            match Cadence::cron(expression) {
                Err(Error::BadSchedule { reason }) => assert!(reason.contains(says), "{expression}: {reason}"),
                other => panic!("{expression}: {other:?}"),
            }
        }
    }
}
