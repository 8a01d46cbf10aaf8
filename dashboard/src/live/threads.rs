//! The thread dashboard sockets run on: a runtime of their own, started with the first
//! socket.
//!
//! Pushing every event to every socket is work that grows with the number of dashboards
//! (1,000 sockets × 600 events/s is 600,000 messages a second). On the runtime the
//! pipeline uses, those socket tasks would sit in the same run queues as the collector,
//! alert and index tasks, and delay them behind a thousand others. Here they get one
//! thread: the pipeline keeps its threads and the operating system shares the cores;
//! when that thread falls behind, the sockets lag (and say so) instead of the pipeline.
//!
//! A socket's connection still belongs to the server's runtime (its I/O driver wakes the
//! socket's task here), so this runtime needs only timers.

use tokio::runtime::{Builder, Handle, Runtime};

/// Name of the sockets' thread (as `top -H` and profilers show it).
const THREAD_NAME: &str = "veille-live";

/// The sockets' runtime; it stops, without waiting, when dropped (also from async code).
#[derive(Debug)]
pub(crate) struct SocketThread {
    runtime: Option<Runtime>,
}

impl SocketThread {
    /// Starts the runtime and its one worker thread.
    pub(crate) fn start() -> std::io::Result<SocketThread> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(THREAD_NAME)
            .enable_time()
            .build()?;
        Ok(SocketThread {
            runtime: Some(runtime),
        })
    }

    pub(crate) fn handle(&self) -> Option<&Handle> {
        self.runtime.as_ref().map(Runtime::handle)
    }
}

impl Drop for SocketThread {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
