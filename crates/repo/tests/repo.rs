//! Library tests of `seedship-repo` against real directories.

use seedship_progress::{NoProgress, Progress, Task, Unit};
use seedship_repo::{BackupOptions, Error, Repo, RepoConfig, Sources};
use seedship_treecmp::{SampleTree, compare_trees};
use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

const PASSWORD: &str = "library test password";

fn config(location: &Path) -> RepoConfig {
    RepoConfig::new(location.to_str().expect("utf-8"), PASSWORD.to_owned())
}

fn quiet() -> Arc<dyn Progress> {
    Arc::new(NoProgress)
}

#[test]
fn open_reports_a_missing_repository_and_a_wrong_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let location = dir.path().join("repo");
    match Repo::open(&config(&location), quiet()) {
        Err(Error::RepoNotFound { location: l }) => assert_eq!(l, location.to_str().expect("utf-8")),
        other => panic!("expected RepoNotFound, got {other:?}"),
    }
    let (_, created) = Repo::open_or_init(&config(&location), quiet()).expect("init");
    assert!(created);
    let (_, created) = Repo::open_or_init(&config(&location), quiet()).expect("reopen");
    assert!(!created);
    let wrong = RepoConfig::new(location.to_str().expect("utf-8"), "wrong".to_owned());
    assert!(matches!(
        Repo::open(&wrong, quiet()),
        Err(Error::WrongPassword { .. })
    ));
}

/// The property offline seeding stands on: a repository moved elsewhere is the same
/// repository, and a backup after the move is incremental against the one before it.
#[test]
fn a_moved_repository_keeps_its_identity_and_its_incrementals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = SampleTree::build(&dir.path().join("tree"), 2 << 20).expect("tree");
    let staging = dir.path().join("staging");
    let (repo, _) = Repo::open_or_init(&config(&staging), quiet()).expect("init");
    let id = repo.id();
    let sources = Sources::new(std::slice::from_ref(&tree.root)).expect("sources");
    let first = repo
        .backup(&sources, &BackupOptions::default())
        .expect("first backup");
    assert_eq!(first.bytes_processed, tree.bytes);
    drop(repo);

    let vault = dir.path().join("vault");
    std::fs::rename(&staging, &vault).expect("move the repository");
    let repo = Repo::open(&config(&vault), quiet()).expect("open moved");
    assert_eq!(repo.id(), id);
    let second = repo
        .backup(&sources, &BackupOptions::default())
        .expect("second backup");
    assert_eq!(second.parent_id.as_deref(), Some(first.snapshot_id.as_str()));
    assert_eq!(second.files_new + second.files_changed, 0);
    assert_eq!(second.files_unchanged, first.files_new);
    let snapshots = repo.snapshots().expect("snapshots");
    assert_eq!(snapshots.len(), 2);
    assert_eq!(snapshots[1].id, second.snapshot_id);
    assert_eq!(
        snapshots[1].paths,
        vec![tree.root.canonicalize().expect("c").display().to_string()]
    );
    assert!(repo.check(true).expect("check").errors.is_empty());
}

#[test]
fn sources_are_checked_and_made_canonical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing");
    match Sources::new(std::slice::from_ref(&missing)) {
        Err(Error::SourceNotFound { path }) => assert_eq!(path, missing),
        other => panic!("expected SourceNotFound, got {other:?}"),
    }
    std::fs::create_dir_all(dir.path().join("a/b")).expect("mkdir");
    let root = dir.path().canonicalize().expect("canonical");
    let sources = Sources::new(&[
        dir.path().join("a/b/../b"),
        dir.path().join("a/./"),
        dir.path().join("a"),
    ])
    .expect("sources");
    assert_eq!(
        sources.paths(),
        [root.join("a")],
        "nested and repeated paths are dropped"
    );
}

/// Records every task and how far it advanced.
#[derive(Default)]
struct Recorder(Arc<Mutex<Vec<(String, Unit, u64)>>>);

struct RecordedTask(Arc<Mutex<Vec<(String, Unit, u64)>>>, usize);

impl Progress for Recorder {
    fn task(&self, title: &str, unit: Unit, _total: Option<u64>) -> Box<dyn Task> {
        let mut tasks = self.0.lock().expect("lock");
        tasks.push((title.to_owned(), unit, 0));
        Box::new(RecordedTask(self.0.clone(), tasks.len() - 1))
    }
}

impl Task for RecordedTask {
    fn set_total(&self, _total: u64) {}
    fn advance(&self, delta: u64) {
        self.0.lock().expect("lock")[self.1].2 += delta;
    }
    fn set_position(&self, done: u64) {
        self.0.lock().expect("lock")[self.1].2 = done;
    }
    fn set_message(&self, _message: &str) {}
    fn finish(&self) {}
}

