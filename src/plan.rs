//! What each job of a channel does now, and why: the one decision that
//! `run-once`, `run-once --dry-run` and `status` all print, so they cannot
//! disagree. Pure: plain values in (the channel's periods, its config errors,
//! its recorded job states, whether its auth is failing, the instant), a plan
//! out. The due rule itself lives in `schedule`; `inputs` gathers the facts
//! from the store and the account file.

pub mod inputs;

use jiff::Timestamp;
use serde::Serialize;

use crate::config::ChannelConfig;
use crate::period::Job;
use crate::schedule::{JobHistory, decide};
use crate::store::{JobStates, Outcome};

/// What was asked of this evaluation.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// The instant "due" is judged at.
    pub now: Timestamp,
    /// `--force`: run the selected jobs whether or not they are due.
    pub force: bool,
    /// Only these jobs (empty: all).
    pub jobs: Vec<Job>,
}

/// What one channel brings to the planner.
#[derive(Clone, Debug)]
pub struct ChannelFacts<'a> {
    pub id: &'a str,
    pub channel: &'a ChannelConfig,
    /// Codes of the validation errors that concern this channel (or the
    /// whole account); any of them keeps the channel from running.
    pub config_errors: Vec<&'a str>,
    /// Why product jobs must wait for auth-refresh, if they must (see
    /// `inputs::auth_failing_reason`).
    pub auth_failing: Option<String>,
    /// The pid of a live `run-once` holding the account, if any: a job it
    /// has running is running, not interrupted.
    pub live_run: Option<u32>,
}

/// What to do with a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Run it now.
    Run,
    /// Nothing to do now (not due, period `none`, or waiting for something
    /// that is not the operator's to fix this minute). Quiet in cron output.
    NotDue,
    /// It should run but cannot (config errors; a forced job that cannot run).
    Skip,
}

/// The plan for one job of one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JobPlan {
    pub job: Job,
    pub action: Action,
    /// Runs only because of `--force`.
    pub forced: bool,
    /// When it is (or was) due; `None` for a job that does not run.
    pub next_due: Option<Timestamp>,
    /// The schedule slot a run now serves (recorded with the run).
    pub slot: Option<Timestamp>,
    pub reason: String,
}

impl JobPlan {
    fn without_run(job: Job, action: Action, reason: String) -> JobPlan {
        JobPlan {
            job,
            action,
            forced: false,
            next_due: None,
            slot: None,
            reason,
        }
    }
}

