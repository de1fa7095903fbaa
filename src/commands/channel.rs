//! `channel list | show | add | set | remove | set-period | login | reset`.

use std::io::{self, Read as _, Write};
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::Outcome;
use super::edit::edit_account;
use super::report::{Changed, ChannelRow, channel_table};
use crate::capabilities::Offer;
use crate::cli::{AuthArgs, ChannelAddArgs, ChannelCommand, ChannelSetArgs};
use crate::config::edit::{
    NewChannel, add_channel, remove_channel, set_base_url, set_channel_auth, set_job_period,
};
use crate::config::model::DEFAULT_QUARANTINE_AFTER;
use crate::config::{AuthConfig, GrantKind, LoadedAccount, SecretSource, absolute_secret_path};
use crate::connector::AuthMethod;
use crate::connector::check_url;
use crate::context::{AccountChoice, Context};
use crate::crash;
use crate::error::{ErrorKind, Failure, KindContext as _};
use crate::ids;
use crate::output::{Report, count, escape, or_dash};
use crate::period::{Job, Period};
use crate::store::{Forgotten, endpoints_of};
use crate::validate::{Finding, secret_present_here};

pub fn run(ctx: &Context, command: ChannelCommand) -> Result<Outcome> {
    match command {
        ChannelCommand::List => list(ctx),
        ChannelCommand::Show { channel } => show(ctx, &channel),
        ChannelCommand::Add(args) => add(ctx, &args),
        ChannelCommand::Remove { channel } => remove(ctx, &channel),
        ChannelCommand::Set(args) => set(ctx, &args),
        ChannelCommand::SetPeriod {
            channel,
            job,
            period,
        } => set_period(ctx, &channel, &job, &period),
        ChannelCommand::Login { channel } => login(ctx, &channel),
        ChannelCommand::Reset { channel } => reset(ctx, &channel),
    }
}

/// Forgets the store's state for `id`, if there is a store.
fn forget_in_store(ctx: &Context, account: &str, id: &str) -> Result<()> {
    if let Some(store) = ctx.open_store_if_exists(account)? {
        store.write(|tx| tx.forget_channel(id, DEFAULT_QUARANTINE_AFTER))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct Reset {
    account: String,
    #[serde(flatten)]
    forgotten: Forgotten,
}

impl Report for Reset {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        let f = &self.forgotten;
        let mut forgot = Vec::new();
        if f.tokens {
            forgot.push("its tokens".to_string());
        }
        if f.import_progress {
            forgot.push("its import progress".to_string());
        }
        if f.exports > 0 {
            forgot.push(format!(
                "{} ({} quarantined, {} pending)",
                count(f.exports, "exported product", "exported products"),
                f.quarantined,
                count(f.pending_deletions, "deletion", "deletions")
            ));
        }
        if f.listings > 0 {
            forgot.push(count(f.listings, "listing", "listings"));
        }
        if f.job_states > 0 {
            forgot.push(format!(
                "the schedule state of {}",
                count(f.job_states, "job", "jobs")
            ));
        }
        if forgot.is_empty() {
            writeln!(
                out,
                "{}/{}: the store knew nothing about this channel; nothing to forget",
                self.account, f.channel
            )
        } else {
            writeln!(
                out,
                "{}/{}: forgot {}. Next: `oms-channels channel login {}` if it uses a refresh token; the next export sends every product",
                self.account,
                f.channel,
                forgot.join(", "),
                f.channel
            )
        }
    }
}

/// `channel reset`: forgets the store's state for the channel on purpose,
/// under the account's run lock so no run is writing it meanwhile.
fn reset(ctx: &Context, id: &str) -> Result<Outcome> {
    let (choice, loaded) = ctx.load_selected()?;
    let channel = require_channel(&choice, &loaded, id)?;
    let _lock = ctx.lock_account(
        &choice.account,
        "nothing was reset; try again when the run has finished",
    )?;
    let store = ctx.open_store(&choice.account)?;
    let endpoints = endpoints_of(&loaded.config);
    let forgotten = store.write(|tx| {
        let forgotten = tx.forget_channel(id, channel.quarantine_threshold())?;
        crash::point("channel-reset");
        // The channel keeps its endpoint; only what was learnt there is gone.
        tx.sync_endpoints(&endpoints, jiff::Timestamp::now())?;
        Ok(forgotten)
    })?;
    Ok(Outcome::ok(Reset {
        account: choice.account,
        forgotten,
    }))
}

/// The channel must exist in the account; the error lists the ones that do.
fn require_channel<'a>(
    choice: &AccountChoice,
    loaded: &'a LoadedAccount,
    channel: &str,
) -> Result<&'a crate::config::ChannelConfig> {
    ids::check_channel_id(channel)?;
    loaded.config.channels.get(channel).ok_or_else(|| {
        Failure::refused(format!(
            "{}: channel `{channel}` does not exist in `{}` (channels: {})",
            choice.account,
            loaded.path.display(),
            loaded.config.channel_names()
        ))
        .into()
    })
}

