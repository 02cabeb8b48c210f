//! `max mcp` through a real MCP client (the official Rust SDK's, spawning the real `max` binary), and
//! through JSON-RPC lines written by hand at an older protocol version.

use std::io::{BufRead, BufReader, Write};

use max_tests::{TestProject, acme_installed, connect_acme_to};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ServiceExt, model::ContentBlock};
use serde_json::{Value, json};

/// A project with acme synced from its fake (keep the server alive).
fn synced_acme() -> (TestProject, max_fake_saas::RunningServer) {
    let (project, server) = acme_installed(max_fake_saas::acme::Size {
        workspaces: 1,
        users: 4,
        projects: 3,
        tasks_per_project: 30,
        files_per_project: 2,
        history: false,
    });
    connect_acme_to(&project, &server, "default", &[]);
    project.max().args(["sync", "acme"]).assert().success();
    (project, server)
}

async fn client(project: &TestProject, args: &[&str]) -> RunningService<RoleClient, ()> {
    let binary = assert_cmd::cargo::cargo_bin("max");
    let (dir, home) = (project.path().to_path_buf(), project.home());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let transport = TokioChildProcess::new(tokio::process::Command::new(binary).configure(move |cmd| {
        cmd.arg("mcp").args(&args).current_dir(&dir).env("MAX_HOME", &home).env_remove("MAX_LOG");
    }))
    .unwrap();
    ().serve(transport).await.expect("max mcp answers the handshake")
}

async fn call(client: &RunningService<RoleClient, ()>, tool: &str, arguments: Value) -> CallToolResult {
    let arguments = arguments.as_object().cloned().unwrap_or_default();
    client.call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments)).await.unwrap()
}

