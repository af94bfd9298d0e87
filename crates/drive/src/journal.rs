//! The per-drive journal: one SQLite database holding the drive id, the wrapped drive key,
//! the sessions on the drive with their sealed plans, and every range made durable.
//! See `docs/design.md`, "Journal schema".

use crate::error::{Error, Result};
use crate::format::{Sealed, WrappedKey};
use crate::fsutil;
use rusqlite::{Connection, OptionalExtension, params};
use seedship_jobs::DeviceInfo;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Value of the `format` row in `meta`.
const JOURNAL_FORMAT: &str = "seedship-journal-1";

const SCHEMA: &str = "
CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE wrapped_keys (
    holder  TEXT PRIMARY KEY CHECK (holder IN ('service', 'recovery', 'passphrase')),
    wrapped BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE sessions (
    seq           INTEGER PRIMARY KEY,
    session_id    TEXT NOT NULL UNIQUE,
    state         TEXT NOT NULL CHECK (state IN ('copying', 'completed')),
    drive_path    TEXT NOT NULL,
    set_id        BLOB NOT NULL,
    drive_index   INTEGER NOT NULL,
    drive_count   INTEGER NOT NULL,
    plan          BLOB NOT NULL,
    segment_count INTEGER NOT NULL,
    stored_bytes  INTEGER NOT NULL,
    manifest_hash BLOB,
    started_at    INTEGER NOT NULL,
    completed_at  INTEGER
);
CREATE TABLE ranges (
    session_seq INTEGER NOT NULL REFERENCES sessions (seq),
    segment     INTEGER NOT NULL,
    idx         INTEGER NOT NULL,
    checksum    BLOB NOT NULL,
    PRIMARY KEY (session_seq, segment, idx)
) WITHOUT ROWID;
CREATE TABLE file_hashes (
    session_seq INTEGER NOT NULL REFERENCES sessions (seq),
    segment     INTEGER NOT NULL,
    sealed_hash BLOB NOT NULL,
    PRIMARY KEY (session_seq, segment)
) WITHOUT ROWID;
";

/// The device behind the drive when a session started. A table of its own, created when
/// first needed, so that journals written before it existed stay valid: a session without a
/// row has no device recorded. Sizes are at most `i64::MAX`.
const DEVICES_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS devices (
    session_seq    INTEGER PRIMARY KEY REFERENCES sessions (seq),
    mount_point    TEXT NOT NULL,
    is_mount_point INTEGER NOT NULL,
    source         TEXT NOT NULL,
    fs_type        TEXT NOT NULL,
    dev            TEXT NOT NULL,
    block_device   TEXT,
    disk           TEXT,
    model          TEXT,
    serial         TEXT,
    device_bytes   INTEGER,
    backing_file   TEXT,
    fs_bytes       INTEGER NOT NULL
);
";

/// Who a wrapped key row is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    Service,
    Recovery,
    Passphrase,
}

impl Holder {
    fn name(self) -> &'static str {
        match self {
            Holder::Service => "service",
            Holder::Recovery => "recovery",
            Holder::Passphrase => "passphrase",
        }
    }
}

/// A session row.
#[derive(Debug, Clone)]
pub(crate) struct SessionRow {
    pub(crate) seq: i64,
    pub(crate) session_id: String,
    pub(crate) completed: bool,
    pub(crate) drive_path: PathBuf,
    pub(crate) set_id: [u8; 16],
    pub(crate) drive_index: u8,
    pub(crate) plan: Sealed,
    pub(crate) manifest_hash: Option<[u8; 32]>,
}

/// A new session to record.
pub(crate) struct NewSession<'a> {
    pub(crate) session_id: &'a str,
    pub(crate) drive_path: &'a Path,
    pub(crate) set_id: [u8; 16],
    pub(crate) drive_index: u8,
    pub(crate) drive_count: u8,
    pub(crate) plan: &'a Sealed,
    pub(crate) segment_count: u64,
    pub(crate) stored_bytes: u64,
    pub(crate) device: Option<&'a DeviceInfo>,
}

