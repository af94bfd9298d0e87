//! Validation of session ids and destination names.

use super::FormatError;

/// Checks a copy session id: 3 to 30 characters of ASCII letters, digits, `_`, `-` and `#`.
///
/// # Errors
/// [`FormatError::BadSessionId`] naming the rule broken.
pub fn check_session_id(id: &str) -> Result<(), FormatError> {
    let bad = |reason: &'static str| FormatError::BadSessionId {
        id: id.to_owned(),
        reason,
    };
    if !(3..=30).contains(&id.chars().count()) {
        return Err(bad("must be 3 to 30 characters long"));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '#'))
    {
        return Err(bad("may hold only letters, digits, '_', '-' and '#'"));
    }
    Ok(())
}

/// Checks a destination `container/prefix`: the container is 3 to 63 lowercase letters,
/// digits and hyphens, starting and ending with a letter or digit, without `--`.
/// Returns the normalised destination (without a trailing `/`).
///
/// # Errors
/// [`FormatError::BadDestination`] naming the rule broken.
pub fn check_destination(dst: &str) -> Result<String, FormatError> {
    let bad = |reason: &'static str| FormatError::BadDestination {
        dst: dst.to_owned(),
        reason,
    };
    let trimmed = dst.trim_end_matches('/');
    let container = trimmed.split('/').next().unwrap_or_default();
    if !(3..=63).contains(&container.len()) {
        return Err(bad("the container name must be 3 to 63 characters"));
    }
    if !container
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || container.starts_with('-')
        || container.ends_with('-')
        || container.contains("--")
    {
        return Err(bad(
            "the container name may hold only lowercase letters, digits and single inner hyphens",
        ));
    }
    if trimmed
        .split('/')
        .skip(1)
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(bad("the prefix has an empty, '.' or '..' part"));
    }
    Ok(trimmed.to_owned())
}
