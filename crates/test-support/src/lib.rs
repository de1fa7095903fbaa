//! One test environment for `oms-channels`, in the style of cargo's test
//! support: the integration tests, the bench and the examples drive the real
//! binary through it, never a `Command` of their own.
//!
//! - [`TestEnv`] ([`env`](mod@env)): a throwaway config, data and home dir, one store
//!   backend, channels on shop peers, and the binary run with a clean
//!   environment (no `OMS_CHANNELS_*`, `PG*`, `XDG_*` or `RUST_LOG` of the
//!   caller's, `HOME` in the temp dir), found one way ([`oms_channels_bin`]).
//! - [`Backend`] and [`TestStore`] ([`store`]): SQLite files or a database on
//!   a throwaway PostgreSQL cluster ([`pg`]), and read-only looks into them.
//! - [`Peer`] ([`peer`]): the shops a channel can point at, all alike to a
//!   test: the sandbox, a real Vendure, a real Medusa. Start one, seed it,
//!   read back what it holds (SKUs held twice, products without variants,
//!   variants without a price).
//! - [`kill`]: stop a run at a named crash point or at a random moment, and
//!   start the next one at once.
//! - [`output`]: what a run printed, as a user reads it (`run-once` rows,
//!   JSON documents, exit status).
//! - [`fake_channel`]: a scripted HTTP server for tests that need a
//!   platform's answers, not the platform; [`tls`]: certificates for the
//!   TLS tests; [`mount`]: read-only file systems for one command.
//!
//! It owns only its temp dirs and the servers it starts, and talks to
//! nothing but 127.0.0.1.

pub mod catalog;
pub mod env;
pub mod fake_channel;
pub mod images;
pub mod kill;
pub mod mount;
pub mod output;
pub mod peer;
pub mod pg;
pub mod store;
pub mod tls;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use env::{ACCOUNT, CHANNEL, TestEnv, TestEnvBuilder};
pub use output::{Row, Rows};
pub use peer::{Case, Listing, Offer, Peer, PeerKind};
pub use store::{Backend, TestStore};

/// The `oms-channels` binary of this build, found one way: beside the test
/// or example executable that is running (`target/<profile>/deps/it-*`,
/// `target/<profile>/examples/bench`), where cargo puts the package's
/// binaries of the same profile. `cargo test` builds it for the
/// integration tests; an example builds it itself (`cargo build --bin`).
/// `OMS_CHANNELS_BIN` names another build's binary instead, to measure
/// two builds against the same peers and tests.
pub fn oms_channels_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(other) = std::env::var_os("OMS_CHANNELS_BIN") {
            let bin = PathBuf::from(other);
            assert!(
                bin.is_file(),
                "OMS_CHANNELS_BIN: {} is no file",
                bin.display()
            );
            return bin;
        }
        let exe = std::env::current_exe().expect("the path of the running test executable");
        let mut dir = exe.parent().expect("an executable lives in a directory");
        if dir.ends_with("deps") || dir.ends_with("examples") {
            dir = dir.parent().expect("target/<profile>");
        }
        let bin = dir.join("oms-channels");
        assert!(
            bin.is_file(),
            "{} is missing: build it with `cargo build --bin oms-channels` (same profile) \
             or run the tests through `cargo test`",
            bin.display()
        );
        bin
    })
}

/// The repository's root (the workspace), for files the tests read from it.
pub fn repo_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .expect("crates/test-support sits two levels below the root")
            .to_path_buf()
    })
}

/// Where cargo builds (`CARGO_TARGET_DIR`, else `target/` in the root): the
/// peers cache their npm installs under `peers/` there.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}
