//! Live sources built from the config and run by the pipeline: a feed collector against a
//! local HTTP server serving the fixture blog, its counters on `/api/health` and
//! `/metrics`; and a clear refusal when a credential variable is missing.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use veille::config;
use veille::pipeline;

use crate::util::{get_json, wait_until, workspace_root};

const DEADLINE: Duration = Duration::from_secs(60);

/// A minimal HTTP/1.1 server answering every request with `body` as RSS.
async fn serve_feed(body: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = vec![0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/rss+xml\r\ncontent-length: {}\r\netag: \"blog-1\"\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
            });
        }
    });
    format!("http://{address}/feed.xml")
}

/// The sample config with its sources replaced by `sources`.
fn write_config(dir: &Path, sources: &str) -> std::path::PathBuf {
    let sample = std::fs::read_to_string(workspace_root().join("fixtures/veille.toml"))
        .expect("sample config");
    let head = sample.split("[[sources]]").next().expect("a head");
    let mut text = String::new();
    for line in head.lines() {
        let line = if line.starts_with("data-dir") {
            format!("data-dir = {:?}", dir.join("data").display().to_string())
        } else if line.starts_with("listen") {
            "listen = \"127.0.0.1:0\"".to_owned()
        } else {
            line.to_owned()
        };
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str(sources);
    let path = dir.join("veille.toml");
    std::fs::write(&path, text).expect("config written");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_source_runs_from_the_config_and_reports_its_counters() {
    let blog = std::fs::read_to_string(workspace_root().join("fixtures/posts/feed/lumio-blog.xml"))
        .expect("fixture");
    let url = serve_feed(blog).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_config(
        dir.path(),
        &format!(
            "[[sources]]\nname = \"blogs\"\nkind = \"feed\"\nurls = [{url:?}]\npoll-secs = 1\n"
        ),
    );
    let config = config::load_file(&path).unwrap_or_else(|errors| panic!("{errors}"));
    let running = pipeline::start(&config, config.listen)
        .await
        .expect("the pipeline starts");
    wait_until(
        "the blog's items handed on and polled again",
        DEADLINE,
        || async {
            let health = get_json(running.address, "/api/health", None).await;
            let source = &health["stages"]["sources"]["blogs"];
            source["posts"].as_u64() == Some(6)
                && source["received"].as_u64() == Some(6)
                && health["stages"]["index"]["searchable"]
                    .as_u64()
                    .unwrap_or(0)
                    > 0
        },
    )
    .await;
    // Polled again (same body): nothing handed on twice.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let health = get_json(running.address, "/api/health", None).await;
    let source = &health["stages"]["sources"]["blogs"];
    assert_eq!(source["kind"], "feed");
    assert_eq!(source["posts"], 6, "{source}");
    assert_eq!(source["stalled"], false);

    let response = reqwest::get(format!("http://{}/metrics", running.address))
        .await
        .expect("metrics");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("text");
    assert!(
        text.contains("veille_source_emitted_total{source=\"feed\",name=\"blogs\"} 6"),
        "{text}"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn a_missing_credential_variable_stops_the_start_with_its_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_config(
        dir.path(),
        "[[sources]]\nname = \"x\"\nkind = \"x\"\nbase-url = \"http://127.0.0.1:1\"\nbearer-token-env = \"VEILLE_TEST_UNSET_X_TOKEN\"\n",
    );
    let config = config::load_file(&path).unwrap_or_else(|errors| panic!("{errors}"));
    let error = match pipeline::start(&config, config.listen).await {
        Ok(_) => panic!("started without its credential"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("VEILLE_TEST_UNSET_X_TOKEN"), "{error}");
}
