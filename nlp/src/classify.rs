//! Categories per configured axis, from keywords and phrases matched on word stems.
//!
//! Each keyword is tokenized like a post, folded and stemmed with *both* the English and
//! the French stemmer, because one keyword list mixes both languages; it matches where the
//! post's stem sequence (stemmed for the post's language, hashtag parts included) equals
//! either. So "cancelled" and "cancellation" match `cancel`, "résiliation" matches
//! `résilier`, and `no signal` or `en panne` match as phrases of consecutive words.
//!
//! Out: every configured axis, each with the categories found, in configuration order
//! (possibly none).

use std::collections::BTreeMap;

use rust_stemmers::{Algorithm, Stemmer};

use crate::config::Axis;
use crate::error::NlpError;
use crate::phrase::{PhraseSet, PhraseSetBuilder};
use crate::tokens::{Token, TokenKind, Tokenizer, stem_word};

/// The (axis, category) a keyword points to, by index in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Target {
    axis: usize,
    category: usize,
}

#[derive(Debug)]
struct AxisNames {
    name: String,
    categories: Vec<String>,
}

/// Keywords of every axis compiled into one matcher. Built once from configuration.
#[derive(Debug)]
pub struct Classifier {
    axes: Vec<AxisNames>,
    keywords: PhraseSet<Target>,
}

