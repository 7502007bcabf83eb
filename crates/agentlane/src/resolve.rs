//! Resolving the executable the way the child will: with the child's PATH.
//!
//! A service's thin PATH (cron's, launchd's `/usr/bin:/bin`) is the most
//! common reason an agent CLI "is missing" on a worker while it works in a
//! shell, so resolution never uses the parent's PATH or a login shell's. When
//! the program is not found, [`find_elsewhere`] looks in the usual install
//! places and the parent's PATH, so the repair hint can say where it is.
//!
//! Scripts are followed one step: the shebang's interpreter must resolve too
//! (`#!/usr/bin/env node` with no `node` on the child's PATH is exactly what
//! an npm-installed CLI hits under a service PATH).

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A program that resolved and can be executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The absolute path that will be executed.
    pub path: PathBuf,
    /// The script interpreter, when the file starts with a shebang.
    pub interpreter: Option<Interpreter>,
}

/// A shebang interpreter and where it resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// The shebang line's program (e.g. `/usr/bin/env`).
    pub shebang: String,
    /// The command the shebang runs (`node` for `#!/usr/bin/env node`).
    pub command: String,
    /// Where that command resolved on the child's PATH.
    pub path: PathBuf,
}

/// Why a program cannot run, as facts for the classifier and the hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveFailure {
    /// Not on the child's PATH (or the given path does not exist).
    NotFound {
        /// The program as asked for.
        program: String,
        /// The child's PATH that was searched (None when unset).
        path_var: Option<String>,
    },
    /// The path is a directory.
    IsDirectory(PathBuf),
    /// The file has no execute permission for this user.
    NotExecutable(PathBuf),
    /// The file is executable but neither an ELF binary nor a text script
    /// (execve would fail with ENOEXEC, and execvp would hand it to /bin/sh).
    UnknownFormat(PathBuf),
    /// The shebang interpreter does not resolve or cannot run.
    InterpreterMissing {
        /// The script.
        script: PathBuf,
        /// The shebang line.
        shebang: String,
        /// The command that did not resolve.
        command: String,
        /// The child's PATH that was searched.
        path_var: Option<String>,
    },
}

/// Resolves `program` for a child with PATH `path_var` and working directory `cwd`.
pub fn resolve_program(
    program: &str,
    path_var: Option<&str>,
    cwd: &Path,
) -> Result<Resolved, ResolveFailure> {
    let path = if program.contains('/') {
        let candidate = cwd.join(program);
        if !candidate.exists() {
            return Err(ResolveFailure::NotFound {
                program: program.to_string(),
                path_var: path_var.map(str::to_string),
            });
        }
        candidate
    } else {
        match search_path(program, path_var, cwd) {
            Some(found) => found,
            None => {
                return Err(ResolveFailure::NotFound {
                    program: program.to_string(),
                    path_var: path_var.map(str::to_string),
                })
            }
        }
    };
    check_executable(&path)?;
    let head = read_head(&path);
    let interpreter = match parse_shebang(&head) {
        Some(shebang) => Some(resolve_interpreter(&path, &shebang, path_var, cwd)?),
        None if is_runnable_format(&head) => None,
        None => return Err(ResolveFailure::UnknownFormat(path)),
    };
    Ok(Resolved { path, interpreter })
}

/// The first executable file named `program` on `path_var` (empty entries mean cwd).
pub fn search_path(program: &str, path_var: Option<&str>, cwd: &Path) -> Option<PathBuf> {
    let path_var = path_var?;
    let mut first_non_executable = None;
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() {
            cwd.to_path_buf()
        } else {
            cwd.join(dir)
        };
        let candidate = dir.join(program);
        if candidate.is_file() {
            if is_executable(&candidate) {
                return Some(candidate);
            }
            first_non_executable.get_or_insert(candidate);
        }
    }
    // As execvp does: a match without the exec bit is reported, not skipped
    // silently, so the error says "not executable" rather than "missing".
    first_non_executable
}

fn is_executable(path: &Path) -> bool {
    nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).is_ok()
}

fn check_executable(path: &Path) -> Result<(), ResolveFailure> {
    let meta = fs::metadata(path).map_err(|_| ResolveFailure::NotExecutable(path.to_path_buf()))?;
    if meta.is_dir() {
        return Err(ResolveFailure::IsDirectory(path.to_path_buf()));
    }
    if meta.permissions().mode() & 0o111 == 0 || !is_executable(path) {
        return Err(ResolveFailure::NotExecutable(path.to_path_buf()));
    }
    Ok(())
}

