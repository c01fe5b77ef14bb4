//! A log writer for the tests that check what tokens and secrets reach the logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// A `Write` that appends to a shared buffer (a `tracing-subscriber` writer, cloned per event).
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
