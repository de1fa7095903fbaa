//! The account file and the global config as serde structs (kebab-case keys,
//! unknown keys refused). Reading only: edits go through `config::edit`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use std::num::NonZeroUsize;

use super::error::{ConfigError, parse_toml};
use crate::connector::AuthMethod;
use crate::ids::{self, OMS};
use crate::period::{Job, Period};

/// `config.toml` in the config dir.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GlobalConfig {
    #[serde(default)]
    pub current_account: Option<String>,
    /// `postgres://...`: the shared store; absent means SQLite files in the data dir.
    #[serde(default)]
    pub store: Option<String>,
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
    /// Lowers the type's `page-size` for this channel.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::at_least_one"
    )]
    pub page_size: Option<NonZeroUsize>,
    /// Lowers the type's `batch-size` for this channel.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::at_least_one"
    )]
    pub batch_size: Option<NonZeroUsize>,
    /// The platform's sales channel to use instead of its default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sales_channel_id: Option<String>,
    /// The platform's stock location to use instead of its default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock_location_id: Option<String>,
    /// Lowers (or, where the type has none, sets) the most bytes one export
    /// request may carry.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::at_least_one"
    )]
    pub max_request_bytes: Option<NonZeroUsize>,
    /// Lowers the type's `concurrency` (import pages in flight at once).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::at_least_one"
    )]
    pub concurrency: Option<NonZeroUsize>,
    /// The fields this channel's export owns (`title`, `prices`, ...): an
    /// update writes only these. Absent: all. Checked by `validate`
    /// (`unknown-export-field`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_fields: Option<Vec<String>>,
    /// Catalog stock location -> the platform's stock location id
    /// (`[channels.x.locations]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub locations: BTreeMap<String, String>,
    /// The code of the facet whose values are a product's categories
    /// (Vendure; [`crate::connector::vendure::mapping::CATEGORY_FACET`]
    /// when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_facet: Option<String>,
    /// The code of the facet whose values are a product's tags (Vendure;
    /// [`crate::connector::vendure::mapping::TAG_FACET`] when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_facet: Option<String>,
    /// The `text` custom field (on Product and ProductVariant) holding
    /// attributes as JSON (Vendure; attributes are not carried when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes_field: Option<String>,
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    #[serde(default)]
    pub jobs: JobsConfig,
    /// Lowers the type's `rate-limit` for this channel (or sets one where
    /// the type has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<crate::connector::RateLimit>,
    /// How long one job of this channel may take; may only lower the type's
    /// `deadline` (validation refuses a longer one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Period>,
    /// Consecutive rejections of one product revision after which export
    /// quarantines it (0: never); [`DEFAULT_QUARANTINE_AFTER`] when absent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::zero_or_more"
    )]
    pub quarantine_after: Option<u32>,
    /// The most one complete import of this channel (the master) may remove
    /// from the catalog, or one export may delete from this channel: a
    /// count, a share (`"10%"`) or `"none"`; [`crate::guard::DEFAULT`] when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_removal: Option<crate::guard::MaxRemoval>,
    /// Units of each level export-stock holds back from the channel (a
    /// safety margin against overselling); 0 when absent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::quantity"
    )]
    pub stock_buffer: Option<i64>,
    /// The most export-stock lists of any level; no cap when absent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::quantity"
    )]
    pub max_listed: Option<i64>,
    /// How often export-stock reads the channel's levels back and repairs
    /// drift; [`DEFAULT_STOCK_RECONCILE`] when absent, `none` never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock_reconcile: Option<Period>,
}

/// Whole numbers in files, refused in words ("a whole number of at least
/// 1"), never by the Rust type that holds them.
pub(crate) mod whole {
    use std::num::NonZeroUsize;

    use serde::Deserializer;
    use serde::de::{Error, Unexpected, Visitor};

    struct Whole {
        least: u64,
        most: u64,
    }

