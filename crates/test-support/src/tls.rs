//! Certificates for the TLS tests (a PostgreSQL store over TLS, a channel
//! over HTTPS), made with the machine's `openssl`: a CA the machine does not
//! trust and a server certificate it signed for `localhost` only.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs (install the `openssl` package)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `ca.crt` (and its key), `server.crt` and `server.key` for
/// `localhost` only (no IP address) into `dir`, readable by a server that
/// runs as another user: the `postgres` user owns the key when the tests
/// run as root, since PostgreSQL refuses a key it does not own.
pub fn make_certs(dir: &Path) {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .expect("open the cert dir to the server's user");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=oms-test-ca",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=DNS:localhost\n")
        .expect("write the extension file");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    let key = dir.join("server.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
        .expect("make the key private");
    std::fs::set_permissions(
        dir.join("server.crt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("make the certificate readable");
    if rustix::process::geteuid().is_root() {
        let out = Command::new("id")
            .args(["-u", "postgres"])
            .output()
            .expect("run id");
        let uid: u32 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("the postgres user exists (postgresql-15 is installed)");
        std::os::unix::fs::chown(&key, Some(uid), None).expect("give the key to postgres");
    }
}
