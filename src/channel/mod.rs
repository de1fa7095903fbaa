//! The beta-rest HTTP connector. (Temporary: URL policy only, until the connector lands.)

#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("`{url}` is not a valid URL: {reason}")]
    Invalid { url: String, reason: String },
    #[error(
        "`{0}` uses plain http:// to a non-loopback host; use https:// (http is only allowed to 127.0.0.1, ::1 and localhost)"
    )]
    Insecure(String),
}

impl UrlError {
    pub fn is_insecure(&self) -> bool {
        matches!(self, UrlError::Insecure(_))
    }
}

pub fn check_url(raw: &str) -> Result<reqwest::Url, UrlError> {
    let url = reqwest::Url::parse(raw).map_err(|e| UrlError::Invalid {
        url: raw.to_string(),
        reason: e.to_string(),
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" => {
            let host = url.host_str().unwrap_or("");
            let loopback = host == "localhost"
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(url)
            } else {
                Err(UrlError::Insecure(raw.to_string()))
            }
        }
        other => Err(UrlError::Invalid {
            url: raw.to_string(),
            reason: format!("scheme `{other}` is not http or https"),
        }),
    }
}
