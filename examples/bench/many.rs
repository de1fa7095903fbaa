//! Figures of many accounts on one shared PostgreSQL store (a throwaway
//! cluster, the same harness as the tests'):
//!
//! - runners scaling: accounts whose jobs are all due, against sandbox
//!   channels that take 50 ms per request, done by one `run-once
//!   --all-accounts` vs several started at once, each its own process with
//!   its own data dir, as separate hosts would be; the two in turn, a few
//!   times (the jobs made due again in between), medians compared. The
//!   sandbox's request counters, every runner's report and every account's
//!   `status` must show each due job run exactly once, successfully;
//! - idle `run-once --all-accounts` per account, PostgreSQL vs SQLite.
//!
//! Next to the figures, notes say where the time goes: the CPU time of the
//! runners (the kernel's accounting), of the PostgreSQL server and of the
//! sandbox (`/proc`), and the sessions and transactions the server counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use serde_json::Value;

use super::{
    Bins, Env, Running, SECRET_ENV, Sandbox, Sizes, Table, duration, median, runtime, thousands,
};
use crate::measure::Exit;
use test_support::pg::PgCluster;

/// Per-request latency of the channels of the scaling figure.
const LATENCY_MS: u64 = 50;
/// The jobs every channel of the scaling figure has due (each is one
/// protocol request: a token request, one page of products).
const DUE: [(&str, &str); 2] = [("auth-refresh", "1h"), ("import-products", "1h")];
/// Products the sandbox serves: fewer than a page, so one import is one
/// `GET /products`.
const PRODUCTS: &str = "10";
/// More rounds than this and the runners are not finishing the due work.
const MAX_ROUNDS: usize = 5;

pub fn figures(bins: &Bins, sizes: &Sizes, table: &mut Table) -> Result<()> {
    // Panics, naming what to install, when PostgreSQL 15 is missing.
    let cluster = PgCluster::start();
    let postgres = Postmaster::find(cluster.port())?;
    table.note(
        "PostgreSQL: a throwaway cluster on this machine with fsync=off and synchronous_commit=off, \
         so no commit waits for the disk (SQLite files fsync every commit)"
            .into(),
    );
    runners(bins, sizes, &cluster, &postgres, table)?;
    idle_per_account(bins, sizes, &cluster, &postgres, table)?;
    Ok(())
}

// ---- runners scaling ----

fn runners(
    bins: &Bins,
    sizes: &Sizes,
    cluster: &PgCluster,
    postgres: &Postmaster,
    table: &mut Table,
) -> Result<()> {
    let sandbox = Sandbox::start(
        &bins.sandbox,
        &[
            "--products",
            PRODUCTS,
            "--latency-ms",
            &LATENCY_MS.to_string(),
            "--client-credentials",
        ],
    )?;
    let n = sizes.runner_accounts;
    let db = cluster.fresh_database("bench_runners");
    let env = Env::new(&sandbox)?.with_store(&cluster.url(&db));
    let setup = Instant::now();
    // Account name -> due jobs.
    let mut due: BTreeMap<String, usize> = BTreeMap::new();
    for i in 1..=n {
        let name = format!("a{i:03}");
        let channels = 1 + i % 2;
        add_account(&env, &name, channels, &DUE)?;
        due.insert(name, channels * DUE.len());
    }
    let setup = setup.elapsed();
    // The accounts' schemas are made by their first run. That happens once
    // in an account's life, so it is timed apart: a run of a job whose
    // period is none opens (creates) every store and runs nothing.
    let first = env.run(&[
        "run-once",
        "--all-accounts",
        "--json",
        "--job",
        "export-products",
    ])?;
    ensure!(
        first.json()?["errors"]
            .as_array()
            .is_some_and(Vec::is_empty)
            && first.rows()?.iter().all(|r| r["outcome"] == "not-due"),
        "the first run (export-products only, period none) ran something or failed: {}",
        first.stdout
    );
    eprintln!(
        "bench:   {n} accounts set up in {}, their stores created in {}",
        duration(setup),
        duration(first.wall)
    );

    // 1 runner and N runners in turn, so a change in the machine's load
    // (it is shared) weighs on both alike; the medians count.
    let (mut ones, mut manys) = (Vec::new(), Vec::new());
    for repeat in 0..sizes.runner_repeats {
        for (runners, cases) in [(1, &mut ones), (sizes.runners, &mut manys)] {
            if repeat > 0 || runners > 1 {
                make_due_again(cluster, &db);
            }
            cases.push(scale(
                &env, &sandbox, cluster, postgres, &db, &due, runners,
            )?);
        }
    }
    let median_case = |mut cases: Vec<Scaling>| {
        cases.sort_by_key(|c| c.wall);
        let walls: Vec<String> = cases.iter().map(|c| duration(c.wall)).collect();
        (cases.swap_remove(cases.len() / 2), walls.join(", "))
    };
    let (one, one_walls) = median_case(ones);
    let (many, many_walls) = median_case(manys);

    let per_minute = |s: &Scaling| n as f64 / s.wall.as_secs_f64() * 60.0;
    let what = format!(
        "{n} accounts (1-2 channels at {LATENCY_MS} ms/request, all due), PostgreSQL store"
    );
    let of = |what: &str| {
        if sizes.runner_repeats > 1 {
            format!("{what} (median of {})", sizes.runner_repeats)
        } else {
            what.to_string()
        }
    };
    table.info_text(
        of(&format!("{what}: 1 runner")),
        format!(
            "{} ({:.0} accounts/min)",
            duration(one.wall),
            per_minute(&one)
        ),
    );
    table.speedup(
        of(&format!("{what}: {} runners at once", sizes.runners)),
        (many.wall, format!("{:.0} accounts/min", per_minute(&many))),
        (one.wall, "1 runner".into()),
        3.5,
    );
    table.note(format!(
        "runners: every wall time: 1 runner {one_walls}; {} runners {many_walls}. \
         The first run on new accounts (store creation, no job) took {} per account",
        sizes.runners,
        duration(first.wall / n as u32)
    ));
    for s in [&one, &many] {
        table.note(s.describe(n));
    }
    Ok(())
}

