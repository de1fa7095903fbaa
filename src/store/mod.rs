//! The per-account SQLite store. (Placeholder until the store lands.)
use std::path::{Path, PathBuf};
pub struct Store {
    path: PathBuf,
}
pub struct Tokens {
    pub refresh_token: Option<String>,
    pub access_expires_at: Option<jiff::Timestamp>,
    pub refresh_in_flight_since: Option<jiff::Timestamp>,
}
pub struct Tx;
impl Tx {
    pub fn tokens(&self, _c: &str) -> anyhow::Result<Option<Tokens>> {
        Ok(None)
    }
    pub fn store_login(&self, _c: &str, _t: &str, _n: jiff::Timestamp) -> anyhow::Result<()> {
        anyhow::bail!("not yet")
    }
}
impl Store {
    pub fn open(d: &Path, a: &str) -> anyhow::Result<Store> {
        Ok(Store { path: d.join(a) })
    }
    pub fn open_if_exists(_d: &Path, _a: &str) -> anyhow::Result<Option<Store>> {
        Ok(None)
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn read<T>(&self, f: impl FnOnce(&Tx) -> anyhow::Result<T>) -> anyhow::Result<T> {
        f(&Tx)
    }
    pub fn write<T>(&self, f: impl FnOnce(&Tx) -> anyhow::Result<T>) -> anyhow::Result<T> {
        f(&Tx)
    }
}
