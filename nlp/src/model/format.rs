//! The model file format: small, versioned, documented, read without trusting its input.
//!
//! Layout (all integers and floats little-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `VEILLEML` |
//! | 4 | format version, `u32` ([`FORMAT_VERSION`]) |
//! | 4 | header length `h`, `u32` |
//! | h | header: [`ModelMeta`] as UTF-8 JSON (axis, labels, feature config, provenance) |
//! | 4 | IDF length `n` (`0` or the bucket count), `u32` |
//! | 4·n | IDF weights, `f32` |
//! | 4 | weight count `m` (`(buckets + 1) × labels`), `u32` |
//! | 4·m | weights, bucket-major (`weights[bucket × labels + label]`), biases last, `f32` |
//!
//! Every length is checked against the header before use: a truncated, oversized or
//! inconsistent file is a [`ModelError`], never a panic.

use std::path::{Path, PathBuf};

use super::{LinearModel, MAX_LABELS, ModelMeta};

/// The bytes every model file starts with.
pub const MAGIC: &[u8; 8] = b"VEILLEML";
/// The format this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The largest header accepted.
const MAX_HEADER: usize = 1 << 20;

/// A model file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read the model file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the model file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not a veille model: {0}")]
    Invalid(String),
    #[error("model format version {found} is not supported (this build reads {FORMAT_VERSION})")]
    Version { found: u32 },
}

impl LinearModel {
    /// The model as bytes in the file format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.meta).unwrap_or_default();
        let mut bytes =
            Vec::with_capacity(24 + header.len() + 4 * (self.idf.len() + self.weights.len()));
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        push_len(&mut bytes, header.len());
        bytes.extend_from_slice(&header);
        for values in [&self.idf, &self.weights] {
            push_len(&mut bytes, values.len());
            for value in values.iter() {
                bytes.extend_from_slice(&value.to_le_bytes());
            }
        }
        bytes
    }

    /// Reads a model from bytes in the file format.
    pub fn from_bytes(bytes: &[u8]) -> Result<LinearModel, ModelError> {
        let mut reader = Reader { bytes, at: 0 };
        if reader.take(MAGIC.len())? != MAGIC {
            return Err(ModelError::Invalid("wrong magic bytes".into()));
        }
        let version = reader.u32()?;
        if version != FORMAT_VERSION {
            return Err(ModelError::Version { found: version });
        }
        let header_length = reader.u32()? as usize;
        if header_length > MAX_HEADER {
            return Err(ModelError::Invalid("header too long".into()));
        }
        let meta: ModelMeta = serde_json::from_slice(reader.take(header_length)?)
            .map_err(|error| ModelError::Invalid(format!("bad header: {error}")))?;
        let labels = meta.labels.len();
        if !(2..=MAX_LABELS).contains(&labels) {
            return Err(ModelError::Invalid(format!(
                "{labels} labels (2 to {MAX_LABELS} expected)"
            )));
        }
        if !(8..=24).contains(&meta.features.bits) {
            return Err(ModelError::Invalid(format!(
                "{} hash bits (8 to 24 expected)",
                meta.features.bits
            )));
        }
        let buckets = meta.features.buckets();
        let idf = reader.floats()?;
        let expected_idf = if meta.features.idf { buckets } else { 0 };
        if idf.len() != expected_idf {
            return Err(ModelError::Invalid(format!(
                "{} IDF weights, {expected_idf} expected",
                idf.len()
            )));
        }
        let weights = reader.floats()?;
        if weights.len() != (buckets + 1) * labels {
            return Err(ModelError::Invalid(format!(
                "{} weights, {} expected",
                weights.len(),
                (buckets + 1) * labels
            )));
        }
        if reader.at != bytes.len() {
            return Err(ModelError::Invalid("trailing bytes".into()));
        }
        if idf.iter().chain(&weights).any(|value| !value.is_finite()) {
            return Err(ModelError::Invalid(
                "a weight is not a finite number".into(),
            ));
        }
        Ok(LinearModel::new(meta, idf, weights))
    }

    /// Saves the model at `path`.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        std::fs::write(path, self.to_bytes()).map_err(|source| ModelError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Loads the model at `path`.
    pub fn load(path: &Path) -> Result<LinearModel, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        LinearModel::from_bytes(&bytes)
    }
}

fn push_len(bytes: &mut Vec<u8>, length: usize) {
    let length = u32::try_from(length).unwrap_or(u32::MAX);
    bytes.extend_from_slice(&length.to_le_bytes());
}

struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Reader<'b> {
    fn take(&mut self, length: usize) -> Result<&'b [u8], ModelError> {
        let end = self
            .at
            .checked_add(length)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| ModelError::Invalid("file is truncated".into()))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn u32(&mut self) -> Result<u32, ModelError> {
        let mut word = [0u8; 4];
        word.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(word))
    }

    fn floats(&mut self) -> Result<Vec<f32>, ModelError> {
        let count = self.u32()? as usize;
        let bytes = self.take(count.saturating_mul(4))?;
        Ok(bytes
            .chunks_exact(4)
            .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FeatureConfig;

    fn tiny() -> LinearModel {
        let features = FeatureConfig {
            bits: 8,
            ..FeatureConfig::default()
        };
        let buckets = features.buckets();
        LinearModel::new(
            ModelMeta {
                axis: "sentiment".into(),
                labels: vec!["negative".into(), "positive".into()],
                features,
                provenance: "test".into(),
            },
            (0..buckets).map(|i| i as f32 / 7.0).collect(),
            (0..(buckets + 1) * 2).map(|i| (i as f32).sin()).collect(),
        )
    }

    #[test]
    fn a_model_round_trips_bit_for_bit() {
        let model = tiny();
        let bytes = model.to_bytes();
        assert_eq!(LinearModel::from_bytes(&bytes).unwrap(), model);
    }

    #[test]
    fn damaged_files_are_errors_not_panics() {
        let bytes = tiny().to_bytes();
        for length in [0, 7, 8, 12, 16, 40, bytes.len() - 1] {
            assert!(
                LinearModel::from_bytes(&bytes[..length]).is_err(),
                "{length}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(LinearModel::from_bytes(&longer).is_err());
        let mut version = bytes.clone();
        version[8] = 9;
        assert!(matches!(
            LinearModel::from_bytes(&version),
            Err(ModelError::Version { found: 9 })
        ));
        let mut huge = bytes;
        huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(LinearModel::from_bytes(&huge).is_err());
    }
}
