//! Miro's credit-based rate limiting.
//!
//! Each token has a budget of credits per window (100,000 per 60 s by default).
//! Every operation costs the credits of its level: level 1 = 50, 2 = 100,
//! 3 = 500, 4 = 2000. The level of each route is looked up in [`LEVELS`];
//! routes missing from it default to level 1 for `GET` and level 2 otherwise.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::http::Method;
use parking_lot::Mutex;

/// Credits charged for an operation of each level (index = level).
pub const LEVEL_CREDITS: [u64; 5] = [0, 50, 100, 500, 2000];

/// The rate-limit level of each route: `(method, path pattern, level)`.
///
/// Patterns use the router's own parameter names; `{kind}` stands for each item
/// kind's path segment (`sticky_notes`, `cards`, ...). Bulk create is listed at
/// level 2 and charged once per item. Detaching a tag
/// (`DELETE .../items/{item_id}?tag_id=`) shares the delete-item route and is
/// charged as a tag operation (level 1). OAuth endpoints are not charged.
pub const LEVELS: &[(&str, &str, u8)] = &[
    ("GET", "/v2/boards", 1),
    ("POST", "/v2/boards", 3),
    ("PUT", "/v2/boards", 4),
    ("GET", "/v2/boards/{board_id}", 1),
    ("PATCH", "/v2/boards/{board_id}", 2),
    ("DELETE", "/v2/boards/{board_id}", 3),
    ("POST", "/v2/boards/{board_id}/members", 3),
    ("GET", "/v2/boards/{board_id}/members", 1),
    ("GET", "/v2/boards/{board_id}/members/{board_member_id}", 1),
    (
        "PATCH",
        "/v2/boards/{board_id}/members/{board_member_id}",
        2,
    ),
    (
        "DELETE",
        "/v2/boards/{board_id}/members/{board_member_id}",
        2,
    ),
    ("POST", "/v2/boards/{board_id}/{kind}", 2),
    ("GET", "/v2/boards/{board_id}/{kind}/{item_id}", 1),
    ("PATCH", "/v2/boards/{board_id}/{kind}/{item_id}", 2),
    ("DELETE", "/v2/boards/{board_id}/{kind}/{item_id}", 3),
    ("GET", "/v2/boards/{board_id}/items", 2),
    ("GET", "/v2/boards/{board_id}/items/{item_id}", 1),
    ("PATCH", "/v2/boards/{board_id}/items/{item_id}", 2),
    ("DELETE", "/v2/boards/{board_id}/items/{item_id}", 3),
    ("POST", "/v2/boards/{board_id}/items/{item_id}", 1),
    ("POST", "/v2/boards/{board_id}/items/bulk", 2),
    ("GET", "/v2/boards/{board_id}/items/{item_id}/tags", 1),
    ("POST", "/v2/boards/{board_id}/tags", 1),
    ("GET", "/v2/boards/{board_id}/tags", 1),
    ("GET", "/v2/boards/{board_id}/tags/{tag_id}", 1),
    ("PATCH", "/v2/boards/{board_id}/tags/{tag_id}", 1),
    ("DELETE", "/v2/boards/{board_id}/tags/{tag_id}", 1),
    ("POST", "/v2/boards/{board_id}/connectors", 2),
    ("GET", "/v2/boards/{board_id}/connectors", 2),
    ("GET", "/v2/boards/{board_id}/connectors/{connector_id}", 1),
    (
        "PATCH",
        "/v2/boards/{board_id}/connectors/{connector_id}",
        2,
    ),
    (
        "DELETE",
        "/v2/boards/{board_id}/connectors/{connector_id}",
        3,
    ),
    ("POST", "/v2/boards/{board_id}/groups", 2),
    ("GET", "/v2/boards/{board_id}/groups", 2),
    ("GET", "/v2/boards/{board_id}/groups/{group_id}", 1),
    ("PUT", "/v2/boards/{board_id}/groups/{group_id}", 2),
    ("DELETE", "/v2/boards/{board_id}/groups/{group_id}", 3),
    ("GET", "/v1/oauth-token", 1),
];

/// Level lookup built once from [`LEVELS`].
#[derive(Debug)]
pub(crate) struct LevelTable(HashMap<(Method, &'static str), u8>);

/// The process-wide level table.
pub(crate) fn levels() -> &'static LevelTable {
    static TABLE: std::sync::OnceLock<LevelTable> = std::sync::OnceLock::new();
    TABLE.get_or_init(LevelTable::new)
}

impl LevelTable {
    fn new() -> Self {
        let mut map = HashMap::new();
        for (m, p, l) in LEVELS {
            let Ok(method) = Method::from_bytes(m.as_bytes()) else {
                continue;
            };
            if p.contains("{kind}") {
                for kind in crate::routes::ITEM_KIND_PATHS {
                    let path: &'static str = Box::leak(p.replace("{kind}", kind).into_boxed_str());
                    map.insert((method.clone(), path), *l);
                }
            } else {
                map.insert((method, *p), *l);
            }
        }
        LevelTable(map)
    }

    /// The level of a route; the documented default when it isn't listed.
    pub(crate) fn level(&self, method: &Method, pattern: &str) -> u8 {
        match self.0.get(&(method.clone(), pattern)) {
            Some(l) => *l,
            None if method == Method::GET => 1,
            None => 2,
        }
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
    fn levels_default_by_method() {
        let t = LevelTable::new();
        assert_eq!(t.level(&Method::PUT, "/v2/boards"), 4);
        assert_eq!(t.level(&Method::GET, "/v2/unknown"), 1);
        assert_eq!(t.level(&Method::POST, "/v2/unknown"), 2);
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
