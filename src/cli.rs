//! Command-line definitions (clap derive) and nothing else: no I/O, no logic
//! (value candidates for completions live in `complete`).

use std::path::PathBuf;

use clap::{ArgAction, Args, CommandFactory as _, Parser, Subcommand};
use clap_complete::ArgValueCandidates;

use crate::complete;

/// The heading global options are listed under in every `--help`.
const GLOBAL: &str = "Global options";

/// Keep an OMS's sales-channel settings in TOML, validate them, and run the
/// due sync jobs (token refresh, product import, product export, stock export) from cron.
#[derive(Debug, Parser)]
#[command(
    name = "oms-channels",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The command line definition with the default config and data dirs of
/// this machine filled into their help.
pub fn command() -> clap::Command {
    let defaults = crate::paths::Paths::resolve(None, None).ok();
    let with_default = |help: &str, dir: Option<PathBuf>| match dir {
        Some(dir) => format!("{help} [default: {}]", dir.display()),
        None => help.to_string(),
    };
    Cli::command()
        .mut_arg("config_dir", |arg| {
            arg.help(with_default(
                "Config dir holding config.toml, accounts/ and capabilities.toml",
                defaults.as_ref().map(|p| p.config_dir.clone()),
            ))
        })
        .mut_arg("data_dir", |arg| {
            arg.help(with_default(
                "Data dir holding each account's store (<account>.db)",
                defaults.as_ref().map(|p| p.data_dir.clone()),
            ))
        })
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Account to act on [default: $OMS_CHANNELS_ACCOUNT, then current-account in config.toml]
    #[arg(long, global = true, value_name = "ACCOUNT", help_heading = GLOBAL,
          add = ArgValueCandidates::new(complete::accounts))]
    pub account: Option<String>,
    /// Config dir holding config.toml, accounts/ and capabilities.toml [env: OMS_CHANNELS_CONFIG_DIR]
    // The env var is read by `Paths::resolve`, where an empty one counts as unset.
    #[arg(long, global = true, value_name = "DIR", help_heading = GLOBAL)]
    pub config_dir: Option<PathBuf>,
    /// Data dir holding each account's store (<account>.db) [env: OMS_CHANNELS_DATA_DIR]
    #[arg(long, global = true, value_name = "DIR", help_heading = GLOBAL)]
    pub data_dir: Option<PathBuf>,
    /// Shared store, postgres://user@host/db?sslmode=... (password: PGPASSWORD or PGPASSFILE) [env: OMS_CHANNELS_STORE, then `store` in config.toml; default: SQLite files in the data dir]
    #[arg(long, global = true, value_name = "URL", help_heading = GLOBAL)]
    pub store: Option<String>,
    /// Print a stable JSON document on stdout instead of tables
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,
    /// More log output on stderr (-v debug, -vv trace)
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet",
          help_heading = GLOBAL)]
    pub verbose: u8,
    /// Only errors on stderr
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, select, create and inspect accounts
    #[command(subcommand)]
    Account(AccountCommand),
    /// List, add, remove and configure the channels of the selected account
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Show the capability master list (built-in plus capabilities.toml)
    #[command(subcommand)]
    Capabilities(CapabilitiesCommand),
    /// Check account files against the capability list and the master product source
    Validate(ValidateArgs),
    /// Run the jobs that are due now (call this from cron)
    RunOnce(RunOnceArgs),
    /// Every job: period, last success, last attempt, result, next due and why
    Status(StatusArgs),
    /// Past job runs, newest first
    History(HistoryArgs),
    /// The account's product catalog
    #[command(subcommand)]
    Products(ProductsCommand),
    /// What the OMS holds to sell per SKU and location (on hand, reserved)
    #[command(subcommand)]
    Stock(StockCommand),
    /// Move account state between stores (SQLite files and PostgreSQL)
    #[command(subcommand)]
    Store(StoreCommand),
    /// Print the shell code that completes commands, account, channel and job names
    Completions {
        /// bash, zsh, fish, elvish or powershell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout: `oms-channels man > oms-channels.1`
    #[command(hide = true)]
    Man,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// List the accounts in the config dir
    List,
    /// Show the selected account and where that choice came from
    Current,
    /// Make ACCOUNT the current account (current-account in config.toml)
    Use {
        /// Account name ([a-z0-9][a-z0-9_-]*)
        #[arg(id = "name", value_name = "ACCOUNT", add = ArgValueCandidates::new(complete::accounts))]
        account: String,
    },
    /// Create a new account file
    Add {
        /// Name of the new account ([a-z0-9][a-z0-9_-]*)
        #[arg(id = "name", value_name = "ACCOUNT")]
        account: String,
        /// `oms` or a channel id of this account
        #[arg(long, default_value = "oms", value_name = "SOURCE")]
        master_product_source: String,
        /// Human-readable name
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Delete an account file (its store in the data dir is kept)
    Remove {
        /// Account name ([a-z0-9][a-z0-9_-]*)
        #[arg(id = "name", value_name = "ACCOUNT", add = ArgValueCandidates::new(complete::accounts))]
        account: String,
    },
    /// Set the selected account's master product source (`oms` or a channel id)
    SetMasterSource {
        /// `oms`, or the id of the channel whose import feeds the catalog
        #[arg(add = ArgValueCandidates::new(complete::master_sources))]
        source: String,
    },
    /// Show the selected account's settings
    Show,
}

#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// List the channels of the selected account with their job periods
    List,
    /// Show one channel: settings, secret presence, token state
    Show {
        /// Channel id of the selected account
        #[arg(add = ArgValueCandidates::new(complete::channels))]
        channel: String,
    },
    /// Add a channel (all job periods start at `none`)
    Add(Box<ChannelAddArgs>),
    /// Remove a channel from the account file
    Remove {
        /// Channel id of the selected account
        #[arg(add = ArgValueCandidates::new(complete::channels))]
        channel: String,
    },
    /// Change a channel's base URL or credentials (comments in the file are kept)
    Set(Box<ChannelSetArgs>),
    /// Set one job's period: a duration such as 15m, 1h, 24h, or `none`
    SetPeriod {
        /// Channel id of the selected account
        #[arg(add = ArgValueCandidates::new(complete::channels))]
        channel: String,
        /// auth-refresh, import-products or export-products
        #[arg(add = ArgValueCandidates::new(complete::jobs))]
        job: String,
        /// A duration offered by the channel type, or `none`
        #[arg(allow_hyphen_values = true)]
        period: String,
    },
    /// Store an initial refresh token, read from stdin (never from arguments)
    Login {
        /// Channel id of the selected account
        #[arg(add = ArgValueCandidates::new(complete::channels))]
        channel: String,
    },
    /// Forget the store's state for a channel: tokens, import progress,
    /// exported revisions, listings, quarantine (the next export sends everything)
    Reset {
        /// Channel id of the selected account
        #[arg(add = ArgValueCandidates::new(complete::channels))]
        channel: String,
    },
}

