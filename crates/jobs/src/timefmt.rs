//! The one timestamp and date format of this crate's serialised types.
//!
//! Timestamps: `YYYY-MM-DDTHH:MM:SS.mmmZ`, always UTC, always three fraction digits. The job
//! methods normalise every `now` they are given with [`normalise`] (UTC, truncated to whole
//! milliseconds), so a value survives a round trip through any database that keeps at least
//! millisecond precision, and the custody hash of an entry never depends on the offset or
//! precision the caller happened to use. Dates: `YYYY-MM-DD`.

use serde::{Deserialize, Deserializer, Serializer, de::Error as _};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

const TIMESTAMP: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
const DATE: &[BorrowedFormatItem<'_>] = format_description!("[year]-[month]-[day]");

/// `at` in UTC, truncated to whole milliseconds.
pub(crate) fn normalise(at: OffsetDateTime) -> OffsetDateTime {
    let utc = at.to_offset(UtcOffset::UTC);
    let millis = utc.millisecond();
    utc.replace_millisecond(millis).unwrap_or(utc)
}

pub(crate) fn serialize<S: Serializer>(at: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    let text = normalise(*at)
        .format(TIMESTAMP)
        .map_err(serde::ser::Error::custom)?;
    s.serialize_str(&text)
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
    let text = String::deserialize(d)?;
    PrimitiveDateTime::parse(&text, TIMESTAMP)
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|e| D::Error::custom(format!("timestamp {text:?}: {e}")))
}

/// The same format for optional timestamps (`null` when absent).
pub(crate) mod option {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(at: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => super::serialize(at, s),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|text| {
            PrimitiveDateTime::parse(&text, TIMESTAMP)
                .map(PrimitiveDateTime::assume_utc)
                .map_err(|e| D::Error::custom(format!("timestamp {text:?}: {e}")))
        })
        .transpose()
    }
}

/// `YYYY-MM-DD` dates.
pub(crate) mod date {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        let text = date.format(DATE).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        Date::parse(&text, DATE).map_err(|e| D::Error::custom(format!("date {text:?}: {e}")))
    }

    /// The same format for optional dates (`null` or absent when there is none).
    pub(crate) mod option {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
            match date {
                Some(date) => super::serialize(date, s),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
            let text: Option<String> = Option::deserialize(d)?;
            text.map(|text| {
                Date::parse(&text, DATE).map_err(|e| D::Error::custom(format!("date {text:?}: {e}")))
            })
            .transpose()
        }
    }
}
