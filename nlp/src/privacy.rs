//! Privacy: personal contact data redacted from the stored text, and the sensitive
//! categories of personal data a post reveals.
//!
//! * [`redact`] replaces e-mail addresses with `[email]` and phone numbers with `[phone]`:
//!   a run of digits, spaces, dots, dashes, slashes and brackets holding 9 to 15 digits,
//!   that starts with `+`, `(` or `0` or is split in groups (`06 12 34 56 78`,
//!   `+1 (555) 123-4567`, `555-123-4567`). Dates, prices and reference numbers written
//!   as one block of digits not starting with 0 are left alone.
//! * [`SensitiveMatcher`] finds the categories the CNIL names as sensitive (article 9
//!   GDPR): ethnic origin, political opinions, religious or philosophical beliefs, trade
//!   union membership, health. It matches short phrases that *reveal* them, mostly in the
//!   first person ("my chemo", "je suis syndiqué", "as a Muslim"), on folded words in
//!   English and French. What to do with a flagged post (keep and flag, or drop) is the
//!   analyzer's configuration.
//!
//! Never panics; a text with nothing to redact is not copied.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::error::NlpError;
use crate::phrase::{PhraseSet, PhraseSetBuilder};
use crate::tokens::{Token, Tokenizer};

/// The sensitive categories, by their configuration names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensitiveCategory {
    EthnicOrigin,
    PoliticalOpinion,
    ReligiousBelief,
    UnionMembership,
    Health,
}

impl SensitiveCategory {
    pub const ALL: [SensitiveCategory; 5] = [
        SensitiveCategory::EthnicOrigin,
        SensitiveCategory::PoliticalOpinion,
        SensitiveCategory::ReligiousBelief,
        SensitiveCategory::UnionMembership,
        SensitiveCategory::Health,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SensitiveCategory::EthnicOrigin => "ethnic_origin",
            SensitiveCategory::PoliticalOpinion => "political_opinion",
            SensitiveCategory::ReligiousBelief => "religious_belief",
            SensitiveCategory::UnionMembership => "union_membership",
            SensitiveCategory::Health => "health",
        }
    }

    pub fn parse(name: &str) -> Option<SensitiveCategory> {
        SensitiveCategory::ALL
            .into_iter()
            .find(|category| category.as_str() == name)
    }

    fn phrases(self) -> &'static [&'static str] {
        match self {
            SensitiveCategory::EthnicOrigin => &[
                "as a black woman",
                "as a black man",
                "as a black person",
                "i'm black",
                "i am black",
                "as an arab",
                "i'm arab",
                "as an asian",
                "i'm asian",
                "as a latina",
                "as a latino",
                "i'm latino",
                "i'm latina",
                "i'm hispanic",
                "my ethnicity",
                "african american",
                "my race",
                "people like me",
                "je suis noir",
                "je suis noire",
                "en tant que noir",
                "en tant que noire",
                "je suis arabe",
                "en tant qu'arabe",
                "je suis maghrebin",
                "je suis maghrebine",
                "mes origines",
                "je suis asiatique",
                "je suis rom",
                "d'origine algerienne",
                "d'origine marocaine",
                "d'origine africaine",
                "d'origine senegalaise",
                "racisme",
                "racism",
                "racist",
                "raciste",
                "discrimination au faciès",
                "delit de facies",
            ],
            SensitiveCategory::PoliticalOpinion => &[
                "i voted for",
                "i vote for",
                "i'm voting for",
                "i will vote",
                "my party",
                "as a democrat",
                "as a republican",
                "as a socialist",
                "as a conservative",
                "as a liberal",
                "i'm a democrat",
                "i'm a republican",
                "maga",
                "trump supporter",
                "j'ai vote pour",
                "je vote pour",
                "je voterai",
                "mon parti",
                "militant",
                "militante",
                "je milite",
                "rassemblement national",
                "la france insoumise",
                "insoumis",
                "insoumise",
                "les republicains",
                "macroniste",
                "ecologiste",
                "communiste",
                "socialiste",
                "je suis de gauche",
                "je suis de droite",
                "i'm left wing",
                "i'm right wing",
                "leftist",
                "far right",
                "extreme droite",
                "extreme gauche",
            ],
            SensitiveCategory::ReligiousBelief => &[
                "muslim",
                "musulman",
                "musulmane",
                "ramadan",
                "mosque",
                "mosquee",
                "halal",
                "christian",
                "chretien",
                "chretienne",
                "catholic",
                "catholique",
                "church",
                "eglise",
                "messe",
                "jewish",
                "juif",
                "juive",
                "synagogue",
                "kosher",
                "casher",
                "shabbat",
                "atheist",
                "athee",
                "buddhist",
                "bouddhiste",
                "hindu",
                "hindou",
                "my faith",
                "ma foi",
                "i pray",
                "je prie",
                "praying",
                "god bless",
                "inshallah",
                "insha'allah",
                "evangelical",
                "evangelique",
                "protestant",
                "protestante",
                "bible",
                "coran",
                "quran",
                "carême",
                "lent",
            ],
            SensitiveCategory::UnionMembership => &[
                "my union",
                "union member",
                "union rep",
                "shop steward",
                "our union",
                "joined the union",
                "teamsters",
                "afl-cio",
                "syndique",
                "syndiquee",
                "mon syndicat",
                "notre syndicat",
                "delegue syndical",
                "deleguee syndicale",
                "cgt",
                "cfdt",
                "force ouvriere",
                "sud rail",
                "unsa",
                "cfe-cgc",
            ],
            SensitiveCategory::Health => &[
                "cancer",
                "chemo",
                "chemotherapy",
                "chimio",
                "chimiotherapie",
                "diabetes",
                "diabetic",
                "diabete",
                "diabetique",
                "insulin",
                "insuline",
                "depression",
                "depressed",
                "deprime",
                "antidepressants",
                "antidepresseurs",
                "hiv",
                "vih",
                "aids",
                "sida",
                "pregnant",
                "enceinte",
                "pregnancy",
                "grossesse",
                "miscarriage",
                "fausse couche",
                "my doctor",
                "mon medecin",
                "my surgery",
                "surgery",
                "operation du",
                "hospitalized",
                "hospitalised",
                "hospitalise",
                "hospitalisee",
                "a l'hopital",
                "in hospital",
                "in the hospital",
                "wheelchair",
                "fauteuil roulant",
                "disability",
                "disabled",
                "handicap",
                "handicape",
                "handicapee",
                "asthma",
                "asthme",
                "epilepsy",
                "epilepsie",
                "autism",
                "autistic",
                "autiste",
                "adhd",
                "tdah",
                "therapy",
                "therapist",
                "therapie",
                "psychiatrist",
                "psychiatre",
                "anxiety disorder",
                "bipolar",
                "bipolaire",
                "dialysis",
                "dialyse",
                "covid positive",
                "positif au covid",
                "my medication",
                "mes medicaments",
                "mon traitement",
                "sclerose",
                "sclerosis",
                "my diagnosis",
                "mon diagnostic",
                "arret maladie",
                "sick leave",
            ],
        }
    }
}

