//! The data centre's side of an export job, against the seedship HTTP API
//! ([`seedship_api::Client`]): [`write`] copies the objects of the job's vault onto the owner's
//! blank drives in the drive format (`seedship-drive`: ranges, manifest, spanning, one journal
//! per drive kept off the drives), with each drive key wrapped to the vault owner's public key
//! and put on the drive, then verifies each drive, ends its transfer with a copy log and
//! forgets the passphrase that let the data centre resume: once written, a drive opens only
//! with the owner's private key.
//!
//! Objects are read from the job service (`GET .../export-objects/{object}`, operator only)
//! and checked as they stream: a restic object's name is the SHA-256 of its contents, so an
//! object the store damaged stops the write, naming it, before it reaches a drive.

mod error;
mod objects;
mod write;

pub use error::Error;
pub use write::{Aborted, DriveWritten, WriteOptions, Written, abort, journal_path, receive_blank, write};

/// A result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
