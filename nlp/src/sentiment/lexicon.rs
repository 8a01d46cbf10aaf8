//! The v0 sentiment lexicons: `en.txt` and `fr.txt` (compiled in), plus an emoji table.
//!
//! Entries are folded and stemmed at load with the stemmer the scorer's tokens were stemmed
//! with, so one entry covers a word's inflections and its unaccented spelling. Three
//! lexicons are built once, on first use: English, French, and a mixed one (English first,
//! then French, stemmed like English) for other and undetermined languages.

use crate::fasthash::FastMap;
use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};

use crate::phrase::{PhraseSet, PhraseSetBuilder};
use crate::tokens::{fold, stem_algorithm};

const ENGLISH: &str = include_str!("en.txt");
const FRENCH: &str = include_str!("fr.txt");

/// Emoji (by their first character, see `tokens`) and emoticons.
const EMOJI: &[(&str, f32)] = &[
    ("😡", -3.0),
    ("🤬", -3.5),
    ("😠", -2.5),
    ("😤", -2.0),
    ("👎", -2.5),
    ("😞", -2.0),
    ("😟", -1.5),
    ("😢", -2.0),
    ("😭", -2.0),
    ("😩", -2.0),
    ("😫", -2.0),
    ("😒", -1.5),
    ("🙄", -1.5),
    ("😑", -1.0),
    ("😐", -0.5),
    ("😕", -1.5),
    ("🙁", -1.5),
    ("☹", -2.0),
    ("😖", -2.0),
    ("😣", -1.5),
    ("😓", -1.5),
    ("😰", -1.5),
    ("😱", -1.5),
    ("😬", -1.0),
    ("💩", -2.5),
    ("🤮", -3.0),
    ("🤢", -2.5),
    ("🤦", -2.0),
    ("💔", -2.5),
    ("🖕", -3.0),
    ("❌", -1.0),
    ("😍", 3.0),
    ("🥰", 3.0),
    ("🤩", 3.0),
    ("😘", 2.0),
    ("❤", 3.0),
    ("💙", 2.5),
    ("💚", 2.5),
    ("💛", 2.5),
    ("💜", 2.5),
    ("🧡", 2.5),
    ("💕", 2.5),
    ("💖", 2.5),
    ("😻", 2.5),
    ("😀", 2.0),
    ("😃", 2.0),
    ("😄", 2.0),
    ("😁", 2.0),
    ("😊", 2.0),
    ("☺", 2.0),
    ("🤗", 2.0),
    ("😇", 1.5),
    ("🙂", 1.0),
    ("😉", 1.0),
    ("😎", 1.5),
    ("👍", 2.0),
    ("👌", 2.0),
    ("👏", 2.5),
    ("🙌", 2.5),
    ("🙏", 2.0),
    ("🎉", 2.5),
    ("🥳", 2.5),
    ("🏆", 2.0),
    ("💯", 2.0),
    ("💪", 1.5),
    ("🔥", 1.5),
    ("⭐", 1.5),
    ("🌟", 1.5),
    ("✨", 1.0),
    ("✅", 1.0),
    (":)", 2.0),
    (":-)", 2.0),
    ("=)", 1.5),
    (":]", 1.5),
    (";)", 1.0),
    ("<3", 2.5),
    (":(", -2.0),
    (":-(", -2.0),
    ("=(", -1.5),
    (":[", -1.5),
    (":/", -1.0),
    (":-/", -1.0),
    (":|", -0.5),
];

static LEXICONS: LazyLock<Lexicons> = LazyLock::new(Lexicons::build);

/// The lexicon matching tokens stemmed for `language` (see [`stem_algorithm`]).
pub(crate) fn for_language(language: &str) -> &'static Lexicon {
    let lexicons = &*LEXICONS;
    match language {
        "en" => &lexicons.english,
        "fr" => &lexicons.french,
        _ => &lexicons.mixed,
    }
}

pub(crate) fn emoji_valence(key: &str) -> Option<f32> {
    LEXICONS.emoji.get(key).copied()
}

