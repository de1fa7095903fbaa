//! Fault suite (a misbehaving channel), bad-input corpus (broken files and
//! arguments), property tests (periods, ids, document edits) and security
//! checks (no secret in any output, private modes, no plain http).

use std::collections::BTreeMap;
use std::process::Output;
use std::time::Duration;

use sandbox::{Product, Sandbox, Switches};
use test_support::catalog;
use test_support::output::{describe, files_under, stderr, stdout};
use test_support::peer::SandboxPeer;
use test_support::peer::sandbox::{assert_catalog_equals_channel, assert_channel_equals_catalog};
use test_support::{ACCOUNT, Backend, CHANNEL, TestEnv, both_backends};

// ---- fault suite ----

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Retries carry the job through.
    Success,
    /// The job fails cleanly (exit 1: the channel refused something a
    /// setting must fix) with a message containing this.
    Failure(&'static str),
    /// The job fails cleanly as an outage that may pass (exit 69, row kind
    /// `transient`) with a message containing this.
    Outage(&'static str),
    /// The job commits what the channel took and ends `partial` (exit 3),
    /// naming what it rejected.
    Partial(&'static str),
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
        expect: Expect::Outage("HTTP 500"),
    },
    Fault {
        name: "slow past the request timeout",
        job: "import-products",
        switches: |s| s.latency_ms = 400,
        vars: &[("OMS_CHANNELS_REQUEST_TIMEOUT_MS", "60")],
        expect: Expect::Outage("did not answer in time"),
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
        expect: Expect::Outage("products"),
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
        expect: Expect::Failure("no result for handle"),
    },
    Fault {
        name: "per-item error",
        job: "export-products",
        switches: |s| s.item_error_skus = vec!["CAT-00007".into()],
        vars: &[],
        expect: Expect::Partial("CAT-00007"),
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
        expect: Expect::Outage("HTTP 500"),
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
        expect: Expect::Outage("outcome is unknown"),
    },
    Fault {
        name: "token slow past the timeout",
        job: "auth-refresh",
        switches: |s| s.latency_ms = 400,
        vars: &[("OMS_CHANNELS_REQUEST_TIMEOUT_MS", "60")],
        expect: Expect::Outage("channel login"),
    },
];

/// The job's row in `status --json`.
fn status_of(env: &TestEnv, job: &str) -> serde_json::Value {
    let doc = env.json(&["status"]);
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
fn assert_nothing_lost(
    before: &BTreeMap<String, Product>,
    env: &TestEnv,
    sb: &Sandbox,
    context: &str,
) {
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

both_backends!(faults_end_in_success_after_retries_or_in_a_clean_failure);
fn faults_end_in_success_after_retries_or_in_a_clean_failure(backend: Backend) {
    // Import side: the channel is the master source. Enough products for
    // three pages, so a repeated cursor is seen on the second one.
    let import_sb = SandboxPeer::start(SandboxPeer::rotating(
        2 * crate::beta_rest_page_size() as u64 + 200,
    ));
    let mut import_env = TestEnv::with_channel(
        backend,
        &import_sb,
        &[("auth-refresh", "50m"), ("import-products", "1h")],
    );
    import_env.set_master(CHANNEL);
    import_env.set_run_limit(Duration::from_secs(30));
    import_env.ok(["run-once"]);
    // Export side: the OMS is the master, the channel starts empty.
    let export_sb = SandboxPeer::start(SandboxPeer::rotating(0));
    let mut export_env = TestEnv::with_channel(
        backend,
        &export_sb,
        &[("auth-refresh", "50m"), ("export-products", "1h")],
    );
    export_env.set_run_limit(Duration::from_secs(30));
    assert_eq!(
        export_env
            .try_load("c.jsonl", &catalog::numbered(0..250, "1.00"))
            .status
            .code(),
        Some(0)
    );
    export_env.ok(["run-once"]);

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
            env.load_jsonl("c.jsonl", &catalog::numbered(0..250, &format!("{i}.00")));
        }
        let catalog_before = env.catalog();
        let channel_before = sb.all_products();
        let token_before = env.stored_refresh_token(CHANNEL);

        sb.set_switches(Switches::default());
        sb.update_switches(fault.switches);
        let defaults: Vec<(&str, Option<String>)> = fault
            .vars
            .iter()
            .map(|(name, _)| (*name, env.var(name)))
            .collect();
        for (name, value) in fault.vars {
            env.set_var(name, value);
        }
        // Imports run in full: several pages, so faults hit mid-pagination too.
        let mut args = vec!["run-once", "--force", "--job", fault.job];
        if fault.job == "import-products" {
            args.push("--full");
        }
        let out = env.run(&args);
        tried += 1;
        sb.set_switches(Switches::default());
        for (name, default) in defaults {
            match default {
                Some(value) => env.set_var(name, &value),
                None => env.remove_var(name),
            }
        }
        let text = format!("{}{}", stdout(&out), stderr(&out));
        let status = status_of(env, fault.job);
        match fault.expect {
            Expect::Success => {
                assert_eq!(out.status.code(), Some(0), "{context}: {}", describe(&out));
                assert_eq!(status["last_outcome"], "success", "{context}: {status}");
            }
            Expect::Partial(words) => {
                assert_eq!(out.status.code(), Some(3), "{context}: {}", describe(&out));
                assert!(text.contains(words), "{context}: {}", describe(&out));
                assert_eq!(status["last_outcome"], "partial", "{context}: {status}");
            }
            Expect::Failure(words) | Expect::Outage(words) => {
                let code = if matches!(fault.expect, Expect::Outage(_)) {
                    69
                } else {
                    1
                };
                assert_eq!(
                    out.status.code(),
                    Some(code),
                    "{context}: {}",
                    describe(&out)
                );
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
        if fault.job == "auth-refresh"
            && matches!(fault.expect, Expect::Failure(_) | Expect::Outage(_))
        {
            // A timed-out refresh may have rotated on the server: either the old
            // token still works, or the next run says what happened.
            let _ = token_before;
        }
        // Recovery: with the channel healthy again, the next run converges.
        let recover = env.run(["run-once", "--force", "--job", fault.job]);
        if recover.status.code() != Some(0) {
            let text = format!("{}{}", stdout(&recover), stderr(&recover));
            assert!(
                fault.job == "auth-refresh"
                    && text.contains("interrupted")
                    && text.contains("channel login"),
                "{context}: no recovery:\n{}",
                describe(&recover)
            );
            let login = env.run_with_stdin(["channel", "login", CHANNEL], &sb.mint_refresh_token());
            assert_eq!(login.status.code(), Some(0));
            env.ok(["run-once", "--force", "--job", fault.job]);
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
            env.stored_refresh_token(CHANNEL),
            Some(sb.current_refresh_token()),
            "{context}"
        );
    }
    eprintln!("faults: {tried} tried");
}

both_backends!(a_refresh_whose_reply_is_lost_is_reported_as_interrupted);
fn a_refresh_whose_reply_is_lost_is_reported_as_interrupted(backend: Backend) {
    let sb = SandboxPeer::start(SandboxPeer::rotating(5));
    let env = TestEnv::with_channel(backend, &sb, &[("auth-refresh", "50m")]);
    env.set_master(CHANNEL);
    sb.update_switches(|s| s.drop_reply_next = 1);
    let out = env.run(["run-once"]);
    // A reply lost in transit is an outage (exit 69), whatever it did.
    assert_eq!(out.status.code(), Some(69), "{}", describe(&out));
    assert_eq!(status_of(&env, "auth-refresh")["last_outcome"], "failed");
    let out = env.run(["run-once", "--force"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("interrupted") && text.contains("channel login"),
        "{}",
        describe(&out)
    );
    assert_ne!(status_of(&env, "auth-refresh")["last_outcome"], "success");
}

// ---- bad-input corpus ----

/// A valid account file: the corpus's starting point.
const BASE_ACCOUNT: &str = r#"# Acme: the corpus's base account
display-name = "Acme"
master-product-source = "oms"

[channels.shop]
type = "beta-rest"
base-url = "https://api.example.com/v1"

[channels.shop.jobs]
auth-refresh = "50m" # refresh well inside the token's hour
"#;

/// One bad input: files to write (relative to the temp dir; `config/...` for
/// the config dir), arguments (`{dir}` is the temp dir), and what must come out.
struct BadInput {
    name: &'static str,
    files: &'static [(&'static str, &'static [u8])],
    args: &'static [&'static str],
    stdin: &'static str,
    exit: i32,
    /// Every one of these appears in stderr.
    says: &'static [&'static str],
}

const fn bad(
    name: &'static str,
    files: &'static [(&'static str, &'static [u8])],
    args: &'static [&'static str],
    exit: i32,
    says: &'static [&'static str],
) -> BadInput {
    BadInput {
        name,
        files,
        args,
        stdin: "",
        exit,
        says,
    }
}

