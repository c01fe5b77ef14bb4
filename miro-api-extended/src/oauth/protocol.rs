//! The refresh, tidy and revoke decisions as a pure state machine ("sans-IO").
//!
//! An [`Op`] never touches the store, the network or a clock: it is given what the last
//! action produced ([`Input`]) and the process's situation ([`Env`]), updates the user's
//! per-process state ([`UserCore`]) and says what to do next ([`Action`]). `refresh.rs` drives
//! it with the real store and Miro; the crate's fault simulation drives the same code with a
//! faulty store, a faulty token endpoint, several processes and skewed clocks.
//!
//! The protocol, for one user:
//! - Every stored record has a random version; every write is a compare-and-set naming the
//!   version it replaces and choosing the new one, so a retried write recognises its own
//!   earlier success (the store holds the version it chose) and a delayed write can never
//!   land on a record that changed since.
//! - Before a refresh token is sent, the record is marked (`refreshing <holder>`) by such a
//!   write, and the token is sent only if that write was confirmed within the request limit
//!   of being issued; the request itself is abandoned after that limit. Others wait for the
//!   marker to go, and use the stored access token meanwhile while it still works.
//! - An answer lost (no answer, or one without an access token) leaves the token in doubt:
//!   the process that sent it marks the record anew and sends it again (its earlier request
//!   is abandoned), once in the same operation, then in its next; both lost, the record is
//!   marked `in-doubt <holder>`. Miro either never saw it (the refresh succeeds) or rotated
//!   it, and then the successor reached nobody.
//! - A record marked by another process that stays at one version for the takeover bound,
//!   on this process's own monotonic clock, is taken over: its holder was killed, lost its
//!   answer and went away, or stalled past its deadline (the bound is at least three request
//!   limits). The taker marks it and sends the token itself.
//! - `invalid_grant` for a token that may have been sent before (a resend or a takeover)
//!   marks the record `rejected`, not deleted: a process that holds the successor (a
//!   stalled holder whose request won) stores it over any record that still holds the token
//!   it spent, unless that record is being revoked. A first send's `invalid_grant` deletes
//!   the record, if it still holds the rejected token.
//! - Rotated tokens the store does not take are kept in memory and written again later by
//!   a background task. Only when the record they replace is gone for good (revoked, or
//!   replaced by a new authorization) are they revoked: no store can ever hold them.
//! - Revoking marks the record `revoking <holder>`, revokes at Miro, then deletes it; anyone
//!   may finish a revoke, and a revoke takes over a foreign `refreshing` marker after the
//!   bound, so it always completes.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use miro_api::AccessToken;

use super::{OAuthError, MAX_REFRESH_TAKEOVER};
use crate::secret::RefreshToken;
use crate::storage::{StorageError, StoredTokens, TokenState};

/// How many times one operation tries a store call before it gives up (and leaves what is
/// left to the background task).
pub(crate) const STORE_ATTEMPTS: u32 = 3;
/// The first pause between two tries of a write (doubled each time).
pub(crate) const WRITE_BACKOFF: Duration = Duration::from_millis(50);
/// Pauses between two looks at a record another process has marked.
const POLL_MIN: Duration = Duration::from_millis(10);
const POLL_MAX: Duration = Duration::from_millis(200);
/// How much longer than the takeover bound a revoke waits for a foreign marker (its first
/// sight of the marker comes a little after the operation starts).
const TAKEOVER_SLACK: Duration = Duration::from_secs(1);
/// How many times one operation decides anew after the record changed under it, at most.
const MAX_ROUNDS: u32 = 64;

/// What one process knows about one user beyond the store.
#[derive(Default)]
pub(crate) struct UserCore {
    /// Rotated tokens the store has not taken yet (used meanwhile).
    pub pending: Option<Pending>,
    /// Markers of ours whose refresh token was sent, by record version, and what came of it.
    spent: HashMap<u64, Spent>,
    /// Writes of ours whose outcome is unknown and must be settled (see [`Tidy`]).
    pub tidy: Vec<Tidy>,
    /// Whether a background task is settling them (the driver's business).
    pub tidier: bool,
    /// A record another process marked: its version and when we first saw it (our monotonic
    /// clock). Once it has stayed at that version for the takeover bound, we take it over.
    seen: Option<(u64, Duration)>,
}

impl UserCore {
    /// Whether there is nothing to remember (the entry can be dropped).
    pub fn is_idle(&self) -> bool {
        self.pending.is_none()
            && self.spent.is_empty()
            && self.tidy.is_empty()
            && !self.tidier
            && self.seen.is_none()
    }

    /// Whether the background task has something to do.
    pub fn needs_tidy(&self) -> bool {
        self.pending.is_some() || !self.tidy.is_empty()
    }

    /// What we know of our record at version `from` now holds for version `to` (the same
    /// tokens and marker, written anew).
    fn rekey(&mut self, from: u64, to: u64) {
        if let Some(p) = self.pending.as_mut().filter(|p| p.replaces == from) {
            p.replaces = to;
        }
        if let Some(spent) = self.spent.remove(&from) {
            self.spent.insert(to, spent);
        }
    }

    /// Forgets everything (new tokens were stored by a code exchange).
    pub fn reset(&mut self) {
        let tidier = self.tidier;
        *self = UserCore::default();
        self.tidier = tidier;
    }
}

/// Rotated tokens waiting to be stored.
#[derive(Clone)]
pub(crate) struct Pending {
    /// The tokens.
    pub state: TokenState,
    /// The version of the (marked) record they replace.
    pub replaces: u64,
    /// The version they are written with (the same on every try).
    pub version: u64,
    /// The refresh token Miro rotated into these tokens: a record that still holds it can
    /// take them, whatever its version (unless it is being revoked).
    spent: Option<RefreshToken>,
}

impl Pending {
    fn record(&self) -> StoredTokens {
        StoredTokens::from_parts(self.state.clone(), self.version, None)
    }
}

