//! The configuration CLI end to end: real account files in a temp config dir,
//! the real binary, and assertions on what an operator sees (output lines,
//! JSON documents, exit codes) and on the files left behind.

use std::process::Output;

use serde_json::Value;
use test_support::TestEnv;

/// The variable the fixtures name as their client secret source.
pub const SECRET_VAR: &str = "OMS_CLI_TEST_SECRET";

/// An env for the configuration commands: no account yet, and the
/// fixtures' secret present, so `missing-secret` appears only where a test
/// removes it.
pub fn config_env() -> TestEnv {
    TestEnv::builder()
        .var(SECRET_VAR, "present-but-never-printed")
        .build()
}

/// One clean channel: validates without findings while `SECRET_VAR` is set.
const BASE: &str = r#"display-name = "Acme Retail"
master-product-source = "oms"

[channels.shop-eu]
type = "beta-rest"
base-url = "https://api.shop-eu.example/v1"

[channels.shop-eu.auth]
token-url = "https://api.shop-eu.example/oauth/token"
grant = "refresh_token"
client-id = "acme-oms"
client-secret-env = "OMS_CLI_TEST_SECRET"

[channels.shop-eu.jobs]
auth-refresh = "50m"
import-products = "none"
export-products = "1h"
"#;

/// A second channel for the rules that need two.
const SHOP_UK: &str = r#"
[channels.shop-uk]
type = "beta-rest"
base-url = "https://api.shop-uk.example/v1"

[channels.shop-uk.auth]
token-url = "https://api.shop-uk.example/oauth/token"
grant = "client_credentials"
client-id = "acme-oms"
client-secret-env = "OMS_CLI_TEST_SECRET"

[channels.shop-uk.jobs]
auth-refresh = "50m"
import-products = "1h"
export-products = "none"
"#;

/// A file full of comments, blank lines and a deliberate key order.
const COMMENTED: &str = r#"# accounts/acme.toml: Acme's channels.
# Keep the EU shop fast.

display-name = "Acme Retail"
master-product-source = "oms"      # "oms" or a channel id of this account

# ---- channels: see the ops wiki before changing periods ----

# The EU web shop.
[channels.shop-eu]
type = "beta-rest"                 # key into the capability master list
base-url = "https://api.shop-eu.example/v1"

[channels.shop-eu.auth]
token-url = "https://api.shop-eu.example/oauth/token"
grant = "refresh_token"            # or "client_credentials"
client-id = "acme-oms"
client-secret-env = "OMS_CLI_TEST_SECRET"   # never the secret itself

[channels.shop-eu.jobs]
# import stays off: oms is the master
auth-refresh = "50m"     # token lives 1h
export-products = "1h"   # hourly is plenty
import-products = "none"

# The marketplace only takes pushes.
[channels.market]
base-url = "https://api.market.example/v2"   # v2 since March
type = "beta-rest-export-only"

# end of file: add new channels above
"#;

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", stdout(output)))
}

/// The comment part of every line that has one, in file order.
fn comments(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|line| line.find('#').map(|i| &line[i..]))
        .collect()
}

/// Asserts that `needles` appear in `haystack` in this order (other lines may sit between).
fn assert_in_order(haystack: &[&str], needles: &[&str], context: &str) {
    let mut rest = haystack.iter();
    for needle in needles {
        assert!(
            rest.any(|line| line == needle),
            "comment {needle:?} lost or moved out of order\n{context}"
        );
    }
}

// ---------------------------------------------------------------------------
// validate: every code, both renderings, exit codes
// ---------------------------------------------------------------------------

struct Expected {
    severity: &'static str,
    code: &'static str,
    channel: Option<&'static str>,
    job: Option<&'static str>,
}

const fn e(
    severity: &'static str,
    code: &'static str,
    channel: Option<&'static str>,
    job: Option<&'static str>,
) -> Expected {
    Expected {
        severity,
        code,
        channel,
        job,
    }
}

const EU: Option<&str> = Some("shop-eu");

struct ValidateCase {
    name: &'static str,
    text: String,
    /// Whether `SECRET_VAR` is set for the run.
    secret: bool,
    /// Whether shop-eu has a refresh token stored.
    token: bool,
    expected: Vec<Expected>,
}

