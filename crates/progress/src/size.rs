//! Byte sizes as people write them on the command line: `10G`, `512MiB`, `1.5T`, `4096`.
//!
//! One rule everywhere (restic's): the suffixes `K`, `M`, `G`, `T` are powers of 1024, and
//! `KiB`/`KB`, `MiB`/`MB`, ... mean the same as the bare letter; case does not matter. A
//! number without a suffix (or with `B`) is bytes.

/// A size that does not parse; names the text that was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "size {given:?} {reason}: write a number of bytes, optionally with a suffix K, M, G or T \
     (powers of 1024; KiB, KB and K are the same), e.g. 500G or 1.5TiB"
)]
pub struct SizeError {
    /// The text that was given.
    pub given: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses a size: a decimal number (a fraction allowed with a suffix) and an optional unit
/// suffix, powers of 1024.
///
/// # Errors
///
/// [`SizeError`] when the text is empty, the number or the suffix is unknown, or the size
/// does not fit in 64 bits.
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let error = |reason| SizeError {
        given: text.to_owned(),
        reason,
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, suffix) = trimmed.split_at(split);
    let suffix = suffix.trim_start().to_ascii_lowercase();
    let unit = suffix
        .strip_suffix("ib")
        .or_else(|| suffix.strip_suffix('b'))
        .unwrap_or(&suffix);
    let exponent = match unit {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        _ => return Err(error("has an unknown unit")),
    };
    if suffix == "ib" {
        return Err(error("has an unknown unit"));
    }
    if number.is_empty() {
        return Err(error("has no number"));
    }
    let multiplier = 1024_u64.pow(exponent);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if number.matches('.').count() > 1 || (whole.is_empty() && fraction.is_empty()) {
        return Err(error("is not a number"));
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| error("is too large"))?
    };
    let mut bytes = whole
        .checked_mul(multiplier)
        .ok_or_else(|| error("is too large"))?;
    if !fraction.is_empty() {
        // Exact decimal arithmetic: digits * multiplier / 10^len, rounded down to a byte.
        let digits = fraction.get(..fraction.len().min(12)).unwrap_or(fraction);
        let numerator: u128 = digits.parse().map_err(|_| error("is not a number"))?;
        let scaled = numerator * u128::from(multiplier) / 10_u128.pow(digits.len() as u32);
        if exponent == 0 && numerator > 0 {
            return Err(error("has a fraction of a byte"));
        }
        let part = u64::try_from(scaled).map_err(|_| error("is too large"))?;
        bytes = bytes.checked_add(part).ok_or_else(|| error("is too large"))?;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn suffixes_are_powers_of_1024_whatever_their_spelling() {
        for (text, bytes) in [
            ("0", 0),
            ("4096", 4096),
            ("4096B", 4096),
            ("1K", 1024),
            ("1k", 1024),
            ("1KiB", 1024),
            ("1KB", 1024),
            ("10M", 10 << 20),
            ("10 MiB", 10 << 20),
            ("10G", 10 << 30),
            ("10gb", 10 << 30),
            ("2T", 2 << 40),
            ("1.5G", 3 << 29),
            (".5K", 512),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn bad_sizes_are_named() {
        for text in [
            "",
            "G",
            "10X",
            "10iB",
            "1.2.3G",
            "1.5",
            "99999999999T",
            "-1G",
            "10 G B",
        ] {
            let err = parse_size(text).expect_err(text);
            assert!(err.to_string().contains(&format!("{text:?}")), "{err}");
        }
    }
}
