//! `max mcp`: the project's data for agents, over the Model Context Protocol (see `crate::mcp`).

use clap::Args;

use crate::args::GlobalArgs;
use crate::commands::host;

/// Serve the project's data to an agent over the Model Context Protocol (stdio).
///
/// An MCP client (Claude Desktop, Claude Code, Cursor, an agent built on an MCP SDK) starts `max mcp`
/// and speaks JSON-RPC on its standard input and output. Tools: list_installations,
/// describe_schema, search (the filter language and full-text words), get_entity (one entity with
/// its references), sql (read-only, across installations), sync_status, and start_sync with
/// --allow-sync. Answers are sized for a model's context: pages, field selection, long texts cut.
/// Logs go to standard error.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  max mcp
  max mcp -C ~/acme-data --allow-sync
  claude mcp add max -- max mcp -C ~/acme-data

A client's configuration (mcpServers in JSON):
  { \"max\": { \"command\": \"max\", \"args\": [\"mcp\", \"-C\", \"/home/ada/acme-data\"] } }")]
pub struct McpCommand {
    /// Offer the start_sync tool: the agent may sync installations (which calls their APIs).
    #[arg(long)]
    allow_sync: bool,
}

impl McpCommand {
    /// Runs it until the client goes.
    pub async fn run(self, global: &GlobalArgs) -> anyhow::Result<()> {
        crate::mcp::serve(host(global)?.keep_warm(), self.allow_sync).await
    }
}
