//! The job and its drives: creation rules, transitions, and the job state derived from the
//! drives. Every public method validates completely before changing anything: a refused call
//! leaves the job exactly as it was (it works on a copy and commits on success).

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::actor::{Actor, Role};
use crate::custody::{ChainHash, CustodyEvent, CustodyLog, ErasureRecord};
use crate::device::DeviceInfo;
use crate::disposition::Disposition;
use crate::error::Error;
use crate::export::{Export, ExportSpec};
use crate::log::{DriveLog, Problem};
use crate::name::JobName;
use crate::state::{DriveState, JobState};
use crate::timefmt;

/// The most drives one job may hold.
pub const MAX_DRIVES: usize = 10;

/// The most copy sessions one drive of a job may carry (each one manifest of at most 64 MiB,
/// which the import holds in memory while it reads the drive).
pub const MAX_SESSIONS_PER_DRIVE: usize = 16;

/// The most bytes one drive may declare: 1 PiB, far above any disk, and small enough that
/// the totals of a job ([`MAX_DRIVES`] drives) cannot overflow.
pub const MAX_DRIVE_BYTES: u64 = 1 << 50;

/// Import or export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobType {
    /// Drives carry data into a storage account.
    Import,
    /// Blank drives carry a vault (or snapshots of it) back to its owner.
    Export,
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Recipient (person or organisation).
    pub recipient: String,
    /// Street lines.
    pub street: Vec<String>,
    /// City.
    pub city: String,
    /// Postal code (may be empty where none exists).
    pub postal_code: String,
    /// Country.
    pub country: String,
    /// Phone number for the carrier.
    pub phone: String,
}

/// Who to contact about the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Phone number (may be empty).
    pub phone: String,
}

/// One data centre drives can be shipped to: an entry of the server's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataCentre {
    /// The region name jobs refer to, e.g. `"eu-west"`.
    pub region: String,
    /// The data centre's display name.
    pub name: String,
    /// Where customers ship drives to.
    pub shipping_address: Address,
}

/// The server's configured data centres (a list in its configuration file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DataCentres(Vec<DataCentre>);

impl DataCentres {
    /// The list.
    pub fn new(data_centres: Vec<DataCentre>) -> Self {
        Self(data_centres)
    }

    /// The data centre of `region`.
    pub fn find(&self, region: &str) -> Option<&DataCentre> {
        self.0.iter().find(|dc| dc.region == region)
    }

    /// All data centres.
    pub fn all(&self) -> &[DataCentre] {
        &self.0
    }
}

/// Where the imported files go (empty for an export job).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// The storage account.
    pub storage_account: String,
    /// The container in it.
    pub container: String,
    /// The prefix ("virtual directory") every blob name starts with; may be empty.
    pub prefix: String,
    /// What to do when a blob name exists.
    pub disposition: Disposition,
}

/// How the drives come back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnShipping {
    /// The return carrier.
    pub carrier: String,
    /// The customer's account number with that carrier (pays for the return).
    pub account_number: String,
    /// The return address.
    pub address: Address,
}

/// A drive as named at job creation, taken from its journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveSpec {
    /// The drive id.
    pub drive_id: String,
    /// The drive key, wrapped to the import service's public key (opaque here).
    pub wrapped_key: String,
    /// The hash of the manifest of the drive's last session.
    pub manifest_hash: String,
    /// The hashes of the manifests of the drive's earlier sessions, oldest first (a drive
    /// that several `drive prepare` sessions wrote); every session is imported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_manifest_hashes: Vec<String>,
    /// The bytes of data on the drive, all sessions (for progress); 0 if unknown.
    pub bytes: u64,
    /// The device behind the drive directory when it was prepared (from the journal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceInfo>,
}

/// What the owner asks for to create a job. The account is the creating owner's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The job name (validated by [`JobName::parse`]).
    pub name: String,
    /// Import or export.
    pub job_type: JobType,
    /// Where the files go (import only; omitted for an export).
    #[serde(default)]
    pub destination: Destination,
    /// The data centre's region.
    pub region: String,
    /// Who to contact.
    pub contact: Contact,
    /// How the drives come back.
    pub return_shipping: ReturnShipping,
    /// The drives, 1 to [`MAX_DRIVES`] (import only: an export's blank drives join the job
    /// as they arrive).
    #[serde(default)]
    pub drives: Vec<DriveSpec>,
    /// What to export (export only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportSpec>,
}

/// The shipping information the owner records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipRequest {
    /// The carrier.
    pub carrier: String,
    /// The tracking number (normalised with [`normalise_tracking_number`]).
    pub tracking_number: String,
    /// When the package was handed to the carrier.
    #[serde(with = "timefmt::date")]
    pub ship_date: Date,
    /// How many drives are in the package; must equal an import job's drives, and be 1 to
    /// [`MAX_DRIVES`] blank drives for an export.
    pub drive_count: u32,
}

/// Corrections to a job's details ([`Job::update`]): each value given replaces the one
/// recorded; what is not given stays. The shipping details (carrier, tracking number, ship
/// date) can be corrected while the job is Shipping, the contact and return address until
/// the job has ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobUpdate {
    /// The carrier that took the package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// The package's tracking number (normalised with [`normalise_tracking_number`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// The day the package left.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "timefmt::date::option"
    )]
    pub ship_date: Option<Date>,
    /// Who to contact (the whole contact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// Where the drives go back to (the whole address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_address: Option<Address>,
}

impl JobUpdate {
    /// Whether it corrects the shipping details.
    pub fn corrects_shipping(&self) -> bool {
        self.carrier.is_some() || self.tracking_number.is_some() || self.ship_date.is_some()
    }

    /// Whether it changes the contact or the return address.
    pub fn changes_contact(&self) -> bool {
        self.contact.is_some() || self.return_address.is_some()
    }
}

