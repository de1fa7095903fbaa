//! The four jobs (auth-refresh, import-products, export-products,
//! export-stock) and the runner that decides which are due and runs them
//! per channel.

pub mod auth;
pub mod compare;
pub mod export;
pub mod idle;
pub mod import;
mod journal;
mod pages;
pub mod preview;
pub mod runner;
pub mod stock;

use std::sync::Arc;

use anyhow::Result;

use crate::config::{ChannelConfig, SecretSource};
use crate::connector::{ChannelError, Connector, Remedy, Secret};
use crate::error::{ErrorKind, Failure, Hint as _, KindContext as _};
use crate::store::Store;

/// How a job that ran to its end went: its items, its summary (what the
/// run's history row says), and whether the channel's items were only
/// partly taken.
#[derive(Debug)]
pub struct Finished {
    pub items: u64,
    pub detail: String,
    pub partial: bool,
}

/// Everything one channel's jobs need; shared by its jobs.
pub struct ChannelRun {
    pub account: String,
    pub channel_id: String,
    pub channel: ChannelConfig,
    /// Whether this channel is the account's master product source: its
    /// import feeds the catalog; any other import only records listings.
    pub is_master: bool,
    pub store: Arc<Store>,
    /// The channel's API, through the connector its type's protocol names.
    pub connector: Box<dyn Connector>,
    pub store_spec: crate::store::StoreSpec,
    /// `--full`: ignore the import high-water mark.
    pub full: bool,
    /// `--allow-removal`: removals and deletions in this run are not held
    /// to the channel's `max-removal`.
    pub allow_removal: bool,
    /// How long each of the channel's jobs may take (type default, or the
    /// channel's shorter one); the runner cancels a job that exceeds it.
    pub deadline: std::time::Duration,
    /// How long after a create the channel's look-ups surely see it (the
    /// type's `settle`): the export job closes a write intent only after a
    /// reconcile that ran at least this long after the intent started.
    pub settle: std::time::Duration,
    /// The instant the run judges "due" at (`--now`, or the clock): what
    /// export-stock's reconcile is due by, and records it ran at.
    pub now: jiff::Timestamp,
}

impl ChannelRun {
    /// The limit this run holds removals to (`max-removal`, lifted by
    /// `--allow-removal`).
    pub fn removal_limit(&self) -> crate::guard::MaxRemoval {
        if self.allow_removal {
            crate::guard::MaxRemoval::Unlimited
        } else {
            self.channel.removal_limit()
        }
    }

    /// A connector error with what to do about it, in this channel's words,
    /// attached as a hint. The error itself stays in the chain, so its kind
    /// decides the row's kind and exit code.
    fn explain(&self, err: ChannelError) -> anyhow::Error {
        let remedy = err.remedy();
        let err = anyhow::Error::new(err);
        match remedy {
            Some(remedy) => err.hint(hint(
                &remedy,
                &self.account,
                &self.channel_id,
                &self.channel,
            )),
            None => err,
        }
    }
}

/// The words for a connector's [`Remedy`], with the real account, channel
/// and where the channel's secrets come from.
pub fn hint(remedy: &Remedy, account: &str, channel_id: &str, channel: &ChannelConfig) -> String {
    let auth = channel.auth.as_ref();
    let login = format!(
        "`printf %s \"$REFRESH_TOKEN\" | oms-channels --account {account} channel login {channel_id}`"
    );
    let source = || match auth.and_then(|a| a.secret_source()) {
        Some(SecretSource::Env(var)) => format!("environment variable `{var}`"),
        Some(SecretSource::File(path)) => format!("file `{}`", path.display()),
        None => "its source".to_string(),
    };
    let quoted = |value: Option<&str>| value.map(|v| format!(" (`{v}`)")).unwrap_or_default();
    match remedy {
        Remedy::Login => format!("store a new refresh token with {login}"),
        Remedy::LoginIfGrantRevoked => format!(
            "if the next refresh fails with `invalid_grant`, store a new refresh token with {login}"
        ),
        Remedy::CheckCredentials { what } => match what {
            Secret::ApiKey => format!(
                "check the API key in {}: the channel does not accept it (revoked, or for another shop?)",
                source()
            ),
            Secret::Password => format!(
                "check the channel's `username`{} and the password in {}",
                quoted(auth.and_then(|a| a.username.as_deref())),
                source()
            ),
            Secret::ClientSecret => format!(
                "check the channel's `client-id`{}, `grant` and the client secret in {}",
                quoted(auth.and_then(|a| a.client_id.as_deref())),
                source()
            ),
        },
        Remedy::CheckPermissions => "the channel refused a credential it had just issued: check what it allows this user or client to do".to_string(),
        Remedy::TrustPrivateCa => "if the channel's certificate comes from a private CA, trust that CA: set `SSL_CERT_FILE` to a PEM bundle holding it, or `SSL_CERT_DIR` to a directory of PEM files, in the environment `oms-channels` runs in (either replaces the system's roots, so include those too if other channels need them, e.g. `/etc/ssl/certs/ca-certificates.crt`)".to_string(),
        Remedy::LowerPageSize => format!(
            "set a `page-size` the channel accepts in `[channels.{channel_id}]` of the account file (e.g. `page-size = 100`)"
        ),
        Remedy::FixUrl {
            setting,
            expected_form,
        } => {
            let key = setting.key();
            let form = expected_form
                .map(|f| format!(" (like `{f}`)"))
                .unwrap_or_default();
            format!(
                "set the channel's `{key}` to the API's own address{form}: `oms-channels --account {account} channel set {channel_id} --{key} <url>`"
            )
        }
    }
}

