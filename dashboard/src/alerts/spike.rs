//! Spike detection: the volume of posts per brand, and per brand and category, in fixed
//! windows, against a baseline learnt from the past windows.
//!
//! Each series keeps an exponentially weighted moving average (EWMA) of its window counts
//! and of their variance. When a window closes, its count is compared with
//! `baseline + threshold × max(std dev, 1)`; above it (and at least `min-count`, once
//! `warmup` windows were seen) it is a spike. The alert states the baseline, the standard
//! deviation, the threshold and the observed count, and what drove it: the top terms,
//! authors and sources of the window.
//!
//! Promises: windows are aligned on multiples of their length since the Unix epoch and are
//! closed by the `now` passed in ([`SpikeDetector::observe`], [`SpikeDetector::tick`]),
//! never by reading a clock; empty windows count as zeros (at most [`MAX_CATCH_UP`] of them
//! after a long silence); memory per series and window is bounded.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use nlp::AnalysedPost;
use serde::{Deserialize, Serialize};

use super::{Alert, AlertPost, Lifecycle, Severity, SlaPolicy};

/// Empty windows applied to the baselines after a silence, at most.
pub const MAX_CATCH_UP: u64 = 1_000;
/// Distinct terms, authors or sources counted per series and window, at most.
const MAX_DISTINCT: usize = 500;
/// How many top terms, authors and sources an alert names.
const TOP: usize = 5;

/// Settings of the spike detector (`[spikes]` in the config).
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeConfig {
    pub window: Duration,
    /// Weight of the newest window in the baseline, in (0, 1].
    pub alpha: f64,
    /// How many standard deviations above the baseline is a spike.
    pub threshold: f64,
    /// A window with fewer posts is never a spike.
    pub min_count: u64,
    /// Windows seen before a series may spike.
    pub warmup: u32,
    pub team: String,
    pub severity: Severity,
}

/// What a spike alert says about the spike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpikeDetail {
    pub brand: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub axis: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub observed: u64,
    pub baseline: f64,
    pub std_dev: f64,
    pub threshold: f64,
    pub top_terms: Vec<(String, u32)>,
    pub top_authors: Vec<(String, u32)>,
    pub sources: Vec<(String, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct SeriesKey {
    brand: String,
    category: Option<(String, String)>,
}

#[derive(Debug, Default)]
struct Window {
    count: u64,
    terms: HashMap<String, u32>,
    authors: HashMap<String, u32>,
    sources: HashMap<String, u32>,
    /// The post of the window whose author has the most followers.
    example: Option<(u64, AlertPost, String)>,
}

#[derive(Debug, Default)]
struct Series {
    mean: f64,
    variance: f64,
    windows_seen: u32,
    current: Window,
}

impl Series {
    fn learn(&mut self, count: f64, alpha: f64) {
        if self.windows_seen == 0 {
            self.mean = count;
            self.variance = 0.0;
        } else {
            let difference = count - self.mean;
            let increment = alpha * difference;
            self.mean += increment;
            self.variance = (1.0 - alpha) * (self.variance + difference * increment);
        }
        self.windows_seen = self.windows_seen.saturating_add(1);
    }
}

/// Counts posts per series and window, and raises spike alerts.
#[derive(Debug)]
pub struct SpikeDetector {
    config: SpikeConfig,
    window_start: Option<DateTime<Utc>>,
    series: BTreeMap<SeriesKey, Series>,
}

fn bump(counts: &mut HashMap<String, u32>, key: &str) {
    if let Some(count) = counts.get_mut(key) {
        *count += 1;
    } else if counts.len() < MAX_DISTINCT {
        counts.insert(key.to_owned(), 1);
    }
}

fn top(counts: &HashMap<String, u32>) -> Vec<(String, u32)> {
    let mut entries: Vec<(String, u32)> = counts.iter().map(|(k, v)| (k.clone(), *v)).collect();
    entries.sort_by(|left, right| right.1.cmp(&left.1).then_with(|| left.0.cmp(&right.0)));
    entries.truncate(TOP);
    entries
}

/// Words too common to say what drove a spike.
const STOP_WORDS: [&str; 24] = [
    "this", "that", "with", "have", "from", "what", "when", "they", "your", "just", "been", "were",
    "will", "about", "there", "their", "dans", "pour", "avec", "mais", "plus", "tout", "est-ce",
    "since",
];

fn terms(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\''))
        .filter(|word| word.chars().count() >= 4)
        .map(str::to_lowercase)
        .filter(|word| !STOP_WORDS.contains(&word.as_str()))
}

impl SpikeDetector {
    pub fn new(config: SpikeConfig) -> SpikeDetector {
        SpikeDetector {
            config,
            window_start: None,
            series: BTreeMap::new(),
        }
    }

    fn window_length(&self) -> i64 {
        i64::try_from(self.config.window.as_secs())
            .unwrap_or(i64::MAX)
            .max(1)
    }