/// Makes every job of every account due again, as `channel reset` would
/// (which also forgets tokens and listings), in one statement rather than
/// a CLI call per channel: the job state of each account's schema goes.
/// (Panics with psql's message when the registry or a table is missing.)
fn make_due_again(cluster: &PgCluster, db: &str) {
    cluster.psql(
        db,
        "DO $$ DECLARE s text; BEGIN \
           FOR s IN SELECT schema_name FROM oms_channels.accounts LOOP \
             EXECUTE format('DELETE FROM %I.job_state', s); \
           END LOOP; \
         END $$",
    );
}

/// One scaling run: what it took, and what each part of it cost.
struct Scaling {
    runners: usize,
    due: usize,
    wall: Duration,
    rounds: usize,
    /// Per runner: accounts where it ran jobs, accounts it skipped as busy.
    ran_accounts: Vec<usize>,
    busy: Vec<usize>,
    /// Per runner, summed over rounds: from the start of a round to its exit.
    walls: Vec<Duration>,
    /// Sum over accounts of the account's longest channel (its jobs' own
    /// durations, in order): the part of the wall time the channels set.
    job_path: Duration,
    runner_cpu: Duration,
    postgres_cpu: Duration,
    sandbox_cpu: Duration,
    stats: DbStats,
    machine: MachineCpu,
}

impl Scaling {
    fn describe(&self, accounts: usize) -> String {
        let per_account = |d: Duration| duration(d / accounts.max(1) as u32);
        let ours = self.runner_cpu + self.postgres_cpu + self.sandbox_cpu;
        let capacity = self.wall.as_secs_f64() * self.machine.cpus as f64;
        format!(
            "{runners} runner(s), {accounts} accounts, {due} due jobs, {rounds} round(s) in {wall}: \
             accounts run per runner {ran:?}, busy skips {busy:?}, exits after {walls}. \
             Per account: wall × runners {wall_per}, the channels' own job time {path_per}; \
             CPU: runners {runner_per}, PostgreSQL {pg_per}, sandbox {sandbox_per}; \
             {tx:.1} transactions, {sessions:.2} sessions. \
             Our processes used {ours:.0}% of {cpus} CPUs over the wall time, the machine {busy_all:.0}% (other users included)",
            runners = self.runners,
            due = self.due,
            rounds = self.rounds,
            wall = duration(self.wall),
            ran = self.ran_accounts,
            busy = self.busy,
            walls = self
                .walls
                .iter()
                .map(|w| duration(*w))
                .collect::<Vec<_>>()
                .join(", "),
            wall_per = per_account(self.wall * self.runners as u32),
            path_per = per_account(self.job_path),
            runner_per = per_account(self.runner_cpu),
            pg_per = per_account(self.postgres_cpu),
            sandbox_per = per_account(self.sandbox_cpu),
            tx = self.stats.transactions as f64 / accounts.max(1) as f64,
            sessions = self.stats.sessions as f64 / accounts.max(1) as f64,
            ours = 100.0 * ours.as_secs_f64() / capacity,
            cpus = self.machine.cpus,
            busy_all = 100.0 * self.machine.busy,
        )
    }
}

