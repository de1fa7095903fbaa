//! Validation of an account against the capability master list and its master
//! product source. Pure: the presence of secrets is asked through a closure, so
//! the rules are unit-tested without files or environment.

use std::fmt;

use serde::Serialize;

use crate::capabilities::{Capabilities, Offer};
use crate::config::{AccountConfig, AuthConfig, AuthSpec, ChannelConfig, GrantKind, SecretSource};
use crate::connector::{AuthMethod, check_url};
use crate::period::Job;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One problem found in an account; `code` is stable for scripts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: &'static str,
    pub account: String,
    pub channel: Option<String>,
    pub job: Option<Job>,
    pub message: String,
}

impl fmt::Display for Finding {
    /// `acme/shop-eu: error[period-not-offered]: export-products 5m is not offered by ...`
    /// The message quotes values from the file, so it is shown escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.channel {
            Some(channel) => write!(f, "{}/{channel}", self.account)?,
            None => write!(f, "{}", self.account)?,
        }
        write!(
            f,
            ": {}[{}]: {}",
            self.severity,
            self.code,
            crate::output::escape(&self.message)
        )
    }
}

struct Findings<'a> {
    account: &'a str,
    list: Vec<Finding>,
}

impl Findings<'_> {
    fn push(
        &mut self,
        severity: Severity,
        code: &'static str,
        channel: Option<&str>,
        job: Option<Job>,
        message: String,
    ) {
        self.list.push(Finding {
            severity,
            code,
            account: self.account.to_string(),
            channel: channel.map(str::to_string),
            job,
            message,
        });
    }
}

/// Checks one account. `secret_present` answers whether a named secret exists here.
pub fn validate_account(
    account: &str,
    config: &AccountConfig,
    capabilities: &Capabilities,
    secret_present: &dyn Fn(&SecretSource) -> bool,
) -> Vec<Finding> {
    let mut findings = Findings {
        account,
        list: Vec::new(),
    };
    let master = config.master_product_source.as_str();
    if !config.master_is_oms() && !config.channels.contains_key(master) {
        findings.push(
            Severity::Error,
            "unknown-master-source",
            None,
            None,
            format!(
                "master-product-source `{master}` names no channel of this account (use \"oms\" or one of: {})",
                config.channel_names()
            ),
        );
    }
    for (id, channel) in &config.channels {
        check_channel(
            &mut findings,
            config,
            id,
            channel,
            capabilities,
            secret_present,
        );
    }
    findings.list
}