    impl Visitor<'_> for Whole {
        type Value = u64;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self.most {
                u64::MAX => write!(f, "a whole number of at least {}", self.least),
                most => write!(f, "a whole number from {} to {most}", self.least),
            }
        }

        fn visit_i64<E: Error>(self, v: i64) -> Result<u64, E> {
            match u64::try_from(v) {
                Ok(v) => self.visit_u64(v),
                Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
            }
        }

        fn visit_u64<E: Error>(self, v: u64) -> Result<u64, E> {
            if (self.least..=self.most).contains(&v) {
                Ok(v)
            } else {
                Err(E::invalid_value(Unexpected::Unsigned(v), &self))
            }
        }
    }

    /// A count of at least 1 (`page-size`, `batch-size`).
    pub fn at_least_one<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<NonZeroUsize>, D::Error> {
        let n = deserializer.deserialize_u64(Whole {
            least: 1,
            most: u64::MAX,
        })?;
        // A count beyond the address space is beyond any type's limit too.
        Ok(NonZeroUsize::new(usize::try_from(n).unwrap_or(usize::MAX)))
    }

    /// A stock quantity of 0 or more (`stock-buffer`, `max-listed`).
    pub fn quantity<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
        let n = deserializer.deserialize_u64(Whole {
            least: 0,
            most: u64::MAX,
        })?;
        // Past i64 is past any stock there is: the largest level means the same.
        Ok(Some(i64::try_from(n).unwrap_or(i64::MAX)))
    }

    /// A count of 0 or more (`quarantine-after`).
    pub fn zero_or_more<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u32>, D::Error> {
        let most = u64::from(u32::MAX);
        let n = deserializer.deserialize_u64(Whole { least: 0, most })?;
        Ok(u32::try_from(n).ok())
    }
}

/// How often export-stock reconciles when the channel says nothing.
pub const DEFAULT_STOCK_RECONCILE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Rejections in a row that quarantine a product when the channel says nothing.
pub const DEFAULT_QUARANTINE_AFTER: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    RefreshToken,
    ClientCredentials,
}

impl GrantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantKind::RefreshToken => "refresh_token",
            GrantKind::ClientCredentials => "client_credentials",
        }
    }
}

/// A channel's `[auth]` table as written. Which keys belong together is
/// checked at parse time (see `check_auth`), so [`AuthConfig::spec`] always
/// has what its method needs.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AuthConfig {
    /// `oauth2` when absent, so files written before methods existed keep working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<AuthMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<GrantKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_file: Option<PathBuf>,
    /// Only here to refuse a secret written into the file with a helpful message.
    #[serde(default, skip_serializing)]
    client_secret: Option<toml::Spanned<toml::Value>>,
    #[serde(default, skip_serializing)]
    password: Option<toml::Spanned<toml::Value>>,
    #[serde(default, skip_serializing)]
    api_key: Option<toml::Spanned<toml::Value>>,
}

/// Where a channel's secret comes from. Never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

impl SecretSource {
    fn from_pair(env: &Option<String>, file: &Option<PathBuf>) -> Option<SecretSource> {
        match (env, file) {
            (Some(var), _) => Some(SecretSource::Env(var.clone())),
            (None, Some(path)) => Some(SecretSource::File(path.clone())),
            (None, None) => None,
        }
    }
}

/// A secret file path as an account file keeps it: absolute, so it means
/// the same under cron (working directory `$HOME`), systemd (`/`) and the
/// shell that set it. A relative `path` is resolved against `cwd`
/// lexically: `.` parts go, `..` parts stay (a symlink may lie behind
/// them). `None` when `path` was absolute already.
pub fn absolute_secret_path(path: &Path, cwd: &Path) -> Option<PathBuf> {
    if path.is_absolute() || path.as_os_str().is_empty() {
        return None;
    }
    Some(cwd.join(path).components().collect())
}

/// An `[auth]` table by method, with what each method needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSpec<'a> {
    Oauth2 {
        token_url: &'a str,
        grant: GrantKind,
        client_id: &'a str,
        client_secret: SecretSource,
    },
    Login {
        username: &'a str,
        password: SecretSource,
    },
    ApiKey {
        key: SecretSource,
    },
}

impl AuthConfig {
    pub fn method(&self) -> AuthMethod {
        self.method.unwrap_or_default()
    }

