//! The daemons' logger: one line per event on stderr (procd hands it to
//! logd), `LEVEL message key="value" ...`, at a level that can change while
//! running. A `tracing` subscriber of its own instead of
//! tracing-subscriber's: the daemons use no spans, no timestamps (logd adds
//! them) and no filters beyond the level, and the general one cost 30-40 KiB
//! per binary on the routers.

use std::fmt::{Debug, Write as _};
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

fn rank(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

fn filter_rank(filter: LevelFilter) -> u8 {
    filter.into_level().map_or(0, |l| rank(&l))
}

/// Changes the level of the installed logger.
#[derive(Clone, Debug)]
pub struct LevelHandle(Arc<AtomicU8>);

impl LevelHandle {
    pub fn set(&self, level: LevelFilter) {
        self.0.store(filter_rank(level), Ordering::Relaxed);
    }
}

struct StderrLogger {
    level: Arc<AtomicU8>,
}

/// Installs the logger at `level` as the process's subscriber (once; a
/// second call only returns a handle to the first's level).
pub fn install(level: LevelFilter) -> LevelHandle {
    static LEVEL: std::sync::OnceLock<Arc<AtomicU8>> = std::sync::OnceLock::new();
    let mut first = false;
    let shared = LEVEL.get_or_init(|| {
        first = true;
        Arc::new(AtomicU8::new(filter_rank(level)))
    });
    if first {
        let _ = tracing::subscriber::set_global_default(StderrLogger {
            level: shared.clone(),
        });
    }
    LevelHandle(shared.clone())
}

/// One event as a line: the message first, then the other fields.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    /// Through serde_json's float writer, which every daemon links for its
    /// status anyway: the default (core's `Debug` for f64) costs a mips
    /// binary 14 KiB of float formatting for fields no event has yet.
    fn record_f64(&mut self, field: &Field, value: f64) {
        let text = match serde_json::Number::from_f64(value) {
            Some(n) => n.to_string(),
            None if value.is_nan() => "NaN".into(),
            None if value > 0.0 => "inf".into(),
            None => "-inf".into(),
        };
        if field.name() == "message" {
            self.message.push_str(&text);
        } else {
            let _ = write!(self.fields, " {}={text}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

/// `LEVEL message key="value"`, the level right-aligned in five columns.
fn format(level: &Level, event: &Event) -> String {
    let mut line = Line::default();
    event.record(&mut line);
    format!("{:>5} {}{}\n", level.as_str(), line.message, line.fields)
}

impl Subscriber for StderrLogger {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // The level changes at run time: ask `enabled` each time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata) -> bool {
        rank(metadata.level()) <= self.level.load(Ordering::Relaxed)
    }

    fn new_span(&self, _: &Attributes) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event) {
        let line = format(event.metadata().level(), event);
        // One write per line, so lines of different threads never mix.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Capture(std::sync::Mutex<Vec<String>>, Arc<AtomicU8>);

    impl Subscriber for &'static Capture {
        fn enabled(&self, m: &Metadata) -> bool {
            rank(m.level()) <= self.1.load(Ordering::Relaxed)
        }
        fn new_span(&self, _: &Attributes) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, e: &Event) {
            self.0.lock().unwrap().push(format(e.metadata().level(), e));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[test]
    fn lines_read_like_tracing_subscribers_and_the_level_filters() {
        let level = Arc::new(AtomicU8::new(filter_rank(LevelFilter::INFO)));
        let capture: &'static Capture =
            Box::leak(Box::new(Capture(Default::default(), level.clone())));
        tracing::subscriber::with_default(capture, || {
            tracing::info!(kind = "carrier", member = "m2", "carrier up");
            tracing::warn!(count = 3, "{} lost", "frames");
            tracing::info!(rtt_ms = 10.25, loss = f64::NAN, "path");
            tracing::debug!("not shown");
            LevelHandle(level.clone()).set(LevelFilter::DEBUG);
            tracing::debug!("shown");
        });
        let lines = capture.0.lock().unwrap().clone();
        assert_eq!(
            lines,
            [
                " INFO carrier up kind=\"carrier\" member=\"m2\"\n",
                " WARN frames lost count=3\n",
                " INFO path rtt_ms=10.25 loss=NaN\n",
                "DEBUG shown\n"
            ]
        );
    }
}
