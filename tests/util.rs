//! Helpers shared by the end-to-end tests: a test config on the fixtures, polling with
//! generous deadlines, an HTTP getter and a WebSocket client that records what it receives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;

/// The workspace root.
pub(crate) fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The real data sets (`../shared/data` beside the workspace), or `None` with a printed
/// reason when they are absent; absent under `CI=true` is a failure.
pub(crate) fn shared_data() -> Option<PathBuf> {
    let data = workspace_root().join("../shared/data");
    if data.is_dir() {
        return Some(data);
    }
    let reason = format!("{} is absent", data.display());
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {reason}"
    );
    println!("skipped: {reason}");
    None
}

/// Writes a config based on the sample, with the data directory in `dir`, a replay of the
/// fixture files that does not loop, paced at `speedup`, and the dashboard on port 0.
pub(crate) fn write_test_config(dir: &Path, speedup: &str) -> PathBuf {
    let sample = std::fs::read_to_string(workspace_root().join("fixtures/veille.toml"))
        .expect("the sample config is readable");
    let posts_dir = workspace_root().join("fixtures/posts");
    let data_dir = dir.join("data");
    let mut text = String::new();
    for line in sample.lines() {
        let replaced = if line.starts_with("data-dir") {
            format!("data-dir = {:?}", data_dir.display().to_string())
        } else if line.starts_with("listen") {
            "listen = \"127.0.0.1:0\"".to_string()
        } else if line.starts_with("dir = ") {
            format!("dir = {:?}", posts_dir.display().to_string())
        } else if line.starts_with("speedup") {
            format!("speedup = {speedup}")
        } else if line.starts_with("loop") {
            "loop = false".to_string()
        } else {
            line.to_string()
        };
        text.push_str(&replaced);
        text.push('\n');
    }
    let path = dir.join("veille.toml");
    std::fs::write(&path, text).expect("the test config is writable");
    path
}

/// Polls `condition` every 50 ms until it holds; panics with `what` after `deadline`.
pub(crate) async fn wait_until<F, Fut>(what: &str, deadline: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = tokio::time::Instant::now();
    loop {
        if condition().await {
            return;
        }
        assert!(started.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Password of the accounts [`create_accounts`] makes.
pub(crate) const PASSWORD: &str = "end-to-end password";

/// Creates accounts in the store of `data_dir` (before the pipeline opens it).
pub(crate) fn create_accounts(data_dir: &Path, names: &[&str]) {
    let store = index::Store::open(&data_dir.join("state.redb")).expect("store opens");
    let users = dashboard::auth::UserStore::new(store);
    for name in names {
        users.add(name, PASSWORD, &[]).expect("account created");
    }
}

/// Signs in through `POST /api/login`; the `Cookie` header value of the session.
pub(crate) async fn sign_in(address: std::net::SocketAddr, name: &str) -> String {
    let url = format!("http://{address}/api/login");
    let response = reqwest::Client::new()
        .post(&url)
        .json(&serde_json::json!({"name": name, "password": PASSWORD}))
        .send()
        .await
        .unwrap_or_else(|error| panic!("POST {url}: {error}"));
    assert!(
        response.status().is_success(),
        "sign in as {name}: {}",
        response.status()
    );
    let cookie = response
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .expect("a session cookie");
    cookie.split(';').next().expect("name=value").to_string()
}

/// GETs a JSON document from the dashboard, signed in with `cookie` (or not).
pub(crate) async fn get_json(
    address: std::net::SocketAddr,
    path_and_query: &str,
    cookie: Option<&str>,
) -> Value {
    let url = format!("http://{address}{path_and_query}");
    let mut request = reqwest::Client::new().get(&url);
    if let Some(cookie) = cookie {
        request = request.header(reqwest::header::COOKIE, cookie);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET {url}: {error}"));
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    response
        .json()
        .await
        .unwrap_or_else(|error| panic!("GET {url}: not JSON: {error}"))
}

/// A WebSocket client that records every JSON message it receives.
pub(crate) struct LiveClient {
    pub(crate) messages: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl LiveClient {
    pub(crate) async fn connect(
        address: std::net::SocketAddr,
        team: &str,
        cookie: &str,
    ) -> LiveClient {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("ws://{address}/ws?team={team}");
        let mut request = url
            .as_str()
            .into_client_request()
            .expect("a websocket request");
        request
            .headers_mut()
            .insert("cookie", cookie.parse().expect("a valid cookie header"));
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .unwrap_or_else(|error| panic!("connect {url}: {error}"));
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&messages);
        let task = tokio::spawn(async move {
            let (_write, mut read) = socket.split();
            while let Some(Ok(message)) = read.next().await {
                if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                    let value: Value = serde_json::from_str(&text).expect("server sends JSON");
                    sink.lock().expect("no poisoning").push(value);
                }
            }
        });
        LiveClient { messages, task }
    }

    /// Alerts received so far: alert id → team.
    pub(crate) fn alerts(&self) -> BTreeMap<String, String> {
        let messages = self.messages.lock().expect("no poisoning");
        messages
            .iter()
            .filter(|message| message["type"] == "alert")
            .map(|message| {
                let id = message["id"].as_str().expect("alert id").to_string();
                let team = message["team"].as_str().expect("alert team").to_string();
                (id, team)
            })
            .collect()
    }

    pub(crate) fn count_of_type(&self, kind: &str) -> usize {
        let messages = self.messages.lock().expect("no poisoning");
        messages
            .iter()
            .filter(|message| message["type"] == kind)
            .count()
    }
}

impl Drop for LiveClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}
