//! Files as users really have them, through the real binary: symlinked and
//! CRLF/BOM account files, no lock litter, refusals worded as refusals,
//! `account add` and `validate` that never pass a bad file, empty
//! environment variables, a data dir that is a file, one exit code for a
//! missing account.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::process::Output;

use crate::cli::config_env as env_with_secret;

const BASE: &str = "display-name = \"Acme\"\nmaster-product-source = \"oms\"\n\n# the shop\n[channels.shop]\ntype = \"beta-rest\"\nbase-url = \"https://api.shop.example/v1\"\n\n[channels.shop.auth]\ntoken-url = \"https://api.shop.example/oauth/token\"\ngrant = \"refresh_token\"\nclient-id = \"acme\"\nclient-secret-env = \"OMS_CLI_TEST_SECRET\"\n\n[channels.shop.jobs]\nauth-refresh = \"50m\"\nimport-products = \"none\"\nexport-products = \"1h\"\n";

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn names_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn an_edit_through_a_symlink_changes_the_target_and_keeps_its_mode() {
    let env = env_with_secret();
    let real_dir = env.config_dir().join("../shared-configs");
    std::fs::create_dir_all(&real_dir).unwrap();
    let target = real_dir.join("acme.toml");
    std::fs::write(&target, BASE).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    symlink("../../shared-configs/acme.toml", env.account_path("acme")).unwrap();
    env.current("acme");

    env.cmd(["channel", "set-period", "shop", "export-products", "2h"])
        .assert()
        .success();
    let link = std::fs::symlink_metadata(env.account_path("acme")).unwrap();
    assert!(link.file_type().is_symlink(), "the link stays a link");
    let text = std::fs::read_to_string(&target).unwrap();
    assert_eq!(
        text,
        BASE.replace("export-products = \"1h\"", "export-products = \"2h\"")
    );
    let meta = std::fs::metadata(&target).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    use std::os::unix::fs::MetadataExt;
    let dir_owner = std::fs::metadata(&real_dir).unwrap().uid();
    assert_eq!(meta.uid(), dir_owner);
    assert_eq!(names_in(&real_dir), ["acme.toml"], "no temp or lock files");
    assert_eq!(names_in(&env.config_dir().join("accounts")), ["acme.toml"]);
}

#[test]
fn edits_keep_crlf_line_ends_and_a_byte_order_mark() {
    let env = env_with_secret();
    let crlf = format!("\u{feff}{}", BASE.replace('\n', "\r\n"));
    env.account("acme", &crlf).current("acme");
    env.cmd(["channel", "set-period", "shop", "export-products", "2h"])
        .assert()
        .success();
    let after = env.read_account("acme");
    assert_eq!(
        after,
        crlf.replace("export-products = \"1h\"", "export-products = \"2h\"")
    );
    // A new table lands in the same style too.
    env.cmd([
        "channel",
        "add",
        "web",
        "--type",
        "beta-rest",
        "--base-url",
        "https://web.example/v1",
    ])
    .assert()
    .success();
    let after = env.read_account("acme");
    assert!(after.starts_with('\u{feff}'));
    assert!(
        !after.replace("\r\n", "").contains('\n'),
        "only CRLF: {after:?}"
    );
    assert!(after.contains("[channels.web]\r\n"), "{after:?}");
    // A no-op edit writes nothing.
    let before = env.bytes(env.account_path("acme"));
    env.cmd(["channel", "set-period", "shop", "export-products", "2h"])
        .assert()
        .success();
    assert_eq!(env.bytes(env.account_path("acme")), before);
}

#[test]
fn refusals_and_failures_leave_no_lock_files_and_never_say_internal_error() {
    let env = env_with_secret();
    let with_master = BASE
        .replace(
            "master-product-source = \"oms\"",
            "master-product-source = \"shop\"",
        )
        .replace("export-products = \"1h\"", "export-products = \"none\"");
    env.account("acme", &with_master).current("acme");
    let no_auth = "display-name = \"B\"\nmaster-product-source = \"oms\"\n[channels.x]\ntype = \"beta-rest\"\nbase-url = \"https://x.example\"\n";
    env.account("bare", no_auth);
    let cases: [(&[&str], &str); 4] = [
        (
            &["channel", "set-period", "shop", "export-products", "1h"],
            "error[export-to-master]",
        ),
        (
            &["channel", "remove", "shop"],
            "error[unknown-master-source]",
        ),
        (
            &[
                "--account",
                "bare",
                "channel",
                "set-period",
                "x",
                "auth-refresh",
                "1h",
            ],
            "error[missing-auth]",
        ),
        (
            &["channel", "set-period", "nosuch", "export-products", "1h"],
            "does not exist",
        ),
    ];
    for (args, finding) in cases {
        let out = env.cmd(args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(finding), "{args:?}: {err}");
        assert!(!err.contains("internal error"), "{args:?}: {err}");
        if finding.starts_with("error[") {
            assert!(err.contains("refused"), "{args:?}: {err}");
        }
    }
    assert_eq!(env.read_account("acme"), with_master);
    assert_eq!(
        names_in(&env.config_dir().join("accounts")),
        ["acme.toml", "bare.toml"]
    );
    assert_eq!(names_in(&env.config_dir()), ["accounts", "config.toml"]);
}

