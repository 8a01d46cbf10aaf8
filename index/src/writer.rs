//! writer (being written).