    /// The table by method. Parsing checked that the method's keys are all
    /// there; a table built in code without them gives `None`.
    pub fn spec(&self) -> Option<AuthSpec<'_>> {
        Some(match self.method() {
            AuthMethod::Oauth2 => AuthSpec::Oauth2 {
                token_url: self.token_url.as_deref()?,
                grant: self.grant?,
                client_id: self.client_id.as_deref()?,
                client_secret: self.secret_source()?,
            },
            AuthMethod::Login => AuthSpec::Login {
                username: self.username.as_deref()?,
                password: self.secret_source()?,
            },
            AuthMethod::ApiKey => AuthSpec::ApiKey {
                key: self.secret_source()?,
            },
        })
    }

    /// The secret the method uses: client secret, password or API key.
    pub fn secret_source(&self) -> Option<SecretSource> {
        match self.method() {
            AuthMethod::Oauth2 => {
                SecretSource::from_pair(&self.client_secret_env, &self.client_secret_file)
            }
            AuthMethod::Login => SecretSource::from_pair(&self.password_env, &self.password_file),
            AuthMethod::ApiKey => SecretSource::from_pair(&self.api_key_env, &self.api_key_file),
        }
    }

    /// Every key of the table with whether it is set and the method it
    /// belongs to, in the order a new table is written.
    fn keys(&self) -> [(&'static str, Option<String>, Option<AuthMethod>); 11] {
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        [
            ("method", self.method.map(|m| m.as_str().to_string()), None),
            (
                "token-url",
                self.token_url.clone(),
                Some(AuthMethod::Oauth2),
            ),
            (
                "grant",
                self.grant.map(|g| g.as_str().to_string()),
                Some(AuthMethod::Oauth2),
            ),
            (
                "client-id",
                self.client_id.clone(),
                Some(AuthMethod::Oauth2),
            ),
            (
                "client-secret-env",
                self.client_secret_env.clone(),
                Some(AuthMethod::Oauth2),
            ),
            (
                "client-secret-file",
                path(&self.client_secret_file),
                Some(AuthMethod::Oauth2),
            ),
            ("username", self.username.clone(), Some(AuthMethod::Login)),
            (
                "password-env",
                self.password_env.clone(),
                Some(AuthMethod::Login),
            ),
            (
                "password-file",
                path(&self.password_file),
                Some(AuthMethod::Login),
            ),
            (
                "api-key-env",
                self.api_key_env.clone(),
                Some(AuthMethod::ApiKey),
            ),
            (
                "api-key-file",
                path(&self.api_key_file),
                Some(AuthMethod::ApiKey),
            ),
        ]
    }

    /// Every key name an `[auth]` table may have.
    pub fn key_names() -> impl Iterator<Item = &'static str> {
        AuthConfig::default().keys().into_iter().map(|(k, _, _)| k)
    }

    /// The keys that are set, with their values as written, in file order.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        self.keys()
            .into_iter()
            .filter_map(|(key, value, _)| value.map(|v| (key, v)))
            .collect()
    }

    /// Drops the keys of methods other than the table's own.
    pub fn clear_other_methods(&mut self) {
        let method = self.method();
        if method != AuthMethod::Oauth2 {
            (self.token_url, self.grant, self.client_id) = (None, None, None);
            (self.client_secret_env, self.client_secret_file) = (None, None);
        }
        if method != AuthMethod::Login {
            (self.username, self.password_env, self.password_file) = (None, None, None);
        }
        if method != AuthMethod::ApiKey {
            (self.api_key_env, self.api_key_file) = (None, None);
        }
    }

    /// What is wrong with the table's keys, if anything: keys of another
    /// method (a sign of a mix-up: a token URL on a login channel would never
    /// be used), a missing key the method needs, or a secret source given
    /// twice, not at all, or as a bad variable name.
    pub fn problem(&self) -> Option<String> {
        let method = self.method();
        let keys = self.keys();
        if let Some((key, _, Some(owner))) = keys
            .iter()
            .find(|(_, value, owner)| value.is_some() && owner.is_some_and(|o| o != method))
        {
            return Some(format!(
                "`{key}` belongs to method `{owner}`, but the method is `{method}`"
            ));
        }
        let required: &[&str] = match method {
            AuthMethod::Oauth2 => &["token-url", "grant", "client-id"],
            AuthMethod::Login => &["username"],
            AuthMethod::ApiKey => &[],
        };
        if let Some(key) = required
            .iter()
            .find(|key| !keys.iter().any(|(k, v, _)| k == *key && v.is_some()))
        {
            return Some(format!("method `{method}` needs `{key}`"));
        }
        let (env_key, file_key, env, file) = match method {
            AuthMethod::Oauth2 => (
                "client-secret-env",
                "client-secret-file",
                &self.client_secret_env,
                self.client_secret_file.is_some(),
            ),
            AuthMethod::Login => (
                "password-env",
                "password-file",
                &self.password_env,
                self.password_file.is_some(),
            ),
            AuthMethod::ApiKey => (
                "api-key-env",
                "api-key-file",
                &self.api_key_env,
                self.api_key_file.is_some(),
            ),
        };
        let name = self.secret_name();
        match (env, file) {
            (Some(_), true) => Some(format!("set either `{env_key}` or `{file_key}`, not both")),
            (None, false) => Some(format!("no {name} source; set `{env_key}` or `{file_key}`")),
            (Some(var), false) if var.is_empty() || var.contains('=') || var.contains('\0') => {
                Some(format!(
                    "`{env_key}` = {var:?} is not a valid environment variable name"
                ))
            }
            _ => None,
        }
    }

    /// The secret's name in messages: "client secret", "password", "API key".
    pub fn secret_name(&self) -> &'static str {
        match self.method() {
            AuthMethod::Oauth2 => "client secret",
            AuthMethod::Login => "password",
            AuthMethod::ApiKey => "API key",
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
    #[serde(default)]
    pub export_stock: Option<Period>,
}

