//! The conformance suite: public async functions that check a [`Store`] against the contract
//! written on the trait. Every backend's tests call [`run_all`] with a fresh prefix.
//!
//! The functions panic (with a message naming the broken rule) on the first violation, like
//! assertions in a test.

use bytes::Bytes;
use futures::TryStreamExt;
use rand::RngCore;

use crate::{ByteRange, Error, ObjectInfo, PutMode, Store};

/// Runs every check under `prefix` (which should be empty on entry).
pub async fn run_all(store: &dyn Store, prefix: &str) {
    put_get_head_delete(store, &format!("{prefix}/basic")).await;
    create_if_absent(store, &format!("{prefix}/create")).await;
    range_reads(store, &format!("{prefix}/range")).await;
    streaming_upload(store, &format!("{prefix}/stream")).await;
    aborted_upload_leaves_nothing(store, &format!("{prefix}/abort")).await;
    list_by_segment_prefix(store, &format!("{prefix}/list")).await;
    copy_and_rename(store, &format!("{prefix}/copy")).await;
    concurrent_creates(store, &format!("{prefix}/race")).await;
    rename_if_absent(store, &format!("{prefix}/place")).await;
    concurrent_renames_if_absent(store, &format!("{prefix}/place-race")).await;
}

/// Random bytes of length `len`.
pub fn random_bytes(len: usize) -> Bytes {
    let mut data = vec![0u8; len];
    rand::rng().fill_bytes(&mut data);
    Bytes::from(data)
}

async fn read_all(store: &dyn Store, key: &str, range: Option<ByteRange>) -> crate::Result<Vec<u8>> {
    let read = store.get(key, range).await?;
    let chunks: Vec<Bytes> = read.stream.try_collect().await?;
    Ok(chunks.concat())
}

async fn listing(store: &dyn Store, prefix: &str) -> Vec<ObjectInfo> {
    let mut items: Vec<ObjectInfo> = store.list(prefix).try_collect().await.expect("list");
    items.sort_by(|a, b| a.key.cmp(&b.key));
    items
}

/// put, get, head, overwrite, delete, and NotFound on every read of a missing key.
pub async fn put_get_head_delete(store: &dyn Store, prefix: &str) {
    let key = format!("{prefix}/a/object");
    assert!(
        matches!(store.get(&key, None).await, Err(Error::NotFound { .. })),
        "get of missing key"
    );
    assert!(
        matches!(store.head(&key).await, Err(Error::NotFound { .. })),
        "head of missing key"
    );
    let data = random_bytes(1000);
    store
        .put(&key, data.clone(), PutMode::Overwrite)
        .await
        .expect("put");
    assert_eq!(
        read_all(store, &key, None).await.expect("get"),
        data,
        "get returns what was put"
    );
    let read = store.get(&key, None).await.expect("get");
    assert_eq!(
        (read.size, read.range.clone()),
        (1000, 0..1000),
        "get reports size and range"
    );
    assert_eq!(store.head(&key).await.expect("head").size, 1000, "head size");
    // The time of last change is the write's (within clock skew), in head and list alike: the
    // server's sweep of staged uploads ages objects by it.
    let near_now = |modified: std::time::SystemTime| {
        let now = std::time::SystemTime::now();
        let skew = std::time::Duration::from_secs(300);
        modified < now + skew && now < modified + skew
    };
    assert!(
        near_now(store.head(&key).await.expect("head").modified),
        "head time"
    );
    let listed = listing(store, prefix).await;
    assert!(
        listed.iter().all(|info| near_now(info.modified)),
        "list time: {listed:?}"
    );
    let replacement = random_bytes(10);
    store
        .put(&key, replacement.clone(), PutMode::Overwrite)
        .await
        .expect("overwrite");
    assert_eq!(
        read_all(store, &key, None).await.expect("get"),
        replacement,
        "overwrite replaces"
    );
    store
        .put(&format!("{prefix}/empty"), Bytes::new(), PutMode::Overwrite)
        .await
        .expect("empty put");
    assert_eq!(
        store.head(&format!("{prefix}/empty")).await.expect("head").size,
        0,
        "empty object"
    );
    store.delete(&key).await.expect("delete");
    assert!(
        matches!(store.head(&key).await, Err(Error::NotFound { .. })),
        "deleted object is gone"
    );
    store
        .delete(&key)
        .await
        .expect("deleting a missing key is not an error");
    store.delete(&format!("{prefix}/empty")).await.expect("delete");
    assert!(listing(store, prefix).await.is_empty(), "nothing left");
    assert!(
        matches!(store.head("a//b").await, Err(Error::InvalidKey { .. })),
        "invalid key refused"
    );
}

/// `PutMode::Create` refuses an existing key and leaves it unchanged.
pub async fn create_if_absent(store: &dyn Store, prefix: &str) {
    let key = format!("{prefix}/config");
    let first = random_bytes(100);
    store
        .put(&key, first.clone(), PutMode::Create)
        .await
        .expect("first create");
    let second = store.put(&key, random_bytes(100), PutMode::Create).await;
    assert!(
        matches!(second, Err(Error::AlreadyExists { .. })),
        "second create refused: {second:?}"
    );
    assert_eq!(
        read_all(store, &key, None).await.expect("get"),
        first,
        "existing object unchanged"
    );
    store.delete(&key).await.expect("delete");
}