fn check_channel(
    findings: &mut Findings<'_>,
    config: &AccountConfig,
    id: &str,
    channel: &ChannelConfig,
    capabilities: &Capabilities,
    secret_present: &dyn Fn(&SecretSource) -> bool,
) {
    let ch = Some(id);
    let is_on = |job: Job| !channel.period(job).is_off();

    if let Err(unknown) = channel.export_fields() {
        findings.push(
            Severity::Error,
            "unknown-export-field",
            ch,
            None,
            format!("export-fields: {unknown}"),
        );
    }

    if let Some(name) = &channel.attributes_field
        && let Err(bad) = crate::connector::vendure::attributes::AttributeField::new(name)
    {
        findings.push(Severity::Error, "bad-attributes-field", ch, None, bad);
    }

    match capabilities.get(&channel.channel_type) {
        None => findings.push(
            Severity::Error,
            "unknown-channel-type",
            ch,
            None,
            format!(
                "type `{}` is not in the capability master list (known: {})",
                channel.channel_type,
                capabilities.names()
            ),
        ),
        Some(channel_type) => {
            for job in Job::ALL {
                let period = channel.period(job);
                match channel_type.offer(job, &period) {
                    Offer::Allowed => {}
                    Offer::JobNotOffered => findings.push(
                        Severity::Error,
                        "unsupported-job",
                        ch,
                        Some(job),
                        format!(
                            "{job} is set to {period} but {} does not offer {job}; set it to none",
                            channel.channel_type
                        ),
                    ),
                    Offer::PeriodNotOffered => findings.push(
                        Severity::Error,
                        "period-not-offered",
                        ch,
                        Some(job),
                        format!(
                            "{job} {period} is not offered by {} (offered: {})",
                            channel.channel_type,
                            channel_type.offered_list(job)
                        ),
                    ),
                }
            }
            if let Some(auth) = &channel.auth
                && !channel_type.auth_methods().contains(&auth.method())
            {
                findings.push(
                    Severity::Error,
                    "unsupported-auth",
                    ch,
                    None,
                    format!(
                        "auth method `{}` is not accepted by {} (accepted: {})",
                        auth.method(),
                        channel.channel_type,
                        channel_type.auth_list()
                    ),
                );
            }
            let limits = channel_type.limits();
            for (key, wanted, most) in [
                ("page-size", channel.page_size, limits.page_size),
                ("batch-size", channel.batch_size, limits.batch_size),
                (
                    "max-request-bytes",
                    channel.max_request_bytes,
                    limits.max_request_bytes.unwrap_or(usize::MAX),
                ),
                ("concurrency", channel.concurrency, limits.concurrency),
            ] {
                if let Some(wanted) = wanted.filter(|w| w.get() > most) {
                    findings.push(
                        Severity::Warning,
                        "limit-above-type",
                        ch,
                        None,
                        format!(
                            "{key} {wanted} is above {}'s {most}: a channel may only lower its type's limits, so {most} applies",
                            channel.channel_type
                        ),
                    );
                }
            }
            if let (Some(most), Some(wanted)) = (channel_type.rate_limit, channel.rate_limit)
                && wanted.exceeds(&most)
            {
                findings.push(
                    Severity::Warning,
                    "limit-above-type",
                    ch,
                    None,
                    format!(
                        "rate-limit {wanted} is above {}'s {most}: a channel may only lower its type's limits, so {} applies",
                        channel.channel_type,
                        most.lowered_by(wanted)
                    ),
                );
            }
            if let (Some(lifetime), Some(every)) = (
                channel_type.token_lifetime(),
                channel.period(Job::AuthRefresh).duration(),
            ) && every > lifetime
            {
                findings.push(
                    Severity::Warning,
                    "auth-slower-than-token",
                    ch,
                    Some(Job::AuthRefresh),
                    format!(
                        "auth-refresh every {} is slower than the {} token lifetime of {}: product jobs will find the token expired",
                        channel.period(Job::AuthRefresh),
                        channel.channel_type,
                        humantime::format_duration(lifetime)
                    ),
                );
            }
            if let Some(own) = channel.deadline.as_ref().and_then(|d| d.duration())
                && own > channel_type.deadline()
            {
                findings.push(
                    Severity::Warning,
                    "deadline-above-type",
                    ch,
                    None,
                    format!(
                        "deadline {} is longer than the {} deadline of {}: a channel may only lower it, so {} applies",
                        channel.deadline.as_ref().map(ToString::to_string).unwrap_or_default(),
                        channel.channel_type,
                        humantime::format_duration(channel_type.deadline()),
                        humantime::format_duration(channel_type.deadline())
                    ),
                );
            }
        }
    }

    let master = config.master_product_source.as_str();
    if master == id && is_on(Job::ExportProducts) {
        findings.push(
            Severity::Error,
            "export-to-master",
            ch,
            Some(Job::ExportProducts),
            format!("export-products is {} but `{id}` is the master product source: it would push the catalog back to where it comes from; set it to none", channel.period(Job::ExportProducts)),
        );
    }
    if is_on(Job::ImportProducts) {
        if config.master_is_oms() {
            findings.push(
                Severity::Warning,
                "import-with-oms-master",
                ch,
                Some(Job::ImportProducts),
                "import-products is on but the master product source is oms: the import only records this channel's listings".to_string(),
            );
        } else if master != id && config.channels.contains_key(master) {
            findings.push(
                Severity::Warning,
                "import-from-non-master",
                ch,
                Some(Job::ImportProducts),
                format!("import-products is on but the master product source is `{master}`: the import only records this channel's listings"),
            );
        }
    }
    if master == id && !is_on(Job::ImportProducts) {
        findings.push(
            Severity::Warning,
            "master-not-imported",
            ch,
            Some(Job::ImportProducts),
            format!("`{id}` is the master product source but its import-products is none: the catalog is never fed"),
        );
    }
    // Stock always comes from the OMS, whatever the master product source,
    // so export-stock has no master rule: even the master channel takes it.
    let idle_jobs: Vec<&str> = Job::ALL
        .into_iter()
        .filter(|job| job.is_product_job() && is_on(*job))
        .map(Job::as_str)
        .collect();
    if !is_on(Job::AuthRefresh) && !idle_jobs.is_empty() {
        findings.push(
            Severity::Warning,
            "auth-disabled",
            ch,
            Some(Job::AuthRefresh),
            format!(
                "auth-refresh is none, so no API call is made to this channel: its {} will not run",
                idle_jobs.join(" and ")
            ),
        );
    }

    let mut urls = vec![("base-url", channel.base_url.as_str())];
    if let Some(token_url) = channel.auth.as_ref().and_then(|a| a.token_url.as_deref()) {
        urls.push(("auth.token-url", token_url));
    }
    for (key, url) in urls {
        if let Err(err) = check_url(url) {
            let code = if matches!(err, crate::connector::UrlError::InsecureHttp { .. }) {
                "insecure-url"
            } else {
                "invalid-url"
            };
            findings.push(Severity::Error, code, ch, None, format!("{key}: {err}"));
        }
    }

    if let Some(auth) = &channel.auth
        && let Some(SecretSource::File(path)) = auth.secret_source()
        && path.is_relative()
    {
        // A warning, not an error: the channel works wherever the runs
        // start in the right directory, and an error would make run-once
        // skip a channel that works today.
        findings.push(
            Severity::Warning,
            "relative-secret-path",
            ch,
            None,
            format!(
                "{} `{}` is relative: each run resolves it against its own working directory ($HOME under cron, / under systemd), not against this file; write it absolute, or run `oms-channels channel set {id} --{} <PATH>`, which stores it absolute",
                secret_file_key(auth),
                crate::output::escape(&path.to_string_lossy()),
                secret_file_key(auth),
            ),
        );
    }

    match &channel.auth {
        None if is_on(Job::AuthRefresh) => findings.push(
            Severity::Error,
            "missing-auth",
            ch,
            Some(Job::AuthRefresh),
            format!(
                "auth-refresh is {} but the channel has no [channels.{id}.auth] table",
                channel.period(Job::AuthRefresh)
            ),
        ),
        Some(auth) if is_on(Job::AuthRefresh) => {
            if let Some(source) = auth.secret_source()
                && !secret_present(&source)
            {
                let kind = auth.secret_name();
                let what = match &source {
                    SecretSource::Env(var) => {
                        format!("{kind} environment variable `{var}` is not set")
                    }
                    SecretSource::File(path) => {
                        format!("{kind} file `{}` does not exist", path.display())
                    }
                };
                findings.push(
                    Severity::Warning,
                    "missing-secret",
                    ch,
                    Some(Job::AuthRefresh),
                    format!("{what} here: auth-refresh will fail at run time"),
                );
            }
        }
        _ => {}
    }
}

