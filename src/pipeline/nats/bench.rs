//! `veille bench nats`: throughput of the roles over a real `nats-server`, started here on a
//! free loopback port with a temporary store.
//!
//! For each worker count asked: a fresh server; `posts` raw posts (the built-in fixtures,
//! repeated with fresh ids) published and acknowledged (the collect figure); then that many
//! analyse workers started in this process, each with its own connection, timed until the
//! `analyse` consumer has nothing pending or unacknowledged (the analyse figure); then the
//! index role, timed until the `index` consumer is drained, its commits included (the
//! stateful-node figure); then again with no routing rule, on a fresh data directory and a
//! fresh `index` consumer, to separate the index writer from the alert log (the fixtures
//! raise about one alert per post, each a durable store write). Each figure is messages
//! per second of wall-clock time.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream;
use collector::{PostId, Replay, ReplayConfig, Source, SourceStats};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::local_server::LocalNatsServer;
use super::{
    ANALYSE_CONSUMER, ANALYSED_STREAM, INDEX_CONSUMER, Outgoing, RAW_STREAM, analyse, connect,
    ensure_topology, index, post_message_id, publish_acknowledged, raw_subject,
};
use crate::config::Config;
use crate::fixtures;

/// Posts published per round of acknowledgements.
const PUBLISH_CHUNK: usize = 2_000;
/// The longest a stage may take to drain before the bench gives up.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1800);

/// Figures of one run, in posts per second.
#[derive(Debug, Clone)]
pub struct BenchFigures {
    pub workers: usize,
    pub posts: usize,
    pub collect_per_s: f64,
    pub analyse_per_s: f64,
    /// Analysed messages (relevant posts and deletions) the index node received.
    pub analysed: u64,
    pub index_per_s: f64,
    /// The same without routing rules (no alert raised).
    pub index_no_alerts_per_s: f64,
}

/// Runs the bench once per entry of `workers`. `config` gives the NLP and rules; its data
/// directory is replaced by a temporary one.
pub async fn run(
    config: &Config,
    posts: usize,
    workers: &[usize],
) -> anyhow::Result<Vec<BenchFigures>> {
    let sample = fixture_posts().await?;
    let mut figures = Vec::with_capacity(workers.len());
    for &count in workers {
        let store = tempfile::tempdir().context("cannot create a temporary directory")?;
        let data = tempfile::tempdir().context("cannot create a temporary directory")?;
        let server = LocalNatsServer::start(store.path()).await?;
        let mut config = config.clone();
        config.data_dir = data.path().to_path_buf();
        config.index_dir = config.data_dir.join("index");
        figures.push(run_once(&config, &server.url(), &sample, posts, count).await?);
        drop(server);
    }
    Ok(figures)
}

async fn run_once(
    config: &Config,
    url: &str,
    sample: &[collector::Post],
    posts: usize,
    workers: usize,
) -> anyhow::Result<BenchFigures> {
    let js = connect(url).await?;
    ensure_topology(&js).await?;
    let never = CancellationToken::new();
    let subject = raw_subject("bench");

    let started = Instant::now();
    let mut chunk = Vec::with_capacity(PUBLISH_CHUNK);
    for i in 0..posts {
        let Some(template) = sample.get(i % sample.len()) else {
            break;
        };
        let mut post = template.clone();
        post.id = PostId::from_raw(format!("{}~{i}", template.id));
        chunk.push(Outgoing {
            subject: subject.clone(),
            id: post_message_id(&post),
            payload: serde_json::to_vec(&post)?.into(),
        });
        if chunk.len() == PUBLISH_CHUNK || i + 1 == posts {
            publish_acknowledged(&js, std::mem::take(&mut chunk), None, &never).await;
        }
    }
    let collect_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut roles = Vec::with_capacity(workers);
    for worker in 0..workers {
        let worker_js = connect(url).await?;
        roles.push(analyse::start(config, worker_js, &format!("bench-{worker}")).await?);
    }
    wait_drained(&js, RAW_STREAM, ANALYSE_CONSUMER).await?;
    let analyse_s = started.elapsed().as_secs_f64();
    for role in roles {
        role.shutdown().await;
    }

    let analysed = js
        .get_stream(ANALYSED_STREAM)
        .await?
        .get_info()
        .await?
        .state
        .messages;
    let started = Instant::now();
    let index_role = index::start(config, js.clone(), super::open_store(config)?).await?;
    wait_drained(&js, ANALYSED_STREAM, INDEX_CONSUMER).await?;
    let index_s = started.elapsed().as_secs_f64();
    index_role.shutdown().await;

    js.get_stream(ANALYSED_STREAM)
        .await?
        .delete_consumer(INDEX_CONSUMER)
        .await?;
    let fresh_data = tempfile::tempdir().context("cannot create a temporary directory")?;
    let mut quiet = config.clone();
    quiet.rules.clear();
    quiet.data_dir = fresh_data.path().to_path_buf();
    quiet.index_dir = quiet.data_dir.join("index");
    let started = Instant::now();
    let index_role = index::start(&quiet, js.clone(), super::open_store(&quiet)?).await?;
    wait_drained(&js, ANALYSED_STREAM, INDEX_CONSUMER).await?;
    let index_no_alerts_s = started.elapsed().as_secs_f64();
    index_role.shutdown().await;

    Ok(BenchFigures {
        workers,
        posts,
        collect_per_s: posts as f64 / collect_s,
        analyse_per_s: posts as f64 / analyse_s,
        analysed,
        index_per_s: analysed as f64 / index_s,
        index_no_alerts_per_s: analysed as f64 / index_no_alerts_s,
    })
}

/// Waits until the durable consumer exists and has nothing pending or unacknowledged.
async fn wait_drained(js: &jetstream::Context, stream: &str, consumer: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let stream_handle = js.get_stream(stream).await?;
        if let Ok(info) = stream_handle.consumer_info(consumer).await
            && info.num_pending == 0
            && info.num_ack_pending == 0
        {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < DRAIN_TIMEOUT,
            "consumer {consumer} not drained after {DRAIN_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The built-in fixture posts, decoded once.
async fn fixture_posts() -> anyhow::Result<Vec<collector::Post>> {
    let config = ReplayConfig {
        name: "bench".into(),
        files: fixtures::replay_files(),
        speedup: None,
        loop_forever: false,
        batch_size: 1000,
    };
    let mut replay = Replay::new(config, None, Arc::new(SourceStats::default()))?;
    let mut posts = Vec::new();
    while let Some(batch) = replay.next_batch().await? {
        posts.extend(batch.posts);
    }
    anyhow::ensure!(!posts.is_empty(), "the fixtures hold no post");
    Ok(posts)
}
