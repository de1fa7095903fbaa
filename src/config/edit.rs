//! Edits of account and global config documents as pure functions over a
//! `toml_edit::DocumentMut`. Each keeps the user's comments, key order and
//! spacing: values are replaced in place with their old decoration, and new
//! tables are built whole and inserted (never created by indexing).

use toml_edit::{DocumentMut, Item, Table, TableLike, Value};

use crate::config::model::AuthConfig;
use crate::period::Job;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("channel `{0}` does not exist in this account")]
    NoSuchChannel(String),
    #[error("channel `{0}` already exists in this account")]
    ChannelExists(String),
    #[error("`{0}` is not a table in this file; fix the file by hand")]
    NotATable(String),
    #[error("`{0}` is not a plain value in this file; fix the file by hand")]
    NotAValue(String),
}

impl crate::error::HasKind for EditError {
    /// The edit was refused and nothing was written (exit 1); the file
    /// stays as it was for the user to fix by hand.
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Refused
    }
}

/// Sets `key` in `table` to the string `new`, keeping the old value's
/// decoration (spacing and trailing comment). Returns the old value as text.
fn set_string(
    table: &mut dyn TableLike,
    key: &str,
    new: &str,
    key_path: &str,
) -> Result<Option<String>, EditError> {
    match table.get_mut(key) {
        Some(Item::Value(value)) => {
            let old = match value.as_str() {
                Some(text) => text.to_string(),
                None => value.to_string().trim().to_string(),
            };
            let decor = value.decor().clone();
            *value = Value::from(new);
            *value.decor_mut() = decor;
            Ok(Some(old))
        }
        Some(_) => Err(EditError::NotAValue(key_path.to_string())),
        None => {
            table.insert(key, toml_edit::value(new));
            Ok(None)
        }
    }
}

/// Sets a top-level key. In a document holding only comments, toml_edit keeps
/// them as trailing text and would print a new key above them; move them in
/// front of the key so the file still reads top to bottom.
fn set_root_string(
    doc: &mut DocumentMut,
    key: &str,
    new: &str,
) -> Result<Option<String>, EditError> {
    let comments_only =
        doc.as_table().is_empty() && !doc.trailing().as_str().unwrap_or("").trim().is_empty();
    let old = set_string(doc.as_table_mut(), key, new, key)?;
    if comments_only {
        let trailing = doc.trailing().as_str().unwrap_or("").to_string();
        doc.set_trailing("");
        if let Some(mut key_mut) = doc.as_table_mut().key_mut(key) {
            key_mut.leaf_decor_mut().set_prefix(trailing);
        }
    }
    Ok(old)
}

fn channels_mut(doc: &mut DocumentMut) -> Option<&mut dyn TableLike> {
    doc.get_mut("channels").and_then(Item::as_table_like_mut)
}

fn channel_mut<'d>(
    doc: &'d mut DocumentMut,
    channel: &str,
) -> Result<&'d mut dyn TableLike, EditError> {
    let item = channels_mut(doc)
        .and_then(|channels| channels.get_mut(channel))
        .ok_or_else(|| EditError::NoSuchChannel(channel.to_string()))?;
    item.as_table_like_mut()
        .ok_or_else(|| EditError::NotATable(format!("channels.{channel}")))
}

/// Sets `[channels.<channel>.jobs] <job> = "<period>"`; returns the old value
/// (None when the key was absent, which means `none`).
pub fn set_job_period(
    doc: &mut DocumentMut,
    channel: &str,
    job: Job,
    period: &str,
) -> Result<Option<String>, EditError> {
    let channel_table = channel_mut(doc, channel)?;
    match channel_table.get_mut("jobs") {
        Some(item) => {
            let jobs = item
                .as_table_like_mut()
                .ok_or_else(|| EditError::NotATable(format!("channels.{channel}.jobs")))?;
            set_string(
                jobs,
                job.as_str(),
                period,
                &format!("channels.{channel}.jobs.{job}"),
            )
        }
        None => {
            let mut jobs = Table::new();
            jobs.insert(job.as_str(), toml_edit::value(period));
            channel_table.insert("jobs", Item::Table(jobs));
            Ok(None)
        }
    }
}

