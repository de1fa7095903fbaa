//! What the edge makes of an error: its kind (that of the first error in
//! its chain that has one), hence its exit code, and the message, causes and
//! hints that stderr and the `--json` error document show. `output` renders
//! the [`ErrorReport`].
//!
//! An error keeps its kind through `anyhow` because its type stays in the
//! chain: each typed error implements [`HasKind`] where it is defined and is
//! listed once in [`kind_of_cause`]. An error with no kind is internal.

use std::error::Error as StdError;

use serde::Serialize;

use crate::config::ConfigError;
use crate::config::edit::EditError;
use crate::connector::ChannelError;
use crate::error::{ErrorKind, Failure, HasKind};
use crate::ids::IdError;
use crate::period::{PeriodError, UnknownJob};
use crate::store::{LockError, StoreError};

impl HasKind for ChannelError {
    /// The connector decides, case by case (see `ChannelError::kind`).
    fn kind(&self) -> ErrorKind {
        ChannelError::kind(self)
    }
}

/// The kind of one error of a chain, if its type has one.
fn kind_of_cause(cause: &(dyn StdError + 'static)) -> Option<ErrorKind> {
    fn kind_as<T: HasKind + 'static>(cause: &(dyn StdError + 'static)) -> Option<ErrorKind> {
        cause.downcast_ref::<T>().map(HasKind::kind)
    }
    // Every type that implements `HasKind`, once.
    const KINDED: &[fn(&(dyn StdError + 'static)) -> Option<ErrorKind>] = &[
        kind_as::<Failure>,
        kind_as::<ConfigError>,
        kind_as::<EditError>,
        kind_as::<IdError>,
        kind_as::<PeriodError>,
        kind_as::<UnknownJob>,
        kind_as::<StoreError>,
        kind_as::<LockError>,
        kind_as::<ChannelError>,
    ];
    KINDED.iter().find_map(|kind_as| kind_as(cause))
}

/// The kind of the first error in the chain that has one (the outermost
/// decision wins: a `Failure` made from a cause says what that cause means
/// here); [`ErrorKind::Internal`] when none has.
pub fn kind_of(err: &anyhow::Error) -> ErrorKind {
    err.chain()
        .find_map(kind_of_cause)
        .unwrap_or(ErrorKind::Internal)
}

/// The shared store is down or the connection to it was lost: nothing can
/// run until it is back, and nothing is lost by waiting for the next tick.
pub fn store_unavailable(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<StoreError>()
            .is_some_and(StoreError::is_unavailable)
    })
}

/// A failed command as the user sees it: the `--json` error document's
/// `error` object, and the lines stderr shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErrorReport {
    pub kind: ErrorKind,
    pub exit: u8,
    /// The name scripts written before `kind` test: `busy` and
    /// `store-unavailable` (75), `refused` (1), `config` and `usage` (2),
    /// `error` (anything else).
    pub code: &'static str,
    pub message: String,
    /// The causes, outermost first, each once.
    pub causes: Vec<String>,
    pub hints: Vec<String>,
}

impl ErrorReport {
    pub fn of(err: &anyhow::Error) -> ErrorReport {
        let kind = kind_of(err);
        let mut messages = crate::error::messages(err).into_iter();
        let message = messages.next().unwrap_or_default();
        ErrorReport {
            kind,
            exit: kind.exit_code(),
            code: code(kind, store_unavailable(err)),
            message,
            causes: messages.collect(),
            hints: crate::error::hints(err),
        }
    }

    /// A command line that was refused before any command ran.
    pub fn usage(message: String, hints: Vec<String>) -> ErrorReport {
        ErrorReport {
            kind: ErrorKind::Usage,
            exit: ErrorKind::Usage.exit_code(),
            code: code(ErrorKind::Usage, false),
            message,
            causes: Vec::new(),
            hints,
        }
    }
}

