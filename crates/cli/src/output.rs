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
