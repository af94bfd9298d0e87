//! A child process on a pseudo-terminal, as a person runs it: read its prompts, type answers.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};

/// A child process whose stdin, stdout and stderr are a pseudo-terminal.
pub struct Terminal {
    child: Child,
    master: File,
    output: Receiver<Vec<u8>>,
    /// Everything read so far.
    seen: String,
    /// How far `seen` has been matched by [`Terminal::expect`].
    matched: usize,
}

/// A new pseudo-terminal: its controlling side and the terminal a child is given.
pub fn open_pty() -> (File, File) {
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(Path::new(name.to_str().expect("UTF-8 pty name")))
        .expect("open pty slave");
    (File::from(master), slave)
}

impl Terminal {
    /// Starts `command` with the terminal as its stdin, stdout and stderr.
    pub fn spawn(mut command: Command) -> Terminal {
        let (master, slave) = open_pty();
        let child = command
            .stdin(Stdio::from(slave.try_clone().expect("dup")))
            .stdout(Stdio::from(slave.try_clone().expect("dup")))
            .stderr(Stdio::from(slave))
            .spawn()
            .expect("spawn seedship");
        let mut reader = master.try_clone().expect("dup master");
        let (tx, output) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the child closed the terminal: the end.
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Terminal {
            child,
            master,
            output,
            seen: String::new(),
            matched: 0,
        }
    }

    /// Waits until `text` appears after the last match.
    pub fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(at) = self.seen[self.matched..].find(text) {
                self.matched += at + text.len();
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.seen.push_str(&String::from_utf8_lossy(&bytes)),
                Err(_) => panic!("no {text:?} on the terminal; so far:\n{}", self.seen),
            }
        }
    }

    /// Types `line` and Enter.
    pub fn answer(&mut self, line: &str) {
        self.master
            .write_all(format!("{line}\n").as_bytes())
            .expect("type");
    }

    /// Waits for the child; returns its exit code and everything it printed.
    pub fn finish(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().expect("wait");
        while let Ok(bytes) = self.output.recv_timeout(Duration::from_millis(500)) {
            self.seen.push_str(&String::from_utf8_lossy(&bytes));
        }
        (status.code(), self.seen)
    }
}
