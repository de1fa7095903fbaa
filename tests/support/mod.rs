//! Helpers shared by the integration tests in `tests/cli.rs`. Each helper
//! group lives in its own file; `env` owns the temp config/data dirs and the
//! command builder.

pub mod env;