/// The account file's key naming the secret file of the channel's method.
fn secret_file_key(auth: &AuthConfig) -> &'static str {
    match auth.method() {
        AuthMethod::Oauth2 => "client-secret-file",
        AuthMethod::Login => "password-file",
        AuthMethod::ApiKey => "api-key-file",
    }
}

/// Findings about the accounts dir itself: a `*.toml` whose name is no
/// valid account id is never loaded by any command, so the account it was
/// meant to be silently never runs. `files` are those names (`Acme.toml`).
/// A warning: no account is broken by it, but `--strict` fails on it.
pub fn account_file_findings(files: &[String]) -> Vec<Finding> {
    files
        .iter()
        .map(|file| {
            let stem = file.strip_suffix(".toml").unwrap_or(file);
            let why = crate::ids::check_account_id(stem)
                .err()
                .map_or_else(String::new, |e| format!(" ({e})"));
            Finding {
                severity: Severity::Warning,
                code: "ignored-account-file",
                account: crate::output::escape(stem).into_owned(),
                channel: None,
                job: None,
                message: format!(
                    "accounts/{} is not an account file: its name is no valid account id{why}, so every command ignores it; rename it",
                    crate::output::escape(file)
                ),
            }
        })
        .collect()
}

/// Findings a store can tell (`validate`, not `--offline`): an oauth2
/// channel with the refresh_token grant and auth-refresh on needs a refresh
/// token in the store; `refresh_token_stored` answers for a channel.
pub fn stored_token_findings(
    account: &str,
    config: &AccountConfig,
    refresh_token_stored: &dyn Fn(&str) -> bool,
) -> Vec<Finding> {
    let mut findings = Findings {
        account,
        list: Vec::new(),
    };
    for (id, channel) in &config.channels {
        let needs_token = matches!(
            channel.auth.as_ref().and_then(AuthConfig::spec),
            Some(AuthSpec::Oauth2 {
                grant: GrantKind::RefreshToken,
                ..
            })
        );
        if needs_token && !channel.period(Job::AuthRefresh).is_off() && !refresh_token_stored(id) {
            findings.push(
                Severity::Warning,
                "missing-refresh-token",
                Some(id),
                Some(Job::AuthRefresh),
                format!(
                    "auth-refresh is on with grant refresh_token, but no refresh token is stored for this channel: auth-refresh will fail until you run `oms-channels channel login {id}`"
                ),
            );
        }
    }
    findings.list
}