#[derive(Serialize)]
struct ChannelList {
    #[serde(flatten)]
    choice: AccountChoice,
    channels: Vec<ChannelRow>,
}

impl Report for ChannelList {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "account: {}", self.choice)?;
        channel_table(out, &self.channels)
    }
}

fn list(ctx: &Context) -> Result<Outcome> {
    let (choice, loaded) = ctx.load_selected()?;
    let channels = loaded
        .config
        .channels
        .iter()
        .map(|(id, c)| ChannelRow::of(id, c))
        .collect();
    Ok(Outcome::ok(ChannelList { choice, channels }))
}

#[derive(Serialize)]
struct SecretInfo {
    source: String,
    present: bool,
}

#[derive(Serialize)]
struct TokenInfo {
    refresh_token_stored: bool,
    access_token_expires_at: Option<String>,
    refresh_in_flight_since: Option<String>,
}

#[derive(Serialize)]
struct ChannelShow {
    account: String,
    #[serde(flatten)]
    row: ChannelRow,
    auth_method: Option<AuthMethod>,
    token_url: Option<String>,
    grant: Option<GrantKind>,
    client_id: Option<String>,
    username: Option<String>,
    /// "client secret", "password" or "API key".
    secret_kind: Option<&'static str>,
    secret: Option<SecretInfo>,
    tokens: Option<TokenInfo>,
    findings: Vec<Finding>,
}

impl Report for ChannelShow {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        let r = &self.row;
        writeln!(out, "account:          {}", self.account)?;
        writeln!(out, "channel:          {}", r.channel)?;
        writeln!(out, "type:             {}", r.channel_type)?;
        writeln!(out, "base url:         {}", escape(&r.base_url))?;
        writeln!(
            out,
            "auth method:      {}",
            or_dash(self.auth_method.map(AuthMethod::as_str))
        )?;
        match self.auth_method {
            Some(AuthMethod::Oauth2) => {
                writeln!(
                    out,
                    "token url:        {}",
                    or_dash(self.token_url.as_deref().map(escape).as_ref())
                )?;
                writeln!(
                    out,
                    "grant:            {}",
                    or_dash(self.grant.map(GrantKind::as_str))
                )?;
                writeln!(
                    out,
                    "client id:        {}",
                    or_dash(self.client_id.as_deref().map(escape).as_ref())
                )?;
            }
            Some(AuthMethod::Login) => {
                writeln!(
                    out,
                    "username:         {}",
                    or_dash(self.username.as_deref().map(escape).as_ref())
                )?;
            }
            Some(AuthMethod::ApiKey) | None => {}
        }
        if let (Some(secret), Some(kind)) = (&self.secret, self.secret_kind) {
            let state = if secret.present { "present" } else { "MISSING" };
            writeln!(
                out,
                "{:<18}{} ({state})",
                format!("{kind}:"),
                escape(&secret.source)
            )?;
        }
        if let Some(tokens) = &self.tokens {
            let refresh = if tokens.refresh_token_stored {
                "stored"
            } else {
                "none (run `channel login`)"
            };
            writeln!(out, "refresh token:    {refresh}")?;
            writeln!(
                out,
                "access token:     expires {}",
                or_dash(tokens.access_token_expires_at.as_ref())
            )?;
            if let Some(since) = &tokens.refresh_in_flight_since {
                writeln!(
                    out,
                    "refresh in flight since {since} (an earlier run was interrupted mid-refresh)"
                )?;
            }
        }
        writeln!(out, "auth-refresh:     {}", r.auth_refresh)?;
        writeln!(out, "import-products:  {}", r.import_products)?;
        writeln!(out, "export-products:  {}", r.export_products)?;
        writeln!(out, "export-stock:     {}", r.export_stock)?;
        for finding in &self.findings {
            writeln!(out, "{finding}")?;
        }
        Ok(())
    }
}

