//! The integration tests, in one binary: the real `oms-channels` binary in
//! temp config and data dirs (`test_support::TestEnv`), against shops on
//! loopback: the sandbox beta-rest channel, and real Vendure and Medusa
//! servers (`test_support::peer`).

mod catalog;
mod channel_messages;
mod channel_tls;
mod cli;
mod connectors;
mod crash;
mod cron;
mod data_dir;
mod deploy_files;
mod edge;
mod faults;
mod files;
mod idle;
mod many_runners;
mod medusa_auth;
mod medusa_shop;
mod pacing;
mod peers_medusa;
mod peers_stock;
mod peers_vendure;
mod preview;
mod redirects;
mod removal_guard;
mod run_once;
mod shop_input;
mod shops_across;
mod state;
mod state_crash;
mod stock;
mod stock_export;
mod store_tls;
mod vendure_auth;
mod vendure_shop;

/// The built-in beta-rest type's import page size (from the capability list).
fn beta_rest_page_size() -> usize {
    oms_channels::capabilities::Capabilities::built_in()
        .get("beta-rest")
        .expect("beta-rest is built in")
        .limits()
        .page_size
}
