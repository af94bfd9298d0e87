//! Job and drive states, their names on the wire and the transitions between them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The state of a job. Serialised (and stored) under the variant's name, e.g. `"Shipping"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum JobState {
    /// Created; waiting for shipping information. Deleted after 14 days without it.
    Creating,
    /// Shipping information recorded; the package is on its way.
    Shipping,
    /// At least one drive has arrived at the data centre.
    Received,
    /// At least one drive has started transferring.
    Transferring,
    /// Every drive is done (transferred, or never received); waiting for return shipping.
    Packaging,
    /// Drives shipped back; every drive transferred without errors or warnings.
    Completed,
    /// Drives shipped back; at least one drive ended with errors/warnings or never arrived.
    Closed,
    /// Cancelled by the owner before any drive was received.
    Cancelled,
}

/// The state of one drive of a job. Serialised under the variant's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DriveState {
    /// Named in the job; not yet arrived.
    Specified,
    /// Arrived at the data centre.
    Received,
    /// Not in the package, or not arrived 14 days after the shipping information.
    NeverReceived,
    /// Being copied into the storage account.
    Transferring,
    /// Copied without errors or warnings.
    Completed,
    /// Copied with errors, warnings or rename/overwrite information: see its logs.
    CompletedMoreInfo,
    /// Returned to the customer.
    ShippedBack,
}

/// An unknown state name read from storage or the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} state {name:?}")]
pub struct UnknownState {
    /// `"job"` or `"drive"`.
    pub kind: &'static str,
    /// The text that was not a state.
    pub name: String,
}

impl JobState {
    /// Every job state, in lifecycle order.
    pub const ALL: [JobState; 8] = [
        Self::Creating,
        Self::Shipping,
        Self::Received,
        Self::Transferring,
        Self::Packaging,
        Self::Completed,
        Self::Closed,
        Self::Cancelled,
    ];

    /// The state's name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "Creating",
            Self::Shipping => "Shipping",
            Self::Received => "Received",
            Self::Transferring => "Transferring",
            Self::Packaging => "Packaging",
            Self::Completed => "Completed",
            Self::Closed => "Closed",
            Self::Cancelled => "Cancelled",
        }
    }

    /// Whether the job has ended (Completed, Closed or Cancelled): the 90-day retention runs.
    pub fn is_ended(self) -> bool {
        matches!(self, Self::Completed | Self::Closed | Self::Cancelled)
    }

    /// Whether the owner may still cancel: only before any drive is received, i.e. in
    /// Creating or Shipping (see docs/design.md for the source conflict).
    pub fn can_cancel(self) -> bool {
        matches!(self, Self::Creating | Self::Shipping)
    }

    /// Whether `self -> to` is a transition of the job state machine.
    pub fn can_move_to(self, to: JobState) -> bool {
        use JobState::*;
        matches!(
            (self, to),
            (Creating, Shipping)
                | (Creating, Cancelled)
                | (Shipping, Cancelled)
                | (Shipping, Received)
                | (Received, Transferring)
                | (Transferring, Packaging)
                // a drive that was NeverReceived arrives while the others wait for return shipping
                | (Packaging, Transferring)
                | (Packaging, Completed)
                | (Packaging, Closed)
                // a repair resolved every error the drives' logs named
                | (Closed, Completed)
        )
    }
}

impl DriveState {
    /// Every drive state, in lifecycle order.
    pub const ALL: [DriveState; 7] = [
        Self::Specified,
        Self::Received,
        Self::NeverReceived,
        Self::Transferring,
        Self::Completed,
        Self::CompletedMoreInfo,
        Self::ShippedBack,
    ];

    /// The state's name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Specified => "Specified",
            Self::Received => "Received",
            Self::NeverReceived => "NeverReceived",
            Self::Transferring => "Transferring",
            Self::Completed => "Completed",
            Self::CompletedMoreInfo => "CompletedMoreInfo",
            Self::ShippedBack => "ShippedBack",
        }
    }

    /// Whether the data centre is done with the drive (nothing more will be copied from it
    /// unless a NeverReceived drive turns up).
    pub fn is_done(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::CompletedMoreInfo | Self::NeverReceived | Self::ShippedBack
        )
    }

    /// Whether `self -> to` is a transition of the drive state machine.
    pub fn can_move_to(self, to: DriveState) -> bool {
        use DriveState::*;
        matches!(
            (self, to),
            (Specified, Received)
                | (Specified, NeverReceived)
                | (NeverReceived, Received)
                | (Received, Transferring)
                | (Transferring, Completed)
                | (Transferring, CompletedMoreInfo)
                // a repair resolved every error of the drive's log
                | (CompletedMoreInfo, Completed)
                | (Completed, ShippedBack)
                | (CompletedMoreInfo, ShippedBack)
        )
    }
}

macro_rules! state_text {
    ($ty:ident, $kind:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownState;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|state| state.as_str() == s)
                    .ok_or_else(|| UnknownState {
                        kind: $kind,
                        name: s.to_owned(),
                    })
            }
        }
    };
}

state_text!(JobState, "job");
state_text!(DriveState, "drive");