fn show(ctx: &Context, id: &str) -> Result<Outcome> {
    let (choice, loaded) = ctx.load_selected()?;
    let channel = require_channel(&choice, &loaded, id)?;
    let auth = channel.auth.as_ref();
    let secret = auth
        .and_then(|a| a.secret_source())
        .map(|source| SecretInfo {
            present: secret_present_here(&source),
            source: match &source {
                SecretSource::Env(var) => format!("env {var}"),
                SecretSource::File(path) => format!("file {}", path.display()),
            },
        });
    let tokens = ctx
        .open_store_for_reading(&choice.account)?
        .map(|store| {
            // Tokens of the endpoint the channel had before are not its tokens.
            store.sync_endpoints(&endpoints_of(&loaded.config))?;
            store.read(|tx| tx.tokens(id))
        })
        .transpose()?
        .flatten()
        .map(|t| TokenInfo {
            refresh_token_stored: t.refresh_token.is_some(),
            access_token_expires_at: t.access_expires_at.map(|ts| ts.to_string()),
            refresh_in_flight_since: t.refresh_in_flight_since.map(|ts| ts.to_string()),
        });
    let findings = ctx
        .findings(&choice.account, &loaded.config)?
        .into_iter()
        .filter(|f| f.channel.as_deref() == Some(id))
        .collect();
    Ok(Outcome::ok(ChannelShow {
        account: choice.account,
        row: ChannelRow::of(id, channel),
        auth_method: auth.map(AuthConfig::method),
        token_url: auth.and_then(|a| a.token_url.clone()),
        grant: auth.and_then(|a| a.grant),
        client_id: auth.and_then(|a| a.client_id.clone()),
        username: auth.and_then(|a| a.username.clone()),
        secret_kind: auth.map(AuthConfig::secret_name),
        secret,
        tokens,
        findings,
    }))
}

fn add(ctx: &Context, args: &ChannelAddArgs) -> Result<Outcome> {
    let (choice, loaded) = ctx.load_selected()?;
    let id = args.channel.as_str();
    ids::check_channel_id(id)?;
    if loaded.config.channels.contains_key(id) {
        return Err(Failure::refused(format!(
            "{}: channel `{id}` already exists; nothing was changed",
            choice.account
        ))
        .into());
    }
    let capabilities = ctx.capabilities()?;
    if capabilities.get(&args.channel_type).is_none() {
        return Err(Failure::refused(format!(
            "unknown channel type `{}` (known: {}); add it to `{}` first",
            args.channel_type,
            capabilities.names(),
            ctx.paths.capabilities_file().display()
        ))
        .into());
    }
    check_url(&args.base_url).map_err(|e| Failure::refused(format!("--base-url: {e}")))?;
    let (auth, resolved) = if args.auth.is_empty() {
        (None, None)
    } else {
        let (auth, resolved) = apply_auth_args(AuthConfig::default(), &args.auth)?;
        (Some(auth), resolved)
    };
    let new = NewChannel {
        channel_type: args.channel_type.clone(),
        base_url: args.base_url.clone(),
        auth,
    };
    let (_, findings) = edit_account(ctx, &loaded, |doc| Ok(add_channel(doc, id, &new)?))?;
    // A new channel starts fresh, whatever an earlier channel of that id left.
    forget_in_store(ctx, &choice.account, id)?;
    Ok(Outcome::ok(Changed {
        account: choice.account,
        what: format!(
            "added channel `{id}` ({}); its jobs are `none` until you run `oms-channels channel set-period {id} <JOB> <PERIOD>`",
            args.channel_type
        ),
        old: None,
        new: None,
        path: loaded.path,
        findings,
        note: resolved,
    }))
}

