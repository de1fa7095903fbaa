//! `run-once` as cron drives it: silence when idle, deadlines for hung
//! channels, busy accounts under `--all-accounts`, a clean stop on SIGTERM,
//! JSON error documents, and the help, man page and completions.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use sandbox::Switches;
use test_support::output::{parse, status_job, wait_until};
use test_support::peer::SandboxPeer;
use test_support::{Backend, CHANNEL, Rows, TestEnv, both_backends};

const HOURLY_IMPORT: &[(&str, &str)] = &[("auth-refresh", "50m"), ("import-products", "1h")];

fn master_shop(backend: Backend, products: u64, switches: Switches) -> (TestEnv, SandboxPeer) {
    let shop = SandboxPeer::with(products, switches);
    let env = TestEnv::with_channel(backend, &shop, HOURLY_IMPORT);
    env.set_master(CHANNEL);
    (env, shop)
}

both_backends!(an_idle_run_once_prints_nothing_on_either_stream);
fn an_idle_run_once_prints_nothing_on_either_stream(backend: Backend) {
    let (env, _shop) = master_shop(backend, 5, Switches::default());
    let first = env.run(["run-once"]);
    assert!(first.status.success());
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("ran"),
        "a run that did something says so"
    );

    for args in [&["run-once"][..], &["run-once", "-q"][..]] {
        let idle = env.run(args);
        assert_eq!(idle.status.code(), Some(0), "{args:?}");
        assert_eq!(
            (idle.stdout.len(), idle.stderr.len()),
            (0, 0),
            "{args:?} printed:\n{}{}",
            String::from_utf8_lossy(&idle.stdout),
            String::from_utf8_lossy(&idle.stderr)
        );
    }
    // -v and --json show the not-due rows; status always shows everything.
    let verbose = String::from_utf8(env.run(["run-once", "-v"]).stdout).unwrap();
    assert!(verbose.contains("not-due"), "{verbose}");
    let rows = env.run_once(&[]);
    assert_eq!(rows.get("shop", "import-products").outcome, "not-due");
    let status = env.ok(["status"]);
    assert!(status.contains("import-products"), "{status}");
}

