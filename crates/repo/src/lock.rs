//! restic's repository locks, so that seedship and restic never run over each other: a
//! `restic prune` does not delete packs a `seedship backup` is writing, and `seedship prune`
//! waits for no one but refuses while restic works.
//!
//! The format is restic's (`doc/design.rst`, "Locks"): a file `locks/<id>` holding the JSON
//! `{"time", "exclusive", "hostname", "username", "pid", "uid", "gid"}` encrypted with the
//! repository's master key like every other file (IV, AES-256-CTR, Poly1305-AES MAC), its id
//! the SHA-256 of the encrypted bytes. restic may write the JSON zstd-compressed (a version
//! byte 2 first); both are read.
//!
//! The rules are restic's too: an exclusive lock (forget, prune) conflicts with every other
//! lock, a shared one (backup, restore, check) only with exclusive ones. A lock older than 30
//! minutes, or one of this host whose process is gone, is stale: it still blocks, as restic's
//! do, and `unlock` removes it (restic's `unlock`; the error says so). A held lock is
//! refreshed every 5 minutes (a new file, then the old one removed) so a long backup never
//! looks stale. After writing its lock a taker looks again, and gives way if a conflicting
//! lock appeared meanwhile (two takers at once both give way, never both go on).

use crate::crypto;
use crate::error::{Error, Result};
use aes256ctr_poly1305aes::Aes256CtrPoly1305Aes;
use rustic_core::repofile::MasterKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The lock files this process holds, by id, so that [`release_held_locks`] can remove them
/// when the process is interrupted (restic removes its locks on Ctrl-C too).
static HELD: std::sync::Mutex<BTreeMap<String, LockStore>> = std::sync::Mutex::new(BTreeMap::new());

fn held() -> std::sync::MutexGuard<'static, BTreeMap<String, LockStore>> {
    HELD.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes every lock file this process holds (best effort), for a process about to end
/// without unwinding, such as on Ctrl-C; answers how many were removed.
pub fn release_held_locks() -> usize {
    let locks = std::mem::take(&mut *held());
    locks
        .into_iter()
        .filter(|(id, store)| store.remove(id).is_ok())
        .count()
}

/// A lock older than this is stale (restic's `staleTimeout`).
const STALE_AFTER: Duration = Duration::from_secs(30 * 60);
/// How often a held lock is written anew (restic's `refreshInterval`).
const REFRESH_EVERY: Duration = Duration::from_secs(5 * 60);
/// How long a taker waits after writing its lock before it looks for conflicting ones again
/// (restic waits as long), so that a lock written at the same moment is seen.
const SETTLE: Duration = Duration::from_millis(200);
/// The largest lock file read: a lock is a few hundred bytes; anything larger is not one.
const MAX_LOCK_FILE: u64 = 64 * 1024;

/// What a lock allows others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// Others may read and add (backup, restore, check), but not delete.
    Shared,
    /// No one else may use the repository (forget, prune).
    Exclusive,
}

/// A lock file's contents, as restic writes them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LockFile {
    #[serde(with = "time::serde::rfc3339")]
    time: OffsetDateTime,
    exclusive: bool,
    hostname: String,
    #[serde(default)]
    username: String,
    pid: u32,
    #[serde(default)]
    uid: u32,
    #[serde(default)]
    gid: u32,
}

impl LockFile {
    fn of_this_process(kind: LockKind) -> Self {
        let (uid, gid) = owner_ids();
        Self {
            time: OffsetDateTime::now_utc(),
            exclusive: kind == LockKind::Exclusive,
            hostname: this_host(),
            username: user_name(uid),
            pid: std::process::id(),
            uid,
            gid,
        }
    }

    /// Whether restic would ignore this lock: too old, or of this host and a process gone.
    fn stale(&self, now: OffsetDateTime) -> bool {
        if now - self.time > STALE_AFTER {
            return true;
        }
        self.hostname == this_host() && !seedship_durable::owner_alive(self.pid)
    }

    fn conflicts_with(&self, kind: LockKind) -> bool {
        self.exclusive || kind == LockKind::Exclusive
    }

