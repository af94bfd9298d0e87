//! Checking one segment on a drive against its manifest entry, range by range, with
//! bounded memory; shared by `verify` and the import reader.

use crate::copy;
use crate::crypto::DriveKey;
use crate::error::{Error, Result};
use crate::format::{self, ManifestEntry, RANGE_OVERHEAD, RangeCipher};
use crate::fsutil;
use std::fs::File;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// How a segment's data file compares with its manifest entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentStatus {
    /// Every range matches.
    Ok,
    /// At least one range's bytes differ (or the whole-file checksum does not match).
    Changed,
    /// The data file is shorter than recorded.
    Truncated,
    /// The data file is gone.
    Missing,
    /// Every range matches but the data file has extra bytes after them.
    Oversized,
}

/// How a range compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeStatus {
    /// Checksum or authentication fails.
    Changed,
    /// Only part of the range is present.
    Truncated,
    /// None of the range is present.
    Missing,
}

impl std::fmt::Display for RangeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RangeStatus::Changed => "do not verify (checksum or authentication fails)",
            RangeStatus::Truncated => "are cut short (the data file is truncated)",
            RangeStatus::Missing => "are missing",
        })
    }
}

/// A range that does not match.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RangeProblem {
    /// Range index within the segment.
    pub index: u64,
    /// Offset of the range's plaintext in the source file.
    pub file_offset: u64,
    /// Plaintext length of the range.
    pub len: u64,
    /// What is wrong.
    pub status: RangeStatus,
}

/// The check of one segment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SegmentCheck {
    /// Session of the segment.
    pub session_id: String,
    /// Segment number.
    pub segment: u64,
    /// Source path relative to its root (lossy UTF-8).
    pub path: String,
    /// Destination object name.
    pub dst: String,
    /// The data file on the drive.
    pub drive_file: PathBuf,
    /// Offset of the segment in the source file.
    pub file_offset: u64,
    /// Plaintext length of the segment.
    pub len: u64,
    /// Ranges in the segment.
    pub ranges: u64,
    /// Expected length of the data file.
    pub stored_len: u64,
    /// Length found (`None` when missing).
    pub found_len: Option<u64>,
    /// Overall result.
    pub status: SegmentStatus,
    /// The ranges that do not match.
    pub bad_ranges: Vec<RangeProblem>,
}

/// Where a segment lives and how to open it.
pub(crate) struct SegmentRef<'a> {
    pub(crate) drive: &'a Path,
    pub(crate) drive_id: &'a [u8; 16],
    pub(crate) session_id: &'a str,
    pub(crate) range_cipher: RangeCipher,
    pub(crate) range_size: u32,
    pub(crate) key: &'a DriveKey,
    pub(crate) entry: &'a ManifestEntry,
}

/// Replaces `buf`'s contents with up to `want` bytes of `file` (fewer at its end), reading
/// into spare capacity without zeroing it first.
pub(crate) fn read_up_to(file: &mut File, want: usize, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    buf.clear();
    buf.reserve(want);
    file.take(want as u64).read_to_end(buf)
}

/// How much of each range is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeChecks {
    /// The manifest's BLAKE3 of the stored bytes, then authenticated decryption.
    All,
    /// Authenticated decryption only: for readers whose whole-file BLAKE3 is checked by
    /// whoever receives the bytes, which catches the one thing the range checksum adds (a
    /// stored range that authenticates but is not the one the manifest records).
    Authentication,
}

/// Where a reader puts the plaintext of each range, handed over in the buffer it was read and
/// decrypted in, so that a consumer that passes buffers on (an upload) copies nothing.
pub trait RangeSink {
    /// A buffer to read the next stored range into (its contents are replaced).
    fn buffer(&mut self) -> Vec<u8>;
    /// Takes the next range's plaintext: `buf[plain]`.
    ///
    /// # Errors
    /// Whatever the consumer fails with; the read stops there.
    fn put(&mut self, buf: Vec<u8>, plain: Range<usize>) -> std::io::Result<()>;
}

/// A [`RangeSink`] that writes each range to a [`Write`], reading every range into one buffer.
pub struct WriteSink<'a> {
    out: &'a mut dyn Write,
    spare: Vec<u8>,
}

impl<'a> WriteSink<'a> {
    /// Writes to `out`.
    pub fn new(out: &'a mut dyn Write) -> Self {
        Self::with_buffer(out, Vec::new())
    }

    /// Writes to `out`, reading ranges into `buf` (kept from an earlier sink, see
    /// [`WriteSink::into_buffer`]).
    pub(crate) fn with_buffer(out: &'a mut dyn Write, buf: Vec<u8>) -> Self {
        WriteSink { out, spare: buf }
    }

