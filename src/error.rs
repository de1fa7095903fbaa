//! Exit codes, chosen at the edge from the kind of error. One table for
//! every command (the README's "Exit codes" section says the same):
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success; `validate`: clean or warnings only |
//! | 1 | a refused request (nothing was changed: an unknown channel, a period not offered, an edit that would make the account invalid, a bad line in a product file, ...); a job failed; `validate`: errors, or warnings with `--strict` |
//! | 2 | usage error; a file that cannot be read or parsed; an account, config dir or data dir that does not exist or is not usable; `run-once`: a channel skipped for config errors |
//! | 3 | `run-once`: nothing failed, but a job finished `partial` (the channel rejected some items) |
//! | 75 | another run holds the account's lock, or the shared store (PostgreSQL) cannot be reached (EX_TEMPFAIL: cron retries) |

use crate::config::ConfigError;
use crate::config::edit::EditError;
use crate::ids::IdError;
use crate::period::{PeriodError, UnknownJob};

/// What kind of failure an error is. It is decided where the error is made
/// (each error type says which kind each of its cases is), and the exit code
/// follows from it at the edge ([`ErrorKind::exit_code`]); `--json` error
/// documents carry it as `kind`.
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
    /// connection errors, 5xx, 429): exit 69 (EX_UNAVAILABLE), try later.
    Transient,
    /// Another run holds the lock, or the shared store cannot be reached:
    /// exit 75 (EX_TEMPFAIL), cron's next tick retries.
    Busy,
    /// A bug or a broken invariant inside the tool: exit 70 (EX_SOFTWARE).
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

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request the tool understood and refused (unknown channel, period not
/// offered, ...): exit 1, and nothing was changed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Another process holds the account's run lock: exit 75 (EX_TEMPFAIL) so cron retries.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Busy(pub String);

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_CONFIG: u8 = 2;
pub const EXIT_PARTIAL: u8 = 3;
pub const EXIT_UNAVAILABLE: u8 = 69;
pub const EXIT_SOFTWARE: u8 = 70;
pub const EXIT_TEMPFAIL: u8 = 75;

/// 1 for refused requests, 75 when locked, 2 for config, usage and file errors.
/// A lock another run holds becomes [`Busy`] (exit 75), its message followed
/// by what happens next; any other lock error stays what it is.
pub fn busy_if_held(err: crate::store::LockError, what_next: &str) -> anyhow::Error {
    match err {
        crate::store::LockError::Held { .. } => {
            anyhow::Error::new(Busy(format!("{err}; {what_next}")))
        }
        other => anyhow::Error::new(other),
    }
}

/// The shared store is down or the connection to it was lost: nothing can
/// run until it is back, and nothing is lost by waiting for the next tick.
pub fn store_unavailable(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<crate::store::StoreError>()
            .is_some_and(|e| e.is_unavailable())
    })
}

pub fn exit_code(err: &anyhow::Error) -> u8 {
    if store_unavailable(err) {
        return EXIT_TEMPFAIL;
    }
    for cause in err.chain() {
        if cause.is::<Busy>() {
            return EXIT_TEMPFAIL;
        }
        if cause.is::<Refused>()
            || cause.is::<EditError>()
            || cause.is::<IdError>()
            || cause.is::<PeriodError>()
            || cause.is::<UnknownJob>()
        {
            return EXIT_FAILED;
        }
        if cause.is::<ConfigError>() {
            return EXIT_CONFIG;
        }
    }
    EXIT_CONFIG
}

/// The error and its causes on one line, `a: b: c`, skipping a cause whose
/// text an outer message already includes (many errors print their source).
pub fn describe(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let message = cause.to_string();
        if text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_skips_causes_already_in_the_message() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let err = anyhow::Error::new(ConfigError::Read {
            path: "/x.jsonl".into(),
            source: io,
        })
        .context("cannot load `/x.jsonl`");
        assert_eq!(
            describe(&err),
            format!(
                "cannot load `/x.jsonl`: cannot read `/x.jsonl`: {}",
                std::io::Error::from(std::io::ErrorKind::NotFound)
            )
        );
    }
}
