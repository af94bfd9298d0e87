//! The storage conformance suite against every backend: a local directory, Azure Blob on
//! Azurite, S3 on moto's server (the emulators are started here; see `seedship_store::testing`).

use seedship_store::conformance::run_all;
use seedship_store::testing::{start_azurite, start_moto};
use seedship_store::{StoreConfig, open};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_directory_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&StoreConfig::Local {
        path: dir.path().join("objects"),
    })
    .await
    .expect("open local store");
    run_all(store.as_ref(), "suite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_blob_on_azurite_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(azurite) = start_azurite(dir.path()) else {
        return;
    };
    let store = open(&azurite.azure_config("seedship-conformance"))
        .await
        .expect("open Azurite store");
    // Opening again must accept the existing container.
    open(&azurite.azure_config("seedship-conformance"))
        .await
        .expect("reopen Azurite store");
    run_all(store.as_ref(), "suite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_on_moto_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(moto) = start_moto(dir.path()) else {
        return;
    };
    let store = open(&moto.s3_config("seedship-conformance"))
        .await
        .expect("open moto store");
    open(&moto.s3_config("seedship-conformance"))
        .await
        .expect("reopen moto store");
    run_all(store.as_ref(), "suite").await;
}
