//! The dashboard in a real headless Chromium (Debian's `chromium` and `chromium-driver`),
//! driven through WebDriver (fantoccini talking to a `chromedriver` this test starts on a
//! free local port), over the whole pipeline replaying fixture posts.
//!
//! One scenario, run as one test (browser tests run one at a time): a customer-service
//! member signs in and sees a negative fixture post arrive live as an alert, acknowledges
//! it, and a second session of the same team sees the change; a marketing member never sees
//! that alert; the fixture post holding `<script>` and `onerror` shows as text and runs
//! nothing. A screenshot of the inbox is saved under the target folder on every run.
//!
//! Without chromium or chromedriver the test is skipped with a reason, except under
//! `CI=true`, where it fails.

#[allow(dead_code, unreachable_pub)]
#[path = "util.rs"]
mod util;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use veille::config;
use veille::pipeline;

use util::{PASSWORD, create_accounts, wait_until, workspace_root, write_test_config};

const DEADLINE: Duration = Duration::from_secs(90);

/// Line numbers (1-based) in `fixtures/posts/x/stream.jsonl`.
const HOSTILE_LINE: usize = 16;
const NEGATIVE_LINE: usize = 1;
const FILLERS: usize = 12;

fn tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    })
}

/// Kills chromedriver when the test ends, however it ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn fixture_line(number: usize) -> Value {
    let text = std::fs::read_to_string(workspace_root().join("fixtures/posts/x/stream.jsonl"))
        .expect("fixture stream");
    let line = text.lines().nth(number - 1).expect("fixture line");
    serde_json::from_str(line.trim()).expect("fixture line is JSON")
}

fn restamp(mut object: Value, id: &str, time: &str) -> String {
    object["data"]["id"] = json!(id);
    object["data"]["conversation_id"] = json!(id);
    object["data"]["edit_history_tweet_ids"] = json!([id]);
    object["data"]["created_at"] = json!(time);
    format!("{object}\r\n")
}