struct Lexicons {
    english: Lexicon,
    french: Lexicon,
    mixed: Lexicon,
    emoji: FastMap<&'static str, f32>,
}

impl Lexicons {
    fn build() -> Lexicons {
        let mut problems = Vec::new();
        let english = Lexicon::build(&[ENGLISH], stem_algorithm("en"), &mut problems);
        let french = Lexicon::build(&[FRENCH], stem_algorithm("fr"), &mut problems);
        // Same files again: their problems are already listed.
        let mixed = Lexicon::build(&[ENGLISH, FRENCH], stem_algorithm("und"), &mut Vec::new());
        if !problems.is_empty() {
            tracing::warn!(?problems, "sentiment lexicon lines skipped");
        }
        Lexicons {
            english,
            french,
            mixed,
            emoji: EMOJI.iter().copied().collect(),
        }
    }
}

/// One section of a lexicon file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Words,
    Negated,
    Boosters,
    Negators,
    PostNegators,
    Subjects,
    Contrast,
    Idioms,
}

impl Section {
    fn parse(header: &str) -> Option<Section> {
        Some(match header {
            "words" => Section::Words,
            "negated" => Section::Negated,
            "boosters" => Section::Boosters,
            "negators" => Section::Negators,
            "post-negators" => Section::PostNegators,
            "subjects" => Section::Subjects,
            "contrast" => Section::Contrast,
            "idioms" => Section::Idioms,
            _ => return None,
        })
    }

    fn has_values(self) -> bool {
        matches!(
            self,
            Section::Words | Section::Negated | Section::Boosters | Section::Idioms
        )
    }
}

/// What a lexicon says about one word, keyed by its folded form.
#[derive(Debug, Clone, Copy, Default)]
struct FoldedEntry {
    valence: Option<f32>,
    negated_valence: Option<f32>,
    booster: Option<f32>,
    negator: bool,
    post_negator: bool,
    subject: bool,
    contrast: bool,
}

/// What a lexicon says about the words of one stem.
#[derive(Debug, Clone, Copy, Default)]
struct StemEntry {
    valence: Option<f32>,
    negated_valence: Option<f32>,
}

/// Everything the scorer asks about one token, found with one lookup of its folded form
/// and one of its stem ([`Lexicon::facts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct WordFacts {
    /// The word's valence: its exact entry, else its stem's.
    pub(crate) valence: Option<f32>,
    /// The valence it takes only when negated ("not *working*"): exact, else by stem.
    pub(crate) negated_valence: Option<f32>,
    /// A booster's (or dampener's) strength.
    pub(crate) booster: Option<f32>,
    /// A negator before a word ("not", "never", any "...n't").
    pub(crate) negator: bool,
    /// A negator after a word (French "pas", "plus", "jamais").
    pub(crate) post_negator: bool,
    /// A subject pronoun, which lets a post-negator negate the verb after it.
    pub(crate) subject: bool,
    /// A contrast word ("but", "mais").
    pub(crate) contrast: bool,
}

/// Word valences for one stemming language, and the words that shape them: one table by
/// folded form (exact entries, boosters, negators...), one by stem.
pub(crate) struct Lexicon {
    folded: FastMap<String, FoldedEntry>,
    stems: FastMap<String, StemEntry>,
    idioms: Option<PhraseSet<usize>>,
    idiom_valences: Vec<f32>,
    stemmer: Stemmer,
}

impl std::fmt::Debug for Lexicon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lexicon")
            .field("words", &(self.folded.len() + self.stems.len()))
            .field("idioms", &self.idiom_valences.len())
            .finish_non_exhaustive()
    }
}

