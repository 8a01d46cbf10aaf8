//! [`Analyzer`]: the NLP stage's per-post function, built once from [`NlpConfig`].
//!
//! For each post: tokenize (normalisation, hashtags, handles...), keep it only if it is
//! about a configured brand, then resolve its language, stem its words for that language,
//! look for sensitive categories (dropping the post if configured so), classify it on every
//! configured axis (keywords, plus the axis model if any), score its sentiment (the
//! embedded model by default), find its intents, and redact e-mail addresses and phone
//! numbers from the text handed on. Influence badges are left for a later step.
//!
//! Promises:
//! * never panics and never fails on a post: odd input is dropped with a [`DropReason`];
//! * only the first [`MAX_ANALYSED_BYTES`] of a text are read (the post keeps all of it,
//!   redacted when configured);
//! * irrelevant posts, most of a firehose, cost a tokenization and one matcher pass;
//! * `Analyzer` is `Send + Sync` and holds no per-post state: share it with an `Arc`.

mod models;

use std::cell::Cell;

use collector::Post;

use crate::analysis::{AnalysedPost, Analysis, DropReason, Outcome, PrivacyFlags};
use crate::classify::Classifier;
use crate::config::{NlpConfig, PrivacyConfig, SensitiveAction};
use crate::error::NlpError;
use crate::intent::IntentDetector;
use crate::language::LanguageDetector;
use crate::privacy::{self, SensitiveMatcher};
use crate::relevance::RelevanceMatcher;
use crate::tokens::{Token, TokenKind, Tokenizer, stem_algorithm, stem_tokens};

use models::Models;

/// Longer texts are analysed on their first this many bytes (cut at a character boundary).
pub const MAX_ANALYSED_BYTES: usize = 100_000;

/// A thread keeps its token buffer for the next post up to this capacity (a few hundred
/// KB: a very long text's buffer is let go).
const KEPT_TOKEN_CAPACITY: usize = 4_096;

thread_local! {
    /// The token buffer of this thread's next analysis.
    static TOKENS: Cell<Vec<Token>> = const { Cell::new(Vec::new()) };
}

/// Everything the NLP stage compiled from configuration.
#[derive(Debug)]
pub struct Analyzer {
    tokenizer: Tokenizer,
    languages: LanguageDetector,
    relevance: RelevanceMatcher,
    classifier: Classifier,
    axis_names: Vec<String>,
    models: Models,
    intents: IntentDetector,
    sensitive: SensitiveMatcher,
    privacy: PrivacyConfig,
}

impl Analyzer {
    /// Compiles the brands and axes and loads the models; every unusable term is listed in
    /// the error.
    pub fn new(config: &NlpConfig) -> Result<Analyzer, NlpError> {
        let tokenizer = Tokenizer::new()?;
        let relevance = RelevanceMatcher::new(&config.brands, &tokenizer);
        let classifier = Classifier::new(&config.axes, &tokenizer);
        let (relevance, classifier) = match (relevance, classifier) {
            (Ok(relevance), Ok(classifier)) => (relevance, classifier),
            (Err(NlpError::InvalidTerms(mut brands)), Err(NlpError::InvalidTerms(axes))) => {
                brands.extend(axes);
                return Err(NlpError::InvalidTerms(brands));
            }
            (Err(error), _) | (_, Err(error)) => return Err(error),
        };
        let models = Models::new(&config.sentiment, &config.axes)?;
        let intents = IntentDetector::new(&tokenizer)?;
        let sensitive = SensitiveMatcher::new(&tokenizer)?;
        let prefixes = relevance.alias_prefixes().map(str::to_owned);
        let tokenizer = tokenizer.with_hashtag_prefixes(prefixes.collect::<Vec<_>>());
        Ok(Analyzer {
            tokenizer,
            languages: LanguageDetector::new(),
            relevance,
            axis_names: config.axes.iter().map(|axis| axis.name.clone()).collect(),
            classifier,
            models,
            intents,
            sensitive,
            privacy: config.privacy.clone(),
        })
    }

    /// Analyses one post, or says why it is dropped.
    pub fn analyse(&self, mut post: Post) -> Outcome {
        match self.analyse_text(&post.text, post.lang.as_deref()) {
            Ok(analysis) => {
                // The analysis counted the redactions of the analysed text: the whole text
                // needs a pass only when that found some or did not see all of it.
                let may_redact =
                    analysis.privacy.redactions > 0 || post.text.len() > MAX_ANALYSED_BYTES;
                if self.privacy.redact && may_redact {
                    let (redacted, count) = privacy::redact(&post.text);
                    if count > 0 {
                        post.text = redacted.into_owned();
                    }
                }
                Outcome::Relevant(Box::new(AnalysedPost { post, analysis }))
            }
            Err(reason) => Outcome::Dropped(reason),
        }
    }

