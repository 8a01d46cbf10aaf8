//! The dashboard clients of `veille bench e2e`: WebSocket connections to `/ws?team=NAME`
//! signed in with an API token.
//!
//! * the **probe** reads every message at once and, for each `alert`, records the time
//!   from the moment its post was written on the X socket ([`Generator::sent_at`]) to the
//!   moment the alert arrived: the post→alert latency;
//! * **fast** clients read every message and count them (and the `lagged` notices);
//! * **slow** clients read one message every `slow_pause`, deliberately far behind: the
//!   server must drop their oldest events (a `lagged` notice) rather than buffer them, and
//!   the pipeline must not slow down for them.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;

use super::generator::Generator;

/// Read buffer of a client socket. The codec zeroes its whole read buffer before every
/// read, so the 128 KiB default costs the machine the pipeline runs on far more than the
/// messages themselves (they are 1–2 KB); a larger message still arrives whole.
const READ_BUFFER: usize = 16 * 1024;

/// What the clients saw.
#[derive(Debug, Default)]
pub(super) struct ClientStats {
    pub(super) connected: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) messages: AtomicU64,
    pub(super) alerts: AtomicU64,
    pub(super) lagged_notices: AtomicU64,
    pub(super) lagged_missed: AtomicU64,
    pub(super) slow_messages: AtomicU64,
    pub(super) slow_lagged_notices: AtomicU64,
    pub(super) closed_by_server: AtomicU64,
    /// (post sequence number, microseconds from send to alert), from the probe.
    pub(super) latencies: Mutex<Vec<(u64, u64)>>,
}

/// How a client reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pace {
    Probe,
    Fast,
    Slow(Duration),
}

/// Opens one socket; returns once it received `hello`, with the task reading it.
pub(super) async fn connect(
    address: std::net::SocketAddr,
    token: &str,
    team: &str,
    pace: Pace,
    generator: Arc<Generator>,
    stats: Arc<ClientStats>,
    stop: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let url = format!("ws://{address}/ws?team={team}&backlog=0");
    let mut request = url
        .as_str()
        .into_client_request()
        .context("cannot build the WebSocket request")?;
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {token}")
            .parse()
            .context("the API token is not a header value")?,
    );
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), false)
            .await
            .with_context(|| format!("cannot open {url}"))?;
    match socket.next().await {
        Some(Ok(Message::Text(text))) if text.as_str().contains(r#""type":"hello""#) => {}
        other => anyhow::bail!("expected hello on {url}, got {other:?}"),
    }
    stats.connected.fetch_add(1, Ordering::Relaxed);
    Ok(tokio::spawn(async move {
        read(socket, pace, &generator, &stats, stop).await;
    }))
}

async fn read<S>(
    mut socket: S,
    pace: Pace,
    generator: &Generator,
    stats: &ClientStats,
    stop: CancellationToken,
) where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        if let Pace::Slow(pause) = pace {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
        let message = tokio::select! {
            () = stop.cancelled() => return,
            message = socket.next() => message,
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                stats.closed_by_server.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Some(Ok(_)) => continue,
        };
        let received = Instant::now();
        let text = text.as_str();
        let lagged = text.starts_with(r#"{"type":"lagged""#);
        match pace {
            Pace::Slow(_) => {
                stats.slow_messages.fetch_add(1, Ordering::Relaxed);
                if lagged {
                    stats.slow_lagged_notices.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            Pace::Fast | Pace::Probe => {
                stats.messages.fetch_add(1, Ordering::Relaxed);
            }
        }
        if lagged {
            stats.lagged_notices.fetch_add(1, Ordering::Relaxed);
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
                let missed = value["missed"].as_u64().unwrap_or(0);
                stats.lagged_missed.fetch_add(missed, Ordering::Relaxed);
            }
            continue;
        }
        if !text.starts_with(r#"{"type":"alert","#) {
            continue;
        }
        stats.alerts.fetch_add(1, Ordering::Relaxed);
        if pace != Pace::Probe {
            continue;
        }
        let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
            continue;
        };
        let Some(seq) = value["post_id"].as_str().and_then(Generator::seq_of) else {
            continue;
        };
        if let Some(sent) = generator.sent_at(seq) {
            let micros = u64::try_from(received.saturating_duration_since(sent).as_micros())
                .unwrap_or(u64::MAX);
            if let Ok(mut latencies) = stats.latencies.lock() {
                latencies.push((seq, micros));
            }
        }
    }
}
