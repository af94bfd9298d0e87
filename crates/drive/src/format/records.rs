//! Segment specifications, session plans and drive manifests.

use super::FormatError;
use super::codec::{Dec, Enc};
use super::envelope::Sealed;

/// Plaintext bytes per range (4 MiB); the last range of a segment may be shorter.
pub const RANGE_SIZE: u32 = 4 << 20;
/// Bytes a stored range adds to its plaintext: a 24-byte nonce and a 16-byte tag.
pub const RANGE_OVERHEAD: u64 = 24 + 16;
/// Largest manifest file (framing included) a writer makes and a reader reads: enough for the
/// checksums of 8 TiB of ranges, or about 150 000 files with their names, per drive. A
/// reader holds the manifest decoded in memory, so this bounds what a drive can make it hold.
pub const MAX_MANIFEST_LEN: u64 = 64 << 20;
/// At most this many drives per set: as many as an import job holds (one vocabulary, the job
/// service's).
pub use seedship_jobs::MAX_DRIVES;
/// Largest file the format carries: one spanning every drive of a full set, each drive's
/// manifest holding as many range checksums as fit it (80 TiB). Decoders refuse larger
/// `file_size`s, so the sizes a manifest declares for spans on other drives stay bounded.
pub const MAX_FILE_SIZE: u64 = MAX_DRIVES as u64 * (MAX_MANIFEST_LEN / 32) * RANGE_SIZE as u64;
/// Magic at the start of a manifest file.
pub const MANIFEST_MAGIC: [u8; 8] = *b"SSMANIF1";
/// How a drive's ranges are sealed: the version of the plan and manifest encodings says which
/// (the encodings are otherwise the same). Sealed values (manifests, wrapped keys, plans) are
/// XChaCha20-Poly1305 in every version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RangeCipher {
    /// Version 1: XChaCha20-Poly1305 under the drive key.
    XChaCha20Poly1305,
    /// Version 2: AES-256-GCM under a key derived per range from the drive key and the first
    /// half of the range's nonce (see docs/design.md, "Data file"). Where the processor has
    /// AES instructions it seals and opens several times as fast, so a drive is no longer
    /// the slowest step of an export or of a restore from it.
    Aes256Gcm,
}

impl RangeCipher {
    /// What new drives are written with.
    pub const CURRENT: Self = Self::Aes256Gcm;

    /// The format version that records this cipher.
    pub fn version(self) -> u32 {
        match self {
            Self::XChaCha20Poly1305 => 1,
            Self::Aes256Gcm => 2,
        }
    }

    fn decode(d: &mut Dec<'_>) -> Result<Self, FormatError> {
        match d.u32("version")? {
            1 => Ok(Self::XChaCha20Poly1305),
            2 => Ok(Self::Aes256Gcm),
            version => Err(FormatError::UnsupportedVersion { version }),
        }
    }
}

/// How the import service stores a file: block objects (default) or page blobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobType {
    /// A block object (any length).
    Block,
    /// A page blob: length must be a multiple of 512.
    Page,
}

/// What the import service does when the destination already exists: the job service's
/// [`seedship_jobs::Disposition`], stored as one byte.
pub use seedship_jobs::Disposition;

impl BlobType {
    fn code(self) -> u8 {
        match self {
            BlobType::Block => 0,
            BlobType::Page => 1,
        }
    }
    fn from_code(code: u8) -> Result<Self, FormatError> {
        match code {
            0 => Ok(BlobType::Block),
            1 => Ok(BlobType::Page),
            _ => Err(FormatError::Invalid { what: "blob type" }),
        }
    }
}

/// A disposition's byte in plans and manifests.
fn disposition_code(disposition: Disposition) -> u8 {
    match disposition {
        Disposition::Rename => 0,
        Disposition::NoOverwrite => 1,
        Disposition::Overwrite => 2,
    }
}

fn disposition_from_code(code: u8) -> Result<Disposition, FormatError> {
    match code {
        0 => Ok(Disposition::Rename),
        1 => Ok(Disposition::NoOverwrite),
        2 => Ok(Disposition::Overwrite),
        _ => Err(FormatError::Invalid { what: "disposition" }),
    }
}