    /// Analyses a text whose source claims `claimed_language` (BCP 47), without a post.
    /// `privacy.redactions` counts what [`Analyzer::analyse`] redacts from the stored text.
    pub fn analyse_text(
        &self,
        text: &str,
        claimed_language: Option<&str>,
    ) -> Result<Analysis, DropReason> {
        let text = truncate(text, MAX_ANALYSED_BYTES);
        // This thread's token buffer, taken (a nested analysis would start its own) and
        // put back, emptied, for the next post: no large allocation per post.
        let mut tokens = TOKENS.take();
        self.tokenizer.tokenize_into(text, &mut tokens);
        let analysis = self.analyse_tokens(text, claimed_language, &mut tokens);
        tokens.clear();
        if tokens.capacity() <= KEPT_TOKEN_CAPACITY {
            TOKENS.set(tokens);
        }
        analysis
    }

    /// [`Analyzer::analyse_text`] once the (truncated) text is tokenized.
    fn analyse_tokens(
        &self,
        text: &str,
        claimed_language: Option<&str>,
        tokens: &mut [Token],
    ) -> Result<Analysis, DropReason> {
        if tokens.iter().all(|token| token.kind == TokenKind::Punct) {
            return Err(DropReason::EmptyText);
        }
        let brands = self.relevance.find(tokens);
        if brands.is_empty() {
            return Err(DropReason::NotRelevant);
        }
        let mut privacy = PrivacyFlags::default();
        for category in self.sensitive.find(tokens) {
            match self.privacy.action(category) {
                SensitiveAction::Drop => return Err(DropReason::Sensitive),
                SensitiveAction::Flag => privacy.sensitive.push(category.as_str().to_owned()),
                SensitiveAction::Ignore => {}
            }
        }
        if self.privacy.redact {
            privacy.redactions = privacy::redact(text).1;
        }
        let language = self.languages.resolve(claimed_language, tokens);
        stem_tokens(tokens, stem_algorithm(&language));
        let mut categories = self.classifier.classify(tokens);
        let names: Vec<&str> = self.axis_names.iter().map(String::as_str).collect();
        let sentiment = self
            .models
            .apply(text, tokens, &language, &names, &mut categories);
        let intents = self.intents.detect(tokens, sentiment.label);
        tracing::trace!(%language, brands = brands.len(), score = sentiment.score, "post analysed");
        Ok(Analysis {
            language,
            brands,
            categories,
            sentiment,
            intents,
            privacy,
            influence: Vec::new(),
        })
    }

    /// Names of the configured axes, in configuration order.
    pub fn axes(&self) -> impl Iterator<Item = &str> {
        self.classifier.axes()
    }