/// What became of a refresh token sent under one of our markers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Spent {
    /// Miro answered `invalid_grant` (else: no answer yet, or one we could not read).
    rejected: bool,
    /// The token may have been sent before (we resent it, or took over another process's
    /// marker): an `invalid_grant` then marks the record rejected instead of deleting it, so
    /// that whoever holds the successor can still store it.
    resent: bool,
}

/// A write of ours whose outcome is unknown, to settle from the background task.
#[derive(Clone)]
pub(crate) enum Tidy {
    /// A marker write from version `from` that may still land: fence it out by writing the
    /// record from `from` without our new marker (one of the two wins), or remove the marker
    /// if it landed. A token that may have been sent before stays marked `in-doubt`.
    Fence {
        from: u64,
        mark: StoredTokens,
        resent: bool,
    },
    /// Our marker `mark_version` should be replaced by `record` (unmarked, or `in-doubt`).
    Unmark {
        mark_version: u64,
        record: StoredTokens,
    },
}

/// The markers, as written to the store.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Marker<'a> {
    /// `holder` is spending the stored refresh token.
    Refreshing(&'a str),
    /// `holder` sent the stored refresh token and the answer was lost.
    InDoubt(&'a str),
    /// `holder` is revoking the tokens.
    Revoking(&'a str),
    /// Miro answered `invalid_grant` to a refresh token that may have been sent before: dead
    /// unless a process that holds its successor stores it over this record.
    Rejected(&'a str),
    /// Something this version does not know (treated like `Refreshing`).
    Unknown,
}

const REFRESHING: &str = "refreshing";
const IN_DOUBT: &str = "in-doubt";
const REVOKING: &str = "revoking";
const REJECTED: &str = "rejected";

impl<'a> Marker<'a> {
    pub fn parse(text: &'a str) -> Marker<'a> {
        match text.split_once(' ') {
            Some((REFRESHING, h)) => Marker::Refreshing(h),
            Some((IN_DOUBT, h)) => Marker::InDoubt(h),
            Some((REVOKING, h)) => Marker::Revoking(h),
            Some((REJECTED, h)) => Marker::Rejected(h),
            _ => Marker::Unknown,
        }
    }
}

fn marker(kind: &str, holder: &str) -> Option<String> {
    Some(format!("{kind} {holder}"))
}

/// The record as it is once our marker goes without the token being spent by us: unmarked,
/// or `in-doubt <us>` when the token may have been sent before (then only a send decides).
fn settled(state: &TokenState, env: &Env<'_>, resent: bool) -> StoredTokens {
    let marker = if resent {
        marker(IN_DOUBT, env.holder)
    } else {
        None
    };
    StoredTokens::from_parts(state.clone(), env.version, marker)
}

/// The protocol's time bounds, from the settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timing {
    /// How long a foreign marker must stay at one version before it is taken over.
    pub takeover: Duration,
    /// The time limit of one token request, and how soon after its marker write was issued
    /// a refresh token must be sent.
    pub request: Duration,
}

impl Timing {
    /// The bounds for the settings: a request limit of at least 50 ms, a takeover bound of
    /// at least three request limits (a holder sends within one limit of marking and its
    /// request ends within another, so its token is never sent twice at once unless the
    /// holder stalls past its own deadline) and at most [`MAX_REFRESH_TAKEOVER`].
    pub fn new(takeover: Duration, request: Duration) -> Timing {
        let request = request.clamp(Duration::from_millis(50), MAX_REFRESH_TAKEOVER / 3);
        Timing {
            takeover: takeover.clamp(request.saturating_mul(3), MAX_REFRESH_TAKEOVER),
            request,
        }
    }
}

/// The process's situation at one step.
pub(crate) struct Env<'a> {
    /// This process's name in markers.
    pub holder: &'a str,
    /// Refresh when the access token expires within this.
    pub margin: Duration,
    /// How long to wait for a record another process marked.
    pub wait: Duration,
    /// The takeover bound and the request limit. A marker write must be confirmed within
    /// the request limit (from when it was issued) for its token to be sent; later, the
    /// record is marked anew first.
    pub timing: Timing,
    /// This process's wall clock (token expiry).
    pub now: SystemTime,
    /// This process's monotonic clock (one origin for the process's life).
    pub mono: Duration,
    /// A new random version this step may use.
    pub version: u64,
    /// The access token Miro last answered 401 to for this user, if any.
    pub rejected: Option<&'a AccessToken>,
}

impl Env<'_> {
    /// The tokens should be refreshed before use.
    pub fn needs_refresh(&self, state: &TokenState) -> bool {
        needs_refresh(state, self.now, self.margin, self.rejected)
    }

    /// The access token can still be used (not expired, not rejected).
    pub fn usable(&self, state: &TokenState) -> bool {
        !needs_refresh(state, self.now, Duration::ZERO, self.rejected)
    }
}

/// Whether `state` should be refreshed before use at `now`: Miro rejected its access token,
/// or it expires within `margin`.
pub(crate) fn needs_refresh(
    state: &TokenState,
    now: SystemTime,
    margin: Duration,
    rejected: Option<&AccessToken>,
) -> bool {
    rejected == Some(&state.access_token) || state.expires_within_from(now, margin)
}

/// What a refresh-token request came to.
pub(crate) enum Answer {
    /// New tokens.
    Granted(TokenState),
    /// An OAuth JSON `invalid_grant`: the token is no good (the error to report).
    Rejected(OAuthError),
    /// Any other error answer: the token was not spent.
    Refused(OAuthError),
    /// No answer, or one that could not be read: the token may have been spent.
    Lost(OAuthError),
}

/// What the previous action produced.
pub(crate) enum Input {
    Start,
    Read(Result<Option<StoredTokens>, StorageError>),
    Wrote(Result<bool, StorageError>),
    Spent(Answer),
    Revoked(Result<(), OAuthError>),
    Slept,
}

/// What to do next.
pub(crate) enum Action {
    /// Read the user's record.
    Read,
    /// `replace_if(user, expected, record)`.
    Write {
        expected: u64,
        record: Option<StoredTokens>,
    },
    /// Send this refresh token to the token endpoint.
    Spend(RefreshToken),
    /// Revoke this access token at Miro.
    Revoke(AccessToken),
    /// Wait.
    Sleep(Duration),
    /// Finished.
    Done(Result<Done, OAuthError>),
}

/// What a finished operation gives.
#[derive(Debug)]
pub(crate) enum Done {
    /// Tokens to use.
    Tokens(TokenState),
    /// Revoked (`false`: nothing was stored).
    Revoked(bool),
    /// The background work is done, or left for later.
    Tidied,
}

/// The three operations.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// Give usable tokens, refreshing them if needed.
    Refresh,
    /// Store pending tokens and settle unknown writes.
    Tidy,
    /// Revoke at Miro and remove.
    Revoke,
}

