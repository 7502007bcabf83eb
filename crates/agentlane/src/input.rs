//! Inputs a user or a job controls, read with limits and without panics.
//!
//! Files (prompt files, env files, config and rules files, `--jsonl` lines)
//! are read through [`read_capped`], which stops at the cap while reading:
//! `--prompt-file /dev/zero` fails at once with the limit, instead of taking
//! the machine's memory. agentlane's own environment is read through
//! [`parent_env`], which never panics on a variable that is not UTF-8.

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;

/// A prompt file, when the job kind sets no `max_prompt_bytes`: 16 MiB.
pub const MAX_PROMPT_BYTES: u64 = 16 * 1024 * 1024;
/// An env file: 1 MiB.
pub const MAX_ENV_FILE_BYTES: u64 = 1024 * 1024;
/// A configuration or rules file: 4 MiB.
pub const MAX_CONFIG_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// One `enqueue --jsonl` line: a prompt at its cap plus 64 KiB of fields.
pub const MAX_JSONL_LINE_BYTES: u64 = MAX_PROMPT_BYTES + 64 * 1024;
/// A whole `enqueue --jsonl` batch: 256 MiB.
pub const MAX_JSONL_BYTES: u64 = 256 * 1024 * 1024;

/// Why a capped read failed.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The input holds more than the cap.
    #[error("{what} {source_name} is larger than {cap} bytes, the limit for it")]
    TooLarge {
        /// What the input is for ("--prompt-file", "--env-file").
        what: String,
        /// The file's path, or `-` for stdin.
        source_name: String,
        /// The limit in bytes.
        cap: u64,
    },
    /// The input could not be read.
    #[error("cannot read {what} {source_name}: {error}")]
    Io {
        /// What the input is for.
        what: String,
        /// The file's path, or `-` for stdin.
        source_name: String,
        /// The OS error.
        error: std::io::Error,
    },
}

/// Reads at most `cap` bytes from `reader`; more is an error, found while reading.
pub fn read_capped(
    reader: impl Read,
    cap: u64,
    what: &str,
    source_name: &str,
) -> Result<Vec<u8>, InputError> {
    let mut buf = Vec::new();
    let mut limited = reader.take(cap.saturating_add(1));
    limited
        .read_to_end(&mut buf)
        .map_err(|error| InputError::Io {
            what: what.to_string(),
            source_name: source_name.to_string(),
            error,
        })?;
    if buf.len() as u64 > cap {
        return Err(InputError::TooLarge {
            what: what.to_string(),
            source_name: source_name.to_string(),
            cap,
        });
    }
    Ok(buf)
}

/// Reads a file (or stdin for `-`) of at most `cap` bytes.
pub fn read_file_capped(path: &Path, cap: u64, what: &str) -> Result<Vec<u8>, InputError> {
    let shown = path.display().to_string();
    if path.as_os_str() == "-" {
        return read_capped(std::io::stdin().lock(), cap, what, "-");
    }
    let file = std::fs::File::open(path).map_err(|error| InputError::Io {
        what: what.to_string(),
        source_name: shown.clone(),
        error,
    })?;
    read_capped(file, cap, what, &shown)
}

/// Reads a text file of at most `cap` bytes; invalid UTF-8 is an error naming the byte offset.
pub fn read_text_capped(path: &Path, cap: u64, what: &str) -> Result<String, InputError> {
    let bytes = read_file_capped(path, cap, what)?;
    String::from_utf8(bytes).map_err(|e| InputError::Io {
        what: what.to_string(),
        source_name: path.display().to_string(),
        error: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text (invalid byte at offset {}): convert it, e.g. iconv -f LATIN1 -t UTF-8",
                e.utf8_error().valid_up_to()
            ),
        ),
    })
}

/// The UTF-8 variables of an environment, and the names (shown lossily) of
/// those that are not UTF-8. Pure: the environment is an input.
pub fn split_utf8_env(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut kept = Vec::new();
    let mut skipped = Vec::new();
    for (name, value) in vars {
        match (name.into_string(), value.into_string()) {
            (Ok(n), Ok(v)) => kept.push((n, v)),
            (Ok(n), Err(_)) => skipped.push(n),
            (Err(n), _) => skipped.push(n.to_string_lossy().into_owned()),
        }
    }
    (kept, skipped)
}

/// agentlane's own environment, as children inherit it: the UTF-8 variables.
///
/// A variable whose name or value is not UTF-8 is not passed on (the child's
/// environment is text, and reports and events record it); the binary warns
/// about such variables once at start ([`non_utf8_vars`]). Never panics,
/// unlike `std::env::vars()`.
pub fn parent_env() -> Vec<(String, String)> {
    split_utf8_env(std::env::vars_os()).0
}

/// The names (shown lossily) of agentlane's own variables that are not UTF-8.
pub fn non_utf8_vars() -> Vec<String> {
    split_utf8_env(std::env::vars_os()).1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn a_read_stops_at_the_cap_while_reading() {
        // An endless reader: without the cap this would never return.
        let zeros = std::io::repeat(0);
        let e = read_capped(zeros, 1024, "--prompt-file", "/dev/zero").unwrap_err();
        assert!(
            e.to_string()
                .contains("--prompt-file /dev/zero is larger than 1024 bytes"),
            "{e}"
        );
    }

    #[test]
    fn a_read_at_the_cap_is_whole() {
        let data = vec![7u8; 1024];
        assert_eq!(read_capped(&data[..], 1024, "x", "y").unwrap(), data);
        assert!(read_capped(&[7u8; 1025][..], 1024, "x", "y").is_err());
    }

    #[test]
    fn dev_zero_as_a_file_is_refused_by_its_cap() {
        let e =
            read_file_capped(Path::new("/dev/zero"), MAX_ENV_FILE_BYTES, "--env-file").unwrap_err();
        assert!(matches!(e, InputError::TooLarge { cap, .. } if cap == MAX_ENV_FILE_BYTES));
    }

    #[test]
    fn text_that_is_not_utf8_names_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p");
        std::fs::write(&f, b"ok\xffno").unwrap();
        let e = read_text_capped(&f, 100, "--prompt-file").unwrap_err();
        assert!(e.to_string().contains("offset 2"), "{e}");
    }

    #[test]
    fn variables_that_are_not_utf8_are_set_apart_not_a_panic() {
        let vars = vec![
            (OsString::from("GOOD"), OsString::from("v")),
            (
                OsString::from("BADVAL"),
                OsString::from_vec(b"\xff\xfe".to_vec()),
            ),
            (
                OsString::from_vec(b"BAD\xffNAME".to_vec()),
                OsString::from("v"),
            ),
        ];
        let (kept, skipped) = split_utf8_env(vars);
        assert_eq!(kept, vec![("GOOD".to_string(), "v".to_string())]);
        assert_eq!(
            skipped,
            vec!["BADVAL".to_string(), "BAD\u{fffd}NAME".to_string()]
        );
    }
}
