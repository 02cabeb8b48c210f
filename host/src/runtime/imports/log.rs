//! `max:connector/log`: guest messages become tracing events naming the connector, cut to a bounded
//! length and stripped of control characters so a connector can't forge terminal output.

use crate::runtime::bindings::max::connector::log::{Host, Level};
use crate::runtime::state::StoreState;

/// Longest message kept, in characters.
const MAX_MESSAGE_CHARS: usize = 2000;

impl Host for StoreState {
    async fn log(&mut self, level: Level, message: String) {
        let mut clean: String =
            message.chars().take(MAX_MESSAGE_CHARS).map(|c| if c.is_control() { ' ' } else { c }).collect();
        if message.chars().count() > MAX_MESSAGE_CHARS {
            clean.push('…');
        }
        let connector = self.connector.as_str();
        match level {
            Level::Trace => tracing::trace!(target: "max::connector", connector, "{clean}"),
            Level::Debug => tracing::debug!(target: "max::connector", connector, "{clean}"),
            Level::Info => tracing::info!(target: "max::connector", connector, "{clean}"),
            Level::Warn => tracing::warn!(target: "max::connector", connector, "{clean}"),
            Level::Error => tracing::error!(target: "max::connector", connector, "{clean}"),
        }
    }
}
