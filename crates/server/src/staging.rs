//! Uploads staged outside every container before the server places them
//! (`jobs/<job id>/staging/<uuid>`): the key of a new one, and the sweep that deletes those a
//! server killed mid-upload left behind.
//!
//! A staged object is normally moved into place or deleted by the request that wrote it within
//! the request. One older than the sweep's age was left by a server that died (several server
//! processes may share one store, so the age must exceed the longest upload any of them may be
//! running: an object is written once and never touched again while it is staged, so its
//! time of last change is the upload's start at the latest).

use std::time::{Duration, SystemTime};

use futures::TryStreamExt;
use seedship_store::Store;

/// The default `staging_max_age`: 24 hours.
pub(crate) const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// How often the sweep runs (also once at start).
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(60 * 60);

/// A fresh staging key of job `job_id`.
pub(crate) fn staging_key(job_id: &str) -> String {
    format!("jobs/{job_id}/staging/{}", uuid::Uuid::new_v4())
}

/// Whether `key` is a staged upload (`jobs/<job id>/staging/<name>`).
fn is_staged(key: &str) -> bool {
    let segments: Vec<&str> = key.split('/').collect();
    matches!(segments.as_slice(), ["jobs", _, "staging", _])
}

/// Deletes every staged upload last changed more than `max_age` before `now`; returns how many.
///
/// # Errors
///
/// The store's, listing or deleting.
pub(crate) async fn sweep(
    store: &dyn Store,
    max_age: Duration,
    now: SystemTime,
) -> seedship_store::Result<usize> {
    let old: Vec<String> = store
        .list("jobs")
        .try_filter_map(|info| {
            let aged = now.duration_since(info.modified).is_ok_and(|age| age > max_age);
            futures::future::ready(Ok((aged && is_staged(&info.key)).then_some(info.key)))
        })
        .try_collect()
        .await?;
    for key in &old {
        store.delete(key).await?;
        tracing::info!(%key, "deleted an upload staged and never placed");
    }
    Ok(old.len())
}

/// Sweeps `store` at once and every [`SWEEP_EVERY`], forever.
pub(crate) async fn sweep_forever(store: std::sync::Arc<dyn Store>, max_age: Duration) {
    let mut interval = tokio::time::interval(SWEEP_EVERY);
    loop {
        interval.tick().await;
        if let Err(err) = sweep(store.as_ref(), max_age, SystemTime::now()).await {
            tracing::error!("sweeping staged uploads failed: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seedship_store::{PutMode, StoreConfig};

    /// A real local store; the files' times are set as a crashed server's would have aged.
    #[tokio::test]
    async fn sweep_deletes_only_aged_staged_uploads() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = seedship_store::open(&StoreConfig::Local {
            path: dir.path().to_owned(),
        })
        .await
        .expect("store");
        let keys = [
            "jobs/1/staging/old",
            "jobs/1/staging/fresh",
            "jobs/1/damaged/data/old",
            "containers/1/jobs/1/staging/old",
        ];
        for key in keys {
            store
                .put(key, bytes::Bytes::from_static(b"bytes"), PutMode::Create)
                .await
                .expect("put");
        }
        let two_days_ago = SystemTime::now() - Duration::from_secs(2 * 24 * 60 * 60);
        for key in [
            "jobs/1/staging/old",
            "jobs/1/damaged/data/old",
            "containers/1/jobs/1/staging/old",
        ] {
            let file = std::fs::File::options()
                .write(true)
                .open(dir.path().join(key))
                .expect("object file");
            file.set_modified(two_days_ago).expect("set mtime");
        }
        let swept = sweep(store.as_ref(), DEFAULT_MAX_AGE, SystemTime::now())
            .await
            .expect("sweep");
        assert_eq!(swept, 1);
        let mut left: Vec<String> = store
            .list("")
            .map_ok(|info| info.key)
            .try_collect()
            .await
            .expect("list");
        left.sort();
        assert_eq!(
            left,
            [
                "containers/1/jobs/1/staging/old",
                "jobs/1/damaged/data/old",
                "jobs/1/staging/fresh"
            ]
        );
        // An upload still running (its object written a moment ago) is not old enough.
        assert_eq!(
            sweep(store.as_ref(), DEFAULT_MAX_AGE, SystemTime::now())
                .await
                .expect("sweep"),
            0
        );
    }
}