#[test]
fn an_old_lock_file_next_to_the_account_is_cleaned_up() {
    let env = env_with_secret();
    env.account("acme", BASE).current("acme");
    env.file("accounts/.acme.toml.lock", "");
    env.cmd(["channel", "set-period", "shop", "export-products", "2h"])
        .assert()
        .success();
    assert_eq!(names_in(&env.config_dir().join("accounts")), ["acme.toml"]);
}

#[test]
fn account_add_validates_before_it_writes() {
    let env = env_with_secret();
    let out = env
        .cmd(["account", "add", "a", "--master-product-source", "nosuch"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error[unknown-master-source]"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert!(!env.account_path("a").exists());
    assert!(!env.path("config.toml").exists());
    env.cmd(["account", "add", "a"]).assert().success();
}

#[test]
fn validate_offline_skips_machine_checks_and_missing_things_are_errors() {
    let env = env_with_secret();
    env.account("acme", BASE.replace("OMS_CLI_TEST_SECRET", "NOT_SET_IN_CI"))
        .current("acme");
    let out = env.cmd(["validate", "--strict"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "missing-secret is a warning here"
    );
    env.cmd(["validate", "--strict", "--offline"])
        .assert()
        .code(0);
    env.cmd(["validate", "--all-accounts", "--strict", "--offline"])
        .assert()
        .code(0);

    // A config dir that does not exist: exit 2, never `"ok": true`.
    let out = env
        .bare_command()
        .args(["--config-dir", "/nonexistent/oms-config", "--json"])
        .args(["validate", "--all-accounts", "--strict"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/nonexistent/oms-config"),
        "{}",
        stderr(&out)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\"ok\": true"));
    // No account files at all, or an account that does not exist: exit 2.
    let empty = env_with_secret();
    empty.cmd(["validate", "--all-accounts"]).assert().code(2);
    env.cmd(["--account", "nosuch", "validate"])
        .assert()
        .code(2);
}

#[test]
fn the_shipped_ci_script_passes_on_the_shipped_example() {
    let env = env_with_secret();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/acme.toml");
    std::fs::copy(example, env.account_path("acme")).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ci-validate.sh");
    let out = env
        .tool("sh")
        .arg(script)
        .arg(env.config_dir())
        .env_remove("SHOP_EU_SECRET")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    // And it still fails a broken file.
    env.account("broken", "master-product-source = \"nosuch\"\n");
    let out = env
        .tool("sh")
        .arg(script)
        .arg(env.config_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn empty_environment_variables_count_as_unset() {
    let env = env_with_secret();
    env.account("acme", BASE).current("acme");
    // `bare_command` gives HOME an empty dir of its own and no XDG_* dirs.
    let out = env
        .bare_command()
        .args(["--config-dir"])
        .arg(env.config_dir())
        .args(["account", "current"])
        .env("OMS_CHANNELS_DATA_DIR", "")
        .env("OMS_CHANNELS_ACCOUNT", "")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("acme"));
    let out = env
        .bare_command()
        .args(["account", "list"])
        .env("OMS_CHANNELS_CONFIG_DIR", "")
        .env("OMS_CHANNELS_DATA_DIR", "")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_data_dir_that_is_a_file_is_named_in_the_error() {
    let env = env_with_secret();
    env.account("acme", BASE).current("acme");
    let file = env.config_dir().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let list = env.config_dir().join("p.jsonl");
    std::fs::write(&list, "").unwrap();
    for args in [
        vec![
            "products".to_string(),
            "load".into(),
            list.display().to_string(),
        ],
        vec!["run-once".to_string(), "--force".into()],
    ] {
        let out = env
            .bare_command()
            .arg("--config-dir")
            .arg(env.config_dir())
            .arg("--data-dir")
            .arg(&file)
            .args(&args)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("is a file, not a directory"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("os error 17"), "{err}");
    }
}

#[test]
fn a_missing_account_has_the_same_exit_code_everywhere() {
    let env = env_with_secret();
    env.account("acme", BASE).current("acme");
    for args in [
        ["account", "use", "nosuch"],
        ["account", "remove", "nosuch"],
    ] {
        let out = env.cmd(args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("`nosuch` does not exist"), "{args:?}: {err}");
    }
    let commands: [&[&str]; 10] = [
        &["validate"],
        &["account", "show"],
        &["channel", "list"],
        &["channel", "reset", "shop"],
        &["status"],
        &["history"],
        &["products", "list"],
        &["products", "count"],
        &["products", "remove", "A"],
        &["run-once"],
    ];
    for args in commands {
        let mut all = vec!["--account", "nosuch"];
        all.extend_from_slice(args);
        let out = env.cmd(&all).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("`nosuch` does not exist"), "{args:?}: {err}");
    }
}
