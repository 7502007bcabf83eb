//! Paths in stored events and reports, written as text even when they are not UTF-8.
//!
//! serde refuses a `PathBuf` that is not UTF-8, and a refusal there would
//! lose a dispatch's record. These writers replace the invalid bytes with
//! U+FFFD instead: the record keeps a readable path, never a panic or a gap.
//! (agentlane refuses a `--cwd` that is not UTF-8 up front; a `--home` or a
//! resolved program path can still be one.)

use std::path::{Path, PathBuf};

use serde::Serializer;

/// Writes a path as text, lossily where it is not UTF-8.
pub fn write<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

/// Writes an optional path as text or null, lossily where it is not UTF-8.
pub fn write_opt<S: Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match path {
        Some(p) => s.serialize_str(&p.to_string_lossy()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::path::PathBuf;

    #[derive(serde::Serialize)]
    struct Row {
        #[serde(serialize_with = "super::write")]
        cwd: PathBuf,
        #[serde(serialize_with = "super::write_opt")]
        root: Option<PathBuf>,
    }

    #[test]
    fn a_path_that_is_not_utf8_is_written_lossily_not_refused() {
        let bad = PathBuf::from(OsStr::from_bytes(b"/srv/caf\xe9"));
        let row = Row {
            cwd: bad.clone(),
            root: Some(bad),
        };
        let v = serde_json::to_value(&row).unwrap();
        assert_eq!(v["cwd"], "/srv/caf\u{fffd}");
        assert_eq!(v["root"], "/srv/caf\u{fffd}");
        let none = Row {
            cwd: PathBuf::from("/ok"),
            root: None,
        };
        assert_eq!(
            serde_json::to_value(&none).unwrap()["root"],
            serde_json::Value::Null
        );
    }
}
