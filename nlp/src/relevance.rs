//! relevance (being written).