/// A parsed `#!` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shebang {
    /// The whole line after `#!`, trimmed.
    pub line: String,
    /// The interpreter path.
    pub interpreter: String,
    /// The command actually run: the interpreter, or `env`'s first operand.
    pub command: String,
}

/// Parses the first line of a file. Pure.
pub fn parse_shebang(head: &[u8]) -> Option<Shebang> {
    let rest = head.strip_prefix(b"#!")?;
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let line = String::from_utf8_lossy(&rest[..end]).trim().to_string();
    let mut words = line.split_whitespace();
    let interpreter = words.next()?.to_string();
    let command = if interpreter.rsplit('/').next() == Some("env") {
        env_operand(line.split_whitespace().skip(1))?
    } else {
        interpreter.clone()
    };
    Some(Shebang {
        line,
        interpreter,
        command,
    })
}

/// The command `env` would run: skips options, `-S`'s splitting and assignments.
fn env_operand<'a>(mut words: impl Iterator<Item = &'a str>) -> Option<String> {
    while let Some(word) = words.next() {
        match word {
            "-S" | "--split-string" | "-i" | "--ignore-environment" | "-" => continue,
            "-u" | "--unset" | "-C" | "--chdir" => {
                words.next();
                continue;
            }
            w if w.starts_with("-S") => return Some(w[2..].to_string()),
            w if w.starts_with('-') => continue,
            w if w.contains('=') => continue,
            w => return Some(w.to_string()),
        }
    }
    None
}

fn read_head(path: &Path) -> Vec<u8> {
    let mut head = vec![0u8; 256];
    let n = fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    head.truncate(n);
    head
}

/// An ELF binary, or text without a shebang (which execvp, like a shell,
/// runs with /bin/sh). Anything else would fail with ENOEXEC. Pure.
pub fn is_runnable_format(head: &[u8]) -> bool {
    if head.starts_with(b"\x7fELF") {
        return true;
    }
    match std::str::from_utf8(head) {
        Ok(text) => !text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')),
        // A multi-byte character cut at the end of the head is still text.
        Err(e) => e.error_len().is_none() && is_runnable_format(&head[..e.valid_up_to()]),
    }
}

fn resolve_interpreter(
    script: &Path,
    shebang: &Shebang,
    path_var: Option<&str>,
    cwd: &Path,
) -> Result<Interpreter, ResolveFailure> {
    let missing = |command: &str| ResolveFailure::InterpreterMissing {
        script: script.to_path_buf(),
        shebang: shebang.line.clone(),
        command: command.to_string(),
        path_var: path_var.map(str::to_string),
    };
    let interp = Path::new(&shebang.interpreter);
    if !interp.is_file() || !is_executable(interp) {
        return Err(missing(&shebang.interpreter));
    }
    let path = if shebang.command == shebang.interpreter {
        interp.to_path_buf()
    } else if shebang.command.contains('/') {
        let p = PathBuf::from(&shebang.command);
        if !p.is_file() || !is_executable(&p) {
            return Err(missing(&shebang.command));
        }
        p
    } else {
        search_path(&shebang.command, path_var, cwd)
            .filter(|p| is_executable(p))
            .ok_or_else(|| missing(&shebang.command))?
    };
    Ok(Interpreter {
        shebang: shebang.line.clone(),
        command: shebang.command.clone(),
        path,
    })
}

/// The usual install places for agent CLIs under `home` (child's or parent's).
pub fn install_places(home: Option<&Path>) -> Vec<PathBuf> {
    let mut places = Vec::new();
    if let Some(home) = home {
        for rel in [
            ".local/bin",
            ".npm-global/bin",
            ".npm/bin",
            ".cargo/bin",
            ".volta/bin",
            ".bun/bin",
            ".deno/bin",
            ".local/share/pnpm",
            ".yarn/bin",
            "bin",
        ] {
            places.push(home.join(rel));
        }
        if let Ok(entries) = fs::read_dir(home.join(".nvm/versions/node")) {
            let mut nvm: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
            nvm.sort();
            nvm.reverse();
            places.extend(nvm);
        }
    }
    for dir in [
        "/usr/local/bin",
        "/opt/homebrew/bin",
        "/usr/bin",
        "/bin",
        "/snap/bin",
        "/usr/local/sbin",
    ] {
        places.push(PathBuf::from(dir));
    }
    places
}