/// The connector error inside `err`, when the error came from one.
pub fn channel_error(err: &anyhow::Error) -> Option<&ChannelError> {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<ChannelError>())
}

/// Reads a channel's secret (`what`: "client secret", "password", "API key")
/// from its env var or file; never logged.
pub fn read_secret(source: &crate::config::SecretSource, what: &str) -> Result<String> {
    use crate::config::SecretSource;
    let secret = match source {
        SecretSource::Env(var) => std::env::var(var)
            .with_kind_context(ErrorKind::Config, || {
                format!("{what} environment variable `{var}` is not set")
            })?,
        SecretSource::File(path) => std::fs::read_to_string(path)
            .with_kind_context(ErrorKind::Config, || {
                format!("cannot read {what} file `{}`", path.display())
            })?
            .trim_end_matches(['\n', '\r'])
            .to_string(),
    };
    if secret.is_empty() {
        return Err(Failure::config(format!("the {what} is empty")).into());
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::UrlSetting;

    fn channel(auth: &str) -> ChannelConfig {
        let text = format!(
            "type = \"vendure\"\nbase-url = \"https://x.example/admin-api\"\n[auth]\n{auth}\n[jobs]\n"
        );
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn hints_name_the_account_the_channel_and_where_the_secret_lives() {
        let api_key = channel("method = \"api-key\"\napi-key-env = \"SHOP_KEY\"");
        let password = channel(
            "method = \"login\"\nusername = \"oms-sync\"\npassword-file = \"/run/secrets/pw\"",
        );
        let oauth = channel(
            "token-url = \"https://x.example/t\"\ngrant = \"refresh_token\"\nclient-id = \"acme-oms\"\nclient-secret-env = \"S\"",
        );
        let cases: [(&ChannelConfig, Remedy, &[&str]); 7] = [
            (
                &api_key,
                Remedy::CheckCredentials {
                    what: Secret::ApiKey,
                },
                &["API key", "environment variable `SHOP_KEY`"],
            ),
            (
                &password,
                Remedy::CheckCredentials {
                    what: Secret::Password,
                },
                &["`username` (`oms-sync`)", "file `/run/secrets/pw`"],
            ),
            (
                &oauth,
                Remedy::CheckCredentials {
                    what: Secret::ClientSecret,
                },
                &["`client-id` (`acme-oms`)", "environment variable `S`"],
            ),
            (
                &oauth,
                Remedy::Login,
                &["oms-channels --account acme channel login shop"],
            ),
            (
                &oauth,
                Remedy::LoginIfGrantRevoked,
                &["`invalid_grant`", "channel login shop"],
            ),
            (
                &oauth,
                Remedy::TrustPrivateCa,
                &["SSL_CERT_FILE", "SSL_CERT_DIR"],
            ),
            (
                &api_key,
                Remedy::FixUrl {
                    setting: UrlSetting::BaseUrl,
                    expected_form: Some("https://shop.example/admin-api"),
                },
                &[
                    "`https://shop.example/admin-api`",
                    "channel set shop --base-url <url>",
                ],
            ),
        ];
        for (config, remedy, wanted) in cases {
            let text = hint(&remedy, "acme", "shop", config);
            for part in wanted {
                assert!(text.contains(part), "{remedy:?}: {text}");
            }
            assert!(!text.contains("refresh the token"), "{text}");
        }
        let page = hint(&Remedy::LowerPageSize, "acme", "shop", &api_key);
        assert!(
            page.contains("`page-size`") && page.contains("[channels.shop]"),
            "{page}"
        );
    }

    #[test]
    fn a_refused_api_key_is_explained_with_its_variable() {
        let err = ChannelError::Unauthorized {
            url: "https://x.example/admin-api".into(),
            credential: crate::connector::CredentialKind::ApiKey,
            answer: "FORBIDDEN".into(),
        };
        let remedy = err.remedy().expect("a refused key has a remedy");
        let text = format!(
            "{err}; {}",
            hint(
                &remedy,
                "acme",
                "shop",
                &channel("method = \"api-key\"\napi-key-env = \"SHOP_KEY\"")
            )
        );
        assert!(text.contains("`SHOP_KEY`"), "{text}");
        assert!(!text.contains("token"), "{text}");
    }
}
