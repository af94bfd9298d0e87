//! End-to-end tests of `seedship drive` and `seedship keygen` on real directories, running the
//! real binary (and killing it with SIGKILL for the crash test).

use seedship_drive::{FileStatus, ImportSet};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_seedship");
const PASSPHRASE: &str = "test passphrase, not secret";
/// Range size plus nonce and tag: the largest torn write a kill can leave.
const RANGE_STORED: u64 = (4 << 20) + 40;

fn seedship(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--json")
        .args(args)
        .env("SEEDSHIP_DRIVE_PASSPHRASE", PASSPHRASE);
    cmd
}

fn run(args: &[&str]) -> Output {
    seedship(args).output().expect("run seedship")
}

/// The last JSON line on stdout.
fn last_json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no stdout; stderr: {}", String::from_utf8_lossy(&out.stderr)));
    serde_json::from_str(line).expect("JSON line")
}

fn ok(out: Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "seedship failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    last_json(&out)
}

/// A tiny deterministic generator (xorshift64*), so a failing run can be replayed by its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// `base` plus up to `spread` random bytes.
    fn sized(&mut self, base: usize, spread: u64) -> Vec<u8> {
        let len = base + self.below(spread) as usize;
        self.bytes(len)
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

fn seed() -> u64 {
    let seed = std::env::var("SEEDSHIP_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    eprintln!("SEEDSHIP_TEST_SEED={seed}");
    seed
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, data).expect("write");
}

/// Every regular file below `root`, by relative path.
fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("prefix").to_path_buf();
                out.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Data files of all drives with their lengths (safe to call while seedship is writing:
/// entries that vanish meanwhile are skipped).
/// Ranges the journal has recorded so far (0 while it cannot be read).
fn recorded_ranges(journal: &Path) -> u64 {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    rusqlite::Connection::open_with_flags(journal, flags)
        .and_then(|db| db.query_row("SELECT count(*) FROM ranges", [], |row| row.get(0)))
        .unwrap_or(0)
}

fn data_files(drives: &[PathBuf]) -> Vec<(PathBuf, u64)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "dat") {
                out.push((path, meta.len()));
            }
        }
    }
    let mut out = Vec::new();
    for d in drives {
        walk(d, &mut out);
    }
    out.sort();
    out
}

fn keygen(dir: &Path) -> (PathBuf, PathBuf) {
    let prefix = dir.join("service");
    let doc = ok(run(&["keygen", "--out", prefix.to_str().expect("utf8")]));
    let secret = PathBuf::from(doc["private_key_file"].as_str().expect("private key"));
    let public = PathBuf::from(doc["public_key_file"].as_str().expect("public key"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&secret).expect("key").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "private key must be 0600");
    (secret, public)
}

struct Setup {
    _tmp: tempfile::TempDir,
    src: PathBuf,
    drives: Vec<PathBuf>,
    journals: Vec<PathBuf>,
    secret: PathBuf,
    public: PathBuf,
}

fn setup(drive_count: usize) -> Setup {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).expect("src");
    let mut drives = Vec::new();
    let mut journals = Vec::new();
    for i in 1..=drive_count {
        let d = tmp.path().join(format!("drive{i}"));
        std::fs::create_dir(&d).expect("drive");
        drives.push(d);
        journals.push(tmp.path().join(format!("drive{i}.jrn")));
    }
    let (secret, public) = keygen(tmp.path());
    Setup {
        _tmp: tmp,
        src,
        drives,
        journals,
        secret,
        public,
    }
}

impl Setup {
    /// `drive verify` of the first drive against its journal, unwrapping with `identity`.
    fn verify_first_with(&self, identity: &str) -> Output {
        run(&[
            "drive",
            "verify",
            "--journal",
            self.journals[0].to_str().expect("utf8"),
            "--drive",
            self.drives[0].to_str().expect("utf8"),
            "--identity",
            identity,
        ])
    }

