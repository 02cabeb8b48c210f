//! What each wasmtime `Store` holds: the WASI context (no files, env or sockets), resource limits, the
//! installation's HTTP capability, and the clock that turns epoch ticks into CPU and wall-clock limits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::LimitKind;
use crate::http::HttpCapability;

/// Bytes of the guest's stderr kept to explain a crash (a Rust panic message goes there).
const STDERR_CAPTURE_BYTES: usize = 16 * 1024;

/// Limits of one instance and its calls.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Linear memory per instance.
    pub memory_bytes: usize,
    /// Guest CPU time per call (time spent in host calls such as HTTP does not count).
    pub cpu_per_call: Duration,
    /// Wall-clock time per call, host calls included.
    pub wall_per_call: Duration,
    /// Entity data one call may return (packed rows, text and column names of every batch).
    pub max_result_bytes: usize,
    /// Native stack the WebAssembly code may use (bounds recursion). Set per engine: a component is
    /// loaded for it ([`crate::runtime::Runtime::load_with_stack`]).
    pub stack_bytes: usize,
    /// Core and component instances per store.
    pub instances: usize,
    /// Tables per store.
    pub tables: usize,
    /// Elements per table.
    pub table_elements: usize,
    /// Log messages per second (bursts of twice as many); the rest are counted and dropped.
    pub log_per_second: u32,
    /// Longest log message kept, in characters.
    pub log_message_chars: usize,
    /// Longest entity id (rows, references, collection items, deletions) a call may return, in bytes.
    pub max_id_bytes: usize,
    /// Largest single text, datetime or JSON value a call may return, in bytes.
    pub max_value_bytes: usize,
    /// Deepest nesting of arrays and objects in a returned JSON value.
    pub max_json_depth: usize,
    /// Longest page or change-feed cursor a call may return, in bytes.
    pub max_cursor_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 256 << 20,
            cpu_per_call: Duration::from_secs(10),
            wall_per_call: Duration::from_secs(60),
            max_result_bytes: 64 << 20,
            stack_bytes: 1 << 20,
            instances: 64,
            tables: 64,
            table_elements: 1 << 20,
            log_per_second: 50,
            log_message_chars: 2000,
            max_id_bytes: 2048,
            max_value_bytes: 16 << 20,
            max_json_depth: 64,
            max_cursor_bytes: 64 << 10,
        }
    }
}

impl Limits {
    /// What `limit` was, for an error message.
    pub(crate) fn describe(&self, limit: LimitKind) -> String {
        match limit {
            LimitKind::Cpu => format!("{} ms of CPU per call", self.cpu_per_call.as_millis()),
            LimitKind::WallClock => format!("{} ms per call", self.wall_per_call.as_millis()),
            LimitKind::Memory => format!("{} MiB", self.memory_bytes >> 20),
            LimitKind::ResultSize => format!("{} MiB per call, counted as held in memory", self.max_result_bytes >> 20),
            LimitKind::Instances => format!("{} WebAssembly instances", self.instances),
            LimitKind::Tables => format!("{} tables", self.tables),
            LimitKind::TableElements => format!("{} elements per table", self.table_elements),
            LimitKind::IdSize => format!("ids of {} bytes", self.max_id_bytes),
            LimitKind::ValueSize => format!("values of {} MiB", self.max_value_bytes >> 20),
            LimitKind::JsonDepth => format!("JSON nested {} deep", self.max_json_depth),
            LimitKind::CursorSize => format!("cursors of {} KiB", self.max_cursor_bytes >> 10),
            // Limits of a sync, not of a call: whoever reports them says what they were.
            LimitKind::CollectionPages | LimitKind::FeedPages | LimitKind::IdlePages | LimitKind::WaitBudget => {
                String::new()
            }
        }
    }
}

/// The store limit a wasmtime error reports hitting (`StoreLimits` refused to grow or instantiate).
pub(crate) fn store_limit_hit(error_chain: &str) -> Option<LimitKind> {
    [
        ("forcing trap when growing memory", LimitKind::Memory),
        ("forcing trap when growing table", LimitKind::TableElements),
        ("instance count too high", LimitKind::Instances),
        ("table count too high", LimitKind::Tables),
    ]
    .into_iter()
    .find_map(|(says, limit)| error_chain.contains(says).then_some(limit))
}

/// Time accounting of the call in flight.
#[derive(Debug)]
pub(crate) struct CallClock {
    started: Instant,
    in_host: Duration,
}

impl CallClock {
    fn idle() -> Self {
        CallClock { started: Instant::now(), in_host: Duration::ZERO }
    }
}

