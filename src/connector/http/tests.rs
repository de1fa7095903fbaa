//! Unit tests of the shared client's rules: replay, redirects, origin,
//! Retry-After, redaction, TLS. Servers are axum or raw TCP on 127.0.0.1.

use super::*;

#[test]
fn every_client_shares_one_tls_setup_that_speaks_h2_and_http1() {
    let tls = shared_tls().expect("the platform verifier works on this machine");
    assert_eq!(tls.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    client_builder().build().expect("a client builds on it");
}