/// A stream of: the hostile post, a fan's post, off-topic fillers 10 s apart (replayed
/// 2 s apart at most), then the negative outage post, so it arrives after sign-in.
fn write_stream(dir: &Path) -> String {
    let folder = dir.join("posts/x");
    std::fs::create_dir_all(&folder).expect("stream folder");
    let mut stream = String::new();
    stream.push_str(&restamp(
        fixture_line(HOSTILE_LINE),
        "9000000000000000001",
        "2026-11-20T09:00:00.000Z",
    ));
    let mut fan = fixture_line(NEGATIVE_LINE);
    fan["data"]["text"] =
        json!("Lumio fibre is amazing, fastest internet I ever had. Love it, thank you Lumio!");
    stream.push_str(&restamp(
        fan,
        "9000000000000000002",
        "2026-11-20T09:00:05.000Z",
    ));
    for number in 0..FILLERS {
        let mut filler = fixture_line(NEGATIVE_LINE);
        filler["data"]["text"] = json!("Sourdough starter question: how often do you feed it?");
        let time = format!("2026-11-20T09:0{}:{}0.000Z", 1 + number / 6, number % 6);
        stream.push_str(&restamp(
            filler,
            &format!("90000000000000001{number:02}"),
            &time,
        ));
    }
    let negative_id = "9000000000000000999";
    stream.push_str(&restamp(
        fixture_line(NEGATIVE_LINE),
        negative_id,
        "2026-11-20T09:05:00.000Z",
    ));
    std::fs::write(folder.join("stream.jsonl"), stream).expect("stream written");
    format!("x:{negative_id}")
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let dir = target.join("browser");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

async fn browser(driver_port: u16, profile: &Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-quic", "--no-first-run",
                "--window-size=1440,1000",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a chromium session")
}

async fn sign_in(client: &Client, address: std::net::SocketAddr, name: &str) {
    client
        .goto(&format!("http://{address}/"))
        .await
        .expect("open the page");
    let url = client.current_url().await.expect("url");
    assert_eq!(
        url.path(),
        "/login",
        "an anonymous visit is sent to the sign-in page"
    );
    client
        .find(Locator::Id("login-name"))
        .await
        .expect("name")
        .send_keys(name)
        .await
        .expect("type");
    client
        .find(Locator::Id("login-password"))
        .await
        .expect("password")
        .send_keys(PASSWORD)
        .await
        .expect("type");
    click(client, Locator::Id("login-submit"), "submit").await;
    wait_until(
        &format!("{name}'s dashboard to be live"),
        DEADLINE,
        || async {
            let status = client.find(Locator::Id("connection")).await;
            match status {
                Ok(status) => status.text().await.is_ok_and(|text| text == "live"),
                Err(_) => false,
            }
        },
    )
    .await;
}

/// `document.querySelector(css)`'s text, or null.
/// Clicks the element `locator` finds (`what` names it when it is missing).
async fn click(client: &Client, locator: Locator<'_>, what: &str) {
    client
        .find(locator)
        .await
        .unwrap_or_else(|error| panic!("{what}: {error}"))
        .click()
        .await
        .expect("click");
}

async fn text_of(client: &Client, css: &str) -> Value {
    client
        .execute(
            "const node = document.querySelector(arguments[0]); return node ? node.textContent : null;",
            vec![json!(css)],
        )
        .await
        .expect("script runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_work_their_inbox_live_in_a_real_browser() {
    let (Some(_), Some(chromedriver)) = (tool("chromium"), tool("chromedriver")) else {
        let reason =
            "chromium or chromedriver is not installed (apt-get install chromium chromium-driver)";
        if std::env::var("CI").is_ok_and(|value| value == "true") {
            panic!("{reason}");
        }
        eprintln!("skipped: {reason}");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let negative_post = write_stream(dir.path());
    let config_path = write_test_config(dir.path(), "1.0");
    let text = std::fs::read_to_string(&config_path).expect("config");
    let posts_dir = dir.path().join("posts");
    let text = text
        .lines()
        .map(|line| {
            if line.starts_with("dir = ") {
                format!("dir = {:?}", posts_dir.display().to_string())
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&config_path, text).expect("config written");
    let config = config::load_file(&config_path).unwrap_or_else(|errors| panic!("{errors}"));
    create_accounts(&config.data_dir, &["camille", "sam", "lea", "morgan"]);

    // chromedriver on a free port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let _driver = Driver(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    wait_until("chromedriver to listen", DEADLINE, || async {
        reqwest::get(format!("http://127.0.0.1:{port}/status"))
            .await
            .is_ok()
    })
    .await;

    let running = pipeline::start(&config, config.listen)
        .await
        .expect("pipeline starts");
    let address = running.address;
    let alert_id = format!("unhappy-outage-or-billing:{negative_post}");
    let alert_css = format!("#alerts li[data-alert-id=\"{alert_id}\"]");

    let camille = browser(port, &dir.path().join("profile-camille")).await;
    let sam = browser(port, &dir.path().join("profile-sam")).await;
    let lea = browser(port, &dir.path().join("profile-lea")).await;
    sign_in(&camille, address, "camille").await;
    assert!(
        text_of(&camille, &alert_css).await.is_null(),
        "the negative post was replayed before sign-in: slow the replay down"
    );
    sign_in(&sam, address, "sam").await;
    sign_in(&lea, address, "lea").await;

    // The negative post arrives live as an alert in the customer-service inbox.
    wait_until(
        "the negative post's alert in camille's inbox",
        DEADLINE,
        || async { !text_of(&camille, &alert_css).await.is_null() },
    )
    .await;
    let shots = screenshot_dir();
    let png = camille.screenshot().await.expect("screenshot");
    std::fs::write(shots.join("inbox.png"), png).expect("screenshot saved");

    // Camille acknowledges it; Sam's session sees the change.
    click(
        &camille,
        Locator::Css(&format!("{alert_css} button.ack")),
        "an acknowledge button",
    )
    .await;
    let status_css = format!("{alert_css} .status-chip");
    wait_until("sam to see the alert acknowledged", DEADLINE, || async {
        text_of(&sam, &status_css).await == json!("acknowledged")
    })
    .await;
    let history = text_of(&sam, &format!("{alert_css} .history")).await;
    assert!(
        history
            .as_str()
            .is_some_and(|text| text.contains("acknowledged by camille")),
        "{history}"
    );
    let png = sam.screenshot().await.expect("screenshot");
    std::fs::write(shots.join("inbox-second-session.png"), png).expect("screenshot saved");

    // Camille opens the post and corrects its sentiment; the status panel's accuracy on
    // corrected posts counts it (the analysis had said negative: 0 right of 1).
    click(
        &camille,
        Locator::Css(&format!("{alert_css} p.text")),
        "the alert's text",
    )
    .await;
    camille
        .execute(
            "document.getElementById('relabel-axis').value = 'sentiment';\
             document.getElementById('relabel-axis').dispatchEvent(new Event('change'));\
             document.getElementById('relabel-label').value = 'neutral';",
            vec![],
        )
        .await
        .expect("script runs");
    click(
        &camille,
        Locator::Css("#relabel-form button[type=submit]"),
        "the save button",
    )
    .await;
    wait_until("the correction to be saved", DEADLINE, || async {
        text_of(&camille, "#relabel-result")
            .await
            .as_str()
            .is_some_and(|text| text.starts_with("Saved"))
    })
    .await;
    wait_until("the accuracy table to count it", DEADLINE, || async {
        text_of(&camille, "#label-accuracy")
            .await
            .as_str()
            .is_some_and(|text| text.contains("sentiment") && text.contains("0.0 %"))
    })
    .await;
    let png = camille.screenshot().await.expect("screenshot");
    std::fs::write(shots.join("relabel.png"), png).expect("screenshot saved");
    click(&camille, Locator::Id("detail-close"), "close button").await;

    // Marketing never sees it, but does see its own fan alert.
    wait_until("lea's fan alert", DEADLINE, || async {
        !text_of(&lea, "#alerts li[data-alert-id^=\"fans:\"]")
            .await
            .is_null()
    })
    .await;
    let lea_page = text_of(&lea, "body").await;
    assert!(
        text_of(&lea, &alert_css).await.is_null(),
        "a marketing member sees a customer-service alert"
    );
    assert!(
        !lea_page
            .as_str()
            .unwrap_or("")
            .contains("Router lights all red"),
        "nor its post"
    );
    let png = lea.screenshot().await.expect("screenshot");
    std::fs::write(shots.join("inbox-marketing.png"), png).expect("screenshot saved");

    // A manager's page lists every post (search results, live feed): the hostile post is
    // shown as text and ran nothing.
    let morgan = browser(port, &dir.path().join("profile-morgan")).await;
    sign_in(&morgan, address, "morgan").await;
    let hostile_text = "<script>alert(1)</script> <img src=x onerror=alert(1)>";
    wait_until(
        "the hostile post in the manager's search results",
        DEADLINE,
        || async {
            text_of(&morgan, "#results")
                .await
                .as_str()
                .is_some_and(|text| text.contains(hostile_text))
        },
    )
    .await;
    let made = morgan
        .execute(
            "return [document.scripts.length, document.images.length, \
             document.querySelectorAll('[onerror]').length];",
            vec![],
        )
        .await
        .expect("script runs");
    assert_eq!(
        made,
        json!([2, 0, 0]),
        "only app.js and influence.js; no element was made from post text"
    );
    assert!(
        morgan.get_alert_text().await.is_err(),
        "no alert() dialog opened"
    );
    let png = morgan.screenshot().await.expect("screenshot");
    std::fs::write(shots.join("manager.png"), png).expect("screenshot saved");

    for client in [camille, sam, lea, morgan] {
        let _ = client.close().await;
    }
    running.shutdown().await;
}
