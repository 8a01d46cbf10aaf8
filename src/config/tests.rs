//! Tests of configuration loading: the sample is valid, and a bad file lists every problem
//! with its key path.

use super::*;

const MINIMAL: &str = r#"
[[brands]]
name = "Acme"
aliases = ["acme"]

[[axes]]
name = "topic"
[[axes.categories]]
name = "outage"
keywords = ["outage", "down"]

[[teams]]
name = "support"
role = "member"
members = ["ana"]

[[rules]]
name = "unhappy"
when = "sentiment = negative and topic = outage"
team = "support"
severity = "high"
"#;

fn load(text: &str) -> Result<Config, ConfigErrors> {
    load_str(text, &Origin::Embedded)
}

fn problems(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.problems,
    }
}

#[test]
fn minimal_config_loads_with_defaults() {
    let config = load(MINIMAL).expect("minimal config is valid");
    assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(config.retention_days, DEFAULT_RETENTION_DAYS);
    assert_eq!(config.rules.len(), 1);
    assert_eq!(
        config.nlp.axes[0].categories[0].keywords,
        ["outage", "down"]
    );
}

#[test]
fn sample_config_file_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/veille.toml");
    let config = load_file(&path).unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(config.nlp.brands[0].name, "Lumio");
    assert!(matches!(config.sources[0], SourceConfig::Replay(_)));
    assert!(config.data_dir.ends_with("veille-data"));
    assert_eq!(config.index_dir, config.data_dir.join("index"));
}

#[test]
fn index_dir_is_relative_to_the_config_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sample =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/veille.toml"))
            .expect("sample config");
    let text = sample.replace(
        "data-dir = \"veille-data\"",
        "data-dir = \"serve-a\"\nindex-dir = \"shared/index\"",
    );
    std::fs::create_dir(dir.path().join("posts")).expect("posts folder");
    let path = dir.path().join("serve.toml");
    std::fs::write(&path, text).expect("config written");
    let config = load_file(&path).unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(config.data_dir, dir.path().join("serve-a"));
    assert_eq!(config.index_dir, dir.path().join("shared/index"));
}

#[test]
fn every_problem_is_reported_at_once_with_its_key_path() {
    let text = format!(
        "retention-dayz = 3
{MINIMAL}
[dashboard]
listen = \"nowhere\"
[[teams]]
name = \"support\"
role = \"boss\"
[[rules]]
name = \"broken\"
when = \"sentiment = = negative\"
team = \"nobody\"
severity = \"apocalyptic\"
[[sources]]
name = \"x\"
kind = \"x\"
base-url = \"ftp://example\"
bearer-token-env = \"X_TOKEN\"
[[sources]]
name = \"feed\"
kind = \"feed\"
base-url = \"http://127.0.0.1:1/feed.xml\"
pol-secs = 3
"
    );
    let found = problems(&text);
    let expected_fragments = [
        "retention-dayz: unknown key",
        "dashboard.listen",
        "teams[1].name: `support` is defined twice",
        "teams[1].role",
        "rules[1].team",
        "rules[1].severity",
        "rules[1].when: rule `broken` does not parse",
        "sources[0].base-url",
        "sources[1]",
    ];
    for fragment in expected_fragments {
        assert!(
            found.iter().any(|problem| problem.contains(fragment)),
            "missing `{fragment}` in {found:#?}"
        );
    }
    assert!(
        found.iter().any(|problem| problem.contains("pol-secs")),
        "{found:#?}"
    );
}

#[test]
fn unknown_keys_are_rejected_inside_elements() {
    let text = MINIMAL.replace(
        "aliases = [\"acme\"]",
        "aliases = [\"acme\"]\nalaises = [\"acme\"]",
    );
    let found = problems(&text);
    assert!(
        found
            .iter()
            .any(|problem| problem.starts_with("brands[0]") && problem.contains("alaises")),
        "{found:#?}"
    );
}

#[test]
fn rule_fields_and_values_are_checked_against_the_axes() {
    let text = MINIMAL.replace(
        "sentiment = negative and topic = outage",
        "sentiment = grumpy and colour = red and topic = billing",
    );
    let found = problems(&text);
    let rule_problems: Vec<_> = found
        .iter()
        .filter(|problem| problem.starts_with("rules[0].when: rule `unhappy`"))
        .collect();
    assert!(rule_problems.len() >= 3, "{found:#?}");
}

#[test]
fn an_axis_may_not_shadow_a_builtin_field() {
    let text = MINIMAL.replace("name = \"topic\"", "name = \"sentiment\"");
    let found = problems(&text);
    assert!(
        found
            .iter()
            .any(|problem| problem.contains("built-in field")),
        "{found:#?}"
    );
}

#[test]
fn handles_and_hashtags_need_their_prefix() {
    let text = MINIMAL.replace(
        "aliases = [\"acme\"]",
        "handles = [\"acme\"]\nhashtags = [\"#\"]",
    );
    let found = problems(&text);
    assert!(
        found.iter().any(|problem| problem.contains("handles[0]")),
        "{found:#?}"
    );
    assert!(
        found.iter().any(|problem| problem.contains("hashtags[0]")),
        "{found:#?}"
    );
}

#[test]
fn not_toml_is_one_clear_problem() {
    let found = problems("brands = [");
    assert_eq!(found.len(), 1);
    assert!(found[0].starts_with("not valid TOML"));
}

#[test]
fn replay_speedup_accepts_a_factor_or_max() {
    let with_source = |speedup: &str| {
        format!(
            "{MINIMAL}\n[[sources]]\nname = \"r\"\nkind = \"replay\"\ndir = \"posts\"\nspeedup = {speedup}\n"
        )
    };
    let config = load(&with_source("50.0")).expect("factor speedup is valid");
    let SourceConfig::Replay(replay) = &config.sources[0] else {
        panic!("not a replay")
    };
    assert_eq!(replay.speedup, Speedup::Factor(50.0));
    assert_eq!(replay.files, ReplayFiles::Embedded);
    let config = load(&with_source("\"max\"")).expect("max speedup is valid");
    let SourceConfig::Replay(replay) = &config.sources[0] else {
        panic!("not a replay")
    };
    assert_eq!(replay.speedup, Speedup::Max);
    assert!(!problems(&with_source("-1.0")).is_empty());
    assert!(!problems(&with_source("\"fast\"")).is_empty());
}
