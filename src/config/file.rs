//! Account and global config files on disk: loading, listing, and edits that
//! are read-modify-write under an exclusive lock and land by atomic replace.
//! A file that does not parse is reported and never rewritten; a refused edit
//! writes nothing.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use toml_edit::DocumentMut;

use super::error::{ConfigError, parse_toml, read_text};
use super::model::{AccountConfig, GlobalConfig};
use crate::crash;
use crate::error::{ErrorKind, Failure, KindContext as _};
use crate::ids;
use crate::paths::Paths;

/// An account file as loaded: its id, where it lives, what it says.
#[derive(Debug, Clone)]
pub struct LoadedAccount {
    pub id: String,
    pub path: PathBuf,
    pub config: AccountConfig,
    /// A digest of the file's bytes as parsed (FNV-1a), so that what is
    /// decided from `config` can name the exact text it came from.
    pub digest: u64,
}

/// The digest [`LoadedAccount::digest`] holds, of a file's bytes.
pub fn text_digest(bytes: &[u8]) -> u64 {
    let mut hash = crate::store::Fnv1a::new();
    hash.feed(bytes);
    hash.0
}

pub fn load_account(paths: &Paths, account: &str) -> Result<LoadedAccount, ConfigError> {
    let path = paths.account_file(account);
    if !path.exists() {
        return Err(ConfigError::NoAccount {
            account: account.to_string(),
            path,
        });
    }
    let text = read_text(&path)?;
    let config = AccountConfig::parse(&path, &text)?;
    Ok(LoadedAccount {
        id: account.to_string(),
        path,
        config,
        digest: text_digest(text.as_bytes()),
    })
}

/// The global config; a missing file is an empty config.
pub fn load_global(paths: &Paths) -> Result<GlobalConfig, ConfigError> {
    let path = paths.global_config();
    if !path.exists() {
        return Ok(GlobalConfig::default());
    }
    let text = read_text(&path)?;
    parse_toml(&path, &text)
}

/// Ids of the account files in the accounts dir, sorted. Files whose names
/// are not valid ids are not accounts and are ignored
/// ([`ignored_account_files`] lists them).
pub fn list_accounts(paths: &Paths) -> Result<Vec<String>> {
    let mut accounts: Vec<String> = toml_files(paths)?
        .into_iter()
        .filter_map(|name| {
            let id = name.strip_suffix(".toml")?;
            ids::check_account_id(id).is_ok().then(|| id.to_string())
        })
        .collect();
    accounts.sort();
    Ok(accounts)
}

/// The `*.toml` files in the accounts dir whose names are no account id
/// (`Acme.toml`, `shop eu.toml`): every command ignores them, and `validate
/// --all-accounts` says so.
pub fn ignored_account_files(paths: &Paths) -> Result<Vec<String>> {
    let mut ignored: Vec<String> = toml_files(paths)?
        .into_iter()
        .filter(|name| {
            name.strip_suffix(".toml")
                .is_none_or(|id| ids::check_account_id(id).is_err())
        })
        .collect();
    ignored.sort();
    Ok(ignored)
}

/// The names of the `*.toml` files in the accounts dir (none when it is
/// missing); a name that is not UTF-8 is shown lossily.
fn toml_files(paths: &Paths) -> Result<Vec<String>> {
    let dir = paths.accounts_dir();
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => {
            return Err(err).with_kind_context(ErrorKind::Config, || {
                format!("cannot list accounts in `{}`", dir.display())
            });
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.with_kind_context(ErrorKind::Config, || {
            format!("cannot list accounts in `{}`", dir.display())
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".toml") {
            names.push(name);
        }
    }
    Ok(names)
}

/// Holds the exclusive edit lock of one file; released on drop or process death.
pub struct EditLock {
    _dir: File,
}

/// Waits for the edit lock of `path`: an advisory lock on the directory that
/// holds it (the file itself is replaced by each edit, so its inode cannot
/// carry the lock), so no lock file is left next to the user's files. Edits
/// take milliseconds, so waiting is right: eight concurrent `set-period`
/// calls must all land.
pub fn lock_for_edit(path: &Path) -> Result<EditLock> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).with_kind_context(ErrorKind::Config, || {
        format!("cannot create `{}`", dir.display())
    })?;
    let handle = File::open(dir).with_kind_context(ErrorKind::Config, || {
        format!("cannot open `{}`", dir.display())
    })?;
    handle.lock().with_kind_context(ErrorKind::Config, || {
        format!("cannot lock `{}` for an edit", dir.display())
    })?;
    Ok(EditLock { _dir: handle })
}

/// The file an edit of `path` must change: through symlinks, their final
/// target (an edit replaces the target's content, never the link). A link
/// whose target does not exist yet resolves to that target.
pub fn edit_target(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&current).with_kind_context(ErrorKind::Config, || {
                    format!("cannot read the link `{}`", current.display())
                })?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(Failure::config(format!(
        "cannot edit `{}`: too many levels of symbolic links",
        path.display()
    ))
    .into())
}

