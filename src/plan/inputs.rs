//! The planner's inputs for one account, gathered in one place for
//! `run-once`, `run-once --dry-run` and `status`, so the three plan from the
//! same facts: the recorded job states, which channels' product jobs wait for
//! a failing auth-refresh, the live run holding the account, and the
//! validation errors that keep channels from running.
//!
//! It only reads. A channel whose stored state belongs to another endpoint
//! (re-pointed, or removed and re-added by hand) is planned as the next run
//! will see it, fresh; the store is left as it is (only `run-once` forgets
//! that state, under the account's lock).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

use super::ChannelFacts;
use crate::capabilities::Capabilities;
use crate::config::{ChannelConfig, LoadedAccount};
use crate::period::Job;
use crate::schedule::{JobHistory, decide};
use crate::store::{JobState, JobStates, Store, StoreSpec, Tokens, Tx, endpoints_of, lock};
use crate::validate::{Finding, Severity, secret_present_here, validate_account};

/// Whether another `run-once` may be running the account.
#[derive(Clone, Copy, Debug)]
pub enum LiveRun<'a> {
    /// This process holds the account's run lock: no other run is live.
    HeldHere,
    /// Ask the lock who holds it (`status`, a dry run).
    Ask(&'a StoreSpec),
}

/// What the planner needs to know about an account beyond its file.
#[derive(Debug, Default)]
pub struct PlanInputs {
    /// The recorded job states of the channels whose state is theirs.
    pub states: JobStates,
    /// Channel → why its product jobs wait for a failing auth-refresh.
    pub auth_failing: BTreeMap<String, String>,
    /// The pid of a live `run-once` holding the account.
    pub live_run: Option<u32>,
    /// The account's validation errors: any of them keeps the channel it
    /// names (or, naming none, every channel) from running.
    pub config_errors: Vec<Finding>,
    /// Channels whose stored state belongs to another endpoint or to a
    /// channel no longer in the file: the next run forgets it.
    pub stale: BTreeSet<String>,
}

impl PlanInputs {
    /// Reads the inputs from `store` (none yet: nothing recorded) and the
    /// account file.
    pub fn gather(
        store: Option<&Store>,
        live: LiveRun<'_>,
        loaded: &LoadedAccount,
        capabilities: &Capabilities,
    ) -> Result<PlanInputs> {
        match store {
            Some(store) => Ok(store.read(|tx| Self::gather_in(tx, live, loaded, capabilities))?),
            None => Ok(PlanInputs {
                config_errors: config_errors(loaded, capabilities),
                ..PlanInputs::default()
            }),
        }
    }

    /// [`PlanInputs::gather`] inside a transaction the caller holds (one
    /// snapshot; under the write lock, the truth no writer can change
    /// before it ends).
    pub fn gather_in(
        tx: &Tx,
        live: LiveRun<'_>,
        loaded: &LoadedAccount,
        capabilities: &Capabilities,
    ) -> crate::store::Result<PlanInputs> {
        let configured = endpoints_of(&loaded.config);
        let stale: BTreeSet<String> = tx
            .stale_channels(&configured)?
            .into_iter()
            .map(|(_, channel)| channel)
            .collect();
        let mut states = tx.job_states()?;
        states.retain(|(channel, _), _| !stale.contains(channel));
        let auth_failing = auth_failing_reasons(tx, &loaded.config.channels, &states)?;
        let live_run = match live {
            LiveRun::HeldHere => None,
            LiveRun::Ask(spec) => lock::account_run_holder(spec, &loaded.id),
        };
        Ok(PlanInputs {
            states,
            auth_failing,
            live_run,
            config_errors: config_errors(loaded, capabilities),
            stale,
        })
    }

    /// What channel `id` brings to the planner.
    pub fn facts<'a>(&'a self, id: &'a str, channel: &'a ChannelConfig) -> ChannelFacts<'a> {
        ChannelFacts {
            id,
            channel,
            config_errors: channel_errors(&self.config_errors, id),
            auth_failing: self.auth_failing.get(id).cloned(),
            live_run: self.live_run,
        }
    }

    /// The recorded state of a job (empty when none is recorded, or when it
    /// belongs to another endpoint).
    pub fn state(&self, channel: &str, job: Job) -> JobState {
        self.states
            .get(&(channel.to_string(), job))
            .cloned()
            .unwrap_or_default()
    }
}

/// The account's validation errors, as this machine sees it.
fn config_errors(loaded: &LoadedAccount, capabilities: &Capabilities) -> Vec<Finding> {
    validate_account(
        &loaded.id,
        &loaded.config,
        capabilities,
        &secret_present_here,
    )
    .into_iter()
    .filter(|f| f.severity == Severity::Error)
    .collect()
}

/// The codes of the error findings that keep channel `id` from running
/// (its own, and the account-wide ones).
fn channel_errors<'a>(findings: &'a [Finding], id: &str) -> Vec<&'a str> {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .filter(|f| f.channel.as_deref() == Some(id) || f.channel.is_none())
        .map(|f| f.code)
        .collect()
}

/// For each channel whose product jobs must wait for a failing auth-refresh,
/// why. Only a failing auth-refresh can hold product jobs back; reading
/// tokens for every healthy channel would slow the idle cron call.
fn auth_failing_reasons(
    tx: &Tx,
    channels: &BTreeMap<String, ChannelConfig>,
    states: &JobStates,
) -> crate::store::Result<BTreeMap<String, String>> {
    let mut reasons = BTreeMap::new();
    for (id, channel) in channels {
        let Some(auth) = states
            .get(&(id.clone(), Job::AuthRefresh))
            .filter(|auth| auth.consecutive_failures > 0)
        else {
            continue;
        };
        let tokens = tx.tokens(id)?;
        if let Some(reason) = auth_failing_reason(auth, tokens.as_ref(), channel) {
            reasons.insert(id.clone(), reason);
        }
    }
    Ok(reasons)
}

/// Why product jobs must wait: the last auth-refresh failed and no token was
/// stored since (a `channel login` or a successful refresh clears this).
pub fn auth_failing_reason(
    auth: &JobState,
    tokens: Option<&Tokens>,
    channel: &ChannelConfig,
) -> Option<String> {
    let attempt = auth.last_attempt_start?;
    if auth.consecutive_failures == 0 || tokens.is_some_and(|t| t.updated_at > attempt) {
        return None;
    }
    let retry = decide(
        &channel.period(Job::AuthRefresh),
        &JobHistory::from(auth),
        attempt,
    )
    .next_due
    .map_or_else(String::new, |at| format!("; it is retried at {at}"));
    Some(format!(
        "auth-refresh failed at {attempt} and no token was stored since: product jobs wait for it{retry}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::Finding;

    fn finding(severity: Severity, code: &'static str, channel: Option<&str>) -> Finding {
        Finding {
            severity,
            code,
            account: "acme".into(),
            channel: channel.map(Into::into),
            job: None,
            message: String::new(),
        }
    }

    #[test]
    fn a_channel_is_held_back_by_its_own_and_account_wide_errors_only() {
        let findings = [
            finding(Severity::Error, "insecure-url", Some("a")),
            finding(Severity::Warning, "auth-disabled", Some("a")),
            finding(Severity::Error, "unknown-master-source", None),
            finding(Severity::Error, "period-not-offered", Some("b")),
        ];
        assert_eq!(
            channel_errors(&findings, "a"),
            ["insecure-url", "unknown-master-source"]
        );
        assert_eq!(channel_errors(&findings, "c"), ["unknown-master-source"]);
    }
}
