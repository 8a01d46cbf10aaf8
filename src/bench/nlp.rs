//! `veille bench nlp`: posts analysed per CPU-second of one core, through the nlp crate's
//! public API ([`Analyzer::analyse`]: tokens, relevance, language, every configured axis,
//! sentiment model, intents, privacy flags and redaction), with the brands and axes of
//! the sample configuration, on real tweets: the TweetEval and UMSAB French test texts,
//! the brand injected in a share of them (`--brand-share`, half by default) as a handle,
//! a hashtag or a name at the start, end or after the first word, so that share is
//! relevant and the rest is dropped at relevance, as a real stream is.
//!
//! Peer in the same run: scikit-learn TF-IDF + LinearSVC (sentiment, trained on the
//! TweetEval and UMSAB train splits) classifying the same texts, in one batch and one
//! post at a time (`bench/peers/sklearn_peer.py`), also per CPU-second of one core.

use std::time::Instant;

use anyhow::Context;
use clap::Args;
use collector::{Author, Post, PostId, SourceKind};
use nlp::{Analyzer, Outcome};
use serde_json::json;

use super::common::{CommonArgs, Report, epoch, progress};
use super::measure::thread_cpu_seconds;
use super::{corpus, peers};

#[derive(Debug, Clone, Args)]
pub struct NlpArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Posts in the stream (the test texts, cycled); all 13,153 by default.
    #[arg(long)]
    pub posts: Option<usize>,
    /// Share of the posts the brand is injected in (the others are not about it).
    #[arg(long, default_value_t = 0.5)]
    pub brand_share: f64,
    /// Each figure runs the stream again until this many CPU seconds have passed.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
}

impl NlpArgs {
    pub(crate) fn with(common: CommonArgs) -> NlpArgs {
        NlpArgs {
            common,
            posts: None,
            brand_share: 0.5,
            seconds: 3.0,
        }
    }
}

/// One measured figure.
struct Rate {
    posts: usize,
    cpu_seconds: f64,
    wall_seconds: f64,
}

impl Rate {
    fn per_cpu_second(&self) -> f64 {
        self.posts as f64 / self.cpu_seconds.max(1e-9)
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "posts": self.posts,
            "cpu_seconds": self.cpu_seconds,
            "wall_seconds": self.wall_seconds,
            "posts_per_cpu_second": self.per_cpu_second(),
        })
    }
}

/// Analyses `posts` again and again until `seconds` of this thread's CPU time have passed
/// (at least once). Copies of the posts are made outside the timed part.
fn measure(analyzer: &Analyzer, posts: &[Post], seconds: f64) -> Rate {
    let mut rate = Rate {
        posts: 0,
        cpu_seconds: 0.0,
        wall_seconds: 0.0,
    };
    if posts.is_empty() {
        return rate;
    }
    while rate.posts == 0 || rate.cpu_seconds < seconds {
        let batch = posts.to_vec();
        let started = Instant::now();
        let cpu_before = thread_cpu_seconds();
        for post in batch {
            std::hint::black_box(analyzer.analyse(post));
        }
        let wall = started.elapsed().as_secs_f64();
        rate.cpu_seconds += match (cpu_before, thread_cpu_seconds()) {
            (Some(before), Some(after)) if after > before => after - before,
            _ => wall,
        };
        rate.wall_seconds += wall;
        rate.posts += posts.len();
    }
    rate
}

fn post(index: usize, text: String) -> Post {
    let at = epoch() + chrono::Duration::seconds(index as i64);
    Post {
        id: PostId::new(SourceKind::X, &index.to_string()),
        source: SourceKind::X,
        url: None,
        text,
        lang: None,
        created_at: at,
        observed_at: at,
        author: Author {
            id: format!("u{}", index % 1000),
            handle: Some(format!("@user{}", index % 1000)),
            ..Author::default()
        },
        relation: Default::default(),
        engagement: Default::default(),
        change: Default::default(),
    }
}