/// Sets `master-product-source`; returns the old value.
pub fn set_master_source(doc: &mut DocumentMut, source: &str) -> Result<Option<String>, EditError> {
    set_root_string(doc, "master-product-source", source)
}

/// Sets `current-account` in the global config; returns the old value.
pub fn set_current_account(
    doc: &mut DocumentMut,
    account: &str,
) -> Result<Option<String>, EditError> {
    set_root_string(doc, "current-account", account)
}

/// What `channel add` writes. Periods start at `none`: nothing runs until the
/// operator picks periods the channel type offers.
#[derive(Debug, Clone)]
pub struct NewChannel {
    pub channel_type: String,
    pub base_url: String,
    pub auth: Option<AuthConfig>,
}

/// Appends `[channels.<id>]` with its `auth` and `jobs` tables.
pub fn add_channel(doc: &mut DocumentMut, id: &str, new: &NewChannel) -> Result<(), EditError> {
    if doc.get("channels").is_none() {
        let mut channels = Table::new();
        channels.set_implicit(true);
        doc.insert("channels", Item::Table(channels));
    }
    let channels = channels_mut(doc).ok_or_else(|| EditError::NotATable("channels".into()))?;
    if channels.contains_key(id) {
        return Err(EditError::ChannelExists(id.to_string()));
    }
    let mut channel = Table::new();
    channel.decor_mut().set_prefix("\n");
    channel.insert("type", toml_edit::value(&new.channel_type));
    channel.insert("base-url", toml_edit::value(&new.base_url));
    if let Some(auth) = &new.auth {
        let mut auth_table = Table::new();
        for (key, value) in auth.entries() {
            auth_table.insert(key, toml_edit::value(value));
        }
        auth_table.decor_mut().set_prefix("\n");
        channel.insert("auth", Item::Table(auth_table));
    }
    let mut jobs = Table::new();
    for job in Job::ALL {
        jobs.insert(job.as_str(), toml_edit::value("none"));
    }
    jobs.decor_mut().set_prefix("\n");
    channel.insert("jobs", Item::Table(jobs));
    channels.insert(id, Item::Table(channel));
    Ok(())
}

/// Sets `[channels.<id>] base-url`; returns the old value.
pub fn set_base_url(
    doc: &mut DocumentMut,
    channel: &str,
    url: &str,
) -> Result<Option<String>, EditError> {
    let table = channel_mut(doc, channel)?;
    set_string(
        table,
        "base-url",
        url,
        &format!("channels.{channel}.base-url"),
    )
}

/// Makes `[channels.<id>.auth]` hold exactly `auth`'s keys: values of kept
/// keys are replaced in place (their comments stay), keys the new table does
/// not have are removed, new ones are appended.
pub fn set_channel_auth(
    doc: &mut DocumentMut,
    channel: &str,
    auth: &AuthConfig,
) -> Result<(), EditError> {
    let channel_table = channel_mut(doc, channel)?;
    let entries = auth.entries();
    let Some(item) = channel_table.get_mut("auth") else {
        let mut table = Table::new();
        for (key, value) in entries {
            table.insert(key, toml_edit::value(value));
        }
        table.decor_mut().set_prefix("\n");
        // Before `jobs`, where `channel add` puts it.
        channel_table.insert("auth", Item::Table(table));
        return Ok(());
    };
    let table = item
        .as_table_like_mut()
        .ok_or_else(|| EditError::NotATable(format!("channels.{channel}.auth")))?;
    // A secret moving between `-env` and `-file` keeps its comments.
    let mut moved_decor = Vec::new();
    for key in AuthConfig::key_names() {
        if entries.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let prefix = table
            .key(key)
            .and_then(|k| k.leaf_decor().prefix())
            .and_then(|p| p.as_str())
            .map(str::to_string);
        if let Some(Item::Value(value)) = table.remove(key)
            && let Some(partner) = secret_partner(key)
        {
            moved_decor.push((partner, prefix, value.decor().clone()));
        }
    }
    for (key, value) in &entries {
        set_string(table, key, value, &format!("channels.{channel}.auth.{key}"))?;
    }
    for (partner, prefix, value_decor) in moved_decor {
        if let Some(prefix) = prefix
            && let Some(mut key) = table.key_mut(partner)
        {
            key.leaf_decor_mut().set_prefix(prefix);
        }
        if let Some(Item::Value(value)) = table.get_mut(partner) {
            *value.decor_mut() = value_decor;
        }
    }
    Ok(())
}

