//! The spec pin and how a spec file is found and verified.
//!
//! The spec itself is never committed. [`resolve`] finds it, in this order: an explicit path
//! (`--spec PATH`) or `MIRO_OPENAPI_SPEC`, then the git-ignored cache `openapi/.cache/`, then a
//! download from the pinned raw URL (with `curl`). Whatever the source, its sha256 must match the pin.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::GenError;

/// The pinned upstream spec, read from `openapi/pin.json`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Pin {
    /// Upstream repository, e.g. `https://github.com/miroapp/api-clients`.
    pub repository: String,
    /// Path of the spec inside the repository.
    pub path: String,
    /// Full commit hash of the pinned version.
    pub commit: String,
    /// Lower-case hex sha256 of the spec file's bytes.
    pub sha256: String,
}

impl Pin {
    /// Reads a pin file.
    pub fn load(path: &Path) -> Result<Pin, GenError> {
        let text = std::fs::read_to_string(path).map_err(|e| GenError::io(path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| GenError::Spec(format!("invalid pin file {}: {e}", path.display())))
    }

    /// The raw download URL of the pinned version.
    pub fn raw_url(&self) -> String {
        let repo = self
            .repository
            .trim_end_matches('/')
            .replace("https://github.com/", "https://raw.githubusercontent.com/");
        format!("{repo}/{}/{}", self.commit, self.path)
    }

    /// File name used for this pin in the cache and in `../shared/openapi`.
    pub fn file_name(&self) -> String {
        format!(
            "miro-openapi-{}.json",
            &self.commit[..8.min(self.commit.len())]
        )
    }
}

/// A spec file's bytes and where they came from.
#[derive(Debug)]
pub struct SpecSource {
    /// The raw spec.
    pub bytes: Vec<u8>,
    /// Human-readable origin (a path or a URL).
    pub origin: String,
}

/// Hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks `bytes` against the pin's sha256.
pub fn verify(pin: &Pin, bytes: &[u8], origin: &str) -> Result<(), GenError> {
    let actual = sha256_hex(bytes);
    if actual == pin.sha256 {
        Ok(())
    } else {
        Err(GenError::Spec(format!(
            "spec from {origin} has sha256 {actual}, but openapi/pin.json expects {} \
             (commit {} of {})",
            pin.sha256, pin.commit, pin.repository
        )))
    }
}

/// Finds the pinned spec: `explicit` (from `--spec` or `MIRO_OPENAPI_SPEC`), else the cache in
/// `cache_dir`, else a download from [`Pin::raw_url`] that is then cached. Always verified.
pub fn resolve(
    pin: &Pin,
    explicit: Option<&Path>,
    cache_dir: &Path,
) -> Result<SpecSource, GenError> {
    let explicit: Option<PathBuf> = explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("MIRO_OPENAPI_SPEC").map(PathBuf::from));
    if let Some(path) = explicit {
        // A directory is searched for the pinned file name (e.g. `../shared/openapi`).
        let path = if path.is_dir() {
            path.join(pin.file_name())
        } else {
            path
        };
        let bytes = std::fs::read(&path).map_err(|e| {
            GenError::Spec(format!(
                "cannot read the spec at {} ({e}); expected {} with sha256 {}",
                path.display(),
                pin.file_name(),
                pin.sha256
            ))
        })?;
        let origin = path.display().to_string();
        verify(pin, &bytes, &origin)?;
        return Ok(SpecSource { bytes, origin });
    }
    let cached = cache_dir.join(pin.file_name());
    if let Ok(bytes) = std::fs::read(&cached) {
        let origin = cached.display().to_string();
        verify(pin, &bytes, &origin)?;
        return Ok(SpecSource { bytes, origin });
    }
    let url = pin.raw_url();
    let output = std::process::Command::new("curl")
        .args(["--fail", "--silent", "--show-error", "--location", &url])
        .output()
        .map_err(|e| {
            GenError::Spec(format!(
                "no spec given (--spec or MIRO_OPENAPI_SPEC), none cached at {}, and curl could \
                 not run to download {url}: {e}",
                cached.display()
            ))
        })?;
    if !output.status.success() {
        return Err(GenError::Spec(format!(
            "no spec given (--spec or MIRO_OPENAPI_SPEC), none cached at {}, and the download of \
             {url} failed: {}",
            cached.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    verify(pin, &output.stdout, &url)?;
    std::fs::create_dir_all(cache_dir).map_err(|e| GenError::io(cache_dir, e))?;
    std::fs::write(&cached, &output.stdout).map_err(|e| GenError::io(&cached, e))?;
    Ok(SpecSource {
        bytes: output.stdout,
        origin: url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin() -> Pin {
        Pin {
            repository: "https://github.com/miroapp/api-clients".into(),
            path: "packages/generator/spec.json".into(),
            commit: "3a2506b647611ee729a55b4d99e5d0dc71cc694c".into(),
            sha256: sha256_hex(b"{}"),
        }
    }

    #[test]
    fn raw_url_points_at_the_pinned_commit() {
        assert_eq!(
            pin().raw_url(),
            "https://raw.githubusercontent.com/miroapp/api-clients/\
             3a2506b647611ee729a55b4d99e5d0dc71cc694c/packages/generator/spec.json"
        );
    }

    #[test]
    fn a_mismatched_spec_names_what_was_expected() {
        let dir = std::env::temp_dir().join(format!("miro-gen-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("spec.json");
        std::fs::write(&file, b"{\"other\":1}").unwrap();
        let err = resolve(&pin(), Some(&file), &dir).unwrap_err().to_string();
        assert!(err.contains(&pin().sha256), "{err}");
        assert!(err.contains("3a2506b6"), "{err}");
        std::fs::write(&file, b"{}").unwrap();
        assert_eq!(resolve(&pin(), Some(&file), &dir).unwrap().bytes, b"{}");
        // A directory is searched for the pinned file name.
        std::fs::write(dir.join(pin().file_name()), b"{}").unwrap();
        assert!(resolve(&pin(), Some(&dir), &dir).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_spec_is_a_clear_error() {
        let err = resolve(
            &pin(),
            Some(Path::new("/nonexistent/spec.json")),
            Path::new("/nonexistent"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("/nonexistent/spec.json") && err.contains(&pin().sha256),
            "{err}"
        );
    }
}
