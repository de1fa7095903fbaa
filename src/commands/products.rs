//! `products list | show | count | load`.

use anyhow::Result;

use crate::app::{Context, Outcome};
use crate::cli::ProductsCommand;

pub fn run(_ctx: &Context, _command: ProductsCommand) -> Result<Outcome> {
    anyhow::bail!("products is not built yet")
}