    /// The buffer, for the next sink.
    pub(crate) fn into_buffer(self) -> Vec<u8> {
        self.spare
    }
}

impl RangeSink for WriteSink<'_> {
    fn buffer(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.spare)
    }

    fn put(&mut self, buf: Vec<u8>, plain: Range<usize>) -> std::io::Result<()> {
        let written = self.out.write_all(&buf[plain]);
        self.spare = buf;
        written
    }
}

/// Checks and decrypts range `idx` of segment `r`, whose stored bytes (`got` of the `want`
/// its length needs) are in `buf`: the manifest's BLAKE3 of the stored bytes (with
/// [`RangeChecks::All`]), then the authenticated decryption, in place. Answers where the
/// plaintext is in `buf`, or what is wrong.
pub(crate) fn open_range(
    r: &SegmentRef<'_>,
    checks: RangeChecks,
    idx: u64,
    buf: &mut [u8],
    got: usize,
    want: usize,
) -> std::result::Result<Range<usize>, RangeStatus> {
    let spec = &r.entry.spec;
    if got == 0 {
        Err(RangeStatus::Missing)
    } else if got < want {
        Err(RangeStatus::Truncated)
    } else if checks == RangeChecks::All
        && blake3::hash(&buf[..got]).as_bytes() != &r.entry.ranges[idx as usize]
    {
        Err(RangeStatus::Changed)
    } else {
        let last = idx + 1 == spec.range_count(r.range_size);
        let aad = format::range_aad(r.drive_id, r.session_id, spec.segment, idx, last);
        r.key
            .open_in_place(r.range_cipher, &aad, &mut buf[..got])
            .ok_or(RangeStatus::Changed)
    }
}

