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

/// How long a 429 asks to wait: `Retry-After` (seconds or an HTTP date), else the time until
/// `X-RateLimit-Reset` (UNIX seconds). `None` when neither is given or readable.
pub(crate) fn server_wait(headers: &HeaderMap) -> Option<Duration> {
    let text = |name| headers.get(name)?.to_str().ok().map(str::trim);
    if let Some(v) = text(RETRY_AFTER.as_str()) {
        if let Ok(secs) = v.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(at) = httpdate_to_unix(v) {
            return Some(until_unix(at));
        }
    }
    let reset = text("x-ratelimit-reset")?.parse::<u64>().ok()?;
    Some(until_unix(reset))
}

fn until_unix(unix_secs: u64) -> Duration {
    let target = UNIX_EPOCH + Duration::from_secs(unix_secs);
    target
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form `Retry-After` dates take.
fn httpdate_to_unix(s: &str) -> Result<u64, ()> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return Err(());
    };
    let day: u64 = day.parse().map_err(|_| ())?;
    let year: i64 = year.parse().map_err(|_| ())?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m == month).ok_or(())? as i64 + 1;
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().map_err(|_| ()))
        .collect::<Result<_, _>>()?;
    let [h, m, sec] = hms.as_slice() else {
        return Err(());
    };
    // Days since the epoch of a civil date (Howard Hinnant's algorithm).
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + (*h * 3600 + *m * 60 + *sec) as i64;
    u64::try_from(secs).map_err(|_| ())
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

    #[test]
    fn the_server_wait_comes_from_retry_after_or_the_reset() {
        let mut h = HeaderMap::new();
        assert_eq!(server_wait(&h), None);
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(server_wait(&h), Some(Duration::from_secs(7)));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(server_wait(&h), Some(Duration::ZERO));
        assert_eq!(
            httpdate_to_unix("Sun, 06 Nov 1994 08:49:37 GMT"),
            Ok(784_111_777)
        );
        let mut h = HeaderMap::new();
        let in_a_minute = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 60;
        h.insert("x-ratelimit-reset", HeaderValue::from(in_a_minute));
        let wait = server_wait(&h).unwrap();
        assert!(wait > Duration::from_secs(58) && wait <= Duration::from_secs(60));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert!(server_wait(&h).is_some(), "falls back to the reset");
    }
}
