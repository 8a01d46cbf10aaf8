//! The trained models an [`crate::Analyzer`] runs: sentiment (the embedded default, a model
//! file, or the lexicon scorer) and one optional model per configured axis.
//!
//! Feature vectors are computed once per distinct feature configuration and re-weighted per
//! model, into thread-local buffers reused from post to post.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::analysis::{Sentiment, SentimentLabel};
use crate::config::{Axis, SentimentModel};
use crate::error::NlpError;
use crate::model::features::{self, SparseVector};
use crate::model::{LinearModel, MAX_LABELS};
use crate::sentiment;
use crate::tokens::Token;

/// A loaded model, shared (the default sentiment model is a static).
#[derive(Debug, Clone)]
enum Loaded {
    Static(&'static LinearModel),
    Owned(Arc<LinearModel>),
}

impl Loaded {
    fn get(&self) -> &LinearModel {
        match self {
            Loaded::Static(model) => model,
            Loaded::Owned(model) => model,
        }
    }
}

/// Sentiment model and axis models.
#[derive(Debug)]
pub(crate) struct Models {
    /// `None`: the lexicon scorer.
    sentiment: Option<(Loaded, [usize; 3])>,
    /// Per configured axis, in config order.
    axes: Vec<Option<Loaded>>,
}

thread_local! {
    static RAW: RefCell<SparseVector> = const { RefCell::new(Vec::new()) };
}

fn load(path: &std::path::Path) -> Result<Loaded, NlpError> {
    LinearModel::load(path)
        .map(|model| Loaded::Owned(Arc::new(model)))
        .map_err(|error| NlpError::Model {
            path: path.to_path_buf(),
            error,
        })
}

impl Models {
    pub(crate) fn new(sentiment: &SentimentModel, axes: &[Axis]) -> Result<Models, NlpError> {
        let sentiment = match sentiment {
            SentimentModel::Lexicon => None,
            SentimentModel::Builtin => crate::model::default_sentiment().map(Loaded::Static),
            SentimentModel::File(path) => Some(load(path)?),
        };
        let sentiment = match sentiment {
            None => None,
            Some(model) => {
                let index = |label: SentimentLabel| model.get().label_index(label.as_str());
                match (
                    index(SentimentLabel::Negative),
                    index(SentimentLabel::Neutral),
                    index(SentimentLabel::Positive),
                ) {
                    (Some(negative), Some(neutral), Some(positive)) => {
                        Some((model, [negative, neutral, positive]))
                    }
                    _ => {
                        return Err(NlpError::InvalidTerms(vec![
                            "the sentiment model must have the labels negative, neutral and positive"
                                .to_owned(),
                        ]));
                    }
                }
            }
        };
        let axes = axes
            .iter()
            .map(|axis| axis.model.as_deref().map(load).transpose())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Models { sentiment, axes })
    }

    /// Scores sentiment and adds each axis model's label to `categories`.
    pub(crate) fn apply(
        &self,
        text: &str,
        tokens: &[Token],
        language: &str,
        axis_names: &[&str],
        categories: &mut BTreeMap<String, Vec<String>>,
    ) -> Sentiment {
        let mut raw_config: Option<crate::model::FeatureConfig> = None;
        let mut shares = [0.0f32; MAX_LABELS];
        let mut run = |model: &LinearModel, shares: &mut [f32; MAX_LABELS]| {
            RAW.with_borrow_mut(|raw| {
                if raw_config != Some(model.meta.features) {
                    features::extract(&model.meta.features, text, tokens, language, None, raw);
                    raw_config = Some(model.meta.features);
                }
                model.predict_raw_with_shares(raw, shares)
            })
        };
        let sentiment = match &self.sentiment {
            None => sentiment::score(tokens, language),
            Some((model, [negative, neutral, positive])) => {
                let model = model.get();
                let prediction = run(model, &mut shares);
                let label = if prediction.label == *negative {
                    SentimentLabel::Negative
                } else if prediction.label == *positive {
                    SentimentLabel::Positive
                } else {
                    let _ = neutral;
                    SentimentLabel::Neutral
                };
                let score = (shares[*positive] - shares[*negative]).clamp(-1.0, 1.0);
                Sentiment { label, score }
            }
        };
        for (model, name) in self.axes.iter().zip(axis_names) {
            let Some(model) = model else {
                continue;
            };
            let model = model.get();
            let prediction = run(model, &mut shares);
            if let Some(label) = model.labels().get(prediction.label)
                && let Some(found) = categories.get_mut(*name)
                && !found.contains(label)
            {
                found.push(label.clone());
            }
        }
        sentiment
    }
}
