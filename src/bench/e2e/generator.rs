//! The load generator of `veille bench e2e`: a real HTTP server on loopback speaking the
//! X API v2 endpoints the X collector calls (stream rules `GET`/`POST`, recent search, and
//! the filtered stream as one chunked body of `\r\n`-terminated JSON objects), serving
//! posts built from real texts at a schedule of rates.
//!
//! A pacer task renders the posts that are due (rate × elapsed time) into chunks of lines;
//! the stream body hands each chunk to hyper and stamps the send time of every post in it
//! at that moment ([`Generator::sent_at`]). The chunk queue is bounded: when the collector
//! reads slower than the schedule, TCP fills, the body is polled less often, the pacer falls
//! behind and the shortfall is visible in [`Generator::written`]. Posts due but not yet
//! written are never skipped: the pacer catches up as fast as the reader allows (X keeps a
//! consumer's backlog too, up to a point).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

use super::corpus::Corpus;

/// First post id; post `n` of the run has id `ID_BASE + n`.
pub(super) const ID_BASE: u64 = 1_900_000_000_000_000_000;
/// Largest chunk handed to the body at once, in posts.
const MAX_CHUNK: u64 = 2_000;
/// Chunks queued between the pacer and the body.
const CHUNK_QUEUE: usize = 32;
/// The pacer wakes this often.
const TICK: Duration = Duration::from_millis(1);

/// One stretch of the schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Phase {
    /// Posts per second.
    pub(super) rate: f64,
    pub(super) duration: Duration,
}

impl Phase {
    pub(super) fn posts(&self) -> u64 {
        (self.rate * self.duration.as_secs_f64()).round() as u64
    }
}

/// The state shared by the server, the pacer and the measuring side.
pub(super) struct Generator {
    token: String,
    corpus: Corpus,
    /// Send time of post `n` in microseconds since `epoch` (0: not written yet).
    sent: Vec<AtomicU64>,
    epoch: Instant,
    /// Posts written to the socket so far.
    written: AtomicU64,
    /// Posts scheduled so far (due by the clock).
    scheduled: AtomicU64,
    /// The chunks, for the one stream connection at a time.
    chunks: Mutex<Option<mpsc::Receiver<Chunk>>>,
    connections: AtomicU64,
    rules: std::sync::Mutex<Vec<Value>>,
    finished: AtomicBool,
}

/// Rendered lines of posts `first..first + count`.
pub(super) struct Chunk {
    first: u64,
    count: u64,
    bytes: Bytes,
}

impl Generator {
    /// A generator able to stamp `capacity` posts.
    pub(super) fn new(
        token: String,
        corpus: Corpus,
        capacity: u64,
        epoch: Instant,
    ) -> (Arc<Generator>, mpsc::Sender<Chunk>) {
        let (sender, receiver) = mpsc::channel(CHUNK_QUEUE);
        let sent = (0..capacity).map(|_| AtomicU64::new(0)).collect();
        let generator = Arc::new(Generator {
            token,
            corpus,
            sent,
            epoch,
            written: AtomicU64::new(0),
            scheduled: AtomicU64::new(0),
            chunks: Mutex::new(Some(receiver)),
            connections: AtomicU64::new(0),
            rules: std::sync::Mutex::new(Vec::new()),
            finished: AtomicBool::new(false),
        });
        (generator, sender)
    }

    pub(super) fn corpus(&self) -> &Corpus {
        &self.corpus
    }

    /// Posts written to the socket so far.
    pub(super) fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Posts due by the schedule so far.
    pub(super) fn scheduled(&self) -> u64 {
        self.scheduled.load(Ordering::Acquire)
    }

    /// Stream connections the collector made (1 when it never reconnected).
    pub(super) fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Whether the whole schedule has been written.
    pub(super) fn finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// When post `seq` was written, if it was and is within the stamped range.
    pub(super) fn sent_at(&self, seq: u64) -> Option<Instant> {
        let micros = self
            .sent
            .get(usize::try_from(seq).ok()?)?
            .load(Ordering::Acquire);
        (micros != 0).then(|| self.epoch + Duration::from_micros(micros))
    }

    /// The run's sequence number of an X post id (`"1900..."` or `"x:1900..."`).
    pub(super) fn seq_of(post_id: &str) -> Option<u64> {
        let digits = post_id.rsplit(':').next()?;
        digits.parse::<u64>().ok()?.checked_sub(ID_BASE)
    }

    fn authorised(&self, headers: &HeaderMap) -> bool {
        headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            == Some(self.token.as_str())
    }

    fn stamp(&self, chunk: &Chunk) {
        let now = u64::try_from(self.epoch.elapsed().as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        for seq in chunk.first..chunk.first + chunk.count {
            if let Some(slot) = usize::try_from(seq).ok().and_then(|i| self.sent.get(i)) {
                slot.store(now, Ordering::Release);
            }
        }
        self.written.fetch_add(chunk.count, Ordering::AcqRel);
    }
}

fn unauthorised() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"title": "Unauthorized", "status": 401})),
    )
        .into_response()
}

