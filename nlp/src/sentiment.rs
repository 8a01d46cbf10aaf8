//! v0 sentiment: a lexicon scorer for English and French, behind [`score`].
//!
//! In: stemmed tokens (see [`crate::tokens::stem_tokens`]) and the post's language. Out: a
//! [`Sentiment`] whose score is in `[-1, 1]` and whose label is neutral within
//! [`NEUTRAL_BAND`] of zero. A trained model will replace the internals; the signature
//! stays.
//!
//! How a post is scored, in the spirit of VADER (Hutto & Gilbert, 2014), with our own
//! lexicons (`sentiment/en.txt`, `sentiment/fr.txt`):
//! * each word and emoji of the lexicon adds its valence; idioms ("never again", "pas
//!   terrible", "hors service") count as one unit;
//! * boosters before a word ("very", "so", "trop", "vraiment") strengthen it, dampeners
//!   ("slightly", "un peu") weaken it, and so do elongations ("sloooow");
//! * a negator up to three words before ("not", "n't", "never", "pas", "jamais", "plus
//!   de") flips and damps a word; in French a verb followed by "pas"/"plus"/"jamais"
//!   after "ne" or a pronoun is negated too ("ne marche pas", "j'aime pas"); some words
//!   count only when negated ("no signal", "not working", "pas de réseau");
//! * after "but"/"mais", words weigh more, and before it less;
//! * exclamation marks (up to four) push the total further from zero.
//!
//! The total is squashed into `[-1, 1]` with `x / sqrt(x² + 15)`. Never panics.

mod lexicon;

use crate::analysis::{Sentiment, SentimentLabel};
use crate::tokens::{Token, TokenKind};

use lexicon::{Lexicon, WordFacts};

/// Scores within this distance of zero are neutral.
pub const NEUTRAL_BAND: f32 = 0.05;

/// A negated word keeps this share of its valence, with the sign flipped.
const NEGATION_SCALAR: f32 = -0.74;
/// Added to a word's magnitude when it is elongated.
const ELONGATION_BOOST: f32 = 0.293;
/// Added to the total's magnitude per exclamation mark.
const EXCLAMATION_BOOST: f32 = 0.292;
const MAX_EXCLAMATIONS: usize = 4;
/// How many words before a sentiment word a negator or booster reaches.
const WINDOW: usize = 3;
/// Booster strength by distance (1, 2, 3 words before).
const BOOSTER_DECAY: [f32; WINDOW] = [1.0, 0.95, 0.9];
/// Weights before and after a contrast word ("but").
const BEFORE_CONTRAST: f32 = 0.5;
const AFTER_CONTRAST: f32 = 1.5;
/// The larger, the slower the total approaches ±1.
const NORMALIZATION_ALPHA: f32 = 15.0;

/// Scores the `tokens` of a post written in `language` (ISO 639-1 or `und`), stemmed with
/// [`crate::tokens::stem_algorithm`]`(language)` as the analyzer does.
pub fn score(tokens: &[Token], language: &str) -> Sentiment {
    let lexicon = lexicon::for_language(language);
    // Sized once: a filtered `collect` would grow the vector several times per post.
    let mut items: Vec<&Token> = Vec::with_capacity(tokens.len());
    items.extend(tokens.iter().filter(|token| {
        matches!(
            token.kind,
            TokenKind::Word | TokenKind::Emoji | TokenKind::Punct
        )
    }));
    let facts: Vec<WordFacts> = items
        .iter()
        .map(|token| lexicon.facts(&token.folded, &token.stem))
        .collect();
    let scorer = Scorer {
        lexicon,
        items: &items,
        facts: &facts,
    };
    let total = scorer.total();
    let score = total / (total * total + NORMALIZATION_ALPHA).sqrt();
    let score = if score.is_finite() {
        score.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let label = if score >= NEUTRAL_BAND {
        SentimentLabel::Positive
    } else if score <= -NEUTRAL_BAND {
        SentimentLabel::Negative
    } else {
        SentimentLabel::Neutral
    };
    Sentiment { label, score }
}

struct Scorer<'a> {
    lexicon: &'a Lexicon,
    items: &'a [&'a Token],
    /// What the lexicon says about each item, looked up once.
    facts: &'a [WordFacts],
}

