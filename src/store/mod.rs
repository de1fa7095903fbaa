//! The per-account SQLite store.