impl JobsConfig {
    /// A job missing from the file is off.
    pub fn period(&self, job: Job) -> Period {
        let period = match job {
            Job::AuthRefresh => &self.auth_refresh,
            Job::ImportProducts => &self.import_products,
            Job::ExportProducts => &self.export_products,
            Job::ExportStock => &self.export_stock,
        };
        period.clone().unwrap_or(Period::Off)
    }
}

impl ChannelConfig {
    /// See [`ChannelConfig::max_removal`] (the field).
    pub fn removal_limit(&self) -> crate::guard::MaxRemoval {
        self.max_removal.unwrap_or_default()
    }

    /// See [`ChannelConfig::quarantine_after`] (the field).
    pub fn quarantine_threshold(&self) -> u32 {
        self.quarantine_after.unwrap_or(DEFAULT_QUARANTINE_AFTER)
    }

    /// The fields this channel's export owns; every field when it names
    /// none. A name that is no field is a validation error
    /// (`unknown-export-field`), so a channel run with one never gets here
    /// with it. A channel with export-stock on never has `stock` here:
    /// export-stock owns it, and two jobs writing one level would undo
    /// each other (on hand from one, available from the other).
    pub fn export_fields(&self) -> Result<crate::catalog::FieldSet, crate::catalog::UnknownField> {
        let fields = match &self.export_fields {
            None => crate::catalog::FieldSet::ALL,
            Some(names) => crate::catalog::FieldSet::parse(names)?,
        };
        Ok(if self.period(Job::ExportStock).is_off() {
            fields
        } else {
            fields.without(crate::catalog::Field::Stock)
        })
    }

    pub fn period(&self, job: Job) -> Period {
        self.jobs.period(job)
    }

    /// What export-stock makes of this channel's levels: its buffer and cap.
    pub fn stock_policy(&self) -> crate::catalog::StockPolicy {
        crate::catalog::StockPolicy {
            buffer: self.stock_buffer.unwrap_or(0),
            max_listed: self.max_listed,
        }
    }

    /// How often export-stock reconciles (`None`: never).
    pub fn stock_reconcile_every(&self) -> Option<std::time::Duration> {
        match &self.stock_reconcile {
            None => Some(DEFAULT_STOCK_RECONCILE),
            Some(period) => period.duration(),
        }
    }