    fn aligned(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let length = self.window_length();
        let start = now.timestamp().div_euclid(length) * length;
        Utc.timestamp_opt(start, 0).single().unwrap_or(now)
    }

    /// Counts `post` in the window of `now`, after closing the windows that ended before.
    pub fn observe(
        &mut self,
        post: &AnalysedPost,
        now: DateTime<Utc>,
        sla: &SlaPolicy,
    ) -> Vec<Alert> {
        let alerts = self.tick(now, sla);
        let example = AlertPost::from_analysed(post);
        let followers = post.post.author.followers.unwrap_or(0);
        let author = post
            .post
            .author
            .handle
            .clone()
            .unwrap_or_else(|| post.post.author.id.clone());
        let words: Vec<String> = terms(&post.post.text).collect();
        for brand in &post.analysis.brands {
            let mut keys = vec![SeriesKey {
                brand: brand.brand.clone(),
                category: None,
            }];
            for (axis, categories) in &post.analysis.categories {
                for category in categories {
                    keys.push(SeriesKey {
                        brand: brand.brand.clone(),
                        category: Some((axis.clone(), category.clone())),
                    });
                }
            }
            for key in keys {
                let window = &mut self.series.entry(key).or_default().current;
                window.count += 1;
                for word in &words {
                    bump(&mut window.terms, word);
                }
                bump(&mut window.authors, &author);
                bump(&mut window.sources, post.post.source.as_str());
                if window
                    .example
                    .as_ref()
                    .is_none_or(|(most, _, _)| followers > *most)
                {
                    window.example = Some((followers, example.clone(), post.post.id.to_string()));
                }
            }
        }
        alerts
    }

    /// Closes every window that ended at or before `now`; returns the spikes found.
    pub fn tick(&mut self, now: DateTime<Utc>, sla: &SlaPolicy) -> Vec<Alert> {
        let current = self.aligned(now);
        let Some(start) = self.window_start else {
            self.window_start = Some(current);
            return Vec::new();
        };
        if current <= start {
            return Vec::new();
        }
        let length = self.window_length();
        let end = start + chrono::Duration::seconds(length);
        let mut alerts = Vec::new();
        for (key, series) in &mut self.series {
            let window = std::mem::take(&mut series.current);
            if let Some(alert) = Self::judge(&self.config, key, series, &window, start, end, sla) {
                alerts.push(alert);
            }
            series.learn(window.count as f64, self.config.alpha);
        }
        // Windows after the closed one and before the current one were empty.
        let empty = ((current - end).num_seconds() / length).clamp(0, MAX_CATCH_UP as i64);
        for series in self.series.values_mut() {
            for _ in 0..empty {
                series.learn(0.0, self.config.alpha);
            }
        }
        self.window_start = Some(current);
        alerts
    }

