//! Evaluating a rule against an analysed post, and explaining why it held.
//!
//! Evaluation allocates nothing: rule values are lowercased once when parsed and compared
//! character by character with the post's values. A field the post does not know (an
//! author's followers on a source that does not say) makes every comparison on it false.

use nlp::AnalysedPost;

use super::ast::{Expr, Field, Operator, Test};

/// True when `post_value`, lowercased, equals `rule_value` (already lowercase).
fn same_text(post_value: &str, rule_value: &str) -> bool {
    if post_value.is_ascii() && rule_value.is_ascii() {
        return post_value.eq_ignore_ascii_case(rule_value);
    }
    post_value
        .chars()
        .flat_map(char::to_lowercase)
        .eq(rule_value.chars())
}

/// The post's categories on `axis` (lowercase), whatever the case of the configured name.
fn categories_of<'post>(post: &'post AnalysedPost, axis: &str) -> &'post [String] {
    let categories = &post.analysis.categories;
    if let Some(found) = categories.get(axis) {
        return found;
    }
    categories
        .iter()
        .find(|(name, _)| same_text(name, axis))
        .map_or(&[], |(_, found)| found.as_slice())
}

/// True when `text` holds `word` (already lowercase; may be a phrase) between word
/// boundaries, ignoring case. Allocates nothing: it walks the text once per candidate start.
fn contains_word(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let mut previous: Option<char> = None;
    for (start, character) in text.char_indices() {
        let at_boundary = previous.is_none_or(|before| !is_word_character(before));
        previous = Some(character);
        if !at_boundary || !is_word_character(character) {
            continue;
        }
        if let Some(end) = match_at(&text[start..], word)
            && text[start + end..]
                .chars()
                .next()
                .is_none_or(|after| !is_word_character(after))
        {
            return true;
        }
    }
    false
}

/// If `text` starts with `word` ignoring case, the byte length of the matched part.
fn match_at(text: &str, word: &str) -> Option<usize> {
    let mut wanted = word.chars();
    let mut pending: Option<char> = wanted.next();
    for (offset, character) in text.char_indices() {
        for lower in character.to_lowercase() {
            match pending {
                Some(expected) if expected == lower => pending = wanted.next(),
                Some(_) => return None,
                None => return Some(offset),
            }
        }
        if pending.is_none() {
            return Some(offset + character.len_utf8());
        }
    }
    None
}

fn is_word_character(character: char) -> bool {
    character.is_alphanumeric() || character == '_'
}

/// The brands of the post's influence badges of `kind` (`connector`, `maven`).
fn badge_brands<'post>(
    post: &'post AnalysedPost,
    kind: &'static str,
) -> impl Iterator<Item = &'post str> {
    post.analysis
        .influence
        .iter()
        .filter(move |badge| badge.kind == kind)
        .map(|badge| badge.brand.as_str())
}

/// A language code the detector could name (not `und`).
fn is_known_language(code: &str) -> bool {
    !code.is_empty() && !code.eq_ignore_ascii_case("und")
}

/// Sentiment scores are `f32`: rule numbers are rounded the same way before comparing,
/// so `score = -0.72` holds for a score of `-0.72f32`.
fn as_score_precision(number: f64) -> f64 {
    f64::from(number as f32)
}

fn identity(number: f64) -> f64 {
    number
}

impl Expr {
    pub(crate) fn matches(&self, post: &AnalysedPost) -> bool {
        match self {
            Expr::Or(alternatives) => alternatives.iter().any(|expr| expr.matches(post)),
            Expr::And(conditions) => conditions.iter().all(|expr| expr.matches(post)),
            Expr::Not(inner) => !inner.matches(post),
            Expr::Test(test) => test.matches(post),
        }
    }

