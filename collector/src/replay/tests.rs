//! Tests of the replay source: ordering, batching, looping, resuming, pacing, and the
//! recorded fixtures in `fixtures/posts/`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::*;
use crate::post::Change;

fn x_line(id: &str, at: &str, text: &str) -> String {
    json!({
        "data": {"id": id, "text": text, "author_id": "7", "created_at": at,
                 "edit_history_tweet_ids": [id]},
        "includes": {"users": [{"id": "7", "username": "ana", "name": "Ana"}]}
    })
    .to_string()
}

fn x_file(lines: &[String]) -> ReplayFile {
    ReplayFile {
        name: "x/stream.jsonl".to_owned(),
        contents: lines.iter().map(|line| format!("{line}\r\n")).collect(),
    }
}

/// Five posts one minute apart, from 10:00.
fn five_posts() -> ReplayFile {
    let lines: Vec<String> = (0..5)
        .map(|minute| {
            x_line(
                &format!("10{minute}"),
                &format!("2026-11-20T10:0{minute}:00Z"),
                "lumio",
            )
        })
        .collect();
    x_file(&lines)
}

fn config(
    files: Vec<ReplayFile>,
    speedup: Option<f64>,
    loop_forever: bool,
    batch_size: usize,
) -> ReplayConfig {
    ReplayConfig {
        name: "replay".to_owned(),
        files,
        speedup,
        loop_forever,
        batch_size,
    }
}

fn ids(batch: &Batch) -> Vec<&str> {
    batch.posts.iter().map(|post| post.id.as_str()).collect()
}

async fn drain(replay: &mut Replay) -> Vec<Batch> {
    let mut batches = Vec::new();
    while let Some(batch) = replay.next_batch().await.unwrap() {
        batches.push(batch);
    }
    batches
}

#[tokio::test]
async fn unpaced_replay_emits_batches_in_order_then_ends() {
    let stats = Arc::new(SourceStats::default());
    let mut replay = Replay::new(
        config(vec![five_posts()], None, false, 2),
        None,
        stats.clone(),
    )
    .unwrap();
    assert_eq!(replay.len(), 5);
    let batches = drain(&mut replay).await;
    let emitted: Vec<Vec<&str>> = batches.iter().map(ids).collect();
    assert_eq!(
        emitted,
        [
            vec!["x:100", "x:101"],
            vec!["x:102", "x:103"],
            vec!["x:104"]
        ]
    );
    assert_eq!(
        batches[0].checkpoint.cursor,
        json!({"v": 1, "round": 0, "next": 2})
    );
    assert_eq!(
        batches[2].checkpoint.cursor,
        json!({"v": 1, "round": 0, "next": 5})
    );
    assert_eq!(batches[0].checkpoint.source, "replay");
    // Round 0 keeps the recorded times; observed_at is now.
    assert_eq!(
        batches[0].posts[0].created_at.to_rfc3339(),
        "2026-11-20T10:00:00+00:00"
    );
    assert!(batches[0].posts[0].observed_at > batches[0].posts[0].created_at);
    assert!(replay.next_batch().await.unwrap().is_none());
    let snapshot = stats.snapshot();
    assert_eq!(
        (snapshot.posts, snapshot.batches, snapshot.decode_failures),
        (5, 3, 0)
    );
}

#[tokio::test]
async fn files_are_replayed_in_name_order() {
    let mut feed = five_posts();
    feed.name = "x/a.jsonl".to_owned();
    feed.contents = x_line("1", "2026-11-20T09:00:00Z", "first") + "\r\n";
    let files = vec![five_posts(), feed];
    let mut replay = Replay::new(config(files, None, false, 10), None, Arc::default()).unwrap();
    let batch = replay.next_batch().await.unwrap().unwrap();
    assert_eq!(ids(&batch)[..2], ["x:1", "x:100"]);
}

#[tokio::test]
async fn malformed_line_is_counted_once_and_skipped() {
    let lines = [
        x_line("1", "2026-11-20T10:00:00Z", "ok"),
        String::new(),
        r#"{"data":{"id":"2","text":"trunc"#.to_owned(),
        x_line("3", "2026-11-20T10:01:00Z", "ok"),
    ];
    let stats = Arc::new(SourceStats::default());
    let mut replay = Replay::new(
        config(vec![x_file(&lines)], None, false, 10),
        None,
        stats.clone(),
    )
    .unwrap();
    let batch = replay.next_batch().await.unwrap().unwrap();
    assert_eq!(ids(&batch), ["x:1", "x:3"]);
    assert_eq!(stats.snapshot().decode_failures, 1);
    let decoded = decode_file(&x_file(&lines), Utc::now()).unwrap();
    assert_eq!(
        (decoded.failures[0].file.as_str(), decoded.failures[0].line),
        ("x/stream.jsonl", 3)
    );
}

