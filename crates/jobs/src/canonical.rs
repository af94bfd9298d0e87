//! Canonical JSON: the byte form custody entries are hashed in.
//!
//! Rules (stable; changing them is a new custody format version):
//! - objects: members sorted by key, compared as UTF-8 bytes; `{"k":v,...}` with no whitespace;
//! - arrays: `[a,b]`, in order, no whitespace;
//! - strings: `"` and `\` escaped as `\"` and `\\`; U+0000..U+001F as `\b \t \n \f \r` where
//!   those exist, else `\u00XX` with lowercase hex; every other character as its UTF-8 bytes;
//! - integers in decimal without sign for non-negative values; no floats occur in hashed types;
//! - `true`, `false`, `null`.

use std::fmt::Write as _;

use serde_json::Value;

/// Appends the canonical form of `value` to `out`.
pub(crate) fn write(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write(item, out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
