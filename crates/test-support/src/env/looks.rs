//! The files of a [`TestEnv`] (config, data, home, files a test writes) and
//! read-only looks into its store, with the same SQL on both backends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{ACCOUNT, TestEnv};
use crate::TestStore;
use crate::output::files_under;
use crate::peer::Offer;

impl TestEnv {
    // ---- files ----

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn config_dir(&self) -> PathBuf {
        self.root.path().join("config")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    pub fn home_dir(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// A path under the config dir.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.config_dir().join(relative)
    }

    /// `<config dir>/accounts/<name>.toml`.
    pub fn account_path(&self, name: &str) -> PathBuf {
        self.config_dir()
            .join("accounts")
            .join(format!("{name}.toml"))
    }

    /// The file of the env's account (or [`ACCOUNT`]).
    pub fn account_file(&self) -> PathBuf {
        self.account_path(self.account.as_deref().unwrap_or(ACCOUNT))
    }

    /// The text of the env's account file.
    pub fn account_text(&self) -> String {
        std::fs::read_to_string(self.account_file()).expect("read the account file")
    }

    /// The text of an account file; panics if it is missing or not UTF-8.
    pub fn read_account(&self, name: &str) -> String {
        std::fs::read_to_string(self.account_path(name)).expect("read account file")
    }

    /// Writes an account file (any bytes, so broken files can be tested too).
    pub fn account(&self, name: &str, contents: impl AsRef<[u8]>) -> &TestEnv {
        std::fs::write(self.account_path(name), contents).expect("write account file");
        self
    }

    /// Writes a file under the config dir (`capabilities.toml`, `config.toml`).
    pub fn file(&self, relative: &str, contents: impl AsRef<[u8]>) -> &TestEnv {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the file's dir");
        }
        std::fs::write(path, contents).expect("write config file");
        self
    }

    /// Makes `name` the current account through `config.toml`.
    pub fn current(&self, name: &str) -> &TestEnv {
        self.file("config.toml", format!("current-account = \"{name}\"\n"))
    }

    /// The bytes of a file, or `None` if it does not exist.
    pub fn bytes(&self, path: impl AsRef<Path>) -> Option<Vec<u8>> {
        match std::fs::read(path.as_ref()) {
            Ok(bytes) => Some(bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => panic!("read {}: {err}", path.as_ref().display()),
        }
    }

    /// A file in the temp dir (beside config and data) with these contents.
    pub fn write_file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.root.path().join(name);
        std::fs::write(&path, contents).expect("write test file");
        path
    }

    /// Every regular file under the config dir and its bytes.
    pub fn config_files(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        files_under(&self.config_dir())
    }

    // ---- the store ----

    pub fn store(&self) -> &TestStore {
        &self.store
    }

    /// Runs `sql` (statements, no parameters) against the account's store,
    /// writing: to put it in a shape the tool no longer writes itself.
    pub fn rewrite_store(&self, sql: &str) {
        self.store
            .execute_batch(self.account_name(), sql)
            .unwrap_or_else(|e| panic!("rewriting the store: {e}"));
    }

    fn account_name(&self) -> &str {
        self.account.as_deref().unwrap_or(ACCOUNT)
    }

    /// The account's SQLite store file.
    pub fn db_path(&self) -> PathBuf {
        self.store.sqlite_path(self.account_name())
    }

    /// Whether the account's store exists (its SQLite file or PostgreSQL schema).
    pub fn store_exists(&self) -> bool {
        self.store.exists(self.account_name())
    }

    /// `ok` for a sound store ([`TestStore::integrity`]).
    pub fn integrity(&self) -> String {
        self.store.integrity(self.account_name())
    }

    /// A `SELECT count(*) ...` on the account's store (same SQL on both).
    pub fn count(&self, sql: &str) -> i64 {
        self.store.count(self.account_name(), sql, &[])
    }

    /// The first cell of a query on the account's store ([`TestStore::value`]).
    pub fn value(&self, sql: &str, params: &[&str]) -> Option<String> {
        self.store.value(self.account_name(), sql, params)
    }

    fn token_column(&self, channel: &str, column: &str) -> Option<String> {
        self.value(
            &format!("SELECT {column} FROM tokens WHERE channel = ?1"),
            &[channel],
        )
    }

    /// The refresh token in the store, read straight from its tables.
    pub fn stored_refresh_token(&self, channel: &str) -> Option<String> {
        self.token_column(channel, "refresh_token")
    }

    pub fn stored_access_token(&self, channel: &str) -> Option<String> {
        self.token_column(channel, "access_token")
    }

    /// Whether a token refresh of `channel` is marked as sent and unanswered.
    pub fn refresh_in_flight(&self, channel: &str) -> bool {
        self.token_column(channel, "refresh_in_flight_since")
            .is_some()
    }

    /// Outcome of the last recorded run of `job` (`success`, `failed`, ...).
    pub fn last_outcome(&self, channel: &str, job: &str) -> Option<String> {
        self.value(
            "SELECT outcome FROM run_history WHERE channel = ?1 AND job = ?2 ORDER BY id DESC LIMIT 1",
            &[channel, job],
        )
    }

    /// The whole catalog as stored, by SKU: each variant as the flat
    /// product the protocol had (its product's title and attributes, its
    /// first price, its stock at `default`, the product's timestamp and id).
    pub fn catalog(&self) -> BTreeMap<String, sandbox::Product> {
        let rows = self
            .store
            .query(
                self.account_name(),
                "SELECT v.sku, p.doc, s.on_hand FROM variants v \
                 JOIN products p ON p.handle = v.handle \
                 LEFT JOIN stock_levels s ON s.sku = v.sku AND s.location = 'default'",
                &[],
            )
            .unwrap_or_else(|e| panic!("catalog query: {e}"));
        rows.iter()
            .map(|r| {
                let sku = r[0].clone().expect("a sku");
                let mut product: sandbox::NestedProduct =
                    serde_json::from_str(r[1].as_deref().expect("a document"))
                        .expect("a stored product reads as the protocol's");
                // The document leaves stock out: it is in its own table.
                let quantity: i64 = r[2].as_deref().map_or(0, |n| n.parse().expect("a number"));
                for variant in &mut product.variants {
                    if variant.sku == sku {
                        variant.stock.insert("default".into(), quantity);
                    }
                }
                let flat = product
                    .flat_view(&sku)
                    .expect("the variant is in its product");
                (sku, flat)
            })
            .collect()
    }

    /// The catalog as the offers a shop is compared with, by SKU.
    pub fn catalog_offers(&self) -> BTreeMap<String, Offer> {
        self.catalog()
            .into_values()
            .map(|p| (p.sku.clone(), Offer::from(&p)))
            .collect()
    }

    /// `products count --json`.
    pub fn catalog_count(&self) -> u64 {
        self.json(&["products", "count"])["count"]
            .as_u64()
            .expect("count")
    }

    /// `products show <sku> --json`.
    pub fn show(&self, sku: &str) -> Value {
        self.json(&["products", "show", sku])
    }
}
