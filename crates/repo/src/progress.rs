//! Adapts rustic_core's progress bars to [`seedship_progress::Progress`].

use rustic_core::{Progress as RusticBar, ProgressBars, ProgressType, RusticProgress};
use seedship_progress::{Progress, Task, Unit};
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

/// Hands rustic_core's progress requests to our reporter. While `muted` is set, rustic's
/// own bars are hidden (for work that reports one combined task of its own instead).
#[derive(Clone)]
pub(crate) struct Bridge {
    reporter: Arc<dyn Progress>,
    muted: Arc<AtomicBool>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge").finish_non_exhaustive()
    }
}

impl Bridge {
    pub(crate) fn new(reporter: Arc<dyn Progress>) -> Self {
        Self {
            reporter,
            muted: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Our reporter, for tasks this crate opens itself.
    pub(crate) fn reporter(&self) -> &dyn Progress {
        &*self.reporter
    }

    /// Hides rustic's bars until the returned guard is dropped.
    pub(crate) fn mute(&self) -> Muted {
        self.muted.store(true, Ordering::SeqCst);
        Muted(self.muted.clone())
    }
}

/// Unmutes a [`Bridge`] when dropped.
pub(crate) struct Muted(Arc<AtomicBool>);

impl Drop for Muted {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl ProgressBars for Bridge {
    fn progress(&self, progress_type: ProgressType, prefix: &str) -> RusticBar {
        if self.muted.load(Ordering::SeqCst) {
            return RusticBar::hidden();
        }
        let unit = match progress_type {
            ProgressType::Bytes => Unit::Bytes,
            ProgressType::Counter | ProgressType::Spinner => Unit::Items,
        };
        let title = prefix.trim_end_matches("...").trim();
        RusticBar::new(TaskBar(self.reporter.task(title, unit, None)))
    }
}

/// One rustic progress bar backed by one of our tasks.
struct TaskBar(Box<dyn Task>);

impl std::fmt::Debug for TaskBar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskBar").finish_non_exhaustive()
    }
}

impl RusticProgress for TaskBar {
    fn is_hidden(&self) -> bool {
        // Never hidden: rustic then scans the source size in parallel, which gives the ETA.
        false
    }
    fn set_length(&self, len: u64) {
        self.0.set_total(len);
    }
    fn set_title(&self, title: &str) {
        self.0.set_message(title);
    }
    fn inc(&self, inc: u64) {
        self.0.advance(inc);
    }
    fn finish(&self) {
        self.0.finish();
    }
}
