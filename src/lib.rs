//! oms-channels: per-account sales-channel settings, validation, and the
//! background jobs (token refresh, product import, product export) run by cron.

pub mod app;
pub mod capabilities;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod complete;
pub mod config;
pub mod connector;
pub mod context;
pub mod crash;
pub mod error;
pub mod error_report;
pub mod guard;
pub mod ids;
pub mod jobs;
pub mod logging;
pub mod output;
pub mod paths;
pub mod period;
pub mod plan;
pub mod price;
pub mod schedule;
pub mod store;
pub mod timestamp;
pub mod validate;
