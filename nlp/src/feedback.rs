//! Label corrections made by people (through `POST /api/posts/{id}/label`): the record kept
//! in the embedded store, and the per-axis accuracy of the analysis on corrected posts.
//!
//! A [`Correction`] keeps the post's text, so `veille train` can learn from it after the
//! post has left the index, and the label the analysis had given, so the accuracy of the
//! analysis on corrected posts can be shown without re-running it. One correction per
//! (axis, post): a new one replaces the old.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The store table holding corrections, keyed by [`Correction::key`].
pub const CORRECTIONS_TABLE: &str = "label_corrections";

/// A label a person set on one axis of one post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    pub post_id: String,
    /// `sentiment`, `intent` or a configured axis.
    pub axis: String,
    /// The right label, as the person says.
    pub label: String,
    /// What the analysis had said (empty when it gave nothing on that axis).
    pub predicted: Vec<String>,
    /// The post's text, for training.
    pub text: String,
    /// Who corrected it, when known.
    #[serde(default)]
    pub by: Option<String>,
    /// RFC 3339 time of the correction.
    pub at: String,
}

impl Correction {
    /// The store key: axis and post id.
    pub fn key(&self) -> String {
        format!("{}\u{1f}{}", self.axis, self.post_id)
    }

    /// The analysis was right: it had given the corrected label.
    pub fn was_right(&self) -> bool {
        self.predicted.contains(&self.label)
    }
}

/// Accuracy of the analysis on the corrected posts of one axis.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AxisAccuracy {
    pub corrected: usize,
    /// Corrections that confirmed the analysis.
    pub right: usize,
    /// `right / corrected`, 0 when nothing was corrected.
    pub accuracy: f64,
}

/// Accuracy per axis, in axis name order.
pub fn accuracy_by_axis<'c>(
    corrections: impl IntoIterator<Item = &'c Correction>,
) -> BTreeMap<String, AxisAccuracy> {
    let mut by_axis: BTreeMap<String, AxisAccuracy> = BTreeMap::new();
    for correction in corrections {
        let entry = by_axis.entry(correction.axis.clone()).or_default();
        entry.corrected += 1;
        entry.right += usize::from(correction.was_right());
    }
    for entry in by_axis.values_mut() {
        entry.accuracy = entry.right as f64 / entry.corrected.max(1) as f64;
    }
    by_axis
}

#[cfg(test)]
mod tests {
    use super::*;

    fn correction(axis: &str, label: &str, predicted: &[&str]) -> Correction {
        Correction {
            post_id: "x:1".into(),
            axis: axis.into(),
            label: label.into(),
            predicted: predicted.iter().map(|p| (*p).to_owned()).collect(),
            text: "t".into(),
            by: None,
            at: "2025-03-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn accuracy_counts_confirmations_per_axis() {
        let corrections = [
            correction("sentiment", "negative", &["negative"]),
            correction("sentiment", "negative", &["neutral"]),
            correction("topic", "billing", &["billing", "outage"]),
        ];
        let accuracy = accuracy_by_axis(&corrections);
        assert_eq!(accuracy["sentiment"].corrected, 2);
        assert!((accuracy["sentiment"].accuracy - 0.5).abs() < 1e-9);
        assert!((accuracy["topic"].accuracy - 1.0).abs() < 1e-9);
        assert_ne!(corrections[0].key(), correction("topic", "x", &[]).key());
    }
}
