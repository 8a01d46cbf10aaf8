//! Intent: what the author wants from the brand — `complaint`, `question`, `praise`,
//! `churn_threat` — zero or more per post, in that order.
//!
//! Rules on folded words (English and French) combined with the post's sentiment:
//! * `churn_threat`: a phrase announcing leaving ("switching to", "cancel my", "je vais
//!   résilier", "passer chez", "plus jamais");
//! * `question`: a question mark, or a first word that asks (how, why, comment,
//!   pourquoi, est-ce...);
//! * `complaint`: negative sentiment, a complaint phrase ("still waiting", "toujours
//!   pas", "en panne") or a churn threat;
//! * `praise`: positive sentiment, or a praise word ("thanks", "bravo", "au top") in a post
//!   that is not negative (so "thanks for nothing" is not praise).
//!
//! Measured on `fixtures/labeled/intent.jsonl` (see `docs/NLP.md`). Never panics.

use crate::analysis::SentimentLabel;
use crate::error::NlpError;
use crate::phrase::{PhraseSet, PhraseSetBuilder};
use crate::tokens::{Token, TokenKind, Tokenizer};

pub const COMPLAINT: &str = "complaint";
pub const QUESTION: &str = "question";
pub const PRAISE: &str = "praise";
pub const CHURN_THREAT: &str = "churn_threat";

/// Every intent, in the order they are reported.
pub const INTENTS: [&str; 4] = [COMPLAINT, QUESTION, PRAISE, CHURN_THREAT];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    Churn,
    Complaint,
    Praise,
}

const CHURN: &[&str] = &[
    "switch to",
    "switching to",
    "switched to",
    "moving to",
    "move to",
    "going to leave",
    "gonna leave",
    "i'm leaving",
    "im leaving",
    "i am leaving",
    "leaving you",
    "leave you",
    "cancel my",
    "cancelling my",
    "canceling my",
    "cancelled my",
    "close my account",
    "closing my account",
    "done with",
    "never again",
    "find another",
    "finding another",
    "looking for another",
    "new provider",
    "another provider",
    "new carrier",
    "port my number",
    "porting my number",
    "taking my business",
    "take my business",
    "bye bye",
    "goodbye",
    "last month with",
    "unsubscribe",
    "resilier",
    "resilie",
    "resiliation",
    "je resilie",
    "je pars",
    "je vais partir",
    "je quitte",
    "je vais quitter",
    "vous quitter",
    "changer d'operateur",
    "changer d'opérateur",
    "changer de fournisseur",
    "change d'operateur",
    "passer chez",
    "passe chez",
    "aller chez",
    "vais chez",
    "voir ailleurs",
    "aller voir ailleurs",
    "plus jamais",
    "adieu",
    "je me barre",
    "je me casse",
    "dernier mois",
    "concurrence",
    "la concurrence",
    "competitor",
];

const COMPLAINTS: &[&str] = &[
    "still waiting",
    "still no",
    "not working",
    "doesn't work",
    "does not work",
    "didn't work",
    "stopped working",
    "isn't working",
    "won't work",
    "no signal",
    "no service",
    "no internet",
    "outage",
    "down again",
    "is down",
    "broken",
    "useless",
    "worst",
    "terrible",
    "awful",
    "horrible",
    "ridiculous",
    "unacceptable",
    "disgrace",
    "disappointed",
    "fed up",
    "sick of",
    "tired of",
    "overcharged",
    "scam",
    "rip off",
    "ripoff",
    "ne marche pas",
    "marche pas",
    "ne fonctionne pas",
    "fonctionne pas",
    "ne marche plus",
    "marche plus",
    "toujours pas",
    "toujours rien",
    "en panne",
    "panne",
    "coupure",
    "inadmissible",
    "scandale",
    "scandaleux",
    "honteux",
    "honte",
    "nul",
    "nulle",
    "lamentable",
    "inacceptable",
    "marre",
    "ras le bol",
    "j'en ai marre",
    "arnaque",
    "incompetent",
    "incompetents",
    "decu",
    "decue",
    "deçu",
    "galere",
];

