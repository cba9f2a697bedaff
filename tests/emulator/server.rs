//! A small HTTP server on 127.0.0.1 with its own thread and runtime, shut
//! down when dropped: what the metadata-service and credentials-URI fakes
//! run on.

use std::future::IntoFuture as _;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;

pub(crate) struct Background {
    addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Serves `app` on 127.0.0.1 (any free port); returns once the socket
    /// accepts connections.
    pub fn start(name: &str, app: Router) -> std::io::Result<Background> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{}", addr.port()))
            .spawn(move || serve(runtime, listener, app, stopped))?;
        Ok(Background {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves until told to stop, then gives open connections a short grace
/// period.
fn serve(
    runtime: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    app: Router,
    stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut graceful = stopped.clone();
    let mut deadline = stopped;
    runtime.block_on(async move {
        let server = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = graceful.wait_for(|stop| *stop).await;
            })
            .into_future();
        tokio::select! {
            _ = server => {}
            _ = async {
                let _ = deadline.wait_for(|stop| *stop).await;
                tokio::time::sleep(Duration::from_secs(2)).await;
            } => {}
        }
    });
    runtime.shutdown_timeout(Duration::from_millis(200));
}
