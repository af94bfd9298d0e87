//! Uploads staged outside every container before the server places them
//! (`jobs/<job id>/staging/<uuid>`).

/// A fresh staging key of job `job_id`.
pub(crate) fn staging_key(job_id: &str) -> String {
    format!("jobs/{job_id}/staging/{}", uuid::Uuid::new_v4())
}
