//! Ctrl-C during a command that locks a repository: the restic locks the process holds are
//! removed before it ends with exit code 130, as restic does, so that no stale lock blocks the
//! next `prune`. The temporary files of writes still running are removed too; nothing else
//! needs undoing: what was written is complete or unreferenced.

/// Watches for Ctrl-C (SIGINT) on a thread of its own for the rest of the process.
pub fn release_locks_on_ctrl_c() {
    let watcher = std::thread::Builder::new().name("ctrl-c".to_owned()).spawn(|| {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        if runtime.block_on(tokio::signal::ctrl_c()).is_ok() {
            seedship_repo::release_held_locks();
            seedship_durable::remove_own_temporaries();
            std::process::exit(i32::from(crate::exit::INTERRUPTED));
        }
    });
    // Without the watcher, Ctrl-C still ends the process (its locks then stay, stale).
    drop(watcher);
}
