//! Running a fake: bind, serve until stopped, and report the base URL. A server runs either on the
//! caller's tokio runtime or on a thread of its own (for tests that drive the `max` binary).

use std::net::SocketAddr;

use axum::Router;
use tokio::sync::oneshot;

/// A fake server that stops when dropped.
#[derive(Debug)]
pub struct RunningServer {
    base_url: String,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningServer {
    /// Serves `router` on `listen` in the current tokio runtime.
    pub async fn start(router: Router, listen: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(RunningServer { base_url: format!("http://{addr}"), addr, stop: Some(stop), thread: None })
    }

    /// Serves the router `make` builds on `listen`, on a thread with its own runtime.
    pub fn spawn(make: impl FnOnce() -> Router + Send + 'static, listen: SocketAddr) -> std::io::Result<Self> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("fake-saas".to_string()).spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = ready_tx.send(Err(error));
                    return;
                }
            };
            runtime.block_on(async move {
                match RunningServer::start(make(), listen).await {
                    Ok(server) => {
                        let _ = ready_tx.send(Ok(server.addr));
                        // Resolves when the owner stops or drops the handle.
                        let _ = stop_rx.await;
                        drop(server);
                    }
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                    }
                }
            });
        })?;
        let addr = ready_rx.recv().map_err(|_| std::io::Error::other("the fake server thread died"))??;
        Ok(RunningServer { base_url: format!("http://{addr}"), addr, stop: Some(stop_tx), thread: Some(thread) })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // A thread-hosted server shuts down on the signal above; its thread is not joined so that a
        // client still holding a connection can't make the drop hang.
        drop(self.thread.take());
    }
}