#[test]
fn progress_reaches_our_reporter_and_restore_is_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = SampleTree::build(&dir.path().join("tree"), 5 << 20).expect("tree");
    let recorder = Recorder::default();
    let tasks = recorder.0.clone();
    let (repo, _) = Repo::open_or_init(&config(&dir.path().join("repo")), Arc::new(recorder)).expect("init");
    let sources = Sources::new(std::slice::from_ref(&tree.root)).expect("sources");
    repo.backup(&sources, &BackupOptions::default()).expect("backup");
    let backed_up: u64 = tasks
        .lock()
        .expect("lock")
        .iter()
        .filter(|(_, unit, _)| *unit == Unit::Bytes)
        .map(|(_, _, done)| done)
        .sum();
    assert_eq!(
        backed_up,
        tree.bytes,
        "byte progress of the backup: {:?}",
        tasks.lock()
    );

    tasks.lock().expect("lock").clear();
    let target: PathBuf = dir.path().join("out");
    let summary = repo
        .restore("latest", &target, &Default::default())
        .expect("restore");
    assert_eq!(summary.bytes_restored, tree.bytes);
    assert_eq!(summary.files_unchanged, 0);
    let recorded = tasks.lock().expect("lock").clone();
    let restoring: Vec<_> = recorded
        .iter()
        .filter(|(title, ..)| title == "restoring")
        .collect();
    assert_eq!(restoring.len(), 1, "one combined restore task: {recorded:?}");
    assert_eq!(restoring[0].2, tree.bytes);
    let inside = target.join(
        tree.root
            .canonicalize()
            .expect("c")
            .strip_prefix("/")
            .expect("abs"),
    );
    let differences = compare_trees(&tree.root, &inside).expect("compare");
    assert!(differences.is_empty(), "{differences:#?}");

    // Restoring again into the same target finds everything in place.
    let again = repo
        .restore("latest", &target, &Default::default())
        .expect("restore again");
    assert_eq!(again.bytes_restored, 0);
    assert_eq!(again.files_restored, 0);
    assert!(again.files_unchanged > 0);
}

#[test]
fn unknown_snapshot_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = Repo::open_or_init(&config(&dir.path().join("repo")), quiet()).expect("init");
    assert!(matches!(
        repo.restore("latest", &dir.path().join("out"), &Default::default()),
        Err(Error::SnapshotNotFound { .. })
    ));
}

/// A copy made earlier (a seeded vault) catches up with the repository it was copied from:
/// exactly the files it lacks are copied, byte for byte, and then it checks and lists every
/// snapshot; a different repository is refused before anything is copied.
#[test]
fn copy_missing_files_catches_an_earlier_copy_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = SampleTree::build(&dir.path().join("tree"), 1 << 20).expect("tree");
    let sources = Sources::new(std::slice::from_ref(&tree.root)).expect("sources");
    let staging = dir.path().join("staging");
    let (repo, _) = Repo::open_or_init(&config(&staging), quiet()).expect("init");
    repo.backup(&sources, &BackupOptions::default()).expect("first");
    let copy = dir.path().join("copy");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(&staging)
        .arg(&copy)
        .status()
        .expect("cp");
    assert!(status.success());
    std::fs::write(tree.root.join("later.bin"), vec![7u8; 300_000]).expect("write");
    repo.backup(&sources, &BackupOptions::default()).expect("second");
    let (from, to) = (staging.to_str().expect("utf-8"), copy.to_str().expect("utf-8"));

    let copied = seedship_repo::copy_missing_files(from, to, &NoProgress).expect("copy");
    assert_eq!(copied.snapshots, 1, "{copied:?}");
    assert!(
        copied.files >= 3,
        "a pack, an index file and a snapshot: {copied:?}"
    );
    let caught_up = Repo::open(&config(&copy), quiet()).expect("open copy");
    assert_eq!(caught_up.snapshots().expect("snapshots").len(), 2);
    caught_up.check(true).expect("check --read-data");
    let again = seedship_repo::copy_missing_files(from, to, &NoProgress).expect("again");
    assert_eq!(
        again,
        seedship_repo::CopiedFiles::default(),
        "nothing left to copy"
    );

    let other = dir.path().join("other");
    Repo::open_or_init(&config(&other), quiet()).expect("init other");
    let refused = seedship_repo::copy_missing_files(from, other.to_str().expect("utf-8"), &NoProgress);
    assert!(
        matches!(refused, Err(Error::DifferentRepositories { .. })),
        "{refused:?}"
    );
    assert!(
        !other.join("snapshots").read_dir().expect("ls").any(|_| true),
        "nothing copied"
    );
}
