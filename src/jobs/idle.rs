//! Cron's idle call made cheap. Most `run-once` calls find nothing due; once
//! a call has found that from the store's truth, it leaves an idle stamp
//! ([`IdleStamp`]: "nothing before T, for these inputs") that the next calls
//! read instead of parsing the account file and opening the store.
//!
//! The stamp is only believed for the exact inputs it was made from (the
//! account file's bytes, the capability list's, this binary's version) and
//! before its time; every write to the store removes it first (see
//! `store::idle`). Anything unusual (a stamp that cannot be read, an input
//! that cannot be read, a busy account) is "maybe due", and the call plans
//! from the store as always.

use jiff::Timestamp;

use crate::capabilities::Capabilities;
use crate::config::{LoadedAccount, text_digest};
use crate::paths::Paths;
use crate::plan::inputs::{LiveRun, PlanInputs};
use crate::plan::{Action, PlanOptions, plan_channel};
use crate::store::{IdleStamp, Store, StoreSpec, lock};

/// The digest of what a plan is made from besides the store: the account
/// file, the capability list (both as digests of their bytes) and this
/// binary (its version: a new one may plan differently).
pub fn inputs_digest(account_file: u64, capabilities: u64) -> u64 {
    text_digest(
        format!(
            "oms-channels {} {account_file:016x} {capabilities:016x}",
            env!("CARGO_PKG_VERSION")
        )
        .as_bytes(),
    )
}

/// Whether `account` surely has nothing due at `now`, by its idle stamp,
/// without parsing its file or opening its store. Any doubt is `false`.
pub fn is_idle(paths: &Paths, spec: &StoreSpec, account: &str, now: Timestamp) -> bool {
    let Ok(account_file) = std::fs::read(paths.account_file(account)) else {
        return false;
    };
    let Ok(capabilities) = Capabilities::file_digest(&paths.capabilities_file()) else {
        return false;
    };
    let inputs = inputs_digest(text_digest(&account_file), capabilities);
    if !spec
        .idle_stamp(account)
        .is_some_and(|stamp| stamp.holds(inputs, now))
    {
        return false;
    }
    // As a planning call would: an account another run holds is busy
    // (exit 75), which that call says.
    lock::try_lock_account(spec, account).is_ok()
}

/// Records the idle stamp of an account in which nothing is due, planned
/// again from the store's truth under its write lock. `Ok(false)` when no
/// stamp was recorded: something is due or to be reported (a config error),
/// or a writer holds the store right now.
pub fn stamp(
    store: &Store,
    loaded: &LoadedAccount,
    capabilities: &Capabilities,
) -> crate::store::Result<bool> {
    let inputs = inputs_digest(loaded.digest, capabilities.digest());
    store.try_stamp_idle(|tx| {
        let facts = PlanInputs::gather_in(tx, LiveRun::HeldHere, loaded, capabilities)?;
        let options = PlanOptions {
            now: Timestamp::now(),
            force: false,
            jobs: Vec::new(),
        };
        Ok(idle_until(&facts, loaded, &options).map(|next_due| IdleStamp { inputs, next_due }))
    })
}

/// When the first job of the account may be due, if none is now and there
/// is nothing to report: `Some(None)` when nothing is scheduled at all.
/// Every job the planner holds back for a reason (auth failing, auth
/// `none`, period `none`) is freed only by a write or a file edit, or by
/// another job's due time, which is counted.
fn idle_until(
    facts: &PlanInputs,
    loaded: &LoadedAccount,
    options: &PlanOptions,
) -> Option<Option<Timestamp>> {
    if !facts.config_errors.is_empty() {
        return None;
    }
    let mut first: Option<Timestamp> = None;
    for (id, channel) in &loaded.config.channels {
        for plan in plan_channel(&facts.facts(id, channel), &facts.states, options) {
            if plan.action != Action::NotDue {
                return None;
            }
            if let Some(due) = plan.next_due {
                first = Some(first.map_or(due, |f| f.min(due)));
            }
        }
    }
    Some(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::period::Job;
    use crate::store::JobState;
    use std::path::PathBuf;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn account(jobs: &str) -> LoadedAccount {
        let text = format!(
            "[channels.shop]\ntype = \"beta-rest\"\nbase-url = \"https://x.example\"\n\
             [channels.shop.auth]\ntoken-url = \"https://x.example/t\"\ngrant = \"client_credentials\"\n\
             client-id = \"c\"\nclient-secret-file = \"/nonexistent\"\n\
             [channels.shop.jobs]\n{jobs}\n"
        );
        LoadedAccount {
            id: "acme".into(),
            path: PathBuf::from("acme.toml"),
            config: crate::config::AccountConfig::parse(&PathBuf::from("acme.toml"), &text)
                .unwrap(),
            digest: text_digest(text.as_bytes()),
        }
    }

    fn succeeded(at: &str) -> JobState {
        JobState {
            last_success_start: Some(ts(at)),
            last_attempt_start: Some(ts(at)),
            ..JobState::default()
        }
    }

    fn options(now: &str) -> PlanOptions {
        PlanOptions {
            now: ts(now),
            force: false,
            jobs: Vec::new(),
        }
    }

    #[test]
    fn idle_until_the_first_job_is_due_and_never_while_one_is() {
        let loaded = account("auth-refresh = \"1h\"\nexport-products = \"15m\"");
        let mut facts = PlanInputs::default();
        // Never ran: due now, so no stamp.
        assert_eq!(
            idle_until(&facts, &loaded, &options("2026-12-07T10:05:00Z")),
            None
        );
        for job in [Job::AuthRefresh, Job::ExportProducts] {
            facts
                .states
                .insert(("shop".into(), job), succeeded("2026-12-07T10:00:10Z"));
        }
        assert_eq!(
            idle_until(&facts, &loaded, &options("2026-12-07T10:05:00Z")),
            Some(Some(ts("2026-12-07T10:15:00Z")))
        );
        assert_eq!(
            idle_until(&facts, &loaded, &options("2026-12-07T10:15:00Z")),
            None
        );
        // A failed job's backoff is its due time.
        let failed = JobState {
            consecutive_failures: 1,
            last_attempt_start: Some(ts("2026-12-07T10:03:30Z")),
            ..succeeded("2026-12-07T10:00:10Z")
        };
        facts
            .states
            .insert(("shop".into(), Job::ExportProducts), failed);
        assert_eq!(
            idle_until(&facts, &loaded, &options("2026-12-07T10:03:40Z")),
            Some(Some(ts("2026-12-07T10:04:00Z")))
        );
        // Nothing scheduled: idle until something changes.
        let off = account("auth-refresh = \"none\"");
        assert_eq!(
            idle_until(
                &PlanInputs::default(),
                &off,
                &options("2026-12-07T10:05:00Z")
            ),
            Some(None)
        );
    }

    #[test]
    fn a_config_error_is_news_every_time_so_no_stamp() {
        let loaded = account("auth-refresh = \"5m\"");
        let facts = PlanInputs {
            config_errors: crate::validate::validate_account(
                &loaded.id,
                &loaded.config,
                &Capabilities::built_in(),
                &|_| true,
            ),
            ..PlanInputs::default()
        };
        assert!(!facts.config_errors.is_empty());
        assert_eq!(
            idle_until(&facts, &loaded, &options("2026-12-07T10:05:00Z")),
            None
        );
    }

    #[test]
    fn the_inputs_digest_follows_each_input() {
        let base = inputs_digest(1, 2);
        assert_eq!(inputs_digest(1, 2), base);
        assert_ne!(inputs_digest(3, 2), base);
        assert_ne!(inputs_digest(1, 3), base);
    }
}
