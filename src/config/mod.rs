//! The user's files: account files and the global config. `model` reads them,
//! `edit` changes documents, `file` does the locked, atomic I/O.

pub mod edit;
pub mod error;
pub mod file;
pub mod model;

pub use error::ConfigError;
pub use file::{
    LoadedAccount, ignored_account_files, list_accounts, load_account, load_global, text_digest,
};
pub use model::{
    AccountConfig, AuthConfig, AuthSpec, ChannelConfig, GrantKind, SecretSource,
    absolute_secret_path,
};
