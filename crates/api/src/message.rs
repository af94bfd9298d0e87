//! Errors as the one-line messages error bodies and reports carry.

/// `err` and its sources joined with ": " (`outer: inner: ...`).
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
