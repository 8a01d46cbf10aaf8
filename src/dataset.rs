//! Labelled text sets for `veille train` and `veille eval`, read from the layouts we meet:
//!
//! * a table: CSV (with a header row) or JSONL (one object per line), with a text column
//!   and a label column named on the command line; rows whose label is empty are skipped
//!   and counted (so `--label-column negativereason` of the airline set keeps only the
//!   negative tweets, which are the only ones with a reason);
//! * the TweetEval layout: a text file and a labels file aligned line for line, label ids
//!   turned into names through a `mapping.txt` (`0<TAB>negative`). Texts are trimmed and
//!   literal `\uXXXX` escapes, which TweetEval keeps from its sources, are decoded.
//!
//! Every problem is an error naming the file and line; nothing panics.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Where one part of a data set comes from.
#[derive(Debug, Clone)]
pub enum DataSource {
    Table {
        path: PathBuf,
        text_column: String,
        label_column: String,
    },
    Lines {
        text_file: PathBuf,
        labels_file: PathBuf,
        mapping: Option<PathBuf>,
    },
}

/// Texts with their labels.
#[derive(Debug, Default, Clone)]
pub struct Dataset {
    pub texts: Vec<String>,
    pub labels: Vec<String>,
    /// Weight of each example (its source's `--source-weight`, 1 by default).
    pub weights: Vec<f32>,
    /// Which source (0 for the first, in reading order) each example came from.
    pub sources: Vec<usize>,
    /// Rows left out because their label was empty.
    pub skipped: usize,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// Reads and appends every source, in order.
    pub fn read(sources: &[DataSource]) -> anyhow::Result<Dataset> {
        Dataset::read_weighted(sources, &[])
    }

    /// [`Dataset::read`], each source's examples weighing `weights[i]` (1 when absent).
    pub fn read_weighted(sources: &[DataSource], weights: &[f32]) -> anyhow::Result<Dataset> {
        let mut dataset = Dataset::default();
        for (index, source) in sources.iter().enumerate() {
            let before = dataset.len();
            match source {
                DataSource::Table {
                    path,
                    text_column,
                    label_column,
                } => dataset.read_table(path, text_column, label_column)?,
                DataSource::Lines {
                    text_file,
                    labels_file,
                    mapping,
                } => dataset.read_lines(text_file, labels_file, mapping.as_deref())?,
            }
            let weight = weights.get(index).copied().unwrap_or(1.0);
            for slot in &mut dataset.weights[before..] {
                *slot = weight;
            }
            dataset.sources.resize(dataset.len(), index);
            eprintln!(
                "read {} examples from {}",
                dataset.len() - before,
                source.describe()
            );
        }
        Ok(dataset)
    }

    fn push(&mut self, text: String, label: &str) {
        let label = label.trim();
        if label.is_empty() {
            self.skipped += 1;
        } else {
            self.texts.push(text);
            self.labels.push(label.to_owned());
            self.weights.push(1.0);
        }
    }

