//! Rendering: every command returns a report value; this module writes it as
//! a human table or as one JSON document. Nothing else in the crate prints.

use std::io::{self, Write};

use serde::Serialize;

/// What a command produced: plain data that serializes to the `--json`
/// document and renders itself for humans.
pub trait Report: Serialize {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()>;
}

/// A [`Report`] behind a pointer: `Serialize` is not object safe, so the JSON
/// rendering is fixed when the report is boxed.
pub trait Render {
    fn to_json(&self) -> serde_json::Value;
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()>;
}

impl<T: Report> Render for T {
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("reports are plain data and serialize to JSON")
    }
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        Report::write_human(self, out)
    }
}

pub fn emit(report: &dyn Render, json: bool, out: &mut dyn Write) -> io::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, &report.to_json())?;
        writeln!(out)?;
    } else {
        report.write_human(out)?;
    }
    out.flush()
}

/// The `--json` document of a command that failed: `{"error": {"code",
/// "exit", "message"}}`, on stdout like every document, so a script reads
/// one place. `code` is stable: `busy` (75), `refused` (1), `config` (a file
/// that cannot be read or parsed, 2), `usage` (2), `error` (anything else).
pub fn write_json_error(out: &mut dyn Write, err: &anyhow::Error, exit: u8) -> io::Result<()> {
    let code = if err.chain().any(|c| c.is::<crate::error::Busy>()) {
        "busy"
    } else if exit == crate::error::EXIT_FAILED {
        "refused"
    } else if err.chain().any(|c| c.is::<crate::config::ConfigError>()) {
        "config"
    } else if exit == crate::error::EXIT_CONFIG {
        "usage"
    } else {
        "error"
    };
    write_error_document(out, code, exit, &crate::error::describe(err))
}

/// The `--json` document of a command line that was refused before any
/// command ran (exit 2); `rendered` is clap's message.
pub fn write_json_usage_error(out: &mut dyn Write, rendered: &str) -> io::Result<()> {
    let message = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ");
    write_error_document(out, "usage", crate::error::EXIT_CONFIG, message)
}

fn write_error_document(
    out: &mut dyn Write,
    code: &str,
    exit: u8,
    message: &str,
) -> io::Result<()> {
    let document = serde_json::json!({
        "error": {"code": code, "exit": exit, "message": message}
    });
    serde_json::to_writer_pretty(&mut *out, &document)?;
    writeln!(out)?;
    out.flush()
}

/// A borderless table, like `systemctl list-timers`: columns padded to their
/// widest cell, easy to read and to grep. Hand-written rather than a table
/// crate because `run-once` prints one row per job on every cron call, and
/// rendering must cost next to nothing next to process start.
pub struct Table {
    rows: Vec<Vec<String>>,
}

pub fn table<I, S>(headers: I) -> Table
where
    I: IntoIterator<Item = S>,
    S: ToString,
{
    let mut table = Table { rows: Vec::new() };
    table.add_row(headers);
    table
}

impl Table {
    pub fn add_row<I, S>(&mut self, cells: I) -> &mut Table
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        self.rows
            .push(cells.into_iter().map(|c| c.to_string()).collect());
        self
    }
}

/// Writes a table: two spaces between columns, no trailing spaces.
pub fn write_table(out: &mut dyn Write, table: &Table) -> io::Result<()> {
    let columns = table.rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in &table.rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut line = String::new();
    for row in &table.rows {
        line.clear();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count();
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_columns_to_the_widest_cell() {
        let mut t = table(["CHANNEL", "JOB", "NEXT DUE"]);
        t.add_row(["shop-eu", "auth-refresh", "-"]);
        t.add_row(["é", "x", ""]);
        let mut out = Vec::new();
        write_table(&mut out, &t).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "CHANNEL  JOB           NEXT DUE\nshop-eu  auth-refresh  -\né        x\n"
        );
    }
}
