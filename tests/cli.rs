//! The command line: `veille check` accepts the sample and lists every problem of a bad
//! config, with its key path, and `veille run` refuses to start on it; `veille bench
//! influence`, `veille bench nlp`, `veille bench index` and `veille bench e2e` run (smoke;
//! the last three print one JSON object).

use std::process::Command;

use crate::util::{shared_data, workspace_root};

fn veille() -> Command {
    Command::new(env!("CARGO_BIN_EXE_veille"))
}

#[test]
fn check_accepts_the_sample_config() {
    let output = veille()
        .args(["check", "--config"])
        .arg(workspace_root().join("fixtures/veille.toml"))
        .output()
        .expect("veille runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("ok (1 brands, 2 axes, 3 teams, 7 rules, 1 sources)"),
        "{stdout}"
    );
}

#[test]
fn check_and_run_list_every_problem_of_a_bad_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.toml");
    let sample = std::fs::read_to_string(workspace_root().join("fixtures/veille.toml"))
        .expect("sample readable")
        .replace(
            "retention-days = 90",
            "retention-days = 90\nretention-dais = 3",
        )
        .replace("sentiment = positive\"", "sentiment = positive and\"")
        .replace("dir = \"posts\"", "dir = \"no-such-folder\"");
    std::fs::write(&path, sample).expect("bad config written");
    for command in ["check", "run"] {
        let output = veille()
            .args([command, "--config"])
            .arg(&path)
            .output()
            .expect("veille runs");
        assert!(!output.status.success(), "{command} accepted a bad config");
        let stderr = String::from_utf8_lossy(&output.stderr);
        for fragment in [
            "3 problems",
            "retention-dais",
            "rules[2].when: rule `fans`",
            "sources[0].dir",
        ] {
            assert!(
                stderr.contains(fragment),
                "{command}: missing `{fragment}` in {stderr}"
            );
        }
    }
}

/// A smoke run of the influence benchmark (its figures come from a release build; see
/// docs/INFLUENCE.md): it runs both passes and prints both sets.
#[test]
fn bench_influence_smoke_run_prints_its_figures() {
    let output = veille()
        .args([
            "bench",
            "influence",
            "--seconds",
            "0.2",
            "--authors",
            "20000",
        ])
        .output()
        .expect("veille runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for figure in [
        "ns per post",
        "MiB of the 256 MiB budget",
        "connector",
        "maven",
    ] {
        assert!(stdout.contains(figure), "{figure} missing from:\n{stdout}");
    }
}

/// A smoke run of the end-to-end benchmark (figures come from a release build; see
/// docs/PERFORMANCE.md, End to end): a short run at a low rate with a few clients, one of them slow.
/// `--json` prints exactly one JSON object with the expected keys, and nothing is lost.
/// Needs TweetEval in `../shared/data` (skipped with a reason when absent, failed under
/// `CI=true`).
#[test]
fn bench_e2e_smoke_run_prints_one_json_object() {
    let Some(shared) = shared_data() else { return };
    let data = shared.join("tweeteval-sentiment");
    let output = veille()
        .args([
            "bench",
            "e2e",
            "--rate",
            "100",
            "--seconds",
            "2",
            "--warmup",
            "0",
            "--steps",
            "",
            "--burst-seconds",
            "0",
            "--clients",
            "3",
            "--slow-clients",
            "1",
            "--marker-every",
            "50",
            "--json",
        ])
        .arg("--data")
        .arg(&data)
        .output()
        .expect("veille runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|error| panic!("stdout is not one JSON object ({error}):\n{stdout}"));
    for pointer in [
        "/max_sustained_rate",
        "/alert_latency_ms/p99",
        "/searchable_delay_ms/p99",
        "/memory/rss_anon_peak_bytes",
        "/memory/rss_file_peak_bytes",
        "/clients/connected",
        "/posts/written",
        "/phases/0/pipeline_rate",
    ] {
        assert!(
            report.pointer(pointer).is_some(),
            "{pointer} missing: {report}"
        );
    }
    assert_eq!(report["phases"][0]["stage"], "steady");
    assert_eq!(report["clients"]["connected"], 3);
    assert_eq!(report["posts"]["written"], 200);
    assert_eq!(report["posts"]["all_indexed_once"], true, "{report}");
    assert!(
        stderr.contains("bench e2e:"),
        "no progress on stderr: {stderr}"
    );
}

/// Runs `veille bench ARGS --json` and parses its stdout as exactly one JSON object.
fn bench_json(args: &[&str], data: &std::path::Path) -> serde_json::Value {
    let output = veille()
        .arg("bench")
        .args(args)
        .arg("--data")
        .arg(data)
        .args(["--json", "--no-peers"])
        .output()
        .expect("veille runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|error| panic!("stdout is not one JSON object ({error}):\n{stdout}"))
}

/// Smoke run of `veille bench nlp`: it analyses the posts and reports a rate (figures
/// come from release builds, docs/PERFORMANCE.md; no speed is asserted here).
#[test]
fn bench_nlp_smoke_run_prints_json() {
    let Some(data) = shared_data() else { return };
    let report = bench_json(&["nlp", "--posts", "2000", "--seconds", "0.05"], &data);
    assert_eq!(report["part"], "nlp");
    assert_eq!(report["posts"], 2000);
    assert_eq!(report["brand_injected"], 1000);
    let relevant = report["relevant"].as_u64().expect("relevant count");
    assert!(relevant > 900 && relevant <= 1000, "{report}");
    assert!(
        report["stream"]["posts_per_cpu_second"]
            .as_f64()
            .expect("rate")
            > 0.0
    );
    assert_eq!(report["peer"]["skipped"], "--no-peers");
}

/// Smoke run of `veille bench index`: two sizes, every query kind, disk and memory
/// reported, the index deleted.
#[test]
fn bench_index_smoke_run_prints_json() {
    let Some(data) = shared_data() else { return };
    let report = bench_json(
        &[
            "index",
            "--posts",
            "10000,20000",
            "--queries",
            "5",
            "--base-texts",
            "2000",
        ],
        &data,
    );
    assert_eq!(report["part"], "index");
    let stages = report["stages"].as_array().expect("stages");
    assert_eq!(stages.len(), 2, "{report}");
    assert_eq!(stages[1]["posts"], 20000);
    for kind in ["term", "phrase", "faceted"] {
        assert!(
            stages[1]["latency"][kind]["p99_ms"].as_f64().is_some(),
            "{kind}"
        );
        assert!(
            stages[1]["mean_total_hits"][kind].as_f64().expect(kind) > 0.0,
            "{kind}"
        );
    }
    assert!(stages[1]["disk_bytes"].as_u64().expect("disk") > 0);
    assert!(stages[1]["peak_rss_anon_bytes"].as_u64().expect("rss") > 0);
    assert_eq!(report["index_deleted"], true);
}
