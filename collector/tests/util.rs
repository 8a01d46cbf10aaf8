//! Shared helpers of the collector integration tests: a local server on 127.0.0.1:0, a
//! log capture to prove credentials never reach the logs, and a runner that collects the
//! batches a source emits until a condition holds (polling with a generous deadline).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use collector::{Batch, Source, SourceStats};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Generous deadline for anything a test waits for.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

/// Serves `router` on 127.0.0.1 at a free port; returns `http://127.0.0.1:<port>`.
pub(crate) async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free local port");
    let address = listener.local_addr().expect("a bound address");
    tokio::spawn(async move {
        axum::serve(listener, router)
            .await
            .expect("the test server runs");
    });
    format!("http://{address}")
}

/// Everything logged while the guard lives (all levels, all targets, this thread).
#[derive(Clone, Default)]
pub(crate) struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub(crate) fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (logs, guard)
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer lock")).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("log buffer lock")
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A source running under `run_source`, and what it emitted so far.
pub(crate) struct Running {
    pub(crate) batches: Vec<Batch>,
    receiver: mpsc::Receiver<Batch>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), collector::CollectError>>,
}

impl Running {
    pub(crate) fn start<S: Source>(source: S, stats: Arc<SourceStats>) -> Running {
        let (sender, receiver) = mpsc::channel(64);
        let stop = CancellationToken::new();
        let task = tokio::spawn(collector::run_source(source, sender, stop.clone(), stats));
        Running {
            batches: Vec::new(),
            receiver,
            stop,
            task,
        }
    }

    /// Collects batches until `done(all batches so far)`, failing after [`DEADLINE`].
    pub(crate) async fn until(&mut self, what: &str, done: impl Fn(&[Batch]) -> bool) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while !done(&self.batches) {
            match tokio::time::timeout_at(deadline, self.receiver.recv()).await {
                Ok(Some(batch)) => self.batches.push(batch),
                Ok(None) => panic!("source stopped before: {what}"),
                Err(_) => panic!("timed out waiting for: {what}; got {:#?}", self.ids()),
            }
        }
    }

    /// Ids of the emitted posts, in order, with their change kind.
    pub(crate) fn ids(&self) -> Vec<String> {
        self.batches
            .iter()
            .flat_map(|batch| &batch.posts)
            .map(|post| match post.change {
                collector::Change::New => post.id.to_string(),
                collector::Change::Edit => format!("{} (edit)", post.id),
                collector::Change::Delete => format!("{} (delete)", post.id),
            })
            .collect()
    }

    pub(crate) fn posts(&self) -> Vec<collector::Post> {
        self.batches
            .iter()
            .flat_map(|batch| batch.posts.clone())
            .collect()
    }

    pub(crate) async fn stop(self) -> Result<(), collector::CollectError> {
        self.stop.cancel();
        self.task.await.expect("the source task does not panic")
    }
}

/// When a mock server saw a request.
pub(crate) type At = chrono::DateTime<chrono::Utc>;
