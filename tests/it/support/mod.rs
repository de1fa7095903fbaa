//! Helpers shared by the integration tests. `env` owns the temp config/data
//! dirs and the command builder of the configuration tests; `run_env` and
//! `crash_env` add sandbox channels for the job, crash and fault suites.

pub mod backend;
pub mod crash_env;
pub mod env;
pub mod medusa;
pub mod pg;
pub mod run_env;
pub mod vendure;

/// The built-in beta-rest type's import page size (from the capability list).
pub fn beta_rest_page_size() -> usize {
    oms_channels::capabilities::Capabilities::built_in()
        .get("beta-rest")
        .expect("beta-rest is built in")
        .limits()
        .page_size
}
