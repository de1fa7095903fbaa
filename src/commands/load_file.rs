//! What `products load` and `stock load` share: how a load file's problem
//! becomes the command's error, always saying that nothing was loaded.

use std::path::Path;

use crate::catalog::file::ProductFileError;
use crate::error::Failure;
use crate::store::StoreError;

/// A file the command refuses (exit 1): a bad line, a bad file type.
pub fn refused(file: &Path, e: &dyn std::fmt::Display) -> Failure {
    Failure::refused(format!("{}: {e}; nothing was loaded", file.display()))
}

/// The error of a load whose transaction ended in `stored`: the file's own
/// `problem` when it had one (unreadable bytes are a file error, exit 2;
/// anything else is refused, exit 1), else the store's error as it is.
pub fn not_loaded(
    file: &Path,
    stored: StoreError,
    problem: Option<ProductFileError>,
) -> anyhow::Error {
    match problem {
        Some(e @ ProductFileError::Unreadable { .. }) => Failure::config(format!(
            "cannot read `{}`: {e}; nothing was loaded",
            file.display()
        ))
        .into(),
        Some(e) => refused(file, &e).into(),
        None => anyhow::Error::new(stored).context(format!(
            "cannot load `{}`; nothing was loaded",
            file.display()
        )),
    }
}
