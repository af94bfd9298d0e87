//! The body of an uplink probe (`POST /api/v1/uplink-probe`): pseudo-random bytes, which no
//! compressor shrinks, streamed for a bounded time and at most a bounded number of bytes.
//!
//! One block of [`BLOCK`] bytes is generated and sent again and again (each chunk shares its
//! buffer, so sending costs no copy and no generation). Nothing on the path compresses: the
//! client is built without reqwest's compression features (and HTTP clients never compress a
//! request body by themselves), rustls does no TLS compression, and the server reads the bytes
//! as they come. A compressing proxy with a window beyond 1 MiB would be the exception.

use std::io;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::Stream;

/// Bytes per chunk of the probe, and of the block repeated.
pub(crate) const BLOCK: usize = 1 << 20;

/// `len` bytes of splitmix64's output from `seed`: statistically random, so incompressible.
pub(crate) fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// How far a probe's body got: when its first chunk was asked for (the connection is open and
/// the request's headers are written) and how many bytes it handed to the connection.
#[derive(Debug, Default)]
pub(crate) struct Sending {
    started: OnceLock<Instant>,
    sent: AtomicU64,
}

impl Sending {
    /// When the first chunk was asked for, if it was.
    pub(crate) fn started(&self) -> Option<Instant> {
        self.started.get().copied()
    }

    /// Bytes handed to the connection.
    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

/// The probe's body: `block` (sliced at the end) over and over until `duration` has passed
/// since its first chunk was asked for, or `cap` bytes are out. `on_sent` hears each chunk's
/// length as it is handed to the connection.
pub(crate) fn body(
    block: Bytes,
    duration: Duration,
    cap: u64,
    sending: Arc<Sending>,
    on_sent: impl Fn(u64) + Send + Sync + 'static,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures::stream::unfold((), move |()| {
        let now = Instant::now();
        let started = *sending.started.get_or_init(|| now);
        let sent = sending.sent();
        let left = cap.saturating_sub(sent);
        let next = if now.duration_since(started) >= duration || left == 0 || block.is_empty() {
            None
        } else {
            let len = usize::try_from(left).map_or(block.len(), |left| left.min(block.len()));
            sending.sent.fetch_add(len as u64, Ordering::Relaxed);
            on_sent(len as u64);
            Some((Ok(block.slice(..len)), ()))
        };
        std::future::ready(next)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn collect(stream: impl Stream<Item = io::Result<Bytes>>) -> Vec<Bytes> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime
            .block_on(stream.collect::<Vec<_>>())
            .into_iter()
            .map(|chunk| chunk.expect("chunk"))
            .collect()
    }

    #[test]
    fn noise_does_not_compress_and_differs_by_seed() {
        let block = noise(BLOCK, 42);
        assert_eq!(block.len(), BLOCK);
        assert_ne!(block, noise(BLOCK, 43));
        // Every byte value about equally often (4096 expected each; a compressible
        // distribution is far from flat).
        let mut counts = [0u32; 256];
        for byte in &block {
            counts[usize::from(*byte)] += 1;
        }
        let (low, high) = (counts.iter().min(), counts.iter().max());
        assert!(low > Some(&3700) && high < Some(&4500), "{low:?} {high:?}");
    }

    #[test]
    fn the_body_stops_at_the_byte_cap_with_a_short_last_chunk() {
        let sending = Arc::new(Sending::default());
        let heard = Arc::new(AtomicU64::new(0));
        let counted = heard.clone();
        let block = Bytes::from(noise(1000, 1));
        let stream = body(
            block.clone(),
            Duration::from_secs(3600),
            2500,
            sending.clone(),
            move |n| {
                counted.fetch_add(n, Ordering::Relaxed);
            },
        );
        let chunks = collect(stream);
        let lengths: Vec<usize> = chunks.iter().map(Bytes::len).collect();
        assert_eq!(lengths, [1000, 1000, 500]);
        assert_eq!(chunks[2], block.slice(..500));
        assert_eq!(sending.sent(), 2500);
        assert_eq!(heard.load(Ordering::Relaxed), 2500);
        assert!(sending.started().is_some());
    }

    #[test]
    fn the_body_stops_once_its_time_is_up() {
        let sending = Arc::new(Sending::default());
        let stream = body(
            Bytes::from(noise(16, 1)),
            Duration::from_millis(50),
            u64::MAX,
            sending.clone(),
            |_| std::thread::sleep(Duration::from_millis(10)),
        );
        let started = Instant::now();
        let chunks = collect(stream);
        let elapsed = started.elapsed();
        // Five chunks of at least 10 ms each fit in 50 ms (fewer on a busy machine), no more.
        assert!((1..=6).contains(&chunks.len()), "{} chunks", chunks.len());
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
        assert_eq!(sending.sent(), 16 * chunks.len() as u64);
    }

    #[test]
    fn a_body_of_no_time_sends_nothing() {
        let sending = Arc::new(Sending::default());
        let stream = body(
            Bytes::from(noise(16, 1)),
            Duration::ZERO,
            100,
            sending.clone(),
            |_| {},
        );
        assert!(collect(stream).is_empty());
        assert_eq!(sending.sent(), 0);
    }
}
