//! Results on stdout: one JSON document with `--json`, otherwise human-readable lines.

use serde::Serialize;

/// Prints `value` as JSON when `json` is set, otherwise prints `human()`'s text.
pub fn emit<T: Serialize>(json: bool, value: &T, human: impl FnOnce() -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(value)?);
    } else {
        let text = human();
        if !text.is_empty() {
            println!("{text}");
        }
    }
    Ok(())
}

/// One line of an account's storage quota and usage (`admin account quota`, `storage usage`).
pub fn usage_line(usage: &seedship_api::AccountUsage) -> String {
    let quota = usage
        .quota_bytes
        .map_or_else(|| "no quota".to_owned(), |q| format!("quota {q} bytes"));
    format!(
        "account {}: {quota}, {} bytes stored",
        usage.account, usage.used_bytes
    )
}
