//! Rendering: every command returns a report value; this module writes it as
//! a human table or as one JSON document. Nothing else in the crate prints.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

use serde::Serialize;

use crate::error_report::ErrorReport;

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

/// A failed command on stderr: `oms-channels: <message>`, then each cause
/// on its own line under `Caused by:`, then one `hint: ...` line per hint.
pub fn write_error(out: &mut dyn Write, report: &ErrorReport) -> io::Result<()> {
    writeln!(out, "oms-channels: {}", report.message)?;
    if !report.causes.is_empty() {
        writeln!(out, "Caused by:")?;
        for cause in &report.causes {
            for line in cause.lines() {
                writeln!(out, "  {line}")?;
            }
        }
    }
    for hint in &report.hints {
        writeln!(out, "hint: {hint}")?;
    }
    out.flush()
}

/// The `--json` document of a command that failed, on stdout like every
/// document, so a script reads one place: `{"error": {"kind", "exit",
/// "code", "message", "causes", "hints"}}`.
pub fn write_json_error(out: &mut dyn Write, report: &ErrorReport) -> io::Result<()> {
    let document = serde_json::json!({ "error": report });
    serde_json::to_writer_pretty(&mut *out, &document)?;
    writeln!(out)?;
    out.flush()
}

/// The report of a command line clap refused, from clap's rendered text:
/// its first line is the message, its `tip:` lines are the hints.
pub fn clap_error_report(rendered: &str) -> ErrorReport {
    let message = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_string();
    let hints = rendered
        .lines()
        .filter_map(|line| line.trim().strip_prefix("tip: "))
        .map(str::to_string)
        .collect();
    ErrorReport::usage(message, hints)
}

/// Text that came from outside (a channel, a file, a server's error message)
/// made safe to print: control characters (C0 including TAB and line breaks,
/// DEL, C1) become `\t`, `\n`, `\r` or `\u{1b}`, and so do the Unicode
/// controls that reorder or break a line on screen (bidirectional embeddings,
/// overrides and isolates; line and paragraph separators). A title can then
/// neither drive the terminal (ESC sequences, BEL) nor forge table rows or log
/// lines. Clean text is returned as it is, without copying. JSON output needs
/// none of this: serde escapes control characters itself.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// A count and its noun, singular or plural: `1 product`, `2 products`,
/// `0 products`. `plural` is the noun's plural form.
pub fn count(n: u64, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
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
    /// Adds a row. Every cell is [`escape`]d: a table shows titles, errors
    /// and names that came from channels and files.
    pub fn add_row<I, S>(&mut self, cells: I) -> &mut Table
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        self.inner.add_row(
            cells
                .into_iter()
                .map(|c| escape(&c.to_string()).into_owned())
                .collect::<Vec<_>>(),
        );
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

    #[test]
    fn an_error_shows_its_message_then_its_causes_then_its_hints() {
        let report = ErrorReport {
            kind: crate::error::ErrorKind::Config,
            exit: 2,
            code: "config",
            message: "cannot load `/x.jsonl`".into(),
            causes: vec!["cannot read `/x.jsonl`".into(), "two\nlines".into()],
            hints: vec!["check the path".into()],
        };
        let mut out = Vec::new();
        write_error(&mut out, &report).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "oms-channels: cannot load `/x.jsonl`\n\
             Caused by:\n  cannot read `/x.jsonl`\n  two\n  lines\n\
             hint: check the path\n"
        );
        let mut out = Vec::new();
        write_json_error(&mut out, &report).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({"error": {
                "kind": "config", "exit": 2, "code": "config",
                "message": "cannot load `/x.jsonl`",
                "causes": ["cannot read `/x.jsonl`", "two\nlines"],
                "hints": ["check the path"],
            }})
        );
    }

    #[test]
    fn clap_tips_become_hints() {
        let report = clap_error_report(
            "error: unexpected argument '--x' found\n\n  tip: to pass '--x' as a value, use '-- --x'\n\nUsage: oms-channels\n",
        );
        assert_eq!(report.message, "unexpected argument '--x' found");
        assert_eq!(report.hints, ["to pass '--x' as a value, use '-- --x'"]);
        assert_eq!((report.exit, report.code), (2, "usage"));
    }

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
    fn escape_makes_outside_text_inert() {
        for (text, shown) in [
            ("Mug", "Mug"),
            ("Größe XL 粗茶 €", "Größe XL 粗茶 €"),
            ("\u{1b}]0;owned\u{7}Mug", "\\u{1b}]0;owned\\u{7}Mug"),
            ("\u{1b}[2J", "\\u{1b}[2J"),
            ("a\tb", "a\\tb"),
            ("row\nforged  row", "row\\nforged  row"),
            ("over\rwrite", "over\\rwrite"),
            ("nul\0", "nul\\u{0}"),
            ("del\u{7f}", "del\\u{7f}"),
            ("csi\u{9b}2J", "csi\\u{9b}2J"),
            ("\u{202e}txt.exe", "\\u{202e}txt.exe"),
            ("line\u{2028}sep", "line\\u{2028}sep"),
            // Marks that RTL text uses are shown as they are.
            ("שלום\u{200f}", "שלום\u{200f}"),
        ] {
            assert_eq!(escape(text), shown, "{text:?}");
            assert!(!escape(text).chars().any(char::is_control), "{text:?}");
        }
        assert!(matches!(escape("clean"), Cow::Borrowed(_)));
    }

    #[test]
    fn table_cells_are_escaped() {
        let mut t = table_for_width(["SKU", "TITLE"], None);
        t.add_row(["A", "Evil\u{1b}[2J\nB  forged"]);
        let text = render(&t);
        assert_eq!(text, "SKU  TITLE\nA    Evil\\u{1b}[2J\\nB  forged\n");
    }

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(count(1, "product", "products"), "1 product");
        assert_eq!(count(0, "product", "products"), "0 products");
        assert_eq!(count(2, "entry", "entries"), "2 entries");
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
