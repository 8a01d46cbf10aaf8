//! Brand relevance: which configured brands a post is about, and the term that shows it.
//!
//! Evidence, from strongest to weakest:
//! * a configured handle (`@lumio_help`, any case; `@lumio@mastodon.social` counts for
//!   `@lumio`) or a configured hashtag (`#lumiofail`, any case, accents ignored);
//! * an alias (`lumio`, `lumio telecom`) written as whole words, in any case and with or
//!   without accents, either in the text or inside a hashtag: as its prefix (`#lumiofail`
//!   → `lumio`) or as a run of its camel-case parts (`#JeQuitteLumio`).
//!
//! Context terms, when a brand has some, gate alias evidence: an alias counts only if one of
//! the brand's context terms (matched on folded words, hashtag parts included) is within
//! the brand's context window, so "orange juice" is not about Orange the operator while
//! "Orange a coupé ma fibre" is. Handles and configured hashtags need no context.
//!
//! Exclusions remove alias evidence only; handles and configured hashtags always count. An
//! exclusion that contains one of the brand's aliases (`lumio lamp`) removes the alias
//! occurrences it overlaps, so "my lumio lamp broke" is not about Lumio but "my lumio lamp
//! broke and lumio support is useless" still is. An exclusion that contains none of them
//! (a context word) removes every alias occurrence of the post.
//!
//! Out: one [`BrandMatch`] per brand, in configuration order, naming (as configured) the
//! term found first in the text.

use std::cmp::Reverse;
use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::analysis::BrandMatch;
use crate::config::Brand;
use crate::error::NlpError;
use crate::phrase::{PhraseMatch, PhraseSet, PhraseSetBuilder};
use crate::tokens::{Token, TokenKind, Tokenizer};

/// An alias or exclusion phrase of a brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phrase {
    Alias { brand: usize, alias: usize },
    Exclusion { brand: usize, exclusion: usize },
}

/// How far an exclusion reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExclusionScope {
    /// It contains an alias: it removes the alias occurrences it overlaps.
    Overlapping,
    /// It is a context term: it removes every alias occurrence of the post.
    WholePost,
}

#[derive(Debug)]
struct BrandTerms {
    name: String,
    /// Context terms configured (alias evidence then needs one nearby), and how near.
    needs_context: bool,
    context_window: usize,
    aliases: Vec<String>,
    exclusion_scopes: Vec<ExclusionScope>,
}

/// Something that shows a post is about a brand.
#[derive(Debug, Clone, Copy)]
struct Evidence<'c> {
    /// Token index where it starts.
    position: usize,
    brand: usize,
    /// The configured term.
    term: &'c str,
    /// Alias evidence, which exclusions can remove.
    alias: bool,
    /// Tokens it covers: at one position the longest term is reported.
    length: usize,
}

/// Brand terms compiled into matchers. Built once from configuration.
#[derive(Debug)]
pub struct RelevanceMatcher {
    brands: Vec<BrandTerms>,
    /// Aliases and exclusions, as folded word sequences.
    phrases: PhraseSet<Phrase>,
    /// Aliases and exclusions without spaces, for hashtag prefixes.
    compact: AhoCorasick,
    compact_phrases: Vec<Phrase>,
    /// Aliases without spaces (`lumiofibre`), for [`Tokenizer::with_hashtag_prefixes`].
    compact_aliases: Vec<String>,
    /// Folded handles and hashtags (with `@`/`#`) → (brand, configured term).
    tags: HashMap<String, Vec<(usize, String)>>,
    /// Context terms → brand.
    context: PhraseSet<usize>,
}