async fn get_rules(State(generator): State<Arc<Generator>>, headers: HeaderMap) -> Response {
    if !generator.authorised(&headers) {
        return unauthorised();
    }
    let rules = generator
        .rules
        .lock()
        .map(|rules| rules.clone())
        .unwrap_or_default();
    Json(json!({"data": rules, "meta": {"result_count": rules.len()}})).into_response()
}

async fn post_rules(
    State(generator): State<Arc<Generator>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !generator.authorised(&headers) {
        return unauthorised();
    }
    let Ok(mut rules) = generator.rules.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Some(ids) = body.pointer("/delete/ids").and_then(Value::as_array) {
        rules.retain(|rule| !ids.contains(&rule["id"]));
    }
    let mut created = 0;
    if let Some(add) = body["add"].as_array() {
        for rule in add {
            let mut rule = rule.clone();
            rule["id"] = json!(format!("{}", 1_000 + rules.len()));
            rules.push(rule);
            created += 1;
        }
    }
    Json(json!({"meta": {"summary": {"created": created, "not_created": 0}}})).into_response()
}

/// Recent search: the bench starts from an empty data directory, so the collector only
/// calls it after a reconnect; the generator keeps no history and answers an empty page
/// (a reconnect is reported, since posts in flight would then be lost upstream).
async fn recent_search(State(generator): State<Arc<Generator>>, headers: HeaderMap) -> Response {
    if !generator.authorised(&headers) {
        return unauthorised();
    }
    Json(json!({"meta": {"result_count": 0}})).into_response()
}

async fn stream(State(generator): State<Arc<Generator>>, headers: HeaderMap) -> Response {
    if !generator.authorised(&headers) {
        return unauthorised();
    }
    generator.connections.fetch_add(1, Ordering::Relaxed);
    // One consumer at a time: a second connection waits for the chunks (X would refuse it
    // with TooManyConnections; the collector only reconnects after dropping the first).
    let Some(chunks) = generator.chunks.lock().await.take() else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"title": "ConnectionException", "connection_issue": "TooManyConnections"})),
        )
            .into_response();
    };
    let stream =
        futures::stream::unfold((generator, chunks), |(generator, mut chunks)| async move {
            let chunk = chunks.recv().await?;
            generator.stamp(&chunk);
            Some((
                Ok::<Bytes, std::io::Error>(chunk.bytes),
                (generator, chunks),
            ))
        });
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Serves the X API on `listener` until `stop`.
pub(super) async fn serve(
    generator: Arc<Generator>,
    listener: tokio::net::TcpListener,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let app = axum::Router::new()
        .route(
            "/2/tweets/search/stream/rules",
            get(get_rules).post(post_rules),
        )
        .route("/2/tweets/search/stream", get(stream))
        .route("/2/tweets/search/recent", get(recent_search))
        .with_state(generator);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
        .context("the X API server failed")
}

/// Renders and queues the posts of every phase on schedule, then keeps the body alive.
/// `phase_started` is told the sequence number each phase starts at; a phase marked
/// skippable is left out once `skip` is set.
pub(super) async fn pace(
    generator: Arc<Generator>,
    out: mpsc::Sender<Chunk>,
    phases: Vec<(Phase, bool)>,
    phase_started: mpsc::UnboundedSender<(usize, u64, Instant)>,
    skip: Arc<AtomicBool>,
) {
    let mut next_seq: u64 = 0;
    let mut line = Vec::with_capacity(1024);
    for (index, (phase, skippable)) in phases.iter().enumerate() {
        if *skippable && skip.load(Ordering::Acquire) {
            continue;
        }
        let start = Instant::now();
        let _ = phase_started.send((index, next_seq, start));
        let total = phase.posts();
        let mut queued: u64 = 0;
        while queued < total {
            let elapsed = start.elapsed().as_secs_f64();
            let due = ((phase.rate * elapsed) as u64).min(total);
            generator
                .scheduled
                .store(next_seq + (due - queued.min(due)), Ordering::Release);
            while queued < due {
                let count = (due - queued).min(MAX_CHUNK);
                let mut bytes = Vec::with_capacity(usize::try_from(count).unwrap_or(0) * 420);
                let now = chrono::Utc::now();
                let created_at = now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
                for seq in next_seq..next_seq + count {
                    line.clear();
                    generator.corpus.render(seq, &created_at, &mut line);
                    bytes.extend_from_slice(&line);
                }
                let chunk = Chunk {
                    first: next_seq,
                    count,
                    bytes: Bytes::from(bytes),
                };
                if out.send(chunk).await.is_err() {
                    return;
                }
                next_seq += count;
                queued += count;
            }
            tokio::time::sleep(TICK).await;
        }
    }
    generator.scheduled.store(next_seq, Ordering::Release);
    // Keep-alive so the collector's idle timeout never fires while the bench measures.
    let _ = out
        .send(Chunk {
            first: next_seq,
            count: 0,
            bytes: Bytes::from_static(b"\r\n"),
        })
        .await;
    generator.finished.store(true, Ordering::Release);
    // Hold the body open (keep-alives every 10 s) until the bench stops the server.
    loop {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let keep_alive = Chunk {
            first: next_seq,
            count: 0,
            bytes: Bytes::from_static(b"\r\n"),
        };
        if out.send(keep_alive).await.is_err() {
            return;
        }
    }
}
