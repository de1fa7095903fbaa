//! The integration tests, in one binary: the real `oms-channels` binary in
//! temp config and data dirs, against sandbox beta-rest channels on loopback.

use ::sandbox;
mod support;

mod cli;
mod connectors;
mod crash;
mod cron;
mod deploy_files;
mod faults;
mod files;
mod many_runners;
mod medusa_jobs;
mod peers_medusa;
mod peers_vendure;
mod run_once;
mod state;
mod state_crash;
mod store_tls;
mod vendure_jobs;
