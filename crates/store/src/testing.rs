//! Test support: starts the emulators the conformance suite runs against.
//!
//! Each `start_*` function looks for the emulator's executable on `PATH`. When it is missing the
//! function returns `None` and the caller skips, unless `SEEDSHIP_TEST_DISALLOW_SKIP=1` is set
//! (as CI does), in which case it panics so a missing backend fails the run.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::StoreConfig;

/// Azurite's well-known development account and key.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// The key of [`AZURITE_ACCOUNT`] (public, documented by Microsoft).
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running emulator process, killed on drop. Its output goes to `log`.
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// File holding the emulator's stdout and stderr.
    pub log: PathBuf,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // Best effort: the process may already be gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Emulator {
    /// A [`StoreConfig`] for a container (Azurite) or bucket (moto) named `name`, created on open.
    pub fn azure_config(&self, name: &str) -> StoreConfig {
        StoreConfig::Azure {
            account: AZURITE_ACCOUNT.to_owned(),
            access_key: AZURITE_KEY.to_owned(),
            container: name.to_owned(),
            endpoint: Some(self.endpoint.clone()),
            emulator: true,
            create_container: true,
        }
    }

    /// A [`StoreConfig`] for the S3 bucket `name` on moto, created on open.
    pub fn s3_config(&self, name: &str) -> StoreConfig {
        StoreConfig::S3 {
            bucket: name.to_owned(),
            region: "us-east-1".to_owned(),
            endpoint: Some(self.endpoint.clone()),
            access_key_id: "testing".to_owned(),
            secret_access_key: "testing".to_owned(),
            allow_http: true,
            create_bucket: true,
        }
    }
}

/// Whether a missing backend must fail the test run (`SEEDSHIP_TEST_DISALLOW_SKIP=1`).
pub fn skips_disallowed() -> bool {
    std::env::var("SEEDSHIP_TEST_DISALLOW_SKIP").is_ok_and(|v| v == "1")
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Finds `program` on `PATH`.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Returns `None` (skip) for a missing program, or panics when skips are disallowed.
fn require(program: &str) -> Option<PathBuf> {
    let found = find_program(program);
    if found.is_none() {
        assert!(
            !skips_disallowed(),
            "{program} not found on PATH and SEEDSHIP_TEST_DISALLOW_SKIP=1"
        );
        eprintln!("SKIPPED: {program} not found on PATH (set SEEDSHIP_TEST_DISALLOW_SKIP=1 to fail instead)");
    }
    found
}

fn spawn(program: &Path, args: &[String], dir: &Path, port: u16) -> Emulator {
    let log = dir.join(format!(
        "{}.log",
        program.file_name().and_then(|n| n.to_str()).unwrap_or("emulator")
    ));
    let out = std::fs::File::create(&log).expect("create emulator log");
    let err = out.try_clone().expect("clone log handle");
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    let mut emulator = Emulator {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return emulator;
        }
        if let Ok(Some(status)) = emulator.child.try_wait() {
            let output = std::fs::read_to_string(&emulator.log).unwrap_or_default();
            panic!(
                "{} exited with {status} before listening:\n{output}",
                program.display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{} not listening on port {port} after 60 s",
            program.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts Azurite's blob service with its data and log in `dir`.
pub fn start_azurite(dir: &Path) -> Option<Emulator> {
    let program = require("azurite-blob")?;
    let port = free_port();
    let location = dir.join("azurite");
    std::fs::create_dir_all(&location).expect("create azurite dir");
    let args = [
        "--silent".to_owned(),
        "--disableTelemetry".to_owned(),
        "--location".to_owned(),
        location.display().to_string(),
        "--blobHost".to_owned(),
        "127.0.0.1".to_owned(),
        "--blobPort".to_owned(),
        port.to_string(),
    ];
    Some(spawn(&program, &args, dir, port))
}

/// Starts moto's server (S3 and the rest of its mocked AWS) with its log in `dir`.
pub fn start_moto(dir: &Path) -> Option<Emulator> {
    let program = require("moto_server")?;
    let port = free_port();
    let args = [
        "-H".to_owned(),
        "127.0.0.1".to_owned(),
        "-p".to_owned(),
        port.to_string(),
    ];
    Some(spawn(&program, &args, dir, port))
}
