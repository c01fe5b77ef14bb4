//! Checking a JSON body against the typed request of `miro-api` before it is sent.

use serde::de::DeserializeOwned;

/// Why a body was refused.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is not JSON, or a field does not fit the request type.
    #[error("{}: {message}", if path.is_empty() || path == "." { "the body" } else { path.as_str() })]
    Invalid {
        /// Where in the body (`data.content`, `[2].type`); `.` for the whole body.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The body has a field the request type does not know (a typo, most often).
    #[error("{path}: not a field of the request (check the spelling, or send it anyway with --no-check)")]
    Unknown {
        /// Where in the body.
        path: String,
    },
}

/// Deserializes `json` as `T`, naming the field of the first problem, and refuses fields `T`
/// does not know. Only the check: the body sent is the user's text, not a re-serialization.
pub fn check<T: DeserializeOwned>(json: &str) -> Result<(), BodyError> {
    let mut unknown: Option<String> = None;
    let mut de = serde_json::Deserializer::from_str(json);
    let mut track = serde_path_to_error::Track::new();
    let tracked = serde_path_to_error::Deserializer::new(&mut de, &mut track);
    let result: Result<T, _> = serde_ignored::deserialize(tracked, |path| {
        if unknown.is_none() {
            // `?` marks an `Option` or newtype on the way; the user's JSON has no such level.
            let text = path.to_string();
            let clean: Vec<&str> = text.split('.').filter(|s| *s != "?").collect();
            unknown = Some(clean.join("."));
        }
    });
    match result {
        Ok(_) => {}
        Err(e) => {
            return Err(BodyError::Invalid {
                path: track.path().to_string(),
                message: e.to_string(),
            })
        }
    }
    if let Err(e) = de.end() {
        return Err(BodyError::Invalid {
            path: ".".into(),
            message: e.to_string(),
        });
    }
    match unknown {
        Some(path) => Err(BodyError::Unknown { path }),
        None => Ok(()),
    }
}