/// The JSON a tool answered with (its text), and whether it was an error.
fn json_of(result: &CallToolResult) -> (Value, bool) {
    let Some(ContentBlock::Text(text)) = result.content.first() else { panic!("no text in {result:?}") };
    (serde_json::from_str(&text.text).unwrap(), result.is_error == Some(true))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mcp_client_lists_the_tools_searches_follows_references_and_runs_sql() {
    let (project, _server) = synced_acme();
    let client = client(&project, &[]).await;
    let info = client.peer_info().expect("the server said who it is");
    assert_eq!(info.server_info.as_ref().map(|s| s.name.as_str()), Some("max"));
    assert!(info.instructions.as_deref().is_some_and(|i| i.contains("list_installations")));
    let mut tools: Vec<String> =
        client.list_all_tools().await.unwrap().into_iter().map(|t| t.name.to_string()).collect();
    tools.sort();
    assert_eq!(
        tools,
        ["describe_schema", "get_entity", "list_installations", "search", "sql", "sync_status"],
        "no start_sync without --allow-sync"
    );

    let (listed, _) = json_of(&call(&client, "list_installations", json!({})).await);
    let tasks = listed["installations"][0]["rows"]["Task"].as_u64().unwrap();
    assert_eq!((listed["installations"][0]["installation"].as_str(), tasks), (Some("acme/default"), 90));
    assert_eq!(listed["installations"][0]["sql_name"], "acme");

    let (schema, _) =
        json_of(&call(&client, "describe_schema", json!({"installation": "acme", "entity": "task"})).await);
    let fields: Vec<&str> =
        schema["entity"]["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(fields.contains(&"title") && fields.contains(&"assignee"), "{fields:?}");
    assert!(schema["searchable"].as_array().unwrap().contains(&json!("title")));

    // Search as the CLI searches: the same rows, only the fields asked for.
    let filter = "priority = urgent OR priority = high";
    let (found, error) = json_of(
        &call(&client, "search", json!({"installation": "acme", "entity": "Task", "filter": filter, "fields": ["title", "priority"], "order_by": ["title"], "limit": 5})).await,
    );
    assert!(!error, "{found}");
    let cli = project
        .max()
        .args([
            "search",
            "acme",
            "Task",
            "--filter",
            filter,
            "--fields",
            "title,priority",
            "--order-by",
            "title",
            "--limit",
            "5",
            "-o",
            "json",
        ])
        .assert()
        .success();
    let cli: Value = serde_json::from_slice(&cli.get_output().stdout).unwrap();
    assert_eq!(found["rows"], cli["rows"]);
    assert_eq!(found["rows"].as_array().unwrap().len(), 5);
    assert!(found["next"].is_string(), "more pages");
    // A mistake comes back as an error the model can act on.
    let (wrong, error) = json_of(
        &call(&client, "search", json!({"installation": "acme", "entity": "Task", "filter": "priorty = high"})).await,
    );
    assert!(error, "{wrong}");
    assert!(wrong["hint"].as_str().is_some_and(|h| h.contains("priority")), "{wrong}");

    // One entity with what its references point at.
    let (first, _) = json_of(&call(&client, "search", json!({"installation": "acme", "entity": "Task", "fields": ["id"], "filter": "assignee != null", "limit": 1})).await);
    let id = first["rows"][0]["id"].as_str().unwrap();
    let (entity, _) =
        json_of(&call(&client, "get_entity", json!({"installation": "acme", "entity": "Task", "id": id})).await);
    assert_eq!(entity["fields"]["id"], id);
    let assignee = entity["fields"]["assignee"].as_str().unwrap();
    assert_eq!(entity["references"]["assignee"]["id"], assignee);
    assert!(entity["references"]["assignee"]["email"].is_string());
    assert!(entity["references"]["project"]["name"].is_string());

    // SQL reads, and only reads.
    let (counted, _) = json_of(
        &call(&client, "sql", json!({"query": "SELECT count(*) AS n FROM acme.Task WHERE _deleted_at IS NULL"})).await,
    );
    assert_eq!(counted["rows"][0]["n"], 90);
    let (refused, error) = json_of(&call(&client, "sql", json!({"query": "DELETE FROM acme.Task"})).await);
    assert!(error && refused["message"].as_str().unwrap().contains("only reads"), "{refused}");
    let (capped, _) = json_of(&call(&client, "sql", json!({"query": "SELECT id FROM acme.Task", "max_rows": 7})).await);
    assert_eq!((capped["rows"].as_array().unwrap().len(), &capped["truncated"]), (7, &json!(true)));
    let (again, _) = json_of(&call(&client, "sql", json!({"query": "SELECT count(*) AS n FROM acme.Task"})).await);
    assert_eq!(again["rows"][0]["n"], 90, "nothing was deleted");

    let (status, _) = json_of(&call(&client, "sync_status", json!({})).await);
    assert_eq!(status["installations"][0]["status"]["syncs"][0]["status"], "completed");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn start_sync_is_offered_only_when_allowed() {
    let (project, _server) = synced_acme();
    let client = client(&project, &["--allow-sync"]).await;
    let tools: Vec<String> = client.list_all_tools().await.unwrap().into_iter().map(|t| t.name.to_string()).collect();
    assert!(tools.contains(&"start_sync".to_string()), "{tools:?}");
    let (report, error) = json_of(&call(&client, "start_sync", json!({"installation": "acme"})).await);
    assert!(!error, "{report}");
    assert_eq!(report["record"]["status"], "completed");
    client.cancel().await.unwrap();
}

/// A client of an older protocol version (2025-06-18), speaking JSON-RPC lines by hand: the server
/// answers in that version, lists its tools and runs one.
#[test]
fn an_older_client_speaking_json_lines_is_served() {
    let (project, _server) = synced_acme();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("max"))
        .arg("mcp")
        .current_dir(project.path())
        .env("MAX_HOME", project.home())
        .env_remove("MAX_LOG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut exchange = |message: Value| -> Option<Value> {
        writeln!(stdin, "{message}").unwrap();
        message.get("id")?;
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        Some(serde_json::from_str(&line).unwrap())
    };
    let initialized = exchange(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "by-hand", "version": "1"}}}))
    .unwrap();
    assert_eq!(initialized["result"]["protocolVersion"], "2025-06-18", "{initialized}");
    exchange(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let tools = exchange(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})).unwrap();
    assert_eq!(tools["result"]["tools"].as_array().unwrap().len(), 6, "{tools}");
    let called = exchange(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "sql", "arguments": {"query": "SELECT count(*) AS n FROM acme.Task"}}}))
    .unwrap();
    let text = called["result"]["content"][0]["text"].as_str().unwrap();
    assert_eq!(serde_json::from_str::<Value>(text).unwrap()["rows"][0]["n"], 90);
    drop(stdin);
    assert!(child.wait().unwrap().success(), "max mcp ends when its client goes");
}