/// The version and marker a record had before a `revoking` marker replaced them.
type Prior = (u64, Option<String>);

enum Phase {
    Start,
    /// Waiting for a read to decide on.
    Reading,
    /// Waiting for the marker write.
    Marking {
        from: u64,
        mark: StoredTokens,
        resent: bool,
    },
    /// Waiting for the token endpoint.
    Spending {
        mark: StoredTokens,
        resent: bool,
    },
    /// Waiting for the write of the pending tokens.
    Saving,
    /// Waiting for a read after an ambiguous write of the pending tokens.
    CheckingSave,
    /// Waiting to write the pending tokens again.
    SaveBackoff,
    /// Waiting for the marker to be replaced; then finished with `result`.
    Unmarking {
        mark_version: u64,
        record: StoredTokens,
        result: Option<Result<Done, OAuthError>>,
    },
    /// Waiting for a read after Miro rejected the token.
    CheckingRejection {
        mark_version: u64,
        error: Option<OAuthError>,
    },
    /// Waiting for the delete of the rejected tokens (or their `rejected` marker).
    Deleting {
        mark_version: u64,
        error: Option<OAuthError>,
        rejected: bool,
    },
    /// Waiting for the revocation of tokens no store can ever hold; then deciding on `then`.
    RevokingOrphan {
        then: Option<StoredTokens>,
    },
    /// Waiting before reading a record another process marked.
    Waiting,
    /// Tidy: waiting for a fence or unmark write.
    Settling {
        item: Tidy,
    },
    /// Tidy: waiting for a read after an unsuccessful fence.
    CheckingFence {
        item: Tidy,
    },
    /// Revoke: waiting for the `revoking` marker write.
    RevokeMarking {
        mark: StoredTokens,
        prior: Prior,
    },
    /// Revoke: revoking these tokens at Miro one by one.
    RevokingAtMiro {
        mark: StoredTokens,
        prior: Prior,
        left: Vec<AccessToken>,
    },
    /// Revoke: waiting for the delete.
    RevokeDeleting {
        mark: StoredTokens,
    },
    Finished,
}

/// One operation on one user's tokens.
pub(crate) struct Op {
    kind: Kind,
    user: String,
    phase: Phase,
    started: Option<Duration>,
    attempts: u32,
    rounds: u32,
    /// A marker write of ours (from version, marker, resent) not known to have landed or
    /// not: settled by the background task if the operation ends before it knows.
    unconfirmed: Option<(u64, StoredTokens, bool)>,
    /// When the current marker write was issued (its token is sent only soon after).
    mark_at: Duration,
    /// How many times this operation sent a refresh token.
    sends: u32,
    /// The refresh began from our own unstored tokens.
    from_unsaved: bool,
    /// The record version decided on last (`Some(None)`: no record).
    last_seen: Option<Option<u64>>,
    /// How many times this operation waited for another process.
    polls: u32,
}

/// How many times one operation sends a refresh token at most (a first send and one resend
/// after a lost answer); the next operation resends again.
const MAX_SENDS: u32 = 2;

fn not_authorized(user: &str) -> OAuthError {
    OAuthError::NotAuthorized {
        user_id: user.to_string(),
    }
}

impl Op {
    pub fn new(kind: Kind, user: &str) -> Op {
        Op {
            kind,
            user: user.to_string(),
            phase: Phase::Start,
            started: None,
            attempts: 0,
            rounds: 0,
            unconfirmed: None,
            mark_at: Duration::ZERO,
            sends: 0,
            from_unsaved: false,
            last_seen: None,
            polls: 0,
        }
    }

    #[cfg_attr(not(test), allow(dead_code))]
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether the first step was taken.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn started(&self) -> bool {
        self.started.is_some()
    }

    /// The next action, given what the previous one produced.
    pub fn step(&mut self, core: &mut UserCore, input: Input, env: &Env<'_>) -> Action {
        if let (Some((from, mark, _)), Input::Read(Ok(rec))) = (&self.unconfirmed, &input) {
            // Settled by what the store holds: neither version means it can no longer land.
            let version = rec.as_ref().map(|r| r.version);
            if version != Some(*from) && version != Some(mark.version) {
                self.unconfirmed = None;
            }
        }
        let action = self.next(core, input, env);
        if let Action::Done(_) = action {
            if let Some((from, mark, resent)) = self.unconfirmed.take() {
                core.tidy.push(Tidy::Fence { from, mark, resent });
            }
        }
        action
    }

