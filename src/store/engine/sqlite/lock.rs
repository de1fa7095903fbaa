//! File locks next to the SQLite stores: `<account>.lock` for an account's
//! runs, `<account>.<channel>.tokens.lock` for a channel's token refresh.
//! Never the database itself (closing a second descriptor on it would drop
//! SQLite's own locks). OS advisory locks (`flock`) die with their process,
//! so a crash leaves no stale lock. Lock files are opened without following
//! links, in a data dir checked like `~/.ssh` (see `data_dir`).

use std::fs::{File, Permissions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::data_dir::{self, LOCK_FILE};
use crate::store::StoreError;
use crate::store::lock::{AccountLock, ChannelLock, LockError};

/// Opens (creating with mode 0600) a lock file, never through a link. Not
/// truncated here: the holder's note must survive until the new holder has
/// the lock.
fn open_lock_file(
    data_dir: &Path,
    name: &str,
    account: &str,
) -> Result<(File, PathBuf), LockError> {
    let store_err = |source| LockError::Store {
        account: account.to_string(),
        source,
    };
    data_dir::prepare(data_dir).map_err(store_err)?;
    let path = data_dir.join(name);
    let io_err = |source| LockError::Io {
        account: account.to_string(),
        path: path.clone(),
        source,
    };
    let file = match data_dir::open_no_follow(&path, true) {
        Ok(file) => file,
        Err(e) if data_dir::is_link_refusal(&e) => {
            return Err(store_err(data_dir::refused_link(&path, LOCK_FILE)));
        }
        Err(e) => return Err(io_err(e)),
    };
    if !file.metadata().map_err(io_err)?.is_file() {
        return Err(store_err(StoreError::UnsafeFile {
            what: LOCK_FILE,
            path: path.clone(),
            reason: "is not a regular file: remove it (the lock file is made again)".to_string(),
        }));
    }
    // Whatever the umask or an earlier version left, lock files are private.
    file.set_permissions(Permissions::from_mode(0o600))
        .map_err(io_err)?;
    Ok((file, path))
}

/// Parses `pid=<pid> started=<RFC3339>`; missing parts are `None`.
fn parse_holder(note: &str) -> (Option<u32>, Option<String>) {
    let mut pid = None;
    let mut started = None;
    for word in note.split_whitespace() {
        if let Some(v) = word.strip_prefix("pid=") {
            pid = v.parse().ok();
        } else if let Some(v) = word.strip_prefix("started=") {
            started = Some(v.to_string());
        }
    }
    (pid, started)
}

/// The pid noted in the account's lock file, if that process is alive.
pub(super) fn run_holder(data_dir: &Path, account: &str) -> Option<u32> {
    let mut note = String::new();
    data_dir::open_read_no_follow(&data_dir.join(format!("{account}.lock")))
        .ok()?
        .read_to_string(&mut note)
        .ok()?;
    let pid = parse_holder(&note).0?;
    let raw = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)?;
    // Signal 0 only asks whether the process exists; EPERM means it does,
    // under another user.
    match rustix::process::test_kill_process(raw) {
        Ok(()) | Err(rustix::io::Errno::PERM) => Some(pid),
        Err(_) => None,
    }
}

