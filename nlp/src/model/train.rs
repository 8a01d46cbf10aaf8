//! Training a [`LinearModel`]: one-vs-rest linear SVMs (squared hinge loss, L2
//! regularisation) fitted by dual coordinate descent (Hsieh et al., ICML 2008), the method
//! behind LIBLINEAR. Deterministic: the same examples, configuration and seed give the
//! same model, bit for bit.
//!
//! In: examples as un-weighted feature vectors ([`super::features::extract`] without IDF)
//! with a label index. Out: a model whose IDF weights (if configured) are learnt from the
//! examples' document frequencies, and whose biases are learnt like any weight (a constant
//! feature of value 1, as LIBLINEAR does).

use super::features::{FeatureConfig, SparseVector, apply_idf, normalise};
use super::{LinearModel, MAX_LABELS, ModelMeta};

/// How to train.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub features: FeatureConfig,
    /// Inverse regularisation strength: larger fits the training data more closely.
    pub c: f32,
    /// Weigh each class by the inverse of its frequency (better macro-F1 on skewed data).
    pub balanced: bool,
    /// Passes over the data at most (per label).
    pub max_epochs: usize,
    /// Stop when the projected-gradient spread falls below this.
    pub tolerance: f32,
    pub seed: u64,
    /// NB-SVM (Wang and Manning, ACL 2012): each binary classifier sees its features
    /// scaled by their log-count ratio between the label's examples and the others'; the
    /// ratios are folded into the saved weights, so prediction is unchanged.
    pub nb_scaling: bool,
}

impl Default for TrainConfig {
    fn default() -> TrainConfig {
        TrainConfig {
            features: FeatureConfig::default(),
            c: 0.5,
            balanced: true,
            max_epochs: 40,
            tolerance: 0.1,
            seed: 42,
            nb_scaling: false,
        }
    }
}

/// Why a model could not be trained.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrainError {
    #[error("no examples to train on")]
    NoExamples,
    #[error("{0} labels: a model needs 2 to {MAX_LABELS}")]
    LabelCount(usize),
    #[error("example {index} has label {label}, but there are only {labels} labels")]
    BadLabel {
        index: usize,
        label: usize,
        labels: usize,
    },
}

/// One training example.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// Features without IDF weighting.
    pub vector: SparseVector,
    pub label: usize,
    /// How much this example counts (1 for most; more for a scarce source).
    pub weight: f32,
}