    fn read_table(&mut self, path: &Path, text: &str, label: &str) -> anyhow::Result<()> {
        let is_jsonl = path
            .extension()
            .is_some_and(|extension| extension == "jsonl" || extension == "json");
        if is_jsonl {
            return self.read_jsonl(path, text, label);
        }
        let mut reader = csv::Reader::from_path(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let headers = reader
            .headers()
            .with_context(|| format!("{}: no header row", path.display()))?
            .clone();
        let column = |name: &str| {
            headers
                .iter()
                .position(|header| header == name)
                .with_context(|| {
                    let known: Vec<&str> = headers.iter().collect();
                    format!(
                        "{}: no column `{name}` (columns: {})",
                        path.display(),
                        known.join(", ")
                    )
                })
        };
        let (text_at, label_at) = (column(text)?, column(label)?);
        for (row, record) in reader.records().enumerate() {
            let record =
                record.with_context(|| format!("{}: bad CSV row {}", path.display(), row + 2))?;
            let value = |at: usize| record.get(at).unwrap_or("").to_owned();
            self.push(value(text_at), &value(label_at));
        }
        Ok(())
    }

    fn read_jsonl(&mut self, path: &Path, text: &str, label: &str) -> anyhow::Result<()> {
        let content = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for (number, line) in content.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let object: serde_json::Value = serde_json::from_str(line)
                .with_context(|| format!("{}:{}: not JSON", path.display(), number + 1))?;
            let field = |name: &str| match object.get(name) {
                Some(serde_json::Value::String(value)) => value.clone(),
                Some(serde_json::Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            self.push(field(text), &field(label));
        }
        Ok(())
    }

    fn read_lines(
        &mut self,
        text_file: &Path,
        labels_file: &Path,
        mapping: Option<&Path>,
    ) -> anyhow::Result<()> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
        };
        let names = match mapping {
            Some(path) => parse_mapping(&read(path)?)
                .with_context(|| format!("{}: bad mapping", path.display()))?,
            None => HashMap::new(),
        };
        let texts = read(text_file)?;
        let labels = read(labels_file)?;
        let texts: Vec<&str> = texts.lines().collect();
        let labels: Vec<&str> = labels.lines().collect();
        if texts.len() != labels.len() {
            bail!(
                "{} has {} lines but {} has {}",
                text_file.display(),
                texts.len(),
                labels_file.display(),
                labels.len()
            );
        }
        for (number, (text, label)) in texts.into_iter().zip(labels).enumerate() {
            let label = label.trim();
            let name = match names.get(label) {
                Some(name) => name.as_str(),
                None if names.is_empty() => label,
                None => bail!(
                    "{}:{}: label `{label}` is not in the mapping",
                    labels_file.display(),
                    number + 1
                ),
            };
            self.push(decode_escapes(text.trim()), name);
        }
        Ok(())
    }
}

impl DataSource {
    pub fn describe(&self) -> String {
        match self {
            DataSource::Table { path, .. } => path.display().to_string(),
            DataSource::Lines { text_file, .. } => text_file.display().to_string(),
        }
    }
}

/// `id<TAB or spaces>name` per line.
fn parse_mapping(text: &str) -> anyhow::Result<HashMap<String, String>> {
    let mut names = HashMap::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let mut parts = line.split_whitespace();
        let (Some(id), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
            bail!("line `{line}` is not `id name`");
        };
        names.insert(id.to_owned(), name.to_owned());
    }
    Ok(names)
}

/// Decodes literal `\uXXXX` escapes (surrogate pairs included); anything else is kept.
pub fn decode_escapes(text: &str) -> String {
    if !text.contains("\\u") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut pending_high: Option<u32> = None;
    while let Some(at) = rest.find("\\u") {
        out.push_str(&rest[..at]);
        let hex = rest
            .get(at + 2..at + 6)
            .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(code) = hex.and_then(|hex| u32::from_str_radix(hex, 16).ok()) else {
            out.push_str("\\u");
            rest = &rest[at + 2..];
            continue;
        };
        rest = &rest[at + 6..];
        match (pending_high.take(), code) {
            (None, 0xD800..=0xDBFF) if rest.starts_with("\\u") => pending_high = Some(code),
            (Some(high), 0xDC00..=0xDFFF) => {
                let combined = 0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00);
                out.extend(char::from_u32(combined));
            }
            (_, code) => out.push(char::from_u32(code).unwrap_or('\u{FFFD}')),
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_decoded() {
        assert_eq!(decode_escapes("don\\u2019t"), "don’t");
        assert_eq!(decode_escapes("a\\u002c b"), "a, b");
        assert_eq!(decode_escapes("\\ud83d\\ude00!"), "😀!");
        assert_eq!(decode_escapes("\\uZZ and \\u"), "\\uZZ and \\u");
    }

    #[test]
    fn mappings_accept_tabs_and_spaces() {
        let names = parse_mapping("0\tnegative\n1 neutral\n\n2  positive").unwrap();
        assert_eq!(names["2"], "positive");
        assert!(parse_mapping("0").is_err());
    }
}