fn validate_cases() -> Vec<ValidateCase> {
    let two = format!("{BASE}{SHOP_UK}");
    let case = |name, text: String, expected| ValidateCase {
        name,
        text,
        secret: true,
        token: true,
        expected,
    };
    vec![
        case(
            "unknown-channel-type",
            BASE.replace("type = \"beta-rest\"", "type = \"gamma-rest\""),
            vec![e("error", "unknown-channel-type", EU, None)],
        ),
        case(
            "unsupported-job",
            BASE.replace("type = \"beta-rest\"", "type = \"beta-rest-export-only\"")
                .replace("import-products = \"none\"", "import-products = \"1h\""),
            vec![
                e("error", "unsupported-job", EU, Some("import-products")),
                e(
                    "warning",
                    "import-with-oms-master",
                    EU,
                    Some("import-products"),
                ),
            ],
        ),
        case(
            "period-not-offered",
            BASE.replace("export-products = \"1h\"", "export-products = \"5m\""),
            vec![e(
                "error",
                "period-not-offered",
                EU,
                Some("export-products"),
            )],
        ),
        case(
            "unknown-master-source",
            BASE.replace(
                "master-product-source = \"oms\"",
                "master-product-source = \"shop-us\"",
            ),
            vec![e("error", "unknown-master-source", None, None)],
        ),
        case(
            "export-to-master",
            BASE.replace(
                "master-product-source = \"oms\"",
                "master-product-source = \"shop-eu\"",
            )
            .replace("import-products = \"none\"", "import-products = \"1h\""),
            vec![e("error", "export-to-master", EU, Some("export-products"))],
        ),
        case(
            "import-with-oms-master",
            BASE.replace("import-products = \"none\"", "import-products = \"1h\""),
            vec![e(
                "warning",
                "import-with-oms-master",
                EU,
                Some("import-products"),
            )],
        ),
        case(
            "import-from-non-master",
            two.replacen(
                "master-product-source = \"oms\"",
                "master-product-source = \"shop-eu\"",
                1,
            )
            .replacen("import-products = \"none\"", "import-products = \"1h\"", 1)
            .replacen("export-products = \"1h\"", "export-products = \"none\"", 1),
            vec![e(
                "warning",
                "import-from-non-master",
                Some("shop-uk"),
                Some("import-products"),
            )],
        ),
        case(
            "master-not-imported",
            BASE.replace(
                "master-product-source = \"oms\"",
                "master-product-source = \"shop-eu\"",
            )
            .replace("export-products = \"1h\"", "export-products = \"none\""),
            vec![e(
                "warning",
                "master-not-imported",
                EU,
                Some("import-products"),
            )],
        ),
        case(
            "auth-disabled",
            BASE.replace("auth-refresh = \"50m\"", "auth-refresh = \"none\""),
            vec![e("warning", "auth-disabled", EU, Some("auth-refresh"))],
        ),
        case(
            "auth-slower-than-token",
            BASE.replace("auth-refresh = \"50m\"", "auth-refresh = \"2h\""),
            vec![e(
                "warning",
                "auth-slower-than-token",
                EU,
                Some("auth-refresh"),
            )],
        ),
        case(
            "insecure-url",
            BASE.replace(
                "base-url = \"https://api.shop-eu.example/v1\"",
                "base-url = \"http://api.shop-eu.example/v1\"",
            ),
            vec![e("error", "insecure-url", EU, None)],
        ),
        ValidateCase {
            name: "missing-secret",
            text: BASE.to_string(),
            secret: false,
            token: true,
            expected: vec![e("warning", "missing-secret", EU, Some("auth-refresh"))],
        },
        ValidateCase {
            name: "missing-refresh-token",
            text: BASE.to_string(),
            secret: true,
            token: false,
            expected: vec![e(
                "warning",
                "missing-refresh-token",
                EU,
                Some("auth-refresh"),
            )],
        },
        case(
            "relative-secret-path",
            BASE.replace(
                "client-secret-env = \"OMS_CLI_TEST_SECRET\"",
                "client-secret-file = \"secrets/shop-eu\"",
            ),
            vec![
                e("warning", "relative-secret-path", EU, None),
                e("warning", "missing-secret", EU, Some("auth-refresh")),
            ],
        ),
    ]
}

