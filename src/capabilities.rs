//! The capability master list: which jobs each channel type offers and at
//! which periods. Built into the binary and extended by the user's
//! `capabilities.toml`, where a type of the same name replaces the built-in one.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use std::num::NonZeroUsize;

use crate::config::ChannelConfig;
use crate::config::error::{ConfigError, parse_toml, read_text};
use crate::connector::{self, AuthMethod, Limits, RateLimit};
use crate::period::{Job, Period};

const BUILT_IN: &str = include_str!("capabilities.toml");

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct CapabilitiesFile {
    #[serde(default)]
    types: BTreeMap<String, ChannelType>,
}

/// One channel type of the master list.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ChannelType {
    /// Which connector speaks to it (see `connector::PROTOCOLS`).
    pub protocol: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub token_lifetime: Option<Period>,
    /// How long one job of a channel of this type may take before it is
    /// cancelled and recorded as failed ([`DEFAULT_DEADLINE`] when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Period>,
    /// Products asked per import page. A user type that leaves it (or
    /// `batch-size`, `auth`) out takes the built-in value of its protocol.
    #[serde(
        default,
        deserialize_with = "crate::config::model::whole::at_least_one"
    )]
    pub page_size: Option<NonZeroUsize>,
    /// Products (upserts plus deletions) per export request.
    #[serde(
        default,
        deserialize_with = "crate::config::model::whole::at_least_one"
    )]
    pub batch_size: Option<NonZeroUsize>,
    /// The most bytes one export request may carry (a platform's request
    /// body limit); absent: no limit but `batch-size`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::config::model::whole::at_least_one"
    )]
    pub max_request_bytes: Option<NonZeroUsize>,
    /// Import pages a channel of the type may have in flight at once (1
    /// when absent). Only connectors that page by offset use more than one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::config::model::whole::at_least_one"
    )]
    pub concurrency: Option<NonZeroUsize>,
    /// How long after a create the platform's look-ups surely see it: the
    /// write journal closes an intent only after a reconcile that ran at
    /// least this long after the intent started ([`DEFAULT_SETTLE`] when
    /// absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle: Option<Period>,
    /// The auth methods the type accepts.
    #[serde(default)]
    pub auth: Option<Vec<AuthMethod>>,
    /// Requests per second and burst a channel of the type may be sent;
    /// `None` is unlimited (the channel's rate headers still pace it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    #[serde(default)]
    pub jobs: OfferedJobs,
}

/// A type's job deadline when its definition names none.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10 * 60);

/// A type's settle window when its definition names none.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(20);

/// The periods offered per job; a missing job is a direction the type does not offer.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct OfferedJobs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_refresh: Option<Vec<Period>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_products: Option<Vec<Period>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_products: Option<Vec<Period>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_stock: Option<Vec<Period>>,
}

impl OfferedJobs {
    pub fn get(&self, job: Job) -> Option<&[Period]> {
        match job {
            Job::AuthRefresh => self.auth_refresh.as_deref(),
            Job::ImportProducts => self.import_products.as_deref(),
            Job::ExportProducts => self.export_products.as_deref(),
            Job::ExportStock => self.export_stock.as_deref(),
        }
    }
}

/// Whether a channel type accepts a period for a job.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    Allowed,
    JobNotOffered,
    PeriodNotOffered,
}

impl ChannelType {
    /// `none` is always allowed; otherwise the job must be offered and the
    /// period must equal (as a duration) one in the list.
    pub fn offer(&self, job: Job, period: &Period) -> Offer {
        if period.is_off() {
            return Offer::Allowed;
        }
        match self.jobs.get(job) {
            None => Offer::JobNotOffered,
            Some(periods) if periods.contains(period) => Offer::Allowed,
            Some(_) => Offer::PeriodNotOffered,
        }
    }

