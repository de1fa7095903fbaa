//! `run-once`: run the due jobs.

use anyhow::Result;

use crate::app::{Context, Outcome};
use crate::cli::RunOnceArgs;

pub fn run(_ctx: &Context, _args: &RunOnceArgs) -> Result<Outcome> {
    anyhow::bail!("run-once is not built yet")
}