fn set(ctx: &Context, args: &ChannelSetArgs) -> Result<Outcome> {
    let (choice, loaded) = ctx.load_selected()?;
    let id = args.channel.as_str();
    let channel = require_channel(&choice, &loaded, id)?;
    if args.base_url.is_none() && args.auth.is_empty() {
        return Err(Failure::refused(format!(
            "{}/{id}: nothing to change; give --base-url or auth flags (see `oms-channels channel set --help`)",
            choice.account
        ))
        .into());
    }
    if let Some(url) = &args.base_url {
        check_url(url).map_err(|e| Failure::refused(format!("--base-url: {e}")))?;
    }
    let (auth, resolved) = if args.auth.is_empty() {
        (None, None)
    } else {
        let current = channel.auth.clone().unwrap_or_default();
        let (auth, resolved) = apply_auth_args(current, &args.auth)?;
        (Some(auth), resolved)
    };
    let mut changes = Vec::new();
    if let Some(url) = &args.base_url {
        changes.push(format!("base-url {} → {url}", channel.base_url));
    }
    if let Some(auth) = &auth {
        changes.push(format!("[auth] method {}", auth.method()));
    }
    let (edited, findings) = edit_account(ctx, &loaded, |doc| {
        if let Some(url) = &args.base_url {
            set_base_url(doc, id, url)?;
        }
        if let Some(auth) = &auth {
            set_channel_auth(doc, id, auth)?;
        }
        Ok(())
    })?;
    let repointed = args
        .base_url
        .as_ref()
        .filter(|url| **url != channel.base_url)
        .map(|_| {
            "the channel now points at another endpoint: it starts fresh (full export, new tokens)"
                .to_string()
        });
    let is_master = loaded.config.master_product_source == id;
    let repointed = repointed.map(|note| {
        if is_master {
            format!(
                "{note}\n`{id}` is the master product source: its next complete import defines the catalog, \
                 removing what it does not list (more than max-removal {} allows fails the import and removes nothing)",
                channel.removal_limit()
            )
        } else {
            note
        }
    });
    let note = match (repointed, resolved) {
        (Some(a), Some(b)) => Some(format!("{a}\n{b}")),
        (a, b) => a.or(b),
    };
    Ok(Outcome::ok(Changed {
        account: choice.account,
        what: format!(
            "channel `{id}`: {}{}",
            changes.join("; "),
            if edited.changed { "" } else { " (unchanged)" }
        ),
        old: None,
        new: None,
        path: loaded.path,
        findings,
        note,
    }))
}

