//! Validation of the NLP settings beyond brands and axes: the `[sentiment]` model, axis
//! model files and the `[privacy]` section. Model files are loaded here once, so a missing,
//! damaged or mismatched model is a configuration problem reported with its key path, not
//! a start-up crash.

use std::path::{Path, PathBuf};

use nlp::model::LinearModel;
use nlp::{PrivacyConfig, SensitiveAction, SensitiveCategory, SentimentModel};

use super::raw::{RawPrivacy, RawSentiment};

/// Loads and checks a model file for `axis`; `None` (with a problem) if unusable.
fn checked_model(
    key_path: &str,
    axis: &str,
    model: &str,
    base_dir: &Path,
    problems: &mut Vec<String>,
) -> Option<(PathBuf, LinearModel)> {
    let path = base_dir.join(model);
    match LinearModel::load(&path) {
        Ok(loaded) if loaded.meta.axis == axis => Some((path, loaded)),
        Ok(loaded) => {
            problems.push(format!(
                "{key_path}: `{model}` was trained for the axis `{}`, not `{axis}`",
                loaded.meta.axis
            ));
            None
        }
        Err(error) => {
            let mut message = error.to_string();
            if let Some(source) = std::error::Error::source(&error) {
                message = format!("{message}: {source}");
            }
            problems.push(format!("{key_path}: {message}"));
            None
        }
    }
}

/// The model file of axis `name` at `axes[i]`.
pub(super) fn axis_model(
    path: &str,
    name: &str,
    model: &str,
    base_dir: &Path,
    problems: &mut Vec<String>,
) -> Option<PathBuf> {
    checked_model(&format!("{path}.model"), name, model, base_dir, problems).map(|(path, _)| path)
}

/// `[sentiment] model = "builtin" | "lexicon" | FILE`.
pub(super) fn sentiment(
    raw: Option<RawSentiment>,
    base_dir: &Path,
    problems: &mut Vec<String>,
) -> SentimentModel {
    match raw.and_then(|raw| raw.model).as_deref() {
        None | Some("builtin") => SentimentModel::Builtin,
        Some("lexicon") => SentimentModel::Lexicon,
        Some(file) => {
            let Some((path, model)) =
                checked_model("sentiment.model", "sentiment", file, base_dir, problems)
            else {
                return SentimentModel::Builtin;
            };
            for label in ["negative", "neutral", "positive"] {
                if model.label_index(label).is_none() {
                    problems.push(format!(
                        "sentiment.model: `{file}` has no label `{label}` (labels: {})",
                        model.labels().join(", ")
                    ));
                }
            }
            SentimentModel::File(path)
        }
    }
}

/// `[privacy] redact = BOOL` and `[privacy.sensitive] CATEGORY = "flag" | "drop" | "ignore"`.
pub(super) fn privacy(raw: Option<RawPrivacy>, problems: &mut Vec<String>) -> PrivacyConfig {
    let mut config = PrivacyConfig::default();
    let Some(raw) = raw else {
        return config;
    };
    config.redact = raw.redact.unwrap_or(true);
    for (name, action) in raw.sensitive {
        let Some(category) = SensitiveCategory::parse(&name) else {
            let known: Vec<&str> = SensitiveCategory::ALL.iter().map(|c| c.as_str()).collect();
            problems.push(format!(
                "privacy.sensitive.{name}: unknown category (expected one of {})",
                known.join(", ")
            ));
            continue;
        };
        let action = match action.as_str() {
            "flag" => SensitiveAction::Flag,
            "drop" => SensitiveAction::Drop,
            "ignore" => SensitiveAction::Ignore,
            other => {
                problems.push(format!(
                    "privacy.sensitive.{name}: `{other}` is not an action; use `flag`, `drop` or `ignore`"
                ));
                continue;
            }
        };
        config.sensitive.push((category, action));
    }
    config
}