/// One segment: a byte span of one source file stored as one data file on one drive.
/// A file that fits on a drive is one segment; a file spanning drives has one per drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSpec {
    /// Segment number, unique within a session on a drive; names the data file.
    pub segment: u64,
    /// File number, unique within a drive set's session; joins a file's segments across drives.
    pub file_id: u64,
    /// Index of the source root (dataset) the file came from.
    pub root: u32,
    /// Path relative to the source root, `/`-separated, as raw bytes.
    pub path: Vec<u8>,
    /// Destination object name (`container/prefix/path`).
    pub dst: String,
    /// Destination blob type.
    pub blob_type: BlobType,
    /// What to do when the destination exists.
    pub disposition: Disposition,
    /// Length of the whole source file.
    pub file_size: u64,
    /// Source modification time in nanoseconds since the Unix epoch (resume refuses a change).
    pub mtime_ns: i64,
    /// Offset of this segment in the file.
    pub offset: u64,
    /// Length of this segment.
    pub len: u64,
    /// Contents of the dataset's metadata file, if any (passed on to the import service).
    pub metadata: Option<Vec<u8>>,
    /// Contents of the dataset's properties file, if any.
    pub properties: Option<Vec<u8>>,
}

impl SegmentSpec {
    /// Number of ranges in this segment (an empty segment has none).
    pub fn range_count(&self, range_size: u32) -> u64 {
        self.len.div_ceil(u64::from(range_size.max(1)))
    }
    /// Plaintext length of range `index`.
    pub fn range_len(&self, range_size: u32, index: u64) -> u64 {
        let start = index.saturating_mul(u64::from(range_size));
        self.len.saturating_sub(start).min(u64::from(range_size))
    }
    /// Length of the segment's data file on the drive.
    pub fn stored_len(&self, range_size: u32) -> u64 {
        self.len + self.range_count(range_size) * RANGE_OVERHEAD
    }
    /// Offset in the data file where stored range `index` starts (the file's length for
    /// `index == range_count`).
    pub fn stored_offset(&self, range_size: u32, index: u64) -> u64 {
        if index >= self.range_count(range_size) {
            self.stored_len(range_size)
        } else {
            index * (u64::from(range_size) + RANGE_OVERHEAD)
        }
    }
    /// Whether this segment ends the file (its manifest entry carries the file checksum).
    pub fn is_last(&self) -> bool {
        self.offset + self.len == self.file_size
    }

    pub(crate) fn encode(&self, e: &mut Enc) {
        e.u64(self.segment);
        e.u64(self.file_id);
        e.u32(self.root);
        e.bytes(&self.path);
        e.bytes(self.dst.as_bytes());
        e.u8(self.blob_type.code());
        e.u8(disposition_code(self.disposition));
        e.u64(self.file_size);
        e.i64(self.mtime_ns);
        e.u64(self.offset);
        e.u64(self.len);
        e.opt_bytes(self.metadata.as_deref());
        e.opt_bytes(self.properties.as_deref());
    }

    pub(crate) fn decode(d: &mut Dec<'_>) -> Result<Self, FormatError> {
        let spec = SegmentSpec {
            segment: d.u64("segment number")?,
            file_id: d.u64("file id")?,
            root: d.u32("source root")?,
            path: d.bytes("path")?,
            dst: d.string("destination")?,
            blob_type: BlobType::from_code(d.u8("blob type")?)?,
            disposition: disposition_from_code(d.u8("disposition")?)?,
            file_size: d.u64("file size")?,
            mtime_ns: d.i64("mtime")?,
            offset: d.u64("segment offset")?,
            len: d.u64("segment length")?,
            metadata: d.opt_bytes("metadata")?,
            properties: d.opt_bytes("properties")?,
        };
        if spec.file_size > MAX_FILE_SIZE {
            return Err(FormatError::Invalid { what: "file size" });
        }
        if spec
            .offset
            .checked_add(spec.len)
            .is_none_or(|end| end > spec.file_size)
        {
            return Err(FormatError::Invalid { what: "segment span" });
        }
        Ok(spec)
    }
}

/// Smallest possible encoded [`SegmentSpec`], for list-count sanity checks.
const MIN_SEGMENT: usize = 8 + 8 + 4 + 4 + 4 + 1 + 1 + 8 + 8 + 8 + 8 + 1 + 1;

/// Which drive of which set a session's journal and manifest belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetPosition {
    /// Random id shared by every drive of one session's drive set.
    pub set_id: [u8; 16],
    /// 1-based position of this drive in the set.
    pub drive_index: u8,
    /// Number of drives in the set.
    pub drive_count: u8,
}