/// The auth table `auth` becomes with the flags applied. A flag of another
/// method (or `--auth-method`) switches the method and drops the old
/// method's keys; the result must be complete for its method. A relative
/// secret file path is stored absolute (resolved against the working
/// directory now); the second value says so for the output.
fn apply_auth_args(mut auth: AuthConfig, args: &AuthArgs) -> Result<(AuthConfig, Option<String>)> {
    let implied = match args.method.as_deref() {
        Some("login") => Some(AuthMethod::Login),
        Some("api-key") => Some(AuthMethod::ApiKey),
        Some(_) => Some(AuthMethod::Oauth2),
        None if args.token_url.is_some()
            || args.grant.is_some()
            || args.client_id.is_some()
            || args.client_secret_env.is_some()
            || args.client_secret_file.is_some() =>
        {
            Some(AuthMethod::Oauth2)
        }
        None if args.username.is_some()
            || args.password_env.is_some()
            || args.password_file.is_some() =>
        {
            Some(AuthMethod::Login)
        }
        None if args.api_key_env.is_some() || args.api_key_file.is_some() => {
            Some(AuthMethod::ApiKey)
        }
        None => None,
    };
    if let Some(method) = implied
        && (method != auth.method() || auth.entries().is_empty())
    {
        // oauth2 is the default: files that never name a method stay that way.
        auth.method = (method != AuthMethod::Oauth2).then_some(method);
        auth.clear_other_methods();
    }
    if let Some(url) = &args.token_url {
        check_url(url).map_err(|e| Failure::refused(format!("--token-url: {e}")))?;
        auth.token_url = Some(url.clone());
    }
    if let Some(grant) = &args.grant {
        auth.grant = Some(if grant == "client_credentials" {
            GrantKind::ClientCredentials
        } else {
            GrantKind::RefreshToken
        });
    }
    if auth.method() == AuthMethod::Oauth2 && auth.grant.is_none() {
        auth.grant = Some(GrantKind::RefreshToken);
    }
    set_if(&mut auth.client_id, &args.client_id);
    set_if(&mut auth.username, &args.username);
    let mut resolved = Vec::new();
    let mut absolute = |flag: &str, path: &Option<PathBuf>| -> Result<Option<PathBuf>> {
        let Some(path) = path else { return Ok(None) };
        let cwd = std::env::current_dir().with_kind_context(ErrorKind::Config, || {
            format!(
                "{flag} `{}` is relative and the working directory cannot be read: give an absolute path",
                path.display()
            )
        })?;
        Ok(Some(match absolute_secret_path(path, &cwd) {
            Some(absolute) => {
                resolved.push(format!(
                    "{flag} `{}` is stored as `{}` (resolved against the working directory `{}`, so cron and systemd find it too)",
                    path.display(),
                    absolute.display(),
                    cwd.display()
                ));
                absolute
            }
            None => path.clone(),
        }))
    };
    let client_secret_file = absolute("--client-secret-file", &args.client_secret_file)?;
    let password_file = absolute("--password-file", &args.password_file)?;
    let api_key_file = absolute("--api-key-file", &args.api_key_file)?;
    // One source per secret: naming one drops the other.
    for (env, file, new_env, new_file) in [
        (
            &mut auth.client_secret_env,
            &mut auth.client_secret_file,
            &args.client_secret_env,
            &client_secret_file,
        ),
        (
            &mut auth.password_env,
            &mut auth.password_file,
            &args.password_env,
            &password_file,
        ),
        (
            &mut auth.api_key_env,
            &mut auth.api_key_file,
            &args.api_key_env,
            &api_key_file,
        ),
    ] {
        if let Some(var) = new_env {
            (*env, *file) = (Some(var.clone()), None);
        }
        if let Some(path) = new_file {
            (*env, *file) = (None, Some(path.clone()));
        }
    }
    if let Some(problem) = auth.problem() {
        return Err(Failure::refused(format!(
            "refused: the channel's [auth] table would be incomplete: {problem}; nothing was changed"
        ))
        .into());
    }
    Ok((auth, (!resolved.is_empty()).then(|| resolved.join("\n"))))
}

fn set_if(field: &mut Option<String>, new: &Option<String>) {
    if let Some(value) = new {
        *field = Some(value.clone());
    }
}

fn remove(ctx: &Context, id: &str) -> Result<Outcome> {
    let (choice, loaded) = ctx.load_selected()?;
    require_channel(&choice, &loaded, id)?;
    let (_, findings) = edit_account(ctx, &loaded, |doc| Ok(remove_channel(doc, id)?))?;
    forget_in_store(ctx, &choice.account, id)?;
    Ok(Outcome::ok(Changed {
        account: choice.account,
        what: format!(
            "removed channel `{id}` and forgot its tokens, progress and exports (its run history stays in the store)"
        ),
        old: None,
        new: None,
        path: loaded.path,
        findings,
        note: None,
    }))
}

#[derive(Serialize)]
struct PeriodChanged {
    account: String,
    channel: String,
    job: Job,
    old: String,
    new: String,
    changed: bool,
    path: PathBuf,
    findings: Vec<Finding>,
}

impl Report for PeriodChanged {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        let suffix = if self.changed { "" } else { " (unchanged)" };
        writeln!(
            out,
            "{}/{}: {}: {} → {}{suffix}",
            self.account, self.channel, self.job, self.old, self.new
        )?;
        for finding in &self.findings {
            writeln!(out, "{finding}")?;
        }
        Ok(())
    }
}