impl RelevanceMatcher {
    pub fn new(brands: &[Brand], tokenizer: &Tokenizer) -> Result<RelevanceMatcher, NlpError> {
        let mut problems = Vec::new();
        let mut phrases = PhraseSetBuilder::default();
        let mut compact_patterns = Vec::new();
        let mut compact_phrases = Vec::new();
        let mut compact_aliases = Vec::new();
        let mut tags: HashMap<String, Vec<(usize, String)>> = HashMap::new();
        let mut context = PhraseSetBuilder::default();
        let mut terms = Vec::with_capacity(brands.len());
        for (brand_index, brand) in brands.iter().enumerate() {
            let mut alias_keys = Vec::new();
            for (alias_index, alias) in brand.aliases.iter().enumerate() {
                let keys = folded_keys(tokenizer, alias);
                let phrase = Phrase::Alias {
                    brand: brand_index,
                    alias: alias_index,
                };
                if !phrases.add(&keys, phrase) {
                    problems.push(format!(
                        "brand `{}`: alias `{alias}` has no words",
                        brand.name
                    ));
                    continue;
                }
                compact_patterns.push(keys.concat());
                compact_aliases.push(keys.concat());
                compact_phrases.push(phrase);
                alias_keys.push(keys);
            }
            let mut exclusion_scopes = Vec::with_capacity(brand.exclusions.len());
            for (exclusion_index, exclusion) in brand.exclusions.iter().enumerate() {
                let keys = folded_keys(tokenizer, exclusion);
                let contains_alias = alias_keys.iter().any(|alias| contains_run(&keys, alias));
                exclusion_scopes.push(if contains_alias {
                    ExclusionScope::Overlapping
                } else {
                    ExclusionScope::WholePost
                });
                let phrase = Phrase::Exclusion {
                    brand: brand_index,
                    exclusion: exclusion_index,
                };
                if !phrases.add(&keys, phrase) {
                    let name = &brand.name;
                    problems.push(format!(
                        "brand `{name}`: exclusion `{exclusion}` has no words"
                    ));
                    continue;
                }
                compact_patterns.push(keys.concat());
                compact_phrases.push(phrase);
            }
            let tagged = [('@', &brand.handles), ('#', &brand.hashtags)];
            for (sign, configured) in tagged {
                for term in configured {
                    let body = term.trim().trim_start_matches(sign);
                    if body.is_empty() || body.contains(char::is_whitespace) {
                        problems.push(format!(
                            "brand `{}`: `{term}` is not a single tag",
                            brand.name
                        ));
                        continue;
                    }
                    let key = tokenizer.fold(&format!("{sign}{}", body.to_lowercase()));
                    tags.entry(key.into_string())
                        .or_default()
                        .push((brand_index, term.clone()));
                }
            }
            for term in &brand.context {
                if !context.add(&folded_keys(tokenizer, term), brand_index) {
                    let name = &brand.name;
                    problems.push(format!("brand `{name}`: context `{term}` has no words"));
                }
            }
            terms.push(BrandTerms {
                needs_context: !brand.context.is_empty(),
                context_window: brand.context_window,
                name: brand.name.clone(),
                aliases: brand.aliases.clone(),
                exclusion_scopes,
            });
        }
        if !problems.is_empty() {
            return Err(NlpError::InvalidTerms(problems));
        }
        let compact = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&compact_patterns)
            .map_err(|error| NlpError::Matcher {
                what: "hashtag prefix".to_owned(),
                error: Box::new(error),
            })?;
        Ok(RelevanceMatcher {
            brands: terms,
            phrases: phrases.build("brand alias")?,
            compact,
            compact_phrases,
            compact_aliases,
            tags,
            context: context.build("brand context")?,
        })
    }

    /// Every alias without its spaces (`lumio`, `lumiotelecom`): hashtag prefixes worth
    /// splitting off (see [`Tokenizer::with_hashtag_prefixes`]).
    pub fn alias_prefixes(&self) -> impl Iterator<Item = &str> {
        self.compact_aliases.iter().map(String::as_str)
    }

    /// The brands `tokens` are about; empty when none.
    pub fn find(&self, tokens: &[Token]) -> Vec<BrandMatch> {
        let mut evidence = Vec::new();
        let mut excluded_posts = vec![false; self.brands.len()];

        let mut written: Vec<usize> = Vec::with_capacity(tokens.len());
        written.extend((0..tokens.len()).filter(|&i| !tokens[i].in_hashtag));
        let keys = written.iter().map(|&i| tokens[i].folded.as_str());
        let hits = self.phrases.find(keys);
        self.collect_aliases(&hits, &written, &mut evidence, &mut excluded_posts);

        for (index, token) in tokens.iter().enumerate() {
            match token.kind {
                TokenKind::Handle => self.collect_handle(index, token, &mut evidence),
                TokenKind::Hashtag => {
                    self.collect_hashtag(tokens, index, &mut evidence, &mut excluded_posts);
                }
                _ => {}
            }
        }

        evidence.retain(|found| !(found.alias && excluded_posts[found.brand]));
        if self.brands.iter().any(|brand| brand.needs_context) {
            let context_hits = self
                .context
                .find(tokens.iter().map(|token| token.folded.as_str()));
            evidence.retain(|found| {
                let brand = &self.brands[found.brand];
                if !found.alias || !brand.needs_context {
                    return true;
                }
                context_hits.iter().any(|hit| {
                    hit.payloads.contains(&found.brand)
                        && (brand.context_window == 0
                            || (hit.positions.start <= found.position + brand.context_window
                                && found.position <= hit.positions.end + brand.context_window))
                })
            });
        }
        evidence.sort_by_key(|found| (found.brand, found.position, Reverse(found.length)));
        let mut matches: Vec<BrandMatch> = Vec::new();
        let mut last_brand = None;
        for found in evidence {
            if last_brand != Some(found.brand) {
                last_brand = Some(found.brand);
                matches.push(BrandMatch {
                    brand: self.brands[found.brand].name.clone(),
                    matched: found.term.to_owned(),
                });
            }
        }
        matches
    }

    /// Records the alias occurrences of a stream that no exclusion overlaps, and the brands
    /// whose whole-post exclusions occur. `positions` maps stream positions to token indices.
    fn collect_aliases<'s>(
        &'s self,
        hits: &[PhraseMatch<'_, Phrase>],
        positions: &[usize],
        evidence: &mut Vec<Evidence<'s>>,
        excluded_posts: &mut [bool],
    ) {
        for hit in hits {
            for phrase in hit.payloads {
                let &Phrase::Alias { brand, alias } = phrase else {
                    continue;
                };
                let overlapped = hits.iter().any(|other| {
                    other.positions.start < hit.positions.end
                        && hit.positions.start < other.positions.end
                        && other.payloads.iter().any(|other_phrase| {
                            self.is_exclusion_of(other_phrase, brand, ExclusionScope::Overlapping)
                        })
                });
                if !overlapped {
                    evidence.push(Evidence {
                        position: positions.get(hit.positions.start).copied().unwrap_or(0),
                        brand,
                        term: &self.brands[brand].aliases[alias],
                        alias: true,
                        length: hit.positions.len(),
                    });
                }
            }
        }
        for hit in hits {
            for phrase in hit.payloads {
                if let &Phrase::Exclusion { brand, .. } = phrase
                    && self.is_exclusion_of(phrase, brand, ExclusionScope::WholePost)
                {
                    excluded_posts[brand] = true;
                }
            }
        }
    }

    fn is_exclusion_of(&self, phrase: &Phrase, of_brand: usize, scope: ExclusionScope) -> bool {
        match *phrase {
            Phrase::Exclusion { brand, exclusion } => {
                brand == of_brand && self.brands[brand].exclusion_scopes[exclusion] == scope
            }
            Phrase::Alias { .. } => false,
        }
    }

    fn collect_handle<'s>(&'s self, index: usize, token: &Token, evidence: &mut Vec<Evidence<'s>>) {
        let handle = token.folded.as_str();
        // `@user@instance` (Mastodon) also counts as `@user`.
        let local = handle
            .get(1..)
            .and_then(|rest| rest.find('@'))
            .map(|at| &handle[..=at]);
        for key in std::iter::once(handle).chain(local) {
            self.collect_tag(index, key, evidence);
        }
    }

    fn collect_tag<'s>(&'s self, index: usize, key: &str, evidence: &mut Vec<Evidence<'s>>) {
        for (brand, term) in self.tags.get(key).into_iter().flatten() {
            evidence.push(Evidence {
                position: index,
                brand: *brand,
                term,
                alias: false,
                length: 1,
            });
        }
    }

    fn collect_hashtag<'s>(
        &'s self,
        tokens: &[Token],
        index: usize,
        evidence: &mut Vec<Evidence<'s>>,
        excluded_posts: &mut [bool],
    ) {
        let hashtag = &tokens[index];
        self.collect_tag(index, &hashtag.folded, evidence);

        // An alias or exclusion the hashtag starts with (`#lumiofail`, `#lumiolamp`).
        let body = hashtag.folded.get(1..).unwrap_or("");
        let mut prefixed_aliases = Vec::new();
        let mut prefix_excluded = Vec::new();
        for hit in self.compact.find_overlapping_iter(body) {
            if hit.start() != 0 {
                continue;
            }
            match self.compact_phrases[hit.pattern().as_usize()] {
                Phrase::Alias { brand, alias } => prefixed_aliases.push((brand, alias)),
                Phrase::Exclusion { brand, .. } => prefix_excluded.push(brand),
            }
        }
        for (brand, alias) in prefixed_aliases {
            if !prefix_excluded.contains(&brand) {
                evidence.push(Evidence {
                    position: index,
                    brand,
                    term: &self.brands[brand].aliases[alias],
                    alias: true,
                    length: 1,
                });
            }
        }

        // An alias among its parts (`#JeQuitteLumio`).
        let parts_end = tokens[index + 1..]
            .iter()
            .position(|token| !token.in_hashtag)
            .map_or(tokens.len(), |offset| index + 1 + offset);
        let parts = &tokens[index + 1..parts_end];
        if !parts.is_empty() {
            let hits = self
                .phrases
                .find(parts.iter().map(|part| part.folded.as_str()));
            let positions = vec![index; parts.len()];
            self.collect_aliases(&hits, &positions, evidence, excluded_posts);
        }
    }
}

