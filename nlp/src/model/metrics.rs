//! Classification metrics: accuracy, per-class precision/recall/F1, macro-F1 and the
//! confusion matrix, from (gold, predicted) label pairs.
//!
//! Labels are names; a gold or predicted label seen only once still gets its row and
//! column. Macro-F1 averages F1 over the gold labels (a label that is only ever predicted
//! adds false positives to the others but no row of its own to the average), as
//! scikit-learn does when given the gold label set.

use std::collections::BTreeMap;

use serde::Serialize;

/// Precision, recall and F1 of one label.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClassScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Gold examples of the label.
    pub support: usize,
}

/// The scores of a set of predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_class: BTreeMap<String, ClassScores>,
    /// `confusion[gold][predicted]` = count.
    pub confusion: BTreeMap<String, BTreeMap<String, usize>>,
    pub examples: usize,
}

/// Accumulates (gold, predicted) pairs.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    confusion: BTreeMap<String, BTreeMap<String, usize>>,
    predicted_only: BTreeMap<String, usize>,
    examples: usize,
}

impl Tally {
    pub fn add(&mut self, gold: &str, predicted: &str) {
        *self
            .confusion
            .entry(gold.to_owned())
            .or_default()
            .entry(predicted.to_owned())
            .or_default() += 1;
        *self.predicted_only.entry(predicted.to_owned()).or_default() += 1;
        self.examples += 1;
    }

    pub fn report(&self) -> Report {
        let mut per_class = BTreeMap::new();
        let mut correct = 0;
        for (gold, row) in &self.confusion {
            let support: usize = row.values().sum();
            let true_positives = row.get(gold).copied().unwrap_or(0);
            correct += true_positives;
            let predicted = self.predicted_only.get(gold).copied().unwrap_or(0);
            let precision = ratio(true_positives, predicted);
            let recall = ratio(true_positives, support);
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            per_class.insert(
                gold.clone(),
                ClassScores {
                    precision,
                    recall,
                    f1,
                    support,
                },
            );
        }
        let macro_f1 = if per_class.is_empty() {
            0.0
        } else {
            per_class.values().map(|scores| scores.f1).sum::<f64>() / per_class.len() as f64
        };
        let mut confusion = self.confusion.clone();
        let names: Vec<String> = self
            .confusion
            .keys()
            .chain(self.predicted_only.keys())
            .cloned()
            .collect();
        for row in confusion.values_mut() {
            for name in &names {
                row.entry(name.clone()).or_default();
            }
        }
        Report {
            accuracy: ratio(correct, self.examples),
            macro_f1,
            per_class,
            confusion,
            examples: self.examples,
        }
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_a_hand_computed_example() {
        let mut tally = Tally::default();
        for (gold, predicted) in [
            ("neg", "neg"),
            ("neg", "neg"),
            ("neg", "pos"),
            ("pos", "pos"),
            ("pos", "neg"),
            ("neu", "pos"),
        ] {
            tally.add(gold, predicted);
        }
        let report = tally.report();
        assert!((report.accuracy - 0.5).abs() < 1e-9);
        let neg = report.per_class["neg"];
        assert!((neg.precision - 2.0 / 3.0).abs() < 1e-9);
        assert!((neg.recall - 2.0 / 3.0).abs() < 1e-9);
        let pos = report.per_class["pos"];
        assert!((pos.precision - 1.0 / 3.0).abs() < 1e-9 && (pos.recall - 0.5).abs() < 1e-9);
        assert_eq!(report.per_class["neu"].f1, 0.0);
        let expected_macro = (2.0 / 3.0 + 0.4 + 0.0) / 3.0;
        assert!((report.macro_f1 - expected_macro).abs() < 1e-9);
        assert_eq!(report.confusion["neu"]["pos"], 1);
        assert_eq!(report.confusion["neu"]["neu"], 0);
    }
}
