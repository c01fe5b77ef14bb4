//! When a failed attempt is sent again, and how long to wait first.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

/// Which failed attempts are sent again, and the backoff between attempts.
///
/// The default is safe for every operation:
/// - a 429 is retried for every method (Miro refuses before acting), after the time
///   `Retry-After` or `X-RateLimit-Reset` gives;
/// - a 5xx, a 408, a timed-out attempt or a connection lost mid-request is retried for `GET`,
///   `PUT`, `DELETE`, `HEAD` and `OPTIONS` only, since a `POST` or `PATCH` may have acted;
///   [`RetryPolicy::retry_non_idempotent`] opts in for those;
/// - a connection that could not be opened is retried for every method (nothing was sent);
/// - at most 5 attempts, with exponential backoff from 200 ms up to 20 s and jitter.
///
/// The call's [timeout](crate::MiroApiBuilder::timeout) bounds the total time of all attempts and
/// waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    retry_non_idempotent: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(20),
            retry_non_idempotent: false,
        }
    }
}

/// Why an attempt failed, as far as retrying cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// 429.
    RateLimited,
    /// 5xx or 408.
    Server,
    /// The connection could not be opened: the request was not sent.
    Connect,
    /// The attempt ran out of time, or the connection broke after the request was sent.
    Interrupted,
    /// Anything else (4xx, a body that cannot be read as sent...): not retried.
    Final,
}

impl RetryPolicy {
    /// The default policy (see the type's docs).
    pub fn new() -> Self {
        RetryPolicy::default()
    }

    /// A policy that sends every request once.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// At most `attempts` attempts per call, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The first backoff and the cap of the exponential backoff.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Also retries `POST` and `PATCH` after a 5xx, a timeout or a broken connection. Only for
    /// calls that are safe to repeat: the first attempt may have acted.
    pub fn retry_non_idempotent(mut self, yes: bool) -> Self {
        self.retry_non_idempotent = yes;
        self
    }

    /// The maximum number of attempts.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Whether a failure of an attempt of a `method` request is worth another attempt.
    pub(crate) fn retries(&self, method: &str, failure: Failure) -> bool {
        match failure {
            Failure::RateLimited | Failure::Connect => true,
            Failure::Server | Failure::Interrupted => {
                self.retry_non_idempotent || is_idempotent(method)
            }
            Failure::Final => false,
        }
    }

    /// The backoff before attempt `next` (2 for the first retry): exponential, capped, with
    /// "equal jitter" (a random point in the upper half) so that clients spread out.
    pub(crate) fn backoff_before(&self, next: u32) -> Duration {
        let exp = next.saturating_sub(2).min(20);
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        base / 2 + base.mul_f64(random_fraction() / 2.0)
    }
}

/// Methods that can be repeated without a second effect.
fn is_idempotent(method: &str) -> bool {
    matches!(method, "GET" | "PUT" | "DELETE" | "HEAD" | "OPTIONS")
}

/// Classifies a status that is not a success.
pub(crate) fn classify_status(status: StatusCode) -> Failure {
    if status == StatusCode::TOO_MANY_REQUESTS {
        Failure::RateLimited
    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        Failure::Server
    } else {
        Failure::Final
    }
}

/// Classifies a transport error.
pub(crate) fn classify_transport(error: &reqwest::Error) -> Failure {
    if error.is_connect() {
        Failure::Connect
    } else if error.is_builder() || error.is_redirect() {
        Failure::Final
    } else {
        Failure::Interrupted
    }
}

/// The longest wait a server may ask for, through `Retry-After` or `X-RateLimit-Reset`, that a
/// call honours: 15 minutes. A 429 asking for longer ends the call with
/// [`TimeoutCause::ServerWaitTooLong`](crate::TimeoutCause::ServerWaitTooLong), and pacing
/// ignores a reset further away than this.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(15 * 60);

/// What a 429's headers ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServerWait {
    /// No usable wait: absent, unreadable, zero or already past. The client's backoff applies.
    Unknown,
    /// Wait this long (at most [`MAX_SERVER_WAIT`]).
    Within(Duration),
    /// The server asks for longer than [`MAX_SERVER_WAIT`].
    TooLong(Duration),
}

impl ServerWait {
    fn of(wait: Option<Duration>) -> ServerWait {
        match wait {
            None => ServerWait::Unknown,
            Some(d) if d.is_zero() => ServerWait::Unknown,
            Some(d) if d > MAX_SERVER_WAIT => ServerWait::TooLong(d),
            Some(d) => ServerWait::Within(d),
        }
    }
}

