//! tokens (being written).
