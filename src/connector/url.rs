//! Which channel URLs the connector will talk to: http(s) only, plain http
//! only to loopback, no credentials in the URL. Pure; no I/O.

use std::net::{IpAddr, Ipv6Addr};

use reqwest::Url;

/// Why a channel URL was refused. Every message names the URL and says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error(
        "invalid URL `{url}`: {reason}; expected an address such as `https://api.example.com/v1`"
    )]
    Unparsable { url: String, reason: String },
    #[error(
        "unsupported URL scheme `{scheme}` in `{url}`: only https:// (and http:// to loopback hosts) is allowed"
    )]
    Scheme { url: String, scheme: String },
    #[error("insecure URL `{url}`: plain http:// is only allowed to loopback hosts; use https://")]
    InsecureHttp { url: String },
    #[error(
        "URL `{url}` carries a user name or password: remove it; secrets belong in `client-secret-env` or `client-secret-file`"
    )]
    Credentials { url: String },
}

/// Parses and checks a channel URL (base URL or token URL).
///
/// `http://` is refused unless the host is loopback (127.0.0.0/8, ::1,
/// `localhost`); only http and https schemes; no `user:password@` part, since
/// secrets never live in the account file and URLs end up in messages.
pub fn check_url(raw: &str) -> Result<Url, UrlError> {
    let url = Url::parse(raw.trim()).map_err(|err| UrlError::Unparsable {
        url: raw.escape_debug().to_string(),
        reason: err.to_string(),
    })?;
    check_parsed_url(&url)?;
    Ok(url)
}

/// The checks of [`check_url`] on an already parsed URL. The client runs them
/// again before every request so that no caller can send a token over plain
/// http to a remote host, whatever it parsed.
pub fn check_parsed_url(url: &Url) -> Result<(), UrlError> {
    // The URL shown in messages never includes a password.
    let shown = || {
        let mut shown = url.clone();
        let _ = shown.set_password(None);
        shown.to_string()
    };
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(url) => {}
        "http" => return Err(UrlError::InsecureHttp { url: shown() }),
        other => {
            return Err(UrlError::Scheme {
                url: shown(),
                scheme: other.to_string(),
            });
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        let mut bare = url.clone();
        let _ = bare.set_password(None);
        let _ = bare.set_username("");
        return Err(UrlError::Credentials {
            url: bare.to_string(),
        });
    }
    Ok(())
}

fn is_loopback(url: &Url) -> bool {
    // `Url` has already normalised the host: IPv4 in dotted form, IPv6 in
    // brackets, domains in lower case.
    let Some(host) = url.host_str() else {
        return false;
    };
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().is_ok_and(is_loopback_v6);
    }
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host == "localhost",
    }
}

fn is_loopback_v6(ip: Ipv6Addr) -> bool {
    // `::ffff:127.0.0.1` is the IPv4 loopback seen through an IPv6 socket.
    ip.is_loopback()
        || ip
            .to_ipv4_mapped()
            .is_some_and(|v4| IpAddr::V4(v4).is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses_urls() {
        type Check = fn(&UrlError) -> bool;
        let ok: &[&str] = &[
            "https://api.shop-eu.example/v1",
            "https://10.0.0.1:8443/oauth/token",
            "http://127.0.0.1:8080/v1",
            "http://127.1.2.3/",
            "http://localhost:3000/v1",
            "http://LOCALHOST/v1",
            "http://[::1]:8080/v1",
            "http://[::ffff:127.0.0.1]/v1",
            " https://api.example.com/v1 ",
        ];
        for raw in ok {
            assert!(check_url(raw).is_ok(), "{raw}: {:?}", check_url(raw));
        }
        let refused: &[(&str, Check)] = &[
            ("http://example.com/v1", |e| {
                matches!(e, UrlError::InsecureHttp { .. })
            }),
            ("http://10.0.0.1/v1", |e| {
                matches!(e, UrlError::InsecureHttp { .. })
            }),
            ("http://localhost.example.com/", |e| {
                matches!(e, UrlError::InsecureHttp { .. })
            }),
            ("http://128.0.0.1/", |e| {
                matches!(e, UrlError::InsecureHttp { .. })
            }),
            ("ftp://example.com/x", |e| {
                matches!(e, UrlError::Scheme { .. })
            }),
            ("file:///etc/passwd", |e| {
                matches!(e, UrlError::Scheme { .. })
            }),
            ("not a url", |e| matches!(e, UrlError::Unparsable { .. })),
            ("", |e| matches!(e, UrlError::Unparsable { .. })),
            ("https://", |e| matches!(e, UrlError::Unparsable { .. })),
            ("https://user:hunter2@api.example.com/", |e| {
                matches!(e, UrlError::Credentials { .. })
            }),
        ];
        for (raw, check) in refused {
            let err = check_url(raw).expect_err(raw);
            assert!(check(&err), "{raw}: {err:?}");
            let message = err.to_string();
            assert!(!message.contains("hunter2"), "{message}");
            assert!(message.contains('`'), "{message}");
        }
    }

    #[test]
    fn insecure_message_says_what_to_do() {
        let err = check_url("http://example.com/v1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "insecure URL `http://example.com/v1`: plain http:// is only allowed to loopback hosts; use https://"
        );
    }
}
