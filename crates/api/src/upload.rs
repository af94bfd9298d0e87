//! Streamed request bodies: a writer on one thread, the request on the client's runtime, and
//! between them a bounded queue of chunks that are handed to the connection without another
//! copy and whose buffers are reused.

use std::io::{self, Write};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::Stream;
use seedship_drive::RangeSink;
use tokio::sync::mpsc;

/// Bytes per chunk of a streamed body.
const CHUNK: usize = 1 << 20;

/// Chunks written ahead of the connection, per body: 1 MiB ones, or ranges (up to 4 MiB) from
/// the drive reader.
const QUEUE: usize = 2;

/// Buffers kept for reuse (enough for ten bodies at full queue with some in the connection).
const POOL_MAX: usize = 40;

/// Buffers of chunks the connection has sent, reused: a fresh allocation costs a page fault
/// per 4 KiB, and zeroing it as much as the copy into it.
#[derive(Debug, Default)]
pub(crate) struct ChunkPool(Mutex<Vec<Vec<u8>>>);

impl ChunkPool {
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop())
            .unwrap_or_else(|| Vec::with_capacity(CHUNK))
    }

    fn give(&self, mut buf: Vec<u8>) {
        buf.clear();
        if let Ok(mut pool) = self.0.lock()
            && pool.len() < POOL_MAX
        {
            pool.push(buf);
        }
    }
}

/// A chunk on its way to the connection; its buffer goes back to the pool once sent.
struct PooledChunk {
    buf: Vec<u8>,
    pool: Arc<ChunkPool>,
}

impl AsRef<[u8]> for PooledChunk {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for PooledChunk {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.buf));
    }
}

/// The writing end of an [`UploadBody`], for a thread outside the client's runtime. Bytes go
/// out in chunks of 1 MiB. The body ends at [`BodyWriter::finish`]; a writer dropped before
/// that fails the request, so that a short body is never taken for a whole one.
pub struct BodyWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    chunk: Vec<u8>,
    pool: Arc<ChunkPool>,
    finished: Arc<AtomicBool>,
}

/// A streamed request body, fed by its [`BodyWriter`] (see `Client::upload_body`).
pub struct UploadBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    finished: Arc<AtomicBool>,
}

/// A connected writer and body whose chunk buffers come from `pool`.
pub(crate) fn pipe(pool: Arc<ChunkPool>) -> (BodyWriter, UploadBody) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let finished = Arc::new(AtomicBool::new(false));
    (
        BodyWriter {
            tx,
            // taken from the pool at the first `write`: a body fed by ranges never needs one
            chunk: Vec::new(),
            pool,
            finished: finished.clone(),
        },
        UploadBody { rx, finished },
    )
}

impl BodyWriter {
    fn send_chunk(&mut self) -> io::Result<()> {
        let buf = std::mem::take(&mut self.chunk);
        let len = buf.len();
        self.send(buf, 0..len)
    }

    /// Sends `buf[part]`; `buf` goes back to the pool once the connection is done with it.
    fn send(&self, buf: Vec<u8>, part: Range<usize>) -> io::Result<()> {
        let chunk = Bytes::from_owner(PooledChunk {
            buf,
            pool: self.pool.clone(),
        })
        .slice(part);
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped reading"))
    }

    /// Sends what is left and ends the body.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::BrokenPipe`] if the request is gone.
    pub fn finish(mut self) -> io::Result<()> {
        if !self.chunk.is_empty() {
            self.send_chunk()?;
        }
        self.finished.store(true, Ordering::Release);
        Ok(())
    }

    /// Ends the body with `err`: the request fails with it.
    pub fn fail(self, err: io::Error) {
        // if the request is already gone there is no one left to tell
        let _ = self.tx.blocking_send(Err(err));
    }
}

impl Drop for BodyWriter {
    fn drop(&mut self) {
        // a chunk taken but never sent
        if self.chunk.capacity() > 0 {
            self.pool.give(std::mem::take(&mut self.chunk));
        }
    }
}

