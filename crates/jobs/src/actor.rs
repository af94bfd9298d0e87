//! Who causes a transition: the account owner, a data-centre operator, or the service itself.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The role of an actor. The server authenticates; this crate checks that the role may do
/// what is asked (see docs/design.md for who may cause each transition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// The account that owns the job (create, ship, cancel, repair).
    Owner,
    /// A data-centre operator (receive, transfer, erase, ship back).
    Operator,
    /// The service's own deadline enforcement.
    System,
}

/// An authenticated actor: its role and its id (the account name for owners, the operator's
/// login for operators, `"seedship"` for the system).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    /// The role.
    pub role: Role,
    /// Who, within the role.
    pub id: String,
}

impl Actor {
    /// The owner account `account`.
    pub fn owner(account: impl Into<String>) -> Self {
        Self {
            role: Role::Owner,
            id: account.into(),
        }
    }

    /// The operator `login`.
    pub fn operator(login: impl Into<String>) -> Self {
        Self {
            role: Role::Operator,
            id: login.into(),
        }
    }

    /// The service's deadline enforcement.
    pub fn system() -> Self {
        Self {
            role: Role::System,
            id: "seedship".to_owned(),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Owner => "owner",
            Self::Operator => "operator",
            Self::System => "system",
        })
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.role, self.id)
    }
}