    /// "exclusively by PID 42 on host by user (UID 1000, GID 1000), created at ...", and
    /// what to do about a stale lock.
    fn describe(&self, id: &str, now: OffsetDateTime) -> String {
        let stale = if self.stale(now) {
            "; the lock is stale (its process is gone or it is older than 30 minutes): `seedship unlock` removes it"
        } else {
            ""
        };
        format!(
            "{} by PID {} on {} by {} (UID {}, GID {}), created at {} (lock {}){stale}",
            if self.exclusive {
                "exclusively"
            } else {
                "(shared lock)"
            },
            self.pid,
            self.hostname,
            if self.username.is_empty() {
                "?"
            } else {
                &self.username
            },
            self.uid,
            self.gid,
            self.time.format(&Rfc3339).unwrap_or_default(),
            &id[..id.len().min(8)],
        )
    }
}

fn this_host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// The name of user `uid`: `$USER`, else its line in `/etc/passwd` (restic asks the same).
fn user_name(uid: u32) -> String {
    if let Some(user) = std::env::var("USER").ok().filter(|user| !user.is_empty()) {
        return user;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_owned())
        })
        .unwrap_or_default()
}

/// The user and group ids of this process: the owner of its `/proc/self`.
fn owner_ids() -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or((0, 0), |meta| (meta.uid(), meta.gid()))
}

/// Where a repository keeps its lock files: a local directory or restic's REST protocol.
#[derive(Debug, Clone)]
pub(crate) enum LockStore {
    Local(PathBuf),
    Rest(RestLocks),
}

/// The `locks/` of a repository served over restic's REST protocol.
#[derive(Debug, Clone)]
pub(crate) struct RestLocks {
    http: reqwest::blocking::Client,
    /// `http(s)://host:port/path/` without credentials, ending in `/`.
    base: reqwest::Url,
    user: String,
    password: Option<String>,
}

impl RestLocks {
    fn request(&self, method: reqwest::Method, name: &str) -> reqwest::blocking::RequestBuilder {
        let url = self
            .base
            .join(&format!("locks/{name}"))
            .unwrap_or_else(|_| self.base.clone());
        let request = self.http.request(method, url);
        if self.user.is_empty() {
            request
        } else {
            request.basic_auth(&self.user, self.password.as_deref())
        }
    }
}

impl LockStore {
    /// The lock store of a local repository at `root`.
    pub(crate) fn local(root: &str) -> Self {
        Self::Local(PathBuf::from(root).join("locks"))
    }

