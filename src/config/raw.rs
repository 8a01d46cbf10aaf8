//! The `Raw*` shapes of `veille.toml`, exactly as written, and a parser that checks them
//! section by section and element by element so that every unknown key and every wrong
//! type in the file is reported, each with its key path.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::alerting::{RawAlerts, RawSpikes};
use super::influence::RawInfluence;
use super::sources::RawSource;

/// The whole file, once each part has been checked.
#[derive(Debug, Default)]
pub(super) struct RawConfig {
    pub(super) data_dir: Option<String>,
    pub(super) index_dir: Option<String>,
    pub(super) retention_days: Option<u32>,
    pub(super) dashboard: Option<RawDashboard>,
    pub(super) sentiment: Option<RawSentiment>,
    pub(super) privacy: Option<RawPrivacy>,
    pub(super) influence: Option<RawInfluence>,
    pub(super) brands: Vec<(usize, RawBrand)>,
    pub(super) axes: Vec<(usize, RawAxis)>,
    pub(super) teams: Vec<(usize, RawTeam)>,
    pub(super) rules: Vec<(usize, RawRule)>,
    pub(super) sources: Vec<(usize, RawSource)>,
    pub(super) alerts: Option<RawAlerts>,
    pub(super) spikes: Option<RawSpikes>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawDashboard {
    pub(super) listen: Option<String>,
    pub(super) secure_cookies: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawBrand {
    pub(super) name: String,
    #[serde(default)]
    pub(super) aliases: Vec<String>,
    #[serde(default)]
    pub(super) handles: Vec<String>,
    #[serde(default)]
    pub(super) hashtags: Vec<String>,
    #[serde(default)]
    pub(super) exclusions: Vec<String>,
    #[serde(default)]
    pub(super) context: Vec<String>,
    pub(super) context_window: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawAxis {
    pub(super) name: String,
    #[serde(default)]
    pub(super) categories: Vec<RawCategory>,
    /// A model file (`veille train --axis NAME`), relative to the config file.
    pub(super) model: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawSentiment {
    /// `builtin`, `lexicon` or a model file.
    pub(super) model: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawPrivacy {
    pub(super) redact: Option<bool>,
    /// Sensitive category → `flag`, `drop` or `ignore`.
    #[serde(default)]
    pub(super) sensitive: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawCategory {
    pub(super) name: String,
    #[serde(default)]
    pub(super) keywords: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawTeam {
    pub(super) name: String,
    pub(super) role: String,
    #[serde(default)]
    pub(super) members: Vec<String>,
    pub(super) digest: Option<String>,
    pub(super) quiet_hours: Option<String>,
    pub(super) webhook_url: Option<String>,
    pub(super) webhook_secret_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawRule {
    pub(super) name: String,
    pub(super) when: String,
    pub(super) team: String,
    pub(super) severity: String,
    pub(super) dedupe_key: Option<String>,
    pub(super) cooldown: Option<String>,
    pub(super) group_threads: Option<bool>,
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "data-dir",
    "index-dir",
    "retention-days",
    "dashboard",
    "sentiment",
    "privacy",
    "influence",
    "brands",
    "axes",
    "teams",
    "rules",
    "sources",
    "alerts",
    "spikes",
];

/// Parses the file; returns `None` only when it is not TOML at all. Problems are pushed to
/// `problems`; elements with problems are left out of the result.
pub(super) fn parse(text: &str, problems: &mut Vec<String>) -> Option<RawConfig> {
    let mut table: toml::Table = match text.parse() {
        Ok(table) => table,
        Err(error) => {
            problems.push(format!("not valid TOML: {}", error.to_string().trim_end()));
            return None;
        }
    };
    let mut raw = RawConfig::default();
    for key in table.keys() {
        if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
            problems.push(format!(
                "{key}: unknown key (expected one of {})",
                TOP_LEVEL_KEYS.join(", ")
            ));
        }
    }
    if let Some(value) = table.remove("data-dir") {
        raw.data_dir = take("data-dir", value, problems);
    }
    if let Some(value) = table.remove("index-dir") {
        raw.index_dir = take("index-dir", value, problems);
    }
    if let Some(value) = table.remove("retention-days") {
        raw.retention_days = take("retention-days", value, problems);
    }
    if let Some(value) = table.remove("dashboard") {
        raw.dashboard = take("dashboard", value, problems);
    }
    if let Some(value) = table.remove("sentiment") {
        raw.sentiment = take("sentiment", value, problems);
    }
    if let Some(value) = table.remove("privacy") {
        raw.privacy = take("privacy", value, problems);
    }
    if let Some(value) = table.remove("alerts") {
        raw.alerts = take("alerts", value, problems);
    }
    if let Some(value) = table.remove("spikes") {
        raw.spikes = take("spikes", value, problems);
    }
    if let Some(value) = table.remove("influence") {
        raw.influence = take("influence", value, problems);
    }
    raw.brands = take_array("brands", table.remove("brands"), problems);
    raw.axes = take_array("axes", table.remove("axes"), problems);
    raw.teams = take_array("teams", table.remove("teams"), problems);
    raw.rules = take_array("rules", table.remove("rules"), problems);
    raw.sources = take_array("sources", table.remove("sources"), problems);
    Some(raw)
}

/// Deserializes one value, recording a problem at `path` when it does not fit.
fn take<T: DeserializeOwned>(
    path: &str,
    value: toml::Value,
    problems: &mut Vec<String>,
) -> Option<T> {
    match value.try_into::<T>() {
        Ok(parsed) => Some(parsed),
        Err(error) => {
            let message = error.to_string();
            let message = message.trim_end();
            problems.push(format!("{path}: {message}"));
            None
        }
    }
}

/// Deserializes an array of tables element by element, so each bad element is reported.
/// Each element keeps its position in the file, for the key paths of later problems.
fn take_array<T: DeserializeOwned>(
    path: &str,
    value: Option<toml::Value>,
    problems: &mut Vec<String>,
) -> Vec<(usize, T)> {
    let Some(value) = value else {
        return Vec::new();
    };
    let toml::Value::Array(elements) = value else {
        problems.push(format!("{path}: must be an array of tables (`[[{path}]]`)"));
        return Vec::new();
    };
    let mut parsed = Vec::with_capacity(elements.len());
    for (position, element) in elements.into_iter().enumerate() {
        let element_path = format!("{path}[{position}]");
        let before = problems.len();
        if let Some(value) = take::<T>(&element_path, element, problems)
            && problems.len() == before
        {
            parsed.push((position, value));
        }
    }
    parsed
}