/// Ranges from the drive reader go to the connection in the buffers they were decrypted in.
impl RangeSink for BodyWriter {
    fn buffer(&mut self) -> Vec<u8> {
        self.pool.take()
    }

    fn put(&mut self, buf: Vec<u8>, plain: Range<usize>) -> io::Result<()> {
        // bytes written before through `Write` go first
        if !self.chunk.is_empty() {
            self.send_chunk()?;
        }
        self.send(buf, plain)
    }
}

impl Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.chunk.capacity() == 0 {
            self.chunk = self.pool.take();
        }
        let take = data.len().min(CHUNK - self.chunk.len());
        self.chunk.extend_from_slice(&data[..take]);
        if self.chunk.len() == CHUNK {
            self.send_chunk()?;
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl UploadBody {
    /// The chunks as a stream that ends in an error if the writer stopped before finishing.
    pub(crate) fn into_stream(self) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        futures::stream::unfold(Some(self), |body| async move {
            let mut body = body?;
            match body.rx.recv().await {
                Some(Err(err)) => Some((Err(err), None)),
                Some(chunk) => Some((chunk, Some(body))),
                None if body.finished.load(Ordering::Acquire) => None,
                None => Some((
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the body's writer stopped before the end",
                    )),
                    None,
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn collect(body: UploadBody) -> Vec<io::Result<Bytes>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(body.into_stream().collect())
    }

    #[test]
    fn a_finished_body_carries_every_byte_in_order() {
        let pool = Arc::new(ChunkPool::default());
        let (mut writer, body) = pipe(pool.clone());
        let data: Vec<u8> = (0..(CHUNK * 2 + 12345)).map(|i| (i % 251) as u8).collect();
        let feeder = std::thread::spawn(move || {
            writer.write_all(&data).expect("write");
            writer.finish().expect("finish");
            data
        });
        let chunks = collect(body);
        let data = feeder.join().expect("feeder");
        let got: Vec<u8> = chunks
            .into_iter()
            .flat_map(|c| c.expect("chunk").to_vec())
            .collect();
        assert_eq!(got, data);
        assert!(
            !pool.0.lock().expect("pool").is_empty(),
            "sent chunks return their buffers"
        );
    }

    #[test]
    fn ranges_put_after_written_bytes_keep_their_order_and_only_their_plaintext() {
        let (mut writer, body) = pipe(Arc::default());
        let feeder = std::thread::spawn(move || {
            writer.write_all(b"head ").expect("write");
            let mut range = writer.buffer();
            range.extend_from_slice(b"NONCErange oneTAG");
            writer.put(range, 5..14).expect("put");
            writer.finish().expect("finish");
        });
        let chunks = collect(body);
        feeder.join().expect("feeder");
        let got: Vec<u8> = chunks
            .into_iter()
            .flat_map(|c| c.expect("chunk").to_vec())
            .collect();
        assert_eq!(got, b"head range one");
    }

    #[test]
    fn a_writer_dropped_unfinished_fails_the_body() {
        let (mut writer, body) = pipe(Arc::default());
        let feeder = std::thread::spawn(move || {
            writer.write_all(b"partial").expect("write");
            drop(writer);
        });
        let chunks = collect(body);
        feeder.join().expect("feeder");
        let last = chunks.last().expect("an item");
        assert_eq!(
            last.as_ref().expect_err("an error").kind(),
            io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn a_failed_writer_passes_its_error_on() {
        let (writer, body) = pipe(Arc::default());
        let feeder = std::thread::spawn(move || writer.fail(io::Error::other("drive unreadable")));
        let chunks = collect(body);
        feeder.join().expect("feeder");
        assert_eq!(chunks.len(), 1);
        assert_eq!(
            chunks[0].as_ref().expect_err("an error").to_string(),
            "drive unreadable"
        );
    }
}
