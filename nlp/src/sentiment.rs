//! sentiment (being written).
