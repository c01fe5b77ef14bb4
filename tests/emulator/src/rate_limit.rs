//! Miro's credit-based rate limiting.
//!
//! Each token has a budget of credits per window (100,000 per 60 s by default).
//! Every operation costs the credits of its level (level 1 = 50, 2 = 100,
//! 3 = 500, 4 = 2000), as the generated operations table of the pinned spec
//! states them; an operation whose level the spec does not state costs level 1.
//! Requests that are no operation of the spec cost level 1 for `GET` and level
//! 2 otherwise. Bulk create is charged once per item. OAuth endpoints are not
//! charged.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;

/// Credits charged for an operation of each level (index = level).
pub const LEVEL_CREDITS: [u64; 5] = [0, 50, 100, 500, 2000];

/// Credits a request costs: its operation's, or by method when it is none.
pub(crate) fn credits_of(method: &str, op: Option<&crate::spec::SpecOp>) -> u64 {
    match op {
        Some(op) => op.credits,
        None if method == "GET" => credits(1),
        None => credits(2),
    }
}

/// Credits charged for one operation of `level` (levels above 4 cost as 4).
pub fn credits(level: u8) -> u64 {
    LEVEL_CREDITS[level.clamp(1, 4) as usize]
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    start: Instant,
    start_wall: SystemTime,
    used: u64,
}

/// The state of one token's window after a charge.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quota {
    pub limit: u64,
    pub remaining: u64,
    /// UNIX seconds when the window resets.
    pub reset_unix: u64,
    /// Time until the window resets.
    pub reset_in: Duration,
}

/// Per-token fixed windows of credits.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    settings: Mutex<(u64, Duration)>,
    buckets: Mutex<HashMap<Arc<str>, Bucket>>,
}

impl RateLimiter {
    pub(crate) fn new(budget: u64, window: Duration) -> Self {
        RateLimiter {
            settings: Mutex::new((budget, window.max(Duration::from_millis(1)))),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn set(&self, budget: u64, window: Duration) {
        *self.settings.lock() = (budget, window.max(Duration::from_millis(1)));
        self.buckets.lock().clear();
    }

    pub(crate) fn reset(&self) {
        self.buckets.lock().clear();
    }

    /// Charges `cost` credits to `token`. `Ok` with the quota left, or `Err`
    /// with the current quota when the window's budget can't cover it (nothing
    /// is charged then).
    pub(crate) fn charge(&self, token: &Arc<str>, cost: u64) -> Result<Quota, Quota> {
        let (budget, window) = *self.settings.lock();
        let now = Instant::now();
        let mut buckets = self.buckets.lock();
        let bucket = match buckets.get_mut(&**token) {
            Some(b) => b,
            None => buckets.entry(token.clone()).or_insert(Bucket {
                start: now,
                start_wall: SystemTime::now(),
                used: 0,
            }),
        };
        if now.duration_since(bucket.start) >= window {
            *bucket = Bucket {
                start: now,
                start_wall: SystemTime::now(),
                used: 0,
            };
        }
        let ok = bucket.used + cost <= budget;
        if ok {
            bucket.used += cost;
        }
        let end = bucket.start + window;
        let reset_wall = bucket.start_wall + window;
        let reset_unix =
            crate::clock::unix_secs(reset_wall) + u64::from(reset_wall_subsec(reset_wall));
        let quota = Quota {
            limit: budget,
            remaining: budget.saturating_sub(bucket.used),
            reset_unix,
            reset_in: end.saturating_duration_since(now),
        };
        if ok {
            Ok(quota)
        } else {
            Err(quota)
        }
    }
}

/// 1 when `t` has a fractional second (so the reset time is rounded up).
fn reset_wall_subsec(t: SystemTime) -> u8 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) if d.subsec_nanos() > 0 => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_follow_the_operations_table() {
        let idx = crate::spec::index();
        let cost = |m: &str, p: &str, q: Option<&str>| credits_of(m, idx.find(m, p, q));
        assert_eq!(cost("PUT", "/v2/boards", None), 2000);
        assert_eq!(cost("POST", "/v2/boards", None), 500);
        assert_eq!(cost("DELETE", "/v2/boards/b/items/1", None), 500);
        assert_eq!(cost("DELETE", "/v2/boards/b/items/1", Some("tag_id=2")), 50);
        assert_eq!(cost("GET", "/v2/boards/b/items", None), 100);
        assert_eq!(cost("GET", "/v2/unknown", None), 50);
        assert_eq!(cost("POST", "/v2/unknown", None), 100);
    }

    #[test]
    fn budget_is_spent_then_refused() {
        let r = RateLimiter::new(150, Duration::from_secs(60));
        let t: Arc<str> = Arc::from("t");
        assert_eq!(r.charge(&t, 100).unwrap().remaining, 50);
        assert_eq!(r.charge(&t, 50).unwrap().remaining, 0);
        assert!(r.charge(&t, 50).is_err());
    }
}
