//! HTTP handlers, one file per area. [`crate::router`] assembles them.

pub(crate) mod alerts;
pub(crate) mod health;
pub(crate) mod influencers;
pub(crate) mod labels;
pub(crate) mod login;
pub(crate) mod meta;
pub(crate) mod metrics;
pub(crate) mod page;
pub(crate) mod search;
pub(crate) mod status;
