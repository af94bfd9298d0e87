//! 20 restic clients back up at once to 20 vaults (4 accounts x 5 vaults) of one server; all
//! finish and every vault passes `restic check`. Stalled connections neither hold the server
//! nor stay open.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use crate::server_support::*;

#[test]
fn twenty_concurrent_restic_clients_on_twenty_vaults() {
    let Some(_) = restic() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "server", &dir.path().join("data"), None);
    let agents: Vec<Agent> = (0..20)
        .map(|i| {
            provision(
                &server,
                dir.path(),
                &format!("tenant{}", i / 5),
                &format!("vault{i}"),
                false,
            )
        })
        .collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = agents
            .iter()
            .enumerate()
            .map(|(i, agent)| {
                let root = dir.path().join(format!("client{i}"));
                scope.spawn(move || {
                    let source = root.join("source");
                    make_tree(&source, i as u64 + 100, 8);
                    let cache = root.join("cache");
                    let repo = agent.repository();
                    restic_ok(&repo, &cache, &["init"]);
                    restic_ok(&repo, &cache, &["backup", path(&source)]);
                    restic_ok(&repo, &cache, &["check", "--read-data"]);
                    let snapshots: serde_json::Value =
                        serde_json::from_str(&restic_ok(&repo, &cache, &["snapshots", "--json"]))
                            .expect("JSON");
                    assert_eq!(
                        snapshots.as_array().map(Vec::len),
                        Some(1),
                        "client {i}: one snapshot"
                    );
                })
            })
            .collect();
        for (i, handle) in handles.into_iter().enumerate() {
            if let Err(panic) = handle.join() {
                let log = std::fs::read_to_string(&server.stderr_log).unwrap_or_default();
                eprintln!("server log:\n{log}");
                std::panic::panic_any(format!("client {i} failed: {panic:?}"));
            }
        }
    });
    // Each vault holds exactly its own snapshot: 20 vault prefixes, one snapshot each.
    let listing = store_listing(&dir.path().join("data/objects"));
    let mut snapshots_per_vault = std::collections::BTreeMap::new();
    for key in listing.keys().filter(|k| k.contains("/snapshots/")) {
        *snapshots_per_vault
            .entry(key.split('/').nth(1).expect("vault id").to_owned())
            .or_insert(0) += 1;
    }
    assert_eq!(snapshots_per_vault.len(), 20, "20 vaults hold snapshots");
    assert!(
        snapshots_per_vault.values().all(|&n| n == 1),
        "one snapshot per vault: {snapshots_per_vault:?}"
    );
}

/// Raises this process's open-file limit to at least `wanted` (within the hard limit).
fn allow_open_files(wanted: u64) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some_and(|current| current < wanted) {
        let raised = limit.maximum.map_or(wanted, |maximum| maximum.min(wanted));
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(raised),
                maximum: limit.maximum,
            },
        )
        .expect("raise the open-file limit");
    }
}

/// Whether the server has closed `stream` (end of stream or reset) within `wait`.
fn closed_within(stream: &mut std::net::TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).expect("read timeout");
    let mut sink = Vec::new();
    match stream.read_to_end(&mut sink) {
        Ok(_) => true,
        Err(err) => !matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

/// 2,000 connections that never finish their headers neither keep a normal request from being
/// answered within a second nor stay open past the header-read timeout; a request whose body
/// stalls is closed after the idle timeout.
#[test]
fn stalled_connections_are_closed_and_do_not_block_others() {
    const STALLED: usize = 2000;
    allow_open_files(STALLED as u64 + 512);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        "[connections]\nheader_read_timeout = 2\nidle_timeout = 6\n",
    )
    .expect("config");
    let server = Server::start(dir.path(), "server", &dir.path().join("data"), Some(&config));
    let agent = provision(&server, dir.path(), "acme", "laptop", false);
    let address = server.url.trim_start_matches("http://").to_owned();

    let mut stalled: Vec<(std::net::TcpStream, Instant)> = (0..STALLED)
        .map(|_| {
            let mut stream = std::net::TcpStream::connect(&address).expect("connect");
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .expect("half a request");
            (stream, Instant::now())
        })
        .collect();
    // Not closed at once: the last one opened is still open.
    let (last, last_opened) = stalled.last_mut().expect("a connection");
    assert!(
        last_opened.elapsed() < Duration::from_millis(1500),
        "opening took too long to tell"
    );
    assert!(
        !closed_within(last, Duration::from_millis(300)),
        "closed before the header-read timeout"
    );
    let started = Instant::now();
    let health = reqwest::blocking::Client::new()
        .get(format!("{}/healthz", server.url))
        .timeout(Duration::from_secs(30))
        .send()
        .expect("GET /healthz");
    assert_eq!(health.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a normal request waited {:?} behind {STALLED} stalled connections",
        started.elapsed()
    );

    // A body that stops half-way, on a request the server is reading.
    let mut stalled_body = std::net::TcpStream::connect(&address).expect("connect");
    let vault_path = agent.url.split_once(&address).expect("vault URL on the server").1;
    let credentials = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{}", agent.id, agent.secret),
    );
    write!(
        stalled_body,
        "POST {vault_path}config HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {credentials}\r\n\
         Content-Length: 100\r\n\r\nfirst bytes"
    )
    .expect("half a body");
    let body_stalled = Instant::now();

    // Each closed within the timeout (2 s) and a margin after it opened.
    for (i, (stream, opened)) in stalled.iter_mut().enumerate() {
        let deadline = *opened + Duration::from_millis(5500);
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        assert!(
            closed_within(stream, left),
            "stalled connection {i} still open {:?} after it opened",
            opened.elapsed()
        );
    }
    assert!(
        closed_within(&mut stalled_body, Duration::from_secs(10)),
        "a stalled body keeps its connection"
    );
    let idle = body_stalled.elapsed();
    assert!(
        (Duration::from_secs(5)..Duration::from_secs(12)).contains(&idle),
        "closed {idle:?} after the body stalled, not after the 6 s idle timeout"
    );
    // The server still serves.
    assert!(
        server
            .http()
            .get(format!("{}/healthz", server.url))
            .send()
            .expect("GET")
            .status()
            .is_success()
    );
}
