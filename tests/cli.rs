//! The command line: `veille check` accepts the sample and lists every problem of a bad
//! config, with its key path, and `veille run` refuses to start on it; `veille bench
//! influence` runs (smoke).

use std::process::Command;

use crate::util::workspace_root;

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
