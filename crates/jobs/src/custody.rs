//! The chain of custody: an append-only, hash-chained log of everything that happens to a job.
//!
//! Entry `i` carries `prev` (the hash of entry `i-1`, or the job's genesis hash for entry 0)
//! and `hash = BLAKE3(prev as 32 raw bytes || canonical JSON of the entry without "hash")`.
//! The genesis hash is `BLAKE3("seedship-custody-v1\n" || account || "\n" || job name)`, so an
//! entry cannot be moved to another job's log. See docs/design.md "Chain of custody".

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, OffsetDateTime};

use crate::actor::Actor;
use crate::canonical;
use crate::device::DeviceInfo;
use crate::job::{Address, Contact};
use crate::log::DriveStatus;
use crate::state::{DriveState, JobState};
use crate::timefmt;

/// A BLAKE3 hash in the chain, serialised as 64 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash(blake3::Hash);

impl ChainHash {
    /// The hash from 64 hex digits.
    ///
    /// # Errors
    /// The text is not 64 hex digits.
    pub fn from_hex(hex: &str) -> Result<Self, blake3::HexError> {
        blake3::Hash::from_hex(hex).map(Self)
    }

    /// The hash as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.0.to_hex().to_string()
    }

    /// The hash that entry 0 of job `job` of account `account` chains from.
    pub fn genesis(account: &str, job: &str) -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"seedship-custody-v1\n");
        hasher.update(account.as_bytes());
        hasher.update(b"\n");
        hasher.update(job.as_bytes());
        Self(hasher.finalize())
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for ChainHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ChainHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// How a drive's contents and key material were destroyed after import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureRecord {
    /// The method, e.g. `"overwrite-random-1-pass"`.
    pub method: String,
    /// Bytes overwritten.
    pub bytes_overwritten: u64,
    /// Whether the drive's wrapped key and any unwrapped copy were destroyed.
    pub key_material_destroyed: bool,
    /// How the erasure was checked, e.g. `"read back 64 sampled blocks: none held data"`.
    pub verification: String,
}

/// What happened. Serialised with a `"kind"` member naming the variant in snake_case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CustodyEvent {
    /// The job was created with these drives.
    Created {
        /// The data centre's region.
        region: String,
        /// The drive ids.
        drives: Vec<String>,
    },
    /// The device behind a drive when it was prepared (recorded with the drive, when its
    /// journal names one), so the data centre can match the physical drive.
    DriveDevice {
        /// The drive id.
        drive: String,
        /// What the preparing system knew of the device.
        device: DeviceInfo,
    },
    /// A drive was added while Creating.
    DriveAdded {
        /// The drive id.
        drive: String,
    },
    /// The shipping information was recorded.
    Shipped {
        /// Carrier.
        carrier: String,
        /// Normalised tracking number.
        tracking_number: String,
        /// Ship date.
        #[serde(with = "timefmt::date")]
        ship_date: Date,
        /// Drives declared in the package.
        drive_count: u32,
    },
    /// The owner corrected the shipping information while Shipping: the values now recorded.
    ShippingCorrected {
        /// Carrier.
        carrier: String,
        /// Normalised tracking number.
        tracking_number: String,
        /// Ship date.
        #[serde(with = "timefmt::date")]
        ship_date: Date,
    },
    /// The owner changed the contact or the return address: the values now recorded.
    ContactChanged {
        /// Who to contact.
        contact: Contact,
        /// Where the drives go back to.
        return_address: Address,
    },
    /// The owner cancelled the job.
    Cancelled,
    /// A drive arrived at the data centre.
    DriveReceived {
        /// The drive id.
        drive: String,
    },
    /// Blank drives of an export job that the shipping information announced did not arrive
    /// by the arrival deadline.
    BlankDrivesNeverReceived {
        /// How many.
        count: u32,
    },
    /// A drive was declared never received.
    DriveNeverReceived {
        /// The drive id.
        drive: String,
    },
    /// The copy of a drive into the storage account started.
    TransferStarted {
        /// The drive id.
        drive: String,
    },
    /// The copy of a drive ended.
    TransferFinished {
        /// The drive id.
        drive: String,
        /// The drive-level status of its log.
        status: DriveStatus,
        /// Blobs in the log.
        blobs: u64,
        /// Blobs with errors.
        blobs_failed: u64,
        /// Problems a repair must fix.
        problems: u64,
        /// Bytes of completed blobs.
        bytes: u64,
        /// BLAKE3 of the copy log's JSON (hex), binding the log to the chain.
        copy_log_hash: String,
    },
    /// A repair re-sent data over the network.
    Repaired {
        /// The drive id.
        drive: String,
        /// Problems fixed by this repair.
        fixed: u64,
        /// Problems still open.
        remaining: u64,
    },
    /// A drive's contents and key material were destroyed.
    Erased {
        /// The drive id.
        drive: String,
        /// How.
        record: ErasureRecord,
    },
    /// The drives went back to the customer.
    ShippedBack {
        /// Carrier.
        carrier: String,
        /// Tracking number of the return shipment.
        tracking_number: String,
        /// The drives in the return package.
        drives: Vec<String>,
    },
    /// The owner deleted the blobs the job imported (everything under its destination prefix in
    /// the container), once the job had ended: what was deleted.
    ImportedDeleted {
        /// The folder deleted (the job's destination prefix).
        prefix: String,
        /// Blobs deleted.
        blobs: u64,
        /// Their bytes.
        bytes: u64,
    },
    /// The job changed state.
    JobStateChanged {
        /// Old state.
        from: JobState,
        /// New state.
        to: JobState,
    },
    /// A drive changed state.
    DriveStateChanged {
        /// The drive id.
        drive: String,
        /// Old state.
        from: DriveState,
        /// New state.
        to: DriveState,
    },
}