impl Classifier {
    pub fn new(axes: &[Axis], tokenizer: &Tokenizer) -> Result<Classifier, NlpError> {
        let stemmers = [
            Stemmer::create(Algorithm::English),
            Stemmer::create(Algorithm::French),
        ];
        let mut problems = Vec::new();
        let mut keywords = PhraseSetBuilder::default();
        for (axis_index, axis) in axes.iter().enumerate() {
            for (category_index, category) in axis.categories.iter().enumerate() {
                let target = Target {
                    axis: axis_index,
                    category: category_index,
                };
                for keyword in &category.keywords {
                    let tokens = tokenizer.tokenize(keyword);
                    let has_words = tokens.iter().any(|token| token.kind != TokenKind::Punct);
                    let mut usable = false;
                    for stemmer in stemmers.iter().filter(|_| has_words) {
                        let stems: Vec<String> = tokens
                            .iter()
                            .map(|token| match token.kind {
                                TokenKind::Word => stem_word(stemmer, &token.folded),
                                _ => token.folded.to_string(),
                            })
                            .collect();
                        usable |= keywords.add(&stems, target);
                    }
                    if !usable {
                        let (axis, category) = (&axis.name, &category.name);
                        problems.push(format!(
                            "{axis}/{category}: keyword `{keyword}` has no words"
                        ));
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(NlpError::InvalidTerms(problems));
        }
        let axes = axes
            .iter()
            .map(|axis| AxisNames {
                name: axis.name.clone(),
                categories: axis
                    .categories
                    .iter()
                    .map(|category| category.name.clone())
                    .collect(),
            })
            .collect();
        Ok(Classifier {
            axes,
            keywords: keywords.build("keyword")?,
        })
    }

    /// Axis names, in configuration order.
    pub fn axes(&self) -> impl Iterator<Item = &str> {
        self.axes.iter().map(|axis| axis.name.as_str())
    }

    /// Categories of stemmed `tokens` on every axis (axis name → category names).
    pub fn classify(&self, tokens: &[Token]) -> BTreeMap<String, Vec<String>> {
        let mut found: Vec<Vec<bool>> = self
            .axes
            .iter()
            .map(|axis| vec![false; axis.categories.len()])
            .collect();
        for hit in self
            .keywords
            .find(tokens.iter().map(|token| token.stem.as_str()))
        {
            for target in hit.payloads {
                found[target.axis][target.category] = true;
            }
        }
        let mut categories = BTreeMap::new();
        for (axis, flags) in self.axes.iter().zip(found) {
            let mut names: Vec<String> = Vec::new();
            for (name, found) in axis.categories.iter().zip(flags) {
                // Names are unique once the config is validated; stay safe if not.
                if found && !names.contains(name) {
                    names.push(name.clone());
                }
            }
            categories.insert(axis.name.clone(), names);
        }
        categories
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Category;
    use crate::tokens::stem_algorithm;

    fn category(name: &str, keywords: &[&str]) -> Category {
        Category {
            name: name.to_owned(),
            keywords: keywords
                .iter()
                .map(|keyword| (*keyword).to_owned())
                .collect(),
        }
    }

    /// The topic and product axes of `fixtures/veille.toml`.
    fn axes() -> Vec<Axis> {
        let topic = Axis {
            name: "topic".to_owned(),
            categories: vec![
                category(
                    "outage",
                    &[
                        "outage",
                        "down",
                        "no signal",
                        "no service",
                        "not working",
                        "panne",
                        "coupure",
                        "en panne",
                        "plus de réseau",
                    ],
                ),
                category(
                    "billing",
                    &[
                        "bill",
                        "billing",
                        "invoice",
                        "charge",
                        "overcharged",
                        "refund",
                        "facture",
                        "prélèvement",
                        "remboursement",
                    ],
                ),
                category(
                    "support",
                    &[
                        "support",
                        "customer service",
                        "agent",
                        "on hold",
                        "hotline",
                        "service client",
                        "conseiller",
                    ],
                ),
                category(
                    "cancellation",
                    &[
                        "cancel",
                        "cancellation",
                        "switch to",
                        "leaving",
                        "résiliation",
                        "résilier",
                    ],
                ),
            ],
            model: None,
        };
        let product = Axis {
            name: "product".to_owned(),
            categories: vec![
                category(
                    "fibre",
                    &["fibre", "fiber", "broadband", "internet", "wifi", "box"],
                ),
                category(
                    "mobile",
                    &["mobile", "phone", "5g", "4g", "sim", "forfait", "portable"],
                ),
                category("tv", &["tv", "television", "streaming", "télé"]),
            ],
            model: None,
        };
        vec![topic, product]
    }

    fn classify(text: &str, language: &str) -> BTreeMap<String, Vec<String>> {
        let tokenizer = Tokenizer::new().unwrap();
        let classifier = Classifier::new(&axes(), &tokenizer).unwrap();
        let tokens = tokenizer.tokenize_stemmed(text, stem_algorithm(language));
        classifier.classify(&tokens)
    }

    fn on(axis: &str, text: &str, language: &str) -> Vec<String> {
        classify(text, language).remove(axis).unwrap()
    }

    #[test]
    fn inflections_match_through_stems() {
        for text in [
            "I cancelled today",
            "cancellation fee",
            "please cancel it",
            "Cancelling!",
        ] {
            assert_eq!(on("topic", text, "en"), ["cancellation"], "{text}");
        }
        assert_eq!(on("topic", "they overcharged me twice", "en"), ["billing"]);
        assert_eq!(on("product", "both phones died", "en"), ["mobile"]);
    }

    #[test]
    fn french_keywords_match_with_or_without_accents() {
        // Folded then stemmed: "résiliation", "resiliation" and "résilier" share a stem.
        for text in [
            "ma résiliation",
            "ma resiliation",
            "je veux résilier",
            "RÉSILIER",
        ] {
            assert_eq!(on("topic", text, "fr"), ["cancellation"], "{text}");
        }
        // "résilié" stems differently (`resil`): the stemmer does not join it to the rest.
        assert!(on("topic", "contrat résilié", "fr").is_empty());
        assert_eq!(on("topic", "encore des pannes", "fr"), ["outage"]);
        assert_eq!(on("topic", "Factures erronées", "fr"), ["billing"]);
    }

    #[test]
    fn phrases_match_consecutive_words_only() {
        assert_eq!(on("topic", "No signal since 8am", "en"), ["outage"]);
        assert!(on("topic", "no mobile signal", "en").is_empty());
        assert_eq!(on("topic", "la box est en panne", "fr"), ["outage"]);
        assert_eq!(on("topic", "plus de reseau", "fr"), ["outage"]);
        assert_eq!(on("topic", "appelé le service client", "fr"), ["support"]);
        assert_eq!(
            on("topic", "customer services are closed", "en"),
            ["support"]
        );
    }

    #[test]
    fn keywords_in_either_language_match_posts_of_the_other() {
        assert_eq!(
            on("topic", "I was on hold, they never refund", "und"),
            ["billing", "support"]
        );
        assert_eq!(
            on("product", "ma box internet et la télé", "fr"),
            ["fibre", "tv"]
        );
    }

    #[test]
    fn hashtag_parts_count_and_categories_keep_config_order() {
        let found = classify("#PanneLumio and my 5G phone bill", "en");
        assert_eq!(found["topic"], ["outage", "billing"]);
        assert_eq!(found["product"], ["mobile"]);
    }

    #[test]
    fn every_axis_is_present_even_when_empty() {
        let found = classify("hello there", "en");
        assert_eq!(found.len(), 2);
        assert!(found.values().all(Vec::is_empty));
    }

    #[test]
    fn keywords_without_words_are_rejected() {
        let axes = vec![Axis {
            name: "topic".to_owned(),
            categories: vec![category("empty", &["", "ok", "  "])],
            model: None,
        }];
        let error = Classifier::new(&axes, &Tokenizer::new().unwrap()).unwrap_err();
        assert!(matches!(error, NlpError::InvalidTerms(problems) if problems.len() == 2));
    }
}
