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
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

use crate::response::RateLimit;
use crate::retry::{reset_delay, MAX_SERVER_WAIT};

/// The length assumed for a window that follows a known one, until a response tells: Miro's
/// windows last a minute.
const ASSUMED_WINDOW: Duration = Duration::from_secs(60);

/// What the budget knows, behind one lock.
#[derive(Debug, Default)]
struct State {
    /// The current window's report, if any response carried one.
    window: Option<Window>,
    /// The newest `X-RateLimit-Reset` seen, with the limit it came with: an older one arriving
    /// late is ignored.
    newest: Option<(u64, u64)>,
    /// An upper bound of the window's length, learnt from past windows (see [`Budget::settle`]).
    length: Option<Duration>,
    /// Credits of requests sent and not answered yet.
    in_flight: u64,
    /// After a 429, nothing is admitted before this moment, known window or not.
    hold: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    limit: u64,
    /// The lowest `Remaining` reported for this window.
    remaining: u64,
    /// `X-RateLimit-Reset` as sent: it identifies the window.
    reset_unix: u64,
    /// When the window is over at the latest: the reset header (whole seconds, so up to a
    /// second late), or sooner when the window's length is known.
    reset_at: Instant,
    /// The earliest send time of a request answered in this window.
    first_sent: Instant,
    /// Whether a window came before this one: the first window a client meets is usually
    /// half over, so it says nothing of the length.
    saw_start: bool,
    /// Whether this window was assumed after a known one ended, before any response told.
    assumed: bool,
}

/// The window assumed to follow `w` once it is over: the same limit, full, lasting the learnt
/// length (or [`ASSUMED_WINDOW`]).
fn next_window(w: &Window, length: Option<Duration>, now: Instant) -> Window {
    let reset_at = now + length.unwrap_or(ASSUMED_WINDOW).min(ASSUMED_WINDOW);
    Window {
        limit: w.limit,
        remaining: w.limit,
        reset_unix: unix_of_instant(reset_at),
        reset_at,
        first_sent: now,
        saw_start: false,
        assumed: true,
    }
}

/// The shared credit budget of a client.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    state: Mutex<State>,
    /// Woken whenever an answer or a returned reservation may let a waiting request in (a
    /// window learnt, credits given back), so that waiters need not sleep out a guessed reset.
    changed: Notify,
}

/// The outcome of asking the budget for credits.
#[derive(Debug)]
pub(crate) enum Admission<'a> {
    /// Go: the credits are reserved until the reservation is settled with the response or
    /// dropped.
    Go(Reservation<'a>),
    /// The window's credits are spent: wait until `at` (or until [`Budget::changed`] fires),
    /// then ask again.
    WaitUntil {
        /// When the credits are back: the window's reset, or the end of a 429's hold.
        at: Instant,
        /// Whether `at` is a guess: the window was assumed after a known one ended, before any
        /// answer told its real reset, which may come much sooner.
        assumed: bool,
    },
}

