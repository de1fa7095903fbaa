//! The idle stamp of a SQLite store: a small file next to it,
//! `<account>.idle`, so that reading it opens no database (see
//! `store::idle` for what it promises).
//!
//! ```text
//! oms-channels idle stamp 1
//! inputs 00c0ffee00c0ffee
//! store 2049:1234567
//! next-due 1796637600000
//! ```
//!
//! `store` is the database file's device and inode: a store replaced or
//! removed since makes the stamp void. A stamp that cannot be read, for
//! whatever reason, is no stamp ("maybe due").
//!
//! Removal must reach the disk before the write that removes it commits
//! (else a power cut could bring back a stamp the commit made wrong), so
//! the directory is synced after a removal; creating a stamp needs no sync
//! (a lost one is "maybe due").

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use super::data_dir;
use crate::store::IdleStamp;

const HEADER: &str = "oms-channels idle stamp 1";

/// Longest stamp file read: a stamp is under 100 bytes.
const MAX_BYTES: u64 = 512;

/// Where one account's stamp lives, next to its database.
#[derive(Clone, Debug)]
pub(super) struct StampFile {
    pub(super) path: PathBuf,
    pub(super) db: PathBuf,
}

impl StampFile {
    pub(super) fn of(db: &Path) -> StampFile {
        StampFile {
            path: db.with_extension("idle"),
            db: db.to_path_buf(),
        }
    }

    fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        }
    }

    /// The stamp, if there is one that can be read and belongs to the
    /// database there now.
    pub(super) fn read(&self) -> Option<IdleStamp> {
        let mut text = String::new();
        data_dir::open_read_no_follow(&self.path)
            .ok()?
            .take(MAX_BYTES)
            .read_to_string(&mut text)
            .ok()?;
        let (stamp, store) = parse(&text)?;
        (store_identity(&self.db).ok()? == store).then_some(stamp)
    }

    /// Removes the stamp; when there was one, syncs the directory so the
    /// removal is on disk before the caller's commit is.
    pub(super) fn remove(&self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Ok(()) => fs::File::open(self.dir())?.sync_all(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Writes the stamp (into a temporary file, renamed over the old one,
    /// never through a link).
    pub(super) fn write(&self, stamp: &IdleStamp) -> io::Result<()> {
        let text = render(stamp, store_identity(&self.db)?);
        let temporary = data_dir::with_suffix(&self.path, ".tmp");
        let fd = rustix::fs::open(
            &temporary,
            OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::RUSR | Mode::WUSR,
        )?;
        fs::File::from(fd).write_all(text.as_bytes())?;
        fs::rename(&temporary, &self.path)
    }
}

/// The database file's device and inode (never through a link).
fn store_identity(db: &Path) -> io::Result<(u64, u64)> {
    let meta = fs::symlink_metadata(db)?;
    if !meta.file_type().is_file() {
        return Err(io::Error::other("the store is not a regular file"));
    }
    Ok((meta.dev(), meta.ino()))
}

fn render(stamp: &IdleStamp, (dev, ino): (u64, u64)) -> String {
    let next_due = stamp
        .next_due
        .map_or_else(|| "never".to_string(), |t| t.as_millisecond().to_string());
    format!(
        "{HEADER}\ninputs {:016x}\nstore {dev}:{ino}\nnext-due {next_due}\n",
        stamp.inputs
    )
}

fn parse(text: &str) -> Option<(IdleStamp, (u64, u64))> {
    let mut lines = text.lines();
    if lines.next()? != HEADER {
        return None;
    }
    let mut field = |name: &str| {
        lines
            .next()
            .and_then(|line| line.strip_prefix(name))
            .and_then(|rest| rest.strip_prefix(' '))
    };
    let inputs = u64::from_str_radix(field("inputs")?, 16).ok()?;
    let (dev, ino) = field("store")?.split_once(':')?;
    let store = (dev.parse().ok()?, ino.parse().ok()?);
    let next_due = match field("next-due")? {
        "never" => None,
        ms => Some(jiff::Timestamp::from_millisecond(ms.parse().ok()?).ok()?),
    };
    Some((IdleStamp { inputs, next_due }, store))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_reads_back_only_for_its_own_store() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("acme.db");
        fs::write(&db, b"").unwrap();
        let file = StampFile::of(&db);
        assert_eq!(file.path, dir.path().join("acme.idle"));
        assert_eq!(file.read(), None);
        file.remove().unwrap();

        let stamp = IdleStamp {
            inputs: 0xdead_beef,
            next_due: Some("2026-12-07T10:15:00Z".parse().unwrap()),
        };
        file.write(&stamp).unwrap();
        assert_eq!(file.read(), Some(stamp));
        let never = IdleStamp {
            next_due: None,
            ..stamp
        };
        file.write(&never).unwrap();
        assert_eq!(file.read(), Some(never));

        // Another database file in its place (restored, recreated): void.
        fs::remove_file(&db).unwrap();
        fs::write(&db, b"").unwrap();
        let other = dir.path().join("other.db");
        fs::write(&other, b"").unwrap();
        if store_identity(&db).unwrap() != store_identity(&other).unwrap() {
            fs::rename(&other, &db).unwrap();
            assert_eq!(file.read(), None);
        }
        fs::remove_file(&db).unwrap();
        assert_eq!(file.read(), None, "no store, no stamp");

        file.remove().unwrap();
        assert!(!file.path.exists());
    }

    #[test]
    fn anything_but_a_well_formed_stamp_is_no_stamp() {
        let good = render(
            &IdleStamp {
                inputs: 1,
                next_due: None,
            },
            (1, 2),
        );
        assert!(parse(&good).is_some());
        for bad in [
            "",
            "oms-channels idle stamp 2\ninputs 1\nstore 1:2\nnext-due never\n",
            &good.replace("inputs", "input"),
            &good.replace("1:2", "1-2"),
            &good.replace("never", "soon"),
            &good.replace("inputs 0000000000000001", "inputs zz"),
            &good[..good.len() - 15],
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_link_in_place_of_the_stamp_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("acme.db");
        fs::write(&db, b"").unwrap();
        let file = StampFile::of(&db);
        let planted = dir.path().join("planted");
        fs::write(
            &planted,
            render(
                &IdleStamp {
                    inputs: 1,
                    next_due: None,
                },
                store_identity(&db).unwrap(),
            ),
        )
        .unwrap();
        std::os::unix::fs::symlink(&planted, &file.path).unwrap();
        assert_eq!(file.read(), None);
        // Nor written through: the temporary file is a link too.
        std::os::unix::fs::symlink(&planted, data_dir::with_suffix(&file.path, ".tmp")).unwrap();
        assert!(
            file.write(&IdleStamp {
                inputs: 2,
                next_due: None
            })
            .is_err()
        );
        assert!(
            fs::read_to_string(&planted)
                .unwrap()
                .contains("inputs 0000000000000001")
        );
    }
}