impl fmt::Display for CustodyEvent {
    /// One line a person reads (`job custody`); the JSON form is the record.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Created { region, drives } => {
                write!(f, "created in region {region} with {} drive(s)", drives.len())
            }
            Self::DriveAdded { drive } => write!(f, "drive {drive} added"),
            Self::DriveDevice { drive, device } => write!(f, "drive {drive} is {device}"),
            Self::Shipped {
                carrier,
                tracking_number,
                ship_date,
                drive_count,
            } => write!(
                f,
                "shipped {drive_count} drive(s) with {carrier}, tracking number {tracking_number}, on {ship_date}"
            ),
            Self::ShippingCorrected {
                carrier,
                tracking_number,
                ship_date,
            } => write!(
                f,
                "shipping corrected: {carrier}, tracking number {tracking_number}, shipped on {ship_date}"
            ),
            Self::ContactChanged {
                contact,
                return_address,
            } => write!(
                f,
                "contact changed: {} <{}>, return address {}, {}",
                contact.name, contact.email, return_address.city, return_address.country
            ),
            Self::Cancelled => f.write_str("cancelled"),
            Self::DriveReceived { drive } => write!(f, "drive {drive} received"),
            Self::BlankDrivesNeverReceived { count } => {
                write!(f, "{count} announced blank drive(s) declared never received")
            }
            Self::DriveNeverReceived { drive } => write!(f, "drive {drive} declared never received"),
            Self::TransferStarted { drive } => write!(f, "drive {drive}: transfer started"),
            Self::TransferFinished {
                drive,
                status,
                blobs,
                blobs_failed,
                problems,
                bytes,
                ..
            } => write!(
                f,
                "drive {drive}: transfer finished, {status:?}: {blobs} blob(s), {bytes} bytes, \
                 {blobs_failed} failed, {problems} problem(s) to repair"
            ),
            Self::Repaired {
                drive,
                fixed,
                remaining,
            } => write!(f, "drive {drive}: repaired {fixed} problem(s), {remaining} left"),
            Self::Erased { drive, record } => write!(
                f,
                "drive {drive} erased ({}, {} bytes; {})",
                record.method, record.bytes_overwritten, record.verification
            ),
            Self::ShippedBack {
                carrier,
                tracking_number,
                drives,
            } => write!(
                f,
                "{} drive(s) shipped back with {carrier}, tracking number {tracking_number}",
                drives.len()
            ),
            Self::ImportedDeleted { prefix, blobs, bytes } => {
                write!(
                    f,
                    "imported blobs deleted: {blobs} blob(s), {bytes} bytes under {prefix}/"
                )
            }
            Self::JobStateChanged { from, to } => write!(f, "job {from} -> {to}"),
            Self::DriveStateChanged { drive, from, to } => write!(f, "drive {drive} {from} -> {to}"),
        }
    }
}

/// One entry of a custody log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodyEntry {
    /// Position in the log, from 0.
    pub seq: u64,
    /// When (UTC, millisecond precision).
    #[serde(with = "timefmt")]
    pub at: OffsetDateTime,
    /// Who.
    pub actor: Actor,
    /// What.
    pub event: CustodyEvent,
    /// The previous entry's hash (the genesis hash for entry 0).
    pub prev: ChainHash,
    /// This entry's hash.
    pub hash: ChainHash,
}

/// The part of an entry its hash covers: everything but the hash.
#[derive(Serialize)]
struct Hashed<'a> {
    seq: u64,
    #[serde(with = "timefmt")]
    at: OffsetDateTime,
    actor: &'a Actor,
    event: &'a CustodyEvent,
    prev: ChainHash,
}

impl CustodyEntry {
    /// The canonical JSON of the entry without its `hash` member: what the hash covers.
    ///
    /// # Errors
    /// Only if serde_json fails, which these types do not provoke.
    pub fn canonical_json(&self) -> Result<String, serde_json::Error> {
        let hashed = Hashed {
            seq: self.seq,
            at: self.at,
            actor: &self.actor,
            event: &self.event,
            prev: self.prev,
        };
        let value = serde_json::to_value(hashed)?;
        let mut out = String::new();
        canonical::write(&value, &mut out);
        Ok(out)
    }