impl Budget {
    /// Asks for `cost` credits now.
    pub(crate) fn admit(&self, cost: u64) -> Admission<'_> {
        let now = Instant::now();
        let mut guard = self.lock();
        let state = &mut *guard;
        if let Some(until) = state.hold {
            if now < until {
                return Admission::WaitUntil {
                    at: until,
                    assumed: false,
                };
            }
            state.hold = None;
        }
        if let Some(w) = &mut state.window {
            if now >= w.reset_at {
                // The window is over; the next one starts full, with the same limit.
                *w = next_window(w, state.length, now);
            }
            let available = w.remaining.saturating_sub(state.in_flight);
            // A request that costs more than a whole window can never fit; let it go when
            // nothing else is in flight rather than wait forever.
            let never_fits = cost > w.limit && state.in_flight == 0;
            if available < cost && !never_fits {
                return Admission::WaitUntil {
                    at: w.reset_at,
                    assumed: w.assumed,
                };
            }
        }
        state.in_flight = state.in_flight.saturating_add(cost);
        Admission::Go(Reservation { budget: self, cost })
    }

    /// A response to a request admitted with `cost` and sent at `sent_at` arrived: learn the
    /// window from its headers and return the reservation.
    ///
    /// `X-RateLimit-Reset` has whole seconds, so waiting for it wastes up to a second per window.
    /// The window's length is learnt instead: a window starts no earlier than the first request
    /// answered in it was sent, so `reset − first send` bounds the length from above, and the
    /// smallest bound over past windows is kept. A new window then ends at the latest at the
    /// first answer from it plus that length (an answer comes after the window started).
    fn settle(&self, cost: u64, sent_at: Instant, headers: &HeaderMap, rate_limited: bool) {
        self.learn(cost, sent_at, headers, rate_limited);
        // Credits came back and a window may have been learnt: the waiters ask again.
        self.changed.notify_waiters();
    }

    /// What [`settle`](Self::settle) does under the lock.
    fn learn(&self, cost: u64, sent_at: Instant, headers: &HeaderMap, rate_limited: bool) {
        let report = RateLimit::from_headers(headers);
        let now = Instant::now();
        let wall = SystemTime::now();
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(cost);
        // The reset, read as relative or absolute, and only when it is within the longest wait
        // honoured: an absurd one is ignored rather than trusted (or overflowing the clock).
        let reset = report.and_then(|r| {
            let delay = reset_delay(r.reset?, wall)?;
            (delay <= MAX_SERVER_WAIT).then_some((r, delay))
        });
        let Some((report, delay)) = reset else {
            // Nothing learnt: the answered request still spent its credits in this window.
            if let Some(w) = &mut state.window {
                w.remaining = w.remaining.saturating_sub(cost);
            }
            return;
        };
        if delay.is_zero() {
            // A late answer from a window that is already over.
            return;
        }
        let header_reset = now + delay;
        // The window's identity: its reset as a UNIX second (a relative reset made absolute).
        let reset_unix = match report.reset {
            Some(value) if value > MAX_SERVER_WAIT.as_secs() => value,
            _ => unix_of_instant(header_reset),
        };
        let seen_before = state.newest.is_some();
        match state.newest {
            // A late answer from an older window (unless the server changed its limits).
            Some((newest, limit)) if reset_unix < newest && limit == report.limit => return,
            _ => state.newest = Some((reset_unix, report.limit)),
        }
        let remaining = if rate_limited { 0 } else { report.remaining };
        if let Some(w) = &mut state.window {
            if w.reset_unix == reset_unix {
                w.remaining = w.remaining.min(remaining);
                w.limit = report.limit;
                w.first_sent = w.first_sent.min(sent_at);
                return;
            }
        }
        // A new window. The one before it bounds the length, if this client saw it start.
        if let Some(old) = state.window.filter(|w| w.saw_start && !w.assumed) {
            let bound = instant_of_unix(old.reset_unix).saturating_duration_since(old.first_sent);
            state.length = Some(state.length.map_or(bound, |l| l.min(bound)));
        }
        // Never earlier than a second before the header: that much is its rounding at most.
        let reset_at = match state.length {
            Some(length) => header_reset
                .min(now + length)
                .max(header_reset - Duration::from_secs(1)),
            None => header_reset,
        };
        state.window = Some(Window {
            limit: report.limit,
            remaining,
            reset_unix,
            reset_at,
            first_sent: sent_at,
            saw_start: seen_before,
            assumed: false,
        });
    }

    /// Holds every request until `until` (after a 429: its `Retry-After` or reset, or the
    /// client's backoff), whether a window is known or not.
    pub(crate) fn exhaust_until(&self, until: Instant) {
        let mut state = self.lock();
        state.hold = Some(state.hold.map_or(until, |h| h.max(until)));
    }

    /// Fires at the next change that may admit a waiting request. Create it (and
    /// [`enable`](Notified::enable) it) before asking [`admit`](Self::admit), so that a change
    /// between the two is not missed.
    pub(crate) fn changed(&self) -> Notified<'_> {
        self.changed.notified()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update is one assignment.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Credits held for one request in flight. Settle it with the response; dropping it (no
/// response, an error, or a cancelled call) returns the credits.
#[derive(Debug)]
pub(crate) struct Reservation<'a> {
    budget: &'a Budget,
    cost: u64,
}

impl Reservation<'_> {
    /// The response arrived: the budget learns from its headers and the credits are returned.
    pub(crate) fn settle(mut self, sent_at: Instant, headers: &HeaderMap, rate_limited: bool) {
        self.budget
            .settle(self.cost, sent_at, headers, rate_limited);
        self.cost = 0;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.cost > 0 {
            let mut state = self.budget.lock();
            state.in_flight = state.in_flight.saturating_sub(self.cost);
            drop(state);
            self.budget.changed.notify_waiters();
        }
    }
}

