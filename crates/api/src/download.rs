//! Streamed response bodies for a reader outside the client's runtime: the request runs on
//! the runtime, which gathers the network's chunks (often 16 KiB) into blocks of 1 MiB and
//! queues them, so that the reading thread waits once per block instead of once per chunk.

use std::io::{self, Read};

use bytes::Bytes;
use tokio::sync::mpsc;

/// Bytes per block handed to the reader.
const BLOCK: usize = 1 << 20;
/// Blocks read ahead of the reader.
const QUEUE: usize = 4;
/// A body that sends nothing for this long fails (a server that stopped answering).
const IDLE: std::time::Duration = std::time::Duration::from_secs(120);

/// A response body being read (see `Client::read_export_object`). A body that ends before
/// its announced length reads as [`io::ErrorKind::UnexpectedEof`].
pub struct Download {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    block: Bytes,
    left: Option<u64>,
}

impl Download {
    /// The body of `response`, gathered on the runtime it is polled on.
    pub(crate) fn start(handle: &tokio::runtime::Handle, mut response: reqwest::Response) -> Self {
        let left = response.content_length();
        let (tx, rx) = mpsc::channel(QUEUE);
        handle.spawn(async move {
            let mut block = Vec::with_capacity(BLOCK);
            loop {
                let next = match tokio::time::timeout(IDLE, response.chunk()).await {
                    Ok(next) => next.map_err(io::Error::other),
                    Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "no bytes for 120 s")),
                };
                match next {
                    Ok(Some(chunk)) => {
                        block.extend_from_slice(&chunk);
                        if block.len() < BLOCK {
                            continue;
                        }
                        let full = std::mem::replace(&mut block, Vec::with_capacity(BLOCK));
                        if tx.send(Ok(Bytes::from(full))).await.is_err() {
                            // the reader is gone: stop reading the connection
                            return;
                        }
                    }
                    Ok(None) => {
                        if !block.is_empty() {
                            let _ = tx.send(Ok(Bytes::from(block))).await;
                        }
                        return;
                    }
                    Err(err) => {
                        let _ = tx.send(Err(err)).await;
                        return;
                    }
                }
            }
        });
        Self {
            rx,
            block: Bytes::new(),
            left,
        }
    }

    /// The body's length as the server announced it.
    pub fn content_length(&self) -> Option<u64> {
        self.left
    }
}

impl Read for Download {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.block.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(block)) => self.block = block,
                Some(Err(err)) => return Err(err),
                None if self.left.is_some_and(|left| left > 0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the response ended before its announced length",
                    ));
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.block.len());
        buf[..n].copy_from_slice(&self.block[..n]);
        let _ = self.block.split_to(n);
        if let Some(left) = &mut self.left {
            *left = left.saturating_sub(n as u64);
        }
        Ok(n)
    }
}