#[tokio::test]
async fn unknown_files_are_skipped_and_empty_replays_end_even_when_looping() {
    let unknown = ReplayFile {
        name: "mastodon/public.jsonl".to_owned(),
        contents: "{}".to_owned(),
    };
    let mut replay =
        Replay::new(config(vec![unknown], None, true, 10), None, Arc::default()).unwrap();
    assert!(replay.is_empty());
    assert!(replay.next_batch().await.unwrap().is_none());
}

#[test]
fn bad_settings_are_fatal() {
    for (speedup, batch_size) in [
        (Some(0.0), 1),
        (Some(-1.0), 1),
        (Some(f64::NAN), 1),
        (None, 0),
    ] {
        let result = Replay::new(
            config(vec![], speedup, false, batch_size),
            None,
            Arc::default(),
        );
        assert!(
            matches!(result, Err(CollectError::Fatal { .. })),
            "{speedup:?} {batch_size}"
        );
    }
}

#[tokio::test]
async fn looping_gives_fresh_ids_and_times_each_round() {
    let mut replay = Replay::new(
        config(vec![five_posts()], None, true, 5),
        None,
        Arc::default(),
    )
    .unwrap();
    let round_0 = replay.next_batch().await.unwrap().unwrap();
    let before = Utc::now();
    let round_1 = replay.next_batch().await.unwrap().unwrap();
    let round_2 = replay.next_batch().await.unwrap().unwrap();
    assert_eq!(ids(&round_0)[0], "x:100");
    assert_eq!(
        ids(&round_1),
        ["x:100~r1", "x:101~r1", "x:102~r1", "x:103~r1", "x:104~r1"]
    );
    assert_eq!(ids(&round_2)[4], "x:104~r2");
    assert_eq!(
        round_1.posts[0].url.as_deref(),
        Some("https://x.com/ana/status/100~r1")
    );
    assert!(round_1.posts.iter().all(|post| post.created_at >= before));
    assert_eq!(
        round_1.checkpoint.cursor,
        json!({"v": 1, "round": 1, "next": 5})
    );
    // The text and author are the recorded ones.
    assert_eq!(round_1.posts[0].text, round_0.posts[0].text);
    assert_eq!(round_1.posts[0].author, round_0.posts[0].author);
}

#[test]
fn round_markers_go_before_query_and_fragment() {
    assert_eq!(
        mark_url("https://b.example/p/1?utm=x#c", "~r2"),
        "https://b.example/p/1~r2?utm=x#c"
    );
    assert_eq!(
        mark_url("https://b.example/p#1", "~r1"),
        "https://b.example/p~r1#1"
    );
}

#[tokio::test]
async fn resume_continues_exactly_at_the_next_record() {
    for batch_size in [1, 2, 3] {
        let mut reference = Replay::new(
            config(vec![five_posts()], None, true, batch_size),
            None,
            Arc::default(),
        )
        .unwrap();
        let mut expected = Vec::new();
        let mut checkpoints = Vec::new();
        for _ in 0..8 {
            let batch = reference.next_batch().await.unwrap().unwrap();
            expected.extend(batch.posts.iter().map(|post| post.id.clone()));
            checkpoints.push((expected.len(), batch.checkpoint));
        }
        for (emitted, checkpoint) in checkpoints {
            let mut resumed = Replay::new(
                config(vec![five_posts()], None, true, batch_size),
                Some(&checkpoint),
                Arc::default(),
            )
            .unwrap();
            let batch = resumed.next_batch().await.unwrap().unwrap();
            let next = expected.get(emitted).cloned();
            if let Some(next) = next {
                assert_eq!(
                    batch.posts[0].id, next,
                    "batch size {batch_size}, after {emitted}"
                );
            }
        }
    }
}

