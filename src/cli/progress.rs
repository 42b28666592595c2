//! Progress of `okno sync` and `okno run --once`: a live line per stream on a terminal, plain
//! log lines otherwise.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::sync::{Progress, RunSummary};

pub(super) fn for_terminal(is_terminal: bool) -> Box<dyn Progress> {
    if is_terminal {
        Box::new(Bars::default())
    } else {
        Box::new(Lines)
    }
}

/// One spinner per running stream, with pages, records and the rate.
#[derive(Default)]
struct Bars {
    bars: Mutex<Vec<(String, ProgressBar, Instant)>>,
}

impl Progress for Bars {
    fn started(&self, instance: &str, stream: &str) {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix}: {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(format!("{instance}/{stream}"));
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut bars) = self.bars.lock() {
            bars.push((format!("{instance}/{stream}"), bar, Instant::now()));
        }
    }

    fn page(&self, instance: &str, stream: &str, pages: u64, records: u64) {
        let key = format!("{instance}/{stream}");
        if let Ok(bars) = self.bars.lock() {
            if let Some((_, bar, started)) = bars.iter().find(|(k, _, _)| *k == key) {
                let secs = started.elapsed().as_secs_f64().max(0.001);
                bar.set_message(format!(
                    "{pages} pages, {records} records, {:.0} records/s",
                    records as f64 / secs
                ));
            }
        }
    }

    fn finished(&self, instance: &str, summary: &RunSummary) {
        let key = format!("{instance}/{}", summary.stream);
        if let Ok(mut bars) = self.bars.lock() {
            if let Some(pos) = bars.iter().position(|(k, _, _)| *k == key) {
                let (_, bar, _) = bars.remove(pos);
                bar.finish_and_clear();
            }
        }
    }
}

/// A log line per committed page.
struct Lines;

impl Progress for Lines {
    fn page(&self, instance: &str, stream: &str, pages: u64, records: u64) {
        tracing::info!(instance, stream, pages, records, "page committed");
    }
}