#[test]
fn the_clean_base_file_validates_clean() {
    let env = config_env();
    env.account("acme", BASE).logged_in("acme", "shop-eu");
    let out = env
        .cmd(["--account", "acme", "validate", "--strict"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "acme: ok\n");
    // http:// to loopback is allowed. (Another endpoint: its own token.)
    env.account(
        "acme",
        BASE.replace("https://api.shop-eu.example/v1", "http://127.0.0.1:8080/v1"),
    )
    .logged_in("acme", "shop-eu");
    env.cmd(["--account", "acme", "validate", "--strict"])
        .assert()
        .code(0);
}

#[test]
fn every_validation_code_reaches_the_user() {
    for case in validate_cases() {
        let env = config_env();
        env.account("acme", &case.text);
        if case.token {
            env.logged_in("acme", "shop-eu");
        }
        let run = |extra: &[&str]| {
            let mut cmd = env.cmd(["--account", "acme", "validate"]);
            cmd.args(extra);
            if !case.secret {
                cmd.env_remove(SECRET_VAR);
            }
            cmd.output().unwrap()
        };
        let name = case.name;
        let has_error = case.expected.iter().any(|x| x.severity == "error");

        // Human output: one `acme/<ch>: severity[code]: message` line per finding.
        let human = run(&[]);
        let text = stdout(&human);
        let finding_lines: Vec<&str> = text.lines().filter(|l| l.contains("]: ")).collect();
        assert_eq!(
            finding_lines.len(),
            case.expected.len(),
            "{name}: findings\n{text}"
        );
        for x in &case.expected {
            let prefix = match x.channel {
                Some(ch) => format!("acme/{ch}: {}[{}]: ", x.severity, x.code),
                None => format!("acme: {}[{}]: ", x.severity, x.code),
            };
            let line = finding_lines
                .iter()
                .find(|l| l.starts_with(&prefix))
                .unwrap_or_else(|| panic!("{name}: no line starting {prefix:?}\n{text}"));
            assert!(line.len() > prefix.len() + 10, "{name}: empty message");
        }
        let errors = case
            .expected
            .iter()
            .filter(|x| x.severity == "error")
            .count();
        let warnings = case.expected.len() - errors;
        let summary = format!(
            "acme: {errors} error{}, {warnings} warning{}",
            if errors == 1 { "" } else { "s" },
            if warnings == 1 { "" } else { "s" }
        );
        assert!(text.lines().any(|l| l == summary), "{name}: {text}");
        assert_eq!(
            human.status.code(),
            Some(if has_error { 1 } else { 0 }),
            "{name}: exit\n{text}"
        );

        // --strict turns warnings into a failure.
        assert_eq!(run(&["--strict"]).status.code(), Some(1), "{name}: strict");

        // JSON: the same findings with every field.
        let doc = json(&run(&["--json"]));
        assert_eq!(doc["ok"], Value::Bool(!has_error), "{name}: {doc:#}");
        let findings = doc["findings"].as_array().expect("findings array");
        assert_eq!(findings.len(), case.expected.len(), "{name}: {doc:#}");
        for x in &case.expected {
            let f = findings
                .iter()
                .find(|f| f["code"] == x.code)
                .unwrap_or_else(|| panic!("{name}: no {} in {doc:#}", x.code));
            assert_eq!(f["severity"], x.severity, "{name}");
            assert_eq!(f["account"], "acme", "{name}");
            assert_eq!(f["channel"].as_str(), x.channel, "{name}");
            assert_eq!(f["job"].as_str(), x.job, "{name}");
            let message = f["message"].as_str().expect("message");
            let channel = x.channel.map_or(String::new(), |c| format!("/{c}"));
            let line = format!("acme{channel}: {}[{}]: {message}", x.severity, x.code);
            assert!(
                text.lines().any(|l| l == line),
                "{name}: JSON message differs from the line\n{line}\n{text}"
            );
        }
    }
}

#[test]
fn the_brief_example_line_is_printed_verbatim() {
    let env = config_env();
    env.account(
        "acme",
        BASE.replace("export-products = \"1h\"", "export-products = \"5m\""),
    );
    env.cmd(["--account", "acme", "validate"])
        .assert()
        .code(1)
        .stdout(predicates::str::starts_with(
            "acme/shop-eu: error[period-not-offered]: export-products 5m is not offered by beta-rest (offered: 15m, 30m, 1h, 2h, 4h, 6h, 12h, 24h)\n",
        ));
}

#[test]
fn periods_compare_as_durations() {
    let env = config_env();
    env.account(
        "acme",
        BASE.replace("export-products = \"1h\"", "export-products = \"60m\""),
    )
    .logged_in("acme", "shop-eu");
    env.cmd(["--account", "acme", "validate", "--strict"])
        .assert()
        .code(0);
}

#[test]
fn unparsable_files_exit_2_naming_file_line_and_column() {
    let cases = [
        (
            BASE.replace("export-products = \"1h\"", "export-products = 1h"),
            "acme.toml:17:19",
        ),
        (
            BASE.replace("export-products = \"1h\"", "export-products = \"5x\""),
            "acme.toml:17:19",
        ),
        (
            BASE.replace("export-products = \"1h\"", "sync-orders = \"1h\""),
            "acme.toml:17:1",
        ),
        (
            BASE.replace("channels.shop-eu", "channels.Shop"),
            "acme.toml:4:11",
        ),
    ];
    for (text, location) in cases {
        let env = config_env();
        env.account("acme", &text);
        for json_flag in [false, true] {
            let mut cmd = env.cmd(["--account", "acme", "validate"]);
            if json_flag {
                cmd.arg("--json");
            }
            let out = cmd.output().unwrap();
            assert_eq!(out.status.code(), Some(2), "{location}: {}", stderr(&out));
            let err = stderr(&out);
            let expected = format!(
                "{}:{}",
                env.account_path("acme").display(),
                location.trim_start_matches("acme.toml:")
            );
            assert!(err.contains(&expected), "want {expected}: {err}");
        }
        // --all-accounts reports the broken account in the document and still exits 2.
        let out = env
            .cmd(["validate", "--all-accounts", "--json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let doc = json(&out);
        let error = doc["accounts"][0]["error"].as_str().expect("error text");
        assert!(
            error.contains(location.trim_start_matches("acme.toml")),
            "{error}"
        );
    }
}

// ---------------------------------------------------------------------------
// refused edits leave the file byte-for-byte unchanged
// ---------------------------------------------------------------------------

#[test]
fn refused_edits_leave_the_file_byte_identical() {
    // (args, exit code, a fragment stderr must hold)
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["channel", "set-period", "nope", "export-products", "1h"],
            1,
            "channel `nope` does not exist",
        ),
        (
            &["channel", "set-period", "shop-eu", "sync-orders", "1h"],
            1,
            "unknown job `sync-orders`",
        ),
        (
            &["channel", "set-period", "shop-eu", "export-products", "5x"],
            1,
            "invalid period `5x`",
        ),
        (
            &[
                "channel",
                "set-period",
                "shop-eu",
                "export-products",
                "--",
                "-5m",
            ],
            1,
            "cannot be negative",
        ),
        (
            &["channel", "set-period", "shop-eu", "export-products", "0m"],
            1,
            "longer than zero",
        ),
        (
            &["channel", "set-period", "shop-eu", "export-products", ""],
            1,
            "invalid period ``",
        ),
        (
            &["channel", "set-period", "shop-eu", "export-products", "5m"],
            1,
            "export-products 5m is not offered by beta-rest",
        ),
        (
            &["channel", "set-period", "market", "import-products", "1h"],
            1,
            "beta-rest-export-only does not offer import-products",
        ),
        (
            &["channel", "set-period", "market", "export-products", "15m"],
            1,
            "not offered by beta-rest-export-only",
        ),
        (
            &["account", "set-master-source", "shop-us"],
            1,
            "`shop-us` is not a channel of this account",
        ),
        (
            &["account", "set-master-source", "../x"],
            1,
            "invalid channel id",
        ),
        (
            &[
                "channel",
                "add",
                "shop-eu",
                "--type",
                "beta-rest",
                "--base-url",
                "https://x.example",
            ],
            1,
            "channel `shop-eu` already exists",
        ),
        (
            &[
                "channel",
                "add",
                "Shop",
                "--type",
                "beta-rest",
                "--base-url",
                "https://x.example",
            ],
            1,
            "invalid channel id `Shop`",
        ),
        (
            &[
                "channel",
                "add",
                "../x",
                "--type",
                "beta-rest",
                "--base-url",
                "https://x.example",
            ],
            1,
            "invalid channel id `../x`",
        ),
        (
            &[
                "channel",
                "add",
                "oms",
                "--type",
                "beta-rest",
                "--base-url",
                "https://x.example",
            ],
            1,
            "reserved",
        ),
        (
            &[
                "channel",
                "add",
                "shop-us",
                "--type",
                "gamma-rest",
                "--base-url",
                "https://x.example",
            ],
            1,
            "unknown channel type `gamma-rest`",
        ),
        (
            &[
                "channel",
                "add",
                "shop-us",
                "--type",
                "beta-rest",
                "--base-url",
                "http://api.shop-us.example",
            ],
            1,
            "plain http://",
        ),
        (
            &[
                "channel",
                "add",
                "shop-us",
                "--type",
                "beta-rest",
                "--base-url",
                "https://api.shop-us.example",
                "--token-url",
                "http://10.0.0.1/token",
                "--client-id",
                "x",
                "--client-secret-env",
                "X",
            ],
            1,
            "--token-url",
        ),
        (&["channel", "remove", "shop-us"], 1, "does not exist"),
    ];
    let env = config_env();
    env.account("acme", COMMENTED).current("acme");
    let path = env.account_path("acme");
    let before = env.bytes(&path).unwrap();
    for (args, code, fragment) in cases {
        let out = env.cmd(*args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {err}");
        assert!(
            err.contains(fragment),
            "{args:?}: want {fragment:?} in {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", stdout(&out));
        assert_eq!(
            env.bytes(&path).unwrap(),
            before,
            "{args:?} changed the file"
        );
    }
    // Only the account file and its lock file may exist: no temp files left behind.
    let mut names: Vec<String> = std::fs::read_dir(env.path("accounts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.retain(|n| n != ".acme.toml.lock");
    assert_eq!(names, ["acme.toml"]);
}

#[test]
fn a_negative_period_without_dashdash_is_refused_too() {
    let env = config_env();
    env.account("acme", COMMENTED).current("acme");
    let before = env.bytes(env.account_path("acme"));
    env.cmd(["channel", "set-period", "shop-eu", "export-products", "-5m"])
        .assert()
        .failure();
    assert_eq!(env.bytes(env.account_path("acme")), before);
}

#[test]
fn a_malformed_account_file_is_reported_and_never_rewritten() {
    let broken = COMMENTED.replace("export-products = \"1h\"", "export-products = 1h");
    let env = config_env();
    env.account("acme", &broken).current("acme");
    let path = env.account_path("acme");
    let edits: &[&[&str]] = &[
        &["channel", "set-period", "shop-eu", "export-products", "2h"],
        &["channel", "set-period", "shop-eu", "auth-refresh", "none"],
        &["account", "set-master-source", "oms"],
        &[
            "channel",
            "add",
            "shop-us",
            "--type",
            "beta-rest",
            "--base-url",
            "https://x.example",
        ],
        &["channel", "remove", "market"],
    ];
    for args in edits {
        let out = env.cmd(*args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{}:23:19", path.display())),
            "{args:?}: {err}"
        );
        assert_eq!(env.bytes(&path).unwrap(), broken.as_bytes(), "{args:?}");
    }
}

// ---------------------------------------------------------------------------
// edits keep comments, blank lines and key order
// ---------------------------------------------------------------------------

#[test]
fn set_period_changes_exactly_one_value() {
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["shop-eu", "export-products", "30m"],
            "export-products = \"1h\"   # hourly",
            "export-products = \"30m\"   # hourly",
        ),
        (
            &["shop-eu", "import-products", "none"],
            // Setting what is already there writes nothing new.
            "import-products = \"none\"",
            "import-products = \"none\"",
        ),
        (
            &["shop-eu", "auth-refresh", "60m"],
            "auth-refresh = \"50m\"     # token",
            "auth-refresh = \"60m\"     # token",
        ),
        (
            // A channel without a jobs table gets one right under it.
            &["market", "export-products", "2h"],
            "type = \"beta-rest-export-only\"\n",
            "type = \"beta-rest-export-only\"\n\n[channels.market.jobs]\nexport-products = \"2h\"\n",
        ),
    ];
    for (args, from, to) in cases {
        let env = config_env();
        env.account("acme", COMMENTED).current("acme");
        let out = env
            .cmd(["channel", "set-period"])
            .args(*args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(COMMENTED.contains(from));
        assert_eq!(
            env.read_account("acme"),
            COMMENTED.replacen(from, to, 1),
            "{args:?}"
        );
    }
}

#[test]
fn set_period_reports_old_new_and_caused_warnings() {
    let env = config_env();
    env.account("acme", COMMENTED).current("acme");
    env.cmd(["channel", "set-period", "shop-eu", "export-products", "2h"])
        .assert()
        .code(0)
        .stdout("acme/shop-eu: export-products: 1h → 2h\n");
    env.cmd(["channel", "set-period", "shop-eu", "import-products", "1h"])
        .assert()
        .code(0)
        .stdout(predicates::str::starts_with(
            "acme/shop-eu: import-products: none → 1h\nacme/shop-eu: warning[import-with-oms-master]: ",
        ));
    env.cmd(["channel", "set-period", "shop-eu", "import-products", "1h"])
        .assert()
        .code(0)
        .stdout("acme/shop-eu: import-products: 1h → 1h (unchanged)\n");
}

#[test]
fn set_master_source_changes_exactly_one_value() {
    let env = config_env();
    let text = COMMENTED.replace(
        "export-products = \"1h\"   # hourly",
        "export-products = \"none\"   # hourly",
    );
    env.account("acme", &text).current("acme");
    env.cmd(["account", "set-master-source", "shop-eu"])
        .assert()
        .code(0)
        .stdout(predicates::str::starts_with(
            "acme: master-product-source: oms → shop-eu\n",
        ));
    assert_eq!(
        env.read_account("acme"),
        text.replace(
            "master-product-source = \"oms\"      #",
            "master-product-source = \"shop-eu\"      #"
        )
    );
}

#[test]
fn edits_that_would_add_validation_errors_are_refused() {
    let env = config_env();
    env.account("acme", COMMENTED).current("acme");
    // shop-eu exports: making it the master would be export-to-master.
    env.cmd(["account", "set-master-source", "shop-eu"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("error[export-to-master]"))
        .stderr(predicates::str::contains("nothing was changed"));
    assert_eq!(env.read_account("acme"), COMMENTED);
    let with_master = COMMENTED
        .replace(
            "master-product-source = \"oms\"",
            "master-product-source = \"shop-eu\"",
        )
        .replace(
            "export-products = \"1h\"   # hourly",
            "export-products = \"none\"   # hourly",
        );
    env.account("acme", &with_master);
    for args in [
        vec!["channel", "set-period", "shop-eu", "export-products", "1h"],
        vec!["channel", "remove", "shop-eu"],
    ] {
        env.cmd(&args)
            .assert()
            .code(1)
            .stderr(predicates::str::contains("nothing was changed"));
        assert_eq!(env.read_account("acme"), with_master, "{args:?}");
    }
}

#[test]
fn channel_add_keeps_every_comment_and_adds_a_parsable_channel() {
    let env = config_env();
    env.account("acme", COMMENTED).current("acme");
    env.cmd([
        "channel",
        "add",
        "shop-us",
        "--type",
        "beta-rest",
        "--base-url",
        "https://api.shop-us.example/v1",
        "--token-url",
        "https://api.shop-us.example/token",
        "--client-id",
        "acme",
        "--client-secret-file",
        "/run/secrets/shop-us",
    ])
    .assert()
    .code(0)
    .stdout(predicates::str::contains("added channel `shop-us`"));
    let after = env.read_account("acme");
    let all = comments(&after);
    assert_in_order(&all, &comments(COMMENTED), &after);
    // Everything up to the trailing comment is untouched.
    let head = COMMENTED.split("# end of file").next().unwrap();
    assert!(after.starts_with(head), "{after}");

    let doc = json(&env.cmd(["channel", "list", "--json"]).output().unwrap());
    let rows = doc["channels"].as_array().unwrap();
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["channel"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["market", "shop-eu", "shop-us"]);
    let us = &rows[2];
    assert_eq!(us["type"], "beta-rest");
    assert_eq!(us["base_url"], "https://api.shop-us.example/v1");
    for job in ["auth_refresh", "import_products", "export_products"] {
        assert_eq!(us[job], "none", "{job}");
    }
    let show = json(
        &env.cmd(["channel", "show", "shop-us", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(show["client_id"], "acme");
    assert_eq!(show["grant"], "refresh_token");
}

#[test]
fn channel_remove_keeps_every_comment_outside_the_channel() {
    // (channel, comments that belong to it and go with it)
    let cases: &[(&str, &[&str])] = &[
        (
            "market",
            &["# The marketplace only takes pushes.", "# v2 since March"],
        ),
        (
            "shop-eu",
            &[
                "# The EU web shop.",
                "# key into the capability master list",
                "# or \"client_credentials\"",
                "# never the secret itself",
                "# import stays off: oms is the master",
                "# token lives 1h",
                "# hourly is plenty",
            ],
        ),
    ];
    for (channel, own) in cases {
        let env = config_env();
        env.account("acme", COMMENTED).current("acme");
        env.cmd(["channel", "remove", channel])
            .assert()
            .code(0)
            .stdout(predicates::str::contains(format!(
                "removed channel `{channel}`"
            )));
        let after = env.read_account("acme");
        let kept: Vec<&str> = comments(COMMENTED)
            .into_iter()
            .filter(|c| !own.contains(c))
            .collect();
        assert_eq!(comments(&after), kept, "{channel}:\n{after}");
        assert!(!after.contains(&format!("[channels.{channel}")), "{after}");
        assert!(after.starts_with("# accounts/acme.toml: Acme's channels.\n# Keep the EU shop fast.\n\ndisplay-name = \"Acme Retail\"\nmaster-product-source"));
        env.cmd(["validate"]).assert().code(0);
    }
}

#[test]
fn eight_concurrent_set_periods_all_land() {
    const PERIODS: [&str; 8] = ["15m", "30m", "1h", "2h", "4h", "6h", "12h", "24h"];
    let mut text =
        String::from("# eight channels, edited at once\nmaster-product-source = \"oms\"\n");
    for i in 0..8 {
        text.push_str(&format!(
            "\n# channel number {i}\n[channels.c{i}]\ntype = \"beta-rest\"   # type {i}\nbase-url = \"https://c{i}.example\"\n\n[channels.c{i}.jobs]\nexport-products = \"none\"   # job {i}\n"
        ));
    }
    let env = config_env();
    env.account("acme", &text).current("acme");
    let children: Vec<_> = PERIODS
        .iter()
        .enumerate()
        .map(|(i, period)| {
            env.command([
                "channel",
                "set-period",
                &format!("c{i}"),
                "export-products",
                period,
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let after = env.read_account("acme");
    assert_eq!(comments(&after), comments(&text), "{after}");
    let doc = json(&env.cmd(["channel", "list", "--json"]).output().unwrap());
    for (i, period) in PERIODS.iter().enumerate() {
        let row = &doc["channels"][i];
        assert_eq!(row["channel"], format!("c{i}"));
        assert_eq!(row["export_products"], *period, "c{i}:\n{after}");
    }
}

// ---------------------------------------------------------------------------
// accounts: selection and `account use`
// ---------------------------------------------------------------------------

#[test]
fn account_use_refuses_bad_and_missing_accounts() {
    let env = config_env();
    env.account("acme", BASE);
    // A missing account is exit 2, as for every command (see error.rs).
    for (name, fragment, code) in [
        ("../x", "invalid account id `../x`", 1),
        ("Acme", "invalid account id `Acme`", 1),
        ("beta", "account `beta` does not exist", 2),
    ] {
        // Once with no config.toml, once with one.
        for existing in [None, Some("# mine\ncurrent-account = \"acme\"\n")] {
            if let Some(text) = existing {
                env.file("config.toml", text);
            }
            let config = env.path("config.toml");
            let before = env.bytes(&config);
            let out = env.cmd(["account", "use", name]).output().unwrap();
            assert_eq!(out.status.code(), Some(code), "{name}");
            assert!(stderr(&out).contains(fragment), "{name}: {}", stderr(&out));
            assert_eq!(env.bytes(&config), before, "{name}");
        }
        std::fs::remove_file(env.path("config.toml")).unwrap();
    }
    assert!(!env.config_dir().join("x.toml").exists());
}

#[test]
fn account_use_keeps_the_config_comments() {
    let env = config_env();
    env.account("acme", BASE).account("beta", BASE);
    env.file(
        "config.toml",
        "# chosen by ops\ncurrent-account = \"acme\"  # default\n",
    );
    env.cmd(["account", "use", "beta"])
        .assert()
        .code(0)
        .stdout("beta: current-account: acme → beta\n");
    assert_eq!(
        env.bytes(env.path("config.toml")).unwrap(),
        b"# chosen by ops\ncurrent-account = \"beta\"  # default\n"
    );
}

#[test]
fn account_selection_precedence() {
    let env = config_env();
    env.account("from-flag", BASE)
        .account("from-env", BASE)
        .account("from-config", BASE)
        .current("from-config");
    let config_path = env.path("config.toml").display().to_string();
    // (flag, env, expected account, source.kind, human source)
    type Case<'a> = (Option<&'a str>, Option<&'a str>, &'a str, &'a str, &'a str);
    let cases: &[Case] = &[
        (
            None,
            None,
            "from-config",
            "config-file",
            "current-account in",
        ),
        (
            None,
            Some(""),
            "from-config",
            "config-file",
            "current-account in",
        ),
        (
            None,
            Some("from-env"),
            "from-env",
            "env",
            "OMS_CHANNELS_ACCOUNT",
        ),
        (Some("from-flag"), None, "from-flag", "flag", "--account"),
        (
            Some("from-flag"),
            Some("from-env"),
            "from-flag",
            "flag",
            "--account",
        ),
    ];
    for (flag, envvar, account, kind, human) in cases {
        let build = |json: bool| {
            let mut cmd = env.cmd(["account", "current"]);
            if let Some(flag) = flag {
                cmd.args(["--account", flag]);
            }
            if let Some(v) = envvar {
                cmd.env("OMS_CHANNELS_ACCOUNT", v);
            }
            if json {
                cmd.arg("--json");
            }
            cmd
        };
        let doc = json(&build(true).output().unwrap());
        assert_eq!(doc["account"], *account, "{flag:?} {envvar:?}");
        assert_eq!(doc["source"]["kind"], *kind, "{flag:?} {envvar:?}");
        assert_eq!(doc["exists"], true);
        if *kind == "config-file" {
            assert_eq!(doc["source"]["path"], config_path.as_str());
        }
        let out = build(false).output().unwrap();
        let line = stdout(&out);
        assert!(
            line.starts_with(&format!("{account} (from {human}")),
            "{flag:?} {envvar:?}: {line}"
        );
        // Commands that read an account say which one they acted on.
        let mut list = env.cmd(["channel", "list"]);
        if let Some(flag) = flag {
            list.args(["--account", flag]);
        }
        if let Some(v) = envvar {
            list.env("OMS_CHANNELS_ACCOUNT", v);
        }
        list.assert()
            .code(0)
            .stdout(predicates::str::starts_with(format!(
                "account: {account} (from {human}"
            )));
    }
    // With nothing selected, the error says how to select.
    std::fs::remove_file(env.path("config.toml")).unwrap();
    env.cmd(["account", "current"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("no account selected"));
    env.cmd(["account", "current", "--account", "../x"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("invalid account id"));
}

// ---------------------------------------------------------------------------
// JSON documents and global flags
// ---------------------------------------------------------------------------

#[test]
fn json_documents_have_the_documented_fields() {
    let env = config_env();
    env.account("acme", COMMENTED)
        .account("beta", "master-product-source = \"oms\"\n")
        .current("acme");

    let list = json(&env.cmd(["account", "list", "--json"]).output().unwrap());
    assert_eq!(list["current"], "acme");
    let accounts = list["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[0]["account"], "acme");
    assert_eq!(accounts[0]["current"], true);
    assert_eq!(accounts[0]["display_name"], "Acme Retail");
    assert_eq!(accounts[0]["master_product_source"], "oms");
    assert_eq!(accounts[0]["channels"], 2);
    assert_eq!(accounts[0]["error"], Value::Null);
    assert_eq!(accounts[1]["account"], "beta");
    assert_eq!(accounts[1]["current"], false);
    assert_eq!(accounts[1]["channels"], 0);

    let channels = json(&env.cmd(["channel", "list", "--json"]).output().unwrap());
    assert_eq!(channels["account"], "acme");
    assert_eq!(channels["source"]["kind"], "config-file");
    let eu = &channels["channels"][1];
    assert_eq!(eu["channel"], "shop-eu");
    assert_eq!(eu["type"], "beta-rest");
    assert_eq!(eu["base_url"], "https://api.shop-eu.example/v1");
    assert_eq!(eu["auth_refresh"], "50m");
    assert_eq!(eu["import_products"], "none");
    assert_eq!(eu["export_products"], "1h");

    let caps = json(
        &env.cmd(["capabilities", "list", "--json"])
            .output()
            .unwrap(),
    );
    let types = caps["types"].as_array().unwrap();
    let beta = types.iter().find(|t| t["name"] == "beta-rest").unwrap();
    assert_eq!(beta["source"], "built-in");
    assert_eq!(beta["protocol"], "beta-rest");
    assert_eq!(beta["token-lifetime"], "1h");
    assert_eq!(beta["jobs"]["export-products"][0], "15m");
    let export_only = types
        .iter()
        .find(|t| t["name"] == "beta-rest-export-only")
        .unwrap();
    assert!(export_only["jobs"].get("import-products").is_none());

    let out = env
        .cmd([
            "channel",
            "set-period",
            "shop-eu",
            "export-products",
            "2h",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let changed = json(&out);
    assert_eq!(changed["account"], "acme");
    assert_eq!(changed["channel"], "shop-eu");
    assert_eq!(changed["job"], "export-products");
    assert_eq!(changed["old"], "1h");
    assert_eq!(changed["new"], "2h");
    assert_eq!(changed["changed"], true);
    assert_eq!(
        changed["path"],
        env.account_path("acme").display().to_string()
    );
    assert_eq!(changed["findings"], Value::Array(vec![]));
    let warned = json(
        &env.cmd([
            "--json",
            "channel",
            "set-period",
            "shop-eu",
            "import-products",
            "1h",
        ])
        .output()
        .unwrap(),
    );
    assert_eq!(warned["findings"][0]["code"], "import-with-oms-master");
}

#[test]
fn global_flags_work_before_and_after_the_command() {
    let env = config_env();
    env.account(
        "acme",
        BASE.replace("export-products = \"1h\"", "export-products = \"5m\""),
    );
    let orders: &[&[&str]] = &[
        &["--json", "--account", "acme", "validate"],
        &["validate", "--json", "--account", "acme"],
        &["--account", "acme", "validate", "--json"],
        &["--json", "validate", "--account", "acme"],
    ];
    let outputs: Vec<Output> = orders
        .iter()
        .map(|args| env.cmd(*args).output().unwrap())
        .collect();
    for (args, out) in orders.iter().zip(&outputs) {
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(json(out)["findings"][0]["code"], "period-not-offered");
        assert_eq!(out.stdout, outputs[0].stdout, "{args:?}");
    }
    // --config-dir after the command, too.
    let out = env
        .bare_command()
        .args(["validate", "--account", "acme", "--json", "--config-dir"])
        .arg(env.config_dir())
        .arg("--data-dir")
        .arg(env.data_dir())
        .output()
        .unwrap();
    assert_eq!(out.stdout, outputs[0].stdout);
    // ... and through the environment.
    let out = env
        .bare_command()
        .env("OMS_CHANNELS_CONFIG_DIR", env.config_dir())
        .env("OMS_CHANNELS_DATA_DIR", env.data_dir())
        .env("OMS_CHANNELS_ACCOUNT", "acme")
        .args(["validate", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, outputs[0].stdout);
}

// ---------------------------------------------------------------------------
// the user capability file
// ---------------------------------------------------------------------------

const USER_CAPABILITIES: &str = r#"# a shop that syncs every 5 minutes
[types.fastshop]
protocol = "beta-rest"
description = "Fast shop"
token-lifetime = "30m"

[types.fastshop.jobs]
auth-refresh = ["15m"]
export-products = ["5m", "15m"]
"#;

#[test]
fn a_user_capability_file_adds_a_type() {
    let env = config_env();
    let account = BASE
        .replace("type = \"beta-rest\"", "type = \"fastshop\"")
        .replace("auth-refresh = \"50m\"", "auth-refresh = \"15m\"")
        .replace("export-products = \"1h\"", "export-products = \"5m\"");
    env.account("acme", &account).current("acme");
    env.cmd(["validate"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains(
            "acme/shop-eu: error[unknown-channel-type]: type `fastshop`",
        ));
    env.file("capabilities.toml", USER_CAPABILITIES)
        .logged_in("acme", "shop-eu");
    env.cmd(["validate", "--strict"])
        .assert()
        .code(0)
        .stdout("acme: ok\n");
    let caps = json(
        &env.cmd(["capabilities", "list", "--json"])
            .output()
            .unwrap(),
    );
    let fast = caps["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "fastshop")
        .expect("fastshop listed");
    assert_eq!(fast["source"], "user");
    assert!(
        caps["types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "beta-rest" && t["source"] == "built-in")
    );
    // The new type's periods are what set-period checks against.
    env.cmd(["channel", "set-period", "shop-eu", "export-products", "15m"])
        .assert()
        .code(0);
    env.cmd(["channel", "set-period", "shop-eu", "export-products", "1h"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("not offered by fastshop"));
    env.cmd(["channel", "set-period", "shop-eu", "import-products", "15m"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "fastshop does not offer import-products",
        ));
    env.cmd([
        "channel",
        "add",
        "shop-fast",
        "--type",
        "fastshop",
        "--base-url",
        "https://fast.example",
    ])
    .assert()
    .code(0);
}

#[test]
fn a_broken_capability_file_exits_2_naming_file_line_and_column() {
    let cases = [
        ("[types.x]\nprotocol = 1\n", "capabilities.toml:2:12"),
        (
            "[types.x]\nprotocol = \"beta-rest\"\n[types.x.jobs]\nexport-products = [\"5x\"]\n",
            "capabilities.toml:4:",
        ),
        (
            "[types.x\nprotocol = \"beta-rest\"\n",
            "capabilities.toml:1:",
        ),
    ];
    for (text, location) in cases {
        let env = config_env();
        env.account("acme", BASE).current("acme");
        env.file("capabilities.toml", text);
        let before = env.bytes(env.account_path("acme"));
        for args in [
            &["validate"][..],
            &["capabilities", "list"],
            &["channel", "set-period", "shop-eu", "export-products", "2h"],
        ] {
            env.cmd(args)
                .assert()
                .code(2)
                .stderr(predicates::str::contains(location));
        }
        assert_eq!(env.bytes(env.account_path("acme")), before);
    }
}

// ---------------------------------------------------------------------------
// completions and hostile input
// ---------------------------------------------------------------------------

#[test]
fn completions_bash_prints_a_script() {
    let env = config_env();
    env.cmd(["completions", "bash"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains(
            "-F _clap_complete_oms_channels oms-channels",
        ))
        // The script asks the binary for candidates as the user types.
        .stdout(predicates::str::contains("COMPLETE=\"bash\""));
}

#[test]
fn a_non_utf8_account_file_is_named() {
    let env = config_env();
    let mut bytes = b"display-name = \"Acme ".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(b"\"\nmaster-product-source = \"oms\"\n");
    env.account("acme", &bytes).current("acme");
    for args in [
        &["validate"][..],
        &["channel", "list"],
        &["channel", "set-period", "x", "export-products", "1h"],
    ] {
        let out = env.cmd(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("UTF-8"), "{err}");
        assert!(
            err.contains(&format!("{}:1:22", env.account_path("acme").display())),
            "{err}"
        );
        assert_eq!(env.bytes(env.account_path("acme")).unwrap(), bytes);
    }
}

#[test]
fn a_secret_in_the_account_file_is_refused_and_never_echoed() {
    const SECRET: &str = "hunter2-s3cr3t-value";
    let cases = [
        BASE.replace(
            "client-secret-env = \"OMS_CLI_TEST_SECRET\"",
            &format!("client-secret = \"{SECRET}\""),
        ),
        BASE.replace(
            "client-id = \"acme-oms\"",
            &format!("client-id = \"acme-oms\"\nclient-secret = \"{SECRET}\""),
        ),
        BASE.replace(
            "type = \"beta-rest\"",
            &format!("type = \"beta-rest\"\nclient-secret = \"{SECRET}\""),
        ),
    ];
    for text in cases {
        let env = config_env();
        env.account("acme", &text).current("acme");
        for args in [
            &["validate"][..],
            &["validate", "--json", "--all-accounts"],
            &["channel", "show", "shop-eu"],
            &["channel", "set-period", "shop-eu", "export-products", "2h"],
            &["account", "list"],
            &["account", "list", "--json"],
            &["account", "show", "-v"],
        ] {
            let out = env.cmd(args).output().unwrap();
            let (o, e) = (stdout(&out), stderr(&out));
            assert!(
                !o.contains(SECRET) && !e.contains(SECRET),
                "{args:?} echoed:\n{o}\n{e}"
            );
            if args[0] != "account" || args[1] != "list" {
                assert_eq!(out.status.code(), Some(2), "{args:?}: {e}");
            }
        }
        let err = stderr(&env.cmd(["validate"]).output().unwrap());
        assert!(
            err.contains(&format!("{}:", env.account_path("acme").display())),
            "{err}"
        );
        assert_eq!(env.read_account("acme"), text);
    }
    // The brief's own case: a clear message that says what to do.
    let env = config_env();
    env.account(
        "acme",
        BASE.replace(
            "client-secret-env = \"OMS_CLI_TEST_SECRET\"",
            &format!("client-secret = \"{SECRET}\""),
        ),
    )
    .current("acme");
    env.cmd(["validate"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("acme.toml:12:17"))
        .stderr(predicates::str::contains(
            "secrets never live in the account file",
        ));
}

// ---------------------------------------------------------------------------
// the shipped sample files
// ---------------------------------------------------------------------------

fn example(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_sample_files_are_valid_and_editable() {
    let env = config_env();
    env.account("acme", example("acme.toml"))
        .file("capabilities.toml", example("capabilities.toml"))
        .current("acme")
        .logged_in("acme", "shop-eu");
    env.cmd(["validate", "--strict"])
        .env("SHOP_EU_SECRET", "x")
        .assert()
        .code(0)
        .stdout("acme: ok\n");
    // Without the secret on this machine, validate says so.
    env.cmd(["validate"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains(
            "acme/shop-eu: warning[missing-secret]: client secret environment variable `SHOP_EU_SECRET`",
        ));
    let caps = json(
        &env.cmd(["capabilities", "list", "--json"])
            .output()
            .unwrap(),
    );
    assert!(
        caps["types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "beta-rest-fast" && t["source"] == "user"),
        "{caps:#}"
    );
    env.cmd([
        "channel",
        "add",
        "shop-fast",
        "--type",
        "beta-rest-fast",
        "--base-url",
        "https://fast.example",
    ])
    .assert()
    .code(0);
    env.cmd([
        "channel",
        "set-period",
        "shop-fast",
        "export-products",
        "5m",
    ])
    .assert()
    .code(0);
    let after = env.read_account("acme");
    assert_in_order(&comments(&after), &comments(&example("acme.toml")), &after);
}

#[test]
fn the_ci_script_fails_on_findings_with_and_without_jq() {
    let script = test_support::repo_root().join("examples/ci-validate.sh");
    let env = config_env();
    let run = |shell: &str, jq: &str| {
        env.tool(shell)
            .arg(&script)
            .arg(env.config_dir())
            .env("JQ", jq)
            .output()
            .expect("run the script")
    };
    for shell in ["sh", "bash"] {
        for jq in ["jq", "/nonexistent/jq"] {
            let what = format!("{shell} JQ={jq}");
            env.account("acme", BASE);
            let out = run(shell, jq);
            assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(&out));

            env.account(
                "acme",
                BASE.replace("import-products = \"none\"", "import-products = \"1h\""),
            );
            let out = run(shell, jq);
            assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
            assert!(stdout(&out).contains("import-with-oms-master"), "{what}");

            env.account("acme", "display-name = \n");
            let out = run(shell, jq);
            assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(&out));
            assert!(
                stdout(&out).contains("acme.toml:1:"),
                "{what}: {}",
                stdout(&out)
            );
        }
    }
    let out = env
        .tool("sh")
        .arg(&script)
        .arg(env.path("nowhere"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn global_account_flag_works_with_account_subcommands_that_take_an_account() {
    let env = config_env();
    env.cmd(["--account", "other", "account", "add", "acme"])
        .assert()
        .success();
    env.cmd(["account", "add", "beta", "--account", "other"])
        .assert()
        .success();
    env.cmd(["--account", "other", "account", "use", "beta"])
        .assert()
        .success();
    env.cmd(["account", "remove", "acme", "--account", "other"])
        .assert()
        .success();
    assert!(env.bytes(env.account_path("acme")).is_none());
    assert!(env.bytes(env.account_path("beta")).is_some());
}

/// In a real terminal stderr is a tty, which turns on coloured logs (this once
/// panicked). `script` gives the command a pseudo-terminal.
#[test]
fn works_in_a_terminal() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("note: `script` (util-linux) is not installed; terminal check skipped");
        return;
    }
    let env = config_env();
    env.account("acme", BASE)
        .current("acme")
        .logged_in("acme", "shop-eu");
    let command = format!(
        "\"$OMS_CHANNELS\" --config-dir {} --data-dir {} -v validate",
        env.config_dir().display(),
        env.data_dir().display()
    );
    let output = env
        .tool("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("NO_COLOR")
        .output()
        .expect("script runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("acme: ok"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}