both_backends!(a_hung_channel_costs_its_deadline_and_the_other_channel_finishes_on_time);
fn a_hung_channel_costs_its_deadline_and_the_other_channel_finishes_on_time(backend: Backend) {
    let mut env = TestEnv::with_account(backend);
    let healthy = SandboxPeer::with(5, Switches::default());
    // Never answers (within this test): every request waits ten minutes.
    let hung = SandboxPeer::with(
        5,
        Switches {
            latency_ms: 600_000,
            ..Switches::default()
        },
    );
    env.add_channel("healthy", &healthy, HOURLY_IMPORT);
    env.add_channel("hung", &hung, HOURLY_IMPORT);
    env.set_master("healthy");
    env.set_channel_key("hung", "deadline = \"2s\"");

    let started = Instant::now();
    let (code, doc, stderr) = env.run_once_any(&[]);
    let wall = started.elapsed();
    // The only failure is a channel that did not answer: 69, try later.
    assert_eq!(code, 69, "{doc:#}\n{stderr}");
    let rows = Rows::of(&doc);
    let healthy_import = rows.get("healthy", "import-products");
    assert_eq!(healthy_import.outcome, "ran", "{doc:#}");
    assert_eq!(healthy_import.items, 5);

    let hung_auth = rows.get("hung", "auth-refresh");
    assert_eq!(hung_auth.outcome, "failed", "{doc:#}");
    let kinds: Vec<&Value> = doc["accounts"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == "failed")
        .map(|r| &r["kind"])
        .collect();
    assert_eq!(kinds, [&Value::from("transient")], "{doc:#}");
    assert!(
        hung_auth
            .detail
            .starts_with("deadline exceeded: auth-refresh did not finish within 2s"),
        "{}",
        hung_auth.detail
    );
    let skipped = rows.get("hung", "import-products");
    assert_eq!(skipped.outcome, "skipped");
    assert!(
        skipped.detail.contains("exceeded its deadline"),
        "{}",
        skipped.detail
    );

    // The healthy channel did not wait for the hung one, and the hung one
    // cost its deadline, not the request timeout (5 s here) times the retries.
    let durations: Vec<(String, u64)> = doc["accounts"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            Some((
                format!("{}/{}", r["channel"].as_str()?, r["job"].as_str()?),
                r["duration_ms"].as_u64()?,
            ))
        })
        .collect();
    for (job, ms) in &durations {
        match job.as_str() {
            "hung/auth-refresh" => assert!((2000..4000).contains(ms), "{durations:?}"),
            _ => assert!(*ms < 2000, "{durations:?}"),
        }
    }
    assert!(wall < Duration::from_secs(15), "{wall:?}");

    let history = env.json(&["history", "--channel", "hung"]);
    let latest = &history["runs"].as_array().unwrap()[1];
    assert_eq!(latest["job"], "auth-refresh", "{history:#}");
    assert_eq!(latest["outcome"], "failed", "{history:#}");
    // The lock was released: the next run is not refused.
    let (code, _, stderr) = env.run_once_any(&["--channel", "healthy"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_channel_deadline_longer_than_its_types_is_a_warning() {
    let (env, _shop) = master_shop(Backend::Sqlite, 1, Switches::default());
    env.set_channel_key("shop", "deadline = \"1h\"");
    let out = env.run(["validate"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("warning[deadline-above-type]") && stdout.contains("so 5m applies"),
        "{stdout}"
    );
}

#[test]
fn all_accounts_skips_a_busy_account_and_carries_on() {
    let (env, _shop) = master_shop(Backend::Sqlite, 5, Switches::default());
    env.ok(["account", "add", "beta"]);
    // Another run holds `beta`.
    let _beta = env.hold_run_lock("beta");

    let (code, doc, stderr) = env.run_once_any(&["--all-accounts"]);
    assert_eq!(code, 0, "{doc:#}\n{stderr}");
    assert_eq!(Rows::of(&doc).get("shop", "import-products").outcome, "ran");
    assert_eq!(doc["errors"][0]["account"], "beta", "{doc:#}");
    assert_eq!(doc["errors"][0]["busy"], true, "{doc:#}");

    let human = env.run(["run-once", "--all-accounts"]);
    assert_eq!(human.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&human.stdout);
    assert!(
        stdout.contains("beta: busy, skipped: account `beta` is locked"),
        "{stdout}"
    );

    // Named on its own, a busy account still exits 75 so cron retries.
    let acme = env.hold_run_lock("acme");
    let (code, doc, _) = env.run_once_any(&[]);
    assert_eq!(code, 75, "{doc:#}");
    assert_eq!(doc["error"]["code"], "busy", "{doc:#}");
    drop(acme);
}

both_backends!(sigterm_stops_an_import_cleanly_and_the_next_run_converges);
fn sigterm_stops_an_import_cleanly_and_the_next_run_converges(backend: Backend) {
    let (env, shop) = master_shop(
        backend,
        4000,
        Switches {
            latency_ms: 400,
            ..Switches::default()
        },
    );
    let child = env
        .command(["run-once"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start run-once");
    let pid = child.id();
    // The import is under way once its first page is committed.
    let importing = wait_until(Duration::from_secs(20), || env.catalog_count() > 0);
    assert!(importing, "the import never committed a page");

    // A live run is running, with its pid, never "interrupted".
    let status = env.json(&["status"]);
    let import = status_job(&status, "shop", "import-products");
    assert_eq!(import["last_outcome"], "running", "{import:#}");
    assert_eq!(import["running_pid"], pid, "{import:#}");
    assert_eq!(import["due"], false, "{import:#}");
    assert_eq!(
        import["why"],
        format!("running now (pid {pid})"),
        "{import:#}"
    );
    let human = env.ok(["status"]);
    assert!(human.contains(&format!("running (pid {pid})")), "{human}");

    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a child's pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("signal the run");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stdout}\n{stderr}");
    assert!(stdout.contains("interrupted"), "{stdout}");
    assert!(stdout.contains("stopped by SIGTERM"), "{stdout}");
    let partial = env.catalog_count();
    assert!(
        partial < 4000,
        "the import finished before the signal: {partial}"
    );

    let history = env.json(&["history", "--channel", "shop"]);
    let latest = &history["runs"].as_array().unwrap()[0];
    assert_eq!(
        (latest["job"].as_str(), latest["outcome"].as_str()),
        (Some("import-products"), Some("interrupted")),
        "{history:#}"
    );
    let status = env.json(&["status"]);
    let import = status_job(&status, "shop", "import-products");
    assert_eq!(import["last_outcome"], "interrupted", "{import:#}");
    assert_eq!(import["due"], true, "{import:#}");

    // The lock died with the run; the next run resumes and converges.
    shop.update_switches(|s| s.latency_ms = 0);
    let rows = env.run_once(&[]);
    assert_eq!(rows.get("shop", "import-products").outcome, "ran");
    assert_eq!(env.catalog_count(), 4000);
    assert_eq!(env.integrity(), "ok");
}

#[test]
fn json_errors_are_documents_on_stdout_with_the_exit_code() {
    let (env, _shop) = master_shop(Backend::Sqlite, 1, Switches::default());
    let cases: &[(&[&str], i32, &str, &str)] = &[
        (&["channel", "show", "nope"], 1, "refused", "nope"),
        (
            &["run-once", "--now", "yesterday"],
            2,
            "usage",
            "invalid --now",
        ),
        (&["run-once", "--channel", "nope"], 2, "usage", "`nope`"),
        (&["no-such-command"], 2, "usage", "no-such-command"),
        (&["run-once", "--concurrency", "0"], 2, "usage", "0"),
    ];
    for (args, exit, code, needle) in cases {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = env.run(&all);
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(*exit), "{args:?}: {stdout}");
        let doc = parse(&stdout);
        assert_eq!(doc["error"]["code"], *code, "{args:?}: {doc:#}");
        assert_eq!(doc["error"]["exit"], *exit, "{args:?}: {doc:#}");
        let message = doc["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{args:?}: {message}");
    }
    // A broken account file is a config error (2) naming the file.
    std::fs::write(
        env.config_dir().join("accounts/acme.toml"),
        "channels = 3\n",
    )
    .unwrap();
    let out = env.run(["--json", "status"]);
    assert_eq!(out.status.code(), Some(2));
    let doc = parse(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(doc["error"]["code"], "config", "{doc:#}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("acme.toml"),
        "{doc:#}"
    );
}

#[test]
fn help_lists_global_options_apart_and_describes_every_positional() {
    let env = TestEnv::with_account(Backend::Sqlite);
    let help = |args: &[&str]| {
        let out = env.run(args);
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    for args in [
        &["--help"][..],
        &["run-once", "--help"][..],
        &["channel", "set-period", "--help"][..],
        &["account", "use", "--help"][..],
        &["products", "load", "--help"][..],
    ] {
        let text = help(args);
        let (own, global) = text
            .split_once("Global options:")
            .unwrap_or_else(|| panic!("{args:?}: no global heading:\n{text}"));
        assert!(
            global.contains("--config-dir") && global.contains("--json"),
            "{text}"
        );
        assert!(
            !own.contains("--config-dir"),
            "{args:?} mixes them:\n{text}"
        );
    }
    // Default dirs are shown (here under a test HOME).
    let top = help(&["--help"]);
    assert!(
        top.contains("[default: ") && top.contains("oms-channels]"),
        "{top}"
    );
    // Every positional argument says what it is.
    let set_period = help(&["channel", "set-period", "--help"]);
    for line in [
        "<CHANNEL>  Channel id",
        "<JOB>      auth-refresh",
        "<PERIOD>   A duration",
    ] {
        assert!(set_period.contains(line), "{line}:\n{set_period}");
    }
    let commands = clap_positionals(&env);
    assert!(
        commands.is_empty(),
        "positionals without help: {commands:?}"
    );
}

/// `command path: positional` for every positional argument without help,
/// read from the man page of each subcommand's `--help`.
fn clap_positionals(env: &TestEnv) -> Vec<String> {
    let mut missing = Vec::new();
    let paths: &[&[&str]] = &[
        &["account", "use"],
        &["account", "add"],
        &["account", "remove"],
        &["account", "set-master-source"],
        &["channel", "show"],
        &["channel", "add"],
        &["channel", "remove"],
        &["channel", "set-period"],
        &["channel", "login"],
        &["capabilities", "show"],
        &["products", "show"],
        &["products", "load"],
        &["completions"],
    ];
    for path in paths {
        let mut args = path.to_vec();
        args.push("--help");
        let text = String::from_utf8(env.run(&args).stdout).unwrap();
        let Some((_, rest)) = text.split_once("Arguments:\n") else {
            missing.push(format!("{path:?}: no Arguments section"));
            continue;
        };
        for line in rest.lines().take_while(|l| !l.is_empty()) {
            if line.trim_start().starts_with('<') && !line.trim().contains("  ") {
                missing.push(format!("{path:?}: {line}"));
            }
        }
    }
    missing
}

#[test]
fn man_page_and_completions_of_account_channel_and_job_names() {
    let (env, _shop) = master_shop(Backend::Sqlite, 1, Switches::default());
    env.ok(["account", "add", "beta"]);
    let man = env.ok(["man"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH oms-channels 1"),
        "{man}"
    );
    assert!(
        man.contains("run\\-once"),
        "the man page lists the commands"
    );

    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = env.ok(["completions", shell]);
        assert!(script.contains("COMPLETE"), "{shell}: {script}");
    }
    // What the shell code asks the binary while the user types (fish's protocol).
    let complete = |words: &[&str]| {
        let out = env
            .bare_command()
            .args(["--", "oms-channels"])
            .args(words)
            .env("COMPLETE", "fish")
            .env("OMS_CHANNELS_CONFIG_DIR", env.config_dir())
            .output()
            .unwrap();
        assert!(out.status.success(), "{words:?}");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let accounts = complete(&["account", "use", ""]);
    assert_eq!(accounts[..2], ["acme", "beta"], "{accounts:?}");
    assert_eq!(complete(&["--account", "b"]), ["beta"]);
    assert_eq!(complete(&["channel", "show", ""])[0], "shop");
    assert_eq!(complete(&["run-once", "--channel", ""]), ["shop"]);
    assert_eq!(
        complete(&["channel", "set-period", "shop", ""])[..3],
        ["auth-refresh", "import-products", "export-products"]
    );
    assert_eq!(
        complete(&["run-once", "--job", "ex"]),
        ["export-products", "export-stock"]
    );
    assert_eq!(
        complete(&["account", "set-master-source", ""])[..2],
        ["oms", "shop"]
    );
}

#[test]
fn the_shipped_crontab_line_exports_the_secrets_and_logs_nothing_when_idle() {
    let (env, shop) = master_shop(Backend::Sqlite, 3, Switches::default());
    let crontab =
        std::fs::read_to_string(test_support::repo_root().join("examples/crontab")).unwrap();
    let line = crontab
        .lines()
        .find(|l| l.starts_with("* * * * *"))
        .expect("a crontab entry");
    let command = line.splitn(6, ' ').nth(5).unwrap().trim();
    // The channel's secret only in the secrets file, as `KEY=value`.
    let secrets = env.write_file(
        "secrets.env",
        &format!("TEST_SECRET_SHOP={}\n", shop.client_secret()),
    );
    let log = env.data_dir().join("run-once.log");
    let command = command
        .replace("/etc/oms-channels/secrets.env", secrets.to_str().unwrap())
        .replace(
            "/usr/local/bin/oms-channels",
            test_support::oms_channels_bin().to_str().unwrap(),
        )
        .replace("/var/log/oms-channels/run-once.log", log.to_str().unwrap());
    let cron = || {
        // cron runs the line with /bin/sh and a bare environment.
        let status = env
            .tool("/bin/sh")
            .args(["-c", &command])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", env.data_dir())
            .env("OMS_CHANNELS_CONFIG_DIR", env.config_dir())
            .env("OMS_CHANNELS_DATA_DIR", env.data_dir())
            .env("OMS_CHANNELS_RETRY_BASE_MS", "5")
            .status()
            .unwrap();
        (
            status.code(),
            std::fs::read_to_string(&log).unwrap_or_default(),
        )
    };
    let (code, first) = cron();
    assert_eq!(code, Some(0), "{first}");
    assert!(first.contains("import-products  ran"), "{first}");
    assert_eq!(env.catalog_count(), 3);
    let (code, second) = cron();
    assert_eq!(code, Some(0));
    assert_eq!(second, first, "an idle minute adds nothing to the log");
}

#[test]
fn bash_completes_channel_and_job_names_through_the_shipped_script() {
    if std::process::Command::new("bash")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("note: bash is not installed; bash completion check skipped");
        return;
    }
    let (env, _shop) = master_shop(Backend::Sqlite, 1, Switches::default());
    let script = env.write_file("complete.bash", &env.ok(["completions", "bash"]));
    // What bash does on TAB: fill COMP_WORDS/COMP_CWORD, call the function.
    let tab = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let program = format!(
            "source {script}\nCOMP_WORDS=({words})\nCOMP_CWORD={cword}\nCOMP_TYPE=9\n\
             _clap_complete_oms_channels oms-channels \"{last}\" \"{prev}\"\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
            script = script.display(),
            words = words
                .iter()
                .map(|w| format!("\"{w}\""))
                .collect::<Vec<_>>()
                .join(" "),
            cword = words.len() - 1,
            last = words[words.len() - 1],
            prev = words[words.len() - 2],
        );
        let out = env
            .tool("bash")
            .args(["--norc", "-c", &program])
            .env("OMS_CHANNELS_CONFIG_DIR", env.config_dir())
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(tab("oms-channels channel show s").trim(), "shop");
    assert_eq!(
        tab("oms-channels channel set-period shop im").trim(),
        "import-products"
    );
    assert_eq!(tab("oms-channels account use ac").trim(), "acme");
}