/// Runs `runners` runners at once on `env`'s accounts and store, round
/// after round, until every due job ran; then checks that each ran once
/// and every account ended with success.
fn scale(
    env: &Env,
    sandbox: &Sandbox,
    cluster: &PgCluster,
    postgres: &Postmaster,
    db: &str,
    due: &BTreeMap<String, usize>,
    runners: usize,
) -> Result<Scaling> {
    let due_jobs: usize = due.values().sum();
    let before = sandbox_counts(sandbox)?;
    let (postgres_before, sandbox_before) = (postgres.cpu()?, process_cpu(sandbox_pid(sandbox))?);
    let stats_before = db_stats(cluster, db)?;
    let machine_before = MachineCpu::sample()?;
    let mut wall = Duration::ZERO;
    let mut runner_cpu = Duration::ZERO;
    let mut job_path = Duration::ZERO;
    let mut ran_accounts = vec![0; runners];
    let mut busy = vec![0; runners];
    let mut walls = vec![Duration::ZERO; runners];
    // Account -> (jobs run, runners that ran any).
    let mut ran: BTreeMap<String, (usize, BTreeSet<usize>)> = BTreeMap::new();
    let mut rounds = 0;
    while ran.values().map(|(jobs, _)| jobs).sum::<usize>() < due_jobs {
        ensure!(
            rounds < MAX_ROUNDS,
            "{runners} runner(s) left due jobs after {MAX_ROUNDS} rounds: ran {ran:?}"
        );
        rounds += 1;
        let round = run_round(env, runners, rounds)?;
        wall += round.wall;
        for (i, runner) in round.runners.iter().enumerate() {
            runner_cpu += runner.exit.cpu;
            walls[i] += runner.wall;
            let report = &runner.report;
            for account in report["accounts"].as_array().context("no accounts")? {
                let name = account["account"]
                    .as_str()
                    .context("an account without a name")?;
                let mut jobs = 0;
                // Channel -> its jobs' durations (they run in order).
                let mut channel_ms: BTreeMap<&str, u64> = BTreeMap::new();
                for row in account["rows"].as_array().context("no rows")? {
                    match row["outcome"].as_str() {
                        Some("ran") => jobs += 1,
                        Some("not-due") => {}
                        _ => bail!("runner {i}: a job of `{name}` did not succeed: {row}"),
                    }
                    let channel = row["channel"].as_str().unwrap_or_default();
                    *channel_ms.entry(channel).or_default() +=
                        row["duration_ms"].as_u64().unwrap_or(0);
                }
                job_path += Duration::from_millis(channel_ms.values().copied().max().unwrap_or(0));
                if jobs > 0 {
                    let entry = ran.entry(name.to_string()).or_default();
                    entry.0 += jobs;
                    entry.1.insert(i);
                    ran_accounts[i] += 1;
                }
            }
            for error in report["errors"].as_array().context("no errors")? {
                ensure!(
                    error["busy"] == true,
                    "runner {i} failed on an account: {error}"
                );
                busy[i] += 1;
            }
        }
    }
    let machine = MachineCpu::sample()?.since(&machine_before);
    let postgres_cpu = postgres.cpu()?.saturating_sub(postgres_before);
    let sandbox_cpu = process_cpu(sandbox_pid(sandbox))?.saturating_sub(sandbox_before);
    // The server counts a session's work when the session ends.
    std::thread::sleep(Duration::from_millis(500));
    let stats = db_stats(cluster, db)?.since(&stats_before);
    eprintln!(
        "bench:   {runners} runner(s): {due_jobs} due jobs done in {} ({rounds} round(s))",
        duration(wall)
    );

    // No job twice: per account, the runners' reports and the sandbox agree.
    for (name, jobs) in due {
        let (ran_jobs, by) = ran.get(name).cloned().unwrap_or_default();
        ensure!(
            ran_jobs == *jobs && by.len() == 1,
            "account `{name}`: {jobs} due jobs, the runners' reports show {ran_jobs} runs by runner(s) {by:?}"
        );
    }
    let after = sandbox_counts(sandbox)?;
    let tokens = after.0 - before.0;
    let pages = after.1 - before.1;
    ensure!(
        tokens + pages == due_jobs as u64 && tokens == pages,
        "the sandbox counted {tokens} token and {pages} product requests for {due_jobs} due jobs \
         (each auth-refresh is one token request, each import one page)"
    );
    // Every account ended with success, as `status` tells a person.
    for name in due.keys() {
        let status = env.run(&["--json", "--account", name, "status"])?.json()?;
        for job in status["jobs"].as_array().context("status without jobs")? {
            if job["period"] == "none" {
                continue;
            }
            ensure!(
                job["last_outcome"] == "success" && job["due"] == false,
                "account `{name}` did not end with success: {job}"
            );
        }
    }
    Ok(Scaling {
        runners,
        due: due_jobs,
        wall,
        rounds,
        ran_accounts,
        busy,
        walls,
        job_path,
        runner_cpu,
        postgres_cpu,
        sandbox_cpu,
        stats,
        machine,
    })
}

