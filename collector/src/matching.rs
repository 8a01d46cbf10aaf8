//! [`Keywords`]: brand terms matched on our side, for sources whose server cannot filter by
//! keyword (Bluesky Jetstream, Mastodon public timelines). A coarse, case-insensitive
//! pre-filter that keeps the firehose out of the pipeline; the NLP stage decides relevance.

use aho_corasick::AhoCorasick;

/// Case-insensitive terms; an empty list matches everything.
#[derive(Debug, Clone)]
pub struct Keywords {
    matcher: Option<AhoCorasick>,
}

impl Keywords {
    /// Terms such as `acme`, `@acme`, `#acme`: the leading `@`/`#` is dropped so the bare
    /// word matches any spelling.
    pub fn new<S: AsRef<str>>(terms: &[S]) -> Keywords {
        let terms: Vec<String> = terms
            .iter()
            .map(|term| {
                term.as_ref()
                    .trim()
                    .trim_start_matches(['@', '#'])
                    .to_lowercase()
            })
            .filter(|term| !term.is_empty())
            .collect();
        let matcher = (!terms.is_empty())
            .then(|| {
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(&terms)
                    .ok()
            })
            .flatten();
        Keywords { matcher }
    }

    /// Whether any term occurs in any of `texts`.
    pub fn matches<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> bool {
        let Some(matcher) = &self.matcher else {
            return true;
        };
        texts
            .into_iter()
            .any(|text| matcher.is_match(&text.to_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_match_case_insensitively_without_their_sigil() {
        let keywords = Keywords::new(&["Acme", "#LumioFail", "@lumio_hq"]);
        assert!(keywords.matches(["we moved to ACME cloud"]));
        assert!(keywords.matches(["", "#lumiofail again"]));
        assert!(keywords.matches(["ping LUMIO_HQ"]));
        assert!(!keywords.matches(["nothing to see"]));
        assert!(Keywords::new::<&str>(&[]).matches(["anything"]));
    }
}
