//! Bias offsets for macro-F1: one-vs-rest classifiers trained with class balance still
//! draw their boundaries where the squared hinge loss puts them, not where the F1 of the
//! rarer labels is best. This module measures every label's margins on examples the model
//! did not see (k-fold, out of fold) and picks a per-label offset of the biases that
//! maximises macro-F1 on them; the offsets are then added to the final model's biases.
//!
//! Deterministic: the same examples and configuration give the same offsets.

use super::train::{Example, TrainConfig, TrainError, train};
use super::{LinearModel, MAX_LABELS, best_label};

/// The offsets tried for one label, either side of 0.
const STEP: f32 = 0.02;
const REACH: i32 = 50;
/// Coordinate-ascent rounds over the labels.
const ROUNDS: usize = 3;

/// One held-out example: its label margins and its gold label.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub margins: Vec<f32>,
    pub gold: usize,
}

/// The margins of every example for which `scored_example(index)` holds, each from a model
/// trained on the `folds - 1` folds without it (example `i` is in fold `i % folds`; every
/// example trains the models of the other folds).
pub fn out_of_fold(
    axis: &str,
    labels: &[String],
    examples: &[Example],
    config: &TrainConfig,
    folds: usize,
    scored_example: &dyn Fn(usize) -> bool,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<Scored>, TrainError> {
    let folds = folds.max(2);
    let mut scored = Vec::new();
    for fold in 0..folds {
        let training: Vec<Example> = examples
            .iter()
            .enumerate()
            .filter(|(index, _)| index % folds != fold)
            .map(|(_, example)| example.clone())
            .collect();
        let model = train(axis, labels.to_vec(), training, config, &mut |_| {})?;
        for (index, example) in examples.iter().enumerate() {
            if index % folds == fold && scored_example(index) {
                scored.push(Scored {
                    margins: margins(&model, &example.vector),
                    gold: example.label,
                });
            }
        }
        progress(&format!("bias tuning: fold {}/{folds} scored", fold + 1));
    }
    Ok(scored)
}

fn margins(model: &LinearModel, raw: &[(u32, f32)]) -> Vec<f32> {
    let mut margins = [0.0f32; MAX_LABELS];
    let labels = model.margins_raw(raw, &mut margins);
    margins[..labels].to_vec()
}

/// Per-label offsets (the first label's is 0) maximising the macro-F1 of `scored` when
/// added to the margins, by coordinate ascent over a grid of ±1 in steps of 0.02; among
/// equal scores the offset nearest 0 wins. Empty input gives zeros.
pub fn macro_f1_offsets(scored: &[Scored], labels: usize) -> Vec<f32> {
    let mut offsets = vec![0.0f32; labels];
    let mut best = macro_f1(scored, &offsets, labels);
    for _ in 0..ROUNDS {
        let before = best;
        for label in 1..labels {
            let kept = offsets[label];
            let mut chosen = kept;
            for step in -REACH..=REACH {
                offsets[label] = step as f32 * STEP;
                let f1 = macro_f1(scored, &offsets, labels);
                let nearer = offsets[label].abs() < chosen.abs();
                if f1 > best || (f1 == best && nearer) {
                    best = f1;
                    chosen = offsets[label];
                }
            }
            offsets[label] = chosen;
        }
        if best <= before {
            break;
        }
    }
    offsets
}

/// Macro-F1 over the gold labels present, with `offsets` added to the margins (by label
/// index, without the name-keyed tally of [`super::metrics`]: the offset search calls it
/// thousands of times).
pub fn macro_f1(scored: &[Scored], offsets: &[f32], labels: usize) -> f64 {
    let mut true_positives = vec![0usize; labels];
    let mut predicted = vec![0usize; labels];
    let mut gold = vec![0usize; labels];
    let mut shifted = Vec::with_capacity(labels);
    for example in scored {
        shifted.clear();
        shifted.extend(example.margins.iter().zip(offsets).map(|(m, o)| m + o));
        let label = best_label(&shifted);
        if let (Some(p), Some(g)) = (predicted.get_mut(label), gold.get_mut(example.gold)) {
            *p += 1;
            *g += 1;
            if label == example.gold {
                true_positives[label] += 1;
            }
        }
    }
    let present: Vec<usize> = (0..labels).filter(|&label| gold[label] > 0).collect();
    if present.is_empty() {
        return 0.0;
    }
    let sum: f64 = present
        .iter()
        .map(|&label| {
            let denominator = predicted[label] + gold[label];
            if denominator == 0 {
                0.0
            } else {
                2.0 * true_positives[label] as f64 / denominator as f64
            }
        })
        .sum();
    sum / present.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(margins: &[f32], gold: usize) -> Scored {
        Scored {
            margins: margins.to_vec(),
            gold,
        }
    }

    #[test]
    fn macro_f1_counts_like_the_definition() {
        let examples = [
            scored(&[1.0, 0.0], 0),
            scored(&[1.0, 0.0], 1),
            scored(&[0.0, 1.0], 1),
        ];
        // Label 0: P 1/2, R 1 → F1 2/3; label 1: P 1, R 1/2 → F1 2/3.
        let f1 = macro_f1(&examples, &[0.0, 0.0], 2);
        assert!((f1 - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn offsets_move_a_boundary_the_margins_put_in_the_wrong_place() {
        // Label 1 is always under-scored by 0.3: the right offset recovers every example.
        let examples: Vec<Scored> = (0..40)
            .map(|i| {
                let x = i as f32 / 40.0 - 0.5;
                let gold = usize::from(x > -0.2);
                scored(&[-x, x - 0.3], gold)
            })
            .collect();
        let before = macro_f1(&examples, &[0.0, 0.0], 2);
        let offsets = macro_f1_offsets(&examples, 2);
        let after = macro_f1(&examples, &offsets, 2);
        assert!(before < 0.9, "{before}");
        assert!((after - 1.0).abs() < 1e-9, "{after} with {offsets:?}");
        assert_eq!(offsets[0], 0.0);
        assert_eq!(macro_f1_offsets(&[], 3), vec![0.0; 3]);
    }
}