    fn next(&mut self, core: &mut UserCore, input: Input, env: &Env<'_>) -> Action {
        self.started.get_or_insert(env.mono);
        let phase = std::mem::replace(&mut self.phase, Phase::Finished);
        match (phase, input) {
            (Phase::Start, Input::Start) => self.start(core, env),
            (Phase::Reading, Input::Read(read)) => match read {
                Ok(rec) => self.decide(core, rec, env),
                Err(e) => self.retry_read(e),
            },
            (Phase::Waiting, Input::Slept) => self.read(),
            (Phase::Marking { from, mark, resent }, Input::Wrote(w)) => {
                self.marked(core, from, mark, resent, w, env)
            }
            (Phase::Spending { mark, resent }, Input::Spent(answer)) => {
                self.answered(core, mark, resent, answer, env)
            }
            (Phase::Saving, Input::Wrote(w)) => self.saved(core, w, env),
            (Phase::CheckingSave, Input::Read(read)) => self.check_save(core, read, env),
            (Phase::SaveBackoff, Input::Slept) => self.save(core),
            (
                Phase::Unmarking {
                    mark_version,
                    record,
                    result,
                },
                Input::Wrote(w),
            ) => {
                if w.is_err() {
                    // Settled later: until then our marker keeps others from the token.
                    core.tidy.push(Tidy::Unmark {
                        mark_version,
                        record,
                    });
                } else {
                    // Replaced (or moved on): an `in-doubt` marker of ours is known as sent
                    // by its name alone.
                    core.spent.remove(&mark_version);
                }
                self.finish(result.unwrap_or(Err(OAuthError::RefreshInterrupted)))
            }
            (
                Phase::CheckingRejection {
                    mark_version,
                    error,
                },
                Input::Read(read),
            ) => self.check_rejection(core, mark_version, error, read, env),
            (
                Phase::Deleting {
                    mark_version,
                    error,
                    rejected,
                },
                Input::Wrote(w),
            ) => match w {
                Ok(true) => {
                    core.spent.remove(&mark_version);
                    if rejected {
                        tracing::warn!(user_id = %self.user, "Miro rejected a refresh token sent again; the record is marked rejected");
                    } else {
                        tracing::warn!(user_id = %self.user, "Miro rejected the refresh token; the stored tokens were removed");
                    }
                    self.finish(Err(error.unwrap_or_else(|| not_authorized(&self.user))))
                }
                Ok(false) => self.recheck_rejection(mark_version, error),
                Err(e) if self.attempts + 1 >= STORE_ATTEMPTS => self.finish(Err(e.into())),
                Err(_) => {
                    self.attempts += 1;
                    self.recheck_rejection(mark_version, error)
                }
            },
            (Phase::RevokingOrphan { then }, Input::Revoked(r)) => {
                if let Err(e) = r {
                    tracing::warn!(user_id = %self.user, error = %e, "revoking tokens no store can hold failed");
                }
                match self.kind {
                    Kind::Refresh => self.decide(core, then, env),
                    Kind::Revoke => self.finish(Ok(Done::Revoked(true))),
                    Kind::Tidy => self.tidy_next(core, env),
                }
            }
            (Phase::Settling { item }, Input::Wrote(w)) => self.settled(core, item, w, env),
            (Phase::CheckingFence { item }, Input::Read(read)) => {
                self.check_fence(core, item, read, env)
            }
            (Phase::RevokeMarking { mark, prior }, Input::Wrote(w)) => match w {
                Ok(true) => self.revoke_at_miro(core, mark, prior),
                Ok(false) => self.read(),
                Err(e) if self.attempts + 1 >= STORE_ATTEMPTS => self.finish(Err(e.into())),
                Err(_) => {
                    self.attempts += 1;
                    self.read()
                }
            },
            (
                Phase::RevokingAtMiro {
                    mark,
                    prior,
                    mut left,
                },
                Input::Revoked(r),
            ) => match r {
                Ok(()) => {
                    left.pop();
                    self.revoke_next(mark, prior, left)
                }
                Err(e) => {
                    // Put the record back as it was (an `in-doubt` marker stays), and what we
                    // know of it moves to its new version.
                    let (from, marker) = prior;
                    core.rekey(from, env.version);
                    let record = StoredTokens::from_parts(mark.state.clone(), env.version, marker);
                    self.phase = Phase::Unmarking {
                        mark_version: mark.version,
                        record: record.clone(),
                        result: Some(Err(e)),
                    };
                    Action::Write {
                        expected: mark.version,
                        record: Some(record),
                    }
                }
            },
            (Phase::RevokeDeleting { mark }, Input::Wrote(w)) => match w {
                // Gone (by us, or changed by a new authorization after we revoked).
                Ok(_) => {
                    core.reset();
                    tracing::info!(user_id = %self.user, "tokens revoked and removed");
                    match self.kind {
                        Kind::Revoke => self.finish(Ok(Done::Revoked(true))),
                        // A refresh that finished someone's revoke: the user is signed out.
                        _ => self.finish(Err(not_authorized(&self.user))),
                    }
                }
                Err(e) if self.attempts + 1 >= STORE_ATTEMPTS => self.finish(Err(e.into())),
                Err(_) => {
                    self.attempts += 1;
                    self.phase = Phase::RevokeDeleting { mark: mark.clone() };
                    Action::Write {
                        expected: mark.version,
                        record: None,
                    }
                }
            },
            (_, _) => self.finish(Err(OAuthError::RefreshInterrupted)),
        }
    }

    fn finish(&mut self, result: Result<Done, OAuthError>) -> Action {
        self.phase = Phase::Finished;
        Action::Done(result)
    }

    fn read(&mut self) -> Action {
        self.phase = Phase::Reading;
        Action::Read
    }

    fn retry_read(&mut self, e: StorageError) -> Action {
        self.attempts += 1;
        if self.attempts >= STORE_ATTEMPTS {
            return self.finish(Err(e.into()));
        }
        self.read()
    }

    fn start(&mut self, core: &mut UserCore, env: &Env<'_>) -> Action {
        match self.kind {
            // Our own unstored tokens come first: they are the newest.
            Kind::Refresh if core.pending.is_some() => {
                self.from_unsaved = true;
                self.save(core)
            }
            Kind::Refresh | Kind::Revoke => self.read(),
            Kind::Tidy => self.tidy_next(core, env),
        }
    }