/// Runs the NLP benchmark and returns its figures.
pub(crate) fn measure_all(args: &NlpArgs) -> anyhow::Result<Report> {
    let data = corpus::data_dir(&args.common.data)?;
    let config = crate::config::load_file(&args.common.config)
        .map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let analyzer = Analyzer::new(&config.nlp).context("building the analyser")?;
    let brand = config
        .nlp
        .brands
        .first()
        .context("the configuration has no brand")?;
    let mentions: Vec<String> = [
        brand.handles.first(),
        brand.hashtags.first(),
        brand.aliases.first(),
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    anyhow::ensure!(
        !mentions.is_empty(),
        "brand {} has no alias, handle nor hashtag",
        brand.name
    );
    let texts = corpus::test_texts(&data)?;
    anyhow::ensure!(!texts.is_empty(), "no test texts in {}", data.display());
    let count = args.posts.unwrap_or(texts.len()).max(1);
    let share = args.brand_share.clamp(0.0, 1.0);
    let mut posts = Vec::with_capacity(count);
    let mut injected = 0usize;
    for index in 0..count {
        let text = &texts[index % texts.len()];
        // Spread the injected posts evenly: post i gets the brand when the running share
        // crosses a whole number.
        let inject = ((index + 1) as f64 * share).floor() > (index as f64 * share).floor();
        let text = if inject {
            injected += 1;
            let mention = &mentions[injected % mentions.len()];
            corpus::with_brand(text, mention, injected / mentions.len())
        } else {
            text.clone()
        };
        posts.push(post(index, text));
    }
    let mut relevant = Vec::new();
    let mut dropped = Vec::new();
    for post in &posts {
        match analyzer.analyse(post.clone()) {
            Outcome::Relevant(_) => relevant.push(post.clone()),
            Outcome::Dropped(_) => dropped.push(post.clone()),
        }
    }
    progress!(
        "nlp: {} posts ({} with the brand injected, {} relevant), {} CPU s per figure",
        posts.len(),
        injected,
        relevant.len(),
        args.seconds
    );
    let mixed = measure(&analyzer, &posts, args.seconds);
    progress!("nlp: stream {:.0} posts/CPU-s", mixed.per_cpu_second());
    let relevant_rate = measure(&analyzer, &relevant, args.seconds);
    let dropped_rate = measure(&analyzer, &dropped, args.seconds);

    let peer = if args.common.no_peers {
        peers::PeerRun::Skipped("--no-peers".to_owned())
    } else {
        run_peer(args, &data, &posts)?
    };
    let batch = peers::number(&peer, &["batch", "posts_per_cpu_second"]);
    let single = peers::number(&peer, &["single", "posts_per_cpu_second"]);
    let ours = mixed.per_cpu_second();
    let json = json!({
        "part": "nlp",
        "posts": posts.len(),
        "brand_injected": injected,
        "brand_share": share,
        "relevant": relevant.len(),
        "dropped": dropped.len(),
        "config": args.common.config.display().to_string(),
        "texts": "TweetEval sentiment test + UMSAB French test",
        "stream": mixed.json(),
        "relevant_only": relevant_rate.json(),
        "dropped_only": dropped_rate.json(),
        "peer": peer.to_json(),
        "ratios": {
            "veille_stream_over_sklearn_batch": peers::ratio(ours, batch),
            "veille_stream_over_sklearn_single": peers::ratio(ours, single),
            "veille_relevant_over_sklearn_single":
                peers::ratio(relevant_rate.per_cpu_second(), single),
        },
    });
    let show = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
    let mut table = String::new();
    table.push_str(&format!(
        "NLP: {} real posts (TweetEval + UMSAB French test texts), brand injected in {} \
         ({:.0} %), {} relevant\n",
        posts.len(),
        injected,
        share * 100.0,
        relevant.len()
    ));
    table.push_str(&format!(
        "{:<58} {:>14}\n",
        "what (one core)", "posts/CPU-s"
    ));
    for (name, rate) in [
        ("veille full analysis, whole stream", ours),
        (
            "veille full analysis, relevant posts only",
            relevant_rate.per_cpu_second(),
        ),
        (
            "veille, posts dropped at relevance only",
            dropped_rate.per_cpu_second(),
        ),
    ] {
        table.push_str(&format!("{name:<58} {rate:>14.0}\n"));
    }
    table.push_str(&format!(
        "{:<58} {:>14}\n{:<58} {:>14}\n",
        "peer: scikit-learn TF-IDF + LinearSVC, batch",
        show(batch),
        "peer: scikit-learn TF-IDF + LinearSVC, one post at a time",
        show(single)
    ));
    if let peers::PeerRun::Skipped(reason) = &peer {
        table.push_str(&format!("peer skipped: {reason}\n"));
    }
    table.push_str(&format!(
        "ratio veille stream / sklearn batch: {}; / sklearn one at a time: {}\n",
        peers::show_ratio(peers::ratio(ours, batch)),
        peers::show_ratio(peers::ratio(ours, single))
    ));
    Ok(Report { json, table })
}

/// Writes the training set and the stream's texts for the peer, runs it, removes them.
fn run_peer(
    args: &NlpArgs,
    data: &std::path::Path,
    posts: &[Post],
) -> anyhow::Result<peers::PeerRun> {
    use std::io::Write;
    let dir = tempfile::tempdir().context("creating a temporary directory for the peer")?;
    let train_path = dir.path().join("train.jsonl");
    let posts_path = dir.path().join("posts.jsonl");
    let mut train = std::io::BufWriter::new(std::fs::File::create(&train_path)?);
    for (text, label) in corpus::training_examples(data)? {
        writeln!(train, "{}", json!({ "text": text, "label": label }))?;
    }
    train.flush()?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&posts_path)?);
    for post in posts {
        writeln!(out, "{}", json!({ "text": post.text }))?;
    }
    out.flush()?;
    progress!("nlp: running the scikit-learn peer");
    Ok(peers::run(
        &args.common.peers_dir,
        "sklearn_peer.py",
        &["sklearn"],
        &[
            "--train".into(),
            train_path.display().to_string(),
            "--posts".into(),
            posts_path.display().to_string(),
            "--seconds".into(),
            args.seconds.to_string(),
        ],
    ))
}