    fn prepare_args(&self, session: &str, capacity: Option<u64>) -> Vec<String> {
        let mut args: Vec<String> = [
            "drive",
            "prepare",
            "--session",
            session,
            "--dstdir",
            "seeds/machine-1",
            "--encrypt",
            "--not-a-mount-point",
        ]
        .map(String::from)
        .to_vec();
        args.extend(["--srcdir".into(), self.src.display().to_string()]);
        args.extend(["--service-key".into(), self.public.display().to_string()]);
        for (d, j) in self.drives.iter().zip(&self.journals) {
            args.extend(["--drive".into(), d.display().to_string()]);
            args.extend(["--journal".into(), j.display().to_string()]);
        }
        if let Some(c) = capacity {
            args.extend(["--capacity".into(), c.to_string()]);
        }
        args
    }

    fn journal_args(&self, cmd: &str) -> Vec<String> {
        let mut args = vec!["drive".to_string(), cmd.to_string()];
        for j in &self.journals {
            args.extend(["--journal".into(), j.display().to_string()]);
        }
        args
    }

    fn verify(&self, i: usize) -> Output {
        run(&[
            "drive",
            "verify",
            "--journal",
            self.journals[i].to_str().expect("utf8"),
            "--drive",
            self.drives[i].to_str().expect("utf8"),
        ])
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Acceptance: several thousand files (and one larger than a drive) onto 3 drives; the
/// reader, given only the journals, the drives and the service's private key, reproduces
/// the source bit-exact.
#[test]
fn round_trip_three_drives_reader_reproduces_source() {
    let s = setup(3);
    let mut rng = Rng(seed());
    for dir in 0..30 {
        for f in 0..100 {
            let data = if f % 17 == 0 {
                Vec::new()
            } else {
                rng.sized(0, 4000)
            };
            write(&s.src.join(format!("d{dir:02}/f{f:03}.bin")), &data);
        }
    }
    let capacity: u64 = 18 << 20;
    let big = 28 << 20;
    assert!(big > capacity);
    write(&s.src.join("d14/zz-big.bin"), &rng.bytes(big as usize));
    let summary = ok(run(&strs(&s.prepare_args("roundtrip#1", Some(capacity)))));
    let drives = summary["summary"]["drives"].as_array().expect("drives");
    assert_eq!(drives.len(), 3, "the source needs all three drives");
    for (i, drive) in drives.iter().enumerate() {
        assert!(drive["segments"].as_u64().expect("segments") > 0);
        assert!(drive["stored_bytes"].as_u64().expect("stored") <= capacity);
        ok(s.verify(i));
    }
    // The import side: only journals, drives and the service's private key.
    let identity = seedship_drive::read_identity(&s.secret).expect("identity");
    let pairs: Vec<_> = s.journals.iter().cloned().zip(s.drives.iter().cloned()).collect();
    let set = ImportSet::open(&pairs, &identity).expect("open set");
    let out = s._tmp.path().join("restored");
    for file in set.files() {
        assert!(file.complete, "{} incomplete", file.path.display());
        let path = out.join(&file.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let mut sink = std::fs::File::create(&path).expect("create");
        let check = set.read_file(file, &mut sink).expect("read file");
        assert_eq!(check.status, FileStatus::Ok, "{}", file.path.display());
        assert!(file.dst.starts_with("seeds/machine-1/"));
    }
    let big_file = set
        .files()
        .iter()
        .find(|f| f.path.ends_with("zz-big.bin"))
        .expect("big file listed");
    let mut sink = Vec::new();
    let check = set.read_file(big_file, &mut sink).expect("big");
    assert_eq!(check.segments.len(), 3, "the big file spans all three drives");
    let source = tree(&s.src);
    assert_eq!(source.len(), 3001);
    assert!(tree(&out) == source, "restored tree differs from the source");
    // A wrong key opens nothing.
    let stranger = seedship_drive::Identity::generate().expect("key");
    assert!(matches!(
        ImportSet::open(&pairs, &stranger),
        Err(seedship_drive::Error::WrongKey)
    ));
}

/// Acceptance: kill -9 the prepare process at 20 random moments during copying; after
/// each, resume completes, verify passes, and the bytes copied again stay below 1% of the
/// total plus one range.
#[test]
fn crash_at_random_moments_resume_and_verify() {
    let mut rng = Rng(seed());
    let s = setup(2);
    for f in 0..40 {
        write(
            &s.src.join(format!("pack/{f:02}")),
            &rng.sized(1_500_000, 500_000),
        );
    }
    for f in 0..4 {
        write(
            &s.src.join(format!("large/{f}")),
            &rng.sized(5_000_000, 4_000_000),
        );
    }
    for f in 0..200 {
        write(&s.src.join(format!("index/{f:03}")), &rng.sized(0, 3000));
    }
    let capacity = 60 << 20; // the set spans both drives
    let args = s.prepare_args("crash-test", Some(capacity));
    let fresh = |s: &Setup| {
        for (d, j) in s.drives.iter().zip(&s.journals) {
            std::fs::remove_dir_all(d).expect("rm drive");
            std::fs::create_dir(d).expect("mk drive");
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", j.display()));
            }
        }
    };
    // One uninterrupted run: how many bytes the set stores.
    let started = Instant::now();
    let full = ok(run(&strs(&args)));
    let total = full["summary"]["stored_bytes"].as_u64().expect("stored");
    let copy_secs = full["summary"]["seconds"].as_f64().expect("seconds");
    eprintln!(
        "uninterrupted: {total} bytes in {copy_secs:.2}s copying, {:.2}s overall",
        started.elapsed().as_secs_f64()
    );
    let mut kills = 0;
    let mut attempts = 0;
    let mut skipped_total = 0;
    let mut adopted_total = 0;
    // At least 20 kills, and on until both ways of keeping earlier work were exercised: ranges
    // the journal recorded (skipped), and whole ranges written after the last checkpoint,
    // adopted after authentication.
    while kills < 20 || skipped_total == 0 || adopted_total == 0 {
        attempts += 1;
        assert!(
            attempts <= 100,
            "could not land 20 kills during copying, after a checkpoint (skipped {skipped_total}) and before one (adopted {adopted_total})"
        );
        fresh(&s);
        let mut child = seedship(&strs(&args))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        // Kill once the data files hold a random share of the set: where a kill lands then
        // follows the copy's progress, however fast this machine runs it at the moment. Every
        // other kill waits for a checkpoint in a journal first: when the syncer records one
        // depends on how long syncing takes, which other work on the machine stretches.
        let after_checkpoint = attempts % 2 == 0;
        let target = rng.below(total);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut finished = false;
        loop {
            if child.try_wait().expect("try_wait").is_some() {
                finished = true;
                break;
            }
            let stored: u64 = data_files(&s.drives).iter().map(|(_, len)| len).sum();
            let ready = if after_checkpoint {
                s.journals.iter().any(|j| recorded_ranges(j) > 0)
            } else {
                stored >= target
            };
            if ready || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if finished {
            continue; // finished before the kill: not a kill during copying, try again
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let on_drive: u64 = data_files(&s.drives).iter().map(|(_, len)| len).sum();
        let out = run(&strs(&s.journal_args("resume")));
        let doc = ok(out)["summary"].clone();
        if doc["drives"].as_array().expect("drives").is_empty() {
            // Killed after the last drive was complete (closing up): not during copying.
            continue;
        }
        kills += 1;
        let written = doc["bytes_written"].as_u64().expect("written");
        let skipped = doc["bytes_skipped"].as_u64().expect("skipped");
        let adopted = doc["bytes_adopted"].as_u64().expect("adopted");
        let discarded = doc["bytes_discarded"].as_u64().expect("discarded");
        let done_before: u64 = doc["drives"]
            .as_array()
            .expect("drives")
            .iter()
            .map(|d| d["stored_bytes"].as_u64().expect("stored"))
            .sum();
        // Drives whose session was already complete are not in the resume summary.
        let untouched = total - done_before;
        assert_eq!(
            skipped + adopted + written + untouched,
            total,
            "counters add up: {doc:#}"
        );
        // Bytes on the drives before resume that resume wrote again, measured against the
        // data files' sizes on disk, not taken from the tool's own counters.
        let rewritten = (written + on_drive).saturating_sub(total);
        let bound = total / 100 + RANGE_STORED;
        eprintln!(
            "kill {kills} (after a checkpoint: {after_checkpoint}, else at {target} bytes): on drive {on_drive}, written {written}, skipped {skipped}, adopted {adopted}, discarded {discarded}, rewritten {rewritten}"
        );
        assert!(written + on_drive >= total, "resume wrote less than was missing");
        assert!(rewritten < bound, "copied again {rewritten} bytes, bound {bound}");
        assert_eq!(
            rewritten, discarded,
            "the tool's discarded counter matches the disk"
        );
        skipped_total += skipped;
        adopted_total += adopted;
        for i in 0..2 {
            let v = ok(s.verify(i));
            assert_eq!(v["ok"], true);
        }
    }
    // The last resumed set still reads back bit-exact.
    let identity = seedship_drive::read_identity(&s.secret).expect("identity");
    let pairs: Vec<_> = s.journals.iter().cloned().zip(s.drives.iter().cloned()).collect();
    let set = ImportSet::open(&pairs, &identity).expect("open");
    let source = tree(&s.src);
    assert_eq!(set.files().len(), source.len());
    for file in set.files() {
        let mut data = Vec::new();
        assert_eq!(
            set.read_file(file, &mut data).expect("read").status,
            FileStatus::Ok
        );
        assert!(source[&file.path] == data, "{} differs", file.path.display());
    }
}

/// Acceptance: flip a byte in one data file, truncate another, delete a third: verify names
/// exactly those, with their ranges, and exits with 20.
#[test]
fn tampering_is_reported_with_ranges() {
    let s = setup(1);
    let mut rng = Rng(seed());
    let mib = 1 << 20;
    write(&s.src.join("a/flipped"), &rng.bytes(10 * mib));
    write(&s.src.join("b/truncated"), &rng.bytes(11 * mib));
    write(&s.src.join("c/deleted"), &rng.bytes(9 * mib));
    for f in 0..20 {
        write(&s.src.join(format!("d/small{f}")), &rng.sized(0, 10_000));
    }
    ok(run(&strs(&s.prepare_args("tamper", None))));
    assert_eq!(ok(s.verify(0))["ok"], true);
    let files = data_files(&s.drives);
    let by_len = |len: u64| {
        files
            .iter()
            .find(|(_, l)| *l == len + 3 * 40)
            .map(|(p, _)| p.clone())
            .expect("data file of that size")
    };
    let flipped = by_len(10 * mib as u64);
    let truncated = by_len(11 * mib as u64);
    let deleted = by_len(9 * mib as u64);
    let mut bytes = std::fs::read(&flipped).expect("read");
    let at = RANGE_STORED as usize + 1000; // inside range 1
    bytes[at] ^= 0x01;
    std::fs::write(&flipped, bytes).expect("flip");
    let cut = RANGE_STORED + 12345; // inside range 1
    std::fs::OpenOptions::new()
        .write(true)
        .open(&truncated)
        .and_then(|f| f.set_len(cut))
        .expect("truncate");
    std::fs::remove_file(&deleted).expect("delete");

    let out = s.verify(0);
    assert_eq!(
        out.status.code(),
        Some(20),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = last_json(&out);
    assert_eq!(doc["ok"], false);
    let problems = doc["report"]["sessions"][0]["problems"]
        .as_array()
        .expect("problems")
        .clone();
    assert_eq!(
        problems.len(),
        3,
        "exactly the three tampered files: {problems:#?}"
    );
    let find = |p: &Path| {
        problems
            .iter()
            .find(|x| x["drive_file"].as_str() == p.to_str())
            .unwrap_or_else(|| panic!("{} not reported", p.display()))
            .clone()
    };
    let ranges = |x: &serde_json::Value| -> Vec<(u64, String)> {
        x["bad_ranges"]
            .as_array()
            .expect("ranges")
            .iter()
            .map(|r| {
                (
                    r["index"].as_u64().expect("index"),
                    r["status"].as_str().expect("status").to_owned(),
                )
            })
            .collect()
    };
    let f = find(&flipped);
    assert_eq!(f["status"], "changed");
    assert_eq!(f["path"], "a/flipped");
    assert_eq!(ranges(&f), vec![(1, "changed".to_owned())]);
    let t = find(&truncated);
    assert_eq!(t["status"], "truncated");
    assert_eq!(t["path"], "b/truncated");
    assert_eq!(t["found_len"], cut);
    assert_eq!(
        ranges(&t),
        vec![(1, "truncated".to_owned()), (2, "missing".to_owned())]
    );
    let d = find(&deleted);
    assert_eq!(d["status"], "missing");
    assert_eq!(d["path"], "c/deleted");
    assert_eq!(
        ranges(&d),
        vec![
            (0, "missing".to_owned()),
            (1, "missing".to_owned()),
            (2, "missing".to_owned())
        ]
    );
    // The import reader sees the same damage and writes zeros for bad ranges.
    let identity = seedship_drive::read_identity(&s.secret).expect("identity");
    let set = ImportSet::open(&[(s.journals[0].clone(), s.drives[0].clone())], &identity).expect("open");
    let bad: Vec<_> = set
        .files()
        .iter()
        .filter(|f| set.read_file(f, &mut std::io::sink()).expect("read").status != FileStatus::Ok)
        .map(|f| f.path.display().to_string())
        .collect();
    assert_eq!(bad, ["a/flipped", "b/truncated", "c/deleted"]);
}

/// Runs a prepare that must fail: checks the exit code, that the error names the problem,
/// and that nothing was written (drive empty, no journal).
fn refused(s: &Setup, args: &[String], code: i32, needle: &str) {
    let out = run(&strs(args));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    let err: serde_json::Value =
        serde_json::from_str(stderr.lines().last().expect("error line")).expect("JSON error");
    let message = err["message"].as_str().expect("message");
    assert!(message.contains(needle), "{message:?} should mention {needle:?}");
    assert!(!message.contains('\n'), "one-line error");
    for d in &s.drives {
        if d.is_dir() && d.starts_with(s._tmp.path()) {
            assert_eq!(
                std::fs::read_dir(d).expect("drive").count(),
                0,
                "{} not empty",
                d.display()
            );
        }
    }
    for j in &s.journals {
        assert!(!j.exists(), "journal {} was written", j.display());
    }
}

fn replace(args: &[String], flag: &str, value: &str) -> Vec<String> {
    let mut out = args.to_vec();
    let i = out.iter().position(|a| a == flag).expect("flag");
    out[i + 1] = value.into();
    out
}

/// Acceptance: each bad input gives a precise error and writes nothing.
#[test]
fn bad_input_is_refused_before_writing() {
    let mut s = setup(1);
    write(&s.src.join("ok.bin"), &[7u8; 1024]);
    write(&s.src.join("odd.bin"), &[7u8; 1000]);
    write(&s.src.join("big.bin"), &vec![9u8; 6 << 20]);
    let args = s.prepare_args("bad-input", None);

    // Journal on the target drive.
    let on_drive = s.drives[0].join("drive.jrn");
    refused(
        &s,
        &replace(&args, "--journal", on_drive.to_str().expect("utf8")),
        1,
        "lies on target drive",
    );
    // Bad session ids.
    refused(&s, &replace(&args, "--session", "ab"), 1, "bad session id \"ab\"");
    refused(&s, &replace(&args, "--session", "has space"), 1, "bad session id");
    // --format without --encrypt.
    let mut no_encrypt: Vec<String> = args.iter().filter(|a| *a != "--encrypt").cloned().collect();
    no_encrypt.extend(["--format".into(), "--yes".into()]);
    refused(&s, &no_encrypt, 1, "--format requires --encrypt");
    // Both --encrypt and --existing-key.
    let mut both = args.clone();
    both.extend([
        "--existing-key".into(),
        s.journals[0].display().to_string() + ".old",
    ]);
    refused(&s, &both, 1, "--encrypt and --existing-key exclude each other");
    // Page blobs: refused, naming the file, never written as block blobs.
    let mut page = args.clone();
    page.extend(["--blob-type".into(), "page".into()]);
    refused(
        &s,
        &page,
        1,
        "big.bin: page blobs are not supported (the import writes block blobs only)",
    );
    // Source missing.
    let missing = s.src.join("nope");
    refused(
        &s,
        &replace(&args, "--srcdir", missing.to_str().expect("utf8")),
        10,
        "does not exist",
    );
    // A drive inside the source (the copy would copy itself; --format would wipe it).
    let parent = s._tmp.path().to_str().expect("utf8").to_owned();
    refused(
        &s,
        &replace(&args, "--srcdir", &parent),
        1,
        "overlap; a drive must lie outside every source",
    );
    // Drive not writable: a path that is a file, and a directory even root cannot write to
    // (sysfs refuses new files with EACCES for every user).
    let file_drive = s._tmp.path().join("a-file");
    std::fs::write(&file_drive, b"x").expect("file");
    refused(
        &s,
        &replace(&args, "--drive", file_drive.to_str().expect("utf8")),
        1,
        "is not a directory",
    );
    refused(
        &s,
        &replace(&args, "--drive", "/sys/kernel"),
        1,
        "drive /sys/kernel is not writable",
    );
    // Too little total capacity.
    let mut small = args.clone();
    // A size with a suffix: M is 2^20, whatever the spelling.
    small.extend(["--capacity".into(), "6M".into()]);
    refused(&s, &small, 1, "the source needs 2 drive(s) of 6291456 bytes");
    refused(
        &s,
        &replace(&small, "--capacity", "6MB"),
        1,
        "the source needs 2 drive(s) of 6291456 bytes",
    );
    // A size that does not parse is a usage error naming it; nothing is written.
    let out = run(&strs(&replace(&small, "--capacity", "6X")));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // stderr is the JSON exit_error line: the quotes around the size are escaped
    assert!(stderr.contains(r#"size \"6X\" has an unknown unit"#), "{stderr}");
    for d in &s.drives {
        if d.is_dir() && d.starts_with(s._tmp.path()) {
            assert_eq!(std::fs::read_dir(d).expect("drive").count(), 0);
        }
    }
    // A malformed CSV line, named.
    let csv = s._tmp.path().join("dataset.csv");
    std::fs::write(
        &csv,
        format!(
            "BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile\n{src}/,seeds/a,BlockBlob,rename,,\n{src}/,seeds/b,FloppyBlob,rename,,\n",
            src = s.src.display()
        ),
    )
    .expect("csv");
    let mut with_csv: Vec<String> = Vec::new();
    let mut skip = false;
    for a in &args {
        if skip {
            skip = false;
            continue;
        }
        if a == "--srcdir" || a == "--dstdir" {
            skip = true;
            continue;
        }
        with_csv.push(a.clone());
    }
    with_csv.extend(["--dataset".into(), csv.display().to_string()]);
    refused(
        &s,
        &with_csv,
        1,
        "line 3: BlobType \"floppyblob\" is not BlockBlob or PageBlob",
    );
    // Missing passphrase.
    let out = Command::new(BIN)
        .arg("--json")
        .args(strs(&args))
        .env_remove("SEEDSHIP_DRIVE_PASSPHRASE")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SEEDSHIP_DRIVE_PASSPHRASE"));
    // --format without --yes and no terminal: refused before wiping.
    std::fs::write(s.drives[0].join("keep.txt"), b"precious").expect("keep");
    let mut format = args.clone();
    format.push("--format".into());
    let out = run(&strs(&format));
    assert_eq!(out.status.code(), Some(2), "a missing --yes is a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("confirm on a terminal or pass --yes"));
    assert!(
        s.drives[0].join("keep.txt").exists(),
        "drive wiped without confirmation"
    );
    // --yes is not enough for a directory that holds files but is no seedship drive: refused
    // as a usage error naming the flag and what would be erased (1 file, 8 bytes).
    format.push("--yes".into());
    let out = run(&strs(&format));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Erase 1 file(s), 8 bytes")
            && stderr.contains("confirm on a terminal or pass --erase-existing-files"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(s.drives[0].join("keep.txt")).expect("keep.txt"),
        b"precious"
    );
    for j in &s.journals {
        assert!(!j.exists(), "journal {} was written", j.display());
    }
    // And the good request, with --format --yes --erase-existing-files, wipes and succeeds.
    format.push("--erase-existing-files".into());
    ok(run(&strs(&format)));
    assert!(!s.drives[0].join("keep.txt").exists());
    assert_eq!(ok(s.verify(0))["ok"], true);
    s.journals.clear();
}

/// A second session on the same drive, abort of the last session, and a wrong passphrase.
#[test]
fn sessions_abort_and_wrong_passphrase() {
    let s = setup(1);
    write(&s.src.join("one"), &[1u8; 5000]);
    let recovery = s._tmp.path().join("recovery");
    ok(run(&["keygen", "--out", recovery.to_str().expect("utf8")]));
    let mut first = s.prepare_args("first", None);
    first.extend(["--recovery-key".into(), format!("{}.pub", recovery.display())]);
    ok(run(&strs(&first)));
    // The user's recovery key unwraps the drive key too.
    let recovery_key = format!("{}.key", recovery.display());
    let v = ok(s.verify_first_with(&recovery_key));
    assert_eq!(v["ok"], true);
    // A second session reuses the journal's key: no --encrypt.
    let second: Vec<String> = s
        .prepare_args("second", None)
        .into_iter()
        .filter(|a| a != "--encrypt")
        .collect();
    ok(run(&strs(&second)));
    assert!(s.drives[0].join("second").is_dir());
    let aborted = ok(run(&strs(&s.journal_args("abort"))));
    assert_eq!(aborted["aborted"]["session_id"], "second");
    assert!(!s.drives[0].join("second").exists());
    assert!(s.drives[0].join("first").is_dir());
    let v = ok(s.verify(0));
    assert_eq!(v["report"]["sessions"].as_array().expect("sessions").len(), 1);
    // The same id can be used again after the abort.
    ok(run(&strs(&second)));
    // A wrong passphrase cannot unwrap the key: exit 12.
    let out = Command::new(BIN)
        .args(["--json", "drive", "verify", "--journal"])
        .arg(&s.journals[0])
        .arg("--drive")
        .arg(&s.drives[0])
        .env("SEEDSHIP_DRIVE_PASSPHRASE", "wrong")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(12));
    // The service key verifies too.
    let out = s.verify_first_with(s.secret.to_str().expect("utf8"));
    assert_eq!(ok(out)["ok"], true);
    // The journal holds no plaintext key or file name.
    let journal = std::fs::read(&s.journals[0]).expect("journal");
    assert!(
        !journal.windows(3).any(|w| w == b"one"),
        "file name in the journal"
    );
}

/// WAImportExport v2 inputs: a dataset CSV (a directory and a single file with a metadata
/// file) and a driveset CSV (two drives, formatted silently); then `--existing-key` gives
/// a drive a new journal with the key of its first one.
#[test]
fn dataset_and_driveset_csv_and_existing_key() {
    let s = setup(2);
    let mut rng = Rng(seed());
    write(&s.src.join("tree/a"), &rng.sized(1000, 1000));
    write(&s.src.join("tree/sub/b"), &rng.sized(6 << 20, 1000));
    write(&s.src.join("disk.vhd"), &vec![0u8; 4096]);
    let meta = s._tmp.path().join("meta.txt");
    std::fs::write(&meta, b"owner=ops").expect("meta");
    std::fs::write(s.drives[0].join("old-data"), b"wiped by Format").expect("old");
    let dataset = s._tmp.path().join("dataset.csv");
    let write_dataset = |vhd_type: &str| {
        std::fs::write(
            &dataset,
            format!(
                "BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile\n\
                 \"{src}/tree/\",seeds/tree,BlockBlob,rename,,\n\
                 {src}/disk.vhd,vhds/disk.vhd,{vhd_type},overwrite,{meta},\n",
                src = s.src.display(),
                meta = meta.display()
            ),
        )
        .expect("dataset");
    };
    write_dataset("PageBlob");
    let driveset = s._tmp.path().join("driveset.csv");
    std::fs::write(
        &driveset,
        format!(
            "DriveLetter,FormatOption,SilentOrPromptOnFormat,Encryption,ExistingBitLockerKey\n\
             {},Format,SilentMode,Encrypt,\n{},AlreadyFormatted,SilentMode,Encrypt,\n",
            s.drives[0].display(),
            s.drives[1].display()
        ),
    )
    .expect("driveset");
    let mut args: Vec<String> = [
        "drive",
        "prepare",
        "--not-a-mount-point",
        "--session",
        "csv-set",
        "--capacity",
    ]
    .map(String::from)
    .to_vec();
    args.push((6 << 20).to_string());
    args.extend(["--dataset".into(), dataset.display().to_string()]);
    args.extend(["--driveset".into(), driveset.display().to_string()]);
    args.extend(["--service-key".into(), s.public.display().to_string()]);
    for j in &s.journals {
        args.extend(["--journal".into(), j.display().to_string()]);
    }
    args.push("--erase-existing-files".into());
    // A page blob is refused before anything is written, naming the file.
    let page = run(&strs(&args));
    assert_eq!(page.status.code(), Some(1), "{page:?}");
    let stderr = String::from_utf8_lossy(&page.stderr);
    assert!(
        stderr.contains("disk.vhd: page blobs are not supported"),
        "{stderr}"
    );
    assert!(s.drives[0].join("old-data").exists(), "nothing was wiped");
    write_dataset("BlockBlob");
    let summary = ok(run(&strs(&args)));
    assert_eq!(summary["summary"]["drives"].as_array().expect("drives").len(), 2);
    assert!(!s.drives[0].join("old-data").exists(), "Format wiped the drive");
    for i in 0..2 {
        assert_eq!(ok(s.verify(i))["ok"], true);
    }
    let identity = seedship_drive::read_identity(&s.secret).expect("identity");
    let pairs: Vec<_> = s.journals.iter().cloned().zip(s.drives.iter().cloned()).collect();
    let set = ImportSet::open(&pairs, &identity).expect("open");
    let mut names: Vec<_> = set.files().iter().map(|f| f.dst.clone()).collect();
    names.sort();
    assert_eq!(names, ["seeds/tree/a", "seeds/tree/sub/b", "vhds/disk.vhd"]);
    let vhd = set
        .files()
        .iter()
        .find(|f| f.dst == "vhds/disk.vhd")
        .expect("vhd");
    assert_eq!(vhd.blob_type, seedship_drive::BlobType::Block);
    assert_eq!(vhd.disposition, seedship_drive::Disposition::Overwrite);
    assert_eq!(vhd.metadata.as_deref(), Some(&b"owner=ops"[..]));

    // A new journal for drive 1 taking the key of its first journal.
    let second = s._tmp.path().join("drive1-second.jrn");
    std::fs::create_dir_all(s.src.join("more")).expect("more");
    write(&s.src.join("more/c"), b"later");
    let out = run(&[
        "drive",
        "prepare",
        "--not-a-mount-point",
        "--session",
        "later",
        "--srcdir",
        s.src.join("more").to_str().expect("utf8"),
        "--dstdir",
        "seeds/more",
        "--drive",
        s.drives[0].to_str().expect("utf8"),
        "--journal",
        second.to_str().expect("utf8"),
        "--existing-key",
        s.journals[0].to_str().expect("utf8"),
    ]);
    ok(out);
    let v = ok(run(&[
        "drive",
        "verify",
        "--journal",
        second.to_str().expect("utf8"),
        "--drive",
        s.drives[0].to_str().expect("utf8"),
        "--identity",
        s.secret.to_str().expect("utf8"),
    ]));
    assert_eq!(v["ok"], true);
    assert_eq!(v["report"]["sessions"][0]["session_id"], "later");
}
