//! What comes in from files and channels, through the real binary: the
//! price rule, shop text without control characters, field sizes, secret
//! file paths that mean the same under cron and systemd, and the findings
//! `validate` makes of them. Nothing a file or a channel sends reaches a
//! terminal raw: every human output here is searched for an ESC byte.

use std::process::Output;

use serde_json::{Value, json};

use sandbox::{Product as ShopProduct, Switches};
use test_support::fake_channel::{Rule, Server};
use test_support::peer::SandboxPeer;
use test_support::{Backend, CHANNEL, TestEnv};

use crate::cli::{SECRET_VAR, config_env};

const ESC: u8 = 0x1b;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Both streams, asserting that neither carries an ESC (or BEL) byte.
fn no_raw_control(out: &Output) -> String {
    for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !bytes.iter().any(|b| *b == ESC || *b == 0x07),
            "{name} carries a raw control character:\n{}",
            text(bytes).escape_debug()
        );
    }
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

fn good_line(sku: &str) -> Value {
    json!({"sku": sku, "title": format!("Mug {sku}"), "price": "19.90", "currency": "EUR", "quantity": 3})
}

#[test]
fn bad_load_lines_are_refused_naming_the_line_the_value_and_what_is_allowed() {
    let env = TestEnv::with_account(Backend::Sqlite);
    type Case = (&'static str, Value, &'static str);
    let cases: Vec<Case> = vec![
        (
            "negative price",
            json!({"price": "-1.00"}),
            "line 2: sku `B`: price `-1.00` is negative: a price is 0 or more",
        ),
        (
            "more decimals than USD has",
            json!({"price": "0.001", "currency": "USD"}),
            "line 2: sku `B`: price `0.001` has more decimals than USD allows: at most 2 decimals (ISO 4217)",
        ),
        (
            "decimals in yen",
            json!({"price": "1500.5", "currency": "JPY"}),
            "line 2: sku `B`: price `1500.5` has more decimals than JPY allows: no decimals (ISO 4217)",
        ),
        (
            "unknown currency",
            json!({"currency": "EURO"}),
            "line 2: sku `B`: unknown currency `EURO`: expected an ISO 4217 code in capitals, such as `EUR`",
        ),
        (
            "test currency",
            json!({"currency": "XTS"}),
            "line 2: sku `B`: currency `XTS` is a special code",
        ),
        (
            "ESC in a title",
            json!({"title": "Mug\u{1b}]0;owned\u{7}\u{1b}[2J"}),
            "line 2: sku `B`: title `Mug\\u{1b}]0;owned\\u{7}\\u{1b}[2J` has control character U+001B at character 4: shop text is printable",
        ),
        (
            "TAB in a title",
            json!({"title": "Mug\tred"}),
            "line 2: sku `B`: title `Mug\\tred` has control character U+0009",
        ),
        (
            "a line break in an attribute",
            json!({"attributes": {"color": "red\nB2  forged"}}),
            "line 2: sku `B`: attribute `color` `red\\nB2  forged` has control character U+000A",
        ),
        (
            "oversized title",
            json!({"title": "x".repeat(200_000)}),
            "line 2: sku `B`: title `xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...` is 200000 characters long: at most 255",
        ),
        (
            "too many attributes",
            json!({"attributes": (0..51).map(|i| (format!("a{i}"), json!("x"))).collect::<serde_json::Map<_, _>>()}),
            "line 2: sku `B`: 51 attributes: at most 50",
        ),
        (
            "timestamp beyond the supported range",
            json!({"updated_at": "9999-12-31T23:59:59Z"}),
            "line 2: sku `B`: invalid updated_at: `9999-12-31T23:59:59Z` is beyond the supported range (0001-01-01T00:00:00Z to 9998-12-31T23:59:59Z)",
        ),
    ];
    for (what, change, expected) in cases {
        let mut bad = good_line("B");
        for (key, value) in change.as_object().unwrap() {
            bad[key] = value.clone();
        }
        let path = env.write_file(
            "bad.jsonl",
            &format!("{}\n{bad}\n{}\n", good_line("A"), good_line("C")),
        );
        let out = env.run(["products", "load", path.to_str().unwrap()]);
        let all = no_raw_control(&out);
        assert_eq!(out.status.code(), Some(1), "{what}: {all}");
        assert!(
            all.contains(expected) && all.contains("nothing was loaded"),
            "{what}: expected `{expected}` in:\n{all}"
        );
        assert!(all.len() < 2_000, "{what}: the value is cut: {all}");
        assert_eq!(env.catalog_count(), 0, "{what}: all or nothing");
    }

    // The same file without the bad line loads, prices written with the
    // currency's minor units; and one product is "1 product".
    let path = env.write_file(
        "good.jsonl",
        &format!(
            "{}\n{}\n",
            json!({"sku": "Y", "title": "Yen", "price": "1500.00", "currency": "JPY", "quantity": 1}),
            json!({"sku": "D", "title": "Dinar", "price": "0.5", "currency": "BHD", "quantity": 1})
        ),
    );
    let out = env.ok(["products", "load", path.to_str().unwrap()]);
    assert!(out.contains("loaded 2 products"), "{out}");
    let one = env.write_file("one.jsonl", &format!("{}\n", good_line("A")));
    let out = env.ok(["products", "load", one.to_str().unwrap()]);
    assert!(out.contains("loaded 1 product from"), "{out}");
    assert!(env.ok(["products", "count"]).contains(": 3 products"));
    let list = env.ok(["products", "list"]);
    assert!(list.contains("1500 JPY"), "{list}");
    assert!(list.contains("0.5 BHD"), "{list}");
    assert!(list.contains("19.90 EUR"), "{list}");
}