/// Bounded, open-ended, suffix and out-of-bounds ranges.
pub async fn range_reads(store: &dyn Store, prefix: &str) {
    let key = format!("{prefix}/pack");
    let data = random_bytes(100_000);
    store
        .put(&key, data.clone(), PutMode::Overwrite)
        .await
        .expect("put");
    let cases = [
        (ByteRange::Bounded(10..20), 10..20),
        (ByteRange::Bounded(0..1), 0..1),
        (ByteRange::Bounded(99_990..200_000), 99_990..100_000),
        (ByteRange::From(50_000), 50_000..100_000),
        (ByteRange::Suffix(7), 99_993..100_000),
    ];
    for (range, expected) in cases {
        let read = store.get(&key, Some(range.clone())).await.expect("range get");
        assert_eq!(read.range, expected, "range reported for {range:?}");
        assert_eq!(read.size, 100_000, "size reported for {range:?}");
        let bytes = read_all(store, &key, Some(range.clone()))
            .await
            .expect("range get");
        let (start, end) = (expected.start as usize, expected.end as usize);
        assert_eq!(bytes, data[start..end], "bytes of {range:?}");
    }
    let past_end = store.get(&key, Some(ByteRange::Bounded(100_000..100_010))).await;
    assert!(
        matches!(past_end, Err(Error::InvalidRange { .. })),
        "range past the end: {past_end:?}"
    );
    store.delete(&key).await.expect("delete");
}

/// A multipart upload larger than one part becomes visible only on finish, complete.
pub async fn streaming_upload(store: &dyn Store, prefix: &str) {
    let key = format!("{prefix}/data/ab/big");
    let data = random_bytes(12 * 1024 * 1024 + 12_345);
    let mut writer = store.writer(&key).await.expect("writer");
    for chunk in data.chunks(1024 * 1024 + 17) {
        writer.write(Bytes::copy_from_slice(chunk)).await.expect("write");
    }
    assert!(
        matches!(store.head(&key).await, Err(Error::NotFound { .. })),
        "invisible before finish"
    );
    assert_eq!(
        writer.finish().await.expect("finish"),
        data.len() as u64,
        "finish reports size"
    );
    assert_eq!(
        store.head(&key).await.expect("head").size,
        data.len() as u64,
        "size after finish"
    );
    assert!(
        read_all(store, &key, None).await.expect("get") == data,
        "streamed object intact"
    );
    let small_key = format!("{prefix}/small");
    let mut writer = store.writer(&small_key).await.expect("writer");
    writer.write(Bytes::from_static(b"hello")).await.expect("write");
    writer.finish().await.expect("finish");
    assert_eq!(
        read_all(store, &small_key, None).await.expect("get"),
        b"hello",
        "small streamed object"
    );
    store.delete(&key).await.expect("delete");
    store.delete(&small_key).await.expect("delete");
}

/// An aborted upload (after a part was sent) leaves neither the object nor a listing entry.
pub async fn aborted_upload_leaves_nothing(store: &dyn Store, prefix: &str) {
    let key = format!("{prefix}/partial");
    let mut writer = store.writer(&key).await.expect("writer");
    writer.write(random_bytes(9 * 1024 * 1024)).await.expect("write");
    writer.write(random_bytes(1024)).await.expect("write");
    writer.abort().await.expect("abort");
    assert!(
        matches!(store.head(&key).await, Err(Error::NotFound { .. })),
        "aborted object absent"
    );
    assert!(
        listing(store, prefix).await.is_empty(),
        "aborted upload not listed"
    );
}

/// Listing matches whole segments, recurses, reports sizes, and an unknown prefix is empty.
pub async fn list_by_segment_prefix(store: &dyn Store, prefix: &str) {
    let keys = ["a/b/1", "a/b/c/2", "a/bc/3", "d/4"];
    for (i, key) in keys.iter().enumerate() {
        store
            .put(
                &format!("{prefix}/{key}"),
                random_bytes(i + 1),
                PutMode::Overwrite,
            )
            .await
            .expect("put");
    }
    let under_ab: Vec<(String, u64)> = listing(store, &format!("{prefix}/a/b"))
        .await
        .into_iter()
        .map(|o| (o.key, o.size))
        .collect();
    assert_eq!(
        under_ab,
        vec![(format!("{prefix}/a/b/1"), 1), (format!("{prefix}/a/b/c/2"), 2)],
        "segment prefix"
    );
    assert_eq!(listing(store, prefix).await.len(), 4, "recursive listing");
    assert!(
        listing(store, &format!("{prefix}/nothing")).await.is_empty(),
        "unknown prefix is empty"
    );
    for key in keys {
        store.delete(&format!("{prefix}/{key}")).await.expect("delete");
    }
}

