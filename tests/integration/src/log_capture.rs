//! What a `tracing` subscriber writes, kept in memory for a test to read.

use std::sync::{Arc, Mutex};

/// A writer that keeps everything written to it; clones share the same text. Hand
/// `move || captured.clone()` to `tracing_subscriber::fmt().with_writer(..)`.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
