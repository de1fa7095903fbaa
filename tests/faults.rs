//! Fault suite (a misbehaving channel), bad-input corpus (broken files and
//! arguments), property tests (periods, ids, document edits) and security
//! checks (no secret in any output, private modes, no plain http).

#[path = "support/crash_env.rs"]
mod crash_env;
#[path = "../examples/sandbox/server.rs"]
mod sandbox;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crash_env::{
    ACCOUNT, CHANNEL, Env, Row, assert_no_panic, describe, files_under, products, runtime,
    sandbox_config, start_sandbox, stderr, stdout,
};
use sandbox::{Sandbox, Switches};

// ---- fault suite ----

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Retries carry the job through.
    Success,
    /// The job fails cleanly (exit 1) with a message containing this.
    Failure(&'static str),
}

struct Fault {
    name: &'static str,
    /// `import-products`, `export-products` or `auth-refresh`.
    job: &'static str,
    switches: fn(&mut Switches),
    /// Extra environment (e.g. a short request timeout).
    vars: &'static [(&'static str, &'static str)],
    expect: Expect,
}

const FAULTS: &[Fault] = &[
    Fault {
        name: "two 500s",
        job: "import-products",
        switches: |s| s.fail_next = vec![500, 500],
        vars: &[],
        expect: Expect::Success,
    },
    Fault {
        name: "502 then 504",
        job: "import-products",
        switches: |s| s.fail_next = vec![502, 504],
        vars: &[],
        expect: Expect::Success,
    },
    Fault {
        name: "503 with Retry-After seconds",
        job: "import-products",
        switches: |s| {
            s.fail_next = vec![503];
            s.retry_after_secs = 1;
        },
        vars: &[],
        expect: Expect::Success,
    },
    Fault {
        name: "429 with Retry-After as HTTP date",
        job: "import-products",
        switches: |s| {
            s.fail_next = vec![429, 429];
            s.retry_after_http_date = true;
        },
        vars: &[],
        expect: Expect::Success,
    },
    Fault {
        name: "every 2nd request 429",
        job: "import-products",
        switches: |s| s.rate_limit_every = Some(2),
        vars: &[],
        expect: Expect::Success,
    },
    Fault {
        name: "500 forever",
        job: "import-products",
        switches: |s| s.error_rate = 1.0,
        vars: &[],
        expect: Expect::Failure("HTTP 500"),
    },
    Fault {
        name: "slow past the request timeout",
        job: "import-products",
        switches: |s| s.latency_ms = 400,
        vars: &[("OMS_CHANNELS_REQUEST_TIMEOUT_MS", "60")],
        expect: Expect::Failure("did not answer in time"),
    },
    Fault {
        name: "two connection resets",
        job: "import-products",
        switches: |s| s.close_next = 2,
        vars: &[],
        expect: Expect::Success,
    },
    Fault {
        name: "connection resets forever",
        job: "import-products",
        switches: |s| s.close_next = 50,
        vars: &[],
        expect: Expect::Failure("products"),
    },
    Fault {
        name: "reply lost after processing",
        job: "import-products",
        switches: |s| s.drop_reply_next = 1,
        vars: &[],
        expect: Expect::Success,
    },
    Fault {
        name: "truncated JSON",
        job: "import-products",
        switches: |s| s.truncate_next = 1,
        vars: &[],
        expect: Expect::Failure("unusable reply"),
    },
    Fault {
        name: "malformed JSON",
        job: "import-products",
        switches: |s| s.garbage_next = 1,
        vars: &[],
        expect: Expect::Failure("unusable reply"),
    },
    Fault {
        name: "wrong content type",
        job: "import-products",
        switches: |s| s.wrong_content_type_next = 1,
        vars: &[],
        expect: Expect::Failure("unusable reply"),
    },
    Fault {
        name: "page repeats its cursor",
        job: "import-products",
        switches: |s| s.repeat_cursor = true,
        vars: &[],
        expect: Expect::Failure("twice"),
    },
    Fault {
        name: "401 once",
        job: "import-products",
        switches: |s| s.fail_next = vec![401],
        vars: &[],
        expect: Expect::Success,
    },
    Fault {
        name: "400",
        job: "import-products",
        switches: |s| s.fail_next = vec![400],
        vars: &[],
        expect: Expect::Failure("HTTP 400"),
    },
    Fault {
        name: "403",
        job: "import-products",
        switches: |s| s.fail_next = vec![403],
        vars: &[],
        expect: Expect::Failure("HTTP 403"),
    },
    Fault {
        name: "batch reply omits an item",
        job: "export-products",
        switches: |s| s.omit_results_next = 1,
        vars: &[],
        expect: Expect::Failure("no result for sku"),
    },
    Fault {
        name: "per-item error",
        job: "export-products",
        switches: |s| s.item_error_skus = vec!["CAT-00007".into()],
        vars: &[],
        expect: Expect::Failure("CAT-00007"),
    },
    Fault {
        name: "batch 503",
        job: "export-products",
        switches: |s| s.fail_next = vec![503, 500],
        vars: &[],
        expect: Expect::Success,
    },
    Fault {
        name: "batch reply lost after storing",
        job: "export-products",
        switches: |s| s.drop_reply_next = 1,
        vars: &[],
        expect: Expect::Success,
    },
    Fault {
        name: "batch connection reset",
        job: "export-products",
        switches: |s| s.close_next = 1,
        vars: &[],
        expect: Expect::Success,
    },
    Fault {
        name: "batch 500 forever",
        job: "export-products",
        switches: |s| s.error_rate = 1.0,
        vars: &[],
        expect: Expect::Failure("HTTP 500"),
    },
    Fault {
        name: "batch malformed JSON",
        job: "export-products",
        switches: |s| s.garbage_next = 1,
        vars: &[],
        expect: Expect::Failure("unusable reply"),
    },
    Fault {
        name: "batch 422",
        job: "export-products",
        switches: |s| s.fail_next = vec![422],
        vars: &[],
        expect: Expect::Failure("HTTP 422"),
    },
    Fault {
        name: "token 503",
        job: "auth-refresh",
        switches: |s| s.fail_next = vec![503],
        vars: &[],
        expect: Expect::Success,
    },
    Fault {
        name: "token connection reset (not resent: it may have rotated)",
        job: "auth-refresh",
        switches: |s| s.close_next = 1,
        vars: &[],
        expect: Expect::Failure("outcome is unknown"),
    },
    Fault {
        name: "token slow past the timeout",
        job: "auth-refresh",
        switches: |s| s.latency_ms = 400,
        vars: &[("OMS_CHANNELS_REQUEST_TIMEOUT_MS", "60")],
        expect: Expect::Failure("channel login"),
    },
];

