//! Secrets that never show in `Debug`, `Display` or logs.

use std::fmt;

macro_rules! secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps the secret.
            pub fn new(secret: impl Into<String>) -> Self {
                $name(secret.into())
            }

            /// The secret itself, for the request that needs it or a token store.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }
    };
}

secret!(
    /// An OAuth refresh token (single use: Miro rotates it on every refresh).
    RefreshToken
);

secret!(
    /// The OAuth client secret of the app.
    ClientSecret
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let r = RefreshToken::new("r-123-secret");
        let c = ClientSecret::from("c-456-secret");
        assert_eq!(format!("{r:?}"), "RefreshToken([redacted])");
        assert_eq!(format!("{c:?}"), "ClientSecret([redacted])");
        assert_eq!(r.expose(), "r-123-secret");
    }
}