    /// Appends, for a rule that holds for `post`, the conditions that made it hold with the
    /// post's values: `topic in [outage, billing] (outage)`. For `or`, only the first
    /// alternative that holds is named.
    pub(crate) fn explain(&self, post: &AnalysedPost, reasons: &mut Vec<String>) {
        match self {
            Expr::Or(alternatives) => {
                if let Some(holding) = alternatives.iter().find(|expr| expr.matches(post)) {
                    holding.explain(post, reasons);
                }
            }
            Expr::And(conditions) => {
                for condition in conditions {
                    condition.explain(post, reasons);
                }
            }
            Expr::Not(inner) => match inner.as_ref() {
                Expr::Test(test) => reasons.push(format!("{self} ({})", test.actual(post, false))),
                _ => reasons.push(self.to_string()),
            },
            Expr::Test(test) => reasons.push(format!("{test} ({})", test.actual(post, true))),
        }
    }
}

impl Test {
    fn matches(&self, post: &AnalysedPost) -> bool {
        let analysis = &post.analysis;
        match &self.field {
            Field::Sentiment => {
                self.matches_text(std::iter::once(analysis.sentiment.label.as_str()))
            }
            Field::Language if self.operator == Operator::Flag => {
                is_known_language(&analysis.language)
            }
            Field::Language => self.matches_text(std::iter::once(analysis.language.as_str())),
            Field::Source => self.matches_text(std::iter::once(post.post.source.as_str())),
            Field::Brand => {
                self.matches_text(analysis.brands.iter().map(|brand| brand.brand.as_str()))
            }
            Field::Intent => self.matches_text(analysis.intents.iter().map(String::as_str)),
            Field::Badge => self.matches_text(analysis.influence.iter().map(|b| b.kind.as_str())),
            Field::Words => self.matches_words(&post.post.text),
            Field::Connector => self.matches_text(badge_brands(post, "connector")),
            Field::Maven => self.matches_text(badge_brands(post, "maven")),
            Field::Axis(axis) => {
                self.matches_text(categories_of(post, axis).iter().map(String::as_str))
            }
            Field::Score => self.matches_number(
                Some(f64::from(analysis.sentiment.score)),
                as_score_precision,
            ),
            Field::Followers => self.matches_number(
                post.post.author.followers.map(|followers| followers as f64),
                identity,
            ),
        }
    }

