//! The store's schema: one numbered list of steps, each written in every
//! engine's dialect, so a version means the same tables on every engine and
//! no step can exist for one engine only (a new engine adds a field to
//! [`Step`], and the compiler then asks for it in every step).
//!
//! Adding a table: append a step here (both dialects), then the typed
//! operations in a module of their own. `store migrate` copies every table
//! the engine reports ([`super::sql::Sql::tables`]), so it needs no edit.
//! Nothing here knows what the tables mean, except a step's `data`, which
//! lives with the topic whose data it moves.

use super::sql::{Db, DbResult};

/// One schema version: step `i` of [`STEPS`] takes a store from version `i`
/// to `i + 1`. Append only; never edit a step that has shipped.
pub(crate) struct Step {
    /// What the step brings, for messages and the reader.
    pub what: &'static str,
    /// Moves the data the DDL cannot (values computed in Rust), after the
    /// step's DDL and in its transaction, in the SQL both engines share.
    pub data: Option<fn(Db<'_>) -> DbResult<()>>,
    /// SQLite: INTEGER for every integer (read as i64), `WITHOUT ROWID` for
    /// tables keyed by text.
    pub sqlite: &'static str,
    /// PostgreSQL: BIGINT where SQLite says INTEGER; keys are `COLLATE "C"`
    /// so that ordering and keyset paging compare bytes, as SQLite does.
    pub postgres: &'static str,
}

pub(crate) const STEPS: &[Step] = &[
    Step {
        what: "job state, run history, tokens, catalog, listings, import progress, exports",
        data: None,
        sqlite: r#"
        CREATE TABLE job_state (
            channel TEXT NOT NULL,
            job TEXT NOT NULL,
            last_success_start INTEGER,
            last_success_end INTEGER,
            last_attempt_start INTEGER,
            last_attempt_end INTEGER,
            last_outcome TEXT,
            last_error TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (channel, job)
        ) WITHOUT ROWID;

        CREATE TABLE run_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            channel TEXT NOT NULL,
            job TEXT NOT NULL,
            started INTEGER NOT NULL,
            finished INTEGER,
            outcome TEXT NOT NULL
                CHECK (outcome IN ('running', 'success', 'failed', 'skipped', 'interrupted')),
            items INTEGER NOT NULL DEFAULT 0,
            detail TEXT,
            forced INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX run_history_by_time ON run_history (started, id);
        CREATE INDEX run_history_by_channel ON run_history (channel, started, id);
        -- Only crashed or in-progress runs are 'running'; keeps begin_run's sweep cheap.
        CREATE INDEX run_history_running ON run_history (channel, job) WHERE outcome = 'running';

        CREATE TABLE tokens (
            channel TEXT PRIMARY KEY NOT NULL,
            refresh_token TEXT,
            access_token TEXT,
            access_expires_at INTEGER,
            refresh_in_flight_since INTEGER,
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE catalog (
            sku TEXT PRIMARY KEY NOT NULL,
            title TEXT NOT NULL,
            price TEXT NOT NULL,
            currency TEXT NOT NULL,
            quantity INTEGER NOT NULL,
            attributes TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            id TEXT,
            revision INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE listings (
            channel TEXT NOT NULL,
            sku TEXT NOT NULL,
            listing_id TEXT,
            title TEXT NOT NULL,
            price TEXT NOT NULL,
            currency TEXT NOT NULL,
            quantity INTEGER NOT NULL,
            attributes TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            seen_at INTEGER NOT NULL,
            PRIMARY KEY (channel, sku)
        ) WITHOUT ROWID;
        CREATE INDEX listings_by_sku ON listings (sku);

        CREATE TABLE import_progress (
            channel TEXT PRIMARY KEY NOT NULL,
            high_water INTEGER,
            cursor TEXT,
            since_used INTEGER,
            run_high_water INTEGER
        ) WITHOUT ROWID;

        CREATE TABLE exports (
            channel TEXT NOT NULL,
            sku TEXT NOT NULL,
            exported_revision INTEGER,
            last_status TEXT NOT NULL,
            last_error TEXT,
            attempted_at INTEGER NOT NULL,
            PRIMARY KEY (channel, sku)
        ) WITHOUT ROWID;
        "#,
        postgres: r#"
        CREATE TABLE job_state (
            channel TEXT COLLATE "C" NOT NULL,
            job TEXT COLLATE "C" NOT NULL,
            last_success_start BIGINT,
            last_success_end BIGINT,
            last_attempt_start BIGINT,
            last_attempt_end BIGINT,
            last_outcome TEXT,
            last_error TEXT,
            consecutive_failures BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (channel, job)
        );

        CREATE TABLE run_history (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            channel TEXT COLLATE "C" NOT NULL,
            job TEXT COLLATE "C" NOT NULL,
            started BIGINT NOT NULL,
            finished BIGINT,
            outcome TEXT NOT NULL
                CHECK (outcome IN ('running', 'success', 'failed', 'skipped', 'interrupted')),
            items BIGINT NOT NULL DEFAULT 0,
            detail TEXT,
            forced BIGINT NOT NULL DEFAULT 0
        );
        CREATE INDEX run_history_by_time ON run_history (started, id);
        CREATE INDEX run_history_by_channel ON run_history (channel, started, id);
        CREATE INDEX run_history_running ON run_history (channel, job) WHERE outcome = 'running';

        CREATE TABLE tokens (
            channel TEXT COLLATE "C" PRIMARY KEY NOT NULL,
            refresh_token TEXT,
            access_token TEXT,
            access_expires_at BIGINT,
            refresh_in_flight_since BIGINT,
            updated_at BIGINT NOT NULL
        );

        CREATE TABLE catalog (
            sku TEXT COLLATE "C" PRIMARY KEY NOT NULL,
            title TEXT NOT NULL,
            price TEXT NOT NULL,
            currency TEXT NOT NULL,
            quantity BIGINT NOT NULL,
            attributes TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            id TEXT,
            revision BIGINT NOT NULL
        );

        CREATE TABLE listings (
            channel TEXT COLLATE "C" NOT NULL,
            sku TEXT COLLATE "C" NOT NULL,
            listing_id TEXT,
            title TEXT NOT NULL,
            price TEXT NOT NULL,
            currency TEXT NOT NULL,
            quantity BIGINT NOT NULL,
            attributes TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            seen_at BIGINT NOT NULL,
            PRIMARY KEY (channel, sku)
        );
        CREATE INDEX listings_by_sku ON listings (sku);

        CREATE TABLE import_progress (
            channel TEXT COLLATE "C" PRIMARY KEY NOT NULL,
            high_water BIGINT,
            cursor TEXT,
            since_used BIGINT,
            run_high_water BIGINT
        );

        CREATE TABLE exports (
            channel TEXT COLLATE "C" NOT NULL,
            sku TEXT COLLATE "C" NOT NULL,
            exported_revision BIGINT,
            last_status TEXT NOT NULL,
            last_error TEXT,
            attempted_at BIGINT NOT NULL,
            PRIMARY KEY (channel, sku)
        );
        "#,
    },
    Step {
        what: "the schedule slot a run serves, so due times stay on their grid",
        data: None,
        sqlite: r#"
        ALTER TABLE run_history ADD COLUMN slot INTEGER;
        ALTER TABLE job_state ADD COLUMN last_success_slot INTEGER;
        "#,
        postgres: r#"
        ALTER TABLE run_history ADD COLUMN slot BIGINT;
        ALTER TABLE job_state ADD COLUMN last_success_slot BIGINT;
        "#,
    },
    Step {
        what: "channel identity, deletions, quarantine, partial runs with item counts",
        data: None,
        sqlite: r#"
        -- Which endpoint (type + normalised base URL) a channel's state belongs to.
        CREATE TABLE channel_identity (
            channel TEXT PRIMARY KEY NOT NULL,
            endpoint TEXT NOT NULL,
            since INTEGER NOT NULL
        ) WITHOUT ROWID;

        -- Products removed from the catalog whose deletion some channel still owes.
        CREATE TABLE removed_products (
            sku TEXT PRIMARY KEY NOT NULL,
            removed_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX exports_by_sku ON exports (sku);

        -- Consecutive rejections of one revision; enough of them quarantine it.
        ALTER TABLE exports ADD COLUMN rejections INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE exports ADD COLUMN rejected_revision INTEGER;

        -- SKUs a complete (not incremental) import has seen so far, committed
        -- with each page, so the import can remove what the master no longer has.
        CREATE TABLE import_seen (
            channel TEXT NOT NULL,
            sku TEXT NOT NULL,
            PRIMARY KEY (channel, sku)
        ) WITHOUT ROWID;
        CREATE TABLE import_complete (
            channel TEXT PRIMARY KEY NOT NULL
        ) WITHOUT ROWID;

        -- run_history gains the `partial` outcome (a CHECK cannot be altered) and
        -- per-outcome item counts.
        CREATE TABLE run_history_v2 (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            channel TEXT NOT NULL,
            job TEXT NOT NULL,
            started INTEGER NOT NULL,
            finished INTEGER,
            outcome TEXT NOT NULL
                CHECK (outcome IN ('running', 'success', 'partial', 'failed', 'skipped', 'interrupted')),
            items INTEGER NOT NULL DEFAULT 0,
            detail TEXT,
            forced INTEGER NOT NULL DEFAULT 0,
            slot INTEGER,
            counts TEXT
        );
        INSERT INTO run_history_v2 (id, channel, job, started, finished, outcome, items, detail, forced, slot)
            SELECT id, channel, job, started, finished, outcome, items, detail, forced, slot FROM run_history;
        DROP TABLE run_history;
        ALTER TABLE run_history_v2 RENAME TO run_history;
        CREATE INDEX run_history_by_time ON run_history (started, id);
        CREATE INDEX run_history_by_channel ON run_history (channel, started, id);
        CREATE INDEX run_history_running ON run_history (channel, job) WHERE outcome = 'running';
        "#,
        postgres: r#"
        CREATE TABLE channel_identity (
            channel TEXT COLLATE "C" PRIMARY KEY NOT NULL,
            endpoint TEXT COLLATE "C" NOT NULL,
            since BIGINT NOT NULL
        );

        CREATE TABLE removed_products (
            sku TEXT COLLATE "C" PRIMARY KEY NOT NULL,
            removed_at BIGINT NOT NULL
        );
        CREATE INDEX exports_by_sku ON exports (sku);

        ALTER TABLE exports ADD COLUMN rejections BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE exports ADD COLUMN rejected_revision BIGINT;

        CREATE TABLE import_seen (
            channel TEXT COLLATE "C" NOT NULL,
            sku TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (channel, sku)
        );
        CREATE TABLE import_complete (
            channel TEXT COLLATE "C" PRIMARY KEY NOT NULL
        );

        -- PostgreSQL alters a CHECK in place (its name is the one it gave it
        -- in step 1).
        ALTER TABLE run_history
            DROP CONSTRAINT run_history_outcome_check,
            ADD CONSTRAINT run_history_outcome_check
                CHECK (outcome IN ('running', 'success', 'partial', 'failed', 'skipped', 'interrupted')),
            ADD COLUMN counts TEXT;
        "#,
    },
    Step {
        what: "products with variants: products, variants, stock per location, listings and exports per product, platform ids, the write journal",
        data: Some(super::catalog::migrate_flat_catalog),
        sqlite: r#"
        -- The catalog: one row per product (its canonical JSON without stock),
        -- its variants by SKU, and stock per variant and location.
        CREATE TABLE products (
            handle TEXT PRIMARY KEY NOT NULL,
            doc TEXT NOT NULL,
            digest TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            revision INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE variants (
            sku TEXT PRIMARY KEY NOT NULL,
            handle TEXT NOT NULL,
            position INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX variants_by_handle ON variants (handle, position);
        CREATE TABLE stock_levels (
            sku TEXT NOT NULL,
            location TEXT NOT NULL,
            on_hand INTEGER NOT NULL,
            reserved INTEGER NOT NULL DEFAULT 0,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (sku, location)
        ) WITHOUT ROWID;

        -- What other channels hold, per product.
        CREATE TABLE listings_v2 (
            channel TEXT NOT NULL,
            handle TEXT NOT NULL,
            doc TEXT NOT NULL,
            seen_at INTEGER NOT NULL,
            PRIMARY KEY (channel, handle)
        ) WITHOUT ROWID;
        CREATE TABLE listing_variants (
            channel TEXT NOT NULL,
            sku TEXT NOT NULL,
            handle TEXT NOT NULL,
            PRIMARY KEY (channel, sku)
        ) WITHOUT ROWID;
        CREATE INDEX listing_variants_by_handle ON listing_variants (channel, handle);

        -- Export state per channel and product, with the product as the
        -- channel last accepted it.
        CREATE TABLE exports_v2 (
            channel TEXT NOT NULL,
            handle TEXT NOT NULL,
            exported_revision INTEGER,
            exported_doc TEXT,
            last_status TEXT NOT NULL,
            last_error TEXT,
            attempted_at INTEGER NOT NULL,
            rejections INTEGER NOT NULL DEFAULT 0,
            rejected_revision INTEGER,
            PRIMARY KEY (channel, handle)
        ) WITHOUT ROWID;
        CREATE INDEX exports_by_handle ON exports_v2 (handle);

        -- A channel's ids for products, variants, ...; a variant row means the
        -- channel holds it (its id may be unknown: NULL).
        CREATE TABLE platform_ids (
            channel TEXT NOT NULL,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            platform_id TEXT,
            PRIMARY KEY (channel, kind, key)
        ) WITHOUT ROWID;
        CREATE INDEX platform_ids_by_key ON platform_ids (key);

        -- The write journal: creates started on a shop and not yet settled.
        CREATE TABLE shop_intents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            channel TEXT NOT NULL,
            handle TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            run_id INTEGER,
            settled_at INTEGER
        );
        CREATE INDEX shop_intents_open ON shop_intents (channel, id) WHERE settled_at IS NULL;

        -- Products and variants that left the catalog, whose deletion some
        -- channel still owes.
        CREATE TABLE removed_products_v2 (
            handle TEXT PRIMARY KEY NOT NULL,
            removed_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE removed_variants (
            sku TEXT NOT NULL,
            handle TEXT NOT NULL,
            removed_at INTEGER NOT NULL,
            PRIMARY KEY (sku, handle)
        ) WITHOUT ROWID;

        ALTER TABLE import_seen RENAME COLUMN sku TO handle;
        "#,
        postgres: r#"
        CREATE TABLE products (
            handle TEXT COLLATE "C" PRIMARY KEY NOT NULL,
            doc TEXT NOT NULL,
            digest TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            revision BIGINT NOT NULL
        );
        CREATE TABLE variants (
            sku TEXT COLLATE "C" PRIMARY KEY NOT NULL,
            handle TEXT COLLATE "C" NOT NULL,
            position BIGINT NOT NULL
        );
        CREATE INDEX variants_by_handle ON variants (handle, position);
        CREATE TABLE stock_levels (
            sku TEXT COLLATE "C" NOT NULL,
            location TEXT COLLATE "C" NOT NULL,
            on_hand BIGINT NOT NULL,
            reserved BIGINT NOT NULL DEFAULT 0,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (sku, location)
        );

        CREATE TABLE listings_v2 (
            channel TEXT COLLATE "C" NOT NULL,
            handle TEXT COLLATE "C" NOT NULL,
            doc TEXT NOT NULL,
            seen_at BIGINT NOT NULL,
            PRIMARY KEY (channel, handle)
        );
        CREATE TABLE listing_variants (
            channel TEXT COLLATE "C" NOT NULL,
            sku TEXT COLLATE "C" NOT NULL,
            handle TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (channel, sku)
        );
        CREATE INDEX listing_variants_by_handle ON listing_variants (channel, handle);

        CREATE TABLE exports_v2 (
            channel TEXT COLLATE "C" NOT NULL,
            handle TEXT COLLATE "C" NOT NULL,
            exported_revision BIGINT,
            exported_doc TEXT,
            last_status TEXT NOT NULL,
            last_error TEXT,
            attempted_at BIGINT NOT NULL,
            rejections BIGINT NOT NULL DEFAULT 0,
            rejected_revision BIGINT,
            PRIMARY KEY (channel, handle)
        );
        CREATE INDEX exports_by_handle ON exports_v2 (handle);

        CREATE TABLE platform_ids (
            channel TEXT COLLATE "C" NOT NULL,
            kind TEXT COLLATE "C" NOT NULL,
            key TEXT COLLATE "C" NOT NULL,
            platform_id TEXT,
            PRIMARY KEY (channel, kind, key)
        );
        CREATE INDEX platform_ids_by_key ON platform_ids (key);

        CREATE TABLE shop_intents (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            channel TEXT COLLATE "C" NOT NULL,
            handle TEXT COLLATE "C" NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL,
            started_at BIGINT NOT NULL,
            run_id BIGINT,
            settled_at BIGINT
        );
        CREATE INDEX shop_intents_open ON shop_intents (channel, id) WHERE settled_at IS NULL;

        CREATE TABLE removed_products_v2 (
            handle TEXT COLLATE "C" PRIMARY KEY NOT NULL,
            removed_at BIGINT NOT NULL
        );
        CREATE TABLE removed_variants (
            sku TEXT COLLATE "C" NOT NULL,
            handle TEXT COLLATE "C" NOT NULL,
            removed_at BIGINT NOT NULL,
            PRIMARY KEY (sku, handle)
        );

        ALTER TABLE import_seen RENAME COLUMN sku TO handle;
        "#,
    },
    Step {
        what: "when an unfinished import's listing began, which bounds its high water",
        data: None,
        sqlite: "ALTER TABLE import_progress ADD COLUMN listing_started INTEGER;",
        postgres: "ALTER TABLE import_progress ADD COLUMN listing_started BIGINT;",
    },
    Step {
        what: "export-stock: the level last sent per channel, SKU and catalog location, refusals, and each channel's last reconcile",
        data: None,
        sqlite: r#"
        -- `sent` is the level the channel last accepted (NULL: none yet);
        -- `rejected_value` the one it refused `rejections` times in a row.
        CREATE TABLE stock_sent (
            channel TEXT NOT NULL,
            sku TEXT NOT NULL,
            location TEXT NOT NULL,
            sent INTEGER,
            sent_at INTEGER,
            rejected_value INTEGER,
            rejections INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            PRIMARY KEY (channel, sku, location)
        ) WITHOUT ROWID;
        CREATE TABLE stock_reconciles (
            channel TEXT PRIMARY KEY NOT NULL,
            reconciled_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        "#,
        postgres: r#"
        CREATE TABLE stock_sent (
            channel TEXT COLLATE "C" NOT NULL,
            sku TEXT COLLATE "C" NOT NULL,
            location TEXT COLLATE "C" NOT NULL,
            sent BIGINT,
            sent_at BIGINT,
            rejected_value BIGINT,
            rejections BIGINT NOT NULL DEFAULT 0,
            last_error TEXT,
            PRIMARY KEY (channel, sku, location)
        );
        CREATE TABLE stock_reconciles (
            channel TEXT COLLATE "C" PRIMARY KEY NOT NULL,
            reconciled_at BIGINT NOT NULL
        );
        "#,
    },
];

/// The schema version this binary writes.
pub(crate) fn current_version() -> i64 {
    STEPS.len() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `CREATE TABLE` name and `ADD COLUMN` of one dialect's chain,
    /// with the tables a step renames onto another folded in: what each
    /// engine ends up with, as far as the text says.
    fn tables_and_added_columns(chain: impl Iterator<Item = &'static str>) -> Vec<String> {
        let mut found = Vec::new();
        for sql in chain {
            let words: Vec<&str> = sql
                .split(|c: char| c.is_whitespace() || c == '(' || c == ',' || c == ';')
                .filter(|w| !w.is_empty())
                .collect();
            for pair in words.windows(3) {
                match pair {
                    ["CREATE", "TABLE", name] if !name.ends_with("_v2") => {
                        found.push(format!("table {name}"))
                    }
                    ["ADD", "COLUMN", column] => found.push(format!("column {column}")),
                    _ => {}
                }
            }
        }
        found.sort();
        found
    }

    #[test]
    fn every_step_exists_for_every_engine_and_both_chains_make_the_same_tables() {
        for (i, step) in STEPS.iter().enumerate() {
            assert!(!step.what.is_empty(), "step {}", i + 1);
            assert!(!step.sqlite.trim().is_empty(), "step {}: no SQLite", i + 1);
            assert!(
                !step.postgres.trim().is_empty(),
                "step {}: no PostgreSQL",
                i + 1
            );
        }
        // SQLite's step 3 rebuilds run_history (a CHECK cannot be altered
        // there) where PostgreSQL adds `counts` in place: the same column.
        let mut sqlite = tables_and_added_columns(STEPS.iter().map(|s| s.sqlite));
        sqlite.push("column counts".to_string());
        sqlite.sort();
        let postgres = tables_and_added_columns(STEPS.iter().map(|s| s.postgres));
        assert_eq!(sqlite, postgres);
    }
}