/// Finds sensitive categories in tokens. Built once.
#[derive(Debug)]
pub struct SensitiveMatcher {
    phrases: PhraseSet<SensitiveCategory>,
}

impl SensitiveMatcher {
    pub fn new(tokenizer: &Tokenizer) -> Result<SensitiveMatcher, NlpError> {
        let mut builder = PhraseSetBuilder::default();
        for category in SensitiveCategory::ALL {
            for phrase in category.phrases() {
                let keys: Vec<String> = tokenizer
                    .tokenize(phrase)
                    .into_iter()
                    .filter(|token| !token.in_hashtag)
                    .map(|token| token.folded.into_string())
                    .collect();
                builder.add(&keys, category);
            }
        }
        Ok(SensitiveMatcher {
            phrases: builder.build("sensitive phrase")?,
        })
    }

    /// The categories `tokens` reveal, each once, in [`SensitiveCategory::ALL`] order.
    pub fn find(&self, tokens: &[Token]) -> Vec<SensitiveCategory> {
        let mut found = [false; SensitiveCategory::ALL.len()];
        let keys = tokens.iter().map(|token| token.folded.as_str());
        for hit in self.phrases.find(keys) {
            for category in hit.payloads {
                found[*category as usize] = true;
            }
        }
        SensitiveCategory::ALL
            .into_iter()
            .filter(|category| found[*category as usize])
            .collect()
    }
}

/// The text with e-mail addresses and phone numbers replaced, and how many were.
pub fn redact(text: &str) -> (Cow<'_, str>, u32) {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut count = 0;
    let mut at = 0;
    while at < bytes.len() {
        let found = if bytes[at] == b'@' {
            email_around(text, at).map(|range| (range, "[email]"))
        } else if (bytes[at].is_ascii_digit() || bytes[at] == b'+' || bytes[at] == b'(')
            && (at == 0 || !bytes[at - 1].is_ascii_alphanumeric())
        {
            phone_at(bytes, at).map(|end| ((at, end), "[phone]"))
        } else {
            None
        };
        match found {
            Some(((start, end), replacement)) if start >= copied => {
                let buffer = out.get_or_insert_with(|| String::with_capacity(text.len()));
                buffer.push_str(&text[copied..start]);
                buffer.push_str(replacement);
                copied = end;
                at = end;
                count += 1;
            }
            _ => at += 1,
        }
    }
    match out {
        Some(mut buffer) => {
            buffer.push_str(&text[copied..]);
            (Cow::Owned(buffer), count)
        }
        None => (Cow::Borrowed(text), 0),
    }
}