#[derive(Debug, Args)]
pub struct ChannelAddArgs {
    /// Id of the new channel ([a-z0-9][a-z0-9_-]*; not `oms`)
    pub channel: String,
    /// Channel type from the capability list
    #[arg(long = "type", value_name = "TYPE")]
    pub channel_type: String,
    /// API base URL (https://, or http:// to loopback only)
    #[arg(long, value_name = "URL")]
    pub base_url: String,
    #[command(flatten)]
    pub auth: AuthArgs,
}

#[derive(Debug, Args)]
pub struct ChannelSetArgs {
    /// Channel id of the selected account
    #[arg(add = ArgValueCandidates::new(complete::channels))]
    pub channel: String,
    /// New API base URL; the channel then starts fresh (its store state belongs to the old endpoint)
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    #[command(flatten)]
    pub auth: AuthArgs,
}

impl AuthArgs {
    /// No auth flag given.
    pub fn is_empty(&self) -> bool {
        self.method.is_none()
            && self.token_url.is_none()
            && self.grant.is_none()
            && self.client_id.is_none()
            && self.client_secret_env.is_none()
            && self.client_secret_file.is_none()
            && self.username.is_none()
            && self.password_env.is_none()
            && self.password_file.is_none()
            && self.api_key_env.is_none()
            && self.api_key_file.is_none()
    }
}