/// Where `program` exists outside the child's PATH: install places under each
/// given HOME, then the parent's PATH. Deduplicated, in search order.
pub fn find_elsewhere(program: &str, homes: &[&Path], parent_path: Option<&str>) -> Vec<PathBuf> {
    let name = Path::new(program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    let Some(name) = name else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = Vec::new();
    for home in homes {
        dirs.extend(install_places(Some(home)));
    }
    if homes.is_empty() {
        dirs.extend(install_places(None));
    }
    if let Some(parent_path) = parent_path {
        dirs.extend(
            parent_path
                .split(':')
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
        );
    }
    let mut found: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        let candidate = dir.join(&name);
        if candidate.is_file() && is_executable(&candidate) && !found.contains(&candidate) {
            found.push(candidate);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use test_case::test_case;

    #[test_case(b"#!/usr/bin/env node\nrest", "/usr/bin/env", "node"; "env node")]
    #[test_case(b"#!/usr/bin/env -S node --no-warnings\n", "/usr/bin/env", "node"; "env split string")]
    #[test_case(b"#!/usr/bin/env -Snode\n", "/usr/bin/env", "node"; "env split string glued")]
    #[test_case(b"#! /bin/sh -e\n", "/bin/sh", "/bin/sh"; "space after bang")]
    #[test_case(b"#!/usr/bin/env FOO=1 python3\n", "/usr/bin/env", "python3"; "env with assignment")]
    #[test_case(b"#!/usr/bin/python3", "/usr/bin/python3", "/usr/bin/python3"; "no newline")]
    fn parses_shebangs(head: &[u8], interpreter: &str, command: &str) {
        let s = parse_shebang(head).unwrap();
        assert_eq!(s.interpreter, interpreter);
        assert_eq!(s.command, command);
    }

    #[test_case(b"\x7fELF\x02", true; "elf binary runs")]
    #[test_case(b"echo hi\n", true; "text without shebang runs via sh")]
    #[test_case(b"\x01\x02 junk", false; "control bytes are not a script")]
    #[test_case(b"\xff\xfe\x00", false; "binary junk")]
    fn runnable_formats(head: &[u8], expected: bool) {
        assert_eq!(is_runnable_format(head), expected);
    }

    #[test_case(b"\x7fELF\x02"; "elf binary")]
    #[test_case(b"#!"; "empty shebang")]
    #[test_case(b""; "empty file")]
    fn no_shebang(head: &[u8]) {
        assert_eq!(parse_shebang(head), None);
    }

    fn write_exe(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, body).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn resolves_with_the_given_path_only() {
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("bin");
        fs::create_dir(&bin).unwrap();
        let exe = write_exe(&bin, "agent", "#!/bin/sh\n", 0o755);
        let r = resolve_program("agent", Some(bin.to_str().unwrap()), t.path()).unwrap();
        assert_eq!(r.path, exe);
        assert_eq!(r.interpreter.unwrap().path, PathBuf::from("/bin/sh"));
        let missing = resolve_program("agent", Some("/usr/bin:/bin"), t.path()).unwrap_err();
        assert!(matches!(missing, ResolveFailure::NotFound { .. }));
    }

    #[test]
    fn an_env_interpreter_missing_from_the_child_path_is_reported() {
        let t = tempfile::tempdir().unwrap();
        write_exe(
            t.path(),
            "cli",
            "#!/usr/bin/env definitely-not-a-node\n",
            0o755,
        );
        let err = resolve_program("./cli", Some("/usr/bin:/bin"), t.path()).unwrap_err();
        match err {
            ResolveFailure::InterpreterMissing { command, .. } => {
                assert_eq!(command, "definitely-not-a-node")
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn not_executable_and_directory_are_distinct() {
        let t = tempfile::tempdir().unwrap();
        write_exe(t.path(), "plain", "data", 0o644);
        fs::create_dir(t.path().join("adir")).unwrap();
        let path = t.path().to_str().unwrap();
        // Without the exec bit the file is found but reported as not executable.
        assert!(matches!(
            resolve_program("plain", Some(path), t.path()),
            Err(ResolveFailure::NotExecutable(_))
        ));
        assert!(matches!(
            resolve_program("./adir", Some(path), t.path()),
            Err(ResolveFailure::IsDirectory(_))
        ));
    }

    #[test]
    fn finds_elsewhere_in_install_places() {
        let t = tempfile::tempdir().unwrap();
        let local = t.path().join(".local/bin");
        fs::create_dir_all(&local).unwrap();
        let exe = write_exe(&local, "my-agent-cli", "#!/bin/sh\n", 0o755);
        assert_eq!(find_elsewhere("my-agent-cli", &[t.path()], None), vec![exe]);
    }
}