    /// The lock store of `location` (`rest:http(s)://...`); `ca_cert` names a PEM file trusted
    /// besides the system's roots.
    pub(crate) fn rest(location: &str, ca_cert: Option<&str>) -> Result<Self> {
        let shown = crate::redact_passwords(location);
        let bad = |reason| Error::BadLocation {
            location: shown.clone(),
            reason,
        };
        let url = location.strip_prefix("rest:").unwrap_or(location);
        let mut base = reqwest::Url::parse(url).map_err(|_| bad("not a URL after rest:"))?;
        let user = base.username().to_owned();
        let password = base.password().map(str::to_owned);
        base.set_username("")
            .and_then(|()| base.set_password(None))
            .map_err(|()| bad("a URL that cannot hold credentials"))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let fail = |operation, message: String| Error::Engine {
            location: shown.clone(),
            operation,
            message,
        };
        let mut builder = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(120));
        if let Some(path) = ca_cert {
            let operation = "reading the CA certificate for locks";
            let pem = std::fs::read(path).map_err(|e| fail(operation, format!("{path}: {e}")))?;
            let certificate =
                reqwest::Certificate::from_pem(&pem).map_err(|e| fail(operation, format!("{path}: {e}")))?;
            builder = builder.add_root_certificate(certificate);
        }
        let http = builder
            .build()
            .map_err(|e| fail("setting up the HTTP client for locks", e.to_string()))?;
        Ok(Self::Rest(RestLocks {
            http,
            base,
            user,
            password,
        }))
    }

    /// The ids of every lock file.
    fn list(&self) -> std::io::Result<Vec<String>> {
        let ids = match self {
            Self::Local(dir) => match std::fs::read_dir(dir) {
                Ok(entries) => entries
                    .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                    .collect(),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(err) => return Err(err),
            },
            Self::Rest(rest) => {
                #[derive(Deserialize)]
                struct Entry {
                    name: String,
                }
                let response = rest
                    .request(reqwest::Method::GET, "")
                    .header("Accept", "application/vnd.x.restic.rest.v2")
                    .send()
                    .and_then(reqwest::blocking::Response::error_for_status)
                    .map_err(std::io::Error::other)?;
                let entries: Vec<Entry> = response.json().map_err(std::io::Error::other)?;
                entries.into_iter().map(|entry| entry.name).collect()
            }
        };
        // Only names that are ids: a writer's temporary file is not a lock.
        Ok(ids.into_iter().filter(|id| is_id(id)).collect())
    }

    /// The bytes of lock `id`; `None` if it is gone (removed since the listing).
    fn read(&self, id: &str) -> std::io::Result<Option<Vec<u8>>> {
        use std::io::Read;
        let mut bytes = Vec::new();
        match self {
            Self::Local(dir) => match std::fs::File::open(dir.join(id)) {
                Ok(file) => file.take(MAX_LOCK_FILE).read_to_end(&mut bytes)?,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(err) => return Err(err),
            },
            Self::Rest(rest) => {
                let response = rest
                    .request(reqwest::Method::GET, id)
                    .send()
                    .map_err(std::io::Error::other)?;
                if response.status() == reqwest::StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                let response = response.error_for_status().map_err(std::io::Error::other)?;
                response.take(MAX_LOCK_FILE).read_to_end(&mut bytes)?
            }
        };
        Ok(Some(bytes))
    }

    fn write(&self, id: &str, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Local(dir) => {
                std::fs::create_dir_all(dir)?;
                seedship_durable::write(&dir.join(id), bytes)
            }
            Self::Rest(rest) => rest
                .request(reqwest::Method::POST, id)
                .header("Content-Type", "application/octet-stream")
                .body(bytes.to_vec())
                .send()
                .and_then(reqwest::blocking::Response::error_for_status)
                .map(drop)
                .map_err(std::io::Error::other),
        }
    }

    fn remove(&self, id: &str) -> std::io::Result<()> {
        match self {
            Self::Local(dir) => match std::fs::remove_file(dir.join(id)) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
                _ => Ok(()),
            },
            Self::Rest(rest) => {
                let response = rest
                    .request(reqwest::Method::DELETE, id)
                    .send()
                    .map_err(std::io::Error::other)?;
                if response.status() == reqwest::StatusCode::NOT_FOUND {
                    return Ok(());
                }
                response
                    .error_for_status()
                    .map(drop)
                    .map_err(std::io::Error::other)
            }
        }
    }
}