    /// A text test over the post's values of the field (one value, or a set).
    fn matches_text<'post>(&self, mut values: impl Iterator<Item = &'post str>) -> bool {
        match &self.operator {
            Operator::Equal(wanted) => values.any(|value| same_text(value, &wanted.text)),
            Operator::NotEqual(unwanted) => !values.any(|value| same_text(value, &unwanted.text)),
            Operator::In(wanted) => values.any(|value| {
                wanted
                    .iter()
                    .any(|candidate| same_text(value, &candidate.text))
            }),
            Operator::Compare(..) => false,
            Operator::Flag => values.any(|value| !value.is_empty()),
        }
    }

    /// A test on the words of `text`: `=` and `in` hold when the text holds the word or
    /// phrase as whole words, `!=` when it does not; the bare field when there is text.
    fn matches_words(&self, text: &str) -> bool {
        match &self.operator {
            Operator::Equal(wanted) => contains_word(text, &wanted.text),
            Operator::NotEqual(unwanted) => !contains_word(text, &unwanted.text),
            Operator::In(wanted) => wanted.iter().any(|word| contains_word(text, &word.text)),
            Operator::Compare(..) => false,
            Operator::Flag => text.chars().any(char::is_alphanumeric),
        }
    }

    /// A numeric test; `round` brings rule numbers to the field's precision.
    fn matches_number(&self, value: Option<f64>, round: fn(f64) -> f64) -> bool {
        let Some(value) = value else {
            return false;
        };
        let equals = |number: Option<f64>| number.is_some_and(|number| round(number) == value);
        match &self.operator {
            Operator::Equal(wanted) => equals(wanted.number),
            Operator::NotEqual(unwanted) => unwanted.number.is_some() && !equals(unwanted.number),
            Operator::In(wanted) => wanted.iter().any(|candidate| equals(candidate.number)),
            Operator::Compare(comparison, number) => comparison.holds(value, round(number.value)),
            Operator::Flag => true,
        }
    }

    /// The post's values of the field, for explanations. With `matched_only`, an `=` or
    /// `in` test on a set names only the values that matched.
    fn actual(&self, post: &AnalysedPost, matched_only: bool) -> String {
        let analysis = &post.analysis;
        let positive_test = matches!(self.operator, Operator::Equal(_) | Operator::In(_));
        match &self.field {
            Field::Sentiment if matched_only && positive_test => {
                format!("{:.2}", analysis.sentiment.score)
            }
            Field::Sentiment => format!(
                "{}, {:.2}",
                analysis.sentiment.label, analysis.sentiment.score
            ),
            Field::Score => format!("{:.2}", analysis.sentiment.score),
            Field::Followers => match post.post.author.followers {
                Some(followers) => followers.to_string(),
                None => "unknown".to_owned(),
            },
            Field::Language => analysis.language.clone(),
            Field::Source => post.post.source.to_string(),
            Field::Brand => self.list_values(
                analysis.brands.iter().map(|brand| brand.brand.as_str()),
                matched_only && positive_test,
            ),
            Field::Intent => self.list_values(
                analysis.intents.iter().map(String::as_str),
                matched_only && positive_test,
            ),
            Field::Badge => self.list_values(
                analysis.influence.iter().map(|badge| badge.kind.as_str()),
                matched_only && positive_test,
            ),
            Field::Words => {
                let wanted: Vec<&str> = match &self.operator {
                    Operator::Equal(value) | Operator::NotEqual(value) => vec![&value.text],
                    Operator::In(values) => values.iter().map(|v| v.text.as_str()).collect(),
                    Operator::Compare(..) | Operator::Flag => Vec::new(),
                };
                let found: Vec<&str> = wanted
                    .into_iter()
                    .filter(|word| contains_word(&post.post.text, word))
                    .collect();
                if found.is_empty() {
                    "none".to_owned()
                } else {
                    found.join(", ")
                }
            }
            Field::Connector => self.list_values(
                badge_brands(post, "connector"),
                matched_only && positive_test,
            ),
            Field::Maven => {
                self.list_values(badge_brands(post, "maven"), matched_only && positive_test)
            }
            Field::Axis(axis) => self.list_values(
                categories_of(post, axis).iter().map(String::as_str),
                matched_only && positive_test,
            ),
        }
    }

    fn list_values<'post>(
        &self,
        values: impl Iterator<Item = &'post str>,
        matched_only: bool,
    ) -> String {
        let shown: Vec<&str> = values
            .filter(|value| !matched_only || self.matches_text(std::iter::once(*value)))
            .collect();
        if shown.is_empty() {
            "none".to_owned()
        } else {
            shown.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::parse;
    use crate::test_support::PostBuilder;

    fn holds(rule: &str, post: &AnalysedPost) -> bool {
        parse(rule).expect("valid rule").matches(post)
    }

    #[test]
    fn compares_text_fields_ignoring_case() {
        let post = PostBuilder::new("x:1")
            .sentiment(nlp::SentimentLabel::Negative, -0.72)
            .language("en")
            .brand("Lumio")
            .category("topic", "Outage")
            .build();
        assert!(holds("sentiment = NEGATIVE", &post));
        assert!(holds("Sentiment != positive", &post));
        assert!(holds("language = EN and source = x", &post));
        assert!(holds("brand = lumio and brand != acme", &post));
        assert!(holds(
            "TOPIC = outage and topic in [billing, OUTAGE]",
            &post
        ));
        assert!(!holds("topic = billing", &post));
        assert!(
            !holds("product = fibre", &post),
            "missing axis is an empty set"
        );
        assert!(holds("product != fibre", &post));
    }

    #[test]
    fn compares_unicode_values_ignoring_case() {
        let post = PostBuilder::new("x:1").category("thème", "Réseau").build();
        assert!(holds("THÈME = RÉSEAU", &post));
        assert!(holds("thème = 'réseau'", &post));
    }

    #[test]
    fn flags_hold_for_set_fields_that_are_not_empty() {
        let post = PostBuilder::new("x:1")
            .intent("complaint")
            .language("und")
            .build();
        assert!(holds("intent", &post));
        assert!(!holds("brand", &post));
        assert!(!holds("language", &post), "und is not a known language");
        assert!(holds("not followers", &post), "unknown followers");
        let known = PostBuilder::new("x:2").followers(0).language("fr").build();
        assert!(holds("followers and language", &known));
    }

    #[test]
    fn connector_and_maven_hold_for_the_badges_brands() {
        let post = PostBuilder::new("x:1")
            .sentiment(nlp::SentimentLabel::Negative, -0.6)
            .brand("Lumio")
            .badge("connector", "Lumio")
            .build();
        assert!(holds("sentiment = negative and connector", &post));
        assert!(holds("connector = lumio and not maven", &post));
        assert!(!holds("connector = acme", &post));
        assert!(!holds("maven", &PostBuilder::new("x:2").build()));
        let rule = parse("connector = LUMIO").expect("valid rule");
        assert_eq!(rule.explain(&post), "connector = lumio (Lumio)");
    }

    #[test]
    fn compares_numbers() {
        let post = PostBuilder::new("x:1")
            .followers(25_300)
            .sentiment(nlp::SentimentLabel::Negative, -0.72)
            .build();
        assert!(holds("followers > 10_000", &post));
        assert!(holds("followers >= 25300 and followers <= 25300", &post));
        assert!(!holds("followers < 25300", &post));
        assert!(holds("followers = 25300 and followers != 5", &post));
        assert!(holds("followers in [1, 25300]", &post));
        assert!(holds(
            "score = -0.72 and score < -0.5 and score > -1",
            &post
        ));
        assert!(!holds("score >= 0", &post));
    }

    #[test]
    fn words_match_whole_words_and_phrases_in_any_case() {
        let post = PostBuilder::new("x:1")
            .text("Still NO signal in Lyon... I want a Refund! #lumiofail")
            .build();
        assert!(holds("words = refund", &post));
        assert!(holds("words = 'no signal'", &post));
        assert!(holds("words in [scam, lyon]", &post));
        assert!(holds("words != fraud", &post));
        assert!(
            !holds("words = fund", &post),
            "part of a word is not a word"
        );
        assert!(!holds("words = signals", &post));
        assert!(holds("words = lumiofail and words", &post));
        let rule = parse("words in [refund, scam]").expect("valid rule");
        assert_eq!(rule.explain(&post), "words in [refund, scam] (refund)");
    }

    #[test]
    fn badges_are_a_set_of_influence_kinds() {
        let mut post = PostBuilder::new("x:1").build();
        assert!(!holds("badge", &post));
        post.analysis.influence.push(nlp::InfluenceBadge {
            kind: "connector".to_owned(),
            explanation: "1.2M followers".to_owned(),
            ..Default::default()
        });
        assert!(holds("badge = connector and badge != maven", &post));
        assert!(holds("badge in [maven, CONNECTOR]", &post));
    }

    #[test]
    fn unknown_numbers_fail_every_comparison() {
        let post = PostBuilder::new("x:1").build();
        assert!(!holds("followers > 0", &post));
        assert!(!holds("followers <= 0", &post));
        assert!(!holds("followers != 3", &post));
        assert!(holds("not followers > 10000", &post));
    }

    #[test]
    fn explains_the_conditions_that_held() {
        let post = PostBuilder::new("x:1")
            .sentiment(nlp::SentimentLabel::Negative, -0.72)
            .category("topic", "outage")
            .category("topic", "support")
            .followers(12)
            .build();
        let rule = parse("sentiment = negative and topic in [outage, billing] and followers > 3")
            .expect("valid rule");
        assert_eq!(
            rule.explain(&post),
            "sentiment = negative (-0.72), topic in [outage, billing] (outage), followers > 3 (12)"
        );
        let rule =
            parse("topic = billing or not topic in [billing, cancellation]").expect("valid rule");
        assert_eq!(
            rule.explain(&post),
            "not topic in [billing, cancellation] (outage, support)"
        );
        let rule = parse("not (sentiment = positive and brand)").expect("valid rule");
        assert_eq!(rule.explain(&post), "not (sentiment = positive and brand)");
        let rule = parse("sentiment != positive and product != tv").expect("valid rule");
        assert_eq!(
            rule.explain(&post),
            "sentiment != positive (negative, -0.72), product != tv (none)"
        );
    }
}