/// The folded keys of a configured term; none if it is only punctuation.
fn folded_keys(tokenizer: &Tokenizer, term: &str) -> Vec<String> {
    let tokens = tokenizer.tokenize(term);
    if tokens.iter().all(|token| token.kind == TokenKind::Punct) {
        return Vec::new();
    }
    tokens
        .into_iter()
        .filter(|token| !token.in_hashtag)
        .map(|token| token.folded.into_string())
        .collect()
}

/// Whether `needle` occurs as a run of consecutive items of `haystack`.
fn contains_run(haystack: &[String], needle: &[String]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lumio() -> Brand {
        Brand {
            name: "Lumio".to_owned(),
            aliases: vec!["lumio".into(), "lumio telecom".into(), "lumio fibre".into()],
            handles: vec!["@lumio".into(), "@lumio_help".into(), "@lumio_fr".into()],
            hashtags: vec!["#lumio".into(), "#lumiofail".into(), "#lumiofibre".into()],
            exclusions: vec![
                "lumio lamp".into(),
                "lumio lamps".into(),
                "lumio the band".into(),
            ],
            ..Brand::default()
        }
    }

    fn brands() -> Vec<Brand> {
        let other = Brand {
            name: "Orbis Énergie".to_owned(),
            aliases: vec!["orbis énergie".into()],
            exclusions: vec!["concert".into()],
            ..Brand::default()
        };
        vec![lumio(), other]
    }

    fn find(text: &str) -> Vec<(String, String)> {
        let tokenizer = Tokenizer::new().unwrap();
        let matcher = RelevanceMatcher::new(&brands(), &tokenizer).unwrap();
        let tokens = tokenizer.tokenize(text);
        matcher
            .find(&tokens)
            .into_iter()
            .map(|found| (found.brand, found.matched))
            .collect()
    }

    fn lumio_by(term: &str) -> Vec<(String, String)> {
        vec![("Lumio".to_owned(), term.to_owned())]
    }

    #[test]
    fn aliases_match_whole_words_in_any_case() {
        assert_eq!(find("LUMIO is down again"), lumio_by("lumio"));
        assert_eq!(find("why is Lumio so slow?"), lumio_by("lumio"));
        assert!(find("the lumiosity of the screen").is_empty());
        assert!(find("illumio rocks").is_empty());
        assert!(find("nothing to see here").is_empty());
    }

    #[test]
    fn multiword_aliases_match_as_phrases_and_the_first_term_is_reported() {
        assert_eq!(find("Lumio Telecom hotline"), lumio_by("lumio telecom"));
        assert_eq!(find("fibre lumio"), lumio_by("lumio"));
        let found = find("Tarif Orbis Energie en hausse");
        assert_eq!(
            found,
            [("Orbis Énergie".to_owned(), "orbis énergie".to_owned())]
        );
        assert!(find("orbis, énergie").is_empty());
    }

    #[test]
    fn handles_match_exactly() {
        assert_eq!(find("@Lumio_Help my box is dead"), lumio_by("@lumio_help"));
        assert_eq!(find("cc @lumio@mastodon.social"), lumio_by("@lumio"));
        assert!(find("@lumio_helpdesk @lumiofan").is_empty());
    }

    #[test]
    fn hashtags_match_as_configured_by_prefix_or_by_parts() {
        assert_eq!(find("again #LumioFail"), lumio_by("#lumiofail"));
        assert_eq!(find("again #lumiofail"), lumio_by("#lumiofail"));
        assert_eq!(find("#LumioDown since noon"), lumio_by("lumio"));
        assert_eq!(find("#lumiodown since noon"), lumio_by("lumio"));
        assert_eq!(find("#JeQuitteLumio"), lumio_by("lumio"));
        assert!(find("#illumio").is_empty());
    }

    #[test]
    fn exclusions_remove_the_alias_they_cover() {
        assert!(find("my lumio lamp broke").is_empty());
        assert!(find("Lumio lamps on sale").is_empty());
        assert!(find("saw Lumio the band last night").is_empty());
        assert!(find("#LumioLamp").is_empty());
        let both = find("my lumio lamp broke and lumio support is useless");
        assert_eq!(both, lumio_by("lumio"));
    }

    #[test]
    fn exclusions_never_remove_handles_or_configured_hashtags() {
        assert_eq!(find("@lumio my lumio lamp broke"), lumio_by("@lumio"));
        assert_eq!(find("my lumio lamp broke #lumio"), lumio_by("#lumio"));
    }

    #[test]
    fn context_exclusions_remove_every_alias_of_their_brand() {
        assert!(find("orbis énergie concert ce soir").is_empty());
        assert_eq!(find("orbis énergie et lumio au concert"), lumio_by("lumio"));
    }

    #[test]
    fn one_match_per_brand_in_config_order() {
        let found = find("Orbis Énergie or @lumio_help? lumio fibre");
        assert_eq!(
            found,
            [
                ("Lumio".to_owned(), "@lumio_help".to_owned()),
                ("Orbis Énergie".to_owned(), "orbis énergie".to_owned()),
            ]
        );
    }

    #[test]
    fn terms_without_words_are_rejected_together() {
        let brand = Brand {
            name: "Bad".to_owned(),
            aliases: vec!["  ".into(), "ok".into()],
            handles: vec!["@".into(), "@two words".into()],
            ..Brand::default()
        };
        let error = RelevanceMatcher::new(&[brand], &Tokenizer::new().unwrap()).unwrap_err();
        let NlpError::InvalidTerms(problems) = error else {
            panic!("unexpected error {error}");
        };
        assert_eq!(problems.len(), 3, "{problems:?}");
    }
}
