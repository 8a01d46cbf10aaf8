//! Trainable linear classifiers: one [`LinearModel`] per axis (sentiment, intent, topic...).
//!
//! A model scores a post's hashed feature vector ([`features`]) against each of its labels
//! (`margin = w_label · x + b_label`) and picks the highest. It is trained by
//! [`train::train`] (one-vs-rest linear SVM, dual coordinate descent) and saved in a small
//! binary format ([`mod@format`]) that records the axis, the labels, the feature configuration
//! and the format version, so a model file can be checked against the axis it is used on.
//!
//! Promises: prediction never panics and never allocates beyond the caller's buffer; the
//! same text always gets the same label; a saved and reloaded model predicts exactly what
//! it did before saving.

pub mod bias_tuning;
mod bridge;
mod bucket_set;
pub mod features;
pub mod featurizer;
pub mod format;
pub mod metrics;
pub mod train;

use serde::{Deserialize, Serialize};

pub use features::{FeatureConfig, SparseVector};
pub use featurizer::Featurizer;
pub use format::ModelError;
pub use train::{Example, TrainConfig, TrainError};

/// What a model file says about itself (stored as JSON in its header).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// The axis the model labels (`sentiment`, `intent`, `topic`...).
    pub axis: String,
    /// Label names, in the order of the weight columns.
    pub labels: Vec<String>,
    pub features: FeatureConfig,
    /// How the model was made: data, command, date (free text, for people).
    #[serde(default)]
    pub provenance: String,
}

/// A trained linear model.
#[derive(Clone, PartialEq)]
pub struct LinearModel {
    pub meta: ModelMeta,
    /// One IDF weight per bucket, when `meta.features.idf`.
    pub(crate) idf: Vec<f32>,
    /// Bucket-major weights: `weights[bucket * labels + label]`; the biases follow the last
    /// bucket.
    pub(crate) weights: Vec<f32>,
    /// The same numbers laid out for prediction: one row of `labels + 1` numbers per
    /// bucket, its IDF weight (1 without IDF) then its label weights, so that one memory
    /// access (one cache line) serves a feature; built by [`LinearModel::new`]. 16-bit
    /// fixed point (the IDF weights and the label weights each scaled by their largest
    /// magnitude): half the memory of `f32`, so more of the rows stay in the CPU caches,
    /// and margins within ~5e-4 of the exact ones (no label changed on the golden posts).
    packed: Vec<i16>,
    /// What one unit of a packed IDF weight and of a packed label weight is worth.
    packed_scales: [f32; 2],
}

impl std::fmt::Debug for LinearModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinearModel")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// The prediction rows of [`LinearModel`]: per bucket, its IDF weight (1 without IDF) then
/// its `labels` weights, in 16-bit fixed point; with what one unit of an IDF weight and of
/// a label weight is worth. Non-finite numbers become 0.
fn pack_rows(idf: &[f32], weights: &[f32], buckets: usize, labels: usize) -> (Vec<i16>, [f32; 2]) {
    let idf_scale = fixed_point_scale(idf.iter().copied().chain([1.0]));
    let weight_scale = fixed_point_scale(weights.iter().take(buckets * labels).copied());
    let mut packed = Vec::with_capacity(buckets * (labels + 1));
    for bucket in 0..buckets {
        let idf = idf.get(bucket).copied().unwrap_or(1.0);
        packed.push(to_fixed_point(idf, idf_scale));
        let start = bucket * labels;
        match weights.get(start..start + labels) {
            Some(row) => packed.extend(
                row.iter()
                    .map(|&weight| to_fixed_point(weight, weight_scale)),
            ),
            None => packed.extend(std::iter::repeat_n(0, labels)),
        }
    }
    (packed, [idf_scale, weight_scale])
}

/// The value of one 16-bit unit for `values`: their largest finite magnitude is `i16::MAX`
/// units (1 when they are all zero).
fn fixed_point_scale(values: impl Iterator<Item = f32>) -> f32 {
    let largest = values
        .filter(|value| value.is_finite())
        .fold(0.0f32, |largest, value| largest.max(value.abs()));
    if largest > 0.0 {
        largest / f32::from(i16::MAX)
    } else {
        1.0
    }
}

/// `value` in units of `scale`, rounded; 0 when not finite.
fn to_fixed_point(value: f32, scale: f32) -> i16 {
    let units = (value / scale).round();
    if units.is_finite() {
        // In range after the clamp: the cast only drops the fraction, already 0.
        units.clamp(-f32::from(i16::MAX), f32::from(i16::MAX)) as i16
    } else {
        0
    }
}