    /// How long the record has stayed at this version, marked by another process, as far as
    /// we have watched it (our monotonic clock: no agreement between machines needed).
    fn watched(core: &mut UserCore, rec: &StoredTokens, env: &Env<'_>) -> Duration {
        match core.seen {
            Some((version, since)) if version == rec.version => env.mono.saturating_sub(since),
            _ => {
                core.seen = Some((rec.version, env.mono));
                Duration::ZERO
            }
        }
    }

    /// Decides on the user's record.
    fn decide(&mut self, core: &mut UserCore, rec: Option<StoredTokens>, env: &Env<'_>) -> Action {
        // Rounds count changes of the record under us (waiting on one version is bounded by
        // time instead).
        let version = rec.as_ref().map(|r| r.version);
        if self.last_seen != Some(version) {
            self.last_seen = Some(version);
            self.rounds += 1;
        }
        if self.rounds > MAX_ROUNDS {
            return self.busy();
        }
        if self.kind == Kind::Revoke {
            return self.decide_revoke(core, rec, env);
        }
        let Some(rec) = rec else {
            if let Some(p) = core.pending.take() {
                // The record our tokens were to replace is gone for good.
                return self.orphan(p.state, None);
            }
            return self.finish(Err(not_authorized(&self.user)));
        };
        match rec.marker.as_deref().map(Marker::parse) {
            None => {}
            // A revoke whose process went away is finished by whoever finds it.
            Some(Marker::Revoking(h))
                if h == env.holder || Self::watched(core, &rec, env) >= env.timing.takeover =>
            {
                core.seen = None;
                let prior = (rec.version, rec.marker.clone());
                return self.revoke_at_miro(core, rec, prior);
            }
            Some(Marker::Revoking(_)) => return self.finish(Err(not_authorized(&self.user))),
            Some(Marker::Rejected(_)) => return self.finish(Err(self.rejection())),
            Some(Marker::Refreshing(h) | Marker::InDoubt(h)) if h == env.holder => {
                let in_doubt = matches!(
                    rec.marker.as_deref().map(Marker::parse),
                    Some(Marker::InDoubt(_))
                );
                match core.spent.get(&rec.version).copied() {
                    Some(Spent { rejected: true, .. }) => {
                        return self.recheck_rejection(rec.version, None);
                    }
                    // Our marker, landed after we gave up on it (or an earlier try of the
                    // write that just failed): the token was never sent under it. Marked
                    // anew before it is, so that no write of ours from this version (a late
                    // unmark) can land after the token was spent.
                    None if !in_doubt && env.needs_refresh(&rec.state) => {}
                    // Not needed after all: take our stale marker away.
                    None if !in_doubt => {
                        let record = StoredTokens::from_parts(rec.state.clone(), env.version, None);
                        return self.unmark(rec.version, record, Ok(Done::Tokens(rec.state)));
                    }
                    // We sent it and the answer was lost: our request is abandoned, so we
                    // send it again (Miro either never saw it, or rotated it and the
                    // successor reached nobody).
                    _ if !env.needs_refresh(&rec.state) => {
                        return self.finish(Ok(Done::Tokens(rec.state)));
                    }
                    _ => return self.mark(core, rec, env, true),
                }
            }
            Some(Marker::Refreshing(_) | Marker::InDoubt(_) | Marker::Unknown) => {
                // Someone else is spending the token (or lost its answer): use the stored
                // access token while it works; take the record over once it has stayed
                // marked at this version for the takeover bound (the holder is gone, or
                // past its own deadline); else wait.
                let watched = Self::watched(core, &rec, env);
                if !env.needs_refresh(&rec.state) && env.usable(&rec.state) {
                    return self.finish(Ok(Done::Tokens(rec.state)));
                }
                if watched >= env.timing.takeover && rec.state.refresh_token.is_some() {
                    tracing::warn!(user_id = %self.user, marker = ?rec.marker, "taking over a refresh another process left unfinished");
                    return self.mark(core, rec, env, true);
                }
                if env.usable(&rec.state) {
                    return self.finish(Ok(Done::Tokens(rec.state)));
                }
                return self.wait(env);
            }
        }
        if !env.needs_refresh(&rec.state) {
            return self.finish(Ok(Done::Tokens(rec.state)));
        }
        if rec.state.refresh_token.is_none() {
            return self.unrefreshable(rec.state, env);
        }
        // A record that is not plainly unmarked (our own marker, landed late) may hold a
        // token sent before.
        let resent = rec.marker.is_some();
        self.mark(core, rec, env, resent)
    }

    /// Marks the record `refreshing <us>` (a compare-and-set from its version) before its
    /// refresh token is sent; `resent`: the token may have been sent before.
    fn mark(
        &mut self,
        core: &mut UserCore,
        rec: StoredTokens,
        env: &Env<'_>,
        resent: bool,
    ) -> Action {
        core.seen = None;
        let mark = StoredTokens::from_parts(
            rec.state.clone(),
            env.version,
            marker(REFRESHING, env.holder),
        );
        self.attempts = 0;
        self.mark_at = env.mono;
        self.unconfirmed = Some((rec.version, mark.clone(), resent));
        self.phase = Phase::Marking {
            from: rec.version,
            mark: mark.clone(),
            resent,
        };
        Action::Write {
            expected: rec.version,
            record: Some(mark),
        }
    }

    /// The error for a record whose refresh token Miro refused.
    fn rejection(&self) -> OAuthError {
        OAuthError::RefreshRejected {
            user_id: self.user.clone(),
            status: 400,
            error: Some("invalid_grant".into()),
            message: None,
        }
    }

    fn busy(&mut self) -> Action {
        self.finish(Err(OAuthError::RefreshBusy {
            user_id: self.user.clone(),
        }))
    }

    fn wait(&mut self, env: &Env<'_>) -> Action {
        self.wait_for(env, env.wait)
    }

