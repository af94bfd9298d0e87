//! Warnings of the libraries underneath, shown on stderr.
//!
//! restic's REST client (in `rustic_backend`) retries a request that failed for a reason other
//! than a client error, with growing pauses (about 31 s in all), and reports each retry only
//! through the `log` crate. Without this, a server that is down looks like a hung command.

use std::sync::OnceLock;

/// Forwards `rustic_backend`'s warnings to stderr, passwords in URLs redacted.
struct StderrWarnings {
    json: bool,
}

impl log::Log for StderrWarnings {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn && metadata.target().starts_with("rustic_backend")
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // backon's "Error <error> at <delay>, retrying" without its capitalised "Error".
        let text = record.args().to_string();
        let text = text.strip_prefix("Error ").unwrap_or(&text);
        let message = seedship_repo::redact_passwords(text);
        if self.json {
            let doc = serde_json::json!({ "message_type": "warning", "message": message });
            eprintln!("{doc}");
        } else {
            eprintln!("seedship: warning: {message}");
        }
    }

    fn flush(&self) {}
}

/// Installs the forwarder for this process (once; the server installs no other `log` logger).
pub fn install(json: bool) {
    static LOGGER: OnceLock<StderrWarnings> = OnceLock::new();
    let logger = LOGGER.get_or_init(|| StderrWarnings { json });
    if log::set_logger(logger).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
}