/// The recorded shipping information.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingInfo {
    /// The carrier.
    pub carrier: String,
    /// The normalised tracking number (unique across all jobs).
    pub tracking_number: String,
    /// Ship date.
    #[serde(with = "timefmt::date")]
    pub ship_date: Date,
    /// Drives in the package.
    pub drive_count: u32,
    /// When the information was recorded (the NeverReceived deadline runs from here).
    #[serde(with = "timefmt")]
    pub recorded_at: OffsetDateTime,
}

/// The return shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnShipment {
    /// The carrier (the job's return carrier).
    pub carrier: String,
    /// Tracking number of the return package.
    pub tracking_number: String,
    /// When the drives were shipped back.
    #[serde(with = "timefmt")]
    pub shipped_at: OffsetDateTime,
}

/// The outcome of a drive's transfer, from its copy log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferOutcome {
    /// The log's drive-level status.
    pub status: crate::log::DriveStatus,
    /// Blobs with rename/skip/overwrite warnings.
    pub warnings: u64,
    /// What is still to be repaired (shrinks with each repair).
    pub problems: Vec<Problem>,
    /// BLAKE3 (hex) of the canonical JSON of the copy log.
    pub copy_log_hash: String,
}

/// When something entered a state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateTime<S> {
    /// The state entered.
    pub state: S,
    /// When.
    #[serde(with = "timefmt")]
    pub at: OffsetDateTime,
}

/// One drive of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drive {
    /// The drive id.
    pub drive_id: String,
    /// The wrapped drive key; emptied when an erasure destroyed the key material.
    pub wrapped_key: String,
    /// The hash of the manifest of the drive's last session, from the journal.
    pub manifest_hash: String,
    /// The hashes of the manifests of the drive's earlier sessions, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_manifest_hashes: Vec<String>,
    /// Bytes of data on the drive (0 if unknown).
    pub bytes: u64,
    /// The device behind the drive directory when it was prepared, to match the physical drive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceInfo>,
    /// Bytes transferred so far.
    pub bytes_done: u64,
    /// The current state.
    pub state: DriveState,
    /// Every state entered, oldest first.
    pub history: Vec<StateTime<DriveState>>,
    /// The transfer's outcome once finished.
    pub transfer: Option<TransferOutcome>,
    /// The erasure record once erased.
    pub erasure: Option<ErasureRecord>,
}

impl Drive {
    /// The hashes of the manifests of every session on the drive, oldest first: what the
    /// import reads.
    pub fn manifest_hashes(&self) -> Vec<&str> {
        self.earlier_manifest_hashes
            .iter()
            .map(String::as_str)
            .chain([self.manifest_hash.as_str()])
            .collect()
    }

    /// Whether the drive ended with anything but a clean transfer: never received, open
    /// problems, or warnings. Such a drive makes the job end Closed rather than Completed.
    pub fn has_open_issues(&self) -> bool {
        self.state == DriveState::NeverReceived
            || self
                .transfer
                .as_ref()
                .is_none_or(|t| t.warnings > 0 || !t.problems.is_empty())
    }
}

/// An import/export job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    name: JobName,
    account: String,
    job_type: JobType,
    destination: Destination,
    data_centre: DataCentre,
    contact: Contact,
    return_shipping: ReturnShipping,
    drives: Vec<Drive>,
    shipping: Option<ShippingInfo>,
    return_shipment: Option<ReturnShipment>,
    state: JobState,
    history: Vec<StateTime<JobState>>,
    custody: CustodyLog,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    export: Option<Export>,
}

/// Normalises a tracking number for storage and uniqueness checks: whitespace removed,
/// ASCII letters uppercased.
pub fn normalise_tracking_number(tracking_number: &str) -> String {
    tracking_number
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn required(field: impl Into<String>, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        Err(Error::MissingField { field: field.into() })
    } else {
        Ok(())
    }
}

fn check_address(field: &str, address: &Address) -> Result<(), Error> {
    required(format!("{field}.recipient"), &address.recipient)?;
    if address.street.iter().all(|line| line.trim().is_empty()) {
        return Err(Error::MissingField {
            field: format!("{field}.street"),
        });
    }
    required(format!("{field}.city"), &address.city)?;
    required(format!("{field}.country"), &address.country)
}

fn check_drive_spec(index: usize, drive: &DriveSpec) -> Result<(), Error> {
    let field = format!("drives[{index}].drive_id");
    required(field.clone(), &drive.drive_id)?;
    if !crate::names::is_drive_id(&drive.drive_id) {
        return Err(Error::DriveIdInvalid {
            field,
            drive_id: drive.drive_id.clone(),
        });
    }
    if drive.bytes > MAX_DRIVE_BYTES {
        return Err(Error::ValueTooLarge {
            field: format!("drives[{index}].bytes"),
            value: drive.bytes,
            max: MAX_DRIVE_BYTES,
        });
    }
    required(format!("drives[{index}].wrapped_key"), &drive.wrapped_key)?;
    required(format!("drives[{index}].manifest_hash"), &drive.manifest_hash)?;
    let earlier = &drive.earlier_manifest_hashes;
    if earlier.len() >= MAX_SESSIONS_PER_DRIVE {
        return Err(Error::ValueTooLarge {
            field: format!("drives[{index}].earlier_manifest_hashes"),
            value: earlier.len() as u64,
            max: MAX_SESSIONS_PER_DRIVE as u64 - 1,
        });
    }
    for (session, hash) in earlier.iter().enumerate() {
        required(
            format!("drives[{index}].earlier_manifest_hashes[{session}]"),
            hash,
        )?;
    }
    match &drive.device {
        Some(device) => device.check(&format!("drives[{index}].device")),
        None => Ok(()),
    }
}

