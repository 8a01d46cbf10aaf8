//! Real post texts for the benchmarks, read from the labelled sets of `../shared/data`
//! (see their READMEs): TweetEval sentiment (English), UMSAB French tweets and the US
//! airline tweets. Texts are trimmed and TweetEval's literal `\uXXXX` escapes decoded;
//! empty lines are left out.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::dataset::decode_escapes;

/// The data directory given on the command line, checked.
pub(crate) fn data_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    if !dir.join("tweeteval-sentiment").is_dir() {
        anyhow::bail!(
            "{} does not hold tweeteval-sentiment/ (the real data sets): pass --data DIR",
            dir.display()
        );
    }
    Ok(dir.to_path_buf())
}

fn read_lines(path: &Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .map(|line| decode_escapes(line.trim()))
        .filter(|line| !line.is_empty())
        .collect())
}

/// The test splits of TweetEval (12,284 English tweets) and UMSAB French (869): the
/// posts the NLP benchmark analyses.
pub(crate) fn test_texts(data: &Path) -> anyhow::Result<Vec<String>> {
    let mut texts = read_lines(&data.join("tweeteval-sentiment/test_text.txt"))?;
    texts.extend(read_lines(
        &data.join("umsab-french-tweet-sentiment/test_text.txt"),
    )?);
    Ok(texts)
}

/// Labelled training texts (TweetEval rebuilt train and UMSAB French train), with their
/// label names: what the scikit-learn peer learns from. Written as JSON lines.
pub(crate) fn training_examples(data: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut examples = Vec::new();
    for (texts, labels, mapping) in [
        (
            "tweeteval-sentiment/train_reconstructed_text.txt",
            "tweeteval-sentiment/train_reconstructed_labels.txt",
            "tweeteval-sentiment/mapping.txt",
        ),
        (
            "umsab-french-tweet-sentiment/train_text.txt",
            "umsab-french-tweet-sentiment/train_labels.txt",
            "umsab-french-tweet-sentiment/mapping.txt",
        ),
    ] {
        let text = std::fs::read_to_string(data.join(texts))
            .with_context(|| format!("reading {texts}"))?;
        let label_text = std::fs::read_to_string(data.join(labels))
            .with_context(|| format!("reading {labels}"))?;
        let mapping_text = std::fs::read_to_string(data.join(mapping))
            .with_context(|| format!("reading {mapping}"))?;
        let names: Vec<(String, String)> = mapping_text
            .lines()
            .filter_map(|line| {
                let mut parts = line.split_whitespace();
                Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
            })
            .collect();
        for (line, label) in text.lines().zip(label_text.lines()) {
            let text = decode_escapes(line.trim());
            let label = label.trim();
            let Some((_, name)) = names.iter().find(|(id, _)| id == label) else {
                continue;
            };
            if !text.is_empty() {
                examples.push((text, name.clone()));
            }
        }
    }
    Ok(examples)
}

/// Every text of the three sets (train, validation and test splits, about 78,000): the
/// bodies of the posts the index benchmark generates.
pub(crate) fn all_texts(data: &Path) -> anyhow::Result<Vec<String>> {
    let mut texts = Vec::new();
    for file in [
        "tweeteval-sentiment/train_reconstructed_text.txt",
        "tweeteval-sentiment/val_text.txt",
        "tweeteval-sentiment/test_text.txt",
        "umsab-french-tweet-sentiment/train_text.txt",
        "umsab-french-tweet-sentiment/val_text.txt",
        "umsab-french-tweet-sentiment/test_text.txt",
    ] {
        texts.extend(read_lines(&data.join(file))?);
    }
    let airline = data.join("twitter-us-airline-sentiment/Tweets.csv");
    let mut reader = csv::Reader::from_path(&airline)
        .with_context(|| format!("reading {}", airline.display()))?;
    let column = reader
        .headers()
        .with_context(|| format!("reading the header of {}", airline.display()))?
        .iter()
        .position(|name| name == "text")
        .with_context(|| format!("{} has no `text` column", airline.display()))?;
    for record in reader.records() {
        let Ok(record) = record else { continue };
        if let Some(text) = record.get(column).map(str::trim).filter(|t| !t.is_empty()) {
            texts.push(text.to_owned());
        }
    }
    Ok(texts)
}

/// `text` with a mention of the brand written as `mention` (`@lumio`, `#lumio`, `Lumio`),
/// placed at the start, the end or after the first word depending on `position % 3`.
pub(crate) fn with_brand(text: &str, mention: &str, position: usize) -> String {
    match position % 3 {
        0 => format!("{mention} {text}"),
        1 => format!("{text} {mention}"),
        _ => match text.split_once(' ') {
            Some((first, rest)) => format!("{first} {mention} {rest}"),
            None => format!("{text} {mention}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brand_goes_at_three_places() {
        assert_eq!(with_brand("a b", "@x", 0), "@x a b");
        assert_eq!(with_brand("a b", "@x", 1), "a b @x");
        assert_eq!(with_brand("a b", "@x", 2), "a @x b");
        assert_eq!(with_brand("a", "@x", 2), "a @x");
    }
}
