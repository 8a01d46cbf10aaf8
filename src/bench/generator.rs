//! The posts of `veille bench index`: real texts (every split of the three data sets,
//! about 78,000), each analysed once by the real analyser (sample configuration, brand
//! `#lumio` appended), then turned into as many posts as asked, post `i` fully determined
//! by `(seed, i)`: a base text and its analysis, one of five brands mentioned as a handle,
//! hashtag or name at one of three places, one of four sources, one of 200,000 authors,
//! a follower count, and a date half a second after post `i - 1`.

use anyhow::Context;
use collector::{Author, Post, PostId, SourceKind};
use nlp::{AnalysedPost, Analysis, Analyzer, BrandMatch, Outcome};

use super::common::epoch;
use super::corpus;

/// The brands the generated posts are about.
pub(crate) const BRANDS: [&str; 5] = ["Lumio", "Ondix", "Telvia", "Nexaro", "Brightel"];
const SOURCES: [SourceKind; 4] = [
    SourceKind::X,
    SourceKind::Bluesky,
    SourceKind::Mastodon,
    SourceKind::Reddit,
];
const AUTHORS: u64 = 200_000;
/// The mention appended to every base text so the analyser keeps it.
const BASE_MENTION: &str = "#lumio";

struct Base {
    text: String,
    analysis: Analysis,
}

pub(crate) struct Generator {
    bases: Vec<Base>,
    seed: u64,
}

/// SplitMix64: a well-mixed 64-bit value from a counter.
fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Generator {
    /// Reads and analyses the base texts.
    pub(crate) fn new(
        data: &std::path::Path,
        analyzer: &Analyzer,
        seed: u64,
        limit: Option<usize>,
    ) -> anyhow::Result<Generator> {
        let mut texts = corpus::all_texts(data)?;
        if let Some(limit) = limit {
            texts.truncate(limit.max(1));
        }
        let mut bases = Vec::with_capacity(texts.len());
        for (index, text) in texts.into_iter().enumerate() {
            let post = Post {
                id: PostId::new(SourceKind::X, &index.to_string()),
                source: SourceKind::X,
                url: None,
                text: format!("{text} {BASE_MENTION}"),
                lang: None,
                created_at: epoch(),
                observed_at: epoch(),
                author: Author::default(),
                relation: Default::default(),
                engagement: Default::default(),
                change: Default::default(),
            };
            if let Outcome::Relevant(analysed) = analyzer.analyse(post) {
                let AnalysedPost { post, analysis } = *analysed;
                let text = post
                    .text
                    .strip_suffix(BASE_MENTION)
                    .unwrap_or(&post.text)
                    .trim_end()
                    .to_owned();
                bases.push(Base { text, analysis });
            }
        }
        anyhow::ensure!(!bases.is_empty(), "no base text was kept by the analyser");
        Ok(Generator { bases, seed })
    }

    pub(crate) fn base_count(&self) -> usize {
        self.bases.len()
    }

    /// Post number `index`.
    pub(crate) fn post(&self, index: u64) -> AnalysedPost {
        let h = mix(self.seed ^ mix(index));
        let base = &self.bases[(h % self.bases.len() as u64) as usize];
        let brand = BRANDS[((h >> 20) % BRANDS.len() as u64) as usize];
        let lower = brand.to_lowercase();
        let mention = match (h >> 24) % 3 {
            0 => format!("#{lower}"),
            1 => format!("@{lower}"),
            _ => brand.to_owned(),
        };
        let text = corpus::with_brand(&base.text, &mention, ((h >> 28) % 3) as usize);
        let source = SOURCES[((h >> 32) % SOURCES.len() as u64) as usize];
        let author = (h >> 36) % AUTHORS;
        let at = epoch()
            + chrono::Duration::milliseconds(
                i64::try_from(index / 2 * 1000 + index % 2 * 500).unwrap_or(i64::MAX / 2),
            );
        let mut analysis = base.analysis.clone();
        analysis.brands = vec![BrandMatch {
            brand: brand.to_owned(),
            matched: mention,
        }];
        AnalysedPost {
            post: Post {
                id: PostId::new(source, &index.to_string()),
                source,
                url: None,
                text,
                lang: None,
                created_at: at,
                observed_at: at,
                author: Author {
                    id: format!("u{author}"),
                    handle: Some(format!("@user{author}")),
                    name: Some(format!("User {author}")),
                    followers: Some(mix(author) % 50_000),
                    ..Author::default()
                },
                relation: Default::default(),
                engagement: Default::default(),
                change: Default::default(),
            },
            analysis,
        }
    }
}

/// One line of the export the SQLite peer reads: id, text, author, created (Unix
/// seconds), brand, sentiment, language, source, tab-separated (tabs and line breaks in
/// the text become spaces).
pub(crate) fn export_line(post: &AnalysedPost) -> anyhow::Result<String> {
    let clean = |text: &str| text.replace(['\t', '\n', '\r'], " ");
    let brand = post
        .analysis
        .brands
        .first()
        .map(|m| m.brand.as_str())
        .context("generated post without a brand")?;
    Ok(format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        post.post.id,
        clean(&post.post.text),
        clean(post.post.author.handle.as_deref().unwrap_or("")),
        post.post.created_at.timestamp(),
        brand,
        post.analysis.sentiment.label.as_str(),
        clean(&post.analysis.language),
        post.post.source.as_str()
    ))
}
