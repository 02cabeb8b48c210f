//! The live sync display on a terminal: tasks done/total on a bar, and per entity type the rows stored
//! and their rate. Hidden when stderr is not a terminal.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::output::printable;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use max_host::format::thousands;
use max_host::task::SyncId;
use max_host::{Continuation, SyncObserver};

/// Draws sync progress.
pub struct SyncProgress {
    bar: ProgressBar,
    started: Instant,
    stored: Mutex<BTreeMap<String, u64>>,
}

impl SyncProgress {
    /// A display on stderr when `visible`, else a silent one.
    pub fn new(visible: bool, label: &str) -> Self {
        let target = if visible { ProgressDrawTarget::stderr_with_hz(10) } else { ProgressDrawTarget::hidden() };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} [{bar:24}] {pos}/{len} tasks {elapsed}\n  {wide_msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("Syncing {label}"));
        bar.enable_steady_tick(Duration::from_millis(120));
        SyncProgress { bar, started: Instant::now(), stored: Mutex::new(BTreeMap::new()) }
    }

    /// Removes the display.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn message(&self) -> String {
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        let stored = self.stored.lock().expect("progress lock");
        stored
            .iter()
            .map(|(entity, rows)| {
                format!("{entity} {} ({}/s)", thousands(*rows), thousands((*rows as f64 / seconds) as u64))
            })
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

impl SyncObserver for SyncProgress {
    fn stored(&self, entity: &str, rows: u64) {
        *self.stored.lock().expect("progress lock").entry(entity.to_string()).or_insert(0) += rows;
        self.bar.set_message(self.message());
    }

    fn progress(&self, done: u64, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(done);
    }

    fn retrying(&self, task: &str, error: &str, delay: Duration) {
        self.bar.println(format!("  retrying {} in {} ms: {}", printable(task), delay.as_millis(), printable(error)));
    }

    fn credentials_exposed(&self, path: &std::path::Path, mode: u32) {
        let path = printable(&path.display().to_string());
        self.bar.suspend(|| {
            crate::prompt::warn(&format!("{path} can be read by other users (mode {mode:o}); `chmod 600` it"))
        });
    }

    fn started(&self, sync: SyncId, continuation: Continuation) {
        match continuation {
            Continuation::New => {}
            Continuation::Resumed { .. } => {
                self.bar.println(format!("Resuming sync #{sync} where it stopped (finished work is kept)"));
            }
            Continuation::RetriedFailed { tasks } => {
                self.bar.println(format!("Running the {tasks} failed tasks of sync #{sync} again"));
            }
        }
    }
}