#[tokio::test]
async fn unreadable_checkpoints_start_over() {
    let cursors = [
        json!({"v": 2, "round": 0, "next": 3}),
        json!({"v": 1, "next": 3}),
        json!({"v": 1, "round": "0", "next": 3}),
        json!("garbage"),
        Value::Null,
    ];
    for cursor in cursors {
        let checkpoint = Checkpoint {
            source: "replay".to_owned(),
            cursor,
        };
        let mut replay = Replay::new(
            config(vec![five_posts()], None, false, 1),
            Some(&checkpoint),
            Arc::default(),
        )
        .unwrap();
        assert_eq!(ids(&replay.next_batch().await.unwrap().unwrap()), ["x:100"]);
    }
    let other_source = Checkpoint {
        source: "another".to_owned(),
        cursor: json!({"v": 1, "round": 0, "next": 3}),
    };
    let mut replay = Replay::new(
        config(vec![five_posts()], None, false, 1),
        Some(&other_source),
        Arc::default(),
    )
    .unwrap();
    assert_eq!(ids(&replay.next_batch().await.unwrap().unwrap()), ["x:100"]);
    // Past the end: the round is over.
    let past_end = Checkpoint {
        source: "replay".to_owned(),
        cursor: json!({"v": 1, "round": 0, "next": 99}),
    };
    let mut replay = Replay::new(
        config(vec![five_posts()], None, false, 1),
        Some(&past_end),
        Arc::default(),
    )
    .unwrap();
    assert!(replay.next_batch().await.unwrap().is_none());
}