impl Scorer<'_> {
    /// The sum of every contribution, before squashing.
    fn total(&self) -> f32 {
        let mut consumed = vec![false; self.items.len()];
        let mut contributions: Vec<(usize, f32)> = Vec::with_capacity(self.items.len());
        if let Some(idioms) = self.lexicon.idioms() {
            for hit in idioms.find(self.items.iter().map(|token| token.folded.as_str())) {
                let positions = hit.positions.clone();
                if consumed[positions.clone()].iter().any(|&taken| taken) {
                    continue;
                }
                consumed[positions.clone()].fill(true);
                let valence = hit
                    .payloads
                    .first()
                    .map_or(0.0, |&idiom| self.lexicon.idiom_valence(idiom));
                contributions.push((positions.start, valence));
            }
        }
        for (position, token) in self.items.iter().enumerate() {
            if consumed[position] {
                continue;
            }
            let valence = match token.kind {
                TokenKind::Emoji => lexicon::emoji_valence(&token.folded),
                TokenKind::Word => self.word_valence(position, &consumed),
                _ => None,
            };
            if let Some(valence) = valence {
                contributions.push((position, valence));
            }
        }

        let contrast = (0..self.items.len()).position(|position| {
            self.items[position].kind == TokenKind::Word && self.facts[position].contrast
        });
        let mut total = 0.0;
        for (position, valence) in contributions {
            let weight = match contrast {
                Some(at) if position < at => BEFORE_CONTRAST,
                Some(at) if position > at => AFTER_CONTRAST,
                _ => 1.0,
            };
            total += valence * weight;
        }
        let exclamations = self.items.iter().filter(|token| token.text == "!").count();
        if total != 0.0 {
            total += total.signum() * EXCLAMATION_BOOST * exclamations.min(MAX_EXCLAMATIONS) as f32;
        }
        total
    }

    /// The contribution of the word at `position`, if it has one.
    fn word_valence(&self, position: usize, consumed: &[bool]) -> Option<f32> {
        let token = self.items[position];
        let facts = self.facts[position];
        let acts_as_booster = facts.booster.is_some()
            && position + 1 < self.items.len()
            && self.own_valence(position + 1).is_some();
        if acts_as_booster || facts.negator || facts.contrast {
            return None;
        }
        match self.own_valence(position) {
            Some(base) => {
                let mut valence = base + base.signum() * self.boost(position);
                if token.elongated {
                    valence += base.signum() * ELONGATION_BOOST;
                }
                if valence * base < 0.0 {
                    valence = 0.0;
                }
                if self.is_negated(position, consumed, false) {
                    valence *= NEGATION_SCALAR;
                }
                Some(valence)
            }
            None => {
                let negated = facts.negated_valence?;
                self.is_negated(position, consumed, true).then_some(negated)
            }
        }
    }

    /// The valence of the item at `position`, if it is a word of the lexicon.
    fn own_valence(&self, position: usize) -> Option<f32> {
        let token = self.items[position];
        if token.kind != TokenKind::Word {
            return None;
        }
        let valence = self.facts[position].valence;
        match valence {
            None if token.elongated => self.lexicon.valence_doubled(&token.text),
            _ => valence,
        }
    }

    /// The words within [`WINDOW`] before `position`, nearest first, up to a boundary.
    fn before(&self, position: usize) -> impl Iterator<Item = (usize, &Token)> {
        (1..=WINDOW)
            .map_while(move |distance| position.checked_sub(distance))
            .map(|index| (index, self.items[index]))
            .take_while(|&(index, _)| !self.is_boundary(index))
    }

    fn is_boundary(&self, position: usize) -> bool {
        let token = self.items[position];
        match token.kind {
            TokenKind::Punct => {
                matches!(token.text.as_str(), "." | "," | ";" | ":" | "!" | "?" | "…")
            }
            TokenKind::Word => self.facts[position].contrast,
            _ => false,
        }
    }

    /// The summed strength of the boosters and dampeners before `position`.
    fn boost(&self, position: usize) -> f32 {
        let mut boost = 0.0;
        for (distance, (index, _)) in self.before(position).enumerate() {
            if let Some(strength) = self.facts[index].booster {
                boost += strength * BOOSTER_DECAY[distance.min(WINDOW - 1)];
            }
        }
        boost
    }

    /// Whether the word at `position` is negated. `negated_only` words ("marche") are also
    /// negated by a "pas" right after them ("la box marche pas").
    fn is_negated(&self, position: usize, consumed: &[bool], negated_only: bool) -> bool {
        for (index, token) in self.before(position) {
            if consumed[index] {
                break;
            }
            if token.kind != TokenKind::Word {
                continue;
            }
            if self.facts[index].negator {
                return true;
            }
            // French "plus de réseau", "je ne suis plus content".
            if token.folded == "plus" && self.facts[index].post_negator {
                let next = self.items.get(index + 1).map(|next| next.folded.as_str());
                let before_plus = index
                    .checked_sub(2)
                    .map_or(&self.items[..index], |start| &self.items[start..index]);
                let after_ne = before_plus
                    .iter()
                    .any(|t| matches!(t.folded.as_str(), "ne" | "n'"));
                if matches!(next, Some("de" | "d'")) || after_ne {
                    return true;
                }
            }
        }
        let has_subject = self
            .before(position)
            .take(2)
            .any(|(index, _)| self.facts[index].subject);
        let after = (position + 1..self.items.len()).take(2);
        for (distance, index) in after.enumerate() {
            if self.is_boundary(index) {
                break;
            }
            let adjacent = distance == 0;
            if self.facts[index].post_negator && (has_subject || (adjacent && negated_only)) {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{Tokenizer, stem_algorithm};

    fn sentiment(text: &str, language: &str) -> Sentiment {
        let tokens = Tokenizer::new()
            .unwrap()
            .tokenize_stemmed(text, stem_algorithm(language));
        score(&tokens, language)
    }

    fn label(text: &str, language: &str) -> SentimentLabel {
        sentiment(text, language).label
    }

    fn assert_labels(language: &str, expected: SentimentLabel, texts: &[&str]) {
        for text in texts {
            let found = sentiment(text, language);
            assert_eq!(found.label, expected, "{text:?} scored {}", found.score);
        }
    }

    #[test]
    fn english_complaints_are_negative() {
        assert_labels(
            "en",
            SentimentLabel::Negative,
            &[
                "Lumio is down again, worst provider ever",
                "@lumio_help my internet has been down all day, this is unacceptable",
                "No signal since this morning",
                "the app doesn't work and nobody answers",
                "never again with Lumio",
                "Lumio is a total scam, they overcharged me",
                "#LumioFail",
            ],
        );
    }

    #[test]
    fn english_praise_is_positive() {
        assert_labels(
            "en",
            SentimentLabel::Positive,
            &[
                "Thanks @lumio_help, the technician was great and super fast!",
                "Love my new Lumio fibre box",
                "well done Lumio, back online in ten minutes",
            ],
        );
    }

    #[test]
    fn french_complaints_are_negative() {
        assert_labels(
            "fr",
            SentimentLabel::Negative,
            &[
                "Encore une panne, service client nul, c'est inadmissible",
                "la box ne marche pas",
                "la box marche pas depuis hier",
                "ça marche plus",
                "plus de réseau depuis ce matin",
                "arnaque !!!",
                "j'en ai marre de Lumio",
                "c'est lent, très lent",
            ],
        );
    }

    #[test]
    fn french_praise_is_positive() {
        assert_labels(
            "fr",
            SentimentLabel::Positive,
            &[
                "Merci Lumio, technicien au top et très rapide",
                "génial",
                "service client réactif, je recommande",
                "j'adore ma nouvelle box",
            ],
        );
    }

    #[test]
    fn negation_flips_polarity() {
        assert_eq!(label("not bad at all", "en"), SentimentLabel::Positive);
        assert_eq!(label("not good", "en"), SentimentLabel::Negative);
        assert_eq!(label("it isn't great", "en"), SentimentLabel::Negative);
        assert_eq!(label("pas génial", "fr"), SentimentLabel::Negative);
        assert_eq!(label("c'est pas terrible", "fr"), SentimentLabel::Negative);
        assert_eq!(label("pas de souci", "fr"), SentimentLabel::Positive);
        assert_eq!(
            label("je ne suis pas content", "fr"),
            SentimentLabel::Negative
        );
        assert_eq!(
            label("je ne recommande pas", "fr"),
            SentimentLabel::Negative
        );
        assert_eq!(label("j'aime pas", "fr"), SentimentLabel::Negative);
    }

    #[test]
    fn negation_stops_at_punctuation() {
        assert_eq!(label("rapide, pas cher", "fr"), SentimentLabel::Positive);
        assert_eq!(label("no, it is great", "en"), SentimentLabel::Positive);
    }

    #[test]
    fn emoji_carry_sentiment() {
        assert_eq!(label("Lumio 😡😤", "und"), SentimentLabel::Negative);
        assert_eq!(label("Lumio 👎", "und"), SentimentLabel::Negative);
        assert_eq!(label("Lumio 😍🙏", "und"), SentimentLabel::Positive);
        assert_eq!(label("merci ❤️👍", "fr"), SentimentLabel::Positive);
        assert_eq!(label("ok :(", "en"), SentimentLabel::Negative);
    }

    #[test]
    fn neutral_posts_stay_neutral() {
        assert_labels(
            "en",
            SentimentLabel::Neutral,
            &[
                "I called Lumio this morning about my contract",
                "customer service opens at 9",
            ],
        );
        assert_labels(
            "fr",
            SentimentLabel::Neutral,
            &["je suis chez Lumio depuis 2019", ""],
        );
    }

    #[test]
    fn intensity_grows_with_boosters_elongation_and_exclamations() {
        let plain = sentiment("slow", "en").score;
        assert!(sentiment("very slow", "en").score < plain);
        assert!(sentiment("sloooow", "en").score < plain);
        assert!(sentiment("slow!!!", "en").score < plain);
        assert!(sentiment("slightly slow", "en").score > plain);
        assert!(sentiment("soooo goooood", "en").score > sentiment("good", "en").score);
        assert!(sentiment("trop lent", "fr").score < sentiment("lent", "fr").score);
    }

    #[test]
    fn contrast_weighs_the_second_clause() {
        assert_eq!(
            label("the fibre is great but support is useless", "en"),
            SentimentLabel::Negative
        );
        assert_eq!(
            label("le réseau est nul mais le conseiller était génial", "fr"),
            SentimentLabel::Positive
        );
    }

    #[test]
    fn scores_stay_in_range() {
        let angry = "worst scam ever!!! 😡 ".repeat(200);
        let found = sentiment(&angry, "en");
        assert!((-1.0..=-0.9).contains(&found.score), "{}", found.score);
        let happy = "great love thanks ".repeat(200);
        assert!((0.9..=1.0).contains(&sentiment(&happy, "en").score));
    }
}
