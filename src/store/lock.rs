//! Cross-process locks on separate lock files next to the store (never the
//! database itself: closing a second descriptor on it would drop SQLite's
//! own locks). OS advisory locks (`flock`) die with their process, so a crash
//! leaves no stale lock behind.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::schema::create_private_dir;
use crate::ids::{check_account_id, check_channel_id};

/// Held while alive: no other `run-once` can work on the account. Released on
/// drop or when the process dies.
#[derive(Debug)]
pub struct AccountLock {
    _file: File,
    path: PathBuf,
}

impl AccountLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Held while alive: no other process refreshes this channel's tokens.
#[derive(Debug)]
pub struct ChannelLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "account `{account}` is locked by another run-once ({holder})",
        holder = describe_holder(*pid, started.as_deref())
    )]
    Held {
        account: String,
        pid: Option<u32>,
        started: Option<String>,
        path: PathBuf,
    },
    #[error("cannot lock account `{account}` with `{path}`: {source}", path = path.display())]
    Io {
        account: String,
        path: PathBuf,
        source: io::Error,
    },
}

fn describe_holder(pid: Option<u32>, started: Option<&str>) -> String {
    match (pid, started) {
        (Some(pid), Some(started)) => format!("pid {pid}, started {started}"),
        (Some(pid), None) => format!("pid {pid}"),
        // Between its lock and its note, or an older note format.
        _ => "holder unknown".to_string(),
    }
}

/// Opens (creating with mode 0600) a lock file. Not truncated here: the
/// holder's note must survive until the new holder has the lock.
fn open_lock_file(data_dir: &Path, name: &str) -> io::Result<(File, PathBuf)> {
    create_private_dir(data_dir)?;
    let path = data_dir.join(name);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)?;
    // Whatever the umask or an earlier version left, lock files are private.
    file.set_permissions(Permissions::from_mode(0o600))?;
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

/// Whether the process that last took the account's run lock is still alive,
/// judged from the pid it noted (read-only: taking the lock to find out could
/// make a concurrent cron run give up). `status` uses it to tell a running job
/// from one whose process was killed.
pub fn account_run_alive(data_dir: &Path, account: &str) -> bool {
    account_run_holder(data_dir, account).is_some()
}

/// The pid of the live process that last took the account's run lock, if it
/// is still alive (see [`account_run_alive`]).
pub fn account_run_holder(data_dir: &Path, account: &str) -> Option<u32> {
    let note = std::fs::read_to_string(data_dir.join(format!("{account}.lock"))).ok()?;
    let pid = parse_holder(&note).0?;
    let raw = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: signal 0 only checks that the process exists.
    let exists = unsafe { libc::kill(raw, 0) } == 0;
    (exists || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)).then_some(pid)
}

/// Takes the account's run lock without waiting, and notes in the lock file
/// who holds it (`pid=<pid> started=<RFC3339>`) so a refused run can say so.
pub fn try_lock_account(data_dir: &Path, account: &str) -> Result<AccountLock, LockError> {
    let io_err = |path: &Path, source| LockError::Io {
        account: account.to_string(),
        path: path.to_path_buf(),
        source,
    };
    check_account_id(account)
        .map_err(|e| io_err(data_dir, io::Error::new(io::ErrorKind::InvalidInput, e)))?;
    let name = format!("{account}.lock");
    let (mut file, path) =
        open_lock_file(data_dir, &name).map_err(|e| io_err(&data_dir.join(&name), e))?;
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
                started,
                path,
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&path, e)),
    }
    let note = format!("pid={} started={}\n", std::process::id(), Timestamp::now());
    let write = |file: &mut File| -> io::Result<()> {
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(note.as_bytes())?;
        file.flush()
    };
    write(&mut file).map_err(|e| io_err(&path, e))?;
    Ok(AccountLock { _file: file, path })
}

/// Waits for the channel's token lock: serialises token refreshes of one
/// channel across processes, so a rotated refresh token is never used twice.
pub fn lock_channel_tokens(
    data_dir: &Path,
    account: &str,
    channel: &str,
) -> io::Result<ChannelLock> {
    let invalid = |e| io::Error::new(io::ErrorKind::InvalidInput, e);
    check_account_id(account).map_err(invalid)?;
    check_channel_id(channel).map_err(invalid)?;
    // Ids cannot contain `.`, so these names never collide with `<account>.db`
    // or another account's files.
    let (file, _) = open_lock_file(data_dir, &format!("{account}.{channel}.tokens.lock"))?;
    file.lock()?;
    Ok(ChannelLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn a_run_is_alive_only_while_its_process_is() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!account_run_alive(dir.path(), "acme"), "no lock file yet");
        let lock = try_lock_account(dir.path(), "acme").unwrap();
        assert!(
            account_run_alive(dir.path(), "acme"),
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
            !account_run_alive(dir.path(), "acme"),
            "pid {dead} has exited"
        );
    }

    #[test]
    fn second_account_lock_reports_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = try_lock_account(dir.path(), "acme").unwrap();
        // Another open file description of the same file: flock conflicts as
        // between two processes.
        let err = try_lock_account(dir.path(), "acme").unwrap_err();
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
        let other = try_lock_account(dir.path(), "beta").unwrap();
        drop(other);

        // Released on drop; the new holder rewrites the note.
        drop(first);
        let again = try_lock_account(dir.path(), "acme").unwrap();
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
            assert_eq!(describe_holder(p, s.as_deref()), *text);
        }
    }

    #[test]
    fn refuses_bad_ids() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            try_lock_account(dir.path(), "../x"),
            Err(LockError::Io { .. })
        ));
        let err = lock_channel_tokens(dir.path(), "acme", "oms").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn channel_token_lock_waits_for_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_channel_tokens(dir.path(), "acme", "shop").unwrap();
        // A different channel does not wait.
        drop(lock_channel_tokens(dir.path(), "acme", "web").unwrap());

        let (tx, rx) = mpsc::channel();
        let data_dir = dir.path().to_path_buf();
        let waiter = std::thread::spawn(move || {
            let lock = lock_channel_tokens(&data_dir, "acme", "shop").unwrap();
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