impl SetPosition {
    fn encode(&self, e: &mut Enc) {
        e.raw(&self.set_id);
        e.u8(self.drive_index);
        e.u8(self.drive_count);
    }
    fn decode(d: &mut Dec<'_>) -> Result<Self, FormatError> {
        let pos = SetPosition {
            set_id: d.array("set id")?,
            drive_index: d.u8("drive index")?,
            drive_count: d.u8("drive count")?,
        };
        if pos.drive_index == 0
            || pos.drive_index > pos.drive_count
            || usize::from(pos.drive_count) > MAX_DRIVES
        {
            return Err(FormatError::Invalid { what: "drive index" });
        }
        Ok(pos)
    }
}

/// A session's work on one drive, fixed before copying and kept (sealed) in the journal so
/// that resume continues exactly the same copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Copy session id (also the directory on the drive).
    pub session_id: String,
    /// Position of this drive in the session's drive set.
    pub position: SetPosition,
    /// How the ranges are sealed (recorded as the encoding's version).
    pub range_cipher: RangeCipher,
    /// Plaintext bytes per range.
    pub range_size: u32,
    /// Absolute source roots (datasets), as raw path bytes.
    pub roots: Vec<Vec<u8>>,
    /// The segments this drive receives, in copy order.
    pub segments: Vec<SegmentSpec>,
}

impl Plan {
    /// Encodes the plan: `version u32 || session || position || range_size u32 || roots || segments`.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u32(self.range_cipher.version());
        e.bytes(self.session_id.as_bytes());
        self.position.encode(&mut e);
        e.u32(self.range_size);
        e.count(self.roots.len());
        for root in &self.roots {
            e.bytes(root);
        }
        e.count(self.segments.len());
        for seg in &self.segments {
            seg.encode(&mut e);
        }
        e.0
    }

    /// Decodes [`Plan::encode`]'s output.
    ///
    /// # Errors
    /// [`FormatError`] when the bytes are truncated, carry trailing data or invalid values.
    pub fn decode(buf: &[u8]) -> Result<Self, FormatError> {
        let mut d = Dec::new(buf);
        let range_cipher = RangeCipher::decode(&mut d)?;
        let session_id = d.string("session id")?;
        let position = SetPosition::decode(&mut d)?;
        let range_size = check_range_size(d.u32("range size")?)?;
        let n = d.count(4, "roots")?;
        let roots = (0..n).map(|_| d.bytes("root")).collect::<Result<Vec<_>, _>>()?;
        let n = d.count(MIN_SEGMENT, "segments")?;
        let segments = (0..n)
            .map(|_| SegmentSpec::decode(&mut d))
            .collect::<Result<Vec<_>, _>>()?;
        d.finish("plan")?;
        Ok(Plan {
            session_id,
            position,
            range_cipher,
            range_size,
            roots,
            segments,
        })
    }
}

/// The range size is recorded so that a later format version can change it; this one reads
/// [`RANGE_SIZE`] only, which also bounds what one range makes a reader allocate.
fn check_range_size(size: u32) -> Result<u32, FormatError> {
    if size == RANGE_SIZE {
        Ok(size)
    } else {
        Err(FormatError::RangeSize {
            found: size,
            expected: RANGE_SIZE,
        })
    }
}

/// One manifest entry: a segment with the checksum of every stored range and, on a file's
/// last segment, the checksum of the whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// What the segment holds.
    pub spec: SegmentSpec,
    /// BLAKE3 of the whole plaintext file; present on the file's last segment only.
    pub file_hash: Option<[u8; 32]>,
    /// BLAKE3 of each stored range (`nonce || ciphertext || tag`), in order.
    pub ranges: Vec<[u8; 32]>,
}

/// The list of everything one session put on one drive. Stored encrypted on the drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Copy session id.
    pub session_id: String,
    /// The drive's id (also in the drive's marker file).
    pub drive_id: [u8; 16],
    /// Position of the drive in the session's set.
    pub position: SetPosition,
    /// How the ranges are sealed (recorded as the encoding's version).
    pub range_cipher: RangeCipher,
    /// Plaintext bytes per range.
    pub range_size: u32,
    /// One entry per segment, ordered by segment number.
    pub entries: Vec<ManifestEntry>,
}

