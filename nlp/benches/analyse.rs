//! `cargo bench -p nlp --bench analyse`: throughput of the full analysis of one post
//! (tokens, relevance, language, sentiment model, keyword axes, intent, privacy) on one
//! core, over the 306 English and French posts of `fixtures/labeled/intent.jsonl`, all
//! about the brand, one post at a time. Prints posts/s for the full analysis and for its
//! parts. A plain timing loop (no harness): each figure is the best of five rounds of at
//! least half a second. Rounds are timed in the CPU time of the bench thread (Linux's
//! `/proc/thread-self/schedstat`, else wall time), so a busy machine does not halve them.
//! `cargo bench -p nlp --bench analyse -- full` measures only the figures whose name
//! contains `full` (for a profiler).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nlp::tokens::Tokenizer;
use nlp::{Analyzer, Axis, Brand, Category, NlpConfig};

fn posts() -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/labeled/intent.jsonl");
    let text = std::fs::read_to_string(path).expect("intent set readable");
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|value| value["text"].as_str().map(str::to_owned))
        .collect()
}

fn config() -> NlpConfig {
    let strings = |items: &[&str]| items.iter().map(|item| (*item).to_owned()).collect();
    let category = |name: &str, keywords: &[&str]| Category {
        name: name.to_owned(),
        keywords: strings(keywords),
    };
    NlpConfig {
        brands: vec![Brand {
            name: "Lumio".into(),
            aliases: strings(&["lumio", "lumio telecom", "lumio fibre"]),
            handles: strings(&["@lumio", "@lumio_help", "@lumio_fr"]),
            hashtags: strings(&["#lumio", "#lumiofail"]),
            exclusions: strings(&["lumio lamp"]),
            ..Brand::default()
        }],
        axes: vec![Axis {
            name: "topic".into(),
            categories: vec![
                category(
                    "outage",
                    &["outage", "down", "no signal", "panne", "coupure"],
                ),
                category("billing", &["bill", "invoice", "refund", "facture"]),
                category(
                    "support",
                    &["support", "customer service", "service client"],
                ),
            ],
            model: None,
        }],
        ..NlpConfig::default()
    }
}

/// Seconds this thread has run on a CPU, if the system says.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(nanos as f64 / 1e9)
}

/// Posts per second of `work` over `posts`: best of five rounds.
fn measure(posts: &[String], mut work: impl FnMut(&str)) -> f64 {
    let mut best = 0.0f64;
    for _ in 0..5 {
        let started = Instant::now();
        let cpu_started = cpu_seconds();
        let mut done = 0usize;
        while started.elapsed() < Duration::from_millis(500) {
            for post in posts {
                work(post);
            }
            done += posts.len();
        }
        let seconds = match (cpu_started, cpu_seconds()) {
            (Some(before), Some(after)) if after > before => after - before,
            _ => started.elapsed().as_secs_f64(),
        };
        best = best.max(done as f64 / seconds);
    }
    best
}

/// A named figure: the posts it runs on and what it does with each.
type Figure<'a> = (&'a str, &'a [String], Box<dyn FnMut(&str) + 'a>);

/// Whether the figure `name` was asked for (no filter argument: all of them).
fn wanted(name: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    filters.is_empty() || filters.iter().any(|filter| name.contains(filter.as_str()))
}

fn main() {
    let posts = posts();
    let analyzer = Analyzer::new(&config()).expect("analyzer builds");
    let tokenizer = Tokenizer::new().expect("tokenizer builds");
    let ascii = posts.iter().filter(|post| post.is_ascii()).count();
    println!(
        "nlp throughput, one core, {} posts ({ascii} ASCII), one at a time",
        posts.len()
    );
    let irrelevant: Vec<String> = posts
        .iter()
        .map(|post| post.replace("umio", "xmio"))
        .collect();
    let figures: [Figure<'_>; 4] = [
        (
            "full analysis",
            &posts,
            Box::new(|post| {
                black_box(analyzer.analyse_text(black_box(post), None).ok());
            }),
        ),
        (
            "full, language claimed",
            &posts,
            Box::new(|post| {
                black_box(analyzer.analyse_text(black_box(post), Some("en")).ok());
            }),
        ),
        (
            "tokenization only",
            &posts,
            Box::new(|post| {
                black_box(tokenizer.tokenize(black_box(post)));
            }),
        ),
        (
            "irrelevant (dropped)",
            &irrelevant,
            Box::new(|post| {
                black_box(analyzer.analyse_text(black_box(post), None).err());
            }),
        ),
    ];
    for (name, inputs, work) in figures {
        if wanted(name) {
            let rate = measure(inputs, work);
            println!("{:<24}{rate:>10.0} posts/s", format!("{name}:"));
        }
    }
}
