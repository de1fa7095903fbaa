//! `account list | current | use | add | remove | set-master-source | show`.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::Outcome;
use super::edit::edit_account;
use super::report::{Changed, ChannelRow, channel_table};
use crate::cli::AccountCommand;
use crate::config::edit::{new_account_text, set_current_account, set_master_source};
use crate::config::file::{IfMissing, edit_file, lock_for_edit, write_atomically};
use crate::config::model::GlobalConfig;
use crate::config::{self, AccountConfig, ConfigError, error::parse_toml};
use crate::context::{AccountChoice, Context};
use crate::error::{ErrorKind, Failure, KindContext as _};
use crate::ids::{self, OMS};
use crate::output::{Report, or_dash, table, write_table};
use crate::validate::{Finding, Severity, has_errors};

pub fn run(ctx: &Context, command: AccountCommand) -> Result<Outcome> {
    match command {
        AccountCommand::List => list(ctx),
        AccountCommand::Current => current(ctx),
        AccountCommand::Use { account } => use_account(ctx, &account),
        AccountCommand::Add {
            account,
            master_product_source,
            display_name,
        } => add(
            ctx,
            &account,
            &master_product_source,
            display_name.as_deref(),
        ),
        AccountCommand::Remove { account } => remove(ctx, &account),
        AccountCommand::SetMasterSource { source } => set_master(ctx, &source),
        AccountCommand::Show => show(ctx),
    }
}

#[derive(Serialize)]
struct AccountRow {
    account: String,
    current: bool,
    display_name: Option<String>,
    master_product_source: Option<String>,
    channels: Option<usize>,
    /// Set when the file does not parse; the other fields are then empty.
    error: Option<String>,
}

#[derive(Serialize)]
struct AccountList {
    current: Option<String>,
    accounts: Vec<AccountRow>,
}

impl Report for AccountList {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.accounts.is_empty() {
            return writeln!(
                out,
                "no accounts yet; create one with `oms-channels account add <ACCOUNT>`"
            );
        }
        let mut t = table(["", "ACCOUNT", "DISPLAY NAME", "MASTER", "CHANNELS"]);
        for row in &self.accounts {
            t.add_row([
                if row.current { "*" } else { "" }.to_string(),
                row.account.clone(),
                match &row.error {
                    Some(err) => format!("(unreadable: {err})"),
                    None => or_dash(row.display_name.as_ref()),
                },
                or_dash(row.master_product_source.as_ref()),
                or_dash(row.channels),
            ]);
        }
        write_table(out, &t)
    }
}

fn list(ctx: &Context) -> Result<Outcome> {
    let current = config::load_global(&ctx.paths)?.current_account;
    let mut accounts = Vec::new();
    for id in config::list_accounts(&ctx.paths)? {
        let row = match config::load_account(&ctx.paths, &id) {
            Ok(loaded) => AccountRow {
                current: current.as_deref() == Some(id.as_str()),
                account: id,
                display_name: loaded.config.display_name,
                master_product_source: Some(loaded.config.master_product_source),
                channels: Some(loaded.config.channels.len()),
                error: None,
            },
            Err(err) => AccountRow {
                current: current.as_deref() == Some(id.as_str()),
                account: id,
                display_name: None,
                master_product_source: None,
                channels: None,
                error: Some(err.to_string()),
            },
        };
        accounts.push(row);
    }
    Ok(Outcome::ok(AccountList { current, accounts }))
}

#[derive(Serialize)]
struct Current {
    #[serde(flatten)]
    choice: AccountChoice,
    path: PathBuf,
    exists: bool,
}

impl Report for Current {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.choice)?;
        if !self.exists {
            writeln!(out, "warning: `{}` does not exist", self.path.display())?;
        }
        Ok(())
    }
}

fn current(ctx: &Context) -> Result<Outcome> {
    let choice = ctx.select_account()?;
    let path = ctx.paths.account_file(&choice.account);
    Ok(Outcome::ok(Current {
        exists: path.exists(),
        choice,
        path,
    }))
}

fn check_global(path: &std::path::Path, text: &str) -> Result<()> {
    parse_toml::<GlobalConfig>(path, text)?;
    Ok(())
}

fn use_account(ctx: &Context, account: &str) -> Result<Outcome> {
    ids::check_account_id(account)?;
    let file = ctx.paths.account_file(account);
    if !file.exists() {
        // The same error (and exit code) as every command naming a missing account.
        return Err(ConfigError::NoAccount {
            account: account.to_string(),
            path: file,
        }
        .into());
    }
    let path = ctx.paths.global_config();
    let edited = edit_file(
        &path,
        IfMissing::StartFrom(""),
        |doc| Ok(set_current_account(doc, account)?),
        |text| check_global(&path, text),
    )?;
    Ok(Outcome::ok(Changed {
        account: account.to_string(),
        what: "current-account".into(),
        old: edited.value,
        new: Some(account.to_string()),
        path,
        findings: Vec::new(),
        note: None,
    }))
}

