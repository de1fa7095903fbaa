//! `status` and `history`.

use anyhow::Result;

use crate::app::{Context, Outcome};
use crate::cli::{HistoryArgs, StatusArgs};

pub fn status(_ctx: &Context, _args: &StatusArgs) -> Result<Outcome> {
    anyhow::bail!("status is not built yet")
}

pub fn history(_ctx: &Context, _args: &HistoryArgs) -> Result<Outcome> {
    anyhow::bail!("history is not built yet")
}
