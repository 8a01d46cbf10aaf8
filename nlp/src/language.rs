//! language (being written).
