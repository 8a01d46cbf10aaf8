//! [`Featurizer`]: text to feature vector outside the analyzer, the way the analyzer does
//! it (tokenize, resolve the language, stem, extract), for training and evaluation.

use super::features::{self, FeatureConfig, SparseVector};
use super::{LinearModel, MAX_LABELS, Prediction};
use crate::error::NlpError;
use crate::language::LanguageDetector;
use crate::tokens::{Tokenizer, stem_algorithm, stem_tokens};

/// Tokenizer and language detector for featurizing texts that are not posts.
#[derive(Debug)]
pub struct Featurizer {
    tokenizer: Tokenizer,
    languages: LanguageDetector,
}

impl Featurizer {
    pub fn new() -> Result<Featurizer, NlpError> {
        Ok(Featurizer {
            tokenizer: Tokenizer::new()?,
            languages: LanguageDetector::new(),
        })
    }

    /// The features of `text` (language detected unless `claimed`), into `out`.
    pub fn vector(
        &self,
        text: &str,
        claimed_language: Option<&str>,
        config: &FeatureConfig,
        idf: Option<&[f32]>,
        out: &mut SparseVector,
    ) {
        let mut tokens = self.tokenizer.tokenize(text);
        let language = self.languages.resolve(claimed_language, &tokens);
        stem_tokens(&mut tokens, stem_algorithm(&language));
        features::extract(config, text, &tokens, &language, idf, out);
    }

    /// `model`'s verdict on `text`, computed as the analyzer does (the packed rows of
    /// [`LinearModel::predict_raw_with_shares`]).
    pub fn predict(&self, model: &LinearModel, text: &str, out: &mut SparseVector) -> Prediction {
        self.vector(text, None, &model.meta.features, None, out);
        let mut shares = [0.0f32; MAX_LABELS];
        model.predict_raw_with_shares(out, &mut shares)
    }
}
