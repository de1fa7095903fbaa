//! The account file and the global config as serde structs (kebab-case keys,
//! unknown keys refused). Reading only: edits go through `config::edit`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, parse_toml};
use crate::ids::{self, OMS};
use crate::period::{Job, Period};

/// `config.toml` in the config dir.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GlobalConfig {
    #[serde(default)]
    pub current_account: Option<String>,
}

/// One account file, parsed and checked for shape (not yet validated against capabilities).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct AccountConfig {
    pub display_name: Option<String>,
    pub master_product_source: String,
    pub channels: BTreeMap<String, ChannelConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawAccount {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default = "default_master")]
    master_product_source: toml::Spanned<String>,
    #[serde(default)]
    channels: BTreeMap<toml::Spanned<String>, ChannelConfig>,
}

fn default_master() -> toml::Spanned<String> {
    toml::Spanned::new(0..0, OMS.to_string())
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ChannelConfig {
    /// Key into the capability master list.
    #[serde(rename = "type")]
    pub channel_type: String,
    pub base_url: String,
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    #[serde(default)]
    pub jobs: JobsConfig,
    /// Consecutive rejections of one product revision after which export
    /// quarantines it (0: never); [`DEFAULT_QUARANTINE_AFTER`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine_after: Option<u32>,
}

/// Rejections in a row that quarantine a product when the channel says nothing.
pub const DEFAULT_QUARANTINE_AFTER: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    RefreshToken,
    ClientCredentials,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AuthConfig {
    pub token_url: String,
    pub grant: GrantKind,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
    /// Only here to refuse a secret written into the file with a helpful message.
    #[serde(default, skip_serializing)]
    client_secret: Option<toml::Spanned<toml::Value>>,
}

/// Where a channel's client secret comes from. Never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

impl AuthConfig {
    pub fn secret_source(&self) -> Option<SecretSource> {
        match (&self.client_secret_env, &self.client_secret_file) {
            (Some(var), _) => Some(SecretSource::Env(var.clone())),
            (None, Some(path)) => Some(SecretSource::File(path.clone())),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct JobsConfig {
    #[serde(default)]
    pub auth_refresh: Option<Period>,
    #[serde(default)]
    pub import_products: Option<Period>,
    #[serde(default)]
    pub export_products: Option<Period>,
}

impl JobsConfig {
    /// A job missing from the file is off.
    pub fn period(&self, job: Job) -> Period {
        let period = match job {
            Job::AuthRefresh => &self.auth_refresh,
            Job::ImportProducts => &self.import_products,
            Job::ExportProducts => &self.export_products,
        };
        period.clone().unwrap_or(Period::Off)
    }
}

impl ChannelConfig {
    /// See [`ChannelConfig::quarantine_after`] (the field).
    pub fn quarantine_threshold(&self) -> u32 {
        self.quarantine_after.unwrap_or(DEFAULT_QUARANTINE_AFTER)
    }

    pub fn period(&self, job: Job) -> Period {
        self.jobs.period(job)
    }
}

impl AccountConfig {
    /// Parses an account file's text; every shape error names file, line and column.
    pub fn parse(path: &Path, text: &str) -> Result<AccountConfig, ConfigError> {
        let raw: RawAccount = parse_toml(path, text)?;
        let master_span = raw.master_product_source.span();
        let master = raw.master_product_source.into_inner();
        if master != OMS
            && let Err(err) = ids::check_channel_id(&master)
        {
            let message = format!("master-product-source: {err}; use \"oms\" or a channel id");
            return Err(ConfigError::at(
                path,
                text,
                Some(master_span.start),
                message,
            ));
        }
        let mut channels = BTreeMap::new();
        for (key, channel) in raw.channels {
            let span = key.span();
            let id = key.into_inner();
            if let Err(err) = ids::check_channel_id(&id) {
                return Err(ConfigError::at(
                    path,
                    text,
                    Some(span.start),
                    err.to_string(),
                ));
            }
            if let Some(auth) = &channel.auth {
                check_auth(path, text, &id, auth)?;
            }
            channels.insert(id, channel);
        }
        Ok(AccountConfig {
            display_name: raw.display_name,
            master_product_source: master,
            channels,
        })
    }

    pub fn master_is_oms(&self) -> bool {
        self.master_product_source == OMS
    }

    /// The channel ids for messages: "shop-eu, market", or "no channels yet".
    pub fn channel_names(&self) -> String {
        if self.channels.is_empty() {
            return "no channels yet".to_string();
        }
        self.channels.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

fn check_auth(
    path: &Path,
    text: &str,
    channel: &str,
    auth: &AuthConfig,
) -> Result<(), ConfigError> {
    if let Some(secret) = &auth.client_secret {
        return Err(ConfigError::at(
            path,
            text,
            Some(secret.span().start),
            format!(
                "channels.{channel}.auth: secrets never live in the account file; remove `client-secret` \
                 and set `client-secret-env` (an environment variable) or `client-secret-file` (a file path)"
            ),
        ));
    }
    match (&auth.client_secret_env, &auth.client_secret_file) {
        (Some(_), Some(_)) => Err(ConfigError::at(
            path,
            text,
            None,
            format!(
                "channels.{channel}.auth: set either `client-secret-env` or `client-secret-file`, not both"
            ),
        )),
        (None, None) => Err(ConfigError::at(
            path,
            text,
            None,
            format!(
                "channels.{channel}.auth: no client secret source; set `client-secret-env` or `client-secret-file`"
            ),
        )),
        (Some(var), None) if var.is_empty() || var.contains('=') || var.contains('\0') => {
            Err(ConfigError::at(
                path,
                text,
                None,
                format!(
                    "channels.{channel}.auth: `client-secret-env` = {var:?} is not a valid environment variable name"
                ),
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
display-name = "Acme Retail"
master-product-source = "oms"

[channels.shop-eu]
type = "beta-rest"
base-url = "https://api.shop-eu.example/v1"

[channels.shop-eu.auth]
token-url = "https://api.shop-eu.example/oauth/token"
grant = "refresh_token"
client-id = "acme-oms"
client-secret-env = "SHOP_EU_SECRET"

[channels.shop-eu.jobs]
auth-refresh = "50m"
import-products = "none"
export-products = "1h"
"#;

    #[test]
    fn parses_the_brief_sample() {
        let account = AccountConfig::parse(Path::new("acme.toml"), SAMPLE).unwrap();
        assert_eq!(account.display_name.as_deref(), Some("Acme Retail"));
        let channel = &account.channels["shop-eu"];
        assert_eq!(channel.period(Job::ExportProducts), "60m".parse().unwrap());
        assert!(channel.period(Job::ImportProducts).is_off());
        let auth = channel.auth.as_ref().unwrap();
        assert_eq!(auth.grant, GrantKind::RefreshToken);
        assert_eq!(
            auth.secret_source(),
            Some(SecretSource::Env("SHOP_EU_SECRET".into()))
        );
    }

    #[test]
    fn shape_errors_name_line_and_column() {
        let cases = [
            (
                SAMPLE.replace("export-products = \"1h\"", "export-products = \"5x\""),
                "acme.toml:18:19",
                "invalid period `5x`",
            ),
            (
                SAMPLE.replace("export-products = \"1h\"", "export-products = 60"),
                "acme.toml:18:19",
                "string",
            ),
            (
                SAMPLE.replace("export-products = \"1h\"", "sync-orders = \"1h\""),
                "acme.toml:18:1",
                "unknown field `sync-orders`",
            ),
            (
                SAMPLE.replace("channels.shop-eu", "channels.Shop"),
                "acme.toml:5:11",
                "invalid channel id `Shop`",
            ),
            (
                SAMPLE.replace("channels.shop-eu", "channels.oms"),
                "acme.toml:5:11",
                "reserved",
            ),
            (
                SAMPLE.replace(
                    "client-secret-env = \"SHOP_EU_SECRET\"",
                    "client-secret = \"hunter2\"",
                ),
                "acme.toml:13:17",
                "secrets never live",
            ),
            (
                SAMPLE.replace("\"refresh_token\"", "\"password\""),
                "acme.toml:11:9",
                "unknown variant `password`",
            ),
            (
                SAMPLE.replace(
                    "master-product-source = \"oms\"",
                    "master-product-source = \"../x\"",
                ),
                "acme.toml:3:25",
                "master-product-source",
            ),
            (
                format!("{SAMPLE}\nexport-products = \"2h\"\n"),
                "acme.toml:20:1",
                "duplicate key",
            ),
        ];
        for (text, location, message) in cases {
            let err = AccountConfig::parse(Path::new("acme.toml"), &text)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(location), "expected {location}: {err}");
            assert!(err.contains(message), "expected {message}: {err}");
            assert!(!err.contains("hunter2"), "secret echoed: {err}");
        }
    }
}