fn add(ctx: &Context, account: &str, master: &str, display_name: Option<&str>) -> Result<Outcome> {
    ids::check_account_id(account)?;
    if master != OMS {
        ids::check_channel_id(master)
            .kind_context(ErrorKind::Refused, "--master-product-source")?;
    }
    let path = ctx.paths.account_file(account);
    let text = new_account_text(account, display_name, master);
    let new = AccountConfig::parse(&path, &text).kind_context(
        ErrorKind::Internal,
        "internal error: the new account file does not parse",
    )?;
    // Validate before writing: the tool never writes a file it would refuse.
    let findings = ctx.findings(account, &new)?;
    if has_errors(&findings) {
        let lines: Vec<String> = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(ToString::to_string)
            .collect();
        return Err(Failure::refused(format!(
            "refused: the new account would be invalid; nothing was written:\n{}",
            lines.join("\n")
        ))
        .into());
    }
    let created = {
        let _lock = lock_for_edit(&path)?;
        if path.exists() {
            return Err(Failure::refused(format!(
                "account `{account}` already exists (`{}`); nothing was changed",
                path.display()
            ))
            .into());
        }
        write_atomically(&path, text.as_bytes())?;
        AccountConfig::parse(&path, &text)?
    };
    let mut note = None;
    let global_path = ctx.paths.global_config();
    if config::load_global(&ctx.paths)?.current_account.is_none() {
        edit_file(
            &global_path,
            IfMissing::StartFrom(""),
            |doc| Ok(set_current_account(doc, account)?),
            |text| check_global(&global_path, text),
        )?;
        note = Some(format!(
            "`{account}` is now the current account (it is the first one)"
        ));
    }
    let findings = ctx.findings(account, &created)?;
    Ok(Outcome::ok(Changed {
        account: account.to_string(),
        what: format!("created {}", path.display()),
        old: None,
        new: None,
        path,
        findings,
        note,
    }))
}

fn remove(ctx: &Context, account: &str) -> Result<Outcome> {
    ids::check_account_id(account)?;
    let path = ctx.paths.account_file(account);
    {
        let _lock = lock_for_edit(&path)?;
        if !path.exists() {
            return Err(ConfigError::NoAccount {
                account: account.to_string(),
                path,
            }
            .into());
        }
        std::fs::remove_file(&path).with_kind_context(ErrorKind::Config, || {
            format!("cannot remove `{}`", path.display())
        })?;
    }
    let global_path = ctx.paths.global_config();
    let mut note = format!(
        "its store `{}` was kept; delete it by hand if it is no longer needed",
        ctx.store_spec()?.account_location(account)?
    );
    if config::load_global(&ctx.paths)?.current_account.as_deref() == Some(account) {
        edit_file(
            &global_path,
            IfMissing::Fail,
            |doc| {
                doc.remove("current-account");
                Ok(())
            },
            |text| check_global(&global_path, text),
        )?;
        note.push_str(
            "\nno account is current now; pick one with `oms-channels account use <ACCOUNT>`",
        );
    }
    Ok(Outcome::ok(Changed {
        account: account.to_string(),
        what: format!("removed {}", path.display()),
        old: None,
        new: None,
        path,
        findings: Vec::new(),
        note: Some(note),
    }))
}

fn set_master(ctx: &Context, source: &str) -> Result<Outcome> {
    let (choice, loaded) = ctx.load_selected()?;
    if source != OMS {
        ids::check_channel_id(source)?;
        if !loaded.config.channels.contains_key(source) {
            return Err(Failure::refused(format!(
                "{}: `{source}` is not a channel of this account; use \"oms\" or one of: {}",
                choice.account,
                loaded.config.channel_names()
            ))
            .into());
        }
    }
    let (edited, findings) = edit_account(ctx, &loaded, |doc| Ok(set_master_source(doc, source)?))?;
    Ok(Outcome::ok(Changed {
        account: choice.account,
        what: "master-product-source".into(),
        old: edited.value.or_else(|| Some(OMS.to_string())),
        new: Some(source.to_string()),
        path: loaded.path,
        findings,
        note: None,
    }))
}

#[derive(Serialize)]
struct Show {
    #[serde(flatten)]
    choice: AccountChoice,
    path: PathBuf,
    display_name: Option<String>,
    master_product_source: String,
    channels: Vec<ChannelRow>,
    findings: Vec<Finding>,
}

impl Report for Show {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "account:        {}", self.choice)?;
        writeln!(
            out,
            "display name:   {}",
            or_dash(
                self.display_name
                    .as_deref()
                    .map(crate::output::escape)
                    .as_ref()
            )
        )?;
        writeln!(out, "master source:  {}", self.master_product_source)?;
        writeln!(out, "file:           {}", self.path.display())?;
        writeln!(out)?;
        channel_table(out, &self.channels)?;
        if !self.findings.is_empty() {
            writeln!(out)?;
            for finding in &self.findings {
                writeln!(out, "{finding}")?;
            }
        }
        Ok(())
    }
}

fn show(ctx: &Context) -> Result<Outcome> {
    let (choice, loaded) = ctx.load_selected()?;
    let findings = ctx.findings(&choice.account, &loaded.config)?;
    let config = loaded.config;
    Ok(Outcome::ok(Show {
        choice,
        path: loaded.path,
        display_name: config.display_name,
        master_product_source: config.master_product_source,
        channels: config
            .channels
            .iter()
            .map(|(id, c)| ChannelRow::of(id, c))
            .collect(),
        findings,
    }))
}