/// How a channel authenticates. Secrets are never arguments: name the
/// environment variable or file that holds them.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Authentication")]
pub struct AuthArgs {
    /// Auth method; defaults to the one the other flags imply (oauth2 with --token-url, login with --username, api-key with --api-key-env/-file)
    #[arg(long = "auth-method", value_name = "METHOD", value_parser = ["oauth2", "login", "api-key"])]
    pub method: Option<String>,
    /// OAuth token endpoint (oauth2)
    #[arg(long, value_name = "URL")]
    pub token_url: Option<String>,
    /// OAuth grant (oauth2; refresh_token when not given)
    #[arg(long, value_parser = ["refresh_token", "client_credentials"])]
    pub grant: Option<String>,
    /// OAuth client id (oauth2)
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Environment variable holding the OAuth client secret (oauth2)
    #[arg(long, value_name = "VAR", conflicts_with = "client_secret_file")]
    pub client_secret_env: Option<String>,
    /// File holding the OAuth client secret (oauth2)
    #[arg(long, value_name = "PATH")]
    pub client_secret_file: Option<PathBuf>,
    /// User name to log in as (login)
    #[arg(long, value_name = "NAME")]
    pub username: Option<String>,
    /// Environment variable holding the password (login)
    #[arg(long, value_name = "VAR", conflicts_with = "password_file")]
    pub password_env: Option<String>,
    /// File holding the password (login)
    #[arg(long, value_name = "PATH")]
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the API key (api-key)
    #[arg(long, value_name = "VAR", conflicts_with = "api_key_file")]
    pub api_key_env: Option<String>,
    /// File holding the API key (api-key)
    #[arg(long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum CapabilitiesCommand {
    /// List channel types and the jobs they offer
    List,
    /// Show one channel type's offered periods
    Show {
        /// Channel type from the capability list
        #[arg(value_name = "TYPE", add = ArgValueCandidates::new(complete::channel_types))]
        channel_type: String,
    },
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Validate every account in the config dir
    #[arg(long)]
    pub all_accounts: bool,
    /// Treat warnings as errors (exit 1)
    #[arg(long)]
    pub strict: bool,
    /// Skip the checks that depend on this machine (secrets present), so CI
    /// and the production host judge the same files the same way
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Args)]
pub struct RunOnceArgs {
    /// Run for every account in the config dir
    #[arg(long)]
    pub all_accounts: bool,
    /// Only this channel (repeatable)
    #[arg(long, value_name = "CHANNEL", add = ArgValueCandidates::new(complete::channels))]
    pub channel: Vec<String>,
    /// Only this job (repeatable): auth-refresh, import-products, export-products, export-stock
    #[arg(long, value_name = "JOB", add = ArgValueCandidates::new(complete::jobs))]
    pub job: Vec<String>,
    /// Run the selected jobs whether or not they are due
    #[arg(long)]
    pub force: bool,
    /// Only report what would run; send nothing, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: show what each exporting channel's next export would
    /// create, update (field by field) and delete, from the store alone
    #[arg(long, requires = "dry_run")]
    pub diff: bool,
    /// Import everything, ignoring the last import's high-water mark
    #[arg(long)]
    pub full: bool,
    /// Let this run remove from the catalog, and delete from channels, more
    /// than their `max-removal` allows (once; the setting stays)
    #[arg(long)]
    pub allow_removal: bool,
    /// Evaluate what is due at this RFC 3339 instant instead of now
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// How many channels run at once
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Evaluate next-due times at this RFC 3339 instant instead of now
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this channel
    #[arg(long, value_name = "CHANNEL", add = ArgValueCandidates::new(complete::channels))]
    pub channel: Option<String>,
    /// At most this many runs
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy the data dir's SQLite stores into a PostgreSQL store; safe to run
    /// again, and never overwrites state that is newer in PostgreSQL
    Migrate {
        /// The PostgreSQL store, postgres://user@host/db (password: PGPASSWORD or PGPASSFILE)
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProductsCommand {
    /// List catalog products by handle, one line each with its variant count
    List {
        /// At most this many products
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Start after this handle (for paging)
        #[arg(long, value_name = "HANDLE")]
        after: Option<String>,
    },
    /// Show one whole product (variants, prices, stock) and where it stands on each channel
    Show {
        /// The product's handle, or the SKU of one of its variants
        #[arg(value_name = "HANDLE|SKU")]
        key: String,
    },
    /// Count catalog products (and their variants)
    Count,
    /// Upsert products from a JSON Lines (.jsonl) or CSV (.csv) file; all or nothing
    Load {
        /// A .jsonl (one product a line) or .csv (one variant a row, or flat) file
        file: PathBuf,
    },
    /// Remove products (by handle) or variants (by SKU) from the catalog; export then deletes them on every exporting channel
    Remove {
        /// Handles of products, or SKUs of variants, to remove
        #[arg(value_name = "HANDLE|SKU")]
        keys: Vec<String>,
        /// Also remove the handles or SKUs in this file (one a line; blank lines are skipped)
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Read a channel's whole listing (never writing to it) and show where it
    /// differs from the catalog: missing, extra, and field by field
    Diff {
        /// Channel id of the selected account
        #[arg(add = ArgValueCandidates::new(complete::channels))]
        channel: String,
    },
    /// Take a product out of quarantine: export sends it again on the next run
    Release {
        /// The quarantined product's handle, or the SKU of one of its variants
        #[arg(value_name = "HANDLE|SKU")]
        key: String,
        /// Only on this channel (default: every channel)
        #[arg(long, value_name = "CHANNEL", add = ArgValueCandidates::new(complete::channels))]
        channel: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StockCommand {
    /// Set stock levels from a CSV (.csv) or JSON Lines (.jsonl) file of
    /// sku, location, on_hand, reserved, updated_at; all or nothing
    Load {
        /// A .csv (header row, one level a row) or .jsonl (one level a line) file
        file: PathBuf,
        /// The file is the whole stock: every stored level it does not list becomes 0
        #[arg(long)]
        full: bool,
    },
}
