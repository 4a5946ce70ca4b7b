//! Progress of a long import on a terminal: a bar with the share of the file read, the rate in
//! records per second and the time left (a spinner when the size is unknown, as on stdin).
//! Nothing is drawn when standard error is not a terminal, so logs and CI stay clean.

use std::io::{BufRead, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
    bytes: Arc<AtomicU64>,
    start: Instant,
}

impl Progress {
    /// `total_bytes`: the input's size when known. `visible`: whether to draw at all.
    pub fn new(total_bytes: Option<u64>, visible: bool) -> Progress {
        let bar = match total_bytes {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template("{wide_bar} {percent:>3}%  {msg}  ETA {eta}")
                    .expect("a valid template"),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"),
            ),
        };
        if !visible {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        Progress {
            bar,
            bytes: Arc::default(),
            start: Instant::now(),
        }
    }

    /// Wraps the input so the bar knows how far into it the import is.
    pub fn reader<R: BufRead>(&self, inner: R) -> Counting<R> {
        Counting {
            inner,
            bytes: self.bytes.clone(),
        }
    }

    /// After each batch: `records` read so far.
    pub fn update(&self, records: usize) {
        let seconds = self.start.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_position(self.bytes.load(Ordering::Relaxed));
        self.bar.set_message(format!(
            "{records} records, {:.0}/s",
            records as f64 / seconds
        ));
        self.bar.tick();
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A reader that counts the bytes taken from it.
pub struct Counting<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.bytes.fetch_add(amount as u64, Ordering::Relaxed);
        self.inner.consume(amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_counts_what_is_taken_from_it() {
        let p = Progress::new(Some(11), false);
        let mut r = p.reader("hello\nworld".as_bytes());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(p.bytes.load(Ordering::Relaxed), 6);
        let mut rest = String::new();
        r.read_to_string(&mut rest).unwrap();
        assert_eq!(p.bytes.load(Ordering::Relaxed), 11);
        p.update(2);
        p.finish();
    }
}