/// The monotonic instant of a UNIX time in seconds (now, if it has passed; at most
/// [`MAX_SERVER_WAIT`] ahead).
pub(crate) fn instant_of_unix(unix_secs: u64) -> Instant {
    let now = Instant::now();
    let ahead = UNIX_EPOCH
        .checked_add(Duration::from_secs(unix_secs))
        .and_then(|t| t.duration_since(SystemTime::now()).ok())
        .unwrap_or_default();
    now + ahead.min(MAX_SERVER_WAIT)
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

    /// The reservation of an admission that must go.
    fn go(admission: Admission<'_>) -> Reservation<'_> {
        match admission {
            Admission::Go(reservation) => reservation,
            Admission::WaitUntil { .. } => panic!("told to wait"),
        }
    }

    #[test]
    fn admits_until_the_reported_credits_are_reserved() {
        let budget = Budget::default();
        go(budget.admit(100)).settle(Instant::now(), &headers(1000, 250, unix_in(30)), false);
        // 250 left: two requests of 100 fit, the third waits for the reset.
        let _first = go(budget.admit(100));
        let _second = go(budget.admit(100));
        assert!(matches!(budget.admit(100), Admission::WaitUntil { .. }));
        // A cheaper one still fits.
        assert!(matches!(budget.admit(50), Admission::Go(_)));
    }

    #[test]
    fn a_dropped_reservation_returns_its_credits() {
        let budget = Budget::default();
        budget.settle(0, Instant::now(), &headers(1000, 100, unix_in(30)), false);
        let in_flight = go(budget.admit(100));
        assert!(matches!(budget.admit(100), Admission::WaitUntil { .. }));
        // A call that ends without a response (error, cancelled future) gives the credits back.
        drop(in_flight);
        assert!(matches!(budget.admit(100), Admission::Go(_)));
    }

    #[test]
    fn a_late_answer_from_a_finished_window_is_ignored() {
        let budget = Budget::default();
        budget.settle(0, Instant::now(), &headers(1000, 900, unix_in(60)), false);
        budget.settle(0, Instant::now(), &headers(1000, 0, unix_in(0)), false);
        assert!(matches!(budget.admit(500), Admission::Go(_)));
    }

    #[test]
    fn the_latest_window_wins_and_a_429_empties_it() {
        let budget = Budget::default();
        budget.settle(
            0,
            Instant::now(),
            &headers(100_000, 99_000, unix_in(60)),
            false,
        );
        // The server moved to a smaller, shorter window.
        budget.settle(0, Instant::now(), &headers(100, 100, unix_in(5)), false);
        go(budget.admit(100)).settle(Instant::now(), &headers(100, 100, unix_in(5)), true);
        assert!(matches!(budget.admit(50), Admission::WaitUntil { .. }));
    }

    #[test]
    fn a_passed_reset_starts_a_full_window() {
        let budget = Budget::default();
        budget.settle(0, Instant::now(), &headers(1000, 0, unix_in(0)), false);
        assert!(matches!(budget.admit(500), Admission::Go(_)));
    }

    #[test]
    fn the_window_length_is_learnt_so_waits_end_before_the_rounded_reset() {
        let budget = Budget::default();
        let t0 = Instant::now();
        // The first window: met half over, it teaches nothing.
        budget.settle(0, t0, &headers(100, 0, unix_in(30)), false);
        let Admission::WaitUntil { at: first, .. } = budget.admit(50) else {
            panic!("spent")
        };
        assert!(first > t0 + Duration::from_secs(28));
        // A second window, seen from its start: its reset is 40 s after its first request.
        budget.settle(0, t0, &headers(100, 0, unix_in(40)), false);
        // A third: it ends no later than 40 s after its first answer, though the header (whole
        // seconds, rounded up) says 41.
        budget.settle(0, Instant::now(), &headers(100, 0, unix_in(41)), false);
        let Admission::WaitUntil { at: third, .. } = budget.admit(50) else {
            panic!("spent")
        };
        let header = instant_of_unix(unix_in(41));
        assert!(third < header && third >= header - Duration::from_secs(1));
    }

    #[test]
    fn a_request_larger_than_the_window_is_not_held_forever() {
        let budget = Budget::default();
        budget.settle(0, Instant::now(), &headers(100, 100, unix_in(30)), false);
        assert!(matches!(budget.admit(2000), Admission::Go(_)));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Admit(u64),
        Settle(usize),
        Drop(usize),
        TooMany(usize),
        Reset,
        Hold,
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (1u64..=60).prop_map(Op::Admit),
            3 => any::<usize>().prop_map(Op::Settle),
            1 => any::<usize>().prop_map(Op::Drop),
            1 => any::<usize>().prop_map(Op::TooMany),
            1 => Just(Op::Reset),
            1 => Just(Op::Hold),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 400,
            failure_persistence: None,
            ..Default::default()
        })]

        /// Random interleavings of admissions, answers, dropped calls, 429s, window resets and
        /// holds against a model server: the reserved credits always equal those of the calls
        /// in flight (never negative, never leaked), and the credits admitted within a known
        /// window never exceed what it reported left when it became known.
        #[test]
        fn the_budget_never_leaks_and_never_overspends(
            limit in 60u64..=300,
            ops in proptest::collection::vec(op(), 1..120),
        ) {
            let budget = Budget::default();
            let base = unix_in(60);
            // The model server: its window and the credits charged in it.
            let mut window = 0u64;
            let mut charged = 0u64;
            let report = |window: u64, charged: u64| {
                headers(limit, limit.saturating_sub(charged), base + 10 * window)
            };
            // The model client: calls in flight, and what the known window allows.
            // Calls in flight: the reservation, its cost and the known window it was admitted in.
            let mut live: Vec<(Reservation<'_>, u64, Option<u64>)> = Vec::new();
            let mut known: Option<(u64, u64, u64)> = None; // (window, bound, admitted)
            let learn = |window: u64, remaining: u64, known: &mut Option<(u64, u64, u64)>| {
                if known.is_none_or(|(w, _, _)| w != window) {
                    *known = Some((window, remaining, 0));
                }
            };
            for op in ops {
                match op {
                    Op::Admit(cost) => {
                        if let Admission::Go(r) = budget.admit(cost) {
                            if let Some((_, bound, admitted)) = &mut known {
                                *admitted += cost;
                                proptest::prop_assert!(*admitted <= *bound, "{admitted} > {bound}");
                            }
                            live.push((r, cost, known.map(|(w, _, _)| w)));
                        }
                    }
                    Op::Settle(i) if !live.is_empty() => {
                        let (r, cost, _) = live.swap_remove(i % live.len());
                        charged += cost;
                        r.settle(Instant::now(), &report(window, charged), false);
                        learn(window, limit.saturating_sub(charged), &mut known);
                    }
                    Op::Drop(i) if !live.is_empty() => {
                        // Never sent (or never answered): its credits come back.
                        let (r, cost, admitted_in) = live.swap_remove(i % live.len());
                        drop(r);
                        if let Some((w, _, admitted)) = &mut known {
                            if admitted_in == Some(*w) {
                                *admitted -= cost;
                            }
                        }
                    }
                    Op::TooMany(i) if !live.is_empty() => {
                        let (r, _, _) = live.swap_remove(i % live.len());
                        r.settle(Instant::now(), &report(window, charged), true);
                        budget.exhaust_until(Instant::now());
                        learn(window, 0, &mut known);
                        if let Some((_, bound, admitted)) = &mut known {
                            // Nothing more fits in this window.
                            *bound = *admitted;
                        }
                    }
                    Op::Reset if window < 50 => {
                        window += 1;
                        charged = 0;
                        // The first answer from the new window (a free call) tells the budget.
                        budget.settle(0, Instant::now(), &report(window, 0), false);
                        learn(window, limit, &mut known);
                    }
                    Op::Hold => {
                        budget.exhaust_until(Instant::now() + Duration::from_secs(3600));
                        let held = matches!(budget.admit(1), Admission::WaitUntil { .. });
                        proptest::prop_assert!(held, "not held");
                        budget.lock().hold = None;
                    }
                    _ => {}
                }
                let reserved: u64 = live.iter().map(|(_, c, _)| c).sum();
                proptest::prop_assert_eq!(budget.lock().in_flight, reserved);
            }
            drop(live);
            proptest::prop_assert_eq!(budget.lock().in_flight, 0);
        }
    }

    #[test]
    fn after_a_reset_the_last_limit_still_bounds_admissions() {
        let budget = Budget::default();
        // A window of 100 that ends now.
        budget.settle(0, Instant::now(), &headers(100, 0, unix_in(1)), false);
        std::thread::sleep(Duration::from_millis(1100));
        let admitted: Vec<_> = (0..20)
            .filter_map(|_| match budget.admit(40) {
                Admission::Go(r) => Some(r),
                Admission::WaitUntil { .. } => None,
            })
            .collect();
        assert_eq!(admitted.len(), 2);
    }

    #[test]
    fn a_refusal_in_an_assumed_window_says_so_and_an_answer_wakes_its_waiters() {
        let budget = Budget::default();
        budget.settle(0, Instant::now(), &headers(100, 0, unix_in(1)), false);
        std::thread::sleep(Duration::from_millis(1100));
        // No length learnt: the next window is a guess, and a refusal in it says so.
        let _a = go(budget.admit(50));
        let _b = go(budget.admit(50));
        let Admission::WaitUntil { assumed: true, .. } = budget.admit(50) else {
            panic!("a refusal in an assumed window must be marked as a guess")
        };
        let woken = budget.changed();
        tokio::pin!(woken);
        woken.as_mut().enable();
        // An answer tells the real window: the waiter is woken, and its reset is known now.
        budget.settle(50, Instant::now(), &headers(100, 0, unix_in(1)), false);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let polled = std::future::Future::poll(woken.as_mut(), &mut cx);
        assert!(polled.is_ready(), "the waiter slept on");
        let Admission::WaitUntil { assumed: false, .. } = budget.admit(50) else {
            panic!("the learnt window must be firm")
        };
    }

    #[test]
    fn a_429_without_a_known_window_holds_everything() {
        let budget = Budget::default();
        budget.exhaust_until(Instant::now() + Duration::from_secs(5));
        assert!(matches!(budget.admit(1), Admission::WaitUntil { .. }));
    }
}
