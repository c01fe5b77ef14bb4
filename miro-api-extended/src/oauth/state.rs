//! [`AuthState`]: the unguessable `state` that ties a redirect to the authorization it answers.

use std::fmt;

use subtle::ConstantTimeEq;

use super::OAuthError;

/// An OAuth `state` value against cross-site request forgery: 256 bits from the operating
/// system's CSPRNG, hex-encoded.
///
/// Make one with [`AuthState::generate`] (or [`Miro::auth_url_with_new_state`](crate::Miro::auth_url_with_new_state)),
/// keep it in the user's session, and check the redirect with
/// [`Miro::exchange_code_checked`](crate::Miro::exchange_code_checked) (or
/// [`verify`](Self::verify)), which compares in constant time. `Debug` hides the value.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthState(String);

impl AuthState {
    /// A new random state.
    pub fn generate() -> Result<Self, OAuthError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| OAuthError::Random(e.to_string()))?;
        let mut hex = String::with_capacity(64);
        for b in bytes {
            hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
        }
        Ok(AuthState(hex))
    }

    /// A state kept earlier (e.g. read back from the session), as [`as_str`](Self::as_str)
    /// gave it.
    pub fn from_saved(saved: impl Into<String>) -> Self {
        AuthState(saved.into())
    }

    /// The value, for the authorization URL and the session.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `received` (the redirect's `state`) is this state; constant time for values of
    /// the same length. An empty state never matches.
    pub fn verify(&self, received: &str) -> bool {
        !self.0.is_empty() && bool::from(self.0.as_bytes().ct_eq(received.as_bytes()))
    }
}

impl fmt::Debug for AuthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthState([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_random_and_checked() {
        let a = AuthState::generate().unwrap();
        let b = AuthState::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 64);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert!(a.verify(a.as_str()));
        assert!(!a.verify(b.as_str()));
        assert!(!a.verify(""));
        assert!(!a.verify(&a.as_str()[..63]));
        assert!(!AuthState::from_saved("").verify(""));
        assert!(AuthState::from_saved(a.as_str()).verify(a.as_str()));
        assert_eq!(format!("{a:?}"), "AuthState([redacted])");
    }
}
