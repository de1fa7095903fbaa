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
/// one place. `code` is stable: `busy` (75), `store-unavailable` (75),
/// `refused` (1), `config` (a file that cannot be read or parsed, 2), `usage`
/// (2), `error` (anything else).
pub fn write_json_error(out: &mut dyn Write, err: &anyhow::Error, exit: u8) -> io::Result<()> {
    let code = if crate::error::store_unavailable(err) {
        "store-unavailable"
    } else if err.chain().any(|c| c.is::<crate::error::Busy>()) {
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

/// A borderless table, like `systemctl list-timers`: columns sized by the
/// Unicode width of their widest cell, two spaces apart, easy to read and to
/// grep. At a terminal, long columns wrap to its width; into a pipe or a file
/// lines keep their length. Lines never end in spaces.
pub struct Table {
    inner: comfy_table::Table,
}

/// The terminal's width in columns, when stdout is a terminal.
fn terminal_width() -> Option<u16> {
    use std::io::IsTerminal as _;
    if !io::stdout().is_terminal() {
        return None;
    }
    let size = rustix::termios::tcgetwinsize(io::stdout()).ok()?;
    (size.ws_col > 0).then_some(size.ws_col)
}

pub fn table<I, S>(headers: I) -> Table
where
    I: IntoIterator<Item = S>,
    S: ToString,
{
    table_for_width(headers, terminal_width())
}

/// A table wrapped to `width` columns (`None`: never wrapped).
pub fn table_for_width<I, S>(headers: I, width: Option<u16>) -> Table
where
    I: IntoIterator<Item = S>,
    S: ToString,
{
    let mut inner = comfy_table::Table::new();
    inner.load_style(comfy_table::presets::NOTHING);
    match width {
        Some(width) => {
            inner
                .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
                .set_width(width);
        }
        None => {
            inner.set_content_arrangement(comfy_table::ContentArrangement::Disabled);
        }
    }
    // The header as a first row: a header row would bring a separator line.
    let mut table = Table { inner };
    table.add_row(headers);
    for column in table.inner.column_iter_mut() {
        column.set_padding((0, 2));
    }
    table
}

impl Table {
    pub fn add_row<I, S>(&mut self, cells: I) -> &mut Table
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        self.inner
            .add_row(cells.into_iter().map(|c| c.to_string()).collect::<Vec<_>>());
        self
    }
}

/// Writes a table, each line without trailing spaces.
pub fn write_table(out: &mut dyn Write, table: &Table) -> io::Result<()> {
    for line in table.inner.lines() {
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

    fn render(table: &Table) -> String {
        let mut out = Vec::new();
        write_table(&mut out, table).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn tables_pad_columns_to_the_widest_cell_by_unicode_width() {
        let mut t = table_for_width(["CHANNEL", "JOB", "NEXT DUE"], None);
        t.add_row(["shop-eu", "auth-refresh", "-"]);
        t.add_row(["é", "x", ""]);
        // Wide characters take two columns each.
        t.add_row(["日本", "y", "z"]);
        assert_eq!(
            render(&t),
            "CHANNEL  JOB           NEXT DUE\n\
             shop-eu  auth-refresh  -\n\
             é        x\n\
             日本     y             z\n"
        );
    }

    #[test]
    fn tables_wrap_to_the_terminal_width_without_trailing_spaces() {
        let mut t = table_for_width(["CHANNEL", "DETAIL"], Some(30));
        t.add_row([
            "shop",
            "auth-refresh failed at 10:00 and no token was stored since",
        ]);
        let text = render(&t);
        for line in text.lines() {
            assert!(line.chars().count() <= 30, "{text}");
            assert_eq!(line, line.trim_end(), "{text:?}");
        }
        assert!(text.lines().count() > 2, "the detail wraps: {text}");
        assert!(text.contains("shop"), "{text}");
    }
}
