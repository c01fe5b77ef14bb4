//! Failures and the exit code of each class, for scripts.

use std::process::ExitCode;

/// Exit codes by error class.
pub mod code {
    /// A failure of no other class (I/O, an unreadable answer).
    pub const OTHER: u8 = 1;
    /// Bad usage: unknown flag, missing value, a body refused before sending.
    pub const USAGE: u8 = 2;
    /// No token, or Miro refused it (401, 403).
    pub const AUTH: u8 = 3;
    /// Miro answered 404.
    pub const NOT_FOUND: u8 = 4;
    /// Rate limited (429), after the client's own retries.
    pub const RATE_LIMITED: u8 = 5;
    /// Miro answered 5xx.
    pub const SERVER: u8 = 6;
    /// Miro refused the request otherwise (400, 409, 413, ...).
    pub const REQUEST: u8 = 7;
    /// The request could not be sent or its answer not read in time (network, timeout).
    pub const NETWORK: u8 = 8;
    /// Not an exit code: the reader of stdout went away (`miro ... | head`), which ends the
    /// command quietly with 0.
    pub(crate) const CLOSED_OUTPUT: u8 = 255;
}

/// A failure of a command: its message (for stderr) and its exit code.
#[derive(Debug)]
pub struct Failure {
    /// What to print after `miro: `.
    pub message: String,
    /// The exit code.
    pub code: u8,
}

impl Failure {
    /// A failure of class `code`.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code,
        }
    }

    /// Bad usage.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::new(code::USAGE, message)
    }

    /// Any other failure.
    pub fn other(message: impl Into<String>) -> Self {
        Failure::new(code::OTHER, message)
    }

    /// Prints the failure and gives the exit code. A closed stdout (`miro ... | head`) ends
    /// the command quietly.
    pub fn report(&self) -> ExitCode {
        if self.code == code::CLOSED_OUTPUT {
            return ExitCode::SUCCESS;
        }
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "miro: {}", self.message);
        ExitCode::from(self.code)
    }
}

impl From<miro_api::Error> for Failure {
    fn from(e: miro_api::Error) -> Self {
        use miro_api::Error as E;
        let status = e.status().map(|s| s.as_u16());
        let code = match (&e, status) {
            _ if e.is_rate_limited() => code::RATE_LIMITED,
            (_, Some(401 | 403)) => code::AUTH,
            (_, Some(404)) => code::NOT_FOUND,
            (_, Some(s)) if s >= 500 => code::SERVER,
            (E::Decode { .. }, _) => code::OTHER,
            (_, Some(_)) => code::REQUEST,
            (E::Transport { .. } | E::Timeout { .. }, None) => code::NETWORK,
            (E::Token(_), None) => code::AUTH,
            (E::InvalidRequest { .. } | E::Config(_), None) => code::USAGE,
            _ => code::OTHER,
        };
        let message = match e.api_error() {
            Some(api) => {
                let mut m = format!(
                    "{} {}",
                    api.status.as_u16(),
                    api.status.canonical_reason().unwrap_or("")
                );
                if let Some(c) = api.code() {
                    m.push_str(&format!(" ({c})"));
                }
                match api.message() {
                    Some(text) => m.push_str(&format!(": {text}")),
                    None if !api.raw.is_empty() => {
                        let raw: String = api.raw.chars().take(500).collect();
                        m.push_str(&format!(": {raw}"));
                    }
                    None => {}
                }
                m
            }
            None => e.to_string(),
        };
        Failure::new(code, message)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Failure::new(code::CLOSED_OUTPUT, "");
        }
        Failure::other(e.to_string())
    }
}