    /// The tokenizer, for steps that read the text again.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character.
fn truncate(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{BrandMatch, SentimentLabel};
    use crate::config::{Axis, Brand, Category};
    use chrono::{TimeZone, Utc};
    use collector::{Author, PostId, SourceKind};

    /// The brand and axes of `fixtures/veille.toml`.
    fn config() -> NlpConfig {
        let strings = |items: &[&str]| items.iter().map(|item| (*item).to_owned()).collect();
        let category = |name: &str, keywords: &[&str]| Category {
            name: name.to_owned(),
            keywords: strings(keywords),
        };
        NlpConfig {
            brands: vec![Brand {
                name: "Lumio".to_owned(),
                aliases: strings(&["lumio", "lumio telecom", "lumio fibre"]),
                handles: strings(&["@lumio", "@lumio_help", "@lumio_fr"]),
                hashtags: strings(&["#lumio", "#lumiofail", "#lumiofibre"]),
                exclusions: strings(&["lumio lamp", "lumio lamps", "lumio the band"]),
                ..Brand::default()
            }],
            axes: vec![
                Axis {
                    name: "topic".to_owned(),
                    categories: vec![
                        category(
                            "outage",
                            &["outage", "down", "no signal", "panne", "en panne"],
                        ),
                        category("billing", &["bill", "invoice", "refund", "facture"]),
                        category(
                            "support",
                            &["support", "customer service", "service client"],
                        ),
                        category("cancellation", &["cancel", "cancellation", "résilier"]),
                    ],
                    model: None,
                },
                Axis {
                    name: "product".to_owned(),
                    categories: vec![
                        category("fibre", &["fibre", "fiber", "internet", "wifi", "box"]),
                        category("mobile", &["mobile", "phone", "5g", "sim", "forfait"]),
                    ],
                    model: None,
                },
            ],
            ..NlpConfig::default()
        }
    }

    fn post(text: &str, lang: Option<&str>) -> Post {
        let at = Utc.with_ymd_and_hms(2025, 3, 1, 9, 30, 0).unwrap();
        Post {
            id: PostId::new(SourceKind::X, "1"),
            source: SourceKind::X,
            url: None,
            text: text.to_owned(),
            lang: lang.map(str::to_owned),
            created_at: at,
            observed_at: at,
            author: Author::default(),
            relation: Default::default(),
            engagement: Default::default(),
            change: Default::default(),
        }
    }

    fn analyse(text: &str, lang: Option<&str>) -> Result<Analysis, DropReason> {
        let analyzer = Analyzer::new(&config()).unwrap();
        match analyzer.analyse(post(text, lang)) {
            Outcome::Relevant(analysed) => {
                assert_eq!(analysed.post.text, text);
                Ok(analysed.analysis)
            }
            Outcome::Dropped(reason) => Err(reason),
        }
    }

    #[test]
    fn an_english_complaint_is_fully_analysed() {
        let analysis = analyse(
            "@lumio_help no signal since 8am and I cancelled my 5G plan. Useless!",
            None,
        )
        .unwrap();
        assert_eq!(analysis.language, "en");
        assert_eq!(
            analysis.brands,
            [BrandMatch {
                brand: "Lumio".to_owned(),
                matched: "@lumio_help".to_owned()
            }]
        );
        assert_eq!(analysis.categories["topic"], ["outage", "cancellation"]);
        assert_eq!(analysis.categories["product"], ["mobile"]);
        assert_eq!(analysis.sentiment.label, SentimentLabel::Negative);
        assert!(analysis.intents.contains(&"complaint".to_owned()));
        assert!(analysis.influence.is_empty());
    }

    #[test]
    fn a_french_post_is_stemmed_as_french() {
        let analysis = analyse(
            "Ma box Lumio est encore en panne, je vais résilier. #LumioFail",
            None,
        )
        .unwrap();
        assert_eq!(analysis.language, "fr");
        assert_eq!(analysis.categories["topic"], ["outage", "cancellation"]);
        assert_eq!(analysis.categories["product"], ["fibre"]);
        assert_eq!(analysis.sentiment.label, SentimentLabel::Negative);
    }

    #[test]
    fn brand_names_are_split_off_hashtags_and_possessives() {
        let analysis = analyse("Back on my 5G line. Not naming names #lumiofail", None).unwrap();
        assert_eq!(analysis.sentiment.label, SentimentLabel::Negative);
        let analysis = analyse("Lumio's outage this morning", None).unwrap();
        assert_eq!(analysis.brands[0].matched, "lumio");
        assert_eq!(analysis.categories["topic"], ["outage"]);
    }

    #[test]
    fn the_claimed_language_is_kept() {
        let analysis = analyse("Merci Lumio, super rapide 👍", Some("fr-FR")).unwrap();
        assert_eq!(analysis.language, "fr");
        assert_eq!(analysis.sentiment.label, SentimentLabel::Positive);
        assert!(analysis.categories.values().all(Vec::is_empty));
        assert_eq!(analysis.categories.len(), 2);
    }

    #[test]
    fn posts_are_dropped_with_a_reason() {
        assert_eq!(analyse("", None), Err(DropReason::EmptyText));
        assert_eq!(analyse(" \n\t ", None), Err(DropReason::EmptyText));
        assert_eq!(analyse("?!…", None), Err(DropReason::EmptyText));
        assert_eq!(
            analyse("my lumio lamp broke", None),
            Err(DropReason::NotRelevant)
        );
        assert_eq!(
            analyse("the lumiosity of it", None),
            Err(DropReason::NotRelevant)
        );
        assert_eq!(
            analyse("https://lumio.fr", None),
            Err(DropReason::NotRelevant)
        );
    }

    #[test]
    fn axes_are_listed_in_config_order() {
        let analyzer = Analyzer::new(&config()).unwrap();
        assert_eq!(analyzer.axes().collect::<Vec<_>>(), ["topic", "product"]);
    }

    #[test]
    fn bad_terms_of_brands_and_axes_are_reported_together() {
        let mut config = config();
        config.brands[0].aliases.push("!!".to_owned());
        config.axes[0].categories[0].keywords.push(String::new());
        let Err(NlpError::InvalidTerms(problems)) = Analyzer::new(&config) else {
            panic!("expected invalid terms");
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn the_analyzer_is_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Analyzer>();
    }

    #[test]
    fn odd_input_never_panics() {
        let analyzer = Analyzer::new(&config()).unwrap();
        let huge = format!("{} lumio", "é".repeat(MAX_ANALYSED_BYTES));
        let inputs = [
            "lumio\u{0}\u{1}\u{7f}",
            "\u{202E}lumio\u{202C} ❤️‍🔥 ǅ",
            "#\u{301}lumio @ # lumio' l'lumio",
            "LUMIO 𝐋𝐔𝐌𝐈𝐎 Ｌｕｍｉｏ",
            "lumio\r\n\r\n!!!!!!!!!!!!",
            huge.as_str(),
        ];
        for input in inputs {
            let _ = analyzer.analyse(post(input, Some("")));
        }
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(
            truncate(&huge, MAX_ANALYSED_BYTES).len(),
            MAX_ANALYSED_BYTES
        );
    }
}
