//! One module per command group. Each turns validated arguments into calls on
//! the library and returns an [`Outcome`]; none of them prints, and none
//! imports another: what several share lives in `edit` (account file edits
//! under validation), `load_file` (how a load file's problem is reported) and
//! `report` (report pieces).

pub mod account;
pub mod capabilities;
pub mod channel;
pub mod edit;
pub mod load_file;
pub mod products;
pub mod report;
pub mod run_once;
pub mod shell;
pub mod status;
pub mod stock;
pub mod store;
pub mod validate;

use crate::output::{Render, Report};

/// What a command hands back: a report to print and the exit status it implies.
pub struct Outcome {
    pub report: Box<dyn Render>,
    pub exit: u8,
}

impl Outcome {
    pub fn ok(report: impl Report + 'static) -> Outcome {
        Outcome::with_exit(report, crate::error::EXIT_OK)
    }

    pub fn with_exit(report: impl Report + 'static, exit: u8) -> Outcome {
        Outcome {
            report: Box::new(report),
            exit,
        }
    }
}