/// The other source of the same secret: `client-secret-env` ↔ `-file`, ...
fn secret_partner(key: &str) -> Option<&'static str> {
    Some(match key {
        "client-secret-env" => "client-secret-file",
        "client-secret-file" => "client-secret-env",
        "password-env" => "password-file",
        "password-file" => "password-env",
        "api-key-env" => "api-key-file",
        "api-key-file" => "api-key-env",
        _ => return None,
    })
}

/// Removes `[channels.<id>]` and its sub-tables.
///
/// toml_edit keeps the comments above a table header in that header's own
/// decoration, so removing the table would drop them all. The comment block
/// right above the header describes the channel and goes with it; anything
/// separated from that block by a blank line (a section comment such as
/// `# ---- channels ----`) is not about this channel and moves to whatever
/// follows.
pub fn remove_channel(doc: &mut DocumentMut, id: &str) -> Result<(), EditError> {
    let channels = channels_mut(doc).ok_or_else(|| EditError::NoSuchChannel(id.to_string()))?;
    let removed = channels
        .remove(id)
        .ok_or_else(|| EditError::NoSuchChannel(id.to_string()))?;
    let Item::Table(removed) = removed else {
        return Ok(());
    };
    let Some((position, prefix)) = first_header(&removed) else {
        return Ok(());
    };
    let Some(kept) = detached_comments(&prefix) else {
        return Ok(());
    };
    let mut next = None;
    first_header_after(doc.as_table(), position, &mut next);
    match next.and_then(|at| header_at_mut(doc.as_table_mut(), at)) {
        Some(table) => {
            let old = table
                .decor()
                .prefix()
                .and_then(|p| p.as_str())
                .unwrap_or("");
            let new = join_comment_blocks(&kept, old);
            table.decor_mut().set_prefix(new);
        }
        None => {
            let old = doc.trailing().as_str().unwrap_or("").to_string();
            doc.set_trailing(join_comment_blocks(&kept, &old));
        }
    }
    Ok(())
}

/// A table written as a `[header]` in the file (not implicit, not dotted).
fn is_header(table: &Table) -> bool {
    !table.is_implicit() && !table.is_dotted() && table.position().is_some()
}

/// The position and prefix text of the first header of `table` or its sub-tables.
fn first_header(table: &Table) -> Option<(isize, String)> {
    let mut best = None;
    if is_header(table) {
        let prefix = table
            .decor()
            .prefix()
            .and_then(|p| p.as_str())
            .unwrap_or("");
        best = table.position().map(|at| (at, prefix.to_string()));
    }
    for (_, item) in table.iter() {
        if let Item::Table(sub) = item
            && let Some(found) = first_header(sub)
            && best.as_ref().is_none_or(|(at, _)| found.0 < *at)
        {
            best = Some(found);
        }
    }
    best
}

/// The smallest header position greater than `after` under `table`.
fn first_header_after(table: &Table, after: isize, best: &mut Option<isize>) {
    for (_, item) in table.iter() {
        if let Item::Table(sub) = item {
            if is_header(sub)
                && let Some(at) = sub.position()
                && at > after
                && best.is_none_or(|b| at < b)
            {
                *best = Some(at);
            }
            first_header_after(sub, after, best);
        }
    }
}

fn header_at_mut(table: &mut Table, at: isize) -> Option<&mut Table> {
    for (_, item) in table.iter_mut() {
        if let Item::Table(sub) = item {
            if is_header(sub) && sub.position() == Some(at) {
                return Some(sub);
            }
            if let Some(found) = header_at_mut(sub, at) {
                return Some(found);
            }
        }
    }
    None
}

