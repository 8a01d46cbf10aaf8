//! Dashboard (being written).
