//! Identifier generation and the emulator's small deterministic random source.
//!
//! Item, tag, connector, group and member ids are 19-digit decimal strings that
//! grow with creation order, so sorting them numerically (or as strings) gives the
//! creation order that cursor paging relies on. Board ids look like Miro's
//! (`uXjVOD6LSME=`): nine URL-safe base64 characters followed by `=`.

use std::sync::atomic::{AtomicU64, Ordering};

/// The smallest id handed out; every id has 19 digits.
const ID_BASE: u64 = 3_458_764_500_000_000_000;

/// A splitmix64 step: a cheap, well-mixed hash of `x`.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A seedable pseudo-random generator (splitmix64); deterministic for a seed.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// A float in `[0, 1)`.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Hands out ids; lock-free and deterministic for a seed.
#[derive(Debug)]
pub(crate) struct IdGen {
    seed: u64,
    counter: AtomicU64,
}

const BOARD_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl IdGen {
    pub(crate) fn new(seed: u64) -> Self {
        IdGen {
            seed,
            counter: AtomicU64::new(0),
        }
    }

    /// How many ids were handed out: what [`resume_at`](Self::resume_at) takes back.
    pub(crate) fn position(&self) -> u64 {
        self.counter.load(Ordering::SeqCst)
    }

    /// Continues after `position` ids (from a state file), so new ids are larger than
    /// every id handed out before it was written.
    pub(crate) fn resume_at(&self, position: u64) {
        self.counter.fetch_max(position, Ordering::SeqCst);
    }

    /// A new numeric id, larger than every id handed out before.
    pub(crate) fn numeric(&self) -> u64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        ID_BASE + n * 1024 + mix(n ^ self.seed) % 1024
    }

    /// A new board id such as `uXjVOD6LSME=` (twelve characters ending in `=`).
    pub(crate) fn board(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut bits = mix(n ^ self.seed.rotate_left(17));
        let mut id = String::with_capacity(12);
        // Twelve characters like Miro's: a fixed "uX", nine random ones, "=".
        id.push_str("uX");
        for _ in 0..9 {
            id.push(BOARD_ALPHABET[(bits & 63) as usize] as char);
            bits >>= 6;
        }
        id.push('=');
        id
    }

    /// A random opaque token string (for OAuth codes and tokens).
    pub(crate) fn token(&self, prefix: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let a = mix(n ^ self.seed ^ 0x5EED);
        let b = mix(a ^ n);
        format!("{prefix}{a:016x}{b:016x}")
    }
}

/// Parses a numeric id from a path segment; `None` when it is not one of ours.
pub(crate) fn parse_numeric(s: &str) -> Option<u64> {
    if s.len() != 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_ids_have_19_digits_and_grow() {
        let g = IdGen::new(7);
        let mut last = 0;
        for _ in 0..1000 {
            let id = g.numeric();
            assert_eq!(id.to_string().len(), 19);
            assert!(id > last);
            last = id;
        }
    }

    #[test]
    fn resumed_ids_are_larger_than_before() {
        let g = IdGen::new(3);
        let before: Vec<u64> = (0..10).map(|_| g.numeric()).collect();
        let again = IdGen::new(3);
        again.resume_at(g.position());
        assert!(again.numeric() > *before.iter().max().unwrap());
    }

    #[test]
    fn board_ids_look_like_miros() {
        let g = IdGen::new(1);
        let id = g.board();
        assert_eq!(id.len(), 12);
        assert!(id.ends_with('='));
    }
}