    /// The catalog locations whose stock this channel takes: those its
    /// `[locations]` maps, or the catalog's `default` (at the platform's
    /// default location) when it maps none.
    pub fn stock_locations(&self) -> Vec<String> {
        if self.locations.is_empty() {
            vec![crate::catalog::DEFAULT_LOCATION.to_string()]
        } else {
            self.locations.keys().cloned().collect()
        }
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
    let at = |offset: Option<usize>, message: String| {
        Err(ConfigError::at(
            path,
            text,
            offset,
            format!("channels.{channel}.auth: {message}"),
        ))
    };
    for (written, env, file) in [
        (
            &auth.client_secret,
            "client-secret-env",
            "client-secret-file",
        ),
        (&auth.password, "password-env", "password-file"),
        (&auth.api_key, "api-key-env", "api-key-file"),
    ] {
        if let Some(secret) = written {
            let key = env.trim_end_matches("-env");
            return at(
                Some(secret.span().start),
                format!(
                    "secrets never live in the account file; remove `{key}` and set `{env}` (an environment variable) or `{file}` (a file path)"
                ),
            );
        }
    }
    match auth.problem() {
        Some(problem) => at(None, problem),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_secret_paths_become_absolute_against_the_working_directory() {
        let cwd = Path::new("/home/ops/conf");
        for (given, stored) in [
            ("pw", Some("/home/ops/conf/pw")),
            ("./pw", Some("/home/ops/conf/pw")),
            ("secrets/./key", Some("/home/ops/conf/secrets/key")),
            ("../secrets/key", Some("/home/ops/conf/../secrets/key")),
            ("secrets//key/", Some("/home/ops/conf/secrets/key")),
            ("/run/secrets/key", None),
            ("", None),
        ] {
            assert_eq!(
                absolute_secret_path(Path::new(given), cwd),
                stored.map(PathBuf::from),
                "{given:?}"
            );
        }
    }

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
        assert_eq!(auth.grant, Some(GrantKind::RefreshToken));
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

    fn with_channel_keys(keys: &str) -> String {
        SAMPLE.replace(
            "base-url = \"https://api.shop-eu.example/v1\"\n",
            &format!("base-url = \"https://api.shop-eu.example/v1\"\n{keys}\n"),
        )
    }

    #[test]
    fn stock_settings_default_parse_and_refuse_bad_values_by_line() {
        let account = AccountConfig::parse(Path::new("acme.toml"), SAMPLE).unwrap();
        let channel = &account.channels["shop-eu"];
        assert_eq!(
            channel.stock_policy(),
            crate::catalog::StockPolicy::default()
        );
        assert_eq!(
            channel.stock_reconcile_every(),
            Some(DEFAULT_STOCK_RECONCILE)
        );
        assert_eq!(channel.stock_locations(), ["default"]);
        assert!(
            channel
                .export_fields()
                .unwrap()
                .contains(crate::catalog::Field::Stock)
        );

        let text = with_channel_keys(
            "stock-buffer = 2\nmax-listed = 50\nstock-reconcile = \"none\"\n\
             [channels.shop-eu.locations]\nnorth = \"wh-1\"\nsouth = \"wh-2\"",
        )
        .replace(
            "export-products = \"1h\"",
            "export-products = \"1h\"\nexport-stock = \"5m\"",
        );
        let account = AccountConfig::parse(Path::new("acme.toml"), &text).unwrap();
        let channel = &account.channels["shop-eu"];
        assert_eq!(
            channel.stock_policy(),
            crate::catalog::StockPolicy {
                buffer: 2,
                max_listed: Some(50)
            }
        );
        assert_eq!(channel.stock_reconcile_every(), None);
        assert_eq!(channel.stock_locations(), ["north", "south"]);
        assert_eq!(channel.period(Job::ExportStock), "5m".parse().unwrap());
        // export-stock owns stock: export-products leaves it alone.
        let fields = channel.export_fields().unwrap();
        assert!(!fields.contains(crate::catalog::Field::Stock));
        assert!(fields.contains(crate::catalog::Field::Prices));

        for (keys, location, message) in [
            (
                "stock-buffer = -1",
                "acme.toml:8:16",
                "a whole number of at least 0",
            ),
            (
                "stock-buffer = \"2\"",
                "acme.toml:8:16",
                "a whole number of at least 0",
            ),
            (
                "max-listed = 1.5",
                "acme.toml:8:14",
                "a whole number of at least 0",
            ),
            (
                "stock-reconcile = \"daily\"",
                "acme.toml:8:19",
                "invalid period `daily`",
            ),
        ] {
            let err = AccountConfig::parse(Path::new("acme.toml"), &with_channel_keys(keys))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(location),
                "{keys}: expected {location}: {err}"
            );
            assert!(err.contains(message), "{keys}: expected {message}: {err}");
        }
    }
}
