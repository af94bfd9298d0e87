//! What an export job copies out of a vault: the vault, the snapshot selection, the owner's
//! public key the drive keys will be wrapped to, and the list of repository objects.
//!
//! The list is computed where the repository password is (the owner's client): the server
//! cannot read a restic repository, so it only checks that every object named exists in the
//! vault with the size given (see docs/design.md "Export jobs").

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The most objects one export may list: the job stores the list beside the job, and the
/// request that carries it is bounded (see docs/http-api.md).
pub const MAX_EXPORT_OBJECTS: usize = 500_000;

/// Longest host or path filter accepted (bytes).
pub const MAX_FILTER_TEXT: usize = 4096;

/// Most snapshot, host or path filters of one export.
pub const MAX_FILTERS: usize = 100;

/// One object of a restic repository, by its path in the repository layout (`config`,
/// `keys/<id>`, `snapshots/<id>`, `index/<id>`, `data/<id[..2]>/<id>`), with its size.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ExportObject {
    /// The object's path in the repository.
    pub name: String,
    /// Its size in bytes, as stored.
    pub size: u64,
}

/// The export part of a [`crate::JobSpec`] (export jobs only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSpec {
    /// The vault to export (one of the account's vaults).
    pub vault: String,
    /// Snapshot ids (8 to 64 lowercase hex digits, a unique prefix) or `latest`; empty: no
    /// snapshot filter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<String>,
    /// Only snapshots of these hosts (any of them); empty: every host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Only snapshots that back up each of these paths; empty: every snapshot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// The vault owner's X25519 public key (a `seedship keygen` `.pub` file's text): the
    /// export writer wraps each drive key to it, never to a key the data centre keeps.
    pub owner_key: String,
    /// The objects to copy. Required with a snapshot, host or path filter (the owner's client
    /// computes it); for a whole-vault export the server lists the vault when it is empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ExportObject>,
}

impl ExportSpec {
    /// Whether the export is the whole vault (no snapshot, host or path filter).
    pub fn is_whole_vault(&self) -> bool {
        self.snapshots.is_empty() && self.hosts.is_empty() && self.paths.is_empty()
    }
}

/// What an export job records of its [`ExportSpec`]: everything but the object list, which
/// the server stores beside the job (it can be large), and its totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// The vault.
    pub vault: String,
    /// The snapshot filter as given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<String>,
    /// The host filter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// The path filter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// The owner's public key.
    pub owner_key: String,
    /// Objects to copy.
    pub objects: u64,
    /// Their total size: what the drives must hold.
    pub bytes: u64,
    /// Drives the arrival deadline declared never received (they were announced in the
    /// shipping information but did not come).
    #[serde(default)]
    pub drives_never_received: u32,
}

/// Whether `text` is a snapshot reference: `latest`, or 8 to 64 lowercase hex digits.
pub fn is_snapshot_ref(text: &str) -> bool {
    text == "latest" || ((8..=64).contains(&text.len()) && is_lower_hex(text))
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `name` is the path of a restic repository object: `config`, `keys/<id>`,
/// `snapshots/<id>`, `index/<id>` or `data/<id[..2]>/<id>`, with `<id>` 64 lowercase hex
/// digits. Locks are not part of an export.
pub fn is_repository_object(name: &str) -> bool {
    let id = |text: &str| text.len() == 64 && is_lower_hex(text);
    if name == "config" {
        return true;
    }
    match name.split_once('/') {
        Some(("keys" | "snapshots" | "index", rest)) => id(rest),
        Some(("data", rest)) => rest
            .split_once('/')
            .is_some_and(|(folder, rest)| id(rest) && rest.starts_with(folder) && folder.len() == 2),
        _ => false,
    }
}

impl ExportSpec {
    /// Checks every field and returns what the job records.
    pub(crate) fn check(self) -> Result<Export, Error> {
        if self.vault.trim().is_empty() {
            return Err(Error::MissingField {
                field: "export.vault".into(),
            });
        }
        if self.owner_key.trim().is_empty() {
            return Err(Error::MissingField {
                field: "export.owner_key".into(),
            });
        }
        for (field, list) in [
            ("export.snapshots", &self.snapshots),
            ("export.hosts", &self.hosts),
            ("export.paths", &self.paths),
        ] {
            if list.len() > MAX_FILTERS {
                return Err(Error::ValueTooLarge {
                    field: field.into(),
                    value: list.len() as u64,
                    max: MAX_FILTERS as u64,
                });
            }
            for (index, text) in list.iter().enumerate() {
                let field = format!("{field}[{index}]");
                if text.trim().is_empty() {
                    return Err(Error::MissingField { field });
                }
                if text.len() > MAX_FILTER_TEXT {
                    return Err(Error::ValueTooLarge {
                        field,
                        value: text.len() as u64,
                        max: MAX_FILTER_TEXT as u64,
                    });
                }
            }
        }
        for (index, snapshot) in self.snapshots.iter().enumerate() {
            if !is_snapshot_ref(snapshot) {
                return Err(Error::SnapshotRefInvalid {
                    field: format!("export.snapshots[{index}]"),
                    snapshot: snapshot.clone(),
                });
            }
        }
        if self.objects.is_empty() {
            // A filtered selection needs the repository password to compute.
            return Err(Error::MissingField {
                field: "export.objects".into(),
            });
        }
        if self.objects.len() > MAX_EXPORT_OBJECTS {
            return Err(Error::ValueTooLarge {
                field: "export.objects".into(),
                value: self.objects.len() as u64,
                max: MAX_EXPORT_OBJECTS as u64,
            });
        }
        let mut names = std::collections::BTreeSet::new();
        let mut bytes = 0u64;
        for (index, object) in self.objects.iter().enumerate() {
            if !is_repository_object(&object.name) {
                return Err(Error::ObjectNameInvalid {
                    field: format!("export.objects[{index}].name"),
                    name: object.name.clone(),
                });
            }
            if !names.insert(object.name.as_str()) {
                return Err(Error::DuplicateObject {
                    name: object.name.clone(),
                });
            }
            if object.size > crate::MAX_DRIVE_BYTES {
                return Err(Error::ValueTooLarge {
                    field: format!("export.objects[{index}].size"),
                    value: object.size,
                    max: crate::MAX_DRIVE_BYTES,
                });
            }
            // bounded: MAX_EXPORT_OBJECTS objects of at most MAX_DRIVE_BYTES (2^50) each
            bytes += object.size;
        }
        // Without these the drives would not hold a repository anyone can open.
        for (needed, found) in [
            ("config", names.contains("config")),
            ("keys/<id>", names.iter().any(|n| n.starts_with("keys/"))),
            (
                "snapshots/<id>",
                names.iter().any(|n| n.starts_with("snapshots/")),
            ),
        ] {
            if !found {
                return Err(Error::IncompleteRepository { missing: needed });
            }
        }
        Ok(Export {
            objects: self.objects.len() as u64,
            bytes,
            vault: self.vault,
            snapshots: self.snapshots,
            hosts: self.hosts,
            paths: self.paths,
            owner_key: self.owner_key,
            drives_never_received: 0,
        })
    }
}