/// Takes the account's run lock without waiting, and notes in the lock file
/// who holds it (`pid=<pid> started=<RFC3339>`) so a refused run can say so.
pub(super) fn try_lock_account(data_dir: &Path, account: &str) -> Result<AccountLock, LockError> {
    let (mut file, path) = open_lock_file(data_dir, &format!("{account}.lock"), account)?;
    let io_err = |source| LockError::Io {
        account: account.to_string(),
        path: path.clone(),
        source,
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut note = String::new();
            // Best effort: the holder may be rewriting it right now.
            let _ = file.read_to_string(&mut note);
            let (pid, started) = parse_holder(&note);
            return Err(LockError::Held {
                account: account.to_string(),
                pid,
                host: None,
                started,
                path,
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io_err(e)),
    }
    let note = format!("pid={} started={}\n", std::process::id(), Timestamp::now());
    // Written over the old note, then cut to its length: a file truncated
    // to nothing and written again is flushed at close by ext4 (its guard
    // for replace-by-truncate), which cost cron's idle call 0.3 ms or more.
    let write = |file: &mut File| -> io::Result<()> {
        file.seek(SeekFrom::Start(0))?;
        file.write_all(note.as_bytes())?;
        file.set_len(note.len() as u64)?;
        file.flush()
    };
    write(&mut file).map_err(io_err)?;
    Ok(AccountLock::new(Box::new(file), path))
}

/// Waits for the channel's token lock.
pub(super) fn lock_channel_tokens(
    data_dir: &Path,
    account: &str,
    channel: &str,
) -> Result<ChannelLock, LockError> {
    // Ids cannot contain `.`, so these names never collide with `<account>.db`
    // or another account's files.
    let (file, path) = open_lock_file(
        data_dir,
        &format!("{account}.{channel}.tokens.lock"),
        account,
    )?;
    file.lock().map_err(|source| LockError::Io {
        account: account.to_string(),
        path,
        source,
    })?;
    Ok(ChannelLock::new(Box::new(file)))
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::store::StoreSpec;
    use crate::store::lock::{self as store_lock, describe_holder};
    use crate::store::test_util::with_causes;

    fn files(dir: impl AsRef<Path>) -> StoreSpec {
        StoreSpec::files(dir.as_ref())
    }

    #[test]
    fn a_run_is_alive_only_while_its_process_is() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            !store_lock::account_run_alive(&files(dir.path()), "acme"),
            "no lock file yet"
        );
        let lock = store_lock::try_lock_account(&files(dir.path()), "acme").unwrap();
        assert!(
            store_lock::account_run_alive(&files(dir.path()), "acme"),
            "this process holds it"
        );
        drop(lock);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        std::fs::write(
            dir.path().join("acme.lock"),
            format!("pid={dead} started=x\n"),
        )
        .unwrap();
        assert!(
            !store_lock::account_run_alive(&files(dir.path()), "acme"),
            "pid {dead} has exited"
        );
    }

    #[test]
    fn second_account_lock_reports_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = store_lock::try_lock_account(&files(dir.path()), "acme").unwrap();
        // Another open file description of the same file: flock conflicts as
        // between two processes.
        let err = store_lock::try_lock_account(&files(dir.path()), "acme").unwrap_err();
        let LockError::Held {
            pid, started, path, ..
        } = &err
        else {
            panic!("expected Held, got {err:?}");
        };
        assert_eq!(*pid, Some(std::process::id()));
        let started: Timestamp = started.as_deref().unwrap().parse().unwrap();
        assert!(Timestamp::now().duration_since(started).as_secs() < 60);
        assert_eq!(path, first.path());
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "account `acme` is locked by another run-once (pid {}, started 20",
                std::process::id()
            )),
            "{msg}"
        );

        // Other accounts are independent.
        drop(store_lock::try_lock_account(&files(dir.path()), "beta").unwrap());

        // Released on drop; the new holder rewrites the note.
        drop(first);
        let again = store_lock::try_lock_account(&files(dir.path()), "acme").unwrap();
        let note = std::fs::read_to_string(again.path()).unwrap();
        assert!(
            note.starts_with(&format!("pid={} started=", std::process::id())),
            "{note}"
        );
        assert!(
            note.ends_with('\n') && note.lines().count() == 1,
            "{note:?}"
        );
        let mode = std::fs::metadata(again.path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn holder_notes_parse() {
        let cases: &[(&str, Option<u32>, Option<&str>, &str)] = &[
            (
                "pid=12 started=2026-01-01T00:00:00Z\n",
                Some(12),
                Some("2026-01-01T00:00:00Z"),
                "pid 12, started 2026-01-01T00:00:00Z",
            ),
            ("pid=12\n", Some(12), None, "pid 12"),
            ("", None, None, "holder unknown"),
            ("garbage", None, None, "holder unknown"),
        ];
        for (note, pid, started, text) in cases {
            let (p, s) = parse_holder(note);
            assert_eq!((p, s.as_deref()), (*pid, *started), "{note:?}");
            assert_eq!(describe_holder(p, None, s.as_deref()), *text);
        }
    }

    #[test]
    fn refuses_bad_ids() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            store_lock::try_lock_account(&files(dir.path()), "../x"),
            Err(LockError::Store {
                source: StoreError::InvalidAccount(_),
                ..
            })
        ));
        assert!(store_lock::lock_channel_tokens(&files(dir.path()), "acme", "oms").is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_lock_file_that_is_a_link_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::os::unix::fs::symlink(&victim, data.join("acme.lock")).unwrap();
        std::os::unix::fs::symlink(&victim, data.join("acme.shop.tokens.lock")).unwrap();
        let err = with_causes(&store_lock::try_lock_account(&files(&data), "acme").unwrap_err());
        assert!(err.contains("acme.lock"), "{err}");
        assert!(err.contains("symbolic link"), "{err}");
        let err = with_causes(
            &store_lock::lock_channel_tokens(&files(&data), "acme", "shop").unwrap_err(),
        );
        assert!(err.contains("acme.shop.tokens.lock"), "{err}");
        // The note reader does not follow it either.
        std::fs::write(&victim, format!("pid={}\n", std::process::id())).unwrap();
        assert!(!store_lock::account_run_alive(&files(&data), "acme"));
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            format!("pid={}\n", std::process::id())
        );
    }

    #[test]
    fn channel_token_lock_waits_for_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let held = store_lock::lock_channel_tokens(&files(dir.path()), "acme", "shop").unwrap();
        // A different channel does not wait.
        drop(store_lock::lock_channel_tokens(&files(dir.path()), "acme", "web").unwrap());

        let (tx, rx) = mpsc::channel();
        let data_dir = dir.path().to_path_buf();
        let waiter = std::thread::spawn(move || {
            let lock = store_lock::lock_channel_tokens(&files(data_dir), "acme", "shop").unwrap();
            tx.send(()).unwrap();
            drop(lock);
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(100)).is_err(),
            "second lock taken while the first is held"
        );
        drop(held);
        rx.recv_timeout(Duration::from_secs(5))
            .expect("second lock taken after release");
        waiter.join().unwrap();
    }
}
