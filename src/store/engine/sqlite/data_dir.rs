//! The data dir, checked the way OpenSSH checks `~/.ssh`: the tool writes
//! its stores and lock files only into a directory nobody else can write
//! to, and only as regular files, never through a symbolic link (a link
//! planted there could make it overwrite any file the user may write).
//! A directory the tool creates is made 0700; one it finds must not be
//! writable by group or others. The directory itself may be a link (where
//! it lives is the operator's choice); what is inside may not.

use std::fs::{self, DirBuilder, Metadata, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{Access, OFlags};

use crate::store::StoreError;

/// The companions SQLite keeps next to a database: each is opened by
/// name, so each is checked like the database itself.
pub(super) const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// For a command that writes: creates the data dir (and its missing
/// parents) with mode 0700, or checks the one that is there.
pub(super) fn prepare(dir: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: dir.to_path_buf(),
        source,
    };
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => check_private(dir, &meta),
        Ok(_) => Err(io(file_in_the_way(dir))),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            // "File exists (os error 17)" would not say which file is in the way.
            if let Some(file) = dir.ancestors().find(|p| p.exists() && !p.is_dir()) {
                return Err(io(file_in_the_way(file)));
            }
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io)?;
            // The umask may have taken bits away; set the mode we mean.
            fs::set_permissions(dir, Permissions::from_mode(0o700)).map_err(io)
        }
        Err(e) => Err(io(e)),
    }
}