    /// Sleeps before reading the record again, or answers busy after `limit` in this
    /// operation.
    fn wait_for(&mut self, env: &Env<'_>, limit: Duration) -> Action {
        let waited = env.mono.saturating_sub(self.started.unwrap_or(env.mono));
        if waited >= limit {
            return self.busy();
        }
        self.polls += 1;
        let pause = POLL_MIN
            .saturating_mul(1u32 << self.polls.min(8))
            .min(POLL_MAX)
            .min(limit - waited);
        self.phase = Phase::Waiting;
        Action::Sleep(pause)
    }

    fn unrefreshable(&mut self, state: TokenState, env: &Env<'_>) -> Action {
        if env.usable(&state) {
            // About to expire but still valid: use it.
            return self.finish(Ok(Done::Tokens(state)));
        }
        self.finish(Err(OAuthError::NotRefreshable {
            user_id: self.user.clone(),
        }))
    }

    fn marked(
        &mut self,
        core: &mut UserCore,
        from: u64,
        mark: StoredTokens,
        resent: bool,
        wrote: Result<bool, StorageError>,
        env: &Env<'_>,
    ) -> Action {
        match wrote {
            // Confirmed too late to send (a slow store): another process may be about to
            // take the record over. Decide anew: our unsent marker is marked again.
            Ok(true) if env.mono.saturating_sub(self.mark_at) > env.timing.request => {
                self.unconfirmed = None;
                self.read()
            }
            Ok(true) => self.spend(core, from, mark, resent),
            // Someone changed the record first, or an earlier try of ours landed: decide on
            // what is there (our own unsent marker is recognised by its version).
            Ok(false) => self.read(),
            Err(e) => {
                self.attempts += 1;
                if self.attempts >= STORE_ATTEMPTS {
                    // The marker may still land: the background task fences it out (see
                    // `step`).
                    return self.finish(Err(e.into()));
                }
                // The same write again (same version): idempotent if the first one landed.
                self.phase = Phase::Marking {
                    from,
                    mark: mark.clone(),
                    resent,
                };
                Action::Write {
                    expected: from,
                    record: Some(mark),
                }
            }
        }
    }

    fn spend(
        &mut self,
        core: &mut UserCore,
        from: u64,
        mark: StoredTokens,
        resent: bool,
    ) -> Action {
        let Some(token) = mark.state.refresh_token.clone() else {
            return self.finish(Err(OAuthError::NotRefreshable {
                user_id: self.user.clone(),
            }));
        };
        // Our marker replaced the record: what we knew of its earlier versions is moot
        // (versions are never reused, so no write can bring one back).
        let _ = from;
        core.spent.clear();
        core.spent.insert(
            mark.version,
            Spent {
                rejected: false,
                resent,
            },
        );
        self.unconfirmed = None;
        self.sends += 1;
        // A marker we gave up on and take over now: nothing left to settle about it.
        core.tidy.retain(|t| match t {
            Tidy::Fence { mark: m, .. } => m.version != mark.version,
            Tidy::Unmark { mark_version, .. } => *mark_version != mark.version,
        });
        self.phase = Phase::Spending { mark, resent };
        Action::Spend(token)
    }

    fn answered(
        &mut self,
        core: &mut UserCore,
        mark: StoredTokens,
        resent: bool,
        answer: Answer,
        env: &Env<'_>,
    ) -> Action {
        match answer {
            Answer::Granted(fresh) => {
                // The token stays known as spent until its successor is stored: should our
                // marker come back (a late write) after the tokens were lost, it is never sent
                // again.
                let fresh = TokenState {
                    team_id: fresh.team_id.or(mark.state.team_id.clone()),
                    scope: fresh.scope.or(mark.state.scope.clone()),
                    ..fresh
                };
                core.pending = Some(Pending {
                    state: fresh,
                    replaces: mark.version,
                    version: env.version,
                    spent: mark.state.refresh_token.clone(),
                });
                self.attempts = 0;
                self.save(core)
            }
            Answer::Rejected(error) => {
                core.spent.insert(
                    mark.version,
                    Spent {
                        rejected: true,
                        resent,
                    },
                );
                self.attempts = 0;
                self.recheck_rejection(mark.version, Some(error))
            }
            Answer::Refused(error) => {
                // Not spent by this request: take our marker away, tokens unchanged (a token
                // that may have been sent before stays in doubt).
                core.spent.remove(&mark.version);
                let record = settled(&mark.state, env, resent);
                self.unmark(mark.version, record, Err(error))
            }
            // Our request is abandoned: send the token again (a new marker first) while this
            // operation may; else leave it marked `in-doubt` for our next operation.
            Answer::Lost(_) if self.sends < MAX_SENDS => {
                tracing::warn!(user_id = %self.user, "the refresh answer was lost; sending the refresh token again");
                self.mark(core, mark, env, true)
            }
            Answer::Lost(error) => {
                tracing::warn!(user_id = %self.user, error = %error, "no usable refresh answer came again (lost, or without an access token); the refresh token may be spent");
                let record = StoredTokens::from_parts(
                    mark.state.clone(),
                    env.version,
                    marker(IN_DOUBT, env.holder),
                );
                let result = if env.usable(&mark.state) {
                    Ok(Done::Tokens(mark.state.clone()))
                } else {
                    Err(OAuthError::RefreshInDoubt {
                        user_id: self.user.clone(),
                    })
                };
                self.unmark(mark.version, record, result)
            }
        }
    }

    fn unmark(
        &mut self,
        mark_version: u64,
        record: StoredTokens,
        result: Result<Done, OAuthError>,
    ) -> Action {
        self.phase = Phase::Unmarking {
            mark_version,
            record: record.clone(),
            result: Some(result),
        };
        Action::Write {
            expected: mark_version,
            record: Some(record),
        }
    }

    fn recheck_rejection(&mut self, mark_version: u64, error: Option<OAuthError>) -> Action {
        self.phase = Phase::CheckingRejection {
            mark_version,
            error,
        };
        Action::Read
    }

