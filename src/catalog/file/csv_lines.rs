//! CSV records with the line each starts on, counted here. The csv crate's
//! own `Position::line` names the line before the record when a blank line
//! precedes it, and lags on files with CRLF line ends, as spreadsheet tools
//! write them (BurntSushi/rust-csv#208 and #395, both open). Its byte
//! offsets are right but for that: a record's offset may point at the line
//! breaks before it. So the reader's bytes are watched for line breaks, and
//! a record's line is the count of LFs before its first byte that is not a
//! line break, plus one. Only the breaks not yet passed are kept, so memory
//! stays flat.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::rc::Rc;

use super::{ProductFileError, at};

/// The CSV rows of a file after its header, each with its line.
pub(super) struct CsvRecords<R> {
    records: csv::StringRecordsIntoIter<Watched<R>>,
    breaks: Rc<RefCell<LineBreaks>>,
}

/// Opens a CSV file with a header row: its header, and the records after it.
pub(super) fn open<R: Read>(
    reader: R,
) -> Result<(csv::StringRecord, CsvRecords<R>), ProductFileError> {
    let breaks = Rc::new(RefCell::new(LineBreaks::default()));
    let watched = Watched {
        inner: reader,
        breaks: Rc::clone(&breaks),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(watched);
    let header = reader.headers().map_err(|e| match error(e, 1) {
        ProductFileError::Line { message, .. } => {
            at(1, format!("cannot read the header row: {message}"))
        }
        unreadable => unreadable,
    })?;
    Ok((
        header.clone(),
        CsvRecords {
            records: reader.into_records(),
            breaks,
        },
    ))
}

impl<R: Read> Iterator for CsvRecords<R> {
    type Item = Result<(csv::StringRecord, u64), ProductFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(match self.records.next()? {
            Ok(record) => {
                let line = self.line_at(record.position().map(csv::Position::byte));
                Ok((record, line))
            }
            Err(e) => {
                let line = self.line_at(e.position().map(csv::Position::byte));
                Err(error(e, line))
            }
        })
    }
}

impl<R> CsvRecords<R> {
    fn line_at(&self, byte: Option<u64>) -> u64 {
        let mut breaks = self.breaks.borrow_mut();
        match byte {
            Some(byte) => breaks.line_of_record_at(byte),
            None => breaks.lines_passed + 1,
        }
    }
}

/// A CSV reader's error as a file error: bad bytes are unreadable (exit 2),
/// the rest a bad line.
/// The crate's own wording names its wrong line, so the kinds a file can
/// cause are worded here.
fn error(e: csv::Error, line: u64) -> ProductFileError {
    match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => ProductFileError::Unreadable {
            line,
            message: format!(
                "field {} is not UTF-8 text (bad byte after {} valid bytes): save the file as UTF-8",
                err.field() + 1,
                err.valid_up_to()
            ),
        },
        csv::ErrorKind::Io(io) => ProductFileError::Unreadable {
            line,
            message: format!("cannot read: {io}"),
        },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => at(
            line,
            format!(
                "this row has {}, but the header has {expected_len}",
                fields(*len)
            ),
        ),
        _ => at(line, e.to_string()),
    }
}

fn fields(count: u64) -> String {
    match count {
        1 => "1 field".to_string(),
        n => format!("{n} fields"),
    }
}

/// The line breaks read and not yet passed by a record.
#[derive(Debug, Default)]
struct LineBreaks {
    /// Offsets of `\r` and `\n` bytes, and whether each is a `\n`.
    pending: VecDeque<(u64, bool)>,
    /// Bytes read so far.
    read: u64,
    /// LFs before the first pending break.
    lines_passed: u64,
}

impl LineBreaks {
    fn saw(&mut self, bytes: &[u8]) {
        for (i, byte) in bytes.iter().enumerate() {
            if matches!(byte, b'\n' | b'\r') {
                self.pending
                    .push_back((self.read + i as u64, *byte == b'\n'));
            }
        }
        self.read += bytes.len() as u64;
    }

    /// The line of a record the reader says starts at `byte`: past the line
    /// breaks there (a blank line, the LF of a CRLF), where its first field
    /// starts. Records come in order, so the breaks before it are done with.
    fn line_of_record_at(&mut self, byte: u64) -> u64 {
        let mut start = byte;
        while let Some(&(offset, lf)) = self.pending.front() {
            if offset > start {
                break;
            }
            if offset == start {
                start += 1;
            }
            self.lines_passed += u64::from(lf);
            self.pending.pop_front();
        }
        self.lines_passed + 1
    }
}

struct Watched<R> {
    inner: R,
    breaks: Rc<RefCell<LineBreaks>>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.breaks.borrow_mut().saw(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(String, u64)> {
        let (_, records) = open(text.as_bytes()).unwrap();
        records
            .map(|r| {
                let (record, line) = r.unwrap();
                (record[0].to_string(), line)
            })
            .collect()
    }

    #[test]
    fn records_are_numbered_by_the_line_they_start_on() {
        let expected = |pairs: &[(&str, u64)]| {
            pairs
                .iter()
                .map(|(f, l)| (f.to_string(), *l))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            lines("h\nA\n\nB\nC\n"),
            expected(&[("A", 2), ("B", 4), ("C", 5)]),
            "a blank line"
        );
        assert_eq!(
            lines("h\r\nA\r\nB\r\n\r\n\r\nC\r\n"),
            expected(&[("A", 2), ("B", 3), ("C", 6)]),
            "CRLF line ends and blank lines"
        );
        assert_eq!(
            lines("h\n\"A\r\na\"\n\n\"B\nb\nb\"\nC"),
            expected(&[("A\r\na", 2), ("B\nb\nb", 5), ("C", 8)]),
            "quoted line breaks inside a record"
        );
        assert_eq!(
            lines("h,i\n,x\nA,y\n"),
            expected(&[("", 2), ("A", 3)]),
            "an empty first field"
        );
    }

    #[test]
    fn a_malformed_record_is_named_by_its_own_line() {
        let (_, records) = open("a,b\r\n1,2\r\n\r\n3\r\n".as_bytes()).unwrap();
        let errors: Vec<_> = records.filter_map(Result::err).collect();
        assert_eq!(
            errors,
            [at(4, "this row has 1 field, but the header has 2")]
        );
    }

    #[test]
    fn memory_holds_only_the_breaks_not_yet_passed() {
        let text = format!("h\n{}", "x\n".repeat(100_000));
        let breaks;
        {
            let (_, mut records) = open(text.as_bytes()).unwrap();
            let mut count = 0;
            for record in records.by_ref() {
                record.unwrap();
                count += 1;
            }
            assert_eq!(count, 100_000);
            breaks = records.breaks.borrow().pending.len();
        }
        assert!(breaks <= 1, "{breaks} breaks kept after the last record");
    }
}
