//! Connectors: how the jobs talk to a channel's API, one folder per protocol.

pub mod vendure;