fn is_id(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Reads a lock file's JSON, zstd-compressed (version byte 2) or not, at most
/// [`MAX_LOCK_FILE`] bytes either way.
fn lock_json(plain: &[u8]) -> Option<LockFile> {
    match plain.first()? {
        b'{' => serde_json::from_slice(plain).ok(),
        2 => {
            use std::io::Read;
            let mut json = Vec::new();
            zstd::Decoder::new(&plain[1..])
                .ok()?
                .take(MAX_LOCK_FILE)
                .read_to_end(&mut json)
                .ok()?;
            serde_json::from_slice(&json).ok()
        }
        _ => None,
    }
}

/// Locks of a repository, with its key.
pub(crate) struct Locks {
    store: LockStore,
    cipher: Aes256CtrPoly1305Aes,
    location: String,
}

impl Locks {
    pub(crate) fn new(store: LockStore, key: &MasterKey, location: &str) -> Self {
        Self {
            store,
            cipher: crypto::cipher(key),
            location: location.to_owned(),
        }
    }

    fn io(&self, operation: &'static str) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |err| Error::Engine {
            location: self.location.clone(),
            operation,
            message: crate::redact_passwords(&err.to_string()),
        }
    }

    /// Every lock file but `own`, read: `(id, lock)`. A file that does not open with this key
    /// or does not parse is left out, as restic leaves it out.
    fn others(&self, own: Option<&str>) -> Result<Vec<(String, LockFile)>> {
        let mut locks = Vec::new();
        for id in self.store.list().map_err(self.io("listing locks"))? {
            if Some(id.as_str()) == own {
                continue;
            }
            let Some(sealed) = self.store.read(&id).map_err(self.io("reading a lock"))? else {
                continue;
            };
            if let Some(lock) = crypto::open(&self.cipher, &sealed).as_deref().and_then(lock_json) {
                locks.push((id, lock));
            }
        }
        Ok(locks)
    }

    /// The first lock other than `own` that conflicts with a lock of `kind`, described.
    fn conflict(&self, kind: LockKind, own: Option<&str>) -> Result<Option<String>> {
        let now = OffsetDateTime::now_utc();
        Ok(self
            .others(own)?
            .into_iter()
            .find(|(_, lock)| lock.conflicts_with(kind))
            .map(|(id, lock)| lock.describe(&id, now)))
    }

    /// Removes the stale locks (`all`: every lock) and answers how many went.
    pub(crate) fn remove(&self, all: bool) -> Result<usize> {
        let now = OffsetDateTime::now_utc();
        let mut removed = 0;
        for (id, lock) in self.others(None)? {
            if all || lock.stale(now) {
                self.store.remove(&id).map_err(self.io("removing a lock"))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Writes a lock of `kind` for this process and answers its id.
    fn write(&self, kind: LockKind) -> Result<String> {
        let json = serde_json::to_vec(&LockFile::of_this_process(kind)).expect("a lock serialises");
        let sealed = crypto::seal(&self.cipher, &json);
        let id = hex(&Sha256::digest(&sealed));
        self.store
            .write(&id, &sealed)
            .map_err(self.io("writing a lock"))?;
        held().insert(id.clone(), self.store.clone());
        Ok(id)
    }

    /// Removes this process's lock `id`.
    fn release(&self, id: &str) -> std::io::Result<()> {
        held().remove(id);
        self.store.remove(id)
    }

    /// Takes a lock of `kind`, or answers [`Error::Locked`] naming the holder of a
    /// conflicting one.
    pub(crate) fn take(self, kind: LockKind) -> Result<LockGuard> {
        let locked = |holder| Error::Locked {
            location: self.location.clone(),
            holder,
        };
        if let Some(holder) = self.conflict(kind, None)? {
            return Err(locked(holder));
        }
        let id = self.write(kind)?;
        std::thread::sleep(SETTLE);
        if let Some(holder) = self.conflict(kind, Some(&id))? {
            self.release(&id).map_err(self.io("removing a lock"))?;
            return Err(locked(holder));
        }
        Ok(LockGuard::hold(self, kind, id))
    }
}

/// A lock held until dropped, refreshed meanwhile on a thread of its own.
pub(crate) struct LockGuard {
    stop: Option<mpsc::Sender<()>>,
    refresher: Option<std::thread::JoinHandle<()>>,
}

impl LockGuard {
    fn hold(locks: Locks, kind: LockKind, mut id: String) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let refresher = std::thread::spawn(move || {
            loop {
                match stopped.recv_timeout(REFRESH_EVERY) {
                    Err(mpsc::RecvTimeoutError::Timeout) => match locks.write(kind) {
                        Ok(new) => {
                            let _ = locks.release(&id);
                            id = new;
                        }
                        // The old lock stays until it is stale; the next refresh tries again.
                        Err(err) => log::warn!("refreshing the repository lock failed: {err}"),
                    },
                    // Dropped (or the guard is gone): the lock goes with it.
                    _ => {
                        if let Err(err) = locks.release(&id) {
                            log::warn!("removing the repository lock {id} failed: {err}");
                        }
                        return;
                    }
                }
            }
        });
        Self {
            stop: Some(stop),
            refresher: Some(refresher),
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(refresher) = self.refresher.take() {
            let _ = refresher.join();
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::new()
    }

    #[test]
    fn restic_lock_json_plain_or_compressed_is_read() {
        let json = br#"{"time":"2026-12-07T05:50:00.123456789+01:00","exclusive":true,"hostname":"h","username":"u","pid":7,"uid":1000,"gid":100}"#;
        let plain = lock_json(json).expect("plain");
        assert!(plain.exclusive);
        let mut compressed = vec![2];
        compressed.extend(zstd::encode_all(&json[..], 3).expect("compress"));
        let unpacked = lock_json(&compressed).expect("compressed");
        assert_eq!(unpacked.pid, 7);
        assert_eq!(unpacked.time, plain.time);
        assert!(lock_json(b"\x03junk").is_none());
        assert!(lock_json(b"").is_none());
    }

    #[test]
    fn old_locks_and_dead_processes_of_this_host_are_stale() {
        let now = OffsetDateTime::now_utc();
        let mut lock = LockFile::of_this_process(LockKind::Shared);
        assert!(!lock.stale(now), "this process's own lock is live");
        lock.time = now - Duration::from_secs(31 * 60);
        assert!(lock.stale(now), "older than 30 minutes");
        lock.time = now;
        lock.pid = u32::MAX;
        assert!(lock.stale(now), "a process that does not exist on this host");
        lock.hostname = "another-host".to_owned();
        assert!(!lock.stale(now), "another host's process cannot be checked");
    }

    #[test]
    fn exclusive_conflicts_with_all_shared_only_with_exclusive() {
        let shared = LockFile::of_this_process(LockKind::Shared);
        let exclusive = LockFile::of_this_process(LockKind::Exclusive);
        assert!(!shared.conflicts_with(LockKind::Shared));
        assert!(shared.conflicts_with(LockKind::Exclusive));
        assert!(exclusive.conflicts_with(LockKind::Shared));
    }

    #[test]
    fn a_held_lock_blocks_a_conflicting_taker_and_goes_when_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = key();
        let root = dir.path().to_str().expect("utf-8");
        let locks = || Locks::new(LockStore::local(root), &key, root);
        let shared = locks().take(LockKind::Shared).expect("shared");
        let second = locks().take(LockKind::Shared).expect("two shared locks coexist");
        match locks().take(LockKind::Exclusive) {
            Err(Error::Locked { holder, .. }) => {
                assert!(holder.starts_with("(shared lock) by PID"), "{holder}")
            }
            other => panic!("expected Locked, got {:?}", other.map(|_| ())),
        }
        drop(shared);
        drop(second);
        assert_eq!(
            std::fs::read_dir(dir.path().join("locks"))
                .expect("locks")
                .count(),
            0
        );
        let exclusive = locks().take(LockKind::Exclusive).expect("free again");
        assert!(matches!(
            locks().take(LockKind::Shared),
            Err(Error::Locked { .. })
        ));
        drop(exclusive);
    }

    #[test]
    fn a_stale_lock_blocks_until_unlock_removes_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = key();
        let root = dir.path().to_str().expect("utf-8");
        let locks = || Locks::new(LockStore::local(root), &key, root);
        let mut dead = LockFile::of_this_process(LockKind::Shared);
        dead.pid = u32::MAX;
        let sealed = crypto::seal(&crypto::cipher(&key), &serde_json::to_vec(&dead).expect("json"));
        locks()
            .store
            .write(&hex(&Sha256::digest(&sealed)), &sealed)
            .expect("write");
        match locks().take(LockKind::Exclusive) {
            Err(Error::Locked { holder, .. }) => assert!(holder.contains("stale"), "{holder}"),
            other => panic!("expected Locked, got {:?}", other.map(|_| ())),
        }
        let live = locks()
            .take(LockKind::Shared)
            .expect("shared beside a stale shared lock");
        assert_eq!(
            locks().remove(false).expect("unlock"),
            1,
            "only the stale lock goes"
        );
        drop(live);
        locks().take(LockKind::Exclusive).expect("free after unlock");
    }
}