impl Job {
    /// Creates an import job for the owner `actor` (the job's account is `actor.id`).
    ///
    /// `name_taken` answers whether the account already has a job of that name.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] unless `actor` is an owner; [`Error::JobNameInvalid`],
    /// [`Error::JobNameTaken`], [`Error::ExportNotSupported`], [`Error::UnknownRegion`],
    /// [`Error::MissingField`], [`Error::NoDrives`], [`Error::TooManyDrives`],
    /// [`Error::DuplicateDrive`].
    pub fn create(
        spec: JobSpec,
        data_centres: &DataCentres,
        name_taken: impl FnOnce(&JobName) -> bool,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Job, Error> {
        if actor.role != Role::Owner {
            return Err(not_permitted("create a job", actor));
        }
        let name = JobName::parse(&spec.name).map_err(|reason| Error::JobNameInvalid {
            name: spec.name.clone(),
            reason,
        })?;
        if name_taken(&name) {
            return Err(Error::JobNameTaken { name: spec.name });
        }
        let data_centre = data_centres
            .find(&spec.region)
            .cloned()
            .ok_or_else(|| Error::UnknownRegion {
                region: spec.region.clone(),
                known: data_centres
                    .all()
                    .iter()
                    .map(|dc| dc.region.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let export = match spec.job_type {
            JobType::Import => {
                if spec.export.is_some() {
                    return Err(wrong_type("an export section", spec.job_type));
                }
                required("destination.storage_account", &spec.destination.storage_account)?;
                required("destination.container", &spec.destination.container)?;
                let folder = spec.destination.folder();
                if !folder.is_empty() {
                    crate::names::check_blob_name(folder)
                        .map_err(|reason| Error::PrefixInvalid { reason })?;
                }
                None
            }
            JobType::Export => {
                if spec.destination != Destination::default() {
                    return Err(wrong_type("a destination container", spec.job_type));
                }
                if !spec.drives.is_empty() {
                    // blank drives have no id, key or manifest yet: they join when they arrive
                    return Err(wrong_type("a drive list", spec.job_type));
                }
                let export = spec.export.clone().ok_or_else(|| Error::MissingField {
                    field: "export".into(),
                })?;
                Some(export.check()?)
            }
        };
        required("contact.name", &spec.contact.name)?;
        required("contact.email", &spec.contact.email)?;
        required("return_shipping.carrier", &spec.return_shipping.carrier)?;
        required(
            "return_shipping.account_number",
            &spec.return_shipping.account_number,
        )?;
        check_address("return_shipping.address", &spec.return_shipping.address)?;
        if spec.drives.is_empty() && export.is_none() {
            return Err(Error::NoDrives);
        }
        if spec.drives.len() > MAX_DRIVES {
            return Err(Error::TooManyDrives {
                count: spec.drives.len(),
                max: MAX_DRIVES,
            });
        }
        for (index, drive) in spec.drives.iter().enumerate() {
            check_drive_spec(index, drive)?;
            if spec.drives[..index].iter().any(|d| d.drive_id == drive.drive_id) {
                return Err(Error::DuplicateDrive {
                    drive_id: drive.drive_id.clone(),
                });
            }
        }
        let now = timefmt::normalise(now);
        let mut job = Job {
            account: actor.id.clone(),
            name,
            job_type: spec.job_type,
            destination: spec.destination,
            data_centre,
            contact: spec.contact,
            return_shipping: spec.return_shipping,
            drives: spec.drives.into_iter().map(|d| new_drive(d, now)).collect(),
            shipping: None,
            return_shipment: None,
            state: JobState::Creating,
            history: vec![StateTime {
                state: JobState::Creating,
                at: now,
            }],
            custody: CustodyLog::default(),
            export,
        };
        let event = CustodyEvent::Created {
            region: job.data_centre.region.clone(),
            drives: job.drives.iter().map(|d| d.drive_id.clone()).collect(),
        };
        job.record(actor, now, event)?;
        for index in 0..job.drives.len() {
            job.record_device(index, actor, now)?;
        }
        Ok(job)
    }

    /// Adds a drive while the job is Creating.
    ///
    /// # Errors
    /// [`Error::NotPermitted`], [`Error::NotInThisState`], [`Error::TooManyDrives`] for an
    /// 11th drive, [`Error::DuplicateDrive`], [`Error::MissingField`].
    pub fn add_drive(&mut self, drive: DriveSpec, actor: &Actor, now: OffsetDateTime) -> Result<(), Error> {
        self.transact(|job| {
            job.permit(actor, &[Role::Owner], "add a drive")?;
            if job.export.is_some() {
                return Err(wrong_type("adding a drive", job.job_type));
            }
            job.require_state(&[JobState::Creating], "add a drive")?;
            if job.drives.len() >= MAX_DRIVES {
                return Err(Error::TooManyDrives {
                    count: job.drives.len() + 1,
                    max: MAX_DRIVES,
                });
            }
            check_drive_spec(job.drives.len(), &drive)?;
            if job.drives.iter().any(|d| d.drive_id == drive.drive_id) {
                return Err(Error::DuplicateDrive {
                    drive_id: drive.drive_id,
                });
            }
            let now = timefmt::normalise(now);
            job.record(
                actor,
                now,
                CustodyEvent::DriveAdded {
                    drive: drive.drive_id.clone(),
                },
            )?;
            job.drives.push(new_drive(drive, now));
            job.record_device(job.drives.len() - 1, actor, now)
        })
    }

    /// Checks shipping information without recording it (the "review before confirming"
    /// step) and returns what [`Job::ship`] would record.
    ///
    /// `tracking_taken` answers whether another job already uses a (normalised) tracking
    /// number.
    ///
    /// # Errors
    /// As [`Job::ship`].
    pub fn check_ship(
        &self,
        request: &ShipRequest,
        tracking_taken: impl FnOnce(&str) -> bool,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<ShippingInfo, Error> {
        self.permit(actor, &[Role::Owner], "record shipping information")?;
        if self.state != JobState::Creating {
            return Err(Error::IllegalTransition {
                from: self.state,
                to: JobState::Shipping,
            });
        }
        required("carrier", &request.carrier)?;
        let tracking_number = normalise_tracking_number(&request.tracking_number);
        required("tracking_number", &tracking_number)?;
        if self.export.is_some() {
            // the blank drives the data centre will write
            if request.drive_count == 0 {
                return Err(Error::NoDrives);
            }
            if request.drive_count as usize > MAX_DRIVES {
                return Err(Error::TooManyDrives {
                    count: request.drive_count as usize,
                    max: MAX_DRIVES,
                });
            }
        } else if request.drive_count as usize != self.drives.len() {
            return Err(Error::DriveCountMismatch {
                declared: request.drive_count,
                actual: self.drives.len(),
            });
        }
        let now = timefmt::normalise(now);
        if request.ship_date > now.date() {
            return Err(Error::ShipDateInFuture {
                ship_date: request.ship_date,
                today: now.date(),
            });
        }
        if tracking_taken(&tracking_number) {
            return Err(Error::DuplicateTrackingNumber { tracking_number });
        }
        Ok(ShippingInfo {
            carrier: request.carrier.trim().to_owned(),
            tracking_number,
            ship_date: request.ship_date,
            drive_count: request.drive_count,
            recorded_at: now,
        })
    }

    /// Records the shipping information: Creating -> Shipping.
    ///
    /// # Errors
    /// [`Error::NotPermitted`], [`Error::IllegalTransition`] unless Creating,
    /// [`Error::MissingField`], [`Error::DriveCountMismatch`], [`Error::ShipDateInFuture`],
    /// [`Error::DuplicateTrackingNumber`].
    pub fn ship(
        &mut self,
        request: &ShipRequest,
        tracking_taken: impl FnOnce(&str) -> bool,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let info = self.check_ship(request, tracking_taken, actor, now)?;
        self.transact(|job| {
            let event = CustodyEvent::Shipped {
                carrier: info.carrier.clone(),
                tracking_number: info.tracking_number.clone(),
                ship_date: info.ship_date,
                drive_count: info.drive_count,
            };
            job.record(actor, now, event)?;
            job.shipping = Some(info);
            job.move_to(JobState::Shipping, actor, now)
        })
    }

    /// Corrects the job's details: the shipping details while Shipping (a new tracking number
    /// must be used by no other job, the ship date must not be after today), the contact and
    /// the return address until the job has ended. Each correction that changes something is
    /// one custody entry holding the new values (`shipping_corrected`, `contact_changed`); a
    /// value equal to the recorded one changes nothing and records nothing. The arrival
    /// deadline still runs from when the shipping information was first recorded.
    ///
    /// `tracking_taken` answers whether another job already uses a (normalised) tracking
    /// number; it is asked only for a tracking number that differs from the job's own.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] unless the owner, [`Error::NothingToUpdate`] for an empty
    /// update, [`Error::NotInThisState`] for shipping details outside Shipping or a contact
    /// or address of an ended job, [`Error::MissingField`] for an emptied field,
    /// [`Error::ShipDateInFuture`], [`Error::DuplicateTrackingNumber`].
    pub fn update(
        &mut self,
        update: &JobUpdate,
        tracking_taken: impl FnOnce(&str) -> bool,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        self.transact(|job| {
            job.permit(actor, &[Role::Owner], "correct the job's details")?;
            if !update.corrects_shipping() && !update.changes_contact() {
                return Err(Error::NothingToUpdate);
            }
            let now = timefmt::normalise(now);
            if update.corrects_shipping() {
                const ACTION: &str = "correct the shipping details";
                job.require_state(&[JobState::Shipping], ACTION)?;
                let current = job.shipping.clone().ok_or(Error::NotInThisState {
                    action: ACTION,
                    state: job.state,
                })?;
                let mut next = current.clone();
                if let Some(carrier) = &update.carrier {
                    required("carrier", carrier)?;
                    carrier.trim().clone_into(&mut next.carrier);
                }
                if let Some(tracking_number) = &update.tracking_number {
                    next.tracking_number = normalise_tracking_number(tracking_number);
                    required("tracking_number", &next.tracking_number)?;
                }
                if let Some(ship_date) = update.ship_date {
                    if ship_date > now.date() {
                        return Err(Error::ShipDateInFuture {
                            ship_date,
                            today: now.date(),
                        });
                    }
                    next.ship_date = ship_date;
                }
                if next.tracking_number != current.tracking_number && tracking_taken(&next.tracking_number) {
                    return Err(Error::DuplicateTrackingNumber {
                        tracking_number: next.tracking_number,
                    });
                }
                if next != current {
                    let event = CustodyEvent::ShippingCorrected {
                        carrier: next.carrier.clone(),
                        tracking_number: next.tracking_number.clone(),
                        ship_date: next.ship_date,
                    };
                    job.record(actor, now, event)?;
                    job.shipping = Some(next);
                }
            }
            if update.changes_contact() {
                if job.state.is_ended() {
                    return Err(Error::NotInThisState {
                        action: "change the contact or return address",
                        state: job.state,
                    });
                }
                let contact = update.contact.clone().unwrap_or_else(|| job.contact.clone());
                required("contact.name", &contact.name)?;
                required("contact.email", &contact.email)?;
                let address = update
                    .return_address
                    .clone()
                    .unwrap_or_else(|| job.return_shipping.address.clone());
                check_address("return_address", &address)?;
                if contact != job.contact || address != job.return_shipping.address {
                    let event = CustodyEvent::ContactChanged {
                        contact: contact.clone(),
                        return_address: address.clone(),
                    };
                    job.record(actor, now, event)?;
                    job.contact = contact;
                    job.return_shipping.address = address;
                }
            }
            Ok(())
        })
    }

    /// Cancels the job: only in Creating or Shipping, before any drive is received.
    ///
    /// # Errors
    /// [`Error::NotPermitted`], [`Error::CancelNotAllowed`].
    pub fn cancel(&mut self, actor: &Actor, now: OffsetDateTime) -> Result<(), Error> {
        self.transact(|job| {
            job.permit(actor, &[Role::Owner], "cancel the job")?;
            if !job.state.can_cancel() {
                return Err(Error::CancelNotAllowed { state: job.state });
            }
            job.record(actor, now, CustodyEvent::Cancelled)?;
            job.move_to(JobState::Cancelled, actor, now)
        })
    }

    /// A drive arrived: Specified or NeverReceived -> Received. The job becomes Received
    /// with its first drive, and goes back from Packaging to Transferring for a late drive.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] unless an operator, [`Error::NotInThisState`] unless the job
    /// is Shipping, Received, Transferring or Packaging, [`Error::UnknownDrive`],
    /// [`Error::IllegalDriveTransition`].
    pub fn receive_drive(&mut self, drive_id: &str, actor: &Actor, now: OffsetDateTime) -> Result<(), Error> {
        if self.export.is_some() {
            return self.receive_blank_drive(drive_id, actor, now);
        }
        self.drive_step(
            drive_id,
            actor,
            now,
            &[Role::Operator],
            "receive a drive",
            &[
                JobState::Shipping,
                JobState::Received,
                JobState::Transferring,
                JobState::Packaging,
            ],
            DriveState::Received,
            CustodyEvent::DriveReceived {
                drive: drive_id.to_owned(),
            },
        )
    }

    /// A blank drive of an export job arrived: it joins the job in Received (its id is the
    /// one the operator labels it with, [`crate::DRIVE_ID_LEN`] lowercase hex digits), up to
    /// the count the shipping information declared.
    fn receive_blank_drive(
        &mut self,
        drive_id: &str,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        const ACTION: &str = "receive a drive";
        self.transact(|job| {
            job.permit(actor, &[Role::Operator], ACTION)?;
            job.require_state(
                &[
                    JobState::Shipping,
                    JobState::Received,
                    JobState::Transferring,
                    JobState::Packaging,
                ],
                ACTION,
            )?;
            if !crate::names::is_drive_id(drive_id) {
                return Err(Error::DriveIdInvalid {
                    field: "drive_id".into(),
                    drive_id: drive_id.to_owned(),
                });
            }
            if let Some(drive) = job.drive(drive_id) {
                return Err(Error::IllegalDriveTransition {
                    drive_id: drive_id.to_owned(),
                    from: drive.state,
                    to: DriveState::Received,
                });
            }
            let declared = job.shipping.as_ref().map_or(0, |s| s.drive_count);
            if job.drives.len() >= declared as usize {
                return Err(Error::DriveCountMismatch {
                    declared,
                    actual: job.drives.len() + 1,
                });
            }
            let now = timefmt::normalise(now);
            job.record(
                actor,
                now,
                CustodyEvent::DriveReceived {
                    drive: drive_id.to_owned(),
                },
            )?;
            job.drives.push(Drive {
                drive_id: drive_id.to_owned(),
                wrapped_key: String::new(),
                manifest_hash: String::new(),
                earlier_manifest_hashes: Vec::new(),
                bytes: 0,
                device: None,
                bytes_done: 0,
                state: DriveState::Received,
                history: vec![StateTime {
                    state: DriveState::Received,
                    at: now,
                }],
                transfer: None,
                erasure: None,
            });
            if let Some(export) = &mut job.export {
                // a drive the arrival deadline gave up on came after all
                let awaited = declared as usize - job.drives.len();
                export.drives_never_received = export.drives_never_received.min(awaited as u32);
            }
            job.settle(actor, now)
        })
    }

    /// The arrival deadline of an export job passed with fewer blank drives than the shipping
    /// information declared: the missing ones are recorded as never received, and the job goes
    /// on with the drives it has (Packaging once they are all written). A drive that still
    /// comes later joins the job.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] unless an operator or the system, [`Error::WrongJobType`] for an
    /// import job, [`Error::NotInThisState`] unless Shipping, Received or Transferring or when
    /// no drive is awaited.
    pub fn mark_blank_drives_never_received(
        &mut self,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        const ACTION: &str = "mark blank drives never received";
        self.transact(|job| {
            job.permit(actor, &[Role::Operator, Role::System], ACTION)?;
            if job.export.is_none() {
                return Err(wrong_type("a blank drive", job.job_type));
            }
            job.require_state(
                &[JobState::Shipping, JobState::Received, JobState::Transferring],
                ACTION,
            )?;
            let missing = job.awaited_drives();
            if missing == 0 {
                return Err(Error::NotInThisState {
                    action: ACTION,
                    state: job.state,
                });
            }
            job.record(
                actor,
                now,
                CustodyEvent::BlankDrivesNeverReceived {
                    count: missing as u32,
                },
            )?;
            if let Some(export) = &mut job.export {
                export.drives_never_received += missing as u32;
            }
            job.settle(actor, now)
        })
    }

    /// Blank drives of an export job that the shipping information announced and that have
    /// neither arrived nor been given up on; 0 for an import job (its drives are listed).
    pub fn awaited_drives(&self) -> usize {
        match (&self.export, &self.shipping) {
            (Some(export), Some(shipping)) => (shipping.drive_count as usize)
                .saturating_sub(self.drives.len() + export.drives_never_received as usize),
            _ => 0,
        }
    }

    /// A drive is not in the package or did not arrive in time: Specified -> NeverReceived.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] unless an operator or the system, [`Error::NotInThisState`]
    /// unless the job is Shipping, Received or Transferring, [`Error::UnknownDrive`],
    /// [`Error::IllegalDriveTransition`].
    pub fn mark_never_received(
        &mut self,
        drive_id: &str,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        self.drive_step(
            drive_id,
            actor,
            now,
            &[Role::Operator, Role::System],
            "mark a drive never received",
            &[JobState::Shipping, JobState::Received, JobState::Transferring],
            DriveState::NeverReceived,
            CustodyEvent::DriveNeverReceived {
                drive: drive_id.to_owned(),
            },
        )
    }

    /// The copy of a drive starts: Received -> Transferring; the job becomes Transferring.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] unless an operator, [`Error::NotInThisState`] unless the job
    /// is Received or Transferring, [`Error::UnknownDrive`], [`Error::IllegalDriveTransition`].
    pub fn start_transfer(
        &mut self,
        drive_id: &str,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        self.drive_step(
            drive_id,
            actor,
            now,
            &[Role::Operator],
            "start a transfer",
            &[JobState::Received, JobState::Transferring],
            DriveState::Transferring,
            CustodyEvent::TransferStarted {
                drive: drive_id.to_owned(),
            },
        )
    }

    /// Records how many bytes of a transferring drive are done (for progress; no custody
    /// entry). Values above the drive's size are capped at it.
    ///
    /// # Errors
    /// [`Error::NotPermitted`], [`Error::UnknownDrive`], [`Error::DriveNotInThisState`]
    /// unless the drive is Transferring.
    pub fn record_progress(&mut self, drive_id: &str, bytes_done: u64, actor: &Actor) -> Result<(), Error> {
        self.permit(actor, &[Role::Operator], "record transfer progress")?;
        let index = self.drive_index(drive_id)?;
        let drive = &mut self.drives[index];
        if drive.state != DriveState::Transferring {
            return Err(Error::DriveNotInThisState {
                action: "record progress of",
                drive_id: drive_id.to_owned(),
                state: drive.state,
            });
        }
        drive.bytes_done = if drive.bytes > 0 {
            bytes_done.min(drive.bytes)
        } else {
            bytes_done
        };
        Ok(())
    }

    /// The copy of a drive ended with `log` (its copy log): Transferring -> Completed or
    /// CompletedMoreInfo as [`DriveLog::end_state`] says. When every drive is done the job
    /// becomes Packaging.
    ///
    /// # Errors
    /// [`Error::NotPermitted`], [`Error::DriveLogMismatch`], [`Error::UnknownDrive`],
    /// [`Error::IllegalDriveTransition`] unless the drive is Transferring.
    pub fn finish_transfer(
        &mut self,
        drive_id: &str,
        log: &DriveLog,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        self.transact(|job| {
            job.permit(actor, &[Role::Operator], "finish a transfer")?;
            if log.job != job.name.as_str() || log.drive_id != drive_id {
                return Err(Error::DriveLogMismatch {
                    job: job.name.to_string(),
                    drive: drive_id.to_owned(),
                    found_job: log.job.clone(),
                    found_drive: log.drive_id.clone(),
                });
            }
            log.check_numbers()?;
            let index = job.drive_index(drive_id)?;
            let to = log.end_state();
            job.check_drive_move(index, to)?;
            let outcome = TransferOutcome {
                status: log.status,
                warnings: log.blobs.iter().filter(|b| b.has_warnings()).count() as u64,
                problems: log.problems(),
                copy_log_hash: log.content_hash()?,
            };
            let event = CustodyEvent::TransferFinished {
                drive: drive_id.to_owned(),
                status: log.status,
                blobs: log.blobs.len() as u64,
                blobs_failed: log.blobs.iter().filter(|b| b.has_errors()).count() as u64,
                problems: outcome.problems.len() as u64,
                bytes: log.bytes_completed(),
                copy_log_hash: outcome.copy_log_hash.clone(),
            };
            job.record(actor, now, event)?;
            let drive = &mut job.drives[index];
            // every byte of the drive was processed, whatever the outcome (problems are counted apart)
            drive.bytes_done = if drive.bytes > 0 {
                drive.bytes
            } else {
                log.bytes_completed()
            };
            drive.transfer = Some(outcome);
            job.move_drive(index, to, actor, now)?;
            job.settle(actor, now)
        })
    }

    /// A repair (re-sending data over the network) fixed `fixed`, a subset of the drive's
    /// open problems. When none remain and there are no warnings, a CompletedMoreInfo drive
    /// becomes Completed, and a Closed job whose drives are all clean becomes Completed.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] unless the owner or an operator, [`Error::NotInThisState`]
    /// unless the job is Transferring, Packaging or Closed, [`Error::UnknownDrive`],
    /// [`Error::NothingToRepair`] when `fixed` matches no open problem.
    pub fn record_repair(
        &mut self,
        drive_id: &str,
        fixed: &[Problem],
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        self.transact(|job| {
            job.permit(actor, &[Role::Owner, Role::Operator], "repair a drive")?;
            job.require_state(
                &[JobState::Transferring, JobState::Packaging, JobState::Closed],
                "repair a drive",
            )?;
            let index = job.drive_index(drive_id)?;
            let nothing = || Error::NothingToRepair {
                drive_id: drive_id.to_owned(),
            };
            let transfer = job.drives[index].transfer.as_mut().ok_or_else(nothing)?;
            let before = transfer.problems.len();
            transfer.problems.retain(|p| !fixed.contains(p));
            let remaining = transfer.problems.len();
            if remaining == before {
                return Err(nothing());
            }
            let event = CustodyEvent::Repaired {
                drive: drive_id.to_owned(),
                fixed: (before - remaining) as u64,
                remaining: remaining as u64,
            };
            job.record(actor, now, event)?;
            if job.drives[index].state == DriveState::CompletedMoreInfo
                && !job.drives[index].has_open_issues()
            {
                job.move_drive(index, DriveState::Completed, actor, now)?;
            }
            if job.state == JobState::Closed && !job.drives.iter().any(Drive::has_open_issues) {
                job.move_to(JobState::Completed, actor, now)?;
            }
            Ok(())
        })
    }

    /// Records a drive's erasure after its transfer; destroys the job's copy of the wrapped
    /// key when the record says the key material was destroyed.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] unless an operator, [`Error::UnknownDrive`],
    /// [`Error::DriveNotInThisState`] if the transfer has not finished or the drive was
    /// already erased.
    pub fn record_erasure(
        &mut self,
        drive_id: &str,
        record: ErasureRecord,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        self.transact(|job| {
            job.permit(actor, &[Role::Operator], "erase a drive")?;
            let index = job.drive_index(drive_id)?;
            let drive = &job.drives[index];
            let finished = matches!(
                drive.state,
                DriveState::Completed | DriveState::CompletedMoreInfo | DriveState::ShippedBack
            );
            if !finished || drive.erasure.is_some() {
                return Err(Error::DriveNotInThisState {
                    action: "erase",
                    drive_id: drive_id.to_owned(),
                    state: drive.state,
                });
            }
            job.record(
                actor,
                now,
                CustodyEvent::Erased {
                    drive: drive_id.to_owned(),
                    record: record.clone(),
                },
            )?;
            let drive = &mut job.drives[index];
            if record.key_material_destroyed {
                drive.wrapped_key.clear();
            }
            drive.erasure = Some(record);
            Ok(())
        })
    }

    /// The drives go back with the job's return carrier: every transferred drive becomes
    /// ShippedBack; the job ends Completed if no drive has open issues, else Closed.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] unless an operator, [`Error::NotInThisState`] unless
    /// Packaging, [`Error::MissingField`] for an empty tracking number.
    pub fn ship_back(
        &mut self,
        tracking_number: &str,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        self.transact(|job| {
            job.permit(actor, &[Role::Operator], "ship the drives back")?;
            job.require_state(&[JobState::Packaging], "ship the drives back")?;
            let tracking_number = normalise_tracking_number(tracking_number);
            required("tracking_number", &tracking_number)?;
            let now = timefmt::normalise(now);
            let returned: Vec<usize> = (0..job.drives.len())
                .filter(|&i| {
                    matches!(
                        job.drives[i].state,
                        DriveState::Completed | DriveState::CompletedMoreInfo
                    )
                })
                .collect();
            let shipment = ReturnShipment {
                carrier: job.return_shipping.carrier.clone(),
                tracking_number,
                shipped_at: now,
            };
            let event = CustodyEvent::ShippedBack {
                carrier: shipment.carrier.clone(),
                tracking_number: shipment.tracking_number.clone(),
                drives: returned.iter().map(|&i| job.drives[i].drive_id.clone()).collect(),
            };
            job.record(actor, now, event)?;
            let end = if job.drives.iter().any(Drive::has_open_issues) {
                JobState::Closed
            } else {
                JobState::Completed
            };
            for index in returned {
                job.move_drive(index, DriveState::ShippedBack, actor, now)?;
            }
            job.return_shipment = Some(shipment);
            job.move_to(end, actor, now)
        })
    }

    /// Whether the owner may delete the blobs the job imported (everything under its
    /// destination prefix): only once the job has ended (Completed, Closed or Cancelled), so
    /// that nothing is deleted that a transfer or a repair still writes, and only for a job with
    /// a prefix. Returns the prefix (the folder, without slashes).
    ///
    /// # Errors
    /// [`Error::NotPermitted`] unless the owner, [`Error::NotInThisState`] before the job
    /// ended, [`Error::NoImportPrefix`] for a job that imported into the container's root.
    pub fn check_delete_imported(&self, actor: &Actor) -> Result<&str, Error> {
        const ACTION: &str = "delete the imported blobs";
        self.permit(actor, &[Role::Owner], ACTION)?;
        if self.export.is_some() {
            return Err(wrong_type("deleting imported blobs", self.job_type));
        }
        if !self.state.is_ended() {
            return Err(Error::NotInThisState {
                action: ACTION,
                state: self.state,
            });
        }
        let folder = self.destination.folder();
        if folder.is_empty() {
            return Err(Error::NoImportPrefix {
                job: self.name.as_str().to_owned(),
            });
        }
        Ok(folder)
    }

    /// Records that the owner deleted `blobs` blobs of `bytes` bytes under the job's prefix
    /// (custody entry `imported_deleted`), under the rules of [`Job::check_delete_imported`].
    ///
    /// # Errors
    /// As [`Job::check_delete_imported`].
    pub fn record_imported_deleted(
        &mut self,
        blobs: u64,
        bytes: u64,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        self.transact(|job| {
            let prefix = job.check_delete_imported(actor)?.to_owned();
            job.record(actor, now, CustodyEvent::ImportedDeleted { prefix, blobs, bytes })
        })
    }

    // ----- getters -----

    /// The job name.
    pub fn name(&self) -> &JobName {
        &self.name
    }
    /// The owning account.
    pub fn account(&self) -> &str {
        &self.account
    }
    /// Import or export.
    pub fn job_type(&self) -> JobType {
        self.job_type
    }
    /// Where the files go (empty for an export job).
    pub fn destination(&self) -> &Destination {
        &self.destination
    }
    /// What an export job exports (`None` for an import job).
    pub fn export(&self) -> Option<&Export> {
        self.export.as_ref()
    }
    /// The data centre, with the address to ship the drives to.
    pub fn data_centre(&self) -> &DataCentre {
        &self.data_centre
    }
    /// Who to contact.
    pub fn contact(&self) -> &Contact {
        &self.contact
    }
    /// How the drives come back.
    pub fn return_shipping(&self) -> &ReturnShipping {
        &self.return_shipping
    }
    /// The drives.
    pub fn drives(&self) -> &[Drive] {
        &self.drives
    }
    /// The drive `drive_id`.
    pub fn drive(&self, drive_id: &str) -> Option<&Drive> {
        self.drives.iter().find(|d| d.drive_id == drive_id)
    }
    /// The shipping information, once recorded.
    pub fn shipping(&self) -> Option<&ShippingInfo> {
        self.shipping.as_ref()
    }
    /// The return shipment, once shipped back.
    pub fn return_shipment(&self) -> Option<&ReturnShipment> {
        self.return_shipment.as_ref()
    }
    /// The current state.
    pub fn state(&self) -> JobState {
        self.state
    }
    /// Every state entered, oldest first.
    pub fn history(&self) -> &[StateTime<JobState>] {
        &self.history
    }
    /// When the job was created.
    pub fn created_at(&self) -> OffsetDateTime {
        self.history.first().map_or(OffsetDateTime::UNIX_EPOCH, |h| h.at)
    }
    /// When the job last entered `state`.
    pub fn entered_at(&self, state: JobState) -> Option<OffsetDateTime> {
        self.history.iter().rev().find(|h| h.state == state).map(|h| h.at)
    }
    /// The custody log.
    pub fn custody(&self) -> &CustodyLog {
        &self.custody
    }
    /// The custody log's head hash: store it beside the job to detect truncation.
    pub fn custody_head(&self) -> ChainHash {
        self.custody.head(&self.account, self.name.as_str())
    }

    // ----- internals -----

    /// Runs `f` on a copy and keeps the copy only if `f` succeeds.
    fn transact<T>(&mut self, f: impl FnOnce(&mut Job) -> Result<T, Error>) -> Result<T, Error> {
        let mut next = self.clone();
        let out = f(&mut next)?;
        *self = next;
        Ok(out)
    }

    fn permit(&self, actor: &Actor, roles: &[Role], action: &'static str) -> Result<(), Error> {
        let own_account = actor.role != Role::Owner || actor.id == self.account;
        if roles.contains(&actor.role) && own_account {
            Ok(())
        } else {
            Err(not_permitted(action, actor))
        }
    }

    fn require_state(&self, states: &[JobState], action: &'static str) -> Result<(), Error> {
        if states.contains(&self.state) {
            Ok(())
        } else {
            Err(Error::NotInThisState {
                action,
                state: self.state,
            })
        }
    }

    fn drive_index(&self, drive_id: &str) -> Result<usize, Error> {
        self.drives
            .iter()
            .position(|d| d.drive_id == drive_id)
            .ok_or_else(|| Error::UnknownDrive {
                drive_id: drive_id.to_owned(),
            })
    }

    fn check_drive_move(&self, index: usize, to: DriveState) -> Result<(), Error> {
        let drive = &self.drives[index];
        if drive.state.can_move_to(to) {
            Ok(())
        } else {
            Err(Error::IllegalDriveTransition {
                drive_id: drive.drive_id.clone(),
                from: drive.state,
                to,
            })
        }
    }

    /// One operator/system step on one drive: checks, custody event, drive move, settle.
    #[allow(clippy::too_many_arguments)]
    fn drive_step(
        &mut self,
        drive_id: &str,
        actor: &Actor,
        now: OffsetDateTime,
        roles: &[Role],
        action: &'static str,
        job_states: &[JobState],
        to: DriveState,
        event: CustodyEvent,
    ) -> Result<(), Error> {
        self.transact(|job| {
            job.permit(actor, roles, action)?;
            job.require_state(job_states, action)?;
            let index = job.drive_index(drive_id)?;
            job.check_drive_move(index, to)?;
            job.record(actor, now, event)?;
            job.move_drive(index, to, actor, now)?;
            job.settle(actor, now)
        })
    }

    /// The custody entry naming the device behind drive `index`, if its journal recorded one.
    fn record_device(&mut self, index: usize, actor: &Actor, now: OffsetDateTime) -> Result<(), Error> {
        let drive = &self.drives[index];
        let Some(device) = drive.device.clone() else {
            return Ok(());
        };
        let event = CustodyEvent::DriveDevice {
            drive: drive.drive_id.clone(),
            device,
        };
        self.record(actor, now, event)
    }

    fn record(&mut self, actor: &Actor, now: OffsetDateTime, event: CustodyEvent) -> Result<(), Error> {
        self.custody
            .append(&self.account, self.name.as_str(), now, actor, event)?;
        Ok(())
    }

    fn move_to(&mut self, to: JobState, actor: &Actor, now: OffsetDateTime) -> Result<(), Error> {
        let from = self.state;
        if !from.can_move_to(to) {
            return Err(Error::IllegalTransition { from, to });
        }
        let now = timefmt::normalise(now);
        self.state = to;
        self.history.push(StateTime { state: to, at: now });
        self.record(actor, now, CustodyEvent::JobStateChanged { from, to })
    }

    fn move_drive(
        &mut self,
        index: usize,
        to: DriveState,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        self.check_drive_move(index, to)?;
        let now = timefmt::normalise(now);
        let drive = &mut self.drives[index];
        let from = drive.state;
        drive.state = to;
        drive.history.push(StateTime { state: to, at: now });
        let event = CustodyEvent::DriveStateChanged {
            drive: drive.drive_id.clone(),
            from,
            to,
        };
        self.record(actor, now, event)
    }

    /// Moves the job to the state its drives imply, step by step through legal transitions.
    fn settle(&mut self, actor: &Actor, now: OffsetDateTime) -> Result<(), Error> {
        use DriveState as D;
        loop {
            let any = |states: &[DriveState]| self.drives.iter().any(|d| states.contains(&d.state));
            let all_done = self.drives.iter().all(|d| d.state.is_done()) && self.awaited_drives() == 0;
            let next = match self.state {
                JobState::Shipping
                    if any(&[D::Received, D::Transferring, D::Completed, D::CompletedMoreInfo]) =>
                {
                    JobState::Received
                }
                JobState::Received if any(&[D::Transferring, D::Completed, D::CompletedMoreInfo]) => {
                    JobState::Transferring
                }
                JobState::Transferring if all_done => JobState::Packaging,
                JobState::Packaging if !all_done => JobState::Transferring,
                _ => return Ok(()),
            };
            self.move_to(next, actor, now)?;
        }
    }
}

fn new_drive(spec: DriveSpec, now: OffsetDateTime) -> Drive {
    Drive {
        drive_id: spec.drive_id,
        wrapped_key: spec.wrapped_key,
        manifest_hash: spec.manifest_hash,
        earlier_manifest_hashes: spec.earlier_manifest_hashes,
        bytes: spec.bytes,
        device: spec.device,
        bytes_done: 0,
        state: DriveState::Specified,
        history: vec![StateTime {
            state: DriveState::Specified,
            at: now,
        }],
        transfer: None,
        erasure: None,
    }
}

fn wrong_type(what: &'static str, job_type: JobType) -> Error {
    Error::WrongJobType { what, job_type }
}

fn not_permitted(action: &'static str, actor: &Actor) -> Error {
    Error::NotPermitted {
        action,
        role: actor.role,
        actor: actor.id.clone(),
    }
}