    fn check_rejection(
        &mut self,
        core: &mut UserCore,
        mark_version: u64,
        error: Option<OAuthError>,
        read: Result<Option<StoredTokens>, StorageError>,
        env: &Env<'_>,
    ) -> Action {
        let error = error.unwrap_or_else(|| self.rejection());
        match read {
            // The rejected token is still the stored one: delete it, or, when it may have
            // been sent before, mark it rejected (a process that holds its successor can
            // still store that over it).
            Ok(Some(rec)) if rec.version == mark_version => {
                let resent = core.spent.get(&mark_version).is_some_and(|s| s.resent);
                let record = resent.then(|| {
                    StoredTokens::from_parts(rec.state, env.version, marker(REJECTED, env.holder))
                });
                self.phase = Phase::Deleting {
                    mark_version,
                    error: Some(error),
                    rejected: resent,
                };
                Action::Write {
                    expected: mark_version,
                    record,
                }
            }
            Ok(other) => {
                // Deleted (by us, an answer lost) or replaced (a new authorization): not ours
                // to delete any more.
                core.spent.remove(&mark_version);
                match other {
                    None => self.finish(Err(error)),
                    Some(rec) => self.decide(core, Some(rec), env),
                }
            }
            Err(e) => {
                self.attempts += 1;
                if self.attempts >= STORE_ATTEMPTS {
                    // Our marker stays; our next operation for the user checks again.
                    return self.finish(Err(e.into()));
                }
                self.recheck_rejection(mark_version, Some(error))
            }
        }
    }

    /// Writes the pending tokens (the same record on every try).
    fn save(&mut self, core: &mut UserCore) -> Action {
        let Some(p) = core.pending.as_ref() else {
            return self.finish(Err(OAuthError::RefreshInterrupted));
        };
        self.phase = Phase::Saving;
        Action::Write {
            expected: p.replaces,
            record: Some(p.record()),
        }
    }

    fn saved(
        &mut self,
        core: &mut UserCore,
        wrote: Result<bool, StorageError>,
        env: &Env<'_>,
    ) -> Action {
        match wrote {
            Ok(true) => self.stored(core, env),
            Ok(false) => {
                self.phase = Phase::CheckingSave;
                Action::Read
            }
            Err(e) => self.save_failed(core, e, env),
        }
    }

    fn save_failed(&mut self, core: &mut UserCore, e: StorageError, env: &Env<'_>) -> Action {
        self.attempts += 1;
        if self.attempts >= STORE_ATTEMPTS {
            return self.keep_unsaved(core, e, env);
        }
        self.phase = Phase::SaveBackoff;
        Action::Sleep(WRITE_BACKOFF.saturating_mul(1 << self.attempts.min(8)))
    }

    fn check_save(
        &mut self,
        core: &mut UserCore,
        read: Result<Option<StoredTokens>, StorageError>,
        env: &Env<'_>,
    ) -> Action {
        let Some(p) = core.pending.clone() else {
            return self.finish(Err(OAuthError::RefreshInterrupted));
        };
        match read {
            // An earlier try of ours landed (and maybe someone marked it since).
            Ok(Some(rec))
                if rec.version == p.version || rec.access_token == p.state.access_token =>
            {
                self.stored(core, env)
            }
            Ok(Some(rec)) if rec.version == p.replaces => self.save_failed(
                core,
                StorageError::Other("the record did not change".into()),
                env,
            ),
            // The record moved on but still holds the token Miro rotated into ours (another
            // process took it over, or marked it rejected after sending it again): ours are
            // the only live successor, so they replace it, unless it is being revoked.
            Ok(Some(rec))
                if p.spent.is_some()
                    && rec.refresh_token == p.spent
                    && !matches!(
                        rec.marker.as_deref().map(Marker::parse),
                        Some(Marker::Revoking(_))
                    )
                    && self.rounds < MAX_ROUNDS =>
            {
                self.rounds += 1;
                core.rekey(p.replaces, rec.version);
                self.save(core)
            }
            // The record our tokens replace is gone and cannot come back (versions are never
            // reused): no store will ever hold these tokens.
            Ok(other) => {
                core.pending = None;
                self.orphan(p.state, other)
            }
            Err(e) => self.save_failed(core, e, env),
        }
    }

    fn stored(&mut self, core: &mut UserCore, env: &Env<'_>) -> Action {
        let Some(p) = core.pending.take() else {
            return self.finish(Err(OAuthError::RefreshInterrupted));
        };
        core.spent.remove(&p.replaces);
        tracing::info!(user_id = %self.user, "access token refreshed; the new tokens are stored");
        match self.kind {
            // Unstored tokens Miro has rejected since (a 401) or that expired meanwhile: now
            // that they are stored, refresh them.
            Kind::Refresh if self.from_unsaved && !env.usable(&p.state) => {
                self.from_unsaved = false;
                self.decide(core, Some(p.record()), env)
            }
            // The newest tokens there are: used even if a large margin calls them old.
            Kind::Refresh => self.finish(Ok(Done::Tokens(p.state))),
            Kind::Tidy => self.tidy_next(core, env),
            Kind::Revoke => self.finish(Err(OAuthError::RefreshInterrupted)),
        }
    }

    fn keep_unsaved(&mut self, core: &mut UserCore, e: StorageError, env: &Env<'_>) -> Action {
        let Some(p) = core.pending.as_ref() else {
            return self.finish(Err(e.into()));
        };
        let error = OAuthError::UnsavedTokens {
            user_id: self.user.clone(),
            source: e,
        };
        tracing::error!(user_id = %self.user, error = %error, "the refreshed tokens are kept in memory and used until the store takes them");
        if self.kind == Kind::Refresh && env.usable(&p.state) {
            return self.finish(Ok(Done::Tokens(p.state.clone())));
        }
        self.finish(Err(error))
    }

    fn orphan(&mut self, state: TokenState, then: Option<StoredTokens>) -> Action {
        tracing::warn!(user_id = %self.user, "the record the refreshed tokens were to replace is gone; revoking them");
        self.phase = Phase::RevokingOrphan { then };
        Action::Revoke(state.access_token)
    }