    /// The offered periods of `job` as text, for messages: "15m, 30m, 1h".
    pub fn offered_list(&self, job: Job) -> String {
        self.jobs
            .get(job)
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn token_lifetime(&self) -> Option<Duration> {
        self.token_lifetime.as_ref().and_then(Period::duration)
    }

    /// The type's job deadline (`deadline = "none"` means the default).
    pub fn deadline(&self) -> Duration {
        self.deadline
            .as_ref()
            .and_then(Period::duration)
            .unwrap_or(DEFAULT_DEADLINE)
    }

    /// The deadline of one job of a channel: the channel's own when it sets
    /// a shorter one, else the type's.
    pub fn job_deadline(&self, channel: Option<&Period>) -> Duration {
        let limit = self.deadline();
        channel
            .and_then(Period::duration)
            .map_or(limit, |own| own.min(limit))
    }

    /// The type's own limits (what a channel may lower, never raise).
    pub fn limits(&self) -> Limits {
        Limits {
            page_size: self.page_size.map_or(1, NonZeroUsize::get),
            batch_size: self.batch_size.map_or(1, NonZeroUsize::get),
            max_request_bytes: self.max_request_bytes.map(NonZeroUsize::get),
            concurrency: self.concurrency.map_or(1, NonZeroUsize::get),
        }
    }

    /// A channel's limits: the type's, lowered by the channel's own keys.
    pub fn channel_limits(&self, channel: &ChannelConfig) -> Limits {
        let own = self.limits();
        let lower = |type_max: usize, wanted: Option<NonZeroUsize>| {
            wanted.map_or(type_max, |w| w.get().min(type_max))
        };
        Limits {
            page_size: lower(own.page_size, channel.page_size),
            batch_size: lower(own.batch_size, channel.batch_size),
            max_request_bytes: match (own.max_request_bytes, channel.max_request_bytes) {
                (Some(most), wanted) => Some(lower(most, wanted)),
                (None, wanted) => wanted.map(NonZeroUsize::get),
            },
            concurrency: lower(own.concurrency, channel.concurrency),
        }
    }

    /// The type's settle window (`settle = "none"` means the default).
    pub fn settle(&self) -> Duration {
        self.settle
            .as_ref()
            .and_then(Period::duration)
            .unwrap_or(DEFAULT_SETTLE)
    }

    /// A channel's request budget: the type's `rate-limit`, lowered by the
    /// channel's own (which, with none on the type, applies as it is).
    pub fn channel_rate_limit(&self, channel: &ChannelConfig) -> Option<RateLimit> {
        match (self.rate_limit, channel.rate_limit) {
            (Some(own), Some(wanted)) => Some(own.lowered_by(wanted)),
            (own, wanted) => own.or(wanted),
        }
    }

    /// The auth methods the type accepts.
    pub fn auth_methods(&self) -> &[AuthMethod] {
        self.auth.as_deref().unwrap_or_default()
    }

    /// "oauth2, login", for messages.
    pub fn auth_list(&self) -> String {
        self.auth_methods()
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Where a type's definition came from, for `capabilities list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    BuiltIn,
    User,
}

#[derive(Clone, Debug, Default)]
pub struct Capabilities {
    types: BTreeMap<String, (ChannelType, Source)>,
    /// A digest of the texts the list was read from (see [`Capabilities::digest`]).
    digest: u64,
}

/// FNV-1a of `text`, continuing from `from`.
fn digest_on(from: u64, text: &[u8]) -> u64 {
    let mut hash = crate::store::Fnv1a(from);
    hash.feed(text);
    hash.0
}

fn built_in_digest() -> u64 {
    digest_on(crate::store::Fnv1a::new().0, BUILT_IN.as_bytes())
}

impl Capabilities {
    /// The built-in list alone.
    pub fn built_in() -> Capabilities {
        let file: CapabilitiesFile =
            parse_toml(Path::new("<built-in capabilities.toml>"), BUILT_IN)
                .expect("the built-in capability list parses (checked by a unit test)");
        let mut capabilities = Capabilities {
            digest: built_in_digest(),
            ..Capabilities::default()
        };
        capabilities.merge(file, Source::BuiltIn);
        capabilities
    }

    /// The built-in list merged with `path` if that file exists.
    pub fn load(path: &Path) -> Result<Capabilities, ConfigError> {
        let mut capabilities = Capabilities::built_in();
        if path.exists() {
            let text = read_text(path)?;
            capabilities.merge_text(path, &text)?;
        }
        Ok(capabilities)
    }

    /// Merges a user capability file's text; its types replace built-in ones of the same name.
    pub fn merge_text(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let file: CapabilitiesFile = parse_toml(path, text)?;
        for (name, channel_type) in &file.types {
            if let Err(err) = crate::ids::check_id("channel type", name) {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    message: err.to_string(),
                });
            }
            if !connector::is_known_protocol(&channel_type.protocol) {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    message: format!(
                        "type `{name}` has unknown protocol `{}`: known protocols are {}",
                        channel_type.protocol,
                        connector::protocol_names()
                    ),
                });
            }
        }
        self.merge(file, Source::User);
        self.digest = digest_on(self.digest, text.as_bytes());
        Ok(())
    }

    /// A digest of every text the list was read from: the built-in list and
    /// the user's file as merged. Equal to [`Capabilities::file_digest`] of
    /// the same file, which reads it without parsing it.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// The [`Capabilities::digest`] that [`Capabilities::load`] of `path`
    /// would give, from the file's bytes alone.
    pub fn file_digest(path: &Path) -> std::io::Result<u64> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(digest_on(built_in_digest(), &bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(built_in_digest()),
            Err(e) => Err(e),
        }
    }

    fn merge(&mut self, file: CapabilitiesFile, source: Source) {
        for (name, mut channel_type) in file.types {
            if source == Source::User {
                self.fill_from_protocol_default(&mut channel_type);
            }
            self.types.insert(name, (channel_type, source));
        }
    }

    /// Fills a user type's missing limits and auth methods from the first
    /// built-in type of the same protocol, so a user file written before
    /// those keys existed keeps its meaning.
    fn fill_from_protocol_default(&self, channel_type: &mut ChannelType) {
        let Some(default) = self
            .types
            .values()
            .find(|(t, source)| *source == Source::BuiltIn && t.protocol == channel_type.protocol)
            .map(|(t, _)| t)
        else {
            return;
        };
        channel_type.page_size = channel_type.page_size.or(default.page_size);
        channel_type.batch_size = channel_type.batch_size.or(default.batch_size);
        channel_type.max_request_bytes =
            channel_type.max_request_bytes.or(default.max_request_bytes);
        channel_type.settle = channel_type.settle.clone().or(default.settle.clone());
        if channel_type.auth.is_none() {
            channel_type.auth = default.auth.clone();
        }
    }

    pub fn get(&self, name: &str) -> Option<&ChannelType> {
        self.types.get(name).map(|(channel_type, _)| channel_type)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &ChannelType, Source)> {
        self.types
            .iter()
            .map(|(name, (channel_type, source))| (name.as_str(), channel_type, *source))
    }

    pub fn names(&self) -> String {
        self.types.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(text: &str) -> Period {
        text.parse().unwrap()
    }

    #[test]
    fn built_in_list_parses_and_has_beta_rest() {
        let capabilities = Capabilities::built_in();
        let beta = capabilities.get("beta-rest").expect("beta-rest");
        assert_eq!(beta.protocol, "beta-rest");
        assert_eq!(beta.token_lifetime(), Some(Duration::from_secs(3600)));
        assert_eq!(beta.deadline(), Duration::from_secs(5 * 60));
        assert_eq!(
            beta.limits(),
            Limits {
                page_size: 500,
                batch_size: 100,
                max_request_bytes: None,
                concurrency: 1,
            }
        );
        assert_eq!(beta.auth_methods(), [AuthMethod::Oauth2]);
    }

    #[test]
    fn every_built_in_type_has_a_known_protocol_limits_and_auth() {
        for (name, channel_type, _) in Capabilities::built_in().iter() {
            assert!(
                connector::is_known_protocol(&channel_type.protocol),
                "{name}"
            );
            assert!(channel_type.page_size.is_some(), "{name}: page-size");
            assert!(channel_type.batch_size.is_some(), "{name}: batch-size");
            assert!(!channel_type.auth_methods().is_empty(), "{name}: auth");
            assert!(channel_type.deadline.is_some(), "{name}: deadline");
        }
    }

    #[test]
    fn the_digest_of_a_loaded_list_is_that_of_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("capabilities.toml");
        let absent = Capabilities::load(&path).unwrap().digest();
        assert_eq!(Capabilities::file_digest(&path).unwrap(), absent);
        assert_eq!(Capabilities::built_in().digest(), absent);
        for text in [
            "[types.x]\nprotocol = \"beta-rest\"\n",
            "[types.x]\nprotocol = \"beta-rest\"\npage-size = 10\n",
        ] {
            std::fs::write(&path, text).unwrap();
            let loaded = Capabilities::load(&path).unwrap().digest();
            assert_eq!(Capabilities::file_digest(&path).unwrap(), loaded);
            assert_ne!(loaded, absent);
        }
    }

    #[test]
    fn user_types_inherit_missing_limits_and_may_set_their_own() {
        let mut capabilities = Capabilities::built_in();
        let user = "[types.old]\nprotocol = \"beta-rest\"\n\n[types.small]\nprotocol = \"beta-rest\"\npage-size = 100\nbatch-size = 10\n";
        capabilities
            .merge_text(Path::new("capabilities.toml"), user)
            .unwrap();
        let old = capabilities.get("old").unwrap();
        assert_eq!(
            old.limits(),
            capabilities.get("beta-rest").unwrap().limits()
        );
        assert_eq!(old.auth_methods(), [AuthMethod::Oauth2]);
        let small = capabilities.get("small").unwrap().limits();
        assert_eq!((small.page_size, small.batch_size), (100, 10));
    }

    #[test]
    fn a_channel_may_only_lower_its_types_deadline() {
        let capabilities = Capabilities::built_in();
        let beta = capabilities.get("beta-rest").unwrap();
        let cases = [
            (None, 300),
            (Some("2m"), 120),
            (Some("1h"), 300),
            (Some("none"), 300),
        ];
        for (own, secs) in cases {
            let own = own.map(period);
            assert_eq!(
                beta.job_deadline(own.as_ref()),
                Duration::from_secs(secs),
                "{own:?}"
            );
        }
        let mut user = Capabilities::built_in();
        user.merge_text(
            Path::new("capabilities.toml"),
            "[types.slow]\nprotocol = \"beta-rest\"\n",
        )
        .unwrap();
        assert_eq!(user.get("slow").unwrap().deadline(), DEFAULT_DEADLINE);
    }

    #[test]
    fn a_channel_may_only_lower_its_types_rate_limit() {
        let mut capabilities = Capabilities::built_in();
        capabilities
            .merge_text(
                Path::new("capabilities.toml"),
                "[types.paced]\nprotocol = \"beta-rest\"\nrate-limit = { per-second = 10, burst = 20 }\n",
            )
            .unwrap();
        let paced = capabilities.get("paced").unwrap();
        let beta = capabilities.get("beta-rest").unwrap();
        let channel = |own: &str| -> ChannelConfig {
            toml::from_str(&format!(
                "type = \"paced\"\nbase-url = \"https://x.example\"\n{own}"
            ))
            .unwrap()
        };
        let rate = |per_second, burst| Some(RateLimit { per_second, burst });
        let cases = [
            ("", rate(10.0, 20), None),
            (
                "rate-limit = { per-second = 4 }",
                rate(4.0, 1),
                rate(4.0, 1),
            ),
            (
                "rate-limit = { per-second = 50, burst = 5 }",
                rate(10.0, 5),
                rate(50.0, 5),
            ),
            (
                "rate-limit = { per-second = 2.5, burst = 100 }",
                rate(2.5, 20),
                rate(2.5, 100),
            ),
        ];
        for (own, on_paced, on_unlimited) in cases {
            let ch = channel(own);
            assert_eq!(paced.channel_rate_limit(&ch), on_paced, "{own}");
            assert_eq!(beta.channel_rate_limit(&ch), on_unlimited, "{own}");
        }
    }

    #[test]
    fn a_channel_may_only_lower_its_types_concurrency() {
        let capabilities = Capabilities::built_in();
        let medusa = capabilities.get("medusa").unwrap();
        let beta = capabilities.get("beta-rest").unwrap();
        let channel = |own: &str| -> ChannelConfig {
            toml::from_str(&format!(
                "type = \"medusa\"\nbase-url = \"https://x.example\"\n{own}"
            ))
            .unwrap()
        };
        for (own, on_medusa, on_beta) in [
            ("", 3, 1),
            ("concurrency = 2", 2, 1),
            ("concurrency = 1", 1, 1),
            ("concurrency = 8", 3, 1),
        ] {
            let ch = channel(own);
            assert_eq!(medusa.channel_limits(&ch).concurrency, on_medusa, "{own}");
            assert_eq!(beta.channel_limits(&ch).concurrency, on_beta, "{own}");
        }
    }

    #[test]
    fn offers_compare_as_durations() {
        let capabilities = Capabilities::built_in();
        let beta = capabilities.get("beta-rest").unwrap();
        let export_only = capabilities.get("beta-rest-export-only").unwrap();
        let cases = [
            (beta, Job::ExportProducts, "1h", Offer::Allowed),
            (beta, Job::ExportProducts, "60m", Offer::Allowed),
            (beta, Job::ExportProducts, "5m", Offer::PeriodNotOffered),
            (beta, Job::AuthRefresh, "50m", Offer::Allowed),
            (beta, Job::ImportProducts, "none", Offer::Allowed),
            (export_only, Job::ImportProducts, "1h", Offer::JobNotOffered),
            (export_only, Job::ImportProducts, "none", Offer::Allowed),
        ];
        for (channel_type, job, text, expected) in cases {
            assert_eq!(
                channel_type.offer(job, &period(text)),
                expected,
                "{job} {text}"
            );
        }
    }

    #[test]
    fn user_types_extend_and_replace_built_in_ones() {
        let mut capabilities = Capabilities::built_in();
        let user = r#"
[types.beta-rest]
protocol = "beta-rest"
[types.beta-rest.jobs]
export-products = ["5m"]

[types.fastshop]
protocol = "beta-rest"
description = "Fast shop"
[types.fastshop.jobs]
import-products = ["1m"]
"#;
        capabilities
            .merge_text(Path::new("capabilities.toml"), user)
            .unwrap();
        let beta = capabilities.get("beta-rest").unwrap();
        assert_eq!(
            beta.offer(Job::ExportProducts, &period("5m")),
            Offer::Allowed
        );
        assert_eq!(
            beta.offer(Job::ExportProducts, &period("1h")),
            Offer::PeriodNotOffered
        );
        assert_eq!(
            beta.offer(Job::AuthRefresh, &period("1h")),
            Offer::JobNotOffered
        );
        assert!(capabilities.get("fastshop").is_some());
        assert!(capabilities.get("beta-rest-export-only").is_some());
        let sources: Vec<_> = capabilities
            .iter()
            .map(|(n, _, s)| (n.to_string(), s))
            .collect();
        assert!(sources.contains(&("beta-rest".to_string(), Source::User)));
        assert!(sources.contains(&("beta-rest-export-only".to_string(), Source::BuiltIn)));
    }

    #[test]
    fn bad_user_files_name_file_line_and_column() {
        let cases = [
            ("[types.x]\nprotocol = 1\n", "capabilities.toml:2:12"),
            (
                "[types.x]\nprotocol = \"beta-rest\"\n[types.x.jobs]\nimport-products = [\"5x\"]\n",
                "capabilities.toml:4:",
            ),
            (
                "[types.x]\nprotocol = \"beta-rest\"\ncolour = \"red\"\n",
                "capabilities.toml:3:1",
            ),
            (
                "[types.x]\nprotocol = \"beta-rest\"\n[types.x.jobs]\nsync = [\"1h\"]\n",
                "capabilities.toml:4:1",
            ),
            (
                "[types.x]\nprotocol = \"gamma\"\n",
                "unknown protocol `gamma`",
            ),
            (
                "[types.X]\nprotocol = \"beta-rest\"\n",
                "invalid channel type id `X`",
            ),
            (
                "[types.x]\nprotocol = \"beta-rest\"\npage-size = 0\n",
                "capabilities.toml:3:13",
            ),
            (
                "[types.x]\nprotocol = \"beta-rest\"\nauth = [\"password\"]\n",
                "unknown variant `password`",
            ),
        ];
        for (text, expected) in cases {
            let err = Capabilities::built_in()
                .merge_text(Path::new("capabilities.toml"), text)
                .expect_err(text);
            assert!(err.to_string().contains(expected), "{text}: {err}");
        }
    }
}