/// The data of one store (one instance).
pub(crate) struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    pub(crate) call_limits: Limits,
    pub(crate) http: Arc<HttpCapability>,
    pub(crate) connector: String,
    pub(crate) stderr: MemoryOutputPipe,
    pub(crate) clock: CallClock,
    /// The limit that interrupted the current call, if one did.
    pub(crate) limit_hit: Option<LimitKind>,
    /// How much more the guest may log.
    pub(crate) log_budget: super::imports::log::LogBudget,
    /// The requests of the call in flight, for the log (`max -v`).
    pub(crate) requests: RequestLog,
}

/// The requests one call made: how many, and the first [`RequestLog::KEPT`] as `GET url → 200`.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    pub(crate) count: usize,
    pub(crate) lines: Vec<String>,
}

impl RequestLog {
    /// The most request lines kept per call.
    const KEPT: usize = 32;

    /// Notes one request and what became of it.
    pub(crate) fn note(&mut self, line: impl FnOnce() -> String) {
        self.count += 1;
        if self.lines.len() < Self::KEPT {
            self.lines.push(line());
        }
    }
}

impl StoreState {
    pub(crate) fn new(connector: &str, http: Arc<HttpCapability>, call_limits: Limits) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
        // No preopened directories, no environment, no arguments, no network: the builder's defaults
        // deny all of them. Only stderr is captured, to explain panics.
        let wasi = WasiCtx::builder().stderr(stderr.clone()).build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(call_limits.memory_bytes)
            .instances(call_limits.instances)
            .tables(call_limits.tables)
            .memories(16)
            .table_elements(call_limits.table_elements)
            .trap_on_grow_failure(true)
            .build();
        let log_budget = super::imports::log::LogBudget::new(call_limits.log_per_second);
        StoreState {
            wasi,
            table: ResourceTable::new(),
            limits,
            call_limits,
            http,
            connector: connector.to_string(),
            stderr,
            clock: CallClock::idle(),
            limit_hit: None,
            log_budget,
            requests: RequestLog::default(),
        }
    }

    /// Starts the clock of a new call.
    pub(crate) fn begin_call(&mut self) {
        self.clock = CallClock { started: Instant::now(), in_host: Duration::ZERO };
        self.limit_hit = None;
        self.requests = RequestLog::default();
    }

    /// Counts time spent in a host call, which is not the guest's CPU time.
    pub(crate) fn add_host_time(&mut self, spent: Duration) {
        self.clock.in_host += spent;
    }

    /// Decides at an epoch tick whether the call in flight may go on; records the limit it broke.
    pub(crate) fn check_deadline(&mut self) -> Option<LimitKind> {
        let elapsed = self.clock.started.elapsed();
        let cpu = elapsed.saturating_sub(self.clock.in_host);
        let hit = if cpu > self.call_limits.cpu_per_call {
            Some(LimitKind::Cpu)
        } else if elapsed > self.call_limits.wall_per_call {
            Some(LimitKind::WallClock)
        } else {
            None
        };
        if hit.is_some() {
            self.limit_hit = hit;
        }
        hit
    }

    /// Text from the guest (an error message, an account summary, an option label) as the host may show
    /// and store it: secrets redacted, control characters blanked so it can't forge terminal output.
    pub(crate) fn clean_text(&self, text: &str) -> String {
        crate::text::one_line(&self.http.redact(text))
    }

    /// The last panic message (or other stderr output) of the guest, cleaned for display.
    pub(crate) fn stderr_tail(&self) -> Option<String> {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        let cleaned = crate::text::lines(&text);
        let cleaned = cleaned.trim();
        if cleaned.is_empty() {
            return None;
        }
        // A Rust panic reads "thread '…' panicked at src/lib.rs:1:2:\nmessage": keep the message and
        // where it was raised ("message (at src/lib.rs:1:2)").
        let located;
        let message = match cleaned.rsplit_once("panicked at ") {
            Some((_, rest)) => match rest.split_once('\n') {
                Some((location, message)) if !message.trim().is_empty() => {
                    // Without Rust's "note: run with `RUST_BACKTRACE=1`…" that follows the message.
                    let message: Vec<&str> =
                        message.lines().take_while(|line| !line.trim_start().starts_with("note: ")).collect();
                    located = format!("{} (at {})", message.join(" ").trim(), location.trim().trim_end_matches(':'));
                    located.as_str()
                }
                Some((location, _)) => location,
                None => rest,
            },
            None => cleaned,
        };
        let message = message.lines().take(5).collect::<Vec<_>>().join(" ");
        Some(message.chars().take(500).collect())
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