/// Asks the real environment and file system whether a secret is there.
pub fn secret_present_here(source: &SecretSource) -> bool {
    match source {
        SecretSource::Env(var) => std::env::var_os(var).is_some_and(|v| !v.is_empty()),
        SecretSource::File(path) => path.is_file(),
    }
}

pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const BASE: &str = r#"
master-product-source = "oms"
[channels.a]
type = "beta-rest"
base-url = "https://a.example/v1"
[channels.a.auth]
token-url = "https://a.example/token"
grant = "refresh_token"
client-id = "x"
client-secret-env = "A_SECRET"
[channels.a.jobs]
auth-refresh = "50m"
import-products = "none"
export-products = "1h"
"#;

    fn codes(text: &str, secrets: bool) -> Vec<(&'static str, Option<String>)> {
        let config =
            AccountConfig::parse(Path::new("t.toml"), text).unwrap_or_else(|e| panic!("{e}"));
        validate_account("acme", &config, &Capabilities::built_in(), &|_| secrets)
            .into_iter()
            .map(|f| (f.code, f.channel))
            .collect()
    }

    fn second_channel(jobs: &str) -> String {
        format!(
            "{BASE}\n[channels.b]\ntype = \"beta-rest\"\nbase-url = \"https://b.example\"\n[channels.b.auth]\ntoken-url = \"https://b.example/t\"\ngrant = \"client_credentials\"\nclient-id = \"y\"\nclient-secret-file = \"/nonexistent\"\n[channels.b.jobs]\n{jobs}\n"
        )
    }

    #[test]
    fn clean_account_has_no_findings() {
        assert_eq!(codes(BASE, true), vec![]);
    }

    #[test]
    fn export_stock_comes_from_the_oms_whatever_the_master_source() {
        let a = Some("a".to_string());
        let stock = |text: &str, period: &str| {
            text.replace(
                "export-products = \"1h\"",
                &format!("export-products = \"none\"\nexport-stock = \"{period}\""),
            )
        };
        // Stock without products, on an ordinary channel and on the master.
        assert_eq!(codes(&stock(BASE, "1m"), true), vec![]);
        let master = BASE
            .replace(
                "master-product-source = \"oms\"",
                "master-product-source = \"a\"",
            )
            .replace("import-products = \"none\"", "import-products = \"1h\"");
        assert_eq!(codes(&stock(&master, "5m"), true), vec![]);
        // Its periods are the type's; an export-only type offers none.
        assert_eq!(
            codes(&stock(BASE, "3m"), true),
            vec![("period-not-offered", a.clone())]
        );
        assert_eq!(
            codes(
                &stock(BASE, "1m").replace("\"beta-rest\"", "\"beta-rest-export-only\""),
                true
            ),
            vec![("unsupported-job", a.clone())]
        );
        // Auth none stops it like every job.
        let off = stock(BASE, "1m").replace("auth-refresh = \"50m\"", "auth-refresh = \"none\"");
        let config = AccountConfig::parse(Path::new("t.toml"), &off).unwrap();
        let findings = validate_account("acme", &config, &Capabilities::built_in(), &|_| true);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].code, "auth-disabled");
        assert!(
            findings[0]
                .message
                .ends_with("its export-stock will not run"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn each_rule_fires_on_its_case() {
        let a = Some("a".to_string());
        let b = Some("b".to_string());
        type Expected = Vec<(&'static str, Option<String>)>;
        let cases: Vec<(String, Expected)> = vec![
            (
                BASE.replace("\"beta-rest\"", "\"gamma\""),
                vec![("unknown-channel-type", a.clone())],
            ),
            (
                BASE.replace("\"beta-rest\"", "\"beta-rest-export-only\"")
                    .replace("import-products = \"none\"", "import-products = \"1h\""),
                vec![
                    ("unsupported-job", a.clone()),
                    ("import-with-oms-master", a.clone()),
                ],
            ),
            (
                BASE.replace("export-products = \"1h\"", "export-products = \"5m\""),
                vec![("period-not-offered", a.clone())],
            ),
            (
                BASE.replace(
                    "master-product-source = \"oms\"",
                    "master-product-source = \"zz\"",
                ),
                vec![("unknown-master-source", None)],
            ),
            (
                BASE.replace(
                    "master-product-source = \"oms\"",
                    "master-product-source = \"a\"",
                )
                .replace("import-products = \"none\"", "import-products = \"1h\""),
                vec![("export-to-master", a.clone())],
            ),
            (
                BASE.replace("import-products = \"none\"", "import-products = \"1h\""),
                vec![("import-with-oms-master", a.clone())],
            ),
            (
                second_channel("auth-refresh = \"1h\"\nimport-products = \"1h\"")
                    .replace(
                        "master-product-source = \"oms\"",
                        "master-product-source = \"a\"",
                    )
                    .replace("export-products = \"1h\"", "export-products = \"none\"")
                    .replace("import-products = \"none\"", "import-products = \"1h\""),
                vec![("import-from-non-master", b.clone())],
            ),
            (
                BASE.replace(
                    "master-product-source = \"oms\"",
                    "master-product-source = \"a\"",
                )
                .replace("export-products = \"1h\"", "export-products = \"none\""),
                vec![("master-not-imported", a.clone())],
            ),
            (
                BASE.replace("auth-refresh = \"50m\"", "auth-refresh = \"none\""),
                vec![("auth-disabled", a.clone())],
            ),
            (
                BASE.replace("auth-refresh = \"50m\"", "auth-refresh = \"2h\""),
                vec![("auth-slower-than-token", a.clone())],
            ),
            (
                BASE.replace("https://a.example/v1", "http://a.example/v1"),
                vec![("insecure-url", a.clone())],
            ),
            (
                BASE.replace("https://a.example/token", "http://10.0.0.1/token"),
                vec![("insecure-url", a.clone())],
            ),
            (
                BASE.replace("https://a.example/v1", "http://127.0.0.1:8080/v1"),
                vec![],
            ),
            (
                BASE.replace("https://a.example/v1", "not a url"),
                vec![("invalid-url", a.clone())],
            ),
            (
                BASE.replace(
                    "base-url = \"https://a.example/v1\"",
                    "base-url = \"https://a.example/v1\"\nexport-fields = [\"prices\", \"price\"]",
                ),
                vec![("unknown-export-field", a.clone())],
            ),
            (
                BASE.replace(
                    "base-url = \"https://a.example/v1\"",
                    "base-url = \"https://a.example/v1\"\nattributes-field = \"oms-attributes\"",
                ),
                vec![("bad-attributes-field", a.clone())],
            ),
            (
                BASE.replace(
                    "base-url = \"https://a.example/v1\"",
                    "base-url = \"https://a.example/v1\"\nattributes-field = \"omsAttributes\"",
                ),
                vec![],
            ),
            (
                BASE.replace(
                    "base-url = \"https://a.example/v1\"",
                    "base-url = \"https://a.example/v1\"\nexport-fields = [\"prices\", \"stock\"]\nmax-request-bytes = 100000\n[channels.a.locations]\nberlin = \"loc-1\"",
                ),
                vec![],
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(codes(&text, true), expected, "{text}");
        }
        assert_eq!(codes(BASE, false), vec![("missing-secret", a.clone())]);
        for (secret, expected) in [
            ("client-secret-file = \"/run/secrets/a\"", vec![]),
            (
                "client-secret-file = \"secrets/a\"",
                vec![("relative-secret-path", a.clone())],
            ),
            (
                "client-secret-file = \"./a\"",
                vec![("relative-secret-path", a.clone())],
            ),
        ] {
            let text = BASE.replace("client-secret-env = \"A_SECRET\"", secret);
            assert_eq!(codes(&text, true), expected, "{secret}");
        }
        let no_auth = "[channels.a]\ntype = \"beta-rest\"\nbase-url = \"https://a\"\n[channels.a.jobs]\nauth-refresh = \"1h\"\n";
        assert_eq!(codes(no_auth, true), vec![("missing-auth", a)]);
    }

    #[test]
    fn a_relative_secret_path_names_its_key_and_the_fix() {
        let text = BASE.replace(
            "client-secret-env = \"A_SECRET\"",
            "client-secret-file = \"secrets/a\"",
        );
        let config = AccountConfig::parse(Path::new("t.toml"), &text).unwrap();
        let findings = validate_account("acme", &config, &Capabilities::built_in(), &|_| true);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Warning);
        assert!(
            findings[0].to_string().starts_with(
                "acme/a: warning[relative-secret-path]: client-secret-file `secrets/a` is relative"
            ) && findings[0]
                .message
                .contains("`oms-channels channel set a --client-secret-file <PATH>`"),
            "{}",
            findings[0]
        );
    }

    #[test]
    fn account_files_whose_names_are_no_id_are_findings() {
        let findings = account_file_findings(&["Acme.toml".into(), "shop eu.toml".into()]);
        let shown: Vec<String> = findings.iter().map(ToString::to_string).collect();
        assert_eq!(findings.len(), 2);
        assert!(
            findings
                .iter()
                .all(|f| f.code == "ignored-account-file" && f.severity == Severity::Warning)
        );
        assert!(
            shown[0].starts_with("Acme: warning[ignored-account-file]: accounts/Acme.toml is not an account file: its name is no valid account id (invalid account id `Acme`"),
            "{}",
            shown[0]
        );
    }

    #[test]
    fn an_oauth2_refresh_grant_without_a_stored_token_is_a_warning() {
        let second = second_channel("auth-refresh = \"1h\"");
        let config = AccountConfig::parse(Path::new("t.toml"), &second).unwrap();
        let codes = |stored: &dyn Fn(&str) -> bool| -> Vec<(&'static str, Option<String>)> {
            stored_token_findings("acme", &config, stored)
                .into_iter()
                .map(|f| (f.code, f.channel))
                .collect()
        };
        // `a` uses refresh_token; `b` client_credentials, which needs none.
        assert_eq!(
            codes(&|_| false),
            vec![("missing-refresh-token", Some("a".to_string()))]
        );
        assert_eq!(codes(&|id| id == "a"), vec![]);
        let off = second.replace("auth-refresh = \"50m\"", "auth-refresh = \"none\"");
        let config = AccountConfig::parse(Path::new("t.toml"), &off).unwrap();
        assert!(stored_token_findings("acme", &config, &|_| false).is_empty());
    }

    #[test]
    fn a_rate_limit_above_the_types_is_a_warning_and_the_lower_applies() {
        let mut capabilities = Capabilities::built_in();
        capabilities
            .merge_text(
                Path::new("capabilities.toml"),
                "[types.paced]\nprotocol = \"beta-rest\"\nrate-limit = { per-second = 10, burst = 20 }\n[types.paced.jobs]\nauth-refresh = [\"50m\"]\nexport-products = [\"1h\"]\n",
            )
            .unwrap();
        let findings = |own: &str| {
            let text = BASE.replace("\"beta-rest\"", "\"paced\"").replace(
                "base-url = \"https://a.example/v1\"",
                &format!("base-url = \"https://a.example/v1\"\n{own}"),
            );
            let config = AccountConfig::parse(Path::new("t.toml"), &text).unwrap();
            validate_account("acme", &config, &capabilities, &|_| true)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(findings(""), Vec::<String>::new());
        assert_eq!(
            findings("rate-limit = { per-second = 2, burst = 5 }"),
            Vec::<String>::new()
        );
        assert_eq!(
            findings("rate-limit = { per-second = 50, burst = 5 }"),
            [
                "acme/a: warning[limit-above-type]: rate-limit 50/s, burst 5 is above paced's 10/s, burst 20: a channel may only lower its type's limits, so 10/s, burst 5 applies"
            ]
        );
        // A type without a rate-limit is unlimited: any channel limit lowers it.
        assert_eq!(
            codes(
                &BASE.replace(
                    "[channels.a.auth]",
                    "rate-limit = { per-second = 500 }\n[channels.a.auth]"
                ),
                true
            ),
            vec![]
        );
    }

    #[test]
    fn a_concurrency_above_the_types_is_a_warning_and_the_types_applies() {
        let with =
            |own: &str| BASE.replace("[channels.a.auth]", &format!("{own}\n[channels.a.auth]"));
        assert_eq!(codes(&with("concurrency = 1"), true), vec![]);
        let text = with("concurrency = 4");
        let config = AccountConfig::parse(Path::new("t.toml"), &text).unwrap();
        let found: Vec<String> =
            validate_account("acme", &config, &Capabilities::built_in(), &|_| true)
                .iter()
                .map(ToString::to_string)
                .collect();
        assert_eq!(
            found,
            [
                "acme/a: warning[limit-above-type]: concurrency 4 is above beta-rest's 1: a channel may only lower its type's limits, so 1 applies"
            ]
        );
        let error = AccountConfig::parse(Path::new("t.toml"), &with("concurrency = 0"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("at least 1"), "{error}");
    }

    #[test]
    fn findings_render_like_compiler_messages() {
        let text = BASE.replace("export-products = \"1h\"", "export-products = \"5m\"");
        let config = AccountConfig::parse(Path::new("t.toml"), &text).unwrap();
        let findings = validate_account("acme", &config, &Capabilities::built_in(), &|_| true);
        assert_eq!(
            findings[0].to_string(),
            "acme/a: error[period-not-offered]: export-products 5m is not offered by beta-rest (offered: 15m, 30m, 1h, 2h, 4h, 6h, 12h, 24h)"
        );
        assert!(has_errors(&findings));
    }
}
