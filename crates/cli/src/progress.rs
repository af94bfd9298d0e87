//! Terminal progress bars for [`seedship_progress::Progress`], drawn on stderr.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use seedship_progress::{NoProgress, Progress, Task, Unit};
use std::{io::IsTerminal, sync::Arc};

/// The reporter for this run: bars on an interactive stderr, nothing otherwise.
pub fn reporter(hidden: bool) -> Arc<dyn Progress> {
    if hidden || !std::io::stderr().is_terminal() {
        Arc::new(NoProgress)
    } else {
        Arc::new(Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
        })
    }
}

struct Bars {
    multi: MultiProgress,
}

impl Progress for Bars {
    fn task(&self, title: &str, unit: Unit, total: Option<u64>) -> Box<dyn Task> {
        let bar = match total {
            Some(total) => ProgressBar::new(total),
            None => ProgressBar::new_spinner(),
        };
        let bar = self.multi.add(
            bar.with_style(style(unit, total.is_some()))
                .with_prefix(title.to_owned()),
        );
        Box::new(BarTask(bar, unit))
    }
}

/// A bar with ETA when the total is known, a spinner otherwise.
fn style(unit: Unit, has_total: bool) -> ProgressStyle {
    let template = match (unit, has_total) {
        (Unit::Bytes, true) => {
            "{prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}"
        }
        (Unit::Bytes, false) => "{prefix} [{elapsed_precise}] {spinner} {bytes} {bytes_per_sec} {msg}",
        (Unit::Items, true) => "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
        (Unit::Items, false) => "{prefix} [{elapsed_precise}] {spinner} {pos} {msg}",
    };
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

struct BarTask(ProgressBar, Unit);

impl Task for BarTask {
    fn set_total(&self, total: u64) {
        if self.0.length().is_none() {
            // A spinner whose total became known turns into a bar.
            self.0.set_style(style(self.1, true));
        }
        self.0.set_length(total);
    }
    fn advance(&self, delta: u64) {
        self.0.inc(delta);
    }
    fn set_position(&self, done: u64) {
        self.0.set_position(done);
    }
    fn set_message(&self, message: &str) {
        self.0.set_message(message.to_owned());
    }
    fn finish(&self) {
        // Cleared, not left drawn: the command prints its result next, and a bar left on the
        // line would have that result glued to its end.
        self.0.finish_and_clear();
    }
}

impl Drop for BarTask {
    /// A task ended by an error or an early return is cleared too, so that the error message
    /// starts on a line of its own.
    fn drop(&mut self) {
        if !self.0.is_finished() {
            self.0.finish_and_clear();
        }
    }
}
