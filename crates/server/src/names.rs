//! Names of accounts, storage accounts, containers and vaults: they appear in URLs and keys.

use crate::error::ApiError;

/// Longest accepted name.
const MAX_LEN: usize = 63;

/// Checks a resource name: 1 to 63 characters, lowercase ASCII letters, digits, `-` and `_`,
/// starting with a letter.
pub(crate) fn validate(kind: &str, name: &str) -> Result<(), ApiError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_LEN
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_name(format!(
            "{kind} name {name:?} must be 1-{MAX_LEN} lowercase letters, digits, '-' or '_', starting with a letter"
        )))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        assert!(super::validate("vault", "laptop-01_x").is_ok());
        for bad in ["", "1abc", "Abc", "a b", "a/b", "a.b", &"a".repeat(64)] {
            assert!(super::validate("vault", bad).is_err(), "{bad:?}");
        }
    }
}
