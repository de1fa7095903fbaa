//! The error vocabulary every module speaks: the kind of a failure
//! ([`ErrorKind`], decided where the error is made), errors made on the spot
//! with their kind ([`Failure`]), and hints the command edge attaches
//! ([`Hint`]). This module imports nothing of the crate, so any module can
//! use it; `error_report` finds an error's kind and shows it at the edge.
//!
//! The exit code follows from the kind ([`ErrorKind::exit_code`]); the
//! README's "Exit codes" section is the same table:
//!
//! | code | kind | meaning |
//! | --- | --- | --- |
//! | 0 | | success; `validate`: clean or warnings only |
//! | 1 | refused, channel | a refused request (nothing was changed); the channel refused us in a way a setting must fix; `run-once`: a job failed; `validate`: errors, or warnings with `--strict` |
//! | 2 | usage, config | a bad command line; a file that cannot be read or parsed; an account, config dir or data dir that does not exist or is not usable; `run-once`: a channel skipped for config errors |
//! | 3 | | `run-once`: nothing failed, but a job finished `partial` (the channel rejected some items) |
//! | 69 | transient | `run-once`: every job that failed failed for a reason that may pass (timeout, connection, 5xx, 429, deadline), and nothing else went wrong |
//! | 70 | internal | a bug or a broken invariant inside the tool |
//! | 75 | busy | another run holds the account's lock, or the shared store (PostgreSQL) cannot be reached (EX_TEMPFAIL: cron retries) |
//! | 130, 143 | | `run-once` was stopped by SIGINT or SIGTERM |

use std::error::Error as StdError;
use std::fmt;

/// What kind of failure an error is. It is decided where the error is made
/// (each error type says which kind each of its cases is, through
/// [`HasKind`]; an ad-hoc error names it in its [`Failure`] constructor), and
/// the exit code follows from it at the edge ([`ErrorKind::exit_code`]).
/// `--json` error documents carry it as `kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The command line is wrong (unknown flag, bad value): exit 2.
    Usage,
    /// A file or setting cannot be read, parsed or used as it is: exit 2.
    Config,
    /// A request the tool understood and refused; nothing was changed: exit 1.
    Refused,
    /// The channel refused us in a way a setting must fix (credentials,
    /// permissions, a request it will never take): exit 1.
    Channel,
    /// A channel or the network failed in a way that may pass (timeouts,
    /// connection errors, 5xx, 429, a deadline): exit 69 (EX_UNAVAILABLE),
    /// try later.
    Transient,
    /// Another run holds the lock, or the shared store cannot be reached:
    /// exit 75 (EX_TEMPFAIL), cron's next tick retries.
    Busy,
    /// A bug or a broken invariant inside the tool: exit 70 (EX_SOFTWARE).
    /// Also the kind of an error nobody gave a kind.
    Internal,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Usage,
        ErrorKind::Config,
        ErrorKind::Refused,
        ErrorKind::Channel,
        ErrorKind::Transient,
        ErrorKind::Busy,
        ErrorKind::Internal,
    ];

    /// The `--json` and README name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::Config => "config",
            ErrorKind::Refused => "refused",
            ErrorKind::Channel => "channel",
            ErrorKind::Transient => "transient",
            ErrorKind::Busy => "busy",
            ErrorKind::Internal => "internal",
        }
    }

    /// The process exit code for a command that failed with this kind.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Usage | ErrorKind::Config => EXIT_CONFIG,
            ErrorKind::Refused | ErrorKind::Channel => EXIT_FAILED,
            ErrorKind::Transient => EXIT_UNAVAILABLE,
            ErrorKind::Busy => EXIT_TEMPFAIL,
            ErrorKind::Internal => EXIT_SOFTWARE,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_CONFIG: u8 = 2;
pub const EXIT_PARTIAL: u8 = 3;
pub const EXIT_UNAVAILABLE: u8 = 69;
pub const EXIT_SOFTWARE: u8 = 70;
pub const EXIT_TEMPFAIL: u8 = 75;

/// An error type that knows its kind, case by case. A type that implements
/// it is also listed once in `error_report`'s registry, which is how the
/// kind is found again after the error has travelled through `anyhow`.
pub trait HasKind: StdError {
    fn kind(&self) -> ErrorKind;
}

/// An error made on the spot, where no typed error fits: its message, its
/// kind, and optionally the error that caused it (shown under "Caused by:").
#[derive(Debug)]
pub struct Failure {
    kind: ErrorKind,
    message: String,
    source: Option<anyhow::Error>,
}

