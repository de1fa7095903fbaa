//! Helpers shared by the integration tests. `env` owns the temp config/data
//! dirs and the command builder of the configuration tests; `run_env` and
//! `crash_env` add sandbox channels for the job, crash and fault suites.

pub mod crash_env;
pub mod env;
pub mod medusa;
pub mod pg;
pub mod run_env;