impl Manifest {
    /// Encodes the manifest plaintext:
    /// `version u32 || session || drive_id[16] || position || range_size u32 || entries`.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u32(self.range_cipher.version());
        e.bytes(self.session_id.as_bytes());
        e.raw(&self.drive_id);
        self.position.encode(&mut e);
        e.u32(self.range_size);
        e.count(self.entries.len());
        for entry in &self.entries {
            entry.spec.encode(&mut e);
            match &entry.file_hash {
                None => e.u8(0),
                Some(hash) => {
                    e.u8(1);
                    e.raw(hash);
                }
            }
            e.count(entry.ranges.len());
            for range in &entry.ranges {
                e.raw(range);
            }
        }
        e.0
    }

    /// Decodes [`Manifest::encode`]'s output and checks each entry's range count.
    ///
    /// # Errors
    /// [`FormatError`] when the bytes are truncated, carry trailing data or invalid values.
    pub fn decode(buf: &[u8]) -> Result<Self, FormatError> {
        let mut d = Dec::new(buf);
        let range_cipher = RangeCipher::decode(&mut d)?;
        let session_id = d.string("session id")?;
        let drive_id = d.array("drive id")?;
        let position = SetPosition::decode(&mut d)?;
        let range_size = check_range_size(d.u32("range size")?)?;
        let n = d.count(MIN_SEGMENT + 5, "entries")?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let spec = SegmentSpec::decode(&mut d)?;
            let file_hash = match d.u8("file hash flag")? {
                0 => None,
                1 => Some(d.array("file hash")?),
                _ => {
                    return Err(FormatError::Invalid {
                        what: "file hash flag",
                    });
                }
            };
            let count = d.count(32, "range checksums")?;
            if count as u64 != spec.range_count(range_size) {
                return Err(FormatError::Invalid { what: "range count" });
            }
            let ranges = (0..count)
                .map(|_| d.array("range checksum"))
                .collect::<Result<Vec<_>, _>>()?;
            entries.push(ManifestEntry {
                spec,
                file_hash,
                ranges,
            });
        }
        d.finish("manifest")?;
        check_layout(&position, &entries)?;
        Ok(Manifest {
            session_id,
            drive_id,
            position,
            range_cipher,
            range_size,
            entries,
        })
    }
}

/// Checks that the entries are laid out as the planner lays out a drive: files in order, the
/// first of which may continue a file from the drive before and the last of which may continue
/// on the drive after. Only those two can declare bytes that this drive does not hold.
fn check_layout(position: &SetPosition, entries: &[ManifestEntry]) -> Result<(), FormatError> {
    let last = entries.len().saturating_sub(1);
    for (i, entry) in entries.iter().enumerate() {
        let spec = &entry.spec;
        let from_before = i == 0 && position.drive_index > 1;
        let onto_after = i == last && position.drive_index < position.drive_count;
        if (spec.offset > 0 && !from_before) || (!spec.is_last() && !onto_after) {
            return Err(FormatError::Invalid {
                what: "segment layout (only a drive's first and last file may span drives)",
            });
        }
    }
    Ok(())
}

/// Encodes a manifest file: `MANIFEST_MAGIC || sealed manifest`.
pub fn encode_manifest_file(sealed: &Sealed) -> Vec<u8> {
    let mut out = MANIFEST_MAGIC.to_vec();
    out.extend_from_slice(&sealed.encode());
    out
}

/// Splits a manifest file into its sealed body.
///
/// # Errors
/// [`FormatError::BadMagic`] or a truncation error.
pub fn decode_manifest_file(buf: &[u8]) -> Result<Sealed, FormatError> {
    let mut d = Dec::new(buf);
    if d.raw(MANIFEST_MAGIC.len(), "manifest magic")? != MANIFEST_MAGIC {
        return Err(FormatError::BadMagic { what: "manifest" });
    }
    Sealed::decode(d.rest())
}

/// Associated data binding a stored range to its place:
/// `"seedship-range-1" || drive_id || u32 len || session || segment u64 || index u64 || last u8`.
pub fn range_aad(drive_id: &[u8; 16], session_id: &str, segment: u64, index: u64, last: bool) -> Vec<u8> {
    let mut e = Enc::default();
    e.raw(b"seedship-range-1");
    e.raw(drive_id);
    e.bytes(session_id.as_bytes());
    e.u64(segment);
    e.u64(index);
    e.u8(u8::from(last));
    e.0
}

/// Associated data for a sealed value of `kind` (manifest, plan, file hash) on a drive.
pub fn value_aad(kind: &str, drive_id: &[u8; 16], session_id: &str, number: u64) -> Vec<u8> {
    let mut e = Enc::default();
    e.raw(b"seedship-value-1");
    e.bytes(kind.as_bytes());
    e.raw(drive_id);
    e.bytes(session_id.as_bytes());
    e.u64(number);
    e.0
}