impl Failure {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A bad command line or flag value: exit 2.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(ErrorKind::Usage, message)
    }

    /// A file, directory or setting that cannot be used as it is: exit 2.
    pub fn config(message: impl Into<String>) -> Failure {
        Failure::new(ErrorKind::Config, message)
    }

    /// A request understood and refused, nothing changed: exit 1.
    pub fn refused(message: impl Into<String>) -> Failure {
        Failure::new(ErrorKind::Refused, message)
    }

    /// Something another run holds: exit 75.
    pub fn busy(message: impl Into<String>) -> Failure {
        Failure::new(ErrorKind::Busy, message)
    }

    /// A broken invariant: exit 70.
    pub fn internal(message: impl Into<String>) -> Failure {
        Failure::new(ErrorKind::Internal, message)
    }

    /// The same failure, caused by `source`.
    pub fn caused_by(mut self, source: impl Into<anyhow::Error>) -> Failure {
        self.source = Some(source.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for Failure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        // The cause's own object, so its type (and kind) is found in the chain.
        let source: &(dyn StdError + Send + Sync + 'static) = self.source.as_ref()?.as_ref();
        Some(source)
    }
}

impl HasKind for Failure {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

/// `anyhow::Context` with a kind: the context message becomes a [`Failure`]
/// of that kind, caused by the original error.
pub trait KindContext<T> {
    fn kind_context(self, kind: ErrorKind, message: impl fmt::Display) -> anyhow::Result<T>;
    fn with_kind_context<M: fmt::Display>(
        self,
        kind: ErrorKind,
        message: impl FnOnce() -> M,
    ) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> KindContext<T> for Result<T, E> {
    fn kind_context(self, kind: ErrorKind, message: impl fmt::Display) -> anyhow::Result<T> {
        self.map_err(|e| Failure::new(kind, message.to_string()).caused_by(e).into())
    }

    fn with_kind_context<M: fmt::Display>(
        self,
        kind: ErrorKind,
        message: impl FnOnce() -> M,
    ) -> anyhow::Result<T> {
        self.map_err(|e| {
            Failure::new(kind, message().to_string())
                .caused_by(e)
                .into()
        })
    }
}

/// Hints: what the user can do about an error, attached at the command edge
/// (never text inside a connector or the store) and printed after the
/// message and its causes as `hint: ...` lines (`hints` in `--json`).
///
/// ```
/// use oms_channels::error::{Failure, Hint as _};
/// let err = anyhow::Error::new(Failure::config("no account selected"))
///     .hint("pass --account <ACCOUNT>");
/// assert_eq!(oms_channels::error::hints(&err), ["pass --account <ACCOUNT>"]);
/// ```
pub trait Hint {
    type Output;
    /// Attaches `hint` to the error.
    fn hint(self, hint: impl Into<String>) -> Self::Output;
}

impl Hint for anyhow::Error {
    type Output = anyhow::Error;
    fn hint(mut self, hint: impl Into<String>) -> anyhow::Error {
        if let Some(hinted) = self.downcast_mut::<Hinted>() {
            hinted.hints.push(hint.into());
            return self;
        }
        anyhow::Error::new(Hinted {
            hints: vec![hint.into()],
            inner: self,
        })
    }
}

impl<T, E: Into<anyhow::Error>> Hint for Result<T, E> {
    type Output = anyhow::Result<T>;
    fn hint(self, hint: impl Into<String>) -> anyhow::Result<T> {
        self.map_err(|e| e.into().hint(hint))
    }
}

/// `err` with `hint` attached when it is of `kind` (a hint that fits one
/// case of a typed error, e.g. what happens when a lock is held).
pub fn hint_if<E>(err: E, kind: ErrorKind, hint: impl Into<String>) -> anyhow::Error
where
    E: HasKind + Send + Sync + 'static,
{
    let matches = err.kind() == kind;
    let err = anyhow::Error::new(err);
    if matches { err.hint(hint) } else { err }
}

/// An error with hints. It shows as the error it wraps and has that error
/// as its source, so the wrapped error's type (and kind) stays in the chain;
/// the renderers skip it, and print its hints at the end.
#[derive(Debug)]
struct Hinted {
    hints: Vec<String>,
    inner: anyhow::Error,
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl StdError for Hinted {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        let inner: &(dyn StdError + Send + Sync + 'static) = self.inner.as_ref();
        Some(inner)
    }
}

/// The hints attached anywhere in the error's chain, innermost first (in
/// the order they were attached), each once.
pub fn hints(err: &anyhow::Error) -> Vec<String> {
    let mut hints: Vec<String> = Vec::new();
    let wrappers: Vec<&Hinted> = err
        .chain()
        .filter_map(|cause| cause.downcast_ref::<Hinted>())
        .collect();
    for hinted in wrappers.into_iter().rev() {
        for hint in &hinted.hints {
            if !hints.contains(hint) {
                hints.push(hint.clone());
            }
        }
    }
    hints
}

/// The messages of the error and its causes, outermost first, each once: a
/// cause whose text an earlier message already includes is left out (many
/// errors print their source), and hint wrappers are not messages.
pub fn messages(err: &anyhow::Error) -> Vec<String> {
    let mut messages: Vec<String> = Vec::new();
    for cause in err.chain() {
        if cause.is::<Hinted>() {
            continue;
        }
        let message = cause.to_string();
        if message.is_empty() || messages.iter().any(|m| m.contains(&message)) {
            continue;
        }
        messages.push(message);
    }
    messages
}

/// The error and its causes on one line, `a: b: c`; no hints.
pub fn describe(err: &anyhow::Error) -> String {
    messages(err).join(": ")
}

/// [`describe`], then each hint: `a: b; hint: h` (a run-once row and its
/// history entry, where the hint must travel with the error's text).
pub fn describe_with_hints(err: &anyhow::Error) -> String {
    let mut text = describe(err);
    for hint in hints(err) {
        text.push_str("; hint: ");
        text.push_str(&hint);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_found() -> std::io::Error {
        std::io::Error::from(std::io::ErrorKind::NotFound)
    }

    #[test]
    fn describe_skips_causes_already_in_the_message() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot read `/x.jsonl`: {source}")]
        struct Read {
            source: std::io::Error,
        }
        let err = anyhow::Error::new(Read {
            source: not_found(),
        })
        .context("cannot load `/x.jsonl`");
        assert_eq!(
            describe(&err),
            format!(
                "cannot load `/x.jsonl`: cannot read `/x.jsonl`: {}",
                not_found()
            )
        );
        assert_eq!(
            messages(&err).len(),
            2,
            "the io error is in the read's text"
        );
    }

    #[test]
    fn a_failure_keeps_its_cause_in_the_chain() {
        let err = Err::<(), _>(not_found())
            .kind_context(ErrorKind::Config, "cannot open `/d`")
            .unwrap_err();
        assert_eq!(
            messages(&err),
            ["cannot open `/d`".to_string(), not_found().to_string()]
        );
        let failure = err.downcast_ref::<Failure>().expect("a failure on top");
        assert_eq!(failure.kind(), ErrorKind::Config);
        assert!(err.chain().any(|c| c.is::<std::io::Error>()));
    }

    #[test]
    fn hints_are_data_beside_the_message_not_in_it() {
        let err = anyhow::Error::new(Failure::busy("account `acme` is locked"))
            .hint("cron retries next minute")
            .context("cannot run `acme`")
            .hint("or run `oms-channels status`")
            .hint("cron retries next minute");
        assert_eq!(
            messages(&err),
            ["cannot run `acme`", "account `acme` is locked"]
        );
        assert_eq!(
            hints(&err),
            ["cron retries next minute", "or run `oms-channels status`"]
        );
        assert_eq!(
            describe(&err),
            "cannot run `acme`: account `acme` is locked"
        );
        assert_eq!(
            describe_with_hints(&err),
            "cannot run `acme`: account `acme` is locked; \
             hint: cron retries next minute; hint: or run `oms-channels status`"
        );
        // The hinted error's own type is still in the chain.
        assert!(err.chain().any(|c| c.is::<Failure>()));
    }

    #[test]
    fn hint_if_hints_only_the_case_it_fits() {
        let busy = hint_if(Failure::busy("held"), ErrorKind::Busy, "wait");
        assert_eq!(hints(&busy), ["wait"]);
        let other = hint_if(Failure::config("no dir"), ErrorKind::Busy, "wait");
        assert!(hints(&other).is_empty());
    }

    #[test]
    fn every_kind_has_its_exit_code() {
        let codes: Vec<(&str, u8)> = ErrorKind::ALL
            .iter()
            .map(|k| (k.as_str(), k.exit_code()))
            .collect();
        assert_eq!(
            codes,
            [
                ("usage", 2),
                ("config", 2),
                ("refused", 1),
                ("channel", 1),
                ("transient", 69),
                ("busy", 75),
                ("internal", 70),
            ]
        );
    }
}