/// Account `name` with channels `c1`..`c<channels>` against the sandbox,
/// through the CLI (as [`Env::account`], without making it the current one).
fn add_account(env: &Env, name: &str, channels: usize, periods: &[(&str, &str)]) -> Result<()> {
    env.run(&["account", "add", name])?;
    for c in 1..=channels {
        let channel = format!("c{c}");
        env.run(&[
            "--account",
            name,
            "channel",
            "add",
            &channel,
            "--type",
            "beta-rest",
            "--base-url",
            &env.base_url,
            "--token-url",
            &env.token_url,
            "--grant",
            "client_credentials",
            "--client-id",
            &env.client_id,
            "--client-secret-env",
            SECRET_ENV,
        ])?;
        for (job, period) in periods {
            env.run(&[
                "--account",
                name,
                "channel",
                "set-period",
                &channel,
                job,
                period,
            ])?;
        }
    }
    Ok(())
}

struct Round {
    wall: Duration,
    runners: Vec<Runner>,
}

struct Runner {
    exit: Exit,
    /// From the start of the round to this runner's exit.
    wall: Duration,
    report: Value,
}

/// Starts `runners` × `run-once --all-accounts --json` at once, each with a
/// data dir of its own, and waits for all; the wall time ends at the last exit.
fn run_round(env: &Env, runners: usize, round: usize) -> Result<Round> {
    let args = ["run-once", "--all-accounts", "--json"];
    let mut children: Vec<(Running, PathBuf, PathBuf)> = Vec::new();
    let start = Instant::now();
    for i in 0..runners {
        // The first runner shares the scenario's data dir (with SQLite
        // files, its stores), the others have their own as other hosts would.
        let data = (i > 0).then(|| env.test.root().join(format!("data-runner-{i}")));
        let out = env.test.root().join(format!("runner-{round}-{i}.json"));
        let err = env.test.root().join(format!("runner-{round}-{i}.err"));
        let running = env.start(&args, data.as_deref(), &out, &err)?;
        children.push((running, out, err));
    }
    let exits = std::thread::scope(|scope| {
        let waits: Vec<_> = children
            .into_iter()
            .map(|(running, out, err)| {
                scope.spawn(move || running.wait().map(|e| (e, start.elapsed(), out, err)))
            })
            .collect();
        waits
            .into_iter()
            .map(|w| w.join().expect("a wait thread panicked"))
            .collect::<Result<Vec<_>>>()
    })?;
    let wall = start.elapsed();
    let mut done = Vec::new();
    for (i, (exit, wall, out, err)) in exits.into_iter().enumerate() {
        let stdout = std::fs::read_to_string(&out)?;
        if exit.code != Some(0) {
            bail!(
                "runner {i} (`oms-channels {}`) exited with {:?}\nstdout: {stdout}\nstderr: {}",
                args.join(" "),
                exit.code,
                std::fs::read_to_string(&err)?
            );
        }
        let report = serde_json::from_str(&stdout)
            .with_context(|| format!("runner {i} printed no JSON: {stdout}"))?;
        done.push(Runner { exit, wall, report });
    }
    Ok(Round {
        wall,
        runners: done,
    })
}

// ---- idle run-once per account ----

