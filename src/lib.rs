//! oms-channels: per-account sales-channel settings, validation, and the
//! background jobs (token refresh, product import, product export) run by cron.

pub mod channel;
pub mod ids;
pub mod period;
pub mod product;
pub mod store;
