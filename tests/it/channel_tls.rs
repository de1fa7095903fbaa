//! TLS to a channel: a certificate the machine does not trust fails at
//! once (no retries) with how to trust a private CA, and doing what the
//! message says (`SSL_CERT_FILE`) makes it work.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use test_support::output::{parse, wait_until};
use test_support::tls::make_certs;
use test_support::{Backend, Rows, TestEnv};

/// An HTTPS server for `localhost` with the test CA's certificate: every
/// request gets a token reply. Returns its port and a counter of the TLS
/// handshakes begun for `localhost` (a client of ours; other suites' peers
/// may probe a port they have just released, but not over TLS).
fn https_server(certs: &Path) -> (u16, Arc<AtomicUsize>) {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(certs.join("server.crt"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_file(certs.join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let config = Arc::clone(&config);
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || {
                let connection = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(connection, stream);
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                let mut counted = false;
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let read = tls.read(&mut buf);
                    if !counted && tls.conn.server_name() == Some("localhost") {
                        counted = true;
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    match read {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let body = r#"{"access_token":"at-1","token_type":"Bearer","expires_in":3600}"#;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes());
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    (port, connections)
}

#[test]
fn an_untrusted_certificate_fails_once_and_says_how_to_trust_a_private_ca() {
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let (port, connections) = https_server(certs.path());
    let env = TestEnv::with_account(Backend::Sqlite);
    let secret = env.write_file("client-secret", "s3cret");
    let token_url = format!("https://localhost:{port}/token");
    env.add_channel_at(
        "shop",
        "beta-rest",
        &format!("https://localhost:{port}/v1"),
        &[
            "--token-url",
            &token_url,
            "--grant",
            "client_credentials",
            "--client-id",
            "oms",
            "--client-secret-file",
            secret.to_str().unwrap(),
        ],
    );

    let (code, doc, stderr) = env.run_once_any(&[]);
    assert_eq!(code, 1, "{doc:#}\n{stderr}");
    let row = Rows::of(&doc).get("shop", "auth-refresh").clone();
    assert_eq!(row.outcome, "failed");
    assert!(
        row.detail
            .contains("TLS certificate of `https://localhost:")
            && row.detail.contains("is not trusted"),
        "{}",
        row.detail
    );
    assert!(
        row.detail.contains("SSL_CERT_FILE") && row.detail.contains("SSL_CERT_DIR"),
        "{}",
        row.detail
    );
    wait_until(Duration::from_secs(2), || {
        connections.load(Ordering::SeqCst) >= 1
    });
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(connections.load(Ordering::SeqCst), 1, "final: not retried");

    // What the hint says works: the CA in SSL_CERT_FILE.
    let mut trusting = env.command(["--json", "run-once", "--force", "--job", "auth-refresh"]);
    trusting.env("SSL_CERT_FILE", certs.path().join("ca.crt"));
    let out = env.finish(trusting, None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        Rows::of(&parse(&stdout))
            .get("shop", "auth-refresh")
            .outcome,
        "ran"
    );
}
