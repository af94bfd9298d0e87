//! Progress reporting for long-running library work.
//!
//! Libraries never draw progress bars themselves: they take a `&dyn Progress` and open one
//! [`Task`] per phase (for example "backup", "drive 2 of 3"). The `seedship` binary implements
//! the trait with terminal progress bars; tests and `--json` runs use [`NoProgress`].
//!
//! Sizes given by people (`--capacity 10G`) are parsed by [`parse_size`], one rule for every
//! command.

mod size;

pub use size::{SizeError, parse_size};

/// A source of progress tasks, one per phase of a long operation.
pub trait Progress: Send + Sync {
    /// Opens a task titled `title`. `total` is the amount of work in `unit`s, when known.
    fn task(&self, title: &str, unit: Unit, total: Option<u64>) -> Box<dyn Task>;
}

/// What a task's counter counts; decides how it is displayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes, shown with rate and ETA.
    Bytes,
    /// Items such as files or snapshots.
    Items,
}

/// One phase of work reporting its advance.
pub trait Task: Send + Sync {
    /// Sets or corrects the total once it is known.
    fn set_total(&self, total: u64);
    /// Adds `delta` to the amount done.
    fn advance(&self, delta: u64);
    /// Sets the amount done (for resumed work that starts part-way).
    fn set_position(&self, done: u64);
    /// Shows a short status line beside the counter (for example the current file).
    fn set_message(&self, message: &str);
    /// Ends the task; later calls are ignored.
    fn finish(&self);
}

/// Reports nothing; for tests, scripts and `--json` runs.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn task(&self, _title: &str, _unit: Unit, _total: Option<u64>) -> Box<dyn Task> {
        Box::new(NoProgress)
    }
}

impl Task for NoProgress {
    fn set_total(&self, _total: u64) {}
    fn advance(&self, _delta: u64) {}
    fn set_position(&self, _done: u64) {}
    fn set_message(&self, _message: &str) {}
    fn finish(&self) {}
}