/// One range made durable: `(segment, index, checksum)`.
pub(crate) type RangeDone = (u64, u64, [u8; 32]);

/// A session row with its set id, sealed plan and manifest hash still as raw blobs.
type RawSession = (SessionRow, Vec<u8>, Vec<u8>, Option<Vec<u8>>);

/// An open journal.
pub(crate) struct Journal {
    path: PathBuf,
    conn: Connection,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn blob<const N: usize>(path: &Path, what: &str, v: Vec<u8>) -> Result<[u8; N]> {
    <[u8; N]>::try_from(v.as_slice()).map_err(|_| Error::state(path, format!("{what} is not {N} bytes")))
}

impl Journal {
    fn connect(path: &Path) -> Result<Connection> {
        let conn = Connection::open(path).map_err(Error::journal(path))?;
        // A journal may come from someone else (the web page reads uploaded ones at the data
        // centre): its schema must not run functions of ours (views, triggers) nor corrupt
        // the file through writable schema tricks.
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
            .map_err(Error::journal(path))?;
        conn.execute_batch("PRAGMA trusted_schema = OFF; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(Error::journal(path))?;
        Ok(conn)
    }

    /// Builds the journal for `path` under a temporary name, holding the drive id, the
    /// wrapped keys and the first session; [`Journal::install`] then renames it into place,
    /// so a journal never exists half-made. Returns the temporary path.
    pub(crate) fn build(
        path: &Path,
        drive_id: &[u8; 16],
        keys: &[(Holder, WrappedKey)],
        session: &NewSession<'_>,
    ) -> Result<PathBuf> {
        // What a killed earlier build left (its writer is gone) never becomes a journal.
        seedship_durable::remove_dead_temporaries(path).map_err(Error::io(path))?;
        let tmp = seedship_durable::temporary_path(path).map_err(Error::io(path))?;
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&tmp)(e)),
            _ => {}
        }
        {
            let mut journal = Journal {
                path: tmp.clone(),
                conn: Self::connect(&tmp)?,
            };
            let tx = journal.conn.transaction().map_err(Error::journal(&tmp))?;
            tx.execute_batch(SCHEMA).map_err(Error::journal(&tmp))?;
            tx.execute(
                "INSERT INTO meta (name, value) VALUES ('format', ?1), ('drive_id', ?2)",
                params![JOURNAL_FORMAT.as_bytes(), drive_id.as_slice()],
            )
            .map_err(Error::journal(&tmp))?;
            for (holder, wrapped) in keys {
                tx.execute(
                    "INSERT INTO wrapped_keys (holder, wrapped) VALUES (?1, ?2)",
                    params![holder.name(), wrapped.encode()],
                )
                .map_err(Error::journal(&tmp))?;
            }
            tx.commit().map_err(Error::journal(&tmp))?;
            journal.add_session(session)?;
        }
        Ok(tmp)
    }

    /// Renames a journal made by [`Journal::build`] into place and opens it.
    pub(crate) fn install(tmp: &Path, path: &Path) -> Result<Journal> {
        std::fs::rename(tmp, path).map_err(Error::io(path))?;
        fsutil::sync_dir(fsutil::parent(path))?;
        Self::open(path)
    }

    /// Opens an existing journal and checks its format.
    pub(crate) fn open(path: &Path) -> Result<Journal> {
        if !path.is_file() {
            return Err(Error::state(path, "no such journal file"));
        }
        let journal = Journal {
            path: path.into(),
            conn: Self::connect(path)?,
        };
        let format: Option<Vec<u8>> = journal
            .conn
            .query_row("SELECT value FROM meta WHERE name = 'format'", [], |r| r.get(0))
            .optional()
            .map_err(Error::journal(path))?;
        if format.as_deref() != Some(JOURNAL_FORMAT.as_bytes()) {
            return Err(Error::state(path, "not a seedship journal"));
        }
        Ok(journal)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn drive_id(&self) -> Result<[u8; 16]> {
        let v: Vec<u8> = self
            .conn
            .query_row("SELECT value FROM meta WHERE name = 'drive_id'", [], |r| r.get(0))
            .map_err(Error::journal(&self.path))?;
        blob(&self.path, "drive id", v)
    }

    /// Removes the passphrase's wrapping of the drive key, overwriting it where it was stored
    /// (SQLite's secure delete, then a checkpoint that empties the write-ahead log). Returns
    /// whether there was one.
    pub(crate) fn forget_passphrase(&mut self) -> Result<bool> {
        self.conn
            .pragma_update(None, "secure_delete", true)
            .map_err(Error::journal(&self.path))?;
        let removed = self
            .conn
            .execute(
                "DELETE FROM wrapped_keys WHERE holder = ?1",
                [Holder::Passphrase.name()],
            )
            .map_err(Error::journal(&self.path))?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(Error::journal(&self.path))?;
        Ok(removed > 0)
    }

    /// Every wrapping of the drive key, with its holder.
    pub(crate) fn wrapped_keys(&self) -> Result<Vec<(Holder, WrappedKey)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT holder, wrapped FROM wrapped_keys ORDER BY holder")
            .map_err(Error::journal(&self.path))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))
            .map_err(Error::journal(&self.path))?;
        let mut keys = Vec::new();
        for row in rows {
            let (holder, bytes) = row.map_err(Error::journal(&self.path))?;
            let holder = match holder.as_str() {
                "service" => Holder::Service,
                "recovery" => Holder::Recovery,
                _ => Holder::Passphrase,
            };
            keys.push((
                holder,
                WrappedKey::decode(&bytes).map_err(Error::format(&self.path))?,
            ));
        }
        Ok(keys)
    }

    fn add_session(&mut self, s: &NewSession<'_>) -> Result<i64> {
        let tx = self.conn.transaction().map_err(Error::journal(&self.path))?;
        tx.execute(
            "INSERT INTO sessions (session_id, state, drive_path, set_id, drive_index, drive_count, plan,
                                   segment_count, stored_bytes, started_at)
             VALUES (?1, 'copying', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                s.session_id,
                s.drive_path.to_string_lossy(),
                s.set_id.as_slice(),
                s.drive_index,
                s.drive_count,
                s.plan.encode(),
                s.segment_count,
                s.stored_bytes,
                now()
            ],
        )
        .map_err(Error::journal(&self.path))?;
        let seq = tx.last_insert_rowid();
        if let Some(d) = s.device {
            let size = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            tx.execute_batch(DEVICES_SCHEMA)
                .map_err(Error::journal(&self.path))?;
            tx.execute(
                "INSERT INTO devices (session_seq, mount_point, is_mount_point, source, fs_type, dev,
                                      block_device, disk, model, serial, device_bytes, backing_file, fs_bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    seq,
                    d.mount_point,
                    d.is_mount_point,
                    d.source,
                    d.fs_type,
                    d.dev,
                    d.block_device,
                    d.disk,
                    d.model,
                    d.serial,
                    d.device_bytes.map(size),
                    d.backing_file,
                    size(d.fs_bytes),
                ],
            )
            .map_err(Error::journal(&self.path))?;
        }
        tx.commit().map_err(Error::journal(&self.path))?;
        Ok(seq)
    }

    /// The device recorded for session `seq`: `None` for a session that recorded none, and
    /// for every session of a journal written before devices were recorded.
    pub(crate) fn device(&self, seq: i64) -> Result<Option<DeviceInfo>> {
        let has_table = self
            .conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'devices'",
                [],
                |_| Ok(()),
            )
            .optional()
            .map_err(Error::journal(&self.path))?
            .is_some();
        if !has_table {
            return Ok(None);
        }
        let size = |v: i64| u64::try_from(v).unwrap_or(0);
        self.conn
            .query_row(
                "SELECT mount_point, is_mount_point, source, fs_type, dev, block_device, disk, model,
                        serial, device_bytes, backing_file, fs_bytes
                 FROM devices WHERE session_seq = ?1",
                [seq],
                |r| {
                    Ok(DeviceInfo {
                        mount_point: r.get(0)?,
                        is_mount_point: r.get(1)?,
                        source: r.get(2)?,
                        fs_type: r.get(3)?,
                        dev: r.get(4)?,
                        block_device: r.get(5)?,
                        disk: r.get(6)?,
                        model: r.get(7)?,
                        serial: r.get(8)?,
                        device_bytes: r.get::<_, Option<i64>>(9)?.map(size),
                        backing_file: r.get(10)?,
                        fs_bytes: size(r.get(11)?),
                    })
                },
            )
            .optional()
            .map_err(Error::journal(&self.path))
    }

    /// Records a further session on an existing journal.
    pub(crate) fn begin_session(&mut self, s: &NewSession<'_>) -> Result<i64> {
        if self.has_session(s.session_id)? {
            return Err(Error::state(
                &self.path,
                format!("session {} already exists", s.session_id),
            ));
        }
        self.add_session(s)
    }

    pub(crate) fn has_session(&self, session_id: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT 1 FROM sessions WHERE session_id = ?1",
                [session_id],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(Error::journal(&self.path))
    }

    fn row(&self, r: &rusqlite::Row<'_>) -> rusqlite::Result<RawSession> {
        Ok((
            SessionRow {
                seq: r.get(0)?,
                session_id: r.get(1)?,
                completed: r.get::<_, String>(2)? == "completed",
                drive_path: PathBuf::from(r.get::<_, String>(3)?),
                set_id: [0; 16],
                drive_index: r.get(5)?,
                plan: Sealed {
                    nonce: [0; 24],
                    body: Vec::new(),
                },
                manifest_hash: None,
            },
            r.get(4)?,
            r.get(6)?,
            r.get(7)?,
        ))
    }

    /// All sessions, oldest first.
    pub(crate) fn sessions(&self) -> Result<Vec<SessionRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, session_id, state, drive_path, set_id, drive_index, plan, manifest_hash
                 FROM sessions ORDER BY seq",
            )
            .map_err(Error::journal(&self.path))?;
        let rows = stmt
            .query_map([], |r| self.row(r))
            .map_err(Error::journal(&self.path))?;
        let mut out = Vec::new();
        for row in rows {
            let (mut s, set_id, plan, hash) = row.map_err(Error::journal(&self.path))?;
            s.set_id = blob(&self.path, "set id", set_id)?;
            s.plan = Sealed::decode(&plan).map_err(Error::format(&self.path))?;
            s.manifest_hash = hash.map(|h| blob(&self.path, "manifest hash", h)).transpose()?;
            out.push(s);
        }
        Ok(out)
    }

    /// The most recent session, if any.
    pub(crate) fn last_session(&self) -> Result<Option<SessionRow>> {
        Ok(self.sessions()?.pop())
    }

    /// Ranges made durable, per segment, in index order.
    pub(crate) fn done_ranges(&self, seq: i64) -> Result<HashMap<u64, Vec<[u8; 32]>>> {
        let mut stmt = self
            .conn
            .prepare("SELECT segment, idx, checksum FROM ranges WHERE session_seq = ?1 ORDER BY segment, idx")
            .map_err(Error::journal(&self.path))?;
        let rows = stmt
            .query_map([seq], |r| {
                Ok((r.get::<_, u64>(0)?, r.get::<_, u64>(1)?, r.get::<_, Vec<u8>>(2)?))
            })
            .map_err(Error::journal(&self.path))?;
        let mut out: HashMap<u64, Vec<[u8; 32]>> = HashMap::new();
        for row in rows {
            let (segment, idx, checksum) = row.map_err(Error::journal(&self.path))?;
            let list = out.entry(segment).or_default();
            if idx != list.len() as u64 {
                return Err(Error::state(
                    &self.path,
                    format!("segment {segment} has a gap before range {idx}"),
                ));
            }
            list.push(blob(&self.path, "range checksum", checksum)?);
        }
        Ok(out)
    }

    /// Sealed whole-file checksums of completed last segments.
    pub(crate) fn file_hashes(&self, seq: i64) -> Result<HashMap<u64, Sealed>> {
        let mut stmt = self
            .conn
            .prepare("SELECT segment, sealed_hash FROM file_hashes WHERE session_seq = ?1")
            .map_err(Error::journal(&self.path))?;
        let rows = stmt
            .query_map([seq], |r| Ok((r.get::<_, u64>(0)?, r.get::<_, Vec<u8>>(1)?)))
            .map_err(Error::journal(&self.path))?;
        let mut out = HashMap::new();
        for row in rows {
            let (segment, sealed) = row.map_err(Error::journal(&self.path))?;
            out.insert(
                segment,
                Sealed::decode(&sealed).map_err(Error::format(&self.path))?,
            );
        }
        Ok(out)
    }

    /// Records, in one transaction, ranges and file checksums whose data is already durable.
    pub(crate) fn checkpoint(
        &mut self,
        seq: i64,
        ranges: &[RangeDone],
        files: &[(u64, Sealed)],
    ) -> Result<()> {
        let tx = self.conn.transaction().map_err(Error::journal(&self.path))?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO ranges (session_seq, segment, idx, checksum) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(Error::journal(&self.path))?;
            for (segment, idx, checksum) in ranges {
                put.execute(params![seq, segment, idx, checksum.as_slice()])
                    .map_err(Error::journal(&self.path))?;
            }
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO file_hashes (session_seq, segment, sealed_hash) VALUES (?1, ?2, ?3)",
                )
                .map_err(Error::journal(&self.path))?;
            for (segment, sealed) in files {
                put.execute(params![seq, segment, sealed.encode()])
                    .map_err(Error::journal(&self.path))?;
            }
        }
        tx.commit().map_err(Error::journal(&self.path))
    }

    /// Bytes the session stores on the drive, as planned.
    pub(crate) fn stored_bytes(&self, seq: i64) -> Result<u64> {
        self.conn
            .query_row("SELECT stored_bytes FROM sessions WHERE seq = ?1", [seq], |r| {
                r.get(0)
            })
            .map_err(Error::journal(&self.path))
    }

    /// Marks a session completed with the BLAKE3 of its manifest file.
    pub(crate) fn complete(&mut self, seq: i64, manifest_hash: &[u8; 32]) -> Result<()> {
        self.conn
            .execute(
                "UPDATE sessions SET state = 'completed', manifest_hash = ?2, completed_at = ?3 WHERE seq = ?1",
                params![seq, manifest_hash.as_slice(), now()],
            )
            .map(drop)
            .map_err(Error::journal(&self.path))
    }

    /// Forgets a session and everything recorded for it.
    pub(crate) fn delete_session(&mut self, seq: i64) -> Result<()> {
        let tx = self.conn.transaction().map_err(Error::journal(&self.path))?;
        for sql in [
            "DELETE FROM ranges WHERE session_seq = ?1",
            "DELETE FROM file_hashes WHERE session_seq = ?1",
        ] {
            tx.execute(sql, [seq]).map_err(Error::journal(&self.path))?;
        }
        tx.execute_batch(DEVICES_SCHEMA)
            .map_err(Error::journal(&self.path))?;
        tx.execute("DELETE FROM devices WHERE session_seq = ?1", [seq])
            .map_err(Error::journal(&self.path))?;
        tx.execute("DELETE FROM sessions WHERE seq = ?1", [seq])
            .map_err(Error::journal(&self.path))?;
        tx.commit().map_err(Error::journal(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn session<'a>(
        id: &'a str,
        drive: &'a Path,
        plan: &'a Sealed,
        device: Option<&'a DeviceInfo>,
    ) -> NewSession<'a> {
        NewSession {
            session_id: id,
            drive_path: drive,
            set_id: [1; 16],
            drive_index: 1,
            drive_count: 1,
            plan,
            segment_count: 0,
            stored_bytes: 0,
            device,
        }
    }

    /// A journal at `dir/drive.jrn` whose first session `s1` recorded `device`.
    fn journal_with(dir: &Path, device: Option<&DeviceInfo>) -> Journal {
        let path = dir.join("drive.jrn");
        let plan = Sealed {
            nonce: [0; 24],
            body: vec![0; 16],
        };
        let tmp = Journal::build(&path, &[2; 16], &[], &session("s1", dir, &plan, device)).expect("build");
        Journal::install(&tmp, &path).expect("install")
    }

    fn device() -> DeviceInfo {
        DeviceInfo {
            mount_point: "/mnt/d1".into(),
            is_mount_point: true,
            source: "/dev/sdb1".into(),
            fs_type: "ext4".into(),
            dev: "8:17".into(),
            block_device: Some("sdb1".into()),
            disk: Some("sdb".into()),
            model: Some("WDC WD5000".into()),
            serial: None,
            device_bytes: Some(500_107_862_016),
            backing_file: None,
            fs_bytes: 491_000_000_000,
        }
    }

    /// A journal written before devices were recorded (no `devices` table) still reads: its
    /// sessions have no device; a later session records its device, and abort still works.
    #[test]
    fn a_journal_without_the_devices_table_reads_and_takes_a_later_device() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut journal = journal_with(tmp.path(), None);
        let has_table = |j: &Journal| {
            j.conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'devices'",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .expect("query")
        };
        assert_eq!(has_table(&journal), 0, "the schema of earlier journals");
        let first = journal.last_session().expect("sessions").expect("s1").seq;
        assert_eq!(journal.device(first).expect("device"), None);
        let plan = Sealed {
            nonce: [0; 24],
            body: vec![0; 16],
        };
        let device = device();
        let second = journal
            .begin_session(&session("s2", tmp.path(), &plan, Some(&device)))
            .expect("second session");
        assert_eq!(journal.device(second).expect("device"), Some(device));
        assert_eq!(journal.device(first).expect("device"), None);
        journal.delete_session(second).expect("abort");
        assert_eq!(journal.device(second).expect("device"), None);
        // and an earlier journal's session aborts although it never had the table
        let other = tempfile::tempdir().expect("tempdir");
        let mut old = journal_with(other.path(), None);
        let seq = old.last_session().expect("sessions").expect("s1").seq;
        old.delete_session(seq).expect("abort");
    }

    fn text() -> impl Strategy<Value = String> {
        // any characters, quotes and control characters included
        proptest::collection::vec(any::<char>(), 0..40).prop_map(|c| c.into_iter().collect())
    }

    fn arb_device() -> impl Strategy<Value = DeviceInfo> {
        let size = 0..=i64::MAX as u64;
        (
            (text(), any::<bool>(), text(), text(), text()),
            (
                proptest::option::of(text()),
                proptest::option::of(text()),
                proptest::option::of(text()),
                proptest::option::of(text()),
            ),
            (
                proptest::option::of(size.clone()),
                proptest::option::of(text()),
                size,
            ),
        )
            .prop_map(
                |(
                    (mount_point, is_mount_point, source, fs_type, dev),
                    (block_device, disk, model, serial),
                    (device_bytes, backing_file, fs_bytes),
                )| DeviceInfo {
                    mount_point,
                    is_mount_point,
                    source,
                    fs_type,
                    dev,
                    block_device,
                    disk,
                    model,
                    serial,
                    device_bytes,
                    backing_file,
                    fs_bytes,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        /// Whatever the system reports, the journal gives back exactly what it recorded.
        #[test]
        fn a_device_round_trips_through_the_journal(device in arb_device()) {
            let tmp = tempfile::tempdir().expect("tempdir");
            let journal = journal_with(tmp.path(), Some(&device));
            let seq = journal.last_session().expect("sessions").expect("s1").seq;
            prop_assert_eq!(journal.device(seq).expect("device"), Some(device));
        }
    }
}