/// For a command that only reads: whether the data dir exists (a missing
/// one holds no store, and is not created); one that exists is checked.
pub(super) fn existing(dir: &Path) -> Result<bool, StoreError> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => check_private(dir, &meta).map(|()| true),
        Ok(_) => Err(StoreError::Io {
            path: dir.to_path_buf(),
            source: file_in_the_way(dir),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(StoreError::Io {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

fn file_in_the_way(file: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotADirectory,
        format!(
            "`{}` is a file, not a directory: the data dir must be a directory (check --data-dir or OMS_CHANNELS_DATA_DIR)",
            file.display()
        ),
    )
}

/// Refuses a data dir that group or others may write to: whoever can
/// could swap the store or plant a link in place of a lock file.
fn check_private(dir: &Path, meta: &Metadata) -> Result<(), StoreError> {
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(StoreError::UnsafeDataDir {
            path: dir.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// Checks that `path` (a store or lock file) is a regular file, not a link
/// or anything else; `Ok(false)` when it does not exist.
pub(super) fn regular_file(path: &Path, what: &'static str) -> Result<bool, StoreError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => Ok(true),
        Ok(meta) => Err(unsafe_file(path, what, &meta)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(StoreError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Why `path` cannot be used, with what to do about it.
fn unsafe_file(path: &Path, what: &'static str, meta: &Metadata) -> StoreError {
    let fix = if what == LOCK_FILE {
        "remove it (the lock file is made again)"
    } else {
        "put the store file itself there (or point --data-dir at the directory that holds it)"
    };
    let reason = if meta.file_type().is_symlink() {
        let target = fs::read_link(path)
            .map(|t| format!(" to `{}`", t.display()))
            .unwrap_or_default();
        format!(
            "is a symbolic link{target}: oms-channels opens its store and lock files only as regular files in the data dir, so that a link cannot make it write to another file; {fix}"
        )
    } else {
        format!("is not a regular file: {fix}")
    };
    StoreError::UnsafeFile {
        what,
        path: path.to_path_buf(),
        reason,
    }
}

/// [`unsafe_file`] for a path that an open without following links refused.
pub(super) fn refused_link(path: &Path, what: &'static str) -> StoreError {
    match fs::symlink_metadata(path) {
        Ok(meta) => unsafe_file(path, what, &meta),
        Err(source) => StoreError::Io {
            path: path.to_path_buf(),
            source,
        },
    }
}

pub(super) const STORE_FILE: &str = "store file";
pub(super) const LOCK_FILE: &str = "lock file";

/// The database and its companions must be regular files; `Ok(false)` when
/// the database does not exist.
pub(super) fn store_files(db: &Path) -> Result<bool, StoreError> {
    for suffix in COMPANIONS {
        regular_file(&with_suffix(db, suffix), STORE_FILE)?;
    }
    regular_file(db, STORE_FILE)
}

/// `acme.db` + `-wal`.
pub(super) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Creates an empty database file with mode 0600 if there is none, so
/// SQLite never creates it with the umask's mode.
///
/// Only `create_new` (which never follows a link): an existing file is
/// never opened here, because closing a second descriptor would drop
/// SQLite's POSIX locks held by this process.
pub(super) fn create_db_file(path: &Path) -> io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Sets 0600 on the database and its companions, whatever the umask was
/// when SQLite created them. By path: only after [`store_files`] found
/// them regular files, in a directory only this user writes to.
pub(super) fn restrict_modes(db: &Path) -> io::Result<()> {
    for suffix in std::iter::once("").chain(COMPANIONS) {
        let file = with_suffix(db, suffix);
        match fs::symlink_metadata(&file) {
            Ok(meta) if meta.file_type().is_file() && meta.mode() & 0o777 != 0o600 => {
                fs::set_permissions(&file, Permissions::from_mode(0o600))?;
            }
            Ok(_) => {}
            // The companions come and go with connections.
            Err(e) if e.kind() == io::ErrorKind::NotFound && !suffix.is_empty() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Where and why this process cannot write the store `db` in `dir` (a
/// read-only file system, a mode that keeps it out), or `None` when it can.
pub(super) fn not_writable(dir: &Path, db: &Path) -> Option<(PathBuf, io::Error)> {
    [dir, db].into_iter().find_map(|place| {
        rustix::fs::access(place, Access::WRITE_OK)
            .err()
            .map(|e| (place.to_path_buf(), io::Error::from(e)))
    })
}

/// The database's path with the data dir's own links resolved, so SQLite
/// can be told to follow none: a link in the last part (the store file)
/// then fails the open instead of being followed.
pub(super) fn resolved(db: &Path) -> io::Result<PathBuf> {
    let (Some(dir), Some(name)) = (db.parent(), db.file_name()) else {
        return Ok(db.to_path_buf());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    Ok(fs::canonicalize(dir)?.join(name))
}

/// Opens a file for reading and writing (with `create`, making it 0600
/// when missing), never through a link.
pub(super) fn open_no_follow(path: &Path, create: bool) -> io::Result<fs::File> {
    let mut flags = OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    if create {
        flags |= OFlags::CREATE;
    }
    let fd = rustix::fs::open(path, flags, rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR)?;
    Ok(fs::File::from(fd))
}

/// Opens an existing file for reading only, never through a link.
pub(super) fn open_read_no_follow(path: &Path) -> io::Result<fs::File> {
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    Ok(fs::File::from(fd))
}

/// An open that failed because the last part of the path is a link.
pub(super) fn is_link_refusal(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn a_created_data_dir_and_its_parents_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("deep/data");
        prepare(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&dir.path().join("deep")), 0o700);
        // Found again as it was made: fine.
        prepare(&data).unwrap();
        assert!(existing(&data).unwrap());
        assert!(!existing(&dir.path().join("nothing")).unwrap());
    }

    #[test]
    fn a_data_dir_others_may_write_to_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        for (bits, refused) in [
            (0o700, false),
            (0o750, false),
            (0o755, false),
            (0o770, true),
            (0o707, true),
            (0o777, true),
            (0o1777, true),
        ] {
            fs::set_permissions(dir.path(), Permissions::from_mode(bits)).unwrap();
            let results = [prepare(dir.path()).err(), existing(dir.path()).err()];
            for err in results {
                assert_eq!(err.is_some(), refused, "{bits:o}: {err:?}");
                if let Some(err) = err {
                    let text = err.to_string();
                    assert!(
                        text.contains(&format!("chmod 700 {}", dir.path().display())),
                        "{text}"
                    );
                    assert!(text.contains(&format!("{bits:04o}")), "{text}");
                }
            }
        }
        fs::set_permissions(dir.path(), Permissions::from_mode(0o700)).unwrap();
    }

    #[test]
    fn a_link_or_a_directory_in_place_of_a_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let db = dir.path().join("acme.db");
        assert!(!store_files(&db).unwrap());
        std::os::unix::fs::symlink(&victim, &db).unwrap();
        let err = store_files(&db).unwrap_err().to_string();
        assert!(err.contains(&format!("`{}`", db.display())), "{err}");
        assert!(err.contains("symbolic link"), "{err}");
        assert!(err.contains(&victim.display().to_string()), "{err}");
        fs::remove_file(&db).unwrap();

        // A companion counts as the store.
        fs::write(&db, "").unwrap();
        std::os::unix::fs::symlink(&victim, with_suffix(&db, "-wal")).unwrap();
        assert!(
            store_files(&db)
                .unwrap_err()
                .to_string()
                .contains("acme.db-wal")
        );

        let lock = dir.path().join("acme.lock");
        fs::create_dir(&lock).unwrap();
        let err = regular_file(&lock, LOCK_FILE).unwrap_err().to_string();
        assert!(err.contains("is not a regular file"), "{err}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
    }

    #[test]
    fn opening_without_following_refuses_a_link_and_writes_nothing_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let lock = dir.path().join("acme.lock");
        std::os::unix::fs::symlink(&victim, &lock).unwrap();
        let err = open_no_follow(&lock, true).unwrap_err();
        assert!(is_link_refusal(&err), "{err}");
        let dangling = dir.path().join("other.lock");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(is_link_refusal(
            &open_no_follow(&dangling, true).unwrap_err()
        ));
        assert!(!dir.path().join("nowhere").exists());
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        let text = refused_link(&lock, LOCK_FILE).to_string();
        assert!(text.contains("remove it"), "{text}");
    }

    #[test]
    fn the_resolved_path_keeps_the_name_and_resolves_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(
            resolved(&link.join("acme.db")).unwrap(),
            fs::canonicalize(&real).unwrap().join("acme.db")
        );
    }
}