    /// The hash the entry should carry given its other members.
    ///
    /// # Errors
    /// As [`CustodyEntry::canonical_json`].
    pub fn compute_hash(&self) -> Result<ChainHash, serde_json::Error> {
        let body = self.canonical_json()?;
        let mut hasher = blake3::Hasher::new();
        hasher.update(self.prev.0.as_bytes());
        hasher.update(body.as_bytes());
        Ok(ChainHash(hasher.finalize()))
    }
}

/// Why a custody log does not verify. Indices and sequence numbers name the first broken entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CustodyError {
    /// The entry at `index` carries sequence number `found` (an entry was deleted, inserted or
    /// moved before it).
    #[error(
        "custody entry {index} carries sequence number {found}, expected {index}: an entry was removed, inserted or reordered"
    )]
    SequenceBroken {
        /// Position in the log.
        index: usize,
        /// The sequence number it carries.
        found: u64,
    },
    /// The entry's `prev` is not the previous entry's hash.
    #[error("custody entry {index} does not chain from the entry before it: an entry was replaced or moved")]
    PrevMismatch {
        /// Position in the log.
        index: usize,
    },
    /// The entry's contents do not match its hash.
    #[error("custody entry {index} was modified: its contents do not match its hash")]
    HashMismatch {
        /// Position in the log.
        index: usize,
    },
    /// The entry cannot be serialised for hashing.
    #[error("custody entry {index} cannot be serialised: {message}")]
    Unserialisable {
        /// Position in the log.
        index: usize,
        /// serde_json's message.
        message: String,
    },
    /// The chain is intact but does not end at the head recorded beside it (entries were cut
    /// off the end, or the whole log was replaced).
    #[error("the custody log of {len} entries ends at {found}, not at the recorded head {expected}")]
    HeadMismatch {
        /// Entries in the log.
        len: usize,
        /// The head recorded with the job.
        expected: String,
        /// The head of the log as found (the genesis hash when empty).
        found: String,
    },
}

/// A job's custody log. Only the [`Job`](crate::Job) methods add entries; nothing removes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CustodyLog {
    entries: Vec<CustodyEntry>,
}

impl CustodyLog {
    /// A log from stored entries (verify it with [`verify_chain`] before trusting it).
    pub fn from_entries(entries: Vec<CustodyEntry>) -> Self {
        Self { entries }
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[CustodyEntry] {
        &self.entries
    }

    /// The last entry's hash, or the genesis hash of an empty log.
    pub fn head(&self, account: &str, job: &str) -> ChainHash {
        self.entries
            .last()
            .map_or_else(|| ChainHash::genesis(account, job), |e| e.hash)
    }

    /// Appends an event and returns the new entry.
    ///
    /// # Errors
    /// Only if the entry cannot be serialised, which these types do not provoke.
    pub(crate) fn append(
        &mut self,
        account: &str,
        job: &str,
        at: OffsetDateTime,
        actor: &Actor,
        event: CustodyEvent,
    ) -> Result<&CustodyEntry, serde_json::Error> {
        let prev = self.head(account, job);
        let mut entry = CustodyEntry {
            seq: self.entries.len() as u64,
            at: timefmt::normalise(at),
            actor: actor.clone(),
            event,
            prev,
            hash: prev,
        };
        entry.hash = entry.compute_hash()?;
        self.entries.push(entry);
        Ok(&self.entries[self.entries.len() - 1])
    }
}

/// Verifies the custody log `entries` of job `job` of account `account`.
///
/// With `expected_head` (the head hash the server stored beside the job), also detects
/// entries cut off the end.
///
/// # Errors
/// [`CustodyError`] naming the first broken entry.
pub fn verify_chain(
    account: &str,
    job: &str,
    entries: &[CustodyEntry],
    expected_head: Option<&ChainHash>,
) -> Result<(), CustodyError> {
    let mut prev = ChainHash::genesis(account, job);
    for (index, entry) in entries.iter().enumerate() {
        if entry.seq != index as u64 {
            return Err(CustodyError::SequenceBroken {
                index,
                found: entry.seq,
            });
        }
        if entry.prev != prev {
            return Err(CustodyError::PrevMismatch { index });
        }
        let computed = entry.compute_hash().map_err(|e| CustodyError::Unserialisable {
            index,
            message: e.to_string(),
        })?;
        if computed != entry.hash {
            return Err(CustodyError::HashMismatch { index });
        }
        prev = entry.hash;
    }
    match expected_head {
        Some(expected) if *expected != prev => Err(CustodyError::HeadMismatch {
            len: entries.len(),
            expected: expected.to_hex(),
            found: prev.to_hex(),
        }),
        _ => Ok(()),
    }
}
