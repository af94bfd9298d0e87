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
        let template = match (unit, total.is_some()) {
            (Unit::Bytes, true) => {
                "{prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}"
            }
            (Unit::Bytes, false) => "{prefix} [{elapsed_precise}] {spinner} {bytes} {bytes_per_sec} {msg}",
            (Unit::Items, true) => "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
            (Unit::Items, false) => "{prefix} [{elapsed_precise}] {spinner} {pos} {msg}",
        };
        let bar = match total {
            Some(total) => ProgressBar::new(total),
            None => ProgressBar::new_spinner(),
        };
        let style = ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
        let bar = self
            .multi
            .add(bar.with_style(style).with_prefix(title.to_owned()));
        Box::new(BarTask(bar))
    }
}

struct BarTask(ProgressBar);

impl Task for BarTask {
    fn set_total(&self, total: u64) {
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
        self.0.finish();
    }
}
