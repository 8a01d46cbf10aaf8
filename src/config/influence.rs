//! The `[influence]` section: settings of the mass connector / mass maven tracker
//! ([`nlp::influence::InfluenceConfig`]), every value checked.

use nlp::influence::InfluenceConfig;
use serde::Deserialize;

/// Largest memory budget accepted, in MiB (a typo guard: 64 GiB).
const MAX_MEMORY_BUDGET_MB: u64 = 64 * 1024;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawInfluence {
    share: Option<f64>,
    window_days: Option<u32>,
    memory_budget_mb: Option<u64>,
}

/// The tracker's settings; defaults for what is not written. Problems are pushed.
pub(super) fn validate(raw: Option<RawInfluence>, problems: &mut Vec<String>) -> InfluenceConfig {
    let defaults = InfluenceConfig::default();
    let raw = raw.unwrap_or_default();
    let share = raw.share.unwrap_or(defaults.share);
    if !(share > 0.0 && share <= 1.0) {
        problems.push(format!(
            "influence.share: {share} must be above 0 and at most 1 (0.8 means 80 %)"
        ));
    }
    let window_days = raw.window_days.unwrap_or(defaults.window_days);
    if window_days == 0 {
        problems.push("influence.window-days: must be at least 1".to_owned());
    }
    let memory_budget = match raw.memory_budget_mb {
        None => defaults.memory_budget,
        Some(megabytes) if (1..=MAX_MEMORY_BUDGET_MB).contains(&megabytes) => {
            usize::try_from(megabytes * 1024 * 1024).unwrap_or(usize::MAX)
        }
        Some(megabytes) => {
            problems.push(format!(
                "influence.memory-budget-mb: {megabytes} must be between 1 and \
                 {MAX_MEMORY_BUDGET_MB}"
            ));
            defaults.memory_budget
        }
    };
    InfluenceConfig {
        share,
        window_days,
        memory_budget,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (InfluenceConfig, Vec<String>) {
        let raw: RawInfluence = toml::from_str(text).expect("valid shape");
        let mut problems = Vec::new();
        let config = validate(Some(raw), &mut problems);
        (config, problems)
    }

    #[test]
    fn defaults_and_values() {
        let mut problems = Vec::new();
        assert_eq!(validate(None, &mut problems), InfluenceConfig::default());
        let (config, problems) = parse("share = 0.5\nwindow-days = 7\nmemory-budget-mb = 16");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(config.share, 0.5);
        assert_eq!(config.window_days, 7);
        assert_eq!(config.memory_budget, 16 * 1024 * 1024);
    }

    #[test]
    fn every_bad_value_is_reported() {
        let (_, problems) = parse("share = 1.5\nwindow-days = 0\nmemory-budget-mb = 0");
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("influence.share"));
        let (_, problems) = parse("share = 0.0");
        assert_eq!(problems.len(), 1);
    }
}