fn is_local_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// The byte range of the e-mail address whose `@` is at `at`.
fn email_around(text: &str, at: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut start = at;
    while start > 0 && is_local_byte(bytes[start - 1]) {
        start -= 1;
    }
    let mut end = at + 1;
    while end < bytes.len()
        && (bytes[end].is_ascii_alphanumeric() || matches!(bytes[end], b'.' | b'-'))
    {
        end += 1;
    }
    while end > at + 1 && matches!(bytes[end - 1], b'.' | b'-') {
        end -= 1;
    }
    let domain = &text[at + 1..end];
    let has_dot = domain.contains('.') && !domain.starts_with('.');
    let top_level_ok = domain
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()));
    (start < at && has_dot && top_level_ok).then_some((start, end))
}

/// The end of a phone number starting at `start`, if one does.
fn phone_at(bytes: &[u8], start: usize) -> Option<usize> {
    let mut digits = 0;
    let mut groups = 0;
    let mut end = start;
    let mut last_digit_end = start;
    let mut in_group = false;
    let mut at = start;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte.is_ascii_digit() {
            digits += 1;
            if !in_group {
                groups += 1;
                in_group = true;
            }
            last_digit_end = at + 1;
        } else if matches!(byte, b' ' | b'.' | b'-' | b'/' | b'(' | b')')
            || (byte == b'+' && at == start)
        {
            in_group = false;
            // Two separators in a row end the number (". " after it, "  ").
            let next = bytes.get(at + 1).copied().unwrap_or(b'x');
            let bracket_pair = (byte == b')' && next == b' ') || (byte == b' ' && next == b'(');
            if !next.is_ascii_digit() && !bracket_pair {
                break;
            }
        } else {
            break;
        }
        at += 1;
        end = last_digit_end;
    }
    if end < bytes.len() && bytes[end].is_ascii_alphabetic() {
        return None;
    }
    let first = bytes[start];
    let first_digit = bytes[start..end]
        .iter()
        .find(|b| b.is_ascii_digit())
        .copied();
    let shaped = first == b'+' || first == b'(' || first_digit == Some(b'0') || groups >= 3;
    ((9..=15).contains(&digits) && shaped).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::Tokenizer;

    #[test]
    fn emails_and_phones_are_redacted() {
        let (text, count) = redact("write to jane.doe+x@mail.example.fr or call 06 12 34 56 78.");
        assert_eq!(text, "write to [email] or call [phone].");
        assert_eq!(count, 2);
        let (text, _) = redact("US: +1 (555) 123-4567, 555-123-4567; FR +33 6 12 34 56 78");
        assert_eq!(text, "US: [phone], [phone]; FR [phone]");
        let (text, _) = redact("tel:0612345678!");
        assert_eq!(text, "tel:[phone]!");
    }

    #[test]
    fn ordinary_numbers_and_handles_are_kept() {
        for text in [
            "paid 123456789 euros",
            "on 2025-03-01 at 10:30",
            "@lumio_help since 8am",
            "order #A12345678",
            "version 1.2.3",
            "a@b",
            "price 49.99 for 12 months",
        ] {
            let (out, count) = redact(text);
            assert_eq!((out.as_ref(), count), (text, 0), "{text}");
        }
        assert!(matches!(redact("nothing here").0, Cow::Borrowed(_)));
    }

    #[test]
    fn sensitive_categories_are_found_in_both_languages() {
        let tokenizer = Tokenizer::new().unwrap();
        let matcher = SensitiveMatcher::new(&tokenizer).unwrap();
        let find = |text: &str| matcher.find(&tokenizer.tokenize(text));
        assert_eq!(
            find("No signal at the hospital, my chemo appointment"),
            [SensitiveCategory::Health]
        );
        assert_eq!(
            find("Je suis syndiqué à la CGT"),
            [SensitiveCategory::UnionMembership]
        );
        assert_eq!(
            find("during Ramadan the shop closes"),
            [SensitiveCategory::ReligiousBelief]
        );
        assert!(find("my internet is down again").is_empty());
    }
}
