//! The posts of `veille bench e2e`: real tweets (TweetEval sentiment, training split, from
//! `../shared/data`), with the benchmark's brand injected so that most pass relevance.
//!
//! Post `n` of a run is decided by `n` alone, so the shares are exact over any stretch:
//! * every `marker_every`-th post is a **marker**, `#lumio` plus a unique word
//!   (`zqmark<n>`), searched for to time how soon a post becomes searchable;
//! * of each 100 posts, the first `alert_percent` take a text labelled *negative* and
//!   get `@lumio outage`, so the rule `sentiment = negative and topic = outage` fires on
//!   those the sentiment model also finds negative (the report counts the alerts raised);
//! * the last `off_topic_percent` keep their text as it is (no brand: dropped as not
//!   relevant, as most of a real firehose would be);
//! * the others get `#lumio` appended (any label).
//!
//! Authors: `authors` distinct ids spread over the posts, followers growing with the id, so
//! the influence tracker works on a population rather than one author.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};

use super::generator::ID_BASE;

/// What a post was built to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum PostKind {
    Marker,
    Alert,
    OffTopic,
    Brand,
}

/// How posts are made.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shares {
    pub(super) alert_percent: u64,
    pub(super) off_topic_percent: u64,
    pub(super) marker_every: u64,
    pub(super) authors: u64,
}

/// Texts, JSON-escaped once, ready to be rendered into stream lines.
pub(super) struct Corpus {
    /// Escaped texts (without the surrounding quotes), every label.
    all: Vec<String>,
    /// Escaped texts labelled negative.
    negative: Vec<String>,
    shares: Shares,
}

impl Corpus {
    /// Reads `text_file` and `label_file` (one per line, TweetEval: 0 negative, 1 neutral,
    /// 2 positive).
    pub(super) fn load(
        text_file: &Path,
        label_file: &Path,
        shares: Shares,
    ) -> anyhow::Result<Corpus> {
        let texts = std::fs::read_to_string(text_file)
            .with_context(|| format!("cannot read the texts {}", text_file.display()))?;
        let labels = std::fs::read_to_string(label_file)
            .with_context(|| format!("cannot read the labels {}", label_file.display()))?;
        let mut all = Vec::new();
        let mut negative = Vec::new();
        for (text, label) in texts.lines().zip(labels.lines()) {
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let quoted = serde_json::to_string(text).context("cannot escape a text")?;
            let escaped = quoted[1..quoted.len() - 1].to_owned();
            if label.trim() == "0" {
                negative.push(escaped.clone());
            }
            all.push(escaped);
        }
        if all.is_empty() || negative.is_empty() {
            bail!(
                "{} holds no usable text (or none labelled negative)",
                text_file.display()
            );
        }
        if shares.alert_percent + shares.off_topic_percent > 100 {
            bail!("--alert-percent + --off-topic-percent must be at most 100");
        }
        Ok(Corpus {
            all,
            negative,
            shares: Shares {
                marker_every: shares.marker_every.max(1),
                authors: shares.authors.max(1),
                ..shares
            },
        })
    }

    pub(super) fn texts(&self) -> usize {
        self.all.len()
    }

    pub(super) fn shares(&self) -> Shares {
        self.shares
    }

    /// What post `seq` is.
    pub(super) fn kind(&self, seq: u64) -> PostKind {
        let shares = &self.shares;
        if seq % shares.marker_every == shares.marker_every - 1 {
            return PostKind::Marker;
        }
        let slot = seq % 100;
        if slot < shares.alert_percent {
            PostKind::Alert
        } else if slot >= 100 - shares.off_topic_percent {
            PostKind::OffTopic
        } else {
            PostKind::Brand
        }
    }

    /// The word only the marker `seq` contains.
    pub(super) fn marker_word(seq: u64) -> String {
        format!("zqmark{seq}")
    }

    /// Appends the stream line (JSON + `\r\n`) of post `seq` to `out`.
    pub(super) fn render(&self, seq: u64, created_at: &str, out: &mut Vec<u8>) {
        // A multiplicative hash spreads consecutive posts over the texts and authors.
        let spread = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16;
        let pick = |texts: &[String]| -> usize {
            usize::try_from(spread % texts.len() as u64).unwrap_or(0)
        };
        let (text, suffix, marker) = match self.kind(seq) {
            PostKind::Marker => ("", "#lumio probe", Some(Corpus::marker_word(seq))),
            PostKind::Alert => (
                self.negative[pick(&self.negative)].as_str(),
                " @lumio outage",
                None,
            ),
            PostKind::OffTopic => (self.all[pick(&self.all)].as_str(), "", None),
            PostKind::Brand => (self.all[pick(&self.all)].as_str(), " #lumio", None),
        };
        let id = ID_BASE + seq;
        let author = 10_000 + spread % self.shares.authors;
        let followers = (author % 1_000) * (author % 1_000) + 10;
        // Writing to a Vec cannot fail.
        let _ = write!(out, r#"{{"data":{{"id":"{id}","text":"{text}{suffix}"#);
        if let Some(word) = marker {
            let _ = write!(out, " {word}");
        }
        let _ = write!(
            out,
            concat!(
                r#"","author_id":"{author}","created_at":"{created_at}","lang":"en","conversation_id":"{id}","#,
                r#""edit_history_tweet_ids":["{id}"],"public_metrics":{{"retweet_count":0,"reply_count":0,"like_count":1,"quote_count":0,"impression_count":100}}}},"#,
                r#""includes":{{"users":[{{"id":"{author}","username":"user{author}","name":"User {author}","#,
                r#""public_metrics":{{"followers_count":{followers},"following_count":10,"tweet_count":100,"listed_count":0}}}}]}},"#,
                r#""matching_rules":[{{"id":"1000","tag":"brand:lumio"}}]}}"#,
                "\r\n"
            ),
            author = author,
            created_at = created_at,
            id = id,
            followers = followers,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> Corpus {
        Corpus {
            all: vec!["plain \\\"quoted\\\" text".to_owned(), "bad day".to_owned()],
            negative: vec!["bad day".to_owned()],
            shares: Shares {
                alert_percent: 5,
                off_topic_percent: 10,
                marker_every: 1_000,
                authors: 100,
            },
        }
    }

    #[test]
    fn every_line_is_a_post_the_collector_decodes() {
        let corpus = corpus();
        let now = chrono::Utc::now();
        let mut kinds = std::collections::HashMap::new();
        for seq in 0..2_000 {
            let mut line = Vec::new();
            corpus.render(seq, "2026-11-22T03:00:00.000Z", &mut line);
            assert!(line.ends_with(b"\r\n"));
            let item = collector::replay::x_stream::decode_line(&line[..line.len() - 2], now)
                .expect("the line decodes");
            let collector::replay::x_stream::StreamItem::Post { post, .. } = item else {
                panic!("not a post: {}", String::from_utf8_lossy(&line));
            };
            assert_eq!(post.id.to_string(), format!("x:{}", ID_BASE + seq));
            let kind = corpus.kind(seq);
            *kinds.entry(kind).or_insert(0) += 1;
            match kind {
                PostKind::Marker => assert!(post.text.contains(&Corpus::marker_word(seq))),
                PostKind::Alert => assert!(post.text.ends_with("@lumio outage")),
                PostKind::OffTopic => assert!(!post.text.contains("lumio")),
                PostKind::Brand => assert!(post.text.ends_with("#lumio")),
            }
        }
        assert_eq!(kinds[&PostKind::Marker], 2);
        assert_eq!(kinds[&PostKind::Alert], 100);
        assert_eq!(kinds[&PostKind::OffTopic], 198);
    }
}