fn idle_per_account(
    bins: &Bins,
    sizes: &Sizes,
    cluster: &PgCluster,
    postgres: &Postmaster,
    table: &mut Table,
) -> Result<()> {
    let sandbox = Sandbox::start(
        &bins.sandbox,
        &["--products", PRODUCTS, "--client-credentials"],
    )?;
    let db = cluster.fresh_database("bench_idle");
    let sqlite = Env::new(&sandbox)?;
    let pg = Env::new(&sandbox)?.with_store(&cluster.url(&db));
    let n = sizes.idle_accounts;
    let periods = [
        ("auth-refresh", "1h"),
        ("import-products", "24h"),
        ("export-products", "24h"),
    ];
    for env in [&sqlite, &pg] {
        for i in 1..=n {
            add_account(env, &format!("a{i:03}"), 1, &periods)?;
        }
        // A first run makes every job succeed, so nothing is due afterwards.
        let first = env.run(&["run-once", "--all-accounts", "--json"])?;
        first.expect_rows(periods.len() * n, "ran")?;
        let idle = env.run(&["run-once", "--all-accounts", "--json"])?;
        idle.expect_rows(periods.len() * n, "not-due")?;
    }

    let stats_before = db_stats(cluster, &db)?;
    let postgres_before = postgres.cpu()?;
    let (mut sqlite_wall, mut sqlite_cpu) = (Vec::new(), Vec::new());
    let (mut pg_wall, mut pg_cpu) = (Vec::new(), Vec::new());
    for _ in 0..sizes.idle_account_runs {
        for (env, wall, cpu) in [
            (&sqlite, &mut sqlite_wall, &mut sqlite_cpu),
            (&pg, &mut pg_wall, &mut pg_cpu),
        ] {
            let run = env.run(&["run-once", "--all-accounts"])?;
            ensure!(
                run.stdout.is_empty(),
                "an idle run-once --all-accounts printed:\n{}",
                run.stdout
            );
            wall.push(run.wall);
            cpu.push(run.cpu);
        }
    }
    let postgres_cpu = postgres.cpu()?.saturating_sub(postgres_before);
    // The server counts a session's work when the session ends.
    std::thread::sleep(Duration::from_millis(500));
    let stats = db_stats(cluster, &db)?.since(&stats_before);

    let per = |d: Duration| d / n as u32;
    let (sqlite_wall, pg_wall) = (median(sqlite_wall), median(pg_wall));
    let (sqlite_cpu, pg_cpu) = (median(sqlite_cpu), median(pg_cpu));
    let what = |store: &str| {
        format!(
            "run-once --all-accounts, nothing due, {n} accounts × 1 channel, {store} (median of {})",
            sizes.idle_account_runs
        )
    };
    table.info_text(
        what("SQLite"),
        format!(
            "{}/account ({} in all)",
            duration(per(sqlite_wall)),
            duration(sqlite_wall)
        ),
    );
    table.push([
        what("PostgreSQL"),
        format!(
            "{}/account ({} in all)",
            duration(per(pg_wall)),
            duration(pg_wall)
        ),
        format!("{}/account (SQLite)", duration(per(sqlite_wall))),
        format!("{:.2}×", pg_wall.as_secs_f64() / sqlite_wall.as_secs_f64()),
        "-".into(),
        "-".into(),
    ]);
    let runs = (sizes.idle_account_runs * n) as f64;
    table.note(format!(
        "idle run-once per account: CPU of the tool {} on SQLite, {} on PostgreSQL (median run / {n}); \
         PostgreSQL server CPU {} per account; the server counted {:.2} sessions and {:.1} transactions \
         per account per run ({} sessions, {} transactions in {} runs)",
        duration(per(sqlite_cpu)),
        duration(per(pg_cpu)),
        duration(postgres_cpu.div_f64(runs)),
        stats.sessions as f64 / runs,
        stats.transactions as f64 / runs,
        thousands(stats.sessions),
        thousands(stats.transactions),
        sizes.idle_account_runs,
    ));
    Ok(())
}

/// Sessions and transactions the server counted in one database.
struct DbStats {
    sessions: u64,
    transactions: u64,
}

impl DbStats {
    fn since(&self, before: &DbStats) -> DbStats {
        DbStats {
            sessions: self.sessions.saturating_sub(before.sessions),
            transactions: self.transactions.saturating_sub(before.transactions),
        }
    }
}