const PRAISES: &[&str] = &[
    "thank you",
    "thanks",
    "thx",
    "ty",
    "love",
    "loving",
    "great",
    "awesome",
    "amazing",
    "excellent",
    "fantastic",
    "brilliant",
    "perfect",
    "kudos",
    "shoutout",
    "shout out",
    "well done",
    "best",
    "impressed",
    "merci",
    "bravo",
    "genial",
    "super",
    "top",
    "au top",
    "parfait",
    "parfaite",
    "nickel",
    "excellent",
    "felicitations",
    "chapeau",
    "rapide",
    "efficace",
    "adore",
    "j'adore",
    "recommande",
    "je recommande",
];

const ASKING_FIRST_WORDS: &[&str] = &[
    "how", "why", "what", "when", "where", "who", "which", "can", "could", "does", "do", "is",
    "are", "will", "would", "should", "anyone", "anybody", "any", "comment", "pourquoi", "quand",
    "ou", "quel", "quelle", "quels", "quelles", "qui", "est-ce", "combien", "savez", "pouvez",
    "peut-on", "peux",
];

/// Intent rules compiled once.
#[derive(Debug)]
pub struct IntentDetector {
    cues: PhraseSet<Cue>,
}

impl IntentDetector {
    pub fn new(tokenizer: &Tokenizer) -> Result<IntentDetector, NlpError> {
        let mut builder = PhraseSetBuilder::default();
        for (phrases, cue) in [
            (CHURN, Cue::Churn),
            (COMPLAINTS, Cue::Complaint),
            (PRAISES, Cue::Praise),
        ] {
            for phrase in phrases {
                let keys: Vec<String> = tokenizer
                    .tokenize(phrase)
                    .into_iter()
                    .map(|token| token.folded.into_string())
                    .collect();
                builder.add(&keys, cue);
            }
        }
        Ok(IntentDetector {
            cues: builder.build("intent phrase")?,
        })
    }

    /// The intents of a post's `tokens`, given its sentiment.
    pub fn detect(&self, tokens: &[Token], sentiment: SentimentLabel) -> Vec<String> {
        let (mut churn, mut complaint, mut praise) = (false, false, false);
        let words = tokens.iter().filter(|token| !token.in_hashtag);
        for hit in self.cues.find(words.map(|token| token.folded.as_str())) {
            for cue in hit.payloads {
                match cue {
                    Cue::Churn => churn = true,
                    Cue::Complaint => complaint = true,
                    Cue::Praise => praise = true,
                }
            }
        }
        let question = tokens.iter().any(|token| token.folded == "?")
            || tokens
                .iter()
                .find(|token| token.kind == TokenKind::Word)
                .is_some_and(|first| ASKING_FIRST_WORDS.contains(&first.folded.as_str()))
                && tokens.iter().filter(|t| t.kind == TokenKind::Word).count() > 3;
        let complaint = sentiment == SentimentLabel::Negative || complaint || churn;
        let praise = !complaint
            && (sentiment == SentimentLabel::Positive
                || (praise && sentiment != SentimentLabel::Negative));
        let flags = [complaint, question, praise, churn];
        INTENTS
            .iter()
            .zip(flags)
            .filter(|(_, on)| *on)
            .map(|(intent, _)| (*intent).to_owned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intents(text: &str, sentiment: SentimentLabel) -> Vec<String> {
        let tokenizer = Tokenizer::new().unwrap();
        let detector = IntentDetector::new(&tokenizer).unwrap();
        detector.detect(&tokenizer.tokenize(text), sentiment)
    }

    #[test]
    fn each_intent_is_recognised() {
        use SentimentLabel::*;
        assert_eq!(
            intents("still waiting for the technician", Neutral),
            [COMPLAINT]
        );
        assert_eq!(intents("how do I change my plan?", Neutral), [QUESTION]);
        assert_eq!(
            intents("merci pour la réactivité, au top", Neutral),
            [PRAISE]
        );
        assert_eq!(
            intents("je vais résilier et passer chez la concurrence", Negative),
            [COMPLAINT, CHURN_THREAT]
        );
        assert_eq!(intents("thanks for nothing", Negative), [COMPLAINT]);
        assert!(intents("new shop opening downtown", Neutral).is_empty());
    }
}
