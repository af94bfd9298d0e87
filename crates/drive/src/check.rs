//! Checking one segment on a drive against its manifest entry, range by range, with
//! bounded memory; shared by `verify` and the import reader.

use crate::copy;
use crate::crypto::DriveKey;
use crate::error::{Error, Result};
use crate::format::{self, ManifestEntry, RANGE_OVERHEAD};
use std::fs::File;
use std::io::{Read, Write};
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
    pub(crate) range_size: u32,
    pub(crate) key: &'a DriveKey,
    pub(crate) entry: &'a ManifestEntry,
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Checks every range of a segment. Plaintext of good ranges goes to `hasher` and `sink`;
/// a bad range sends zeros of its length instead, so offsets stay right.
pub(crate) fn check_segment(
    r: &SegmentRef<'_>,
    mut hasher: Option<&mut blake3::Hasher>,
    mut sink: Option<&mut dyn Write>,
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
    let mut file = match File::open(&path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(&path)(e)),
    };
    if let Some(f) = &file {
        check.found_len = Some(f.metadata().map_err(Error::io(&path))?.len());
    }
    let mut buf = Vec::with_capacity(r.range_size as usize + RANGE_OVERHEAD as usize);
    // stands in for a bad range; never written to, so it stays zeros
    let mut zeros = Vec::new();
    for idx in 0..count {
        let len = spec.range_len(r.range_size, idx);
        let want = (len + RANGE_OVERHEAD) as usize;
        buf.resize(want, 0);
        let got = match &mut file {
            Some(f) => read_up_to(f, &mut buf).map_err(Error::io(&path))?,
            None => 0,
        };
        let opened = if got == 0 {
            Err(RangeStatus::Missing)
        } else if got < want {
            Err(RangeStatus::Truncated)
        } else if blake3::hash(&buf).as_bytes() != &r.entry.ranges[idx as usize] {
            Err(RangeStatus::Changed)
        } else {
            let aad = format::range_aad(r.drive_id, r.session_id, spec.segment, idx, idx + 1 == count);
            r.key.open_in_place(&aad, &mut buf).ok_or(RangeStatus::Changed)
        };
        let plain = match opened {
            Ok(plain) => plain,
            Err(status) => {
                check.bad_ranges.push(RangeProblem {
                    index: idx,
                    file_offset: spec.offset + idx * u64::from(r.range_size),
                    len,
                    status,
                });
                zeros.resize(zeros.len().max(len as usize), 0);
                &zeros[..len as usize]
            }
        };
        if let Some(h) = hasher.as_deref_mut() {
            h.update(plain);
        }
        if let Some(s) = sink.as_deref_mut() {
            s.write_all(plain).map_err(Error::io("<output>"))?;
        }
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