/// The part of a header's prefix that ends with a blank line, if it holds a
/// comment: what sat above the header but was not attached to it.
fn detached_comments(prefix: &str) -> Option<String> {
    let lines: Vec<&str> = prefix.split_inclusive('\n').collect();
    let last_blank = lines
        .iter()
        .rposition(|line| line.trim().is_empty() && line.ends_with('\n'))?;
    let kept = &lines[..=last_blank];
    if !kept.iter().any(|line| line.trim_start().starts_with('#')) {
        return None;
    }
    // Without its blank lines at the end: `join_comment_blocks` puts one back.
    Some(format!("{}\n", kept.concat().trim_end()))
}

/// `kept` comments, one blank line, then `next` (a prefix or the trailing text).
fn join_comment_blocks(kept: &str, next: &str) -> String {
    let next_starts_blank = next
        .split_inclusive('\n')
        .next()
        .is_some_and(|line| line.trim().is_empty() && line.ends_with('\n'));
    if next.is_empty() || next_starts_blank {
        format!("{kept}{next}")
    } else {
        format!("{kept}\n{next}")
    }
}

/// The text of a new account file.
pub fn new_account_text(account: &str, display_name: Option<&str>, master: &str) -> String {
    let mut doc = DocumentMut::new();
    doc.decor_mut().set_prefix(format!(
        "# oms-channels account `{account}`: edit by hand or with `oms-channels channel ...`.\n\
         # Secrets never go in this file: name an env var or file (e.g. client-secret-env, password-file).\n"
    ));
    if let Some(name) = display_name {
        doc.insert("display-name", toml_edit::value(name));
    }
    doc.insert("master-product-source", toml_edit::value(master));
    doc.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::{AccountConfig, GrantKind};
    use std::path::Path;

    const COMMENTED: &str = r#"# Acme's channels: keep the EU shop fast.
display-name = "Acme Retail"
master-product-source = "oms"      # "oms" or a channel id

# The EU web shop.
[channels.shop-eu]
type = "beta-rest"                 # key into the capability master list
base-url = "https://api.shop-eu.example/v1"

[channels.shop-eu.auth]
token-url = "https://api.shop-eu.example/oauth/token"
grant = "refresh_token"
client-id = "acme-oms"
client-secret-env = "SHOP_EU_SECRET"   # never the secret itself

[channels.shop-eu.jobs]
auth-refresh = "50m"     # token lives 1h
import-products = "none"
export-products = "1h"   # hourly is plenty

# The UK shop, set up later.
[channels.shop-uk]
type = "beta-rest"
base-url = "https://api.shop-uk.example/v1"
"#;

    fn doc(text: &str) -> DocumentMut {
        text.parse().unwrap()
    }

    fn comments(text: &str) -> Vec<&str> {
        text.lines()
            .filter_map(|line| line.find('#').map(|i| &line[i..]))
            .collect()
    }

    fn parse(text: &str) -> AccountConfig {
        AccountConfig::parse(Path::new("t.toml"), text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn set_period_replaces_only_the_value() {
        let mut d = doc(COMMENTED);
        let old = set_job_period(&mut d, "shop-eu", Job::ExportProducts, "30m").unwrap();
        assert_eq!(old.as_deref(), Some("1h"));
        let out = d.to_string();
        assert_eq!(
            out,
            COMMENTED.replace(
                "export-products = \"1h\"   # hourly",
                "export-products = \"30m\"   # hourly"
            )
        );
    }

    #[test]
    fn set_period_creates_a_jobs_table_in_place() {
        let mut d = doc(COMMENTED);
        assert_eq!(
            set_job_period(&mut d, "shop-uk", Job::ImportProducts, "1h").unwrap(),
            None
        );
        let out = d.to_string();
        assert!(
            out.ends_with("[channels.shop-uk.jobs]\nimport-products = \"1h\"\n"),
            "{out}"
        );
        assert_eq!(comments(&out), comments(COMMENTED));
        let account = parse(&out);
        assert_eq!(
            account.channels["shop-uk"].period(Job::ImportProducts),
            "1h".parse().unwrap()
        );
    }

    #[test]
    fn set_period_in_inline_and_dotted_jobs() {
        let inline = "[channels.a]\ntype = \"beta-rest\"\nbase-url = \"https://a\"\njobs = { auth-refresh = \"1h\" } # inline\n";
        let mut d = doc(inline);
        set_job_period(&mut d, "a", Job::AuthRefresh, "2h").unwrap();
        set_job_period(&mut d, "a", Job::ExportProducts, "1h").unwrap();
        let out = d.to_string();
        assert!(out.contains("# inline"), "{out}");
        let account = parse(&out);
        assert_eq!(
            account.channels["a"].period(Job::AuthRefresh),
            "2h".parse().unwrap()
        );
        assert_eq!(
            account.channels["a"].period(Job::ExportProducts),
            "1h".parse().unwrap()
        );
    }

    #[test]
    fn auth_edits_keep_comments_of_kept_keys_and_drop_other_methods_keys() {
        let text = "[channels.s]\ntype = \"vendure\"\nbase-url = \"https://s.example/admin-api\"\n\n[channels.s.auth]\ntoken-url = \"https://s.example/t\"\ngrant = \"refresh_token\"\nclient-id = \"c\"\n# rotated monthly\nclient-secret-env = \"S_SECRET\"   # in the vault\n\n[channels.s.jobs]\nauth-refresh = \"1h\"\n";
        let mut d = doc(text);
        let mut auth = parse(text).channels["s"].auth.clone().unwrap();
        auth.client_secret_env = Some("S_SECRET_2".into());
        set_channel_auth(&mut d, "s", &auth).unwrap();
        assert_eq!(
            d.to_string(),
            text.replace("\"S_SECRET\"", "\"S_SECRET_2\"")
        );
        auth.method = Some(crate::connector::AuthMethod::Login);
        auth.username = Some("oms".into());
        auth.password_file = Some("/run/secrets/pw".into());
        auth.clear_other_methods();
        set_channel_auth(&mut d, "s", &auth).unwrap();
        let edited = d.to_string();
        let account = parse(&edited);
        let spec = account.channels["s"].auth.as_ref().unwrap().spec().unwrap();
        assert!(matches!(
            spec,
            crate::config::AuthSpec::Login {
                username: "oms",
                ..
            }
        ));
        assert!(!edited.contains("token-url"), "{edited}");
        assert!(edited.contains("[channels.s.jobs]\nauth-refresh = \"1h\"\n"));
        set_base_url(&mut d, "s", "https://t.example/admin-api").unwrap();
        assert!(
            d.to_string()
                .contains("base-url = \"https://t.example/admin-api\"\n")
        );
    }

    #[test]
    fn refused_edits_name_the_problem() {
        let mut d = doc(COMMENTED);
        assert_eq!(
            set_job_period(&mut d, "nope", Job::AuthRefresh, "1h"),
            Err(EditError::NoSuchChannel("nope".into()))
        );
        assert_eq!(
            remove_channel(&mut d, "nope"),
            Err(EditError::NoSuchChannel("nope".into()))
        );
        let mut bad = doc(
            "[channels.a]\ntype = \"beta-rest\"\nbase-url = \"x\"\n[channels.a.jobs.auth-refresh]\nx = 1\n",
        );
        assert!(matches!(
            set_job_period(&mut bad, "a", Job::AuthRefresh, "1h"),
            Err(EditError::NotAValue(_))
        ));
        assert_eq!(d.to_string(), COMMENTED);
    }

    #[test]
    fn master_source_keeps_its_comment() {
        let mut d = doc(COMMENTED);
        assert_eq!(
            set_master_source(&mut d, "shop-eu").unwrap().as_deref(),
            Some("oms")
        );
        assert!(
            d.to_string()
                .contains("master-product-source = \"shop-eu\"      # \"oms\" or a channel id\n")
        );
    }

    #[test]
    fn add_and_remove_channels_keep_everything_else() {
        let mut d = doc(COMMENTED);
        let mut auth = AuthConfig::default();
        auth.token_url = Some("https://api.market.example/token".into());
        auth.grant = Some(GrantKind::ClientCredentials);
        auth.client_id = Some("acme".into());
        auth.client_secret_file = Some("/run/secrets/market".into());
        let new = NewChannel {
            channel_type: "beta-rest".into(),
            base_url: "https://api.market.example".into(),
            auth: Some(auth),
        };
        add_channel(&mut d, "market", &new).unwrap();
        assert_eq!(
            add_channel(&mut d, "market", &new),
            Err(EditError::ChannelExists("market".into()))
        );
        let added = d.to_string();
        assert!(added.starts_with(COMMENTED), "{added}");
        let account = parse(&added);
        assert!(
            account.channels["market"]
                .period(Job::ExportProducts)
                .is_off()
        );
        assert_eq!(
            account.channels["market"].auth.as_ref().unwrap().grant,
            Some(GrantKind::ClientCredentials)
        );
        remove_channel(&mut d, "market").unwrap();
        assert_eq!(d.to_string(), COMMENTED);
        remove_channel(&mut d, "shop-uk").unwrap();
        let removed = d.to_string();
        assert!(!removed.contains("shop-uk"));
        assert!(removed.contains("# hourly is plenty"));
        assert!(parse(&removed).channels.contains_key("shop-eu"));
    }

    #[test]
    fn remove_channel_keeps_section_comments_above_it() {
        let text = "master-product-source = \"oms\"\n\n# ---- channels ----\n\n# A, about to go\n[channels.a]\ntype = \"beta-rest\"\nbase-url = \"https://a\"\n\n# B\n[channels.b]\ntype = \"beta-rest\"\nbase-url = \"https://b\"\n";
        let cases = [
            (
                "a",
                "master-product-source = \"oms\"\n\n# ---- channels ----\n\n# B\n[channels.b]\ntype = \"beta-rest\"\nbase-url = \"https://b\"\n",
            ),
            (
                "b",
                "master-product-source = \"oms\"\n\n# ---- channels ----\n\n# A, about to go\n[channels.a]\ntype = \"beta-rest\"\nbase-url = \"https://a\"\n",
            ),
        ];
        for (id, expected) in cases {
            let mut d = doc(text);
            remove_channel(&mut d, id).unwrap();
            assert_eq!(d.to_string(), expected, "{id}");
        }
        // The last channel's section comment moves into the trailing text.
        let mut d = doc(&text.replace("\n# B\n", "\n# ---- more ----\n\n# B\n"));
        remove_channel(&mut d, "b").unwrap();
        let out = d.to_string();
        assert!(
            out.ends_with("base-url = \"https://a\"\n\n# ---- more ----\n"),
            "{out}"
        );
        parse(&out);
    }

    #[test]
    fn add_channel_to_a_new_account_file() {
        let text = new_account_text("acme", Some("Acme"), "oms");
        let mut d = doc(&text);
        let new = NewChannel {
            channel_type: "beta-rest".into(),
            base_url: "https://a".into(),
            auth: None,
        };
        add_channel(&mut d, "a", &new).unwrap();
        let out = d.to_string();
        assert!(
            !out.contains("[channels]\n"),
            "no empty parent table: {out}"
        );
        assert!(out.starts_with("# oms-channels account `acme`"));
        assert_eq!(parse(&out).display_name.as_deref(), Some("Acme"));
    }

    #[test]
    fn current_account_in_a_comment_only_file_lands_below_the_comments() {
        let mut d = doc("# global settings\n# more\n");
        assert_eq!(set_current_account(&mut d, "acme").unwrap(), None);
        assert_eq!(
            d.to_string(),
            "# global settings\n# more\ncurrent-account = \"acme\"\n"
        );
        assert_eq!(
            set_current_account(&mut d, "beta").unwrap().as_deref(),
            Some("acme")
        );
        assert_eq!(
            d.to_string(),
            "# global settings\n# more\ncurrent-account = \"beta\"\n"
        );
        let mut empty = doc("");
        set_current_account(&mut empty, "acme").unwrap();
        assert_eq!(empty.to_string(), "current-account = \"acme\"\n");
    }
}