/// How a file spells its text: a UTF-8 byte order mark, CRLF line ends.
/// Edits work on plain LF text and give the file its spelling back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextStyle {
    bom: bool,
    crlf: bool,
}

impl TextStyle {
    /// The style of `text`, and `text` in plain style. CRLF is kept only when
    /// every line ends so (a file mixing both is left with what it has).
    pub fn detect(text: &str) -> (TextStyle, String) {
        let (bom, body) = match text.strip_prefix('\u{feff}') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let crlf_count = body.matches("\r\n").count();
        let lf_count = body.matches('\n').count();
        let crlf = crlf_count > 0 && crlf_count == lf_count;
        let plain = if crlf {
            body.replace("\r\n", "\n")
        } else {
            body.to_string()
        };
        (TextStyle { bom, crlf }, plain)
    }

    /// `text` (plain style) spelled in this style.
    pub fn apply(self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 16);
        if self.bom {
            out.push('\u{feff}');
        }
        if self.crlf {
            out.push_str(&text.replace('\n', "\r\n"));
        } else {
            out.push_str(text);
        }
        out
    }
}

/// What an edit did.
pub struct Edited<T> {
    pub value: T,
    /// False when the edit left the text as it was (nothing was written).
    pub changed: bool,
}

/// How to treat a missing file in [`edit_file`].
pub enum IfMissing<'a> {
    Fail,
    StartFrom(&'a str),
}

/// Read-modify-write of one TOML file under its edit lock.
///
/// `edit` changes the document or refuses with an error (then nothing is
/// written). `check` must accept the new text (it parses it, and may refuse a
/// change that would break the account), so the tool never writes a file it
/// would itself reject. The new text lands by atomic replace (temp file in
/// the same dir, fsync, rename, fsync of the dir).
pub fn edit_file<T>(
    path: &Path,
    if_missing: IfMissing<'_>,
    edit: impl FnOnce(&mut DocumentMut) -> Result<T>,
    check: impl FnOnce(&str) -> Result<()>,
) -> Result<Edited<T>> {
    let target = edit_target(path)?;
    let path = target.as_path();
    let _lock = lock_for_edit(path)?;
    remove_abandoned_temp_files(path);
    let old_text = if path.exists() {
        read_text(path)?
    } else {
        match if_missing {
            IfMissing::Fail => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                }
                .into());
            }
            IfMissing::StartFrom(text) => text.to_string(),
        }
    };
    let (style, plain) = TextStyle::detect(&old_text);
    let mut doc: DocumentMut = plain.parse().map_err(|err: toml_edit::TomlError| {
        ConfigError::at(
            path,
            &plain,
            err.span().map(|span| span.start),
            err.message().trim_end().to_string(),
        )
    })?;
    let value = edit(&mut doc)?;
    let new_text = style.apply(&doc.to_string());
    // `check` words its own refusals; they are not internal errors.
    check(&new_text)?;
    let changed = new_text != old_text || !path.exists();
    if changed {
        write_atomically(path, new_text.as_bytes())?;
    }
    Ok(Edited { value, changed })
}

/// Removes temp files that a writer killed mid-save left next to `path`
/// (atomic-write-file names them `.<name>.XXXXXX`: six alphanumerics). Only
/// called under the edit lock, so no live writer owns them.
fn remove_abandoned_temp_files(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return;
    };
    // Edit locks of earlier versions lived next to the file; the directory
    // lock (held now) replaced them.
    let _ = fs::remove_file(dir.join(format!(".{name}.lock")));
    let prefix = format!(".{name}.");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(suffix) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        if suffix.len() == 6
            && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
            && let Err(err) = fs::remove_file(entry.path())
        {
            tracing::warn!(
                "cannot remove abandoned temp file `{}`: {err}",
                entry.path().display()
            );
        }
    }
}

/// Replaces `path` with `bytes` so that readers and crashes see either the old
/// or the new content, never a mix.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_kind_context(ErrorKind::Config, || {
            format!("cannot create `{}`", dir.display())
        })?;
    }
    let write_error = || format!("cannot write `{}`", path.display());
    let mut file = atomic_write_file::AtomicWriteFile::open(path)
        .with_kind_context(ErrorKind::Config, write_error)?;
    let half = bytes.len() / 2;
    file.write_all(&bytes[..half])
        .and_then(|()| {
            crash::point("config-write");
            file.write_all(&bytes[half..])
        })
        .with_kind_context(ErrorKind::Config, write_error)?;
    file.commit().with_kind_context(ErrorKind::Config, || {
        format!("cannot replace `{}`", path.display())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_removes_temp_files_a_killed_writer_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acme.toml");
        fs::write(&path, "master-product-source = \"oms\"\n").unwrap();
        for name in [
            ".acme.toml.AbC123",
            ".acme.toml.lock",
            ".beta.toml.xYz789",
            ".acme.toml.bak",
        ] {
            fs::write(dir.path().join(name), "x").unwrap();
        }
        edit_file(&path, IfMissing::Fail, |_| Ok(()), |_| Ok(())).unwrap();
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".acme.toml.bak", ".beta.toml.xYz789", "acme.toml"]);
    }
}
