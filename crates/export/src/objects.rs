//! The export job's vault objects as the drive writer's [`Source`]: each object is read from
//! the job service and checked as it streams.

use std::io::Read;

use seedship_drive::{PlannedFile, Source};
use sha2::{Digest, Sha256};

/// The objects of export job `name` of `account`, read through `client`.
pub(crate) struct JobObjects<'a> {
    pub(crate) client: &'a seedship_api::Client,
    pub(crate) account: &'a str,
    pub(crate) name: &'a str,
}

impl Source for JobObjects<'_> {
    fn open(&self, file: &PlannedFile<'_>, from: u64) -> seedship_drive::Result<Box<dyn Read + Send + '_>> {
        let path = file.path();
        let object = String::from_utf8_lossy(file.rel).into_owned();
        let failed = |err: std::io::Error| seedship_drive::Error::SourceRead {
            path: path.clone(),
            source: err,
        };
        // Read from the start whatever `from` is, so that the whole object is checked against
        // its name; only the part of an object that spans two drives is read twice.
        let response = self
            .client
            .read_export_object(self.account, self.name, &object, 0)
            .map_err(|err| failed(std::io::Error::other(err)))?;
        if response.content_length() != Some(file.size) {
            return Err(seedship_drive::Error::SourceChanged { path });
        }
        let mut checked = Checked {
            inner: response,
            expected: expected_hash(&object),
            hasher: Sha256::new(),
            left: file.size,
        };
        std::io::copy(&mut (&mut checked).take(from), &mut std::io::sink()).map_err(failed)?;
        Ok(Box::new(checked))
    }
}

/// The SHA-256 a restic object's contents must have: its id, the last component of its name
/// (`config` has none).
fn expected_hash(object: &str) -> Option<[u8; 32]> {
    let id = object.rsplit('/').next()?;
    let mut hash = [0; 32];
    hex::decode_to_slice(id, &mut hash).ok()?;
    Some(hash)
}

/// Reads an object, hashing it; the read that reaches its end fails when the hash is not the
/// object's id.
struct Checked<R> {
    inner: R,
    expected: Option<[u8; 32]>,
    hasher: Sha256,
    left: u64,
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.inner.read(&mut buf[..want])?;
        self.hasher.update(&buf[..n]);
        self.left -= n as u64;
        if self.left == 0
            && let Some(expected) = self.expected
        {
            let found: [u8; 32] = self.hasher.clone().finalize().into();
            if found != expected {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "the vault's object does not hash to its name (SHA-256 {}): damaged in storage",
                        hex::encode(found)
                    ),
                ));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(data: &[u8], name: &str) -> std::io::Result<Vec<u8>> {
        let mut checked = Checked {
            inner: data,
            expected: expected_hash(name),
            hasher: Sha256::new(),
            left: data.len() as u64,
        };
        let mut out = Vec::new();
        checked.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn an_object_is_checked_against_its_name() {
        let data = b"a pack's bytes".to_vec();
        let id = hex::encode(Sha256::digest(&data));
        assert_eq!(
            read_all(&data, &format!("data/{}/{id}", &id[..2])).expect("read"),
            data
        );
        let mut flipped = data.clone();
        flipped[3] ^= 1;
        let err = read_all(&flipped, &format!("data/{}/{id}", &id[..2])).expect_err("damaged");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        // `config` is not named by its hash: read as it is
        assert_eq!(read_all(&flipped, "config").expect("config"), flipped);
    }
}
