//! Report pieces more than one command prints: the one-line change report,
//! the channel table, and short renderings of durations and long text.

use std::io::{self, Write};
use std::path::PathBuf;

use serde::Serialize;

use crate::catalog::{Change, ProductDiff, VariantDiff};
use crate::config::ChannelConfig;
use crate::output::{escape, table, write_table};
use crate::period::Job;
use crate::validate::Finding;

/// A one-line change report: "acme: current-account: beta → acme".
#[derive(Serialize)]
pub struct Changed {
    pub account: String,
    pub what: String,
    pub old: Option<String>,
    pub new: Option<String>,
    pub path: PathBuf,
    pub findings: Vec<Finding>,
    #[serde(skip)]
    pub note: Option<String>,
}

impl crate::output::Report for Changed {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        match (&self.old, &self.new) {
            (old, Some(new)) => writeln!(
                out,
                "{}: {}: {} → {}",
                self.account,
                self.what,
                old.as_deref().unwrap_or("(unset)"),
                new
            )?,
            (_, None) => writeln!(out, "{}: {}", self.account, self.what)?,
        }
        if let Some(note) = &self.note {
            writeln!(out, "{note}")?;
        }
        for finding in &self.findings {
            writeln!(out, "{finding}")?;
        }
        Ok(())
    }
}

/// A channel as `account show` and `channel list` print it.
#[derive(Serialize)]
pub struct ChannelRow {
    pub channel: String,
    #[serde(rename = "type")]
    pub channel_type: String,
    pub base_url: String,
    pub auth_refresh: String,
    pub import_products: String,
    pub export_products: String,
    pub export_stock: String,
}

impl ChannelRow {
    pub fn of(id: &str, channel: &ChannelConfig) -> ChannelRow {
        ChannelRow {
            channel: id.to_string(),
            channel_type: channel.channel_type.clone(),
            base_url: channel.base_url.clone(),
            auth_refresh: channel.period(Job::AuthRefresh).to_string(),
            import_products: channel.period(Job::ImportProducts).to_string(),
            export_products: channel.period(Job::ExportProducts).to_string(),
            export_stock: channel.period(Job::ExportStock).to_string(),
        }
    }
}

pub fn channel_table(out: &mut dyn Write, rows: &[ChannelRow]) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(
            out,
            "no channels yet; add one with `oms-channels channel add <CHANNEL> --type beta-rest --base-url <URL> ...`"
        );
    }
    let mut t = table([
        "CHANNEL",
        "TYPE",
        "AUTH-REFRESH",
        "IMPORT-PRODUCTS",
        "EXPORT-PRODUCTS",
        "EXPORT-STOCK",
        "BASE URL",
    ]);
    for row in rows {
        t.add_row([
            &row.channel,
            &row.channel_type,
            &row.auth_refresh,
            &row.import_products,
            &row.export_products,
            &row.export_stock,
            &row.base_url,
        ]);
    }
    write_table(out, &t)
}

/// `850ms`, `12.3s`.
pub fn human_millis(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// The first line of `text`, cut to `max` characters with `…`.
pub fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_string()
    }
}

/// A product's differences, a line per changed field (`old -> new`, as
/// JSON values, escaped: they may be a shop's text) and per variant added or
/// dropped, each line led by `verb` and the handle (and the variant's SKU).
pub fn write_product_diff(out: &mut dyn Write, verb: &str, diff: &ProductDiff) -> io::Result<()> {
    let handle = escape(&diff.handle);
    let change = |out: &mut dyn Write, at: &str, c: &Change| {
        writeln!(
            out,
            "  {verb}  {at}{}: {} -> {}",
            c.path,
            escape(&c.old.to_string()),
            escape(&c.new.to_string())
        )
    };
    for c in &diff.changes {
        change(out, &format!("{handle} "), c)?;
    }
    for variant in &diff.variants {
        match variant {
            VariantDiff::Added { sku } => {
                writeln!(out, "  {verb}  {handle} adds variant {}", escape(sku))?
            }
            VariantDiff::Removed { sku } => {
                writeln!(out, "  {verb}  {handle} drops variant {}", escape(sku))?
            }
            VariantDiff::Changed { sku, changes } => {
                for c in changes {
                    change(out, &format!("{handle} {} ", escape(sku)), c)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_renderings() {
        assert_eq!(human_millis(850), "850ms");
        assert_eq!(human_millis(12_340), "12.3s");
        assert_eq!(first_line("abcdef\nsecond", 3), "abc…");
        assert_eq!(first_line("abc\nsecond", 3), "abc");
    }
}