fn code(kind: ErrorKind, store_unavailable: bool) -> &'static str {
    match kind {
        ErrorKind::Busy if store_unavailable => "store-unavailable",
        ErrorKind::Busy => "busy",
        ErrorKind::Refused | ErrorKind::Channel => "refused",
        ErrorKind::Config => "config",
        ErrorKind::Usage => "usage",
        ErrorKind::Transient | ErrorKind::Internal => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Hint as _, KindContext as _};

    #[test]
    fn each_typed_error_keeps_its_kind_through_anyhow_and_context() {
        let cases: Vec<(anyhow::Error, ErrorKind)> = vec![
            (
                ConfigError::Invalid {
                    path: "/a.toml".into(),
                    message: "m".into(),
                }
                .into(),
                ErrorKind::Config,
            ),
            (
                EditError::NoSuchChannel("x".into()).into(),
                ErrorKind::Refused,
            ),
            (
                crate::ids::check_account_id("A B").unwrap_err().into(),
                ErrorKind::Refused,
            ),
            (
                "5x".parse::<crate::period::Period>().unwrap_err().into(),
                ErrorKind::Refused,
            ),
            (
                "nope".parse::<crate::period::Job>().unwrap_err().into(),
                ErrorKind::Refused,
            ),
            (StoreError::Abandoned.into(), ErrorKind::Internal),
            (
                StoreError::InvalidAccount(crate::ids::check_account_id("").unwrap_err()).into(),
                ErrorKind::Refused,
            ),
            (
                LockError::Held {
                    account: "a".into(),
                    pid: Some(1),
                    host: None,
                    started: None,
                    path: "/l".into(),
                }
                .into(),
                ErrorKind::Busy,
            ),
            (
                ChannelError::Timeout { url: "u".into() }.into(),
                ErrorKind::Transient,
            ),
            (Failure::usage("u").into(), ErrorKind::Usage),
            (anyhow::anyhow!("nobody said"), ErrorKind::Internal),
        ];
        for (err, kind) in cases {
            let wrapped = err.context("while doing something").hint("try this");
            assert_eq!(kind_of(&wrapped), kind, "{wrapped:#}");
        }
    }

    #[test]
    fn the_outermost_kind_wins() {
        let err = Err::<(), _>(ConfigError::Invalid {
            path: "/a.toml".into(),
            message: "m".into(),
        })
        .kind_context(ErrorKind::Internal, "the tool wrote a file it cannot read")
        .unwrap_err();
        assert_eq!(kind_of(&err), ErrorKind::Internal);
    }

    #[test]
    fn a_report_has_the_message_then_each_cause_once_then_the_hints() {
        let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let err = anyhow::Error::new(ConfigError::Read {
            path: "/c/config.toml".into(),
            source: io,
        })
        .context("cannot select the account")
        .hint("check the config dir's permissions");
        let report = ErrorReport::of(&err);
        assert_eq!(report.kind, ErrorKind::Config);
        assert_eq!((report.exit, report.code), (2, "config"));
        assert_eq!(report.message, "cannot select the account");
        assert_eq!(
            report.causes,
            [format!(
                "cannot read `/c/config.toml`: {}",
                std::io::Error::from(std::io::ErrorKind::PermissionDenied)
            )],
            "the io error is already in the read error's text"
        );
        assert_eq!(report.hints, ["check the config dir's permissions"]);
    }

    #[test]
    fn codes_stay_what_scripts_test() {
        let code_of = |err: anyhow::Error| ErrorReport::of(&err).code;
        assert_eq!(code_of(Failure::busy("held").into()), "busy");
        assert_eq!(code_of(Failure::refused("no").into()), "refused");
        assert_eq!(code_of(Failure::usage("bad flag").into()), "usage");
        assert_eq!(code_of(Failure::config("bad file").into()), "config");
        assert_eq!(code_of(Failure::internal("bug").into()), "error");
        assert_eq!(
            code_of(
                ChannelError::Unauthorized {
                    url: "u".into(),
                    credential: crate::connector::CredentialKind::AccessToken,
                    answer: "HTTP 401 Unauthorized".into(),
                }
                .into()
            ),
            "refused"
        );
    }
}