const BAD_ACCOUNT: &str = "config/accounts/bad.toml";
const VALIDATE_BAD: &[&str] = &["--account", "bad", "validate"];
const CAPS: &str = "config/capabilities.toml";
const CAPS_LIST: &[&str] = &["--account", "acme", "capabilities", "list"];

const CORPUS: &[BadInput] = &[
    // Account files.
    bad("duplicate key", &[(BAD_ACCOUNT, b"display-name = \"a\"\ndisplay-name = \"b\"\nmaster-product-source = \"oms\"\n")], VALIDATE_BAD, 2, &["bad.toml", "duplicate key"]),
    bad("duplicate table", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.x]\ntype = \"beta-rest\"\nbase-url = \"https://a.example\"\n[channels.x]\ntype = \"beta-rest\"\n")], VALIDATE_BAD, 2, &["bad.toml:5:", "duplicate key"]),
    bad("master source of the wrong type", &[(BAD_ACCOUNT, b"master-product-source = 5\n")], VALIDATE_BAD, 2, &["bad.toml:1:25", "expected a string"]),
    bad("period as a number", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.x]\ntype = \"beta-rest\"\nbase-url = \"https://a.example\"\n[channels.x.jobs]\nauth-refresh = 50\n")], VALIDATE_BAD, 2, &["bad.toml:6:", "expected a string"]),
    bad("unknown top-level key", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\ncolour = \"red\"\n")], VALIDATE_BAD, 2, &["bad.toml", "colour"]),
    bad("unknown channel key", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.x]\ntype = \"beta-rest\"\nbase-url = \"https://a.example\"\nbase-uri = \"https://b.example\"\n")], VALIDATE_BAD, 2, &["bad.toml", "base-uri"]),
    bad("unknown job name", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.x]\ntype = \"beta-rest\"\nbase-url = \"https://a.example\"\n[channels.x.jobs]\nsync-all = \"1h\"\n")], VALIDATE_BAD, 2, &["bad.toml", "sync-all"]),
    bad("non-UTF-8 bytes", &[(BAD_ACCOUNT, b"display-name = \"Acme \xff\xfe\"\nmaster-product-source = \"oms\"\n")], VALIDATE_BAD, 2, &["bad.toml", "UTF-8"]),
    bad("NUL byte", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\x00\n")], VALIDATE_BAD, 2, &["bad.toml:1:"]),
    bad("channel id with a slash", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.\"a/b\"]\ntype = \"beta-rest\"\nbase-url = \"https://a.example\"\n")], VALIDATE_BAD, 2, &["bad.toml", "invalid channel id `a/b`"]),
    bad("channel id ..", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.\"..\"]\ntype = \"beta-rest\"\nbase-url = \"https://a.example\"\n")], VALIDATE_BAD, 2, &["bad.toml", "invalid channel id `..`"]),
    bad("empty channel id", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.\"\"]\ntype = \"beta-rest\"\nbase-url = \"https://a.example\"\n")], VALIDATE_BAD, 2, &["bad.toml", "invalid channel id"]),
    bad("upper-case channel id", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.Shop]\ntype = \"beta-rest\"\nbase-url = \"https://a.example\"\n")], VALIDATE_BAD, 2, &["bad.toml", "invalid channel id `Shop`"]),
    bad("channel named oms", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.oms]\ntype = \"beta-rest\"\nbase-url = \"https://a.example\"\n")], VALIDATE_BAD, 2, &["bad.toml", "reserved"]),
    bad("master source ../x", &[(BAD_ACCOUNT, b"master-product-source = \"../x\"\n")], VALIDATE_BAD, 2, &["bad.toml", "master-product-source"]),
    bad("huge period", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.x]\ntype = \"beta-rest\"\nbase-url = \"https://a.example\"\n[channels.x.jobs]\nauth-refresh = \"99999999999999h\"\n")], VALIDATE_BAD, 2, &["bad.toml", "invalid period `99999999999999h`"]),
    bad("negative period", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.x]\ntype = \"beta-rest\"\nbase-url = \"https://a.example\"\n[channels.x.jobs]\nauth-refresh = \"-5m\"\n")], VALIDATE_BAD, 2, &["bad.toml", "negative"]),
    bad("junk period", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.x]\ntype = \"beta-rest\"\nbase-url = \"https://a.example\"\n[channels.x.jobs]\nauth-refresh = \"soon\"\n")], VALIDATE_BAD, 2, &["bad.toml", "invalid period `soon`"]),
    bad("zero period", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.x]\ntype = \"beta-rest\"\nbase-url = \"https://a.example\"\n[channels.x.jobs]\nauth-refresh = \"0m\"\n")], VALIDATE_BAD, 2, &["bad.toml", "longer than zero"]),
    bad("array where the type belongs", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.x]\ntype = [\"beta-rest\"]\nbase-url = \"https://a.example\"\n")], VALIDATE_BAD, 2, &["bad.toml:3:", "sequence"]),
    bad("array where the base-url belongs", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.x]\ntype = \"beta-rest\"\nbase-url = [\"https://a.example\"]\n")], VALIDATE_BAD, 2, &["bad.toml:4:", "sequence"]),
    bad("jobs as a string", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.x]\ntype = \"beta-rest\"\nbase-url = \"https://a.example\"\njobs = \"1h\"\n")], VALIDATE_BAD, 2, &["bad.toml:5:", "invalid type"]),
    bad("unterminated string", &[(BAD_ACCOUNT, b"master-product-source = \"oms\n")], VALIDATE_BAD, 2, &["bad.toml:1:", "basic string"]),
    bad("unknown grant", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.x]\ntype = \"beta-rest\"\nbase-url = \"https://a.example\"\n[channels.x.auth]\ntoken-url = \"https://a.example/t\"\ngrant = \"password\"\nclient-id = \"c\"\nclient-secret-env = \"S\"\n")], VALIDATE_BAD, 2, &["bad.toml", "password"]),
    bad("secret in the file", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.x]\ntype = \"beta-rest\"\nbase-url = \"https://a.example\"\n[channels.x.auth]\ntoken-url = \"https://a.example/t\"\ngrant = \"refresh_token\"\nclient-id = \"c\"\nclient-secret = \"hunter2\"\n")], VALIDATE_BAD, 2, &["bad.toml:9:", "secrets never live in the account file"]),
    bad("channel without base-url", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.x]\ntype = \"beta-rest\"\n")], VALIDATE_BAD, 2, &["bad.toml:2:", "base-url"]),
    bad("set-period on a broken file", &[(BAD_ACCOUNT, b"master-product-source = \"oms\"\n[channels.x]\ntype = \"beta-rest\"\nbase-url = \"https://a.example\"\n[channels.x.jobs]\nauth-refresh = \"soon\"\n")], &["--account", "bad", "channel", "set-period", "x", "auth-refresh", "1h"], 2, &["bad.toml", "soon"]),
    // Capability files.
    bad("capabilities: not TOML", &[(CAPS, b"[types.x\n")], CAPS_LIST, 2, &["capabilities.toml:1:", "unclosed table"]),
    bad("capabilities: periods as a string", &[(CAPS, b"[types.x]\nprotocol = \"beta-rest\"\n[types.x.jobs]\nauth-refresh = \"15m\"\n")], CAPS_LIST, 2, &["capabilities.toml:4:", "expected a sequence"]),
    bad("capabilities: junk period", &[(CAPS, b"[types.x]\nprotocol = \"beta-rest\"\n[types.x.jobs]\nauth-refresh = [\"15m\", \"soon\"]\n")], CAPS_LIST, 2, &["capabilities.toml", "soon"]),
    bad("capabilities: unknown key", &[(CAPS, b"[types.x]\nprotocol = \"beta-rest\"\nflavour = \"sweet\"\n")], CAPS_LIST, 2, &["capabilities.toml", "flavour"]),
    bad("capabilities: unknown job", &[(CAPS, b"[types.x]\nprotocol = \"beta-rest\"\n[types.x.jobs]\nsync-all = [\"1h\"]\n")], CAPS_LIST, 2, &["capabilities.toml", "sync-all"]),
    bad("capabilities: types is a number", &[(CAPS, b"types = 5\n")], CAPS_LIST, 2, &["capabilities.toml:1:", "expected a map"]),
    bad("capabilities: non-UTF-8", &[(CAPS, b"[types.\xff]\n")], CAPS_LIST, 2, &["capabilities.toml", "UTF-8"]),
    // Product files.
    bad("jsonl: price as a float", &[("p.jsonl", br#"{"sku":"A","title":"t","price":19.9,"currency":"EUR","quantity":1,"updated_at":"2026-01-01T00:00:00Z"}"#)], &["--account", "acme", "products", "load", "{dir}/p.jsonl"], 1, &["p.jsonl", "line 1", "nothing was loaded"]),
    bad("jsonl: missing sku", &[("p.jsonl", br#"{"title":"t","price":"1.00","currency":"EUR","quantity":1,"updated_at":"2026-01-01T00:00:00Z"}"#)], &["--account", "acme", "products", "load", "{dir}/p.jsonl"], 1, &["p.jsonl", "sku", "nothing was loaded"]),
    bad("jsonl: broken second line", &[("p.jsonl", b"{\"sku\":\"A\",\"title\":\"t\",\"price\":\"1.00\",\"currency\":\"EUR\",\"quantity\":1,\"updated_at\":\"2026-01-01T00:00:00Z\"}\n{\"sku\":\n")], &["--account", "acme", "products", "load", "{dir}/p.jsonl"], 1, &["p.jsonl", "line 2", "nothing was loaded"]),
    bad("jsonl: junk updated_at", &[("p.jsonl", br#"{"sku":"A","title":"t","price":"1.00","currency":"EUR","quantity":1,"updated_at":"yesterday"}"#)], &["--account", "acme", "products", "load", "{dir}/p.jsonl"], 1, &["p.jsonl", "yesterday"]),
    bad("jsonl: junk price", &[("p.jsonl", br#"{"sku":"A","title":"t","price":"cheap","currency":"EUR","quantity":1,"updated_at":"2026-01-01T00:00:00Z"}"#)], &["--account", "acme", "products", "load", "{dir}/p.jsonl"], 1, &["p.jsonl", "cheap"]),
    bad("jsonl: empty sku", &[("p.jsonl", br#"{"sku":"","title":"t","price":"1.00","currency":"EUR","quantity":1,"updated_at":"2026-01-01T00:00:00Z"}"#)], &["--account", "acme", "products", "load", "{dir}/p.jsonl"], 1, &["p.jsonl", "sku"]),
    bad("jsonl: unknown field", &[("p.jsonl", br#"{"sku":"A","title":"t","price":"1.00","currency":"EUR","quantity":1,"updated_at":"2026-01-01T00:00:00Z","colour":"red"}"#)], &["--account", "acme", "products", "load", "{dir}/p.jsonl"], 1, &["p.jsonl", "colour"]),
    bad("csv: missing column", &[("p.csv", b"sku,title,price\nA,t,1.00\n")], &["--account", "acme", "products", "load", "{dir}/p.csv"], 1, &["p.csv", "nothing was loaded"]),
    bad("csv: quantity not a number", &[("p.csv", b"sku,title,price,currency,quantity,updated_at\nA,t,1.00,EUR,many,2026-01-01T00:00:00Z\n")], &["--account", "acme", "products", "load", "{dir}/p.csv"], 1, &["p.csv", "many"]),
    bad("csv: CRLF line ends and a blank line, the bad row named by its own line", &[("p.csv", b"sku,title,price,currency,quantity\r\nA,t,1.00,EUR,1\r\n\r\nB,t,1.00,EUR,many\r\n")], &["--account", "acme", "products", "load", "{dir}/p.csv"], 1, &["p.csv: line 4:", "many"]),
    bad("csv: a short row", &[("p.csv", b"sku,title,price,currency,quantity\nA,t,1.00,EUR,1\n\nB,t\n")], &["--account", "acme", "products", "load", "{dir}/p.csv"], 1, &["p.csv: line 4: this row has 2 fields, but the header has 5"]),
    bad("csv: non-UTF-8", &[("p.csv", b"sku,title,price,currency,quantity,updated_at\nA,t\xff,1.00,EUR,1,2026-01-01T00:00:00Z\n")], &["--account", "acme", "products", "load", "{dir}/p.csv"], 2, &["p.csv", "UTF-8"]),
    bad("unknown product file type", &[("p.txt", b"sku\n")], &["--account", "acme", "products", "load", "{dir}/p.txt"], 1, &["p.txt", ".jsonl"]),
    bad("missing product file", &[], &["--account", "acme", "products", "load", "{dir}/none.jsonl"], 2, &["none.jsonl"]),
    // Command-line arguments.
    bad("account id ../x", &[], &["--account", "../x", "status"], 1, &["invalid account id `../x`"]),
    bad("account id with a space", &[], &["--account", "a b", "validate"], 1, &["invalid account id `a b`"]),
    bad("unknown account", &[], &["--account", "nobody", "validate"], 2, &["nobody"]),
    bad("account add ../evil", &[], &["account", "add", "../evil"], 1, &["invalid account id `../evil`"]),
    bad("account add Upper", &[], &["account", "add", "Acme"], 1, &["invalid account id `Acme`"]),
    bad("channel add ../evil", &[], &["--account", "acme", "channel", "add", "../evil", "--type", "beta-rest", "--base-url", "https://a.example"], 1, &["invalid channel id `../evil`"]),
    bad("channel add unknown type", &[], &["--account", "acme", "channel", "add", "x", "--type", "gamma", "--base-url", "https://a.example"], 1, &["unknown channel type `gamma`"]),
    bad("channel add junk url", &[], &["--account", "acme", "channel", "add", "x", "--type", "beta-rest", "--base-url", "not a url"], 1, &["--base-url"]),
    bad("set-period unknown channel", &[], &["--account", "acme", "channel", "set-period", "nope", "auth-refresh", "1h"], 1, &["nope"]),
    bad("set-period unknown job", &[], &["--account", "acme", "channel", "set-period", "shop", "sync-all", "1h"], 1, &["sync-all"]),
    bad("set-period junk period", &[], &["--account", "acme", "channel", "set-period", "shop", "auth-refresh", "soon"], 1, &["invalid period `soon`"]),
    bad("set-period not offered", &[], &["--account", "acme", "channel", "set-period", "shop", "auth-refresh", "5m"], 1, &["5m", "not offered"]),
    bad("set-period huge", &[], &["--account", "acme", "channel", "set-period", "shop", "auth-refresh", "9999999999d"], 1, &["invalid period `9999999999d`"]),
    bad("set-period negative", &[], &["--account", "acme", "channel", "set-period", "shop", "auth-refresh", "--", "-5m"], 1, &["negative"]),
    bad("run-once junk --now", &[], &["--account", "acme", "run-once", "--now", "yesterday"], 2, &["invalid --now `yesterday`"]),
    bad("run-once unknown job", &[], &["--account", "acme", "run-once", "--job", "everything"], 2, &["everything"]),
    bad("run-once unknown channel", &[], &["--account", "acme", "run-once", "--channel", "nope"], 2, &["--channel `nope`"]),
    bad("run-once concurrency 0", &[], &["--account", "acme", "run-once", "--concurrency", "0"], 2, &["--concurrency"]),
    bad("history negative limit", &[], &["--account", "acme", "history", "--limit", "-1"], 2, &["'-1'"]),
    BadInput { name: "login with an empty stdin", files: &[], args: &["--account", "acme", "channel", "login", "shop"], stdin: "", exit: 1, says: &["expected one refresh token on stdin"] },
    BadInput { name: "login with two tokens", files: &[], args: &["--account", "acme", "channel", "login", "shop"], stdin: "one two", exit: 1, says: &["expected one refresh token on stdin"] },
];

#[test]
fn bad_inputs_are_refused_with_a_specific_message_and_change_nothing() {
    let mut failures = Vec::new();
    for case in CORPUS {
        let env = TestEnv::new();
        env.account(ACCOUNT, BASE_ACCOUNT);
        let dir = env.root();
        for (path, bytes) in case.files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        let before = files_under(dir);
        let args: Vec<String> = case
            .args
            .iter()
            .map(|a| a.replace("{dir}", &dir.display().to_string()))
            .collect();
        // Never a panic, whatever the input (`finish` fails the test on one).
        let out = env.finish(env.command(&args), Some(case.stdin));
        let err = stderr(&out);
        let mut problems = Vec::new();
        if out.status.code() != Some(case.exit) {
            problems.push(format!(
                "exit {:?}, expected {}",
                out.status.code(),
                case.exit
            ));
        }
        for words in case.says {
            if !err.contains(words) {
                problems.push(format!("stderr lacks `{words}`"));
            }
        }
        // Every file that was there is byte-identical; only lock files and
        // the (empty) store may appear.
        let after = files_under(dir);
        for (path, bytes) in &before {
            if after.get(path) != Some(bytes) {
                problems.push(format!("{} changed", path.display()));
            }
        }
        for path in after.keys().filter(|p| !before.contains_key(*p)) {
            let name = path.file_name().unwrap().to_string_lossy();
            if !(name.ends_with(".lock") || path.starts_with(env.data_dir())) {
                problems.push(format!("{} appeared", path.display()));
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n  stderr: {}",
                case.name,
                problems.join("; "),
                err.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs misbehaved:\n{}",
        failures.len(),
        CORPUS.len(),
        failures.join("\n")
    );
    eprintln!("bad inputs: {} cases", CORPUS.len());
}

// ---- property tests ----

mod properties {
    use std::path::Path;
    use std::time::Duration;

    use oms_channels::config::AccountConfig;
    use oms_channels::config::edit::set_job_period;
    use oms_channels::ids::{check_account_id, check_channel_id};
    use oms_channels::period::{Job, Period};
    use proptest::prelude::*;

    const MAX_SECS: u64 = 366 * 24 * 3600;

    /// `[a-z0-9][a-z0-9_-]{0,62}`, spelled out independently of the crate.
    fn matches_id_regex(s: &str) -> bool {
        let mut chars = s.chars();
        let Some(first) = chars.next() else {
            return false;
        };
        (first.is_ascii_lowercase() || first.is_ascii_digit())
            && s.chars().count() <= 63
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    }

    fn job() -> impl Strategy<Value = Job> {
        prop::sample::select(Job::ALL.to_vec())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn any_n_unit_period_round_trips(
            n in 1u64..1_000_000,
            (unit, secs) in prop::sample::select(vec![("s", 1u64), ("m", 60), ("h", 3600), ("d", 86400)]),
        ) {
            let text = format!("{n}{unit}");
            let total = n * secs;
            match text.parse::<Period>() {
                Ok(period) => {
                    prop_assert!(total <= MAX_SECS, "{text} accepted beyond a year");
                    prop_assert_eq!(period.duration(), Some(Duration::from_secs(total)));
                    prop_assert_eq!(period.to_string(), text.clone());
                    let again: Period = period.to_string().parse().unwrap();
                    prop_assert_eq!(again, period);
                }
                Err(err) => {
                    prop_assert!(total > MAX_SECS, "{text} refused: {err}");
                    prop_assert!(err.to_string().contains(&format!("`{text}`")), "{err}");
                }
            }
        }

        #[test]
        fn random_period_strings_never_panic(s in "\\PC{0,16}|[0-9]{0,25}[a-z ]{0,4}|-?[0-9]{1,4}(ns|us|ms|s|m|h|d|w|y)") {
            match s.parse::<Period>() {
                Ok(Period::Off) => prop_assert_eq!(s.trim(), "none"),
                Ok(period) => {
                    let secs = period.duration().unwrap().as_secs();
                    prop_assert!((1..=MAX_SECS).contains(&secs), "{s}: {secs}s");
                }
                Err(err) => prop_assert!(err.to_string().starts_with("invalid period"), "{err}"),
            }
        }

        #[test]
        fn every_id_the_regex_allows_is_accepted(s in "[a-z0-9][a-z0-9_-]{0,62}") {
            prop_assert!(check_account_id(&s).is_ok(), "{s}");
            prop_assert_eq!(check_channel_id(&s).is_ok(), s != "oms", "{}", s);
        }

        #[test]
        fn ids_are_accepted_exactly_when_the_regex_matches(
            s in "[a-zA-Z0-9_./ \\\\-]{0,70}|[a-z0-9][a-z0-9_-]{60,66}|\\PC{0,8}"
        ) {
            prop_assert_eq!(check_account_id(&s).is_ok(), matches_id_regex(&s), "{:?}", s);
            prop_assert_eq!(check_channel_id(&s).is_ok(), matches_id_regex(&s) && s != "oms", "{:?}", s);
        }

        #[test]
        fn set_job_period_keeps_every_comment(
            comments in prop::collection::vec("[A-Za-z0-9 ,.!]{1,24}", 6),
            with_jobs_table in any::<bool>(),
            job in job(),
            period in prop::sample::select(vec!["15m", "30m", "1h", "2h", "24h", "none", "90m"]),
        ) {
            let jobs = if with_jobs_table {
                format!("\n# {c4}\n[channels.shop.jobs]\nauth-refresh = \"50m\" # {c5}\n", c4 = comments[3], c5 = comments[4])
            } else {
                String::new()
            };
            let text = format!(
                "# {c0}\ndisplay-name = \"Acme\" # {c1}\nmaster-product-source = \"oms\"\n\n# {c2}\n[channels.shop]\ntype = \"beta-rest\" # type\nbase-url = \"https://api.example.com/v1\"\n{jobs}\n# {c5b}\n",
                c0 = comments[0], c1 = comments[1], c2 = comments[2], c5b = comments[5],
            );
            let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
            set_job_period(&mut doc, "shop", job, period).unwrap();
            let edited = doc.to_string();
            let config = AccountConfig::parse(Path::new("acme.toml"), &edited)
                .unwrap_or_else(|e| panic!("{e}\n{edited}"));
            prop_assert_eq!(config.channels["shop"].period(job), period.parse::<Period>().unwrap(), "{}", edited);
            for line in text.lines() {
                if let Some(at) = line.find('#') {
                    let comment = &line[at..];
                    prop_assert!(edited.contains(comment), "lost `{}`:\n{}", comment, edited);
                }
            }
            // A second edit of the same job is idempotent in effect.
            let before = doc.to_string();
            set_job_period(&mut doc, "shop", job, period).unwrap();
            prop_assert_eq!(doc.to_string(), before);
        }
    }
}

// ---- security ----

both_backends!(no_secret_or_token_reaches_any_output_or_the_account_file);
fn no_secret_or_token_reaches_any_output_or_the_account_file(backend: Backend) {
    let mut config = SandboxPeer::rotating(600);
    config.client_secret = "s3cr3t-Zq9-client-secret".into();
    let sb = SandboxPeer::start(config);
    let first_refresh = sb.current_refresh_token();
    let env = TestEnv::with_channel(
        backend,
        &sb,
        &[("auth-refresh", "50m"), ("import-products", "1h")],
    );
    env.set_master(CHANNEL);
    let mut tokens = vec![first_refresh];
    let mut outputs: Vec<(String, Output)> = Vec::new();
    let mut record = |env: &TestEnv, sb: &Sandbox, tokens: &mut Vec<String>, args: &[&str]| {
        let out = env.run(args);
        tokens.push(sb.current_refresh_token());
        tokens.extend(env.stored_refresh_token(CHANNEL));
        tokens.extend(env.stored_access_token(CHANNEL));
        outputs.push((args.join(" "), out));
    };
    // A refresh and an import at each verbosity and in JSON.
    record(&env, &sb, &mut tokens, &["-v", "run-once"]);
    record(&env, &sb, &mut tokens, &["-vv", "run-once", "--force"]);
    record(
        &env,
        &sb,
        &mut tokens,
        &["--json", "run-once", "--force", "--full"],
    );
    record(
        &env,
        &sb,
        &mut tokens,
        &["-vv", "--json", "run-once", "--force"],
    );
    // A 401 forces an in-job refresh; a 400 fails the import.
    sb.update_switches(|s| s.fail_next = vec![401]);
    record(
        &env,
        &sb,
        &mut tokens,
        &["-vv", "run-once", "--force", "--job", "import-products"],
    );
    sb.update_switches(|s| s.fail_next = vec![400]);
    record(
        &env,
        &sb,
        &mut tokens,
        &["-vv", "run-once", "--force", "--job", "import-products"],
    );
    // A rejected refresh token fails auth-refresh.
    let _ = sb.mint_refresh_token();
    record(&env, &sb, &mut tokens, &["-vv", "run-once", "--force"]);
    record(
        &env,
        &sb,
        &mut tokens,
        &["--json", "-vv", "run-once", "--force"],
    );
    for args in [
        &["-vv", "status"][..],
        &["--json", "status"],
        &["--json", "history"],
        &["-vv", "channel", "show", CHANNEL],
        &["--json", "channel", "show", CHANNEL],
        &["--json", "account", "show"],
    ] {
        record(&env, &sb, &mut tokens, args);
    }
    tokens.sort();
    tokens.dedup();
    assert!(tokens.len() >= 6, "too few tokens seen: {}", tokens.len());
    let secret = sb.client_secret();
    let basic = base64_encode(format!("{}:{}", sb.client_id(), secret).as_bytes());
    let failures = outputs
        .iter()
        .filter(|(_, o)| o.status.code() == Some(1))
        .count();
    assert!(failures >= 2, "the run should include failures");
    for (args, out) in &outputs {
        let text = format!("{}{}", stdout(out), stderr(out));
        assert!(
            !text.contains(&secret),
            "`{args}` printed the client secret"
        );
        assert!(
            !text.contains(&basic),
            "`{args}` printed the Basic credentials"
        );
        for token in &tokens {
            assert!(
                !text.contains(token.as_str()),
                "`{args}` printed a token:\n{text}"
            );
        }
    }
    let account = env.account_text();
    for token in &tokens {
        assert!(
            !account.contains(token.as_str()),
            "a token reached the account file"
        );
    }
    assert!(!account.contains(&secret));
    for file in files_under(&env.config_dir()).keys() {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        assert!(
            tokens.iter().all(|t| !text.contains(t.as_str())),
            "{}",
            file.display()
        );
    }
}

/// Standard base64 (RFC 4648), for the HTTP Basic credentials.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn store_and_lock_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let sb = SandboxPeer::start(SandboxPeer::rotating(50));
    let env = TestEnv::with_channel(
        Backend::Sqlite,
        &sb,
        &[("auth-refresh", "50m"), ("import-products", "1h")],
    );
    env.set_master(CHANNEL);
    env.ok(["run-once"]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&env.data_dir()), 0o700, "data dir");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(env.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(mode(&path), 0o600, "{name} is {:o}", mode(&path));
        seen.push(name);
    }
    assert!(
        seen.iter().any(|n| n == &format!("{ACCOUNT}.db")),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|n| n.ends_with(".lock")),
        "no lock file: {seen:?}"
    );
    // Edit lock files next to the account file are private too.
    for path in files_under(&env.config_dir()).keys() {
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .ends_with(".lock")
        {
            assert_eq!(
                mode(path) & 0o077,
                0,
                "{} is {:o}",
                path.display(),
                mode(path)
            );
        }
    }
}

#[test]
fn plain_http_to_a_non_loopback_host_is_refused() {
    let sb = SandboxPeer::start(SandboxPeer::rotating(0));
    let env = TestEnv::with_channel(Backend::Sqlite, &sb, &[]);
    let before = env.account_text();
    for args in [
        &[
            "channel",
            "add",
            "web",
            "--type",
            "beta-rest",
            "--base-url",
            "http://api.example.com/v1",
        ][..],
        &[
            "channel",
            "add",
            "web",
            "--type",
            "beta-rest",
            "--base-url",
            "https://api.example.com/v1",
            "--token-url",
            "http://api.example.com/token",
            "--client-id",
            "c",
            "--client-secret-env",
            "X",
        ],
        &[
            "channel",
            "add",
            "web",
            "--type",
            "beta-rest",
            "--base-url",
            "http://10.0.0.1/v1",
        ],
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        assert!(stderr(&out).contains("http://"), "{}", describe(&out));
        assert_eq!(env.account_text(), before, "a refused add changed the file");
    }
    // Written by hand, the file is reported by validate and the channel skipped by run-once.
    let edited = format!(
        "{before}\n[channels.web]\ntype = \"beta-rest\"\nbase-url = \"http://api.example.com/v1\"\n"
    );
    std::fs::write(env.account_file(), &edited).unwrap();
    let out = env.run(["validate"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stdout(&out).contains("insecure-url"), "{}", describe(&out));
    let out = env.run(["--json", "validate"]);
    assert!(stdout(&out).contains("insecure-url"), "{}", describe(&out));
    assert_eq!(env.account_text(), edited, "validate rewrote the file");
}

#[test]
fn an_unwritable_config_dir_gives_a_clear_error_and_loses_nothing() {
    use std::os::unix::fs::PermissionsExt as _;
    let sb = SandboxPeer::start(SandboxPeer::rotating(0));
    let env = TestEnv::with_channel(Backend::Sqlite, &sb, &[("auth-refresh", "50m")]);
    let before = env.config_files();
    let accounts = env.config_dir().join("accounts");
    std::fs::set_permissions(&accounts, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = accounts.join(".probe");
    let chmod_binds = std::fs::write(&probe, b"x").is_err();
    let _ = std::fs::remove_file(&probe);
    if chmod_binds {
        let out = env.run(["channel", "set-period", CHANNEL, "auth-refresh", "1h"]);
        std::fs::set_permissions(&accounts, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
        assert!(stderr(&out).contains("accounts"), "{}", describe(&out));
        assert_eq!(env.config_files(), before, "a refused edit changed files");
    } else {
        std::fs::set_permissions(&accounts, std::fs::Permissions::from_mode(0o755)).unwrap();
        eprintln!(
            "note: running as root, chmod 0555 does not stop writes; using a config dir under a regular file instead"
        );
    }
    // Works as root too: a config dir whose parent is a regular file.
    let blocker = env.root().join("blocker");
    std::fs::write(&blocker, b"not a directory\n").unwrap();
    let bad_dir = blocker.join("config");
    let mut add = env.bare_command();
    add.arg("--config-dir")
        .arg(&bad_dir)
        .arg("--data-dir")
        .arg(env.data_dir())
        .args(["account", "add", "other"]);
    let out = env.finish(add, None);
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        stderr(&out).contains("blocker/config"),
        "the error does not name the path:\n{}",
        describe(&out)
    );
    assert_eq!(std::fs::read(&blocker).unwrap(), b"not a directory\n");
    assert_eq!(env.config_files(), before);
}