/// The plan of every selected job of one channel, in run order.
pub fn plan_channel(
    facts: &ChannelFacts<'_>,
    states: &JobStates,
    options: &PlanOptions,
) -> Vec<JobPlan> {
    let selected = |job: &Job| options.jobs.is_empty() || options.jobs.contains(job);
    let history = |job: Job| {
        states
            .get(&(facts.id.to_string(), job))
            .map(JobHistory::from)
            .unwrap_or_default()
    };
    let auth_period = facts.channel.period(Job::AuthRefresh);
    // A product job would refresh the token itself and resend the rejected
    // grant, bypassing auth-refresh's backoff; it waits unless auth runs first.
    let auth_runs = selected(&Job::AuthRefresh)
        && !auth_period.is_off()
        && (options.force || decide(&auth_period, &history(Job::AuthRefresh), options.now).due);
    Job::ALL
        .into_iter()
        .filter(selected)
        .map(|job| {
            let period = facts.channel.period(job);
            if period.is_off() {
                return JobPlan::without_run(job, Action::NotDue, "period is none".into());
            }
            if !facts.config_errors.is_empty() {
                return JobPlan::without_run(
                    job,
                    Action::Skip,
                    format!(
                        "config error: {} (see `oms-channels validate`)",
                        facts.config_errors.join(", ")
                    ),
                );
            }
            // Asked for by name (`--force`), a job that cannot run is
            // reported as skipped; on an ordinary tick it is just quiet.
            let blocked = if options.force {
                Action::Skip
            } else {
                Action::NotDue
            };
            if auth_period.is_off() {
                return JobPlan::without_run(
                    job,
                    blocked,
                    "auth-refresh is none: never runs (no API call is made to this channel)".into(),
                );
            }
            if job.is_product_job()
                && !auth_runs
                && let Some(reason) = &facts.auth_failing
            {
                return JobPlan::without_run(job, blocked, reason.clone());
            }
            if let Some(pid) = facts.live_run
                && states
                    .get(&(facts.id.to_string(), job))
                    .is_some_and(|s| s.last_outcome == Some(Outcome::Running))
            {
                return JobPlan::without_run(
                    job,
                    Action::NotDue,
                    format!("running now (pid {pid})"),
                );
            }
            let decision = decide(&period, &history(job), options.now);
            let (action, forced, reason) = if decision.due {
                (Action::Run, false, decision.reason)
            } else if options.force {
                (Action::Run, true, "forced".to_string())
            } else {
                (Action::NotDue, false, decision.reason)
            };
            JobPlan {
                job,
                action,
                forced,
                next_due: decision.next_due,
                slot: decision.slot,
                reason,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::JobState;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn channel(auth: &str, import: &str, export: &str) -> ChannelConfig {
        with_stock(auth, import, export, "none")
    }

    fn with_stock(auth: &str, import: &str, export: &str, stock: &str) -> ChannelConfig {
        let text = format!(
            "type = \"beta-rest\"\nbase-url = \"https://x.example\"\n\
             [auth]\ntoken-url = \"https://x.example/t\"\ngrant = \"refresh_token\"\n\
             client-id = \"c\"\nclient-secret-env = \"S\"\n\
             [jobs]\nauth-refresh = \"{auth}\"\nimport-products = \"{import}\"\n\
             export-products = \"{export}\"\nexport-stock = \"{stock}\"\n"
        );
        toml::from_str(&text).unwrap()
    }

    fn options(force: bool) -> PlanOptions {
        PlanOptions {
            now: ts("2026-11-27T10:00:10Z"),
            force,
            jobs: Vec::new(),
        }
    }

    fn summary(plans: &[JobPlan]) -> Vec<(Job, Action, bool, &str)> {
        plans
            .iter()
            .map(|p| (p.job, p.action, p.forced, p.reason.as_str()))
            .collect()
    }

    fn succeeded_at(at: &str) -> JobState {
        JobState {
            last_success_start: Some(ts(at)),
            last_attempt_start: Some(ts(at)),
            ..JobState::default()
        }
    }

    #[test]
    fn config_errors_come_before_auth_none() {
        // The case: an export-only type with an import period and
        // auth-refresh none. Both status and run-once say "config error".
        let ch = channel("none", "1h", "none");
        let facts = ChannelFacts {
            id: "shop",
            channel: &ch,
            config_errors: vec!["unsupported-job"],
            auth_failing: None,
            live_run: None,
        };
        let plans = plan_channel(&facts, &JobStates::new(), &options(false));
        assert_eq!(
            summary(&plans),
            vec![
                (Job::AuthRefresh, Action::NotDue, false, "period is none"),
                (
                    Job::ImportProducts,
                    Action::Skip,
                    false,
                    "config error: unsupported-job (see `oms-channels validate`)"
                ),
                (Job::ExportProducts, Action::NotDue, false, "period is none"),
                (Job::ExportStock, Action::NotDue, false, "period is none"),
            ]
        );
    }

    #[test]
    fn auth_none_is_quiet_unless_forced() {
        let ch = with_stock("none", "1h", "1h", "5m");
        let facts = ChannelFacts {
            id: "shop",
            channel: &ch,
            config_errors: vec![],
            auth_failing: None,
            live_run: None,
        };
        for (force, action) in [(false, Action::NotDue), (true, Action::Skip)] {
            let plans = plan_channel(&facts, &JobStates::new(), &options(force));
            assert_eq!(plans[0].action, Action::NotDue);
            for plan in &plans[1..] {
                assert_eq!(plan.action, action, "force {force}: {plan:?}");
                assert!(plan.reason.starts_with("auth-refresh is none"));
            }
        }
    }

    #[test]
    fn product_jobs_wait_for_a_failing_auth_unless_auth_runs_first() {
        let ch = with_stock("1h", "1h", "1h", "5m");
        let facts = ChannelFacts {
            id: "shop",
            channel: &ch,
            config_errors: vec![],
            auth_failing: Some("auth-refresh failed".into()),
            live_run: None,
        };
        let mut states = JobStates::new();
        // Auth failed 30 s ago: in backoff, not due.
        states.insert(
            ("shop".into(), Job::AuthRefresh),
            JobState {
                last_attempt_start: Some(ts("2026-11-27T09:59:40Z")),
                consecutive_failures: 2,
                ..JobState::default()
            },
        );
        let plans = plan_channel(&facts, &states, &options(false));
        assert_eq!(
            summary(&plans)
                .iter()
                .map(|(j, a, _, _)| (*j, *a))
                .collect::<Vec<_>>(),
            vec![
                (Job::AuthRefresh, Action::NotDue),
                (Job::ImportProducts, Action::NotDue),
                (Job::ExportProducts, Action::NotDue),
                (Job::ExportStock, Action::NotDue),
            ]
        );
        assert_eq!(plans[1].reason, "auth-refresh failed");
        // Forced, auth runs first, so the product jobs may follow it.
        let plans = plan_channel(&facts, &states, &options(true));
        assert!(plans.iter().all(|p| p.action == Action::Run), "{plans:?}");
    }

    #[test]
    fn due_jobs_run_on_their_slot_and_force_runs_the_rest() {
        let ch = channel("1h", "15m", "1h");
        let facts = ChannelFacts {
            id: "shop",
            channel: &ch,
            config_errors: vec![],
            auth_failing: None,
            live_run: None,
        };
        let mut states = JobStates::new();
        states.insert(
            ("shop".into(), Job::AuthRefresh),
            succeeded_at("2026-11-27T09:30:04Z"),
        );
        states.insert(
            ("shop".into(), Job::ImportProducts),
            succeeded_at("2026-11-27T09:45:19Z"),
        );
        let plans = plan_channel(&facts, &states, &options(false));
        assert_eq!(plans[0].action, Action::NotDue);
        assert_eq!(plans[0].next_due, Some(ts("2026-11-27T10:30:00Z")));
        assert_eq!(plans[1].action, Action::Run);
        assert_eq!(plans[1].slot, Some(ts("2026-11-27T10:00:00Z")));
        assert_eq!(
            (plans[2].action, plans[2].reason.as_str()),
            (Action::Run, "never ran")
        );

        let mut only_auth = options(true);
        only_auth.jobs = vec![Job::AuthRefresh];
        let plans = plan_channel(&facts, &states, &only_auth);
        assert_eq!(
            summary(&plans),
            vec![(Job::AuthRefresh, Action::Run, true, "forced")]
        );
        // A forced run keeps the grid: it serves the last slot again.
        assert_eq!(plans[0].slot, Some(ts("2026-11-27T09:30:00Z")));
    }

    #[test]
    fn a_job_of_a_live_run_is_running_not_interrupted() {
        let ch = channel("1h", "1h", "none");
        let mut states = JobStates::new();
        states.insert(
            ("shop".into(), Job::ImportProducts),
            JobState {
                last_attempt_start: Some(ts("2026-11-27T10:00:02Z")),
                last_outcome: Some(Outcome::Running),
                ..JobState::default()
            },
        );
        let mut facts = ChannelFacts {
            id: "shop",
            channel: &ch,
            config_errors: vec![],
            auth_failing: None,
            live_run: Some(4242),
        };
        let plans = plan_channel(&facts, &states, &options(false));
        assert_eq!(
            (plans[1].action, plans[1].reason.as_str()),
            (Action::NotDue, "running now (pid 4242)")
        );
        // Its process gone, the same state is an interrupted run: due now.
        facts.live_run = None;
        let plans = plan_channel(&facts, &states, &options(false));
        assert_eq!(plans[1].action, Action::Run, "{plans:?}");
        assert!(plans[1].reason.contains("interrupted"), "{plans:?}");
    }
}