impl Lexicon {
    /// Builds from lexicon files in priority order (the first entry of a key wins).
    fn build(sources: &[&str], algorithm: Algorithm, problems: &mut Vec<String>) -> Lexicon {
        let mut lexicon = Lexicon {
            folded: FastMap::default(),
            stems: FastMap::default(),
            idioms: None,
            idiom_valences: Vec::new(),
            stemmer: Stemmer::create(algorithm),
        };
        let mut idioms = PhraseSetBuilder::default();
        for source in sources {
            let mut section = None;
            for (line_index, raw_line) in source.lines().enumerate() {
                let line = raw_line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let line_number = line_index + 1;
                if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                    section = Section::parse(header);
                    if section.is_none() {
                        problems.push(format!("line {line_number}: unknown section `{header}`"));
                    }
                    continue;
                }
                let Some(section) = section else {
                    problems.push(format!("line {line_number}: entry outside a section"));
                    continue;
                };
                let (term, value) = if section.has_values() {
                    let parsed = line
                        .rsplit_once(char::is_whitespace)
                        .and_then(|(term, value)| Some((term.trim(), value.parse::<f32>().ok()?)));
                    match parsed {
                        Some((term, value)) => (term, value),
                        None => {
                            problems.push(format!("line {line_number}: expected `term value`"));
                            continue;
                        }
                    }
                } else {
                    (line, 0.0)
                };
                lexicon.add(section, term, value, &mut idioms);
            }
        }
        lexicon.idioms = idioms.build("sentiment idiom").ok();
        lexicon
    }

    fn add(
        &mut self,
        section: Section,
        term: &str,
        value: f32,
        idioms: &mut PhraseSetBuilder<usize>,
    ) {
        let (exact, word) = match term.strip_prefix('=') {
            Some(word) => (true, fold(&word.to_lowercase())),
            None => (false, fold(&term.to_lowercase())),
        };
        // The first entry of a key wins.
        let first = |slot: &mut Option<f32>| {
            slot.get_or_insert(value);
        };
        match section {
            Section::Words if exact => first(&mut self.folded_entry(&word).valence),
            Section::Words => first(&mut self.stem_entry(&word).valence),
            Section::Negated if exact => first(&mut self.folded_entry(&word).negated_valence),
            Section::Negated => first(&mut self.stem_entry(&word).negated_valence),
            Section::Boosters => first(&mut self.folded_entry(&word).booster),
            Section::Negators => self.folded_entry(&word).negator = true,
            Section::PostNegators => self.folded_entry(&word).post_negator = true,
            Section::Subjects => self.folded_entry(&word).subject = true,
            Section::Contrast => self.folded_entry(&word).contrast = true,
            Section::Idioms => {
                let keys: Vec<&str> = word.split(' ').filter(|key| !key.is_empty()).collect();
                if idioms.add(&keys, self.idiom_valences.len()) {
                    self.idiom_valences.push(value);
                }
            }
        }
    }

    fn folded_entry(&mut self, word: &str) -> &mut FoldedEntry {
        self.folded.entry(word.to_owned()).or_default()
    }

    fn stem_entry(&mut self, word: &str) -> &mut StemEntry {
        let stem = self.stemmer.stem(word).into_owned();
        self.stems.entry(stem).or_default()
    }

    /// What the lexicon says about a word (`folded` and `stem` as in its token).
    pub(crate) fn facts(&self, folded: &str, stem: &str) -> WordFacts {
        let by_folded = self.folded.get(folded).copied().unwrap_or_default();
        let by_stem = self.stems.get(stem).copied().unwrap_or_default();
        WordFacts {
            valence: by_folded.valence.or(by_stem.valence),
            negated_valence: by_folded.negated_valence.or(by_stem.negated_valence),
            booster: by_folded.booster,
            negator: by_folded.negator || folded.ends_with("n't"),
            post_negator: by_folded.post_negator,
            subject: by_folded.subject,
            contrast: by_folded.contrast,
        }
    }

    /// The valence of a word (`folded` and `stem` as in its token).
    pub(crate) fn valence(&self, folded: &str, stem: &str) -> Option<f32> {
        self.facts(folded, stem).valence
    }

    /// The valence of a word written with a doubled letter collapsed (`goood` → `good`,
    /// when the token's folded form kept only one).
    pub(crate) fn valence_doubled(&self, text: &str) -> Option<f32> {
        let doubled = collapse_to_two(&fold(text));
        let stem = self.stemmer.stem(&doubled);
        self.valence(&doubled, &stem)
    }

    pub(crate) fn idioms(&self) -> Option<&PhraseSet<usize>> {
        self.idioms.as_ref()
    }

    pub(crate) fn idiom_valence(&self, idiom: usize) -> f32 {
        self.idiom_valences.get(idiom).copied().unwrap_or(0.0)
    }
}

