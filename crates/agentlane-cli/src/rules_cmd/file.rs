//! The operator's rules file: read, confirmed, written atomically.

use std::io::{BufRead, Write};
use std::path::Path;

use agentlane::classify::RuleSet;
use agentlane::exit_status;
use agentlane::rules_loop;

use crate::Failure;

/// The text of a rules file, `None` when it does not exist.
pub(super) fn read_rules_text(path: &Path) -> Result<Option<String>, Failure> {
    if !path.exists() {
        return Ok(None);
    }
    agentlane::input::read_text_capped(
        path,
        agentlane::input::MAX_CONFIG_FILE_BYTES,
        "the rules file",
    )
    .map(Some)
    .map_err(|e| Failure::new(exit_status::IO_ERROR, e.to_string()))
}

/// The ids a new rule must not take: the built-ins' and the target file's.
pub(super) fn taken_ids(existing: Option<&str>) -> impl Fn(&str) -> bool {
    let mut ids: Vec<String> = RuleSet::builtin()
        .rules()
        .iter()
        .map(|r| r.id.clone())
        .collect();
    ids.extend(existing.map(rules_loop::rule_ids).unwrap_or_default());
    move |id: &str| ids.iter().any(|i| i == id)
}

/// Asks on stdin; anything but y/yes (or the end of input) is a no.
pub(super) fn confirm(path: &Path) -> Result<bool, Failure> {
    print!("append this rule to {}? [y/N] ", path.display());
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| {
            Failure::new(
                exit_status::IO_ERROR,
                format!("cannot read the answer: {e}"),
            )
        })?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Writes `text` to `path` through a temporary file and a rename, then reads
/// it back; a file that does not parse then is put back as it was.
pub(super) fn write_rules(
    path: &Path,
    old: Option<&str>,
    text: &str,
    base: &RuleSet,
) -> Result<(), Failure> {
    let io = |what: &str, e: std::io::Error| {
        Failure::new(
            exit_status::IO_ERROR,
            format!(
                "cannot {what} {}: {e}; the rules file is unchanged",
                path.display()
            ),
        )
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io("create the directory of", e))?;
    replace_atomically(path, text).map_err(|e| io("write", e))?;
    let back = agentlane::input::read_text_capped(
        path,
        agentlane::input::MAX_CONFIG_FILE_BYTES,
        "the rules file",
    )
    .map_err(|e| {
        Failure::new(
            exit_status::IO_ERROR,
            format!("cannot read back {}: {e}", path.display()),
        )
    })?;
    if let Err(e) = base.with_document(&path.display().to_string(), &back) {
        let restored = match old {
            Some(old) => replace_atomically(path, old),
            None => std::fs::remove_file(path),
        };
        return Err(Failure::new(
            exit_status::SOFTWARE,
            format!(
                "{} did not parse after writing ({e}); {}",
                path.display(),
                match restored {
                    Ok(()) => "it was restored".to_string(),
                    Err(r) => format!("restoring it failed too: {r}"),
                }
            ),
        ));
    }
    Ok(())
}

pub(super) fn replace_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map_or_else(|| "rules.toml".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