    fn judge(
        config: &SpikeConfig,
        key: &SeriesKey,
        series: &Series,
        window: &Window,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        sla: &SlaPolicy,
    ) -> Option<Alert> {
        let std_dev = series.variance.max(0.0).sqrt();
        let limit = series.mean + config.threshold * std_dev.max(1.0);
        let observed = window.count;
        if series.windows_seen < config.warmup
            || observed < config.min_count
            || (observed as f64) <= limit
        {
            return None;
        }
        let (_, post, post_id) = window.example.clone()?;
        let (axis, category) = match &key.category {
            Some((axis, category)) => (Some(axis.clone()), Some(category.clone())),
            None => (None, None),
        };
        let scope = match (&axis, &category) {
            (Some(axis), Some(category)) => format!("{} / {axis} {category}", key.brand),
            _ => key.brand.clone(),
        };
        let detail = SpikeDetail {
            brand: key.brand.clone(),
            axis,
            category,
            window_start: start,
            window_end: end,
            observed,
            baseline: series.mean,
            std_dev,
            threshold: limit,
            top_terms: top(&window.terms),
            top_authors: top(&window.authors),
            sources: top(&window.sources),
        };
        let named = |entries: &[(String, u32)]| -> String {
            let parts: Vec<String> = entries
                .iter()
                .map(|(name, n)| format!("{name} ({n})"))
                .collect();
            parts.join(", ")
        };
        let reason = format!(
            "spike: {observed} posts about {scope} in {} min, baseline {:.1} ± {:.1} \
             (alert above {:.1}); top terms: {}; top authors: {}; sources: {}",
            config.window.as_secs() / 60,
            detail.baseline,
            detail.std_dev,
            detail.threshold,
            named(&detail.top_terms),
            named(&detail.top_authors),
            named(&detail.sources),
        );
        let scope_id = scope.replace(' ', "");
        Some(Alert {
            id: format!("spike:{scope_id}:{}", start.timestamp()),
            rule: "spike".to_owned(),
            team: config.team.clone(),
            severity: config.severity,
            post_id,
            brands: vec![key.brand.clone()],
            reason,
            created_at: end,
            post,
            lifecycle: Lifecycle::started(sla, config.severity, end),
            group: Vec::new(),
            spike: Some(Box::new(detail)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{PostBuilder, instant};

    fn new_detector() -> SpikeDetector {
        SpikeDetector::new(SpikeConfig {
            window: Duration::from_secs(300),
            alpha: 0.3,
            threshold: 3.0,
            min_count: 5,
            warmup: 3,
            team: "managers".to_owned(),
            severity: Severity::High,
        })
    }

    /// `count` outage posts about Lumio in the window starting `window` windows after
    /// `instant(0)` rounded down.
    fn feed(detector: &mut SpikeDetector, window: i64, count: usize, alerts: &mut Vec<Alert>) {
        for number in 0..count {
            let post = PostBuilder::new(&format!("x:{window}-{number}"))
                .text("Lumio fibre down again, no signal since noon")
                .author(&format!("@user{}", number % 3), "User")
                .followers(10 * number as u64)
                .brand("Lumio")
                .category("topic", "outage")
                .build();
            let at = instant(window * 300 + number as i64);
            alerts.extend(detector.observe(&post, at, &SlaPolicy::default()));
        }
    }

    #[test]
    fn a_burst_against_a_quiet_baseline_is_a_spike_that_explains_itself() {
        let mut detector = new_detector();
        let mut alerts = Vec::new();
        // Quiet: 1 or 2 posts per window for 6 windows (instant(0) is mid-window).
        for window in 1..=6 {
            feed(
                &mut detector,
                window,
                1 + (window as usize % 2),
                &mut alerts,
            );
        }
        assert!(alerts.is_empty(), "no spike while quiet: {alerts:?}");
        feed(&mut detector, 7, 12, &mut alerts);
        assert!(alerts.is_empty(), "the window is not closed yet");
        alerts.extend(detector.tick(instant(8 * 300 + 1), &SlaPolicy::default()));
        let scopes: Vec<&str> = alerts.iter().map(|alert| alert.id.as_str()).collect();
        assert_eq!(scopes.len(), 2, "brand and brand/category: {scopes:?}");
        let spike = alerts
            .iter()
            .find(|alert| alert.spike.as_ref().is_some_and(|d| d.category.is_some()))
            .expect("category spike");
        let detail = spike.spike.as_ref().expect("detail");
        assert_eq!(detail.observed, 12);
        assert!(
            detail.baseline > 1.0 && detail.baseline < 2.0,
            "{}",
            detail.baseline
        );
        assert!(detail.threshold < 12.0);
        assert_eq!(detail.axis.as_deref(), Some("topic"));
        assert_eq!(detail.top_terms[0].1, 12);
        assert!(detail.top_terms.iter().any(|(term, _)| term == "fibre"));
        assert_eq!(detail.top_authors.len(), 3);
        assert_eq!(detail.sources, [("x".to_owned(), 12)]);
        assert_eq!(spike.team, "managers");
        assert_eq!(spike.post.followers, Some(110), "the loudest author's post");
        assert!(
            spike
                .reason
                .starts_with("spike: 12 posts about Lumio / topic outage in 5 min")
        );
    }

    #[test]
    fn no_spike_before_warmup_or_below_the_minimum() {
        let mut detector = new_detector();
        let mut alerts = Vec::new();
        feed(&mut detector, 1, 0, &mut alerts);
        feed(&mut detector, 2, 30, &mut alerts);
        alerts.extend(detector.tick(instant(3 * 300), &SlaPolicy::default()));
        assert!(alerts.is_empty(), "only one window seen before the burst");

        let mut detector = new_detector();
        feed(&mut detector, 1, 1, &mut alerts);
        for window in 2..=6 {
            alerts.extend(detector.tick(instant(window * 300), &SlaPolicy::default()));
        }
        feed(&mut detector, 6, 4, &mut alerts);
        alerts.extend(detector.tick(instant(7 * 300), &SlaPolicy::default()));
        assert!(alerts.is_empty(), "4 posts is below min-count");
    }

    #[test]
    fn a_steady_high_volume_is_not_a_spike() {
        let mut detector = new_detector();
        let mut alerts = Vec::new();
        for window in 1..=10 {
            feed(&mut detector, window, 20, &mut alerts);
        }
        alerts.extend(detector.tick(instant(11 * 300), &SlaPolicy::default()));
        assert!(alerts.is_empty(), "{alerts:?}");
    }

    #[test]
    fn silent_windows_lower_the_baseline() {
        let mut detector = new_detector();
        let mut alerts = Vec::new();
        for window in 1..=5 {
            feed(&mut detector, window, 8, &mut alerts);
        }
        // A long silence, then the same volume as before is a spike again.
        alerts.extend(detector.tick(instant(60 * 300), &SlaPolicy::default()));
        assert!(alerts.is_empty());
        feed(&mut detector, 60, 8, &mut alerts);
        alerts.extend(detector.tick(instant(61 * 300), &SlaPolicy::default()));
        assert_eq!(alerts.len(), 2, "{alerts:?}");
    }
}
