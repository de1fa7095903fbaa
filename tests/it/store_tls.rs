//! The PostgreSQL store against a server set up like a production one: TLS
//! on, scram passwords, plain connections refused for the store's role. The
//! URL's `sslmode` decides what is checked, and the password comes only the
//! libpq way (PGPASSWORD, PGPASSFILE).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use test_support::pg::PgCluster;
use test_support::tls::make_certs;
use test_support::{Backend, TestEnv};

const PASSWORD: &str = "tls-test-pw-7";

/// TLS on, role `oms` with a password, reachable only over TLS with it.
fn secure_cluster(certs: &Path) -> PgCluster {
    let cluster = PgCluster::start();
    let file = |name: &str| certs.join(name).display().to_string();
    cluster.psql(
        "postgres",
        &format!("ALTER SYSTEM SET ssl_cert_file = '{}'", file("server.crt")),
    );
    cluster.psql(
        "postgres",
        &format!("ALTER SYSTEM SET ssl_key_file = '{}'", file("server.key")),
    );
    cluster.psql("postgres", "ALTER SYSTEM SET ssl = on");
    cluster.psql(
        "postgres",
        &format!("CREATE ROLE oms LOGIN PASSWORD '{PASSWORD}'"),
    );
    cluster.psql("postgres", "CREATE DATABASE oms OWNER oms");
    let hba = cluster.psql("postgres", "SHOW hba_file");
    let rules = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(
        &hba,
        format!(
            "hostssl all oms 127.0.0.1/32 scram-sha-256\n\
             hostssl all oms ::1/128 scram-sha-256\n\
             host all oms all reject\n{rules}"
        ),
    )
    .unwrap();
    cluster.psql("postgres", "SELECT pg_reload_conf()");
    let start = Instant::now();
    while cluster.psql("postgres", "SHOW ssl") != "on" {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "ssl did not turn on"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    cluster
}

/// `oms-channels <args>` in `env` with only these PostgreSQL variables
/// (the env removes the caller's).
fn run(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = env.command(args);
    cmd.envs(vars.iter().copied());
    env.finish(cmd, None)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_store_honours_sslmode_and_takes_its_password_the_libpq_way() {
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let cluster = secure_cluster(certs.path());
    let port = cluster.port();
    let ca = certs.path().join("ca.crt").display().to_string();
    let env = TestEnv::with_account(Backend::Sqlite);
    let url = |host: &str, query: &str| format!("postgres://oms@{host}:{port}/oms?{query}");
    let status = |url: &str, vars: &[(&str, &str)]| run(&env, &["status", "--store", url], vars);
    let with_password = [("PGPASSWORD", PASSWORD)];

    // verify-full: the chain and the name check out; the store works.
    let full = url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let out = run(&env, &["run-once", "--store", &full], &with_password);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = status(&full, &with_password);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("schema oms_acme"), "{}", text(&out));
    assert_eq!(
        cluster.psql("oms", "SELECT count(*) FROM oms_channels.accounts"),
        "1",
        "the account's schema was made over TLS"
    );

    // The certificate names localhost, not 127.0.0.1: verify-full refuses
    // the address, verify-ca (the chain only) accepts it.
    let out = status(
        &url(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        &with_password,
    );
    assert_eq!(out.status.code(), Some(75), "{}", text(&out));
    assert!(text(&out).contains("TLS"), "{}", text(&out));
    let out = status(
        &url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}")),
        &with_password,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Without the CA, the system's roots do not know this test CA.
    let out = status(&url("localhost", "sslmode=verify-full"), &with_password);
    assert_eq!(out.status.code(), Some(75), "{}", text(&out));
    assert!(text(&out).contains("UnknownIssuer"), "{}", text(&out));

    // require encrypts without checking (libpq's meaning); disable is
    // refused by the server's rules: a setting to fix, exit 2, not 75.
    let out = status(&url("localhost", "sslmode=require"), &with_password);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = status(&url("localhost", "sslmode=disable"), &with_password);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("pg_hba.conf"), "{}", text(&out));

    // A wrong password: exit 2, and the password is never shown.
    let out = status(&full, &[("PGPASSWORD", "not-the-password")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("password authentication failed"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("not-the-password"), "{}", text(&out));

    // A passfile works when only its owner can read it, as with libpq.
    let passfile = env.root().join("pgpass");
    std::fs::write(&passfile, format!("localhost:{port}:oms:oms:{PASSWORD}\n")).unwrap();
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    let passfile_var = [("PGPASSFILE", passfile.to_str().unwrap())];
    let out = status(&full, &passfile_var);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = status(&full, &passfile_var);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("0600"),
        "a warning says why: {}",
        text(&out)
    );
}
