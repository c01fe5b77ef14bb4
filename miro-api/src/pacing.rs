//! Rate-limit pacing: the credit budget one client (and its clones) shares.
//!
//! Miro charges every call the credits of its operation's level against a per-user budget per
//! window, and reports the state in `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` (UNIX seconds). [`Budget`] keeps the latest report, reserves the credits of
//! requests in flight, and makes a request wait for the window's reset when the credits left
//! cannot cover it, so that it is not sent into a 429.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

use crate::response::RateLimit;

/// What the budget knows, behind one lock.
#[derive(Debug, Default)]
struct State {
    /// The last window's report, if any response carried one.
    window: Option<Window>,
    /// Credits of requests sent and not answered yet.
    in_flight: u64,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    limit: u64,
    /// The lowest `Remaining` reported for this window.
    remaining: u64,
    /// `X-RateLimit-Reset` as sent: it identifies the window.
    reset_unix: u64,
    /// The same moment on the monotonic clock.
    reset_at: Instant,
}

/// The shared credit budget of a client.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    state: Mutex<State>,
}

/// The outcome of asking the budget for credits.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Go: the credits are reserved until [`Budget::settle`] or [`Budget::release`].
    Go,
    /// The window's credits are spent: wait until this moment, then ask again.
    WaitUntil(Instant),
}

impl Budget {
    /// Asks for `cost` credits now.
    pub(crate) fn admit(&self, cost: u64) -> Admission {
        let now = Instant::now();
        let mut state = self.lock();
        if let Some(w) = state.window {
            if now >= w.reset_at {
                // The window is over; the next one starts full.
                state.window = None;
            } else {
                let available = w.remaining.saturating_sub(state.in_flight);
                // A request that costs more than a whole window can never fit; let it go when
                // nothing else is in flight rather than wait forever.
                let never_fits = cost > w.limit && state.in_flight == 0;
                if available < cost && !never_fits {
                    return Admission::WaitUntil(w.reset_at);
                }
            }
        }
        state.in_flight += cost;
        Admission::Go
    }

    /// A response to a request admitted with `cost` arrived: learn the window from its headers
    /// and return the reservation.
    pub(crate) fn settle(&self, cost: u64, headers: &HeaderMap, rate_limited: bool) {
        let report = RateLimit::from_headers(headers);
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(cost);
        let Some(report) = report else {
            return;
        };
        let Some(reset_unix) = report.reset else {
            return;
        };
        let remaining = if rate_limited { 0 } else { report.remaining };
        let reset_at = instant_of_unix(reset_unix);
        if reset_at <= Instant::now() {
            // A late answer from a window that is already over.
            return;
        }
        match &mut state.window {
            Some(w) if reset_unix == w.reset_unix => {
                w.remaining = w.remaining.min(remaining);
                w.limit = report.limit;
            }
            // A new window, or the server changed its mind: the latest report wins.
            slot => {
                *slot = Some(Window {
                    limit: report.limit,
                    remaining,
                    reset_unix,
                    reset_at,
                });
            }
        }
    }

    /// A request admitted with `cost` ended without a response.
    pub(crate) fn release(&self, cost: u64) {
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(cost);
    }

    /// Marks the window as spent until `until` (after a 429: its `Retry-After` or reset).
    pub(crate) fn exhaust_until(&self, until: Instant) {
        let mut state = self.lock();
        let limit = state.window.map_or(0, |w| w.limit);
        state.window = Some(Window {
            limit,
            remaining: 0,
            reset_unix: unix_of_instant(until),
            reset_at: until,
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update is one assignment.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The monotonic instant of a UNIX time in seconds (now, if it has passed).
pub(crate) fn instant_of_unix(unix_secs: u64) -> Instant {
    let target = UNIX_EPOCH + Duration::from_secs(unix_secs);
    let now = Instant::now();
    match target.duration_since(SystemTime::now()) {
        Ok(ahead) => now + ahead,
        Err(_) => now,
    }
}

fn unix_of_instant(at: Instant) -> u64 {
    let ahead = at.saturating_duration_since(Instant::now());
    let wall = SystemTime::now() + ahead;
    let secs = wall.duration_since(UNIX_EPOCH).unwrap_or_default();
    secs.as_secs() + u64::from(secs.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(limit: u64, remaining: u64, reset: u64) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", HeaderValue::from(limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(reset));
        h
    }

    fn unix_in(secs: u64) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + secs
    }

    #[test]
    fn admits_until_the_reported_credits_are_reserved() {
        let budget = Budget::default();
        assert!(matches!(budget.admit(100), Admission::Go));
        budget.settle(100, &headers(1000, 250, unix_in(30)), false);
        // 250 left: two requests of 100 fit, the third waits for the reset.
        assert!(matches!(budget.admit(100), Admission::Go));
        assert!(matches!(budget.admit(100), Admission::Go));
        assert!(matches!(budget.admit(100), Admission::WaitUntil(_)));
        // A cheaper one still fits.
        assert!(matches!(budget.admit(50), Admission::Go));
    }

    #[test]
    fn a_late_answer_from_a_finished_window_is_ignored() {
        let budget = Budget::default();
        budget.settle(0, &headers(1000, 900, unix_in(60)), false);
        budget.settle(0, &headers(1000, 0, unix_in(0)), false);
        assert!(matches!(budget.admit(500), Admission::Go));
    }

    #[test]
    fn the_latest_window_wins_and_a_429_empties_it() {
        let budget = Budget::default();
        budget.settle(0, &headers(100_000, 99_000, unix_in(60)), false);
        // The server moved to a smaller, shorter window.
        budget.settle(0, &headers(100, 100, unix_in(5)), false);
        assert!(matches!(budget.admit(100), Admission::Go));
        budget.settle(100, &headers(100, 100, unix_in(5)), true);
        assert!(matches!(budget.admit(50), Admission::WaitUntil(_)));
    }

    #[test]
    fn a_passed_reset_starts_a_full_window() {
        let budget = Budget::default();
        budget.settle(0, &headers(1000, 0, unix_in(0)), false);
        assert!(matches!(budget.admit(500), Admission::Go));
    }

    #[test]
    fn a_request_larger_than_the_window_is_not_held_forever() {
        let budget = Budget::default();
        budget.settle(0, &headers(100, 100, unix_in(30)), false);
        assert!(matches!(budget.admit(2000), Admission::Go));
    }
}