/// Copy keeps the source, rename removes it; both overwrite the destination.
pub async fn copy_and_rename(store: &dyn Store, prefix: &str) {
    let (src, copy, moved) = (
        format!("{prefix}/src"),
        format!("{prefix}/copy"),
        format!("{prefix}/moved"),
    );
    let data = random_bytes(3000);
    store
        .put(&src, data.clone(), PutMode::Overwrite)
        .await
        .expect("put");
    store
        .put(&copy, random_bytes(5), PutMode::Overwrite)
        .await
        .expect("put");
    store.copy(&src, &copy).await.expect("copy");
    assert_eq!(
        read_all(store, &copy, None).await.expect("get"),
        data,
        "copy overwrites destination"
    );
    assert_eq!(
        read_all(store, &src, None).await.expect("get"),
        data,
        "copy keeps source"
    );
    store.rename(&src, &moved).await.expect("rename");
    assert!(
        matches!(store.head(&src).await, Err(Error::NotFound { .. })),
        "rename removes source"
    );
    assert_eq!(
        read_all(store, &moved, None).await.expect("get"),
        data,
        "rename moves bytes"
    );
    let missing = store.copy(&format!("{prefix}/none"), &copy).await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "copy of missing source: {missing:?}"
    );
    store.delete(&copy).await.expect("delete");
    store.delete(&moved).await.expect("delete");
}

/// Of several concurrent creates of one key exactly one wins, and its bytes are stored.
pub async fn concurrent_creates(store: &dyn Store, prefix: &str) {
    let key = format!("{prefix}/lock");
    let payloads: Vec<Bytes> = (0..8).map(|_| random_bytes(64)).collect();
    let results = futures::future::join_all(
        payloads
            .iter()
            .map(|p| store.put(&key, p.clone(), PutMode::Create)),
    )
    .await;
    sole_winner(store, &key, &results, &payloads).await;
    store.delete(&key).await.expect("delete");
}

/// A move to a free key moves the object; a move to a taken key fails with `AlreadyExists` and
/// leaves both objects as they were.
pub async fn rename_if_absent(store: &dyn Store, prefix: &str) {
    let (staged, taken, free) = (
        format!("{prefix}/staged"),
        format!("{prefix}/taken"),
        format!("{prefix}/free"),
    );
    let data = random_bytes(3000);
    let other = random_bytes(7);
    store
        .put(&staged, data.clone(), PutMode::Overwrite)
        .await
        .expect("put");
    store
        .put(&taken, other.clone(), PutMode::Overwrite)
        .await
        .expect("put");
    let refused = store.rename_if_absent(&staged, &taken).await;
    assert!(
        matches!(refused, Err(Error::AlreadyExists { .. })),
        "a move to a taken key is refused: {refused:?}"
    );
    assert_eq!(
        read_all(store, &taken, None).await.expect("get"),
        other,
        "a refused move keeps the destination"
    );
    assert_eq!(
        read_all(store, &staged, None).await.expect("get"),
        data,
        "a refused move keeps the source"
    );
    store
        .rename_if_absent(&staged, &free)
        .await
        .expect("move to a free key");
    assert_eq!(
        read_all(store, &free, None).await.expect("get"),
        data,
        "a move moves the bytes"
    );
    assert!(
        matches!(store.head(&staged).await, Err(Error::NotFound { .. })),
        "a move removes the source"
    );
    store.delete(&taken).await.expect("delete");
    store.delete(&free).await.expect("delete");
}

/// Of several concurrent moves to one key exactly one wins; the losers' objects stay.
pub async fn concurrent_renames_if_absent(store: &dyn Store, prefix: &str) {
    let key = format!("{prefix}/blob");
    let payloads: Vec<Bytes> = (0..6).map(|_| random_bytes(64)).collect();
    let staged: Vec<String> = (0..payloads.len())
        .map(|i| format!("{prefix}/staged-{i}"))
        .collect();
    for (name, data) in staged.iter().zip(&payloads) {
        store
            .put(name, data.clone(), PutMode::Overwrite)
            .await
            .expect("put");
    }
    let results =
        futures::future::join_all(staged.iter().map(|name| store.rename_if_absent(name, &key))).await;
    let winner = sole_winner(store, &key, &results, &payloads).await;
    for (i, name) in staged.iter().enumerate() {
        if i != winner {
            store.delete(name).await.expect("delete");
        }
    }
    store.delete(&key).await.expect("delete");
}

/// Of concurrent attempts (`results`, one per payload) to create `key`, exactly one won, the
/// others saw `AlreadyExists`, and `key` holds the winner's payload; returns the winner.
async fn sole_winner<T: std::fmt::Debug>(
    store: &dyn Store,
    key: &str,
    results: &[crate::Result<T>],
    payloads: &[Bytes],
) -> usize {
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one wins: {results:?}");
    for result in results {
        assert!(
            result.is_ok() || matches!(result, Err(Error::AlreadyExists { .. })),
            "losers see AlreadyExists: {result:?}"
        );
    }
    assert_eq!(
        read_all(store, key, None).await.expect("get"),
        payloads[winners[0]],
        "winner's bytes stored"
    );
    winners[0]
}
