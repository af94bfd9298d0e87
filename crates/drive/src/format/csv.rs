//! WAImportExport v2 `dataset.csv` and `driveset.csv` rows.

use super::FormatError;
use super::records::{BlobType, Disposition};

/// One `dataset.csv` row:
/// `BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetRow {
    /// Source directory (ends in `/` or `\`) or file.
    pub base_path: String,
    /// Destination `container/prefix` (directory) or `container/name` (file).
    pub dst: String,
    /// Blob type (`BlockBlob` or `PageBlob`).
    pub blob_type: BlobType,
    /// Disposition (`rename`, `no-overwrite`, `overwrite`).
    pub disposition: Disposition,
    /// Optional metadata file path.
    pub metadata_file: Option<String>,
    /// Optional properties file path.
    pub properties_file: Option<String>,
}

/// One `driveset.csv` row:
/// `DriveLetter,FormatOption,SilentOrPromptOnFormat,Encryption,ExistingBitLockerKey`;
/// the drive column holds a directory and the key column a journal holding the drive key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrivesetRow {
    /// The drive's directory.
    pub drive: String,
    /// `Format` (true) or `AlreadyFormatted`.
    pub format: bool,
    /// `SilentMode` (true) or `PromptOnFormat`.
    pub silent: bool,
    /// `Encrypt` (true) or `AlreadyEncrypted`.
    pub encrypt: bool,
    /// For `AlreadyEncrypted`: the journal that holds the drive's key.
    pub existing_key: Option<String>,
}

const DATASET_HEADER: [&str; 6] = [
    "BasePath",
    "DstBlobPathOrPrefix",
    "BlobType",
    "Disposition",
    "MetadataFile",
    "PropertiesFile",
];
const DRIVESET_HEADER: [&str; 5] = [
    "DriveLetter",
    "FormatOption",
    "SilentOrPromptOnFormat",
    "Encryption",
    "ExistingBitLockerKey",
];

/// Parses a `dataset.csv` text (header line first).
///
/// # Errors
/// [`FormatError::Csv`] naming the 1-based line and the problem.
pub fn parse_dataset(text: &str) -> Result<Vec<DatasetRow>, FormatError> {
    parse_rows(text, &DATASET_HEADER, |line, f| {
        Ok(DatasetRow {
            base_path: required(line, "BasePath", f[0])?,
            dst: required(line, "DstBlobPathOrPrefix", f[1])?,
            blob_type: match f[2].to_ascii_lowercase().as_str() {
                "" | "blockblob" | "block" => BlobType::Block,
                "pageblob" | "page" => BlobType::Page,
                other => {
                    return Err(csv_err(
                        line,
                        format!("BlobType {other:?} is not BlockBlob or PageBlob"),
                    ));
                }
            },
            disposition: match f[3].to_ascii_lowercase().as_str() {
                "" | "rename" => Disposition::Rename,
                "no-overwrite" => Disposition::NoOverwrite,
                "overwrite" => Disposition::Overwrite,
                other => {
                    return Err(csv_err(
                        line,
                        format!("Disposition {other:?} is not rename, no-overwrite or overwrite"),
                    ));
                }
            },
            metadata_file: optional(f[4]),
            properties_file: optional(f[5]),
        })
    })
}

/// Parses a `driveset.csv` text (header line first) and checks the WAImportExport rules:
/// `Format` needs `Encrypt`; `AlreadyEncrypted` needs a key; `Encrypt` takes none.
///
/// # Errors
/// [`FormatError::Csv`] naming the 1-based line and the problem.
pub fn parse_driveset(text: &str) -> Result<Vec<DrivesetRow>, FormatError> {
    parse_rows(text, &DRIVESET_HEADER, |line, f| {
        let pick = |column: &str, value: &str, yes: &str, no: &str| match value {
            v if v.eq_ignore_ascii_case(yes) => Ok(true),
            v if v.eq_ignore_ascii_case(no) => Ok(false),
            v => Err(csv_err(line, format!("{column} {v:?} is not {yes} or {no}"))),
        };
        let row = DrivesetRow {
            drive: required(line, "DriveLetter", f[0])?,
            format: pick("FormatOption", f[1], "Format", "AlreadyFormatted")?,
            silent: pick("SilentOrPromptOnFormat", f[2], "SilentMode", "PromptOnFormat")?,
            encrypt: pick("Encryption", f[3], "Encrypt", "AlreadyEncrypted")?,
            existing_key: optional(f[4]),
        };
        if row.format && !row.encrypt {
            return Err(csv_err(line, "Format requires Encrypt".into()));
        }
        if !row.encrypt && row.existing_key.is_none() {
            return Err(csv_err(
                line,
                "AlreadyEncrypted requires ExistingBitLockerKey".into(),
            ));
        }
        if row.encrypt && row.existing_key.is_some() {
            return Err(csv_err(line, "Encrypt excludes ExistingBitLockerKey".into()));
        }
        Ok(row)
    })
}

fn parse_rows<T, const N: usize>(
    text: &str,
    header: &[&str; N],
    row: impl Fn(u64, [&str; N]) -> Result<T, FormatError>,
) -> Result<Vec<T>, FormatError> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(i as u64 + 1, |p| p.line());
            csv_err(line, e.to_string())
        })?;
        let line = record.position().map_or(i as u64 + 1, |p| p.line());
        if record.len() != N {
            return Err(csv_err(
                line,
                format!("expected {N} columns, found {}", record.len()),
            ));
        }
        let mut fields = [""; N];
        for (slot, field) in fields.iter_mut().zip(record.iter()) {
            *slot = field;
        }
        if i == 0 {
            if fields.iter().zip(header).any(|(f, h)| !f.eq_ignore_ascii_case(h)) {
                return Err(csv_err(line, format!("header must be {}", header.join(","))));
            }
            continue;
        }
        rows.push(row(line, fields)?);
    }
    if rows.is_empty() {
        return Err(csv_err(1, "no rows after the header".into()));
    }
    Ok(rows)
}

fn csv_err(line: u64, message: String) -> FormatError {
    FormatError::Csv { line, message }
}

fn required(line: u64, column: &str, value: &str) -> Result<String, FormatError> {
    if value.is_empty() {
        Err(csv_err(line, format!("{column} is empty")))
    } else {
        Ok(value.to_owned())
    }
}

fn optional(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}
