//! Rendering: every command returns a report value; this module writes it as
//! a human table or as one JSON document. Nothing else in the crate prints.

use std::io::{self, Write};

use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;

/// What a command produced, renderable both ways.
pub trait Report {
    fn to_json(&self) -> serde_json::Value;
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()>;
}

/// Serializes a report value; reports are plain data, so this cannot fail.
pub fn json_of<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("reports serialize to JSON")
}

pub fn emit(report: &dyn Report, json: bool, out: &mut dyn Write) -> io::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, &report.to_json())?;
        writeln!(out)?;
    } else {
        report.write_human(out)?;
    }
    out.flush()
}

/// A borderless table, like `systemctl list-timers`: easy to read and to grep.
pub fn table<I, S>(headers: I) -> Table
where
    I: IntoIterator<Item = S>,
    S: Into<comfy_table::Cell>,
{
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers);
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    table
}

/// Writes a table followed by a newline, with trailing spaces trimmed.
pub fn write_table(out: &mut dyn Write, table: &Table) -> io::Result<()> {
    for line in table.to_string().lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// `-` for absent values in tables.
pub fn or_dash(value: Option<impl ToString>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// A timestamp for humans: RFC 3339 to the second, UTC.
pub fn when(ts: Option<jiff::Timestamp>) -> String {
    or_dash(ts.map(|t| t.round(jiff::Unit::Second).unwrap_or(t)))
}