/// Trains a model for `axis` with `labels` on `examples`. `progress` is told what happens.
pub fn train(
    axis: &str,
    labels: Vec<String>,
    mut examples: Vec<Example>,
    config: &TrainConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<LinearModel, TrainError> {
    let label_count = labels.len();
    if !(2..=MAX_LABELS).contains(&label_count) {
        return Err(TrainError::LabelCount(label_count));
    }
    if examples.is_empty() {
        return Err(TrainError::NoExamples);
    }
    if let Some((index, example)) = examples
        .iter()
        .enumerate()
        .find(|(_, example)| example.label >= label_count)
    {
        return Err(TrainError::BadLabel {
            index,
            label: example.label,
            labels: label_count,
        });
    }
    let buckets = config.features.buckets();
    let idf = if config.features.idf {
        let idf = document_idf(&examples, buckets);
        for example in &mut examples {
            reweight(&mut example.vector, &idf);
        }
        idf
    } else {
        Vec::new()
    };
    let class_weights = class_weights(&examples, label_count, config.balanced);
    let columns: Vec<Vec<f32>> = std::thread::scope(|scope| {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut columns = Vec::with_capacity(label_count);
        for chunk_start in (0..label_count).step_by(workers) {
            let handles: Vec<_> = (chunk_start..(chunk_start + workers).min(label_count))
                .map(|label| {
                    let (examples, class_weights) = (&examples, &class_weights);
                    scope.spawn(move || binary_svm(examples, label, class_weights, buckets, config))
                })
                .collect();
            for handle in handles {
                columns.push(handle.join().unwrap_or_else(|_| vec![0.0; buckets + 1]));
            }
            progress(&format!("trained {}/{label_count} labels", columns.len()));
        }
        columns
    });
    let mut weights = vec![0.0f32; (buckets + 1) * label_count];
    for (label, column) in columns.iter().enumerate() {
        for (bucket, weight) in column.iter().enumerate() {
            weights[bucket * label_count + label] = *weight;
        }
    }
    Ok(LinearModel::new(
        ModelMeta {
            axis: axis.to_owned(),
            labels,
            features: config.features,
            provenance: String::new(),
        },
        idf,
        weights,
    ))
}

/// Smoothed inverse document frequency per bucket: `ln((1 + n) / (1 + df)) + 1`.
fn document_idf(examples: &[Example], buckets: usize) -> Vec<f32> {
    let mut document_frequency = vec![0u32; buckets];
    for example in examples {
        for &(bucket, _) in &example.vector {
            if let Some(count) = document_frequency.get_mut(bucket as usize) {
                *count += 1;
            }
        }
    }
    let documents = examples.len() as f32;
    document_frequency
        .into_iter()
        .map(|df| ((1.0 + documents) / (1.0 + df as f32)).ln() + 1.0)
        .collect()
}

/// Applies IDF weights to an L2-normalised vector and normalises it again: the same as
/// extracting it with those weights.
pub fn reweight(vector: &mut SparseVector, idf: &[f32]) {
    apply_idf(vector, idf);
    normalise(vector);
}

fn class_weights(examples: &[Example], labels: usize, balanced: bool) -> Vec<f32> {
    if !balanced {
        return vec![1.0; labels];
    }
    let mut counts = vec![0.0f32; labels];
    for example in examples {
        counts[example.label] += example.weight;
    }
    let total: f32 = counts.iter().sum();
    counts
        .into_iter()
        .map(|count| {
            if count <= 0.0 {
                1.0
            } else {
                total / (labels as f32 * count)
            }
        })
        .collect()
}

/// The weights (biases last) separating `label` from the others.
fn binary_svm(
    examples: &[Example],
    label: usize,
    class_weights: &[f32],
    buckets: usize,
    config: &TrainConfig,
) -> Vec<f32> {
    let bias = buckets;
    let ratios = if config.nb_scaling {
        log_count_ratios(examples, label, buckets)
    } else {
        Vec::new()
    };
    let scale = |bucket: u32| ratios.get(bucket as usize).copied().unwrap_or(1.0);
    let mut weights = vec![0.0f32; buckets + 1];
    let mut alphas = vec![0.0f32; examples.len()];
    let diagonals: Vec<f32> = examples
        .iter()
        .map(|example| {
            1.0 / (2.0 * config.c * class_weights[example.label] * example.weight.max(1e-3))
        })
        .collect();
    let squared_norms: Vec<f32> = examples
        .iter()
        .zip(&diagonals)
        .map(|(example, diagonal)| {
            example
                .vector
                .iter()
                .map(|&(bucket, v)| (v * scale(bucket)).powi(2))
                .sum::<f32>()
                + 1.0
                + diagonal
        })
        .collect();
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut random = SplitMix(config.seed ^ (label as u64).wrapping_mul(0x9E37_79B9));
    for _ in 0..config.max_epochs {
        shuffle(&mut order, &mut random);
        let (mut max_gradient, mut min_gradient) = (f32::NEG_INFINITY, f32::INFINITY);
        for &index in &order {
            let example = &examples[index];
            let sign = if example.label == label { 1.0 } else { -1.0 };
            let mut margin = weights[bias];
            for &(bucket, value) in &example.vector {
                margin += weights[bucket as usize] * value * scale(bucket);
            }
            let alpha = alphas[index];
            let gradient = sign * margin - 1.0 + diagonals[index] * alpha;
            let projected = if alpha == 0.0 {
                gradient.min(0.0)
            } else {
                gradient
            };
            max_gradient = max_gradient.max(projected);
            min_gradient = min_gradient.min(projected);
            if projected.abs() > 1e-12 {
                let updated = (alpha - gradient / squared_norms[index]).max(0.0);
                alphas[index] = updated;
                let step = (updated - alpha) * sign;
                for &(bucket, value) in &example.vector {
                    weights[bucket as usize] += step * value * scale(bucket);
                }
                weights[bias] += step;
            }
        }
        if max_gradient - min_gradient < config.tolerance {
            break;
        }
    }
    // Fold the scaling into the weights: w · (r ∘ x) = (w ∘ r) · x.
    for (weight, ratio) in weights.iter_mut().zip(&ratios) {
        *weight *= ratio;
    }
    weights
}

/// NB-SVM's log-count ratios for `label` against the rest: `ln((p_j / |p|) / (q_j / |q|))`
/// where `p_j` (`q_j`) counts the weighted examples of the label (of the others) having
/// feature `j`, plus one.
fn log_count_ratios(examples: &[Example], label: usize, buckets: usize) -> Vec<f32> {
    let (mut positive, mut negative) = (vec![1.0f64; buckets], vec![1.0f64; buckets]);
    for example in examples {
        let counts = if example.label == label {
            &mut positive
        } else {
            &mut negative
        };
        for &(bucket, _) in &example.vector {
            if let Some(count) = counts.get_mut(bucket as usize) {
                *count += f64::from(example.weight);
            }
        }
    }
    let (positive_total, negative_total) =
        (positive.iter().sum::<f64>(), negative.iter().sum::<f64>());
    positive
        .iter()
        .zip(&negative)
        .map(|(p, q)| ((p / positive_total) / (q / negative_total)).ln() as f32)
        .collect()
}

/// SplitMix64: a tiny deterministic generator for shuffling.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Fisher–Yates.
fn shuffle(items: &mut [usize], random: &mut SplitMix) {
    for i in (1..items.len()).rev() {
        let j = (random.next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(buckets: &[u32], label: usize) -> Example {
        let value = 1.0 / (buckets.len() as f32).sqrt();
        Example {
            vector: buckets.iter().map(|&bucket| (bucket, value)).collect(),
            label,
            weight: 1.0,
        }
    }

    fn config() -> TrainConfig {
        TrainConfig {
            features: FeatureConfig {
                bits: 8,
                idf: false,
                ..FeatureConfig::default()
            },
            c: 10.0,
            ..TrainConfig::default()
        }
    }

    #[test]
    fn separable_data_is_learnt_and_training_is_deterministic() {
        let examples = vec![
            example(&[1, 2], 0),
            example(&[1, 3], 0),
            example(&[4, 5], 1),
            example(&[4, 6], 1),
            example(&[7, 8], 2),
            example(&[7, 9], 2),
        ];
        let labels = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let model = train(
            "x",
            labels.clone(),
            examples.clone(),
            &config(),
            &mut |_| {},
        )
        .unwrap();
        for example in &examples {
            assert_eq!(model.predict(&example.vector).label, example.label);
        }
        let again = train("x", labels, examples, &config(), &mut |_| {}).unwrap();
        assert_eq!(model, again);
    }

    #[test]
    fn nb_scaled_training_learns_and_folds_the_ratios_into_the_weights() {
        let examples = vec![
            example(&[1, 2], 0),
            example(&[1, 3], 0),
            example(&[4, 5], 1),
            example(&[4, 6], 1),
            example(&[7, 8], 2),
            example(&[7, 9], 2),
        ];
        let labels = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let nb = TrainConfig {
            nb_scaling: true,
            ..config()
        };
        let model = train("x", labels, examples.clone(), &nb, &mut |_| {}).unwrap();
        for example in &examples {
            assert_eq!(model.predict(&example.vector).label, example.label);
        }
        let plain = train(
            "x",
            vec!["a".into(), "b".into(), "c".into()],
            examples,
            &config(),
            &mut |_| {},
        )
        .unwrap();
        assert_ne!(model, plain);
    }

    #[test]
    fn bad_input_is_an_error() {
        let labels = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(
            train("x", labels.clone(), Vec::new(), &config(), &mut |_| {}),
            Err(TrainError::NoExamples)
        );
        assert_eq!(
            train(
                "x",
                vec!["a".into()],
                vec![example(&[1], 0)],
                &config(),
                &mut |_| {}
            ),
            Err(TrainError::LabelCount(1))
        );
        assert!(matches!(
            train("x", labels, vec![example(&[1], 5)], &config(), &mut |_| {}),
            Err(TrainError::BadLabel { label: 5, .. })
        ));
    }
}