/// How long a 429 asks to wait: `Retry-After` (seconds or an HTTP date in any of RFC 9110's
/// three formats), else the time until `X-RateLimit-Reset` (see [`reset_delay`]).
pub(crate) fn server_wait(headers: &HeaderMap) -> ServerWait {
    let text = |name| headers.get(name)?.to_str().ok().map(str::trim);
    if let Some(v) = text(RETRY_AFTER.as_str()) {
        if let Ok(secs) = v.parse::<u64>() {
            return ServerWait::of(Some(Duration::from_secs(secs)));
        }
        if let Ok(at) = httpdate::parse_http_date(v) {
            return ServerWait::of(at.duration_since(SystemTime::now()).ok());
        }
    }
    let reset = text("x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok());
    ServerWait::of(reset.and_then(|r| reset_delay(r, SystemTime::now())))
}

/// The time from `now` until an `X-RateLimit-Reset` of `value`, read both ways Miro may mean
/// it: a value up to [`MAX_SERVER_WAIT`] in seconds is relative (seconds from now; no UNIX time
/// that small is current), a larger one is a UNIX time. `None` when that time has passed.
/// Never panics, whatever the value.
pub(crate) fn reset_delay(value: u64, now: SystemTime) -> Option<Duration> {
    if value <= MAX_SERVER_WAIT.as_secs() {
        return Some(Duration::from_secs(value));
    }
    match UNIX_EPOCH.checked_add(Duration::from_secs(value)) {
        Some(at) => at.duration_since(now).ok(),
        // Beyond what the clock can represent: further away than any cap.
        None => Some(Duration::from_secs(value)),
    }
}

/// A random number in `[0, 1)`, from the standard library's per-instance hash keys.
fn random_fraction() -> f64 {
    let bits = RandomState::new().build_hasher().finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn the_default_policy_is_safe_for_posts() {
        let p = RetryPolicy::default();
        assert!(p.retries("POST", Failure::RateLimited));
        assert!(p.retries("POST", Failure::Connect));
        assert!(!p.retries("POST", Failure::Server));
        assert!(!p.retries("PATCH", Failure::Interrupted));
        assert!(p.retries("GET", Failure::Server));
        assert!(p.retries("DELETE", Failure::Interrupted));
        assert!(!p.retries("GET", Failure::Final));
        let opted_in = RetryPolicy::default().retry_non_idempotent(true);
        assert!(opted_in.retries("POST", Failure::Server));
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let p = RetryPolicy::default().backoff(Duration::from_millis(100), Duration::from_secs(1));
        for _ in 0..100 {
            let first = p.backoff_before(2);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first));
            let third = p.backoff_before(4);
            assert!((Duration::from_millis(200)..=Duration::from_millis(400)).contains(&third));
            let late = p.backoff_before(30);
            assert!((Duration::from_millis(500)..=Duration::from_secs(1)).contains(&late));
        }
        let samples: std::collections::HashSet<_> = (0..20).map(|_| p.backoff_before(3)).collect();
        assert!(samples.len() > 1, "no jitter");
    }

    fn now_unix() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn the_server_wait_comes_from_retry_after_or_the_reset() {
        let mut h = HeaderMap::new();
        assert_eq!(server_wait(&h), ServerWait::Unknown);
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(server_wait(&h), ServerWait::Within(Duration::from_secs(7)));
        // A date in the past is no wait: the client's backoff applies.
        h.insert(
            "retry-after",
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(server_wait(&h), ServerWait::Unknown);
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", HeaderValue::from(now_unix() + 60));
        let ServerWait::Within(wait) = server_wait(&h) else {
            panic!("no wait")
        };
        assert!(wait > Duration::from_secs(58) && wait <= Duration::from_secs(60));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert!(
            matches!(server_wait(&h), ServerWait::Within(_)),
            "falls back to the reset"
        );
    }

    #[test]
    fn absurd_waits_are_too_long_and_never_panic() {
        for value in [
            u64::MAX,
            u64::MAX / 2,
            10_000_000_000_000,
            now_unix() + 1_000_000,
        ] {
            let mut h = HeaderMap::new();
            h.insert("retry-after", HeaderValue::from(value));
            assert!(matches!(server_wait(&h), ServerWait::TooLong(_)), "{value}");
            let mut h = HeaderMap::new();
            h.insert("x-ratelimit-reset", HeaderValue::from(value));
            assert!(matches!(server_wait(&h), ServerWait::TooLong(_)), "{value}");
        }
    }

    #[test]
    fn a_reset_is_read_as_relative_or_absolute() {
        let now = SystemTime::now();
        assert_eq!(reset_delay(30, now), Some(Duration::from_secs(30)));
        assert_eq!(reset_delay(0, now), Some(Duration::ZERO));
        let d = reset_delay(now_unix() + 30, now).unwrap();
        assert!(d > Duration::from_secs(28) && d <= Duration::from_secs(30));
        assert_eq!(reset_delay(now_unix() - 30, now), None);
        assert!(reset_delay(u64::MAX, now).unwrap() > MAX_SERVER_WAIT);
    }

    #[test]
    fn retry_after_dates_in_all_three_formats() {
        let at = SystemTime::now() + Duration::from_secs(120);
        let imf = httpdate::fmt_http_date(at);
        // The same instant as RFC 850 and asctime dates.
        let secs = at.duration_since(UNIX_EPOCH).unwrap().as_secs();
        let (rfc850, asctime) = obsolete_formats(secs);
        for v in [imf, rfc850, asctime] {
            let mut h = HeaderMap::new();
            h.insert("retry-after", HeaderValue::from_str(&v).unwrap());
            let ServerWait::Within(wait) = server_wait(&h) else {
                panic!("{v} not read")
            };
            assert!(
                wait > Duration::from_secs(115) && wait <= Duration::from_secs(120),
                "{v}"
            );
        }
    }

    /// RFC 850 and asctime forms of a UNIX time, written out by hand.
    fn obsolete_formats(secs: u64) -> (String, String) {
        const DAYS: [&str; 7] = [
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
            "Monday",
            "Tuesday",
            "Wednesday",
        ];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let days = (secs / 86_400) as i64;
        let (h, m, s) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
        // Civil date from days since the epoch.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let mo = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(mo <= 2);
        let weekday = DAYS[(days % 7) as usize];
        let month = MONTHS[(mo - 1) as usize];
        (
            format!(
                "{weekday}, {d:02}-{month}-{:02} {h:02}:{m:02}:{s:02} GMT",
                y % 100
            ),
            format!("{} {month} {d:>2} {h:02}:{m:02}:{s:02} {y}", &weekday[..3]),
        )
    }
}