    /// Tidy: the next thing to settle, or done.
    fn tidy_next(&mut self, core: &mut UserCore, env: &Env<'_>) -> Action {
        self.attempts = 0;
        if core.pending.is_some() {
            return self.save(core);
        }
        let Some(item) = core.tidy.pop() else {
            return self.finish(Ok(Done::Tidied));
        };
        self.settle(item, env)
    }

    fn settle(&mut self, item: Tidy, env: &Env<'_>) -> Action {
        let (expected, record) = match &item {
            Tidy::Fence { from, mark, resent } => (*from, settled(&mark.state, env, *resent)),
            Tidy::Unmark {
                mark_version,
                record,
            } => (*mark_version, record.clone()),
        };
        self.phase = Phase::Settling { item };
        Action::Write {
            expected,
            record: Some(record),
        }
    }

    fn settled(
        &mut self,
        core: &mut UserCore,
        item: Tidy,
        wrote: Result<bool, StorageError>,
        env: &Env<'_>,
    ) -> Action {
        match (wrote, item) {
            (Ok(true), _) => self.tidy_next(core, env),
            // The fence lost: either our marker landed (remove it) or the record moved on.
            (Ok(false), item @ Tidy::Fence { .. }) => {
                self.phase = Phase::CheckingFence { item };
                Action::Read
            }
            // The marker is gone already (an earlier try, or the record moved on).
            (Ok(false), Tidy::Unmark { mark_version, .. }) => {
                core.spent.remove(&mark_version);
                self.tidy_next(core, env)
            }
            (Err(e), item) => {
                core.tidy.push(item);
                self.finish(Err(e.into()))
            }
        }
    }

    fn check_fence(
        &mut self,
        core: &mut UserCore,
        item: Tidy,
        read: Result<Option<StoredTokens>, StorageError>,
        env: &Env<'_>,
    ) -> Action {
        let Tidy::Fence { from, mark, resent } = item else {
            return self.tidy_next(core, env);
        };
        match read {
            Ok(Some(rec)) if rec.version == mark.version => {
                let record = settled(&mark.state, env, resent);
                self.settle(
                    Tidy::Unmark {
                        mark_version: mark.version,
                        record,
                    },
                    env,
                )
            }
            // Neither can land any more.
            Ok(Some(rec)) if rec.version != from => self.tidy_next(core, env),
            Ok(None) => self.tidy_next(core, env),
            Ok(Some(_)) => self.settle(Tidy::Fence { from, mark, resent }, env),
            Err(e) => {
                core.tidy.push(Tidy::Fence { from, mark, resent });
                self.finish(Err(e.into()))
            }
        }
    }

    fn decide_revoke(
        &mut self,
        core: &mut UserCore,
        rec: Option<StoredTokens>,
        env: &Env<'_>,
    ) -> Action {
        let ours = core.pending.as_ref().map(|p| p.state.access_token.clone());
        let Some(rec) = rec else {
            return match ours {
                // Our unstored tokens are all there is.
                Some(token) => {
                    core.pending = None;
                    self.phase = Phase::RevokingOrphan { then: None };
                    Action::Revoke(token)
                }
                None => self.finish(Ok(Done::Revoked(false))),
            };
        };
        match rec.marker.as_deref().map(Marker::parse) {
            // Anyone may finish a revoke.
            Some(Marker::Revoking(_)) => {
                let prior = (rec.version, rec.marker.clone());
                return self.revoke_at_miro(core, rec, prior);
            }
            // A refresh in flight elsewhere: wait for it, and take the record over once it
            // has stayed marked for the takeover bound (its holder is gone): a revoke always
            // completes. The operation runs in its own task, so it may outwait the caller.
            Some(m @ (Marker::Refreshing(_) | Marker::Unknown))
                if m != Marker::Refreshing(env.holder)
                    && Self::watched(core, &rec, env) < env.timing.takeover =>
            {
                return self.wait_for(env, env.wait.max(env.timing.takeover + TAKEOVER_SLACK));
            }
            _ => {}
        }
        core.seen = None;
        let mark =
            StoredTokens::from_parts(rec.state.clone(), env.version, marker(REVOKING, env.holder));
        self.phase = Phase::RevokeMarking {
            mark: mark.clone(),
            prior: (rec.version, rec.marker),
        };
        Action::Write {
            expected: rec.version,
            record: Some(mark),
        }
    }

    fn revoke_at_miro(&mut self, core: &mut UserCore, mark: StoredTokens, prior: Prior) -> Action {
        let mut left = vec![mark.state.access_token.clone()];
        if let Some(p) = &core.pending {
            if p.state.access_token != mark.state.access_token {
                left.push(p.state.access_token.clone());
            }
        }
        self.revoke_next(mark, prior, left)
    }

    fn revoke_next(&mut self, mark: StoredTokens, prior: Prior, left: Vec<AccessToken>) -> Action {
        match left.last().cloned() {
            Some(token) => {
                self.phase = Phase::RevokingAtMiro { mark, prior, left };
                Action::Revoke(token)
            }
            None => {
                self.attempts = 0;
                let expected = mark.version;
                self.phase = Phase::RevokeDeleting { mark };
                Action::Write {
                    expected,
                    record: None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip() {
        assert_eq!(
            Marker::parse(marker(REFRESHING, "pid1-ab").as_deref().unwrap()),
            Marker::Refreshing("pid1-ab")
        );
        assert_eq!(
            Marker::parse(marker(IN_DOUBT, "h").as_deref().unwrap()),
            Marker::InDoubt("h")
        );
        assert_eq!(
            Marker::parse(marker(REVOKING, "h").as_deref().unwrap()),
            Marker::Revoking("h")
        );
        assert_eq!(Marker::parse("something new"), Marker::Unknown);
        assert_eq!(Marker::parse(""), Marker::Unknown);
    }
}