/// Collapses runs of three or more identical letters to two (`goooood` → `good`).
fn collapse_to_two(word: &str) -> String {
    let mut collapsed = String::with_capacity(word.len());
    let mut previous = None;
    let mut run = 0;
    for c in word.chars() {
        run = if Some(c) == previous { run + 1 } else { 1 };
        previous = Some(c);
        if run <= 2 || !c.is_alphabetic() {
            collapsed.push(c);
        }
    }
    collapsed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{TokenKind, Tokenizer};
    use std::collections::HashMap;

    /// The entry lines of a section of a lexicon file.
    fn section_lines<'a>(source: &'a str, name: &str) -> impl Iterator<Item = &'a str> {
        let header = format!("[{name}]");
        source
            .lines()
            .skip_while(move |line| *line != header)
            .skip(1)
            .take_while(|line| !line.starts_with('['))
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
    }

    #[test]
    fn every_lexicon_line_is_read() {
        let mut problems = Vec::new();
        Lexicon::build(&[ENGLISH], Algorithm::English, &mut problems);
        Lexicon::build(&[FRENCH], Algorithm::French, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn idioms_are_written_as_the_tokenizer_splits_them() {
        let tokenizer = Tokenizer::new().unwrap();
        for source in [ENGLISH, FRENCH] {
            for line in section_lines(source, "idioms") {
                let (idiom, _) = line.rsplit_once(' ').unwrap();
                // Elisions are written apart ("n' importe") but glued in posts.
                let tokens = tokenizer.tokenize(&idiom.replace("' ", "'"));
                let folded: Vec<&str> = tokens.iter().map(|t| t.folded.as_str()).collect();
                assert_eq!(folded.join(" "), fold(idiom), "idiom `{idiom}`");
                assert!(tokens.iter().all(|t| t.kind != TokenKind::Hashtag));
            }
        }
    }

    #[test]
    fn no_stem_has_two_polarities() {
        for source in [ENGLISH, FRENCH] {
            let algorithm = if source == FRENCH {
                Algorithm::French
            } else {
                Algorithm::English
            };
            let stemmer = Stemmer::create(algorithm);
            let mut seen: HashMap<String, (String, f32)> = HashMap::new();
            for line in section_lines(source, "words") {
                let (term, value) = line.rsplit_once(' ').unwrap();
                let value: f32 = value.parse().unwrap();
                let stem = stemmer
                    .stem(&fold(term.trim_start_matches('=')))
                    .into_owned();
                if let Some((other, other_value)) = seen.get(&stem) {
                    assert!(
                        other_value * value > 0.0,
                        "`{term}` and `{other}` share `{stem}`"
                    );
                }
                seen.insert(stem, (term.to_owned(), value));
            }
        }
    }

    #[test]
    fn lookups_cover_inflections_and_accents() {
        let english = for_language("en");
        assert_eq!(english.valence("disappointing", "disappoint"), Some(-2.5));
        let french = for_language("fr");
        let stemmer = Stemmer::create(Algorithm::French);
        let stem = stemmer.stem("decue");
        assert_eq!(french.valence("decue", &stem), Some(-2.5));
        assert!(english.facts("doesn't", "doesn't").negator);
        assert!(english.facts("never", "never").negator);
        let very = english.facts("very", "veri");
        assert!(very.booster.is_some_and(|strength| strength > 0.0) && very.valence.is_none());
        let working = english.facts("working", "work");
        assert!(working.negated_valence.is_some_and(|valence| valence < 0.0));
        assert_eq!(french.valence_doubled("géniiiial"), None);
        assert_eq!(english.valence_doubled("gooood"), Some(2.0));
        assert_eq!(emoji_valence("😡"), Some(-3.0));
    }
}