/// Read from the `postgres` database, so the reading is not counted in `db`.
fn db_stats(cluster: &PgCluster, db: &str) -> Result<DbStats> {
    let line = cluster.psql(
        "postgres",
        &format!(
            "SELECT pg_stat_clear_snapshot(); SELECT sessions, xact_commit + xact_rollback \
             FROM pg_stat_database WHERE datname = '{db}'"
        ),
    );
    let last = line.lines().last().unwrap_or_default();
    let (sessions, transactions) = last
        .split_once('|')
        .with_context(|| format!("pg_stat_database for `{db}`: {line:?}"))?;
    Ok(DbStats {
        sessions: sessions.trim().parse()?,
        transactions: transactions.trim().parse()?,
    })
}

// ---- where the time goes ----

/// The sandbox's request counters: (token requests, product pages).
fn sandbox_counts(sandbox: &Sandbox) -> Result<(u64, u64)> {
    let url = format!("{}/_sandbox/state", sandbox.field("base_url")?);
    let state: Value = runtime()?.block_on(async {
        reqwest::get(&url)
            .await?
            .error_for_status()?
            .json::<Value>()
            .await
    })?;
    let count = |name: &str| {
        state["requests"][name]
            .as_u64()
            .with_context(|| format!("the sandbox state has no `requests.{name}`: {state}"))
    };
    Ok((count("token")?, count("products")?))
}

fn sandbox_pid(sandbox: &Sandbox) -> u32 {
    sandbox.child.id()
}

/// The PostgreSQL server of one cluster: its postmaster, found by port.
struct Postmaster {
    pid: u32,
}

impl Postmaster {
    /// The `postgres` process whose command line has `-p <port>`.
    fn find(port: u16) -> Result<Postmaster> {
        let port = port.to_string();
        for entry in std::fs::read_dir("/proc")? {
            let Ok(pid) = entry?.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            let is_postgres = args.first().is_some_and(|a| a.ends_with(b"/postgres"));
            if is_postgres
                && args
                    .windows(2)
                    .any(|w| w[0] == b"-p" && w[1] == port.as_bytes())
            {
                return Ok(Postmaster { pid });
            }
        }
        bail!("no postgres process listens on port {port}")
    }

    /// CPU time of the server: the postmaster with its reaped children (the
    /// sessions that ended) plus the children alive now.
    fn cpu(&self) -> Result<Duration> {
        let mut total = stat_cpu(self.pid, true)?;
        for entry in std::fs::read_dir("/proc")? {
            let Ok(pid) = entry?.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if pid != self.pid && parent(pid) == Some(self.pid) {
                total += stat_cpu(pid, false).unwrap_or_default();
            }
        }
        Ok(total)
    }
}

/// CPU time of one process (`utime + stime`).
fn process_cpu(pid: u32) -> Result<Duration> {
    stat_cpu(pid, false)
}

/// The fields of `/proc/<pid>/stat` after the command name.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

fn parent(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

fn stat_cpu(pid: u32, with_children: bool) -> Result<Duration> {
    let fields = stat_fields(pid).with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // Fields 14-17 of stat(5), counted from the state field (3).
    let ticks = |i: usize| -> u64 { fields.get(i - 3).and_then(|f| f.parse().ok()).unwrap_or(0) };
    let mut sum = ticks(14) + ticks(15);
    if with_children {
        sum += ticks(16) + ticks(17);
    }
    Ok(Duration::from_secs_f64(sum as f64 / clock_ticks()))
}

fn clock_ticks() -> f64 {
    rustix::param::clock_ticks_per_second() as f64
}

/// The machine's CPU use from `/proc/stat`, every process included.
struct MachineCpu {
    cpus: usize,
    busy_ticks: u64,
    total_ticks: u64,
    /// Busy fraction, for a difference of two samples.
    busy: f64,
}

impl MachineCpu {
    fn sample() -> Result<MachineCpu> {
        let stat = std::fs::read_to_string("/proc/stat")?;
        let line = stat.lines().next().context("/proc/stat is empty")?;
        let ticks: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        ensure!(ticks.len() >= 5, "unexpected /proc/stat line: {line}");
        let total: u64 = ticks.iter().take(8).sum();
        // idle and iowait
        let idle = ticks[3] + ticks[4];
        Ok(MachineCpu {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            busy_ticks: total - idle,
            total_ticks: total,
            busy: 0.0,
        })
    }

    fn since(&self, before: &MachineCpu) -> MachineCpu {
        let busy = self.busy_ticks.saturating_sub(before.busy_ticks);
        let total = self.total_ticks.saturating_sub(before.total_ticks).max(1);
        MachineCpu {
            cpus: self.cpus,
            busy_ticks: busy,
            total_ticks: total,
            busy: busy as f64 / total as f64,
        }
    }
}
