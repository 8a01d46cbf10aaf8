//! End-to-end tests (placeholder until the pipeline exists).