/// A model's verdict on one post.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// Index into the model's labels.
    pub label: usize,
    /// Softmax of the margins: a confidence in `[0, 1]`, not a calibrated probability.
    pub confidence: f32,
}

/// The most labels a model may have.
pub const MAX_LABELS: usize = 64;

impl LinearModel {
    /// A model from its parts (`idf` empty or one per bucket; `weights` as the field says).
    pub(crate) fn new(meta: ModelMeta, idf: Vec<f32>, weights: Vec<f32>) -> LinearModel {
        let labels = meta.labels.len();
        let buckets = meta.features.buckets();
        let (packed, packed_scales) = pack_rows(&idf, &weights, buckets, labels);
        LinearModel {
            meta,
            idf,
            weights,
            packed,
            packed_scales,
        }
    }

    /// Adds `offsets[label]` to each label's bias (labels without an offset keep theirs).
    pub fn shift_biases(&mut self, offsets: &[f32]) {
        let labels = self.meta.labels.len();
        let bias_at = self.meta.features.buckets() * labels;
        if let Some(biases) = self.weights.get_mut(bias_at..bias_at + labels) {
            for (bias, offset) in biases.iter_mut().zip(offsets) {
                *bias += offset;
            }
        }
    }

    /// The label names.
    pub fn labels(&self) -> &[String] {
        &self.meta.labels
    }

    /// The IDF weights, if the model uses them.
    pub fn idf(&self) -> Option<&[f32]> {
        self.meta.features.idf.then_some(self.idf.as_slice())
    }

    /// Writes the margin of each label for `vector` into `margins` (resized to the labels).
    pub fn margins(&self, vector: &[(u32, f32)], margins: &mut [f32; MAX_LABELS]) -> usize {
        let labels = self.meta.labels.len().min(MAX_LABELS);
        let buckets = self.meta.features.buckets();
        let bias_at = buckets * labels;
        for (label, margin) in margins.iter_mut().enumerate().take(labels) {
            *margin = self.weights.get(bias_at + label).copied().unwrap_or(0.0);
        }
        for &(bucket, value) in vector {
            let start = bucket as usize * labels;
            if let Some(row) = self.weights.get(start..start + labels) {
                for (margin, weight) in margins.iter_mut().zip(row) {
                    *margin += weight * value;
                }
            }
        }
        labels
    }

    /// Writes the margin of each label for `raw`, a vector extracted *without* IDF, into
    /// `margins`: the IDF weighting, the normalisation and the dot product in one pass over
    /// the packed rows (the margins of [`LinearModel::margins`] for the re-weighted
    /// vector, up to the 16-bit rounding of the rows).
    pub fn margins_raw(&self, raw: &[(u32, f32)], margins: &mut [f32; MAX_LABELS]) -> usize {
        let labels = self.meta.labels.len().min(MAX_LABELS);
        let stride = self.meta.labels.len() + 1;
        let mut dots = [0.0f32; MAX_LABELS];
        let mut norm = 0.0f32;
        let [idf_scale, weight_scale] = self.packed_scales;
        for &(bucket, value) in raw {
            let start = bucket as usize * stride;
            if let Some(row) = self.packed.get(start..start + stride) {
                let value = value * f32::from(row[0]) * idf_scale;
                norm += value * value;
                for (dot, &weight) in dots.iter_mut().zip(&row[1..]) {
                    *dot += f32::from(weight) * value;
                }
            }
        }
        for dot in dots.iter_mut().take(labels) {
            *dot *= weight_scale;
        }
        let norm = norm.sqrt();
        let scale = if norm > 0.0 && norm.is_finite() {
            1.0 / norm
        } else {
            1.0
        };
        let bias_at = self.meta.features.buckets() * self.meta.labels.len();
        for (label, margin) in margins.iter_mut().enumerate().take(labels) {
            let bias = self.weights.get(bias_at + label).copied().unwrap_or(0.0);
            *margin = bias + dots[label] * scale;
        }
        labels
    }

    /// [`LinearModel::predict_with_shares`] of a vector extracted without IDF.
    pub fn predict_raw_with_shares(
        &self,
        raw: &[(u32, f32)],
        shares: &mut [f32; MAX_LABELS],
    ) -> Prediction {
        let labels = self.margins_raw(raw, shares);
        softmax(labels, shares)
    }

    /// The best label for `vector`, with the softmax of the margins as confidence, and
    /// every label's share written to `shares` (in label order).
    pub fn predict_with_shares(
        &self,
        vector: &[(u32, f32)],
        shares: &mut [f32; MAX_LABELS],
    ) -> Prediction {
        let labels = self.margins(vector, shares);
        softmax(labels, shares)
    }
}

