//! The boundary: the same acme code as a WebAssembly component and as a native Rust library, driven
//! through the same host (the same HTTP capability, the same fake API), walking every page of the
//! demo dataset. The ratio is what the sandbox costs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use max_connector_sdk::native::{self, DynConnector, HttpError as RawError, Method as RawMethod, NativeHost};
use max_host::data::EntityRef;
use max_host::http::{HttpCapability, HttpError, HttpLimits, HttpRequest, Method};
use max_host::runtime::{ConnectorInstance, InstanceSetup, Limits, Runtime, RuntimeConfig, decode_rows};

use super::Env;
use super::startup::verdict;
use crate::fake::{Api, Size};
use crate::report::Row;

/// One page: the item ids and the next cursor.
type Page = (Vec<String>, Option<String>);

/// A way to call acme's collection loaders.
trait Pages {
    async fn page(&mut self, loader: &str, parent: &EntityRef, cursor: Option<String>) -> anyhow::Result<Page>;
}

struct Wasm(ConnectorInstance);

impl Pages for Wasm {
    async fn page(&mut self, loader: &str, parent: &EntityRef, cursor: Option<String>) -> anyhow::Result<Page> {
        let page = self.0.load_page(loader, parent, cursor.as_deref()).await?;
        Ok((page.items.rows.into_iter().map(|r| r.id).collect(), page.next_cursor))
    }
}

struct Native(Box<dyn DynConnector>);

impl Pages for Native {
    async fn page(&mut self, loader: &str, parent: &EntityRef, cursor: Option<String>) -> anyhow::Result<Page> {
        let parent = max_connector_sdk::EntityRef { entity: parent.entity.clone(), id: parent.id.clone() };
        let page = tokio::task::block_in_place(|| self.0.load_page(loader, &parent, cursor.as_deref()))
            .map_err(|e| anyhow::anyhow!("native acme: {e}"))?;
        // The host decodes the packed rows into its own types, as it does for the component.
        let items = &page.items;
        let limits = Limits::default();
        let rows = decode_rows(&items.entity, &items.columns, items.row_count, &items.data, &items.text, &limits)?;
        for related in &page.related {
            decode_rows(&related.entity, &related.columns, related.row_count, &related.data, &related.text, &limits)?;
        }
        Ok((rows.into_iter().map(|r| r.id).collect(), page.next_cursor))
    }
}

/// The native connector's HTTP: the host's own capability, awaited on the runtime.
struct Bridge {
    http: Arc<HttpCapability>,
    runtime: tokio::runtime::Handle,
}

impl NativeHost for Bridge {
    fn send(&self, request: &native::Request) -> Result<native::Response, RawError> {
        let request = HttpRequest {
            method: match request.method {
                RawMethod::Get => Method::Get,
                RawMethod::Head => Method::Head,
                RawMethod::Post => Method::Post,
                RawMethod::Put => Method::Put,
                RawMethod::Patch => Method::Patch,
                RawMethod::Delete => Method::Delete,
                RawMethod::Options => Method::Options,
            },
            url: request.url.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
            credential: request.credential.clone(),
            timeout: request.timeout_ms.map(|ms| Duration::from_millis(ms.into())),
        };
        match self.runtime.block_on(self.http.send(request)) {
            Ok(r) => Ok(native::Response { status: r.status, headers: r.headers, body: r.body }),
            Err(HttpError::Timeout) => Err(RawError::Timeout),
            Err(e) => Err(RawError::Connection(e.to_string())),
        }
    }
}

/// Walks workspaces → projects → tasks, every page; returns the items seen and the time taken.
async fn walk(pages: &mut impl Pages) -> anyhow::Result<(u64, Duration)> {
    let started = Instant::now();
    let mut seen = 0u64;
    let refs = |entity: &str, ids: &[String]| {
        ids.iter().map(|id| EntityRef { entity: entity.into(), id: id.clone() }).collect::<Vec<_>>()
    };
    let root = EntityRef { entity: "Account".into(), id: "acme".into() };
    let mut levels = vec![("workspaces", vec![root], "Workspace")];
    while let Some((loader, parents, child)) = levels.pop() {
        let mut children = Vec::new();
        for parent in &parents {
            let mut cursor = None;
            loop {
                let (ids, next) = pages.page(loader, parent, cursor).await?;
                seen += ids.len() as u64;
                children.extend(refs(child, &ids));
                match next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        match loader {
            "workspaces" => levels.push(("workspace-projects", children, "Project")),
            "workspace-projects" => levels.push(("project-tasks", children, "Task")),
            _ => {}
        }
    }
    Ok((seen, started.elapsed()))
}

/// Measures both builds on the demo dataset.
pub async fn run(env: &Env) -> anyhow::Result<Vec<Row>> {
    let api = Api::start(&env.bin, Size::DEMO)?;
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let loaded = runtime.load("acme", &std::fs::read(&env.acme)?)?;
    let info = loaded.describe().await?;
    let secrets = Arc::new(HashMap::from([("api_key".to_string(), api.api_key.clone())]));
    let http = Arc::new(HttpCapability::new(&info.permissions, Some(&api.base_url), secrets, HttpLimits::default()));
    let config = vec![("base_url".to_string(), api.base_url.clone())];
    let setup = InstanceSetup { config: config.clone(), http: http.clone(), limits: Limits::default() };
    let mut instance = loaded.instantiate("acme", &setup).await?;
    instance.initialise(&config, &Default::default()).await?;
    let mut wasm = Wasm(instance);
    native::set_host(Box::new(Bridge { http, runtime: tokio::runtime::Handle::current() }))
        .map_err(anyhow::Error::msg)?;
    let mut connector = acme::native_connector();
    connector.initialise(config).map_err(|e| anyhow::anyhow!("native acme: {e}"))?;
    let mut native = Native(connector);

    // A round each to warm up (the guest's memory grows, both builds' allocators settle), then turns.
    walk(&mut wasm).await?;
    walk(&mut native).await?;
    let rounds = if env.quick { 9 } else { 21 };
    let (mut wasm_times, mut native_times, mut items) = (Vec::new(), Vec::new(), 0);
    for _ in 0..rounds {
        let (n, t) = walk(&mut wasm).await?;
        wasm_times.push(t);
        let (m, u) = walk(&mut native).await?;
        anyhow::ensure!(n == m, "the two builds saw different data: {n} vs {m} items");
        native_times.push(u);
        items = n;
    }
    wasm_times.sort();
    native_times.sort();
    let (wasm_s, native_s) = (wasm_times[rounds / 2].as_secs_f64(), native_times[rounds / 2].as_secs_f64());
    let ratio = wasm_s / native_s;
    let row = |name: &str, seconds: f64, note: String| Row::throughput("boundary", name, items, seconds, note);
    Ok(vec![
        row("acme pages as a native library", native_s, String::new()),
        row(
            "acme pages as a wasm component",
            wasm_s,
            verdict(&format!("wasm/native {ratio:.2}×; target ≤ 1.3×"), ratio <= 1.3),
        ),
    ])
}