/// Checks every range of a segment. Plaintext of good ranges goes to `hasher` and `sink`;
/// a bad range sends zeros of its length instead, so offsets stay right.
pub(crate) fn check_segment(
    r: &SegmentRef<'_>,
    checks: RangeChecks,
    mut hasher: Option<&mut blake3::Hasher>,
    sink: &mut dyn RangeSink,
) -> Result<SegmentCheck> {
    let spec = &r.entry.spec;
    let path = copy::data_file(r.drive, r.session_id, spec.segment);
    let count = spec.range_count(r.range_size);
    let stored_len = spec.stored_len(r.range_size);
    let mut check = SegmentCheck {
        session_id: r.session_id.to_owned(),
        segment: spec.segment,
        path: String::from_utf8_lossy(&spec.path).into_owned(),
        dst: spec.dst.clone(),
        drive_file: path.clone(),
        file_offset: spec.offset,
        len: spec.len,
        ranges: count,
        stored_len,
        found_len: None,
        status: SegmentStatus::Ok,
        bad_ranges: Vec::new(),
    };
    let mut file = fsutil::open_drive_file(r.drive, &path)?;
    if let Some(f) = &file {
        check.found_len = Some(f.metadata().map_err(Error::io(&path))?.len());
    }
    for idx in 0..count {
        let len = spec.range_len(r.range_size, idx);
        let want = (len + RANGE_OVERHEAD) as usize;
        let mut buf = sink.buffer();
        let got = match &mut file {
            Some(f) => read_up_to(f, want, &mut buf).map_err(Error::io(&path))?,
            None => 0,
        };
        let plain = match open_range(r, checks, idx, &mut buf, got, want) {
            Ok(plain) => plain,
            Err(status) => {
                check.bad_ranges.push(RangeProblem {
                    index: idx,
                    file_offset: spec.offset + idx * u64::from(r.range_size),
                    len,
                    status,
                });
                buf.clear();
                buf.resize(len as usize, 0);
                0..len as usize
            }
        };
        if let Some(h) = hasher.as_deref_mut() {
            h.update(&buf[plain.clone()]);
        }
        sink.put(buf, plain).map_err(Error::io("<output>"))?;
    }
    check.status = match check.found_len {
        None => SegmentStatus::Missing,
        Some(found) if found < stored_len => SegmentStatus::Truncated,
        _ if !check.bad_ranges.is_empty() => SegmentStatus::Changed,
        Some(found) if found > stored_len => SegmentStatus::Oversized,
        _ => SegmentStatus::Ok,
    };
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{BlobType, Disposition, NONCE_LEN, SegmentSpec};

    const RANGE: u32 = 1024;

    /// Segment 0 of session `s1`: a file of two ranges, with range checksums `ranges`.
    fn two_ranges(ranges: Vec<[u8; 32]>) -> ManifestEntry {
        ManifestEntry {
            spec: SegmentSpec {
                segment: 0,
                file_id: 0,
                root: 0,
                path: b"f".to_vec(),
                dst: "c/f".to_owned(),
                blob_type: BlobType::Block,
                disposition: Disposition::Overwrite,
                file_size: 2 * u64::from(RANGE),
                mtime_ns: 0,
                offset: 0,
                len: 2 * u64::from(RANGE),
                metadata: None,
                properties: None,
            },
            file_hash: None,
            ranges,
        }
    }

    const CIPHERS: [RangeCipher; 2] = [RangeCipher::XChaCha20Poly1305, RangeCipher::Aes256Gcm];

    /// Seals `plain` with `cipher` as range `index` of segment 0 (of two ranges) of session `s1`.
    fn seal(cipher: RangeCipher, key: &DriveKey, drive_id: &[u8; 16], index: u64, plain: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; NONCE_LEN];
        buf.extend_from_slice(plain);
        let aad = format::range_aad(drive_id, "s1", 0, index, index == 1);
        key.seal_in_place(cipher, &aad, &mut buf).expect("seal");
        buf
    }

    /// A range sealed twice at one position authenticates either way; only the manifest's
    /// checksum tells which one it recorded. This is why a reader that checks the AEAD tag
    /// alone (design rule 10) needs its receiver's whole-file check.
    #[test]
    fn a_range_sealed_twice_authenticates_and_only_the_checksum_tells() {
        for cipher in CIPHERS {
            sealed_twice(cipher);
        }
    }

    fn sealed_twice(cipher: RangeCipher) {
        let seal = |key: &DriveKey, drive_id: &[u8; 16], index: u64, plain: &[u8]| {
            seal(cipher, key, drive_id, index, plain)
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let key = DriveKey::generate().expect("key");
        let drive_id = [7u8; 16];
        let first = vec![1u8; RANGE as usize];
        let second = vec![2u8; RANGE as usize];
        let recorded = [
            seal(&key, &drive_id, 0, &first),
            seal(&key, &drive_id, 1, &second),
        ];
        let entry = two_ranges(recorded.iter().map(|r| *blake3::hash(r).as_bytes()).collect());
        // on the drive: range 0 sealed again, over other bytes
        let path = copy::data_file(dir.path(), "s1", 0);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let resealed = seal(&key, &drive_id, 0, &[3u8; RANGE as usize]);
        std::fs::write(&path, [resealed, recorded[1].clone()].concat()).expect("write");
        let seg = SegmentRef {
            drive: dir.path(),
            drive_id: &drive_id,
            session_id: "s1",
            range_cipher: cipher,
            range_size: RANGE,
            key: &key,
            entry: &entry,
        };
        let read = |checks| {
            let mut out = Vec::new();
            let check = check_segment(&seg, checks, None, &mut WriteSink::new(&mut out)).expect("check");
            (check, out)
        };
        let (all, zeroed) = read(RangeChecks::All);
        assert_eq!(all.status, SegmentStatus::Changed);
        assert_eq!(all.bad_ranges.len(), 1);
        assert_eq!(all.bad_ranges[0].index, 0);
        assert_eq!(zeroed, [vec![0u8; RANGE as usize], second.clone()].concat());
        let (authenticated, plain) = read(RangeChecks::Authentication);
        assert_eq!(authenticated.status, SegmentStatus::Ok);
        assert_eq!(plain, [vec![3u8; RANGE as usize], second].concat());
        assert_ne!(
            blake3::hash(&plain),
            blake3::hash(&[first, vec![2u8; RANGE as usize]].concat())
        );
    }

    /// A range is read with the cipher its manifest records, and no other opens it: a manifest
    /// whose version was changed names every range as changed.
    #[test]
    fn a_range_opens_only_with_the_cipher_it_was_sealed_with() {
        let key = DriveKey::generate().expect("key");
        let drive_id = [7u8; 16];
        let plain = vec![5u8; RANGE as usize];
        let entry = two_ranges(Vec::new());
        for sealed_with in CIPHERS {
            let stored = seal(sealed_with, &key, &drive_id, 0, &plain);
            for read_with in CIPHERS {
                let seg = SegmentRef {
                    drive: Path::new("/nonexistent"),
                    drive_id: &drive_id,
                    session_id: "s1",
                    range_cipher: read_with,
                    range_size: RANGE,
                    key: &key,
                    entry: &entry,
                };
                let mut buf = stored.clone();
                let len = buf.len();
                let opened = open_range(&seg, RangeChecks::Authentication, 0, &mut buf, len, len);
                if sealed_with == read_with {
                    let at = opened.expect("opens with its own cipher");
                    assert_eq!(buf[at], plain[..], "{sealed_with:?}");
                } else {
                    assert_eq!(
                        opened,
                        Err(RangeStatus::Changed),
                        "{sealed_with:?} read as {read_with:?}"
                    );
                }
            }
        }
    }
}