/// The best of the first `labels` margins in `shares`, which become their softmax.
fn softmax(labels: usize, shares: &mut [f32; MAX_LABELS]) -> Prediction {
    let best = best_label(&shares[..labels]);
    let top = shares[best];
    let mut total = 0.0;
    for share in shares.iter_mut().take(labels) {
        *share = (SOFTMAX_SCALE * (*share - top)).exp();
        total += *share;
    }
    for share in shares.iter_mut().take(labels) {
        *share /= total;
    }
    Prediction {
        label: best,
        confidence: shares[best],
    }
}

/// The index of the highest margin (the first of equal ones; 0 for none).
pub(crate) fn best_label(margins: &[f32]) -> usize {
    let mut best = 0;
    for label in 1..margins.len() {
        if margins[label] > margins[best] {
            best = label;
        }
    }
    best
}

impl LinearModel {
    /// The best label for `vector`.
    pub fn predict(&self, vector: &[(u32, f32)]) -> Prediction {
        let mut shares = [0.0; MAX_LABELS];
        self.predict_with_shares(vector, &mut shares)
    }

    /// Index of the label called `name`.
    pub fn label_index(&self, name: &str) -> Option<usize> {
        self.meta.labels.iter().position(|label| label == name)
    }
}

/// Margins of an SVM are about ±1; this makes their softmax a usable confidence.
const SOFTMAX_SCALE: f32 = 3.0;

/// The default sentiment model (English and French), embedded in the binary. Its
/// provenance is in `nlp/models/sentiment-en-fr.md`.
static DEFAULT_SENTIMENT: &[u8] = include_bytes!("../models/sentiment-en-fr.bin");

/// The embedded default sentiment model, loaded once; `None` if this build carries none.
pub fn default_sentiment() -> Option<&'static LinearModel> {
    static MODEL: std::sync::OnceLock<Option<LinearModel>> = std::sync::OnceLock::new();
    MODEL
        .get_or_init(|| match LinearModel::from_bytes(DEFAULT_SENTIMENT) {
            Ok(model) => Some(model),
            Err(error) => {
                tracing::warn!(%error, "no usable embedded sentiment model: lexicon scorer used");
                None
            }
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{Tokenizer, stem_algorithm};

    /// The packed 16-bit rows give the margins of the exact weights to within 1e-3.
    #[test]
    fn packed_margins_are_the_exact_margins_to_within_rounding() {
        let model = default_sentiment().expect("the default model is embedded");
        let tokenizer = Tokenizer::new().unwrap();
        let config = model.meta.features;
        for text in [
            "@lumio my internet has been down since yesterday morning",
            "Honestly the new fibre box is GREAT, sooo much faster!!!",
            "la fibre ne marche toujours pas, c'est nul",
            "",
        ] {
            let tokens = tokenizer.tokenize_stemmed(text, stem_algorithm("en"));
            let (mut raw, mut weighted) = (Vec::new(), Vec::new());
            features::extract(&config, text, &tokens, "en", None, &mut raw);
            features::extract(&config, text, &tokens, "en", model.idf(), &mut weighted);
            let (mut packed, mut exact) = ([0.0; MAX_LABELS], [0.0; MAX_LABELS]);
            let labels = model.margins_raw(&raw, &mut packed);
            assert_eq!(model.margins(&weighted, &mut exact), labels);
            for (packed, exact) in packed.iter().zip(&exact).take(labels) {
                assert!(
                    (packed - exact).abs() < 1e-3,
                    "{text:?}: {packed} vs {exact}"
                );
            }
        }
    }

    /// A model whose weights are all zero (or not finite) still predicts, from its biases.
    #[test]
    fn zero_and_non_finite_weights_pack_without_harm() {
        let meta = ModelMeta {
            axis: "test".to_owned(),
            labels: vec!["a".to_owned(), "b".to_owned()],
            features: FeatureConfig {
                bits: 8,
                ..FeatureConfig::default()
            },
            provenance: String::new(),
        };
        let buckets = meta.features.buckets();
        let mut weights = vec![0.0; buckets * 2];
        weights.extend([0.5, -0.5]);
        let model = LinearModel::new(meta.clone(), Vec::new(), weights.clone());
        let mut margins = [0.0; MAX_LABELS];
        model.margins_raw(&[(3, 1.0)], &mut margins);
        assert_eq!(&margins[..2], [0.5, -0.5]);
        weights[6] = f32::NAN;
        weights[7] = 2.0;
        let model = LinearModel::new(meta, vec![f32::INFINITY; buckets], weights);
        model.margins_raw(&[(3, 1.0)], &mut margins);
        assert!(margins[..2].iter().all(|margin| margin.is_finite()));
    }
}
