//! Job names: the rules of the Import/Export portal, with one error per broken rule.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The shortest job name accepted (characters).
pub const JOB_NAME_MIN_LEN: usize = 3;
/// The longest job name accepted (characters).
pub const JOB_NAME_MAX_LEN: usize = 64;

/// A validated job name: 3 to 64 characters of lowercase ASCII letters, digits, `-` and `_`,
/// starting with a letter.
///
/// The character rules are the Import/Export portal's (the Dutch seed document allows the
/// underscore too). The sources give no length limit; 3..=64 is our choice: at least 3 like a
/// copy-session id, at most 64 like Azure resource names, short enough that log object names
/// (`<job>_<drive>_<timestamp>_error.json`) stay well within object-key limits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobName(String);

impl JobName {
    /// Validates `name`.
    ///
    /// # Errors
    /// [`JobNameError`] naming the first broken rule; character rules are checked left to
    /// right before the length rules, so a name with a bad character and a bad length reports
    /// the character.
    pub fn parse(name: &str) -> Result<Self, JobNameError> {
        let mut len = 0;
        for (index, found) in name.chars().enumerate() {
            let position = index + 1;
            len = position;
            if found.is_whitespace() {
                return Err(JobNameError::Whitespace { found, position });
            }
            if found.is_uppercase() {
                return Err(JobNameError::Uppercase { found, position });
            }
            let allowed =
                found.is_ascii_lowercase() || found.is_ascii_digit() || found == '-' || found == '_';
            if !allowed {
                return Err(JobNameError::InvalidCharacter { found, position });
            }
            if position == 1 && !found.is_ascii_lowercase() {
                return Err(JobNameError::FirstNotLetter { found });
            }
        }
        if len == 0 {
            return Err(JobNameError::Empty);
        }
        if len < JOB_NAME_MIN_LEN {
            return Err(JobNameError::TooShort {
                len,
                min: JOB_NAME_MIN_LEN,
            });
        }
        if len > JOB_NAME_MAX_LEN {
            return Err(JobNameError::TooLong {
                len,
                max: JOB_NAME_MAX_LEN,
            });
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for JobName {
    type Error = JobNameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<JobName> for String {
    fn from(value: JobName) -> Self {
        value.0
    }
}

/// Which job-name rule a name breaks. Positions count characters from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JobNameError {
    /// The name is empty.
    #[error("the job name is empty")]
    Empty,
    /// Fewer than [`JOB_NAME_MIN_LEN`] characters.
    #[error("the job name has {len} characters; at least {min} are required")]
    TooShort {
        /// Characters in the name.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// More than [`JOB_NAME_MAX_LEN`] characters.
    #[error("the job name has {len} characters; at most {max} are allowed")]
    TooLong {
        /// Characters in the name.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The first character is a digit, `-` or `_`.
    #[error("the job name must start with a lowercase letter, not {found:?}")]
    FirstNotLetter {
        /// The first character.
        found: char,
    },
    /// A space, tab or other whitespace.
    #[error("the job name contains whitespace {found:?} at position {position}; spaces are not allowed")]
    Whitespace {
        /// The character.
        found: char,
        /// Its 1-based position.
        position: usize,
    },
    /// An uppercase letter.
    #[error(
        "the job name contains uppercase {found:?} at position {position}; only lowercase letters are allowed"
    )]
    Uppercase {
        /// The character.
        found: char,
        /// Its 1-based position.
        position: usize,
    },
    /// Any other character outside `a-z 0-9 - _`.
    #[error(
        "the job name contains {found:?} at position {position}; only lowercase letters, digits, '-' and '_' are allowed"
    )]
    InvalidCharacter {
        /// The character.
        found: char,
        /// Its 1-based position.
        position: usize,
    },
}
