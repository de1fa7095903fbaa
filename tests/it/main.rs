//! The integration tests, in one binary: the real `oms-channels` binary in
//! temp config and data dirs, against sandbox beta-rest channels on loopback.

#[path = "../../examples/sandbox/server.rs"]
mod sandbox;
mod support;

mod channel_messages;
mod channel_tls;
mod cli;
mod connectors;
mod crash;
mod cron;
mod data_dir;
mod deploy_files;
mod edge;
mod fake_channel;
mod faults;
mod files;
mod many_runners;
mod medusa_jobs;
mod peers_medusa;
mod peers_vendure;
mod redirects;
mod run_once;
mod shop_input;
mod state;
mod state_crash;
mod store_tls;
mod vendure_jobs;