#[test]
fn pacing_delay_is_scaled_and_clamped() {
    let at = |time: &str| {
        DateTime::parse_from_rfc3339(time)
            .unwrap()
            .with_timezone(&Utc)
    };
    let start = at("2026-11-20T10:00:00Z");
    assert_eq!(
        pacing_delay(start, at("2026-11-20T10:01:00Z"), 60.0),
        Duration::from_secs(1)
    );
    assert_eq!(
        pacing_delay(start, at("2026-11-20T10:00:30Z"), 60.0),
        Duration::from_millis(500)
    );
    assert_eq!(
        pacing_delay(start, at("2026-11-20T12:00:00Z"), 60.0),
        MAX_PACING_DELAY
    );
    assert_eq!(
        pacing_delay(start, at("2026-11-20T09:00:00Z"), 60.0),
        Duration::ZERO
    );
    assert_eq!(pacing_delay(start, start, 60.0), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn paced_replay_waits_between_posts() {
    let lines = [
        x_line("1", "2026-11-20T10:00:00Z", "a"),
        x_line("2", "2026-11-20T10:01:00Z", "b"),
        x_line("3", "2026-11-20T10:11:00Z", "c"),
        x_line("4", "2026-11-20T10:11:00Z", "d"),
        x_line("5", "2026-11-20T10:11:30Z", "e"),
    ];
    let mut replay = Replay::new(
        config(vec![x_file(&lines)], Some(60.0), false, 10),
        None,
        Arc::default(),
    )
    .unwrap();
    let start = Instant::now();
    let mut seen = Vec::new();
    while let Some(batch) = replay.next_batch().await.unwrap() {
        seen.push((start.elapsed(), ids(&batch).join(",")));
    }
    let expected = [
        (Duration::ZERO, "x:1"),
        (Duration::from_secs(1), "x:2"),
        (Duration::from_secs(3), "x:3,x:4"),
        (Duration::from_millis(3500), "x:5"),
    ];
    let expected: Vec<(Duration, String)> = expected
        .iter()
        .map(|(at, ids)| (*at, (*ids).to_owned()))
        .collect();
    assert_eq!(seen, expected);
}

#[tokio::test(start_paused = true)]
async fn a_resumed_paced_replay_does_not_wait_for_its_first_post() {
    let checkpoint = Checkpoint {
        source: "replay".to_owned(),
        cursor: json!({"v": 1, "round": 0, "next": 3}),
    };
    let mut replay = Replay::new(
        config(vec![five_posts()], Some(1.0), false, 1),
        Some(&checkpoint),
        Arc::default(),
    )
    .unwrap();
    let start = Instant::now();
    assert_eq!(ids(&replay.next_batch().await.unwrap().unwrap()), ["x:103"]);
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(ids(&replay.next_batch().await.unwrap().unwrap()), ["x:104"]);
    assert_eq!(start.elapsed(), MAX_PACING_DELAY);
}

// ----- the recorded fixtures ---------------------------------------------------------------

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/posts");

/// Per file: the ids that decode, in order (an edit repeats its post's id), the failures
/// (count and lines) and the X error notices.
fn fixture_summary() -> Value {
    let files = load_dir(Path::new(FIXTURES)).unwrap();
    let mut summary = BTreeMap::new();
    for file in &files {
        let Some(decoded) = decode_file(file, Utc::now()) else {
            continue;
        };
        let ids: Vec<&str> = decoded
            .posts
            .iter()
            .map(|record| record.post.id.as_str())
            .collect();
        let failure_lines: Vec<usize> = decoded
            .failures
            .iter()
            .map(|failure| failure.line)
            .collect();
        summary.insert(
            file.name.clone(),
            json!({"ids": ids, "decode_failures": failure_lines.len(),
                   "failure_lines": failure_lines, "stream_errors": decoded.stream_errors}),
        );
    }
    json!({ "files": summary })
}

#[test]
fn fixtures_decode_to_the_expected_ids() {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{FIXTURES}/EXPECTED.json")).unwrap(),
    )
    .unwrap();
    let actual = fixture_summary();
    assert_eq!(
        actual["files"], expected["files"],
        "run `cargo test -p collector -- --ignored print_fixture_summary`"
    );
    let failures: u64 = actual["files"]
        .as_object()
        .unwrap()
        .values()
        .map(|file| file["decode_failures"].as_u64().unwrap())
        .sum();
    assert_eq!(failures, 1, "exactly one deliberately malformed line");
    let records: usize = actual["files"]
        .as_object()
        .unwrap()
        .values()
        .map(|file| file["ids"].as_array().unwrap().len())
        .sum();
    assert_eq!(expected["totals"]["records"], json!(records));
    assert_eq!(expected["totals"]["decode_failures"], json!(failures));
}

#[tokio::test]
async fn fixtures_replay_with_one_decode_failure() {
    let files = load_dir(Path::new(FIXTURES)).unwrap();
    let stats = Arc::new(SourceStats::default());
    let mut replay = Replay::new(config(files, None, false, 16), None, stats.clone()).unwrap();
    let posts: usize = drain(&mut replay)
        .await
        .iter()
        .map(|batch| batch.posts.len())
        .sum();
    assert_eq!(posts, replay.len());
    assert_eq!(stats.snapshot().decode_failures, 1);
    assert_eq!(replay.stream_errors(), 1);
}

#[test]
fn fixtures_cover_the_special_cases() {
    let files = load_dir(Path::new(FIXTURES)).unwrap();
    let posts: Vec<Post> = files
        .iter()
        .filter_map(|file| decode_file(file, Utc::now()))
        .flat_map(|decoded| decoded.posts.into_iter().map(|record| record.post))
        .collect();
    assert!(posts.iter().any(|post| post.change == Change::Edit));
    assert!(posts.iter().any(|post| post.text.contains("zanzibarquux")));
    assert!(
        posts
            .iter()
            .any(|post| post.text.contains("<script>alert(1)</script>"))
    );
    assert!(posts.iter().any(|post| post.lang.as_deref() == Some("fr")));
    assert!(
        posts
            .iter()
            .filter(|post| post.change != Change::Delete)
            .all(|post| !post.text.trim().is_empty())
    );
    // Every source has a recording, with a deletion and an edit where the protocol has them.
    for kind in crate::post::SourceKind::ALL {
        assert!(
            posts.iter().any(|post| post.source == kind),
            "no {kind} fixture"
        );
    }
    for kind in [
        crate::post::SourceKind::Bluesky,
        crate::post::SourceKind::Mastodon,
    ] {
        let of_kind = || posts.iter().filter(move |post| post.source == kind);
        assert!(
            of_kind().any(|post| post.change == Change::Delete),
            "{kind}"
        );
        assert!(of_kind().any(|post| post.change == Change::Edit), "{kind}");
    }
    let feed_posts = posts
        .iter()
        .filter(|post| post.source == crate::post::SourceKind::Feed);
    assert!(feed_posts.clone().count() >= 10);
    assert!(
        feed_posts
            .clone()
            .all(|post| !post.text.contains("<p>") && !post.text.contains("&lt;"))
    );
}

#[test]
fn truncated_or_spliced_fixtures_never_panic() {
    for file in load_dir(Path::new(FIXTURES)).unwrap() {
        let contents = &file.contents;
        let cuts = (0..contents.len())
            .step_by(29)
            .filter(|cut| contents.is_char_boundary(*cut));
        for cut in cuts {
            for mangled in [&contents[..cut], &contents[cut..]] {
                let piece = ReplayFile {
                    name: file.name.clone(),
                    contents: mangled.to_owned(),
                };
                let _ = decode_file(&piece, Utc::now());
            }
        }
    }
}

/// Prints the fixture summary to paste into `fixtures/posts/EXPECTED.json`.
#[test]
#[ignore = "prints fixtures/posts/EXPECTED.json for a human to review"]
fn print_fixture_summary() {
    println!(
        "{}",
        serde_json::to_string_pretty(&fixture_summary()).unwrap()
    );
}

/// Prints every decoded fixture post, for a human to review the decoders' output.
#[test]
#[ignore = "prints the decoded fixture posts for a human to review"]
fn print_fixture_posts() {
    for file in load_dir(Path::new(FIXTURES)).unwrap() {
        for record in decode_file(&file, Utc::now())
            .map(|decoded| decoded.posts)
            .unwrap_or_default()
        {
            println!("{}", serde_json::to_string(&record.post).unwrap());
        }
    }
}