fn set_period(ctx: &Context, id: &str, job: &str, period: &str) -> Result<Outcome> {
    let (choice, loaded) = ctx.load_selected()?;
    let channel = require_channel(&choice, &loaded, id)?;
    let job: Job = job.parse()?;
    let parsed: Period = period.parse()?;
    let capabilities = ctx.capabilities()?;
    let Some(channel_type) = capabilities.get(&channel.channel_type) else {
        return Err(Failure::refused(format!(
            "{}/{id}: channel type `{}` is not in the capability list (known: {}), so no period can be checked; fix the type first",
            choice.account,
            channel.channel_type,
            capabilities.names()
        ))
        .into());
    };
    match channel_type.offer(job, &parsed) {
        Offer::Allowed => {}
        Offer::JobNotOffered => {
            return Err(Failure::refused(format!(
                "{}/{id}: {} does not offer {job}; only `none` is allowed",
                choice.account, channel.channel_type
            ))
            .into());
        }
        Offer::PeriodNotOffered => {
            return Err(Failure::refused(format!(
                "{}/{id}: {job} {period} is not offered by {} (offered: {}, or none)",
                choice.account,
                channel.channel_type,
                channel_type.offered_list(job)
            ))
            .into());
        }
    }
    let text = parsed.to_string();
    let (edited, findings) =
        edit_account(ctx, &loaded, |doc| Ok(set_job_period(doc, id, job, &text)?))?;
    Ok(Outcome::ok(PeriodChanged {
        account: choice.account,
        channel: id.to_string(),
        job,
        old: edited.value.unwrap_or_else(|| "none".to_string()),
        new: text,
        changed: edited.changed,
        path: loaded.path,
        findings,
    }))
}

fn login(ctx: &Context, id: &str) -> Result<Outcome> {
    let (choice, loaded) = ctx.load_selected()?;
    let channel = require_channel(&choice, &loaded, id)?;
    match channel.auth.as_ref().and_then(AuthConfig::spec) {
        Some(crate::config::AuthSpec::Oauth2 {
            grant: GrantKind::ClientCredentials,
            ..
        }) => {
            return Err(Failure::refused(format!(
                "{}/{id}: the channel uses grant client_credentials, which needs no refresh token",
                choice.account
            ))
            .into());
        }
        Some(crate::config::AuthSpec::Login { .. } | crate::config::AuthSpec::ApiKey { .. }) => {
            return Err(Failure::refused(format!(
                "{}/{id}: the channel authenticates with method `{}`, which needs no refresh token: auth-refresh uses the secret named in its [auth] table",
                choice.account,
                channel.auth.as_ref().map(AuthConfig::method).unwrap_or_default()
            ))
            .into());
        }
        _ => {}
    }
    let input = read_secret_input(&format!(
        "refresh token for {}/{id} (input hidden, then Enter): ",
        choice.account
    ))
    .kind_context(
        ErrorKind::Config,
        "cannot read the refresh token from stdin",
    )?;
    let token = input.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(Failure::refused(
            "expected one refresh token on stdin (e.g. `printf %s \"$TOKEN\" | oms-channels channel login <CHANNEL>`); got nothing usable, nothing was stored",
        )
        .into());
    }
    let store = ctx.open_store(&choice.account)?;
    // First settle whose state this is, so the new token is not forgotten
    // by the next run as belonging to the channel's previous endpoint.
    store.sync_endpoints(&endpoints_of(&loaded.config))?;
    let now = jiff::Timestamp::now();
    store.write(|tx| tx.store_login(id, token, now))?;
    Ok(Outcome::ok(Changed {
        account: choice.account,
        what: format!(
            "channel `{id}`: refresh token stored in {}",
            store.location()
        ),
        old: None,
        new: None,
        path: std::path::PathBuf::from(store.location()),
        findings: Vec::new(),
        note: None,
    }))
}

/// Reads a secret from stdin. From a pipe: all of it (up to 64 KiB). From a
/// terminal: one line, prompted on stderr, with echo off so the token never
/// shows on screen or in a terminal recording.
fn read_secret_input(prompt: &str) -> io::Result<String> {
    use std::io::{BufRead as _, IsTerminal as _};
    let stdin = io::stdin();
    let mut input = String::new();
    if !stdin.is_terminal() {
        stdin.lock().take(64 * 1024).read_to_string(&mut input)?;
        return Ok(input);
    }
    eprint!("{prompt}");
    let _echo_off = EchoOff::new()?;
    stdin.lock().take(64 * 1024).read_line(&mut input)?;
    eprintln!();
    Ok(input)
}

/// Turns terminal echo off on stdin until dropped (also on error paths).
struct EchoOff {
    saved: rustix::termios::Termios,
}

impl EchoOff {
    fn new() -> io::Result<EchoOff> {
        let saved = rustix::termios::tcgetattr(io::stdin())?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
        rustix::termios::tcsetattr(io::stdin(), rustix::termios::OptionalActions::Now, &quiet)?;
        Ok(EchoOff { saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}