/// Runs with a deadline: a run that loops forever fails the test instead of hanging it.
fn run_bounded(env: &Env, args: &[&str], limit: Duration) -> Output {
    let mut child = env.spawn(args);
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Ok(Some(_)) = child.try_wait() {
            let out = child.wait_with_output().expect("output");
            assert_no_panic(&out);
            return out;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    panic!(
        "{args:?} did not finish within {limit:?}:\n{}",
        describe(&out)
    );
}

/// The job's row in `status --json`.
fn status_of(env: &Env, job: &str) -> serde_json::Value {
    let out = env.ok(&["--json", "status"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status --json");
    doc["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .find(|j| j["channel"] == CHANNEL && j["job"] == job)
        .cloned()
        .unwrap_or_else(|| panic!("no status row for {job}: {doc}"))
}

/// Everything stored before is still there: each row is unchanged or
/// carries the channel's newer value.
fn assert_nothing_lost(before: &BTreeMap<String, Row>, env: &Env, sb: &Sandbox, context: &str) {
    let now = env.catalog();
    for (sku, old) in before {
        let row = now
            .get(sku)
            .unwrap_or_else(|| panic!("{context}: {sku} was lost"));
        if row != old {
            let channel = sb.product(sku).expect("on the channel");
            assert_eq!(
                row.price, channel.price,
                "{context}: {sku} changed to something the channel never said"
            );
        }
    }
}

fn assert_catalog_equals_channel(env: &Env, sb: &Sandbox, context: &str) {
    let catalog = env.catalog();
    let channel = sb.all_products();
    assert_eq!(catalog.len(), channel.len(), "{context}");
    for p in channel {
        let row = &catalog[&p.sku];
        assert_eq!(
            (&row.title, &row.price, &row.quantity, &row.updated_at),
            (&p.title, &p.price, &p.quantity, &p.updated_at),
            "{context}: {}",
            p.sku
        );
    }
}

fn assert_channel_equals_catalog(env: &Env, sb: &Sandbox, context: &str) {
    let catalog = env.catalog();
    let channel = sb.all_products();
    assert_eq!(catalog.len(), channel.len(), "{context}");
    for p in channel {
        let row = &catalog[&p.sku];
        assert_eq!(
            row.content(),
            (p.title, p.price, p.currency, p.quantity, p.attributes),
            "{context}: {}",
            p.sku
        );
    }
}

#[test]
fn faults_end_in_success_after_retries_or_in_a_clean_failure() {
    let rt = runtime();
    // Import side: the channel is the master source.
    let import_sb = start_sandbox(&rt, sandbox_config(1200));
    let mut import_env = Env::new();
    import_env.setup(
        &import_sb,
        &[("auth-refresh", "50m"), ("import-products", "1h")],
        true,
    );
    import_env.ok(&["run-once"]);
    // Export side: the OMS is the master, the channel starts empty.
    let export_sb = start_sandbox(&rt, sandbox_config(0));
    let mut export_env = Env::new();
    export_env.setup(
        &export_sb,
        &[("auth-refresh", "50m"), ("export-products", "1h")],
        false,
    );
    assert_eq!(
        export_env
            .load_products("c.jsonl", &products(0..250, "1.00"))
            .status
            .code(),
        Some(0)
    );
    export_env.ok(&["run-once"]);

    let mut tried = 0;
    for (i, fault) in FAULTS.iter().enumerate() {
        let (env, sb) = if fault.job == "export-products" {
            (&mut export_env, &export_sb)
        } else {
            (&mut import_env, &import_sb)
        };
        let context = format!("fault `{}`", fault.name);
        // Something new on each side, so every run has work.
        sb.update_product("SKU-0000042", |p| p.price = format!("{i}.42"));
        if fault.job == "export-products" {
            let load = env.load_products("c.jsonl", &products(0..250, &format!("{i}.00")));
            assert_eq!(load.status.code(), Some(0), "{}", describe(&load));
        }
        let catalog_before = env.catalog();
        let channel_before = sb.all_products();
        let token_before = env.stored_refresh_token();

        sb.set_switches(Switches::default());
        sb.update_switches(fault.switches);
        for (name, value) in fault.vars {
            env.set_var(name, value);
        }
        // Imports run in full: several pages, so faults hit mid-pagination too.
        let mut args = vec!["run-once", "--force", "--job", fault.job];
        if fault.job == "import-products" {
            args.push("--full");
        }
        let out = run_bounded(env, &args, Duration::from_secs(30));
        tried += 1;
        sb.set_switches(Switches::default());
        for (name, _) in fault.vars {
            env.vars.retain(|(n, _)| n != name);
        }
        let text = format!("{}{}", stdout(&out), stderr(&out));
        let status = status_of(env, fault.job);
        match fault.expect {
            Expect::Success => {
                assert_eq!(out.status.code(), Some(0), "{context}: {}", describe(&out));
                assert_eq!(status["last_outcome"], "success", "{context}: {status}");
            }
            Expect::Failure(words) => {
                assert_eq!(out.status.code(), Some(1), "{context}: {}", describe(&out));
                assert!(
                    text.contains(words),
                    "{context}: the failure does not mention `{words}`:\n{}",
                    describe(&out)
                );
                assert_ne!(
                    status["last_outcome"], "success",
                    "{context}: status claims success after a failure: {status}"
                );
                assert!(
                    status["last_error"].as_str().is_some_and(|e| !e.is_empty()),
                    "{context}: {status}"
                );
            }
        }
        assert_eq!(env.integrity(), "ok", "{context}");
        // Nothing stored before is lost, on either side.
        if fault.job == "export-products" {
            assert_eq!(
                env.catalog(),
                catalog_before,
                "{context}: export changed the catalog"
            );
            for p in &channel_before {
                assert!(
                    sb.product(&p.sku).is_some(),
                    "{context}: {} vanished from the channel",
                    p.sku
                );
            }
        } else {
            assert_nothing_lost(&catalog_before, env, sb, &context);
        }
        if fault.job == "auth-refresh" && matches!(fault.expect, Expect::Failure(_)) {
            // A timed-out refresh may have rotated on the server: either the old
            // token still works, or the next run says what happened.
            let _ = token_before;
        }
        // Recovery: with the channel healthy again, the next run converges.
        let recover = run_bounded(
            env,
            &["run-once", "--force", "--job", fault.job],
            Duration::from_secs(30),
        );
        if recover.status.code() != Some(0) {
            let text = format!("{}{}", stdout(&recover), stderr(&recover));
            assert!(
                fault.job == "auth-refresh"
                    && text.contains("interrupted")
                    && text.contains("channel login"),
                "{context}: no recovery:\n{}",
                describe(&recover)
            );
            let login =
                env.run_with_stdin(&["channel", "login", CHANNEL], &sb.mint_refresh_token());
            assert_eq!(login.status.code(), Some(0));
            env.ok(&["run-once", "--force", "--job", fault.job]);
        }
        assert_eq!(
            status_of(env, fault.job)["last_outcome"],
            "success",
            "{context}: after recovery"
        );
        if fault.job == "export-products" {
            assert_channel_equals_catalog(env, sb, &context);
        } else if fault.job == "import-products" {
            assert_catalog_equals_channel(env, sb, &context);
        }
        assert_eq!(
            env.stored_refresh_token(),
            Some(sb.current_refresh_token()),
            "{context}"
        );
    }
    eprintln!("faults: {tried} tried");
}

#[test]
fn a_refresh_whose_reply_is_lost_is_reported_as_interrupted() {
    let rt = runtime();
    let sb = start_sandbox(&rt, sandbox_config(5));
    let mut env = Env::new();
    env.setup(&sb, &[("auth-refresh", "50m")], true);
    sb.update_switches(|s| s.drop_reply_next = 1);
    let out = env.run(&["run-once"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(status_of(&env, "auth-refresh")["last_outcome"], "failed");
    let out = env.run(&["run-once", "--force"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("interrupted") && text.contains("channel login"),
        "{}",
        describe(&out)
    );
    assert_ne!(status_of(&env, "auth-refresh")["last_outcome"], "success");
}
