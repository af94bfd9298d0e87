//! A webhook receiver for the tests: a real HTTP/1.1 server on loopback (a std `TcpListener`
//! thread) that records what it got, and the signature check a receiver makes, computed here
//! with `hmac` and `sha2` (not with seedship's own code).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub signature: String,
    pub event_header: String,
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub status: u16,
}

impl Received {
    pub fn event(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("event JSON")
    }
}

/// A webhook receiver: answers 500 to its first `fail_first` requests, 200 after.
pub struct Receiver {
    pub addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

impl Receiver {
    pub fn start(listener: TcpListener, fail_first: usize) -> Receiver {
        let addr = listener.local_addr().expect("receiver address");
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let answered = AtomicUsize::new(0);
        let (thread_got, thread_stop) = (got.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if thread_stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let status = if answered.fetch_add(1, Ordering::SeqCst) < fail_first {
                    500
                } else {
                    200
                };
                if let Some(received) = answer(stream, status) {
                    thread_got.lock().expect("lock").push(received);
                }
            }
        });
        Receiver { addr, got, stop }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks/seedship", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    /// Waits until a request the receiver answered 200 carries an event `matches` takes.
    pub fn wait_for(&self, what: &str, matches: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(found) = self
                .received()
                .iter()
                .filter(|r| r.status == 200)
                .map(Received::event)
                .find(|e| matches(e))
            {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} event in 60 s; received: {:?}",
                self.received().iter().map(Received::event).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Reads one HTTP/1.1 request from `stream` and answers `status`.
fn answer(stream: TcpStream, status: u16) -> Option<Received> {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut reader = BufReader::new(stream);
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            break;
        }
        headers.push(line);
    }
    let header = |name: &str| {
        headers
            .iter()
            .filter_map(|h| h.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    assert!(headers[0].starts_with("POST /hooks/seedship "), "{headers:?}");
    let length: usize = header("content-length").parse().ok()?;
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    let reason = if status == 200 {
        "OK"
    } else {
        "Internal Server Error"
    };
    let mut stream = reader.into_inner();
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    Some(Received {
        signature: header("x-seedship-signature"),
        event_header: header("x-seedship-event"),
        body,
        status,
    })
}

/// Checks `received`'s `X-Seedship-Signature` against `secret`: `t=<unix>,v1=<hex HMAC-SHA256
/// of "<t>.<body>">`, `t` within 5 minutes of now.
pub fn assert_signed(received: &Received, secret: &str) {
    let (t, v1) = received
        .signature
        .split_once(",v1=")
        .and_then(|(t, v1)| Some((t.strip_prefix("t=")?, v1)))
        .unwrap_or_else(|| panic!("signature header {:?}", received.signature));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(&received.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        v1,
        expected,
        "signature of {}",
        String::from_utf8_lossy(&received.body)
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let t: u64 = t.parse().expect("t is unix seconds");
    assert!(now.abs_diff(t) < 300, "t={t}, now {now}");
    assert_eq!(
        received.event_header,
        received.event()["type"],
        "X-Seedship-Event"
    );
}

pub fn loopback() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("bind receiver")
}