#[test]
fn the_same_price_spelled_differently_is_no_change_and_exports_nothing() {
    let shop = SandboxPeer::empty();
    let env = TestEnv::with_channel(
        Backend::Sqlite,
        &shop,
        &[("auth-refresh", "50m"), ("export-products", "1h")],
    );
    let load = |price: &str| {
        let line = json!({"sku": "A", "title": "Mug", "price": price, "currency": "EUR", "quantity": 3, "updated_at": "2026-01-31T12:00:00Z"});
        let path = env.write_file("p.jsonl", &format!("{line}\n"));
        env.json(&["products", "load", path.to_str().unwrap()])
    };
    assert_eq!(load("19.9")["created"], 1);
    let first = env.run_once(&[]);
    assert_eq!(first.get("shop", "export-products").items, 1);
    assert_eq!(shop.product("A").unwrap().price, "19.9", "sent as written");
    let again = load("19.900");
    assert_eq!(
        (again["updated"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(1))
    );
    let second = env.run_once(&["--force", "--job", "export-products"]);
    assert_eq!(
        second.get("shop", "export-products").items,
        0,
        "nothing changed: nothing sent"
    );
}

#[test]
fn products_from_a_channel_that_break_a_rule_are_skipped_named_and_never_printed_raw() {
    let shop = SandboxPeer::with(3, Switches::default());
    let bad = |sku: &str, title: &str, price: &str, currency: &str| ShopProduct {
        sku: sku.into(),
        title: title.into(),
        price: price.into(),
        currency: currency.into(),
        quantity: 1,
        attributes: Default::default(),
        updated_at: String::new(),
        id: None,
    };
    shop.put_product(bad(
        "EVIL-1",
        "Mug\u{1b}]0;owned\u{7}\u{1b}[2J",
        "1.00",
        "EUR",
    ));
    shop.put_product(bad("EVIL-2", "row\r\nSKU-9999  forged", "1.00", "EUR"));
    shop.put_product(bad("NEG", "Mug", "-1.00", "EUR"));
    shop.put_product(bad("YEN", "Cup", "1500.5", "JPY"));
    let env = TestEnv::with_channel(
        Backend::Sqlite,
        &shop,
        &[("auth-refresh", "50m"), ("import-products", "1h")],
    );
    env.set_master(CHANNEL);

    // The run is partial (exit 3): the channel holds data to fix.
    let out = env.run(["run-once"]);
    let human = no_raw_control(&out);
    assert_eq!(out.status.code(), Some(3), "{human}");
    assert!(
        human.contains("import-products  partial  3")
            && human.contains(
                "3 products into the catalog; 4 skipped: 4 refused by the catalog's rules"
            ),
        "{human}"
    );
    assert!(
        human.contains(
            "`EVIL-1`: title `Mug\\u{1b}]0;owned\\u{7}\\u{1b}[2J` has control character U+001B"
        ),
        "{human}"
    );
    assert!(
        human.contains("`EVIL-2`: title `row\\r\\nSKU-9999  forged`"),
        "{human}"
    );
    assert!(
        human.contains("`NEG`: price `-1.00` is negative"),
        "{human}"
    );
    assert!(
        human.contains("`YEN`: price `1500.5` has more decimals than JPY allows"),
        "{human}"
    );
    assert!(!human.contains("\nSKU-9999"), "no forged row: {human}");

    assert_eq!(env.catalog_count(), 3, "only the good products");
    for args in [
        &["products", "list"][..],
        &["history"],
        &["history", "--channel", "shop"],
        &["status"],
        &["products", "show", "SKU-0000001"],
    ] {
        let all = no_raw_control(&env.run(args));
        assert!(
            !all.contains("EVIL-1  "),
            "{args:?}: not in the catalog: {all}"
        );
    }
    let history = env.json(&["history", "--channel", "shop"]);
    assert_eq!(history["runs"][0]["counts"]["skipped"], 4, "{history:#}");
    assert_eq!(history["runs"][0]["counts"]["imported"], 3, "{history:#}");

    // The channel fixes one: the next import takes it; the others are
    // still refused, by name.
    shop.update_product("NEG", |p| p.price = "1.00".into());
    let (code, doc, _) = env.run_once_any(&["--force", "--job", "import-products"]);
    assert_eq!(code, 3, "{doc:#}");
    assert_eq!(env.catalog_count(), 4);
    assert_eq!(env.show("NEG")["product"]["price"], "1.00");

    // A product the catalog holds that the master now sends with a control
    // character keeps its values, and a complete import does not remove it
    // (which would delete it on every shop).
    shop.update_product("SKU-0000001", |p| p.title = "Bell\u{7}".into());
    let (code, doc, _) = env.run_once_any(&["--force", "--full", "--job", "import-products"]);
    assert_eq!(code, 3, "{doc:#}");
    let detail = doc.to_string();
    assert!(
        detail.contains("`SKU-0000001`: title `Bell\\\\u{7}`"),
        "{detail}"
    );
    assert_eq!(env.catalog_count(), 4, "nothing removed: {doc:#}");
    assert_eq!(
        env.show("SKU-0000001")["product"]["title"],
        "Sandbox product 1",
        "the catalog keeps the values it had"
    );
}

#[test]
fn text_a_channel_sends_in_an_error_is_escaped_in_rows_history_and_status() {
    // A beta-rest channel whose batch reply refuses an item with ESC, BEL
    // and a line break in its message.
    let token = json!({"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600});
    let refused = json!({"results": [{"sku": "A", "status": "error",
        "error": "title refused\u{1b}]0;owned\u{7}\r\nshop  export-products  ran"}]});
    let server = Server::start(
        vec![
            Rule::json("POST /oauth/token", &token.to_string()),
            Rule::json("POST /products/batch", &refused.to_string()),
        ],
        None,
    );
    let base = &server.base;

    let env = TestEnv::with_account(Backend::Sqlite);
    let secret = env.write_file("client-secret", "s3cret");
    env.ok([
        "channel",
        "add",
        "shop",
        "--type",
        "beta-rest",
        "--base-url",
        base,
        "--token-url",
        &format!("{base}/oauth/token"),
        "--client-id",
        "oms",
        "--grant",
        "client_credentials",
        "--client-secret-file",
        secret.to_str().unwrap(),
    ]);
    env.ok(["channel", "set-period", "shop", "auth-refresh", "50m"]);
    env.ok(["channel", "set-period", "shop", "export-products", "1h"]);
    let path = env.write_file("a.jsonl", &format!("{}\n", good_line("A")));
    env.ok(["products", "load", path.to_str().unwrap()]);

    let out = env.run(["run-once"]);
    let human = no_raw_control(&out);
    assert_eq!(out.status.code(), Some(3), "partial: {human}");
    assert!(
        human.contains("title refused\\u{1b}]0;owned\\u{7}\\r\\nshop  export-products  ran"),
        "{human}"
    );
    assert_eq!(
        text(&out.stdout).matches("export-products").count(),
        2,
        "one row, no forged one: {human}"
    );
    for args in [&["history"][..], &["products", "show", "A"]] {
        let all = no_raw_control(&env.run(args));
        assert!(all.contains("title refused\\u{1b}"), "{args:?}: {all}");
    }
    no_raw_control(&env.run(["status"]));
    // JSON keeps the channel's text as sent (serde escapes it).
    let show = env.json(&["products", "show", "A"]);
    assert_eq!(
        show["exports"][0]["last_error"],
        "title refused\u{1b}]0;owned\u{7}\r\nshop  export-products  ran",
        "{show:#}"
    );
}

#[test]
fn a_relative_secret_path_is_stored_absolute_and_works_from_slash_with_an_empty_environment() {
    let env = TestEnv::with_account(Backend::Sqlite);
    let shop = SandboxPeer::with(5, Switches::default());
    let secrets = env.write_file("secrets-dir-marker", "");
    let work = secrets.parent().unwrap().join("work");
    std::fs::create_dir_all(work.join("secrets")).unwrap();
    std::fs::write(work.join("secrets/shop"), shop.client_secret()).unwrap();

    let mut add = env.command([
        "channel",
        "add",
        "shop",
        "--type",
        "beta-rest",
        "--base-url",
        &shop.base_url(),
        "--token-url",
        &shop.token_url(),
        "--client-id",
        &shop.client_id(),
        "--client-secret-file",
        "./secrets/shop",
    ]);
    add.current_dir(&work);
    let out = env.finish(add, None);
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}{}", text(&out.stderr));
    let absolute = work.join("secrets/shop");
    assert!(
        said.contains(&format!(
            "--client-secret-file `./secrets/shop` is stored as `{}` (resolved against the working directory `{}`",
            absolute.display(),
            work.display()
        )),
        "{said}"
    );
    let file = std::fs::read_to_string(env.account_file()).unwrap();
    assert!(
        file.contains(&format!("client-secret-file = \"{}\"", absolute.display())),
        "{file}"
    );
    env.ok(["channel", "set-period", "shop", "auth-refresh", "50m"]);
    env.ok(["channel", "set-period", "shop", "import-products", "1h"]);
    env.set_master("shop");
    env.login("shop", &shop.current_refresh_token());

    // As systemd starts it: working directory `/`, nothing in the environment.
    let from_slash = |args: &[&str]| {
        let mut cmd = env.command(["--json", "run-once"]);
        cmd.args(args).env_clear().current_dir("/");
        env.finish(cmd, None)
    };
    let out = from_slash(&[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(env.catalog_count(), 5);

    // The same file named relatively by hand is not found from `/`, and
    // validate says why.
    let file = std::fs::read_to_string(env.account_file()).unwrap();
    let relative = file.replace(
        &format!("client-secret-file = \"{}\"", absolute.display()),
        "client-secret-file = \"secrets/shop\"",
    );
    std::fs::write(env.account_file(), relative).unwrap();
    let out = env.run(["validate"]);
    assert!(
        text(&out.stdout).contains("acme/shop: warning[relative-secret-path]: client-secret-file `secrets/shop` is relative"),
        "{}",
        text(&out.stdout)
    );
    let out = from_slash(&["--force", "--job", "auth-refresh"]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("secrets/shop"), "{said}");
}

#[test]
fn validate_finds_relative_secret_paths_ignored_account_files_and_missing_refresh_tokens() {
    let env = config_env();
    let account = format!(
        "master-product-source = \"oms\"\n\
         [channels.shop]\ntype = \"beta-rest\"\nbase-url = \"https://shop.example/v1\"\n\
         [channels.shop.auth]\ntoken-url = \"https://shop.example/t\"\ngrant = \"client_credentials\"\n\
         client-id = \"x\"\nclient-secret-env = \"{SECRET_VAR}\"\n\
         [channels.shop.jobs]\nauth-refresh = \"1h\"\n"
    );
    env.account("acme", &account);
    env.cmd(["--account", "acme", "validate", "--strict"])
        .assert()
        .code(0)
        .stdout("acme: ok\n");

    // A relative secret path: a warning, so --strict fails.
    let relative = account.replace(
        &format!("client-secret-env = \"{SECRET_VAR}\""),
        "client-secret-file = \"shop.secret\"",
    );
    env.account("acme", &relative);
    std::fs::write(env.config_dir().join("shop.secret"), "x").unwrap();
    let out = env
        .cmd(["--account", "acme", "validate"])
        .current_dir(env.config_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).starts_with("acme/shop: warning[relative-secret-path]: client-secret-file `shop.secret` is relative: each run resolves it against its own working directory"),
        "{}",
        text(&out.stdout)
    );
    env.cmd(["--account", "acme", "validate", "--strict"])
        .current_dir(env.config_dir())
        .assert()
        .code(1);

    // A file in accounts/ whose name is no account id.
    env.account("acme", &account);
    std::fs::write(env.account_path("Acme Retail"), &account).unwrap();
    let out = env.cmd(["validate", "--all-accounts"]).output().unwrap();
    let said = no_raw_control(&out);
    assert_eq!(out.status.code(), Some(0), "a warning: {said}");
    assert!(
        said.contains("Acme Retail: warning[ignored-account-file]: accounts/Acme Retail.toml is not an account file"),
        "{said}"
    );
    env.cmd(["validate", "--all-accounts", "--strict"])
        .assert()
        .code(1);
    let doc: Value = serde_json::from_slice(
        &env.cmd(["validate", "--all-accounts", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "ignored-account-file"),
        "{doc:#}"
    );

    // An oauth2 refresh grant with auth-refresh on and no token stored.
    std::fs::remove_file(env.account_path("Acme Retail")).unwrap();
    env.account(
        "acme",
        account.replace(
            "grant = \"client_credentials\"",
            "grant = \"refresh_token\"",
        ),
    );
    let out = env.cmd(["--account", "acme", "validate"]).output().unwrap();
    assert!(
        text(&out.stdout).contains("acme/shop: warning[missing-refresh-token]: auth-refresh is on with grant refresh_token, but no refresh token is stored"),
        "{}",
        text(&out.stdout)
    );
    env.cmd(["--account", "acme", "validate", "--offline", "--strict"])
        .assert()
        .code(0);
    env.logged_in("acme", "shop");
    env.cmd(["--account", "acme", "validate", "--strict"])
        .assert()
        .code(0);
}

#[test]
fn small_messages_tell_the_truth() {
    let env = config_env();
    env.account("acme", "master-product-source = \"oms\"\n")
        .current("acme");
    let out = env
        .cmd(["history", "--channel", "nosuch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("acme: unknown channel `nosuch`: not a channel of the account and no runs recorded for it"),
        "{}",
        text(&out.stderr)
    );
    for args in [
        &["run-once", "--dry-run", "--now", "9999-12-31T23:59:59Z"][..],
        &["status", "--now", "9999-12-31T23:59:59Z"],
    ] {
        let out = env.cmd(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr)
                .contains("invalid --now `9999-12-31T23:59:59Z` is beyond the supported range"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let bad_count = "master-product-source = \"oms\"\n[channels.a]\ntype = \"beta-rest\"\nbase-url = \"https://a.example\"\npage-size = 0\n";
    env.account("acme", bad_count);
    let out = env.cmd(["validate"]).output().unwrap();
    let said = text(&out.stderr);
    assert!(
        said.contains("invalid value: integer `0`, expected a whole number of at least 1")
            && !said.contains("usize"),
        "{said}"
    );
    let out = env
        .cmd(["capabilities", "show", "vendure"])
        .output()
        .unwrap();
    let said = text(&out.stdout);
    for line in [
        "auth:            login, api-key",
        "page-size:       1000",
        "batch-size:      100",
        "deadline:        10m",
    ] {
        assert!(said.contains(line), "{line}: {said}");
    }
}
