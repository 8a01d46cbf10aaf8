//! analyzer (being written).
