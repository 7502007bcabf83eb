//! The starter `agentlane.toml` that `agentlane init` writes: routes for the
//! agent CLIs found on this machine, with an explicit PATH that also holds
//! their interpreter, so they work under a service's thin environment too.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::profile::{profile, PROFILES};
use crate::dispatch::PromptVia;
use crate::resolve::{find_elsewhere, resolve_program};

/// The largest prompt the starter lets a kind send to a route that passes the
/// prompt as one argument: Linux caps one argument at 131072 bytes
/// (MAX_ARG_STRLEN, with its NUL), less 8 KiB of headroom for the text the
/// argument's template puts around the prompt.
pub const ARG_PROMPT_LIMIT: u64 = 131_072 - 8_192;

/// The largest prompt the starter lets a kind send to routes that read the
/// prompt from stdin or a file (no kernel limit applies).
pub const STREAM_PROMPT_LIMIT: u64 = 200_000;

/// An agent CLI found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The profile it matches.
    pub profile: &'static str,
    /// Where the executable is.
    pub program: PathBuf,
    /// Directories its PATH needs (its own, its interpreter's).
    pub path_dirs: Vec<PathBuf>,
}

/// Looks for each profile's CLI on `parent_path` and in the usual install places under `home`.
pub fn detect(parent_path: Option<&str>, home: Option<&Path>) -> Vec<Found> {
    let homes: Vec<&Path> = home.into_iter().collect();
    let mut found = Vec::new();
    for profile in PROFILES {
        let Some(name) = profile.program else {
            continue;
        };
        let Some(program) = find_elsewhere(name, &homes, parent_path).into_iter().next() else {
            continue;
        };
        let mut path_dirs = vec![program.parent().unwrap_or(Path::new("/")).to_path_buf()];
        // Resolve the shebang interpreter (node for npm CLIs) the same way.
        let search: String = path_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(":");
        if let Err(crate::resolve::ResolveFailure::InterpreterMissing { command, .. }) =
            resolve_program(
                &program.display().to_string(),
                Some(&search),
                Path::new("/"),
            )
        {
            if let Some(interp) = find_elsewhere(&command, &homes, parent_path)
                .into_iter()
                .next()
            {
                path_dirs.push(interp.parent().unwrap_or(Path::new("/")).to_path_buf());
            }
        }
        found.push(Found {
            profile: profile.name,
            program,
            path_dirs,
        });
    }
    found
}

/// The starter file's text. Pure.
pub fn render(found: &[Found], home: Option<&Path>) -> String {
    let mut out = String::from(
        "# agentlane.toml — routes, job kinds (policy and payload contract) and lanes.\n\
         # Written by `agentlane init` for this machine. Check it with `agentlane doctor`.\n\
         # Every route runs with an explicit environment (env_clear + env), exactly as a\n\
         # cron job or a service unit would: what works here works there.\n\n",
    );
    let home_text = home.map_or_else(|| "/home/USER".to_string(), |h| h.display().to_string());
    out.push_str(
        "# A route that works everywhere: prints the prompt. Try it:\n\
         #   agentlane exec --route echo --prompt 'Return the string ok and exit zero'\n\
         [routes.echo]\n\
         profile = \"generic\"\n\
         program = \"/bin/echo\"\n\
         args = [\"{prompt}\"]\n\
         timeout = \"30s\"\n\
         env_clear = true\n\
         env = { PATH = \"/usr/bin:/bin\" }\n\n",
    );
    if found.is_empty() {
        out.push_str(
            "# No agent CLI was found on this machine's PATH or in the usual install places.\n\
             # Install one (e.g. `npm install -g @anthropic-ai/claude-code`) and run `agentlane init --force`,\n\
             # or write a route by hand:\n\
             # [routes.review]\n\
             # profile = \"claude\"            # codex | claude | gemini | qwen | aider | opencode | generic\n\
             # program = \"/usr/local/bin/claude\"\n\
             # model = \"sonnet\"\n\
             # timeout = \"20m\"\n\
             # env_clear = true\n\
             # env = { PATH = \"/usr/local/bin:/usr/bin:/bin\", HOME = \"/home/svc\" }\n\n",
        );
    }
    for f in found {
        let mut path: Vec<String> = f
            .path_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        for d in ["/usr/local/bin", "/usr/bin", "/bin"] {
            if !path.iter().any(|p| p == d) {
                path.push(d.to_string());
            }
        }
        let _ = write!(
            out,
            "# {profile}, found at {program}.\n\
             [routes.{profile}]\n\
             profile = \"{profile}\"\n\
             program = \"{program}\"\n\
             # model = \"...\"              # appended with the profile's model flag\n\
             # json = true                  # machine-readable events, read by the classifier\n\
             timeout = \"20m\"\n\
             # cwd = \"/srv/repos/site\"\n\
             env_clear = true\n\
             # Auth: log in as this user with this HOME, or add the API key here or in an env_file.\n\
             env = {{ PATH = \"{path}\", HOME = \"{home_text}\" }}\n\
             # env_file = \"/etc/agentlane/{profile}.env\"\n\n",
            profile = f.profile,
            program = f.program.display(),
            path = path.join(":"),
        );
    }
    let routes: Vec<String> = std::iter::once("echo".to_string())
        .chain(found.iter().map(|f| f.profile.to_string()))
        .collect();
    let quoted = |names: &[String]| {
        names
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let routes_list = quoted(&routes);
    // The routes the starter writes keep their profile's delivery (echo passes
    // the prompt as its argument).
    let by_argument: Vec<String> = std::iter::once("echo".to_string())
        .chain(
            found
                .iter()
                .filter(|f| profile(f.profile).is_some_and(|p| p.prompt_via == PromptVia::Arg))
                .map(|f| f.profile.to_string()),
        )
        .collect();
    let streamed: Vec<String> = found
        .iter()
        .filter(|f| profile(f.profile).is_some_and(|p| p.prompt_via != PromptVia::Arg))
        .map(|f| f.profile.to_string())
        .collect();
    let _ = write!(
        out,
        "# A job kind: which routes and models it may use, and its payload contract.\n\
         [kinds.default]\n\
         routes = [{routes_list}]\n\
         # models = [\"sonnet\"]\n\
         # At most what every route here can carry: {by_argument} pass the prompt as one\n\
         # argument, and Linux caps one argument at 131072 bytes (less headroom for the template).\n\
         max_prompt_bytes = {ARG_PROMPT_LIMIT}\n\
         # required_fields = [\"ticket\"]\n\
         # requires_flag = \"human_approved\"   # a safety gate: the job must carry this flag set to true\n\n",
        by_argument = by_argument.join(", "),
    );
    if !streamed.is_empty() {
        let _ = write!(
            out,
            "# Larger prompts, for the routes that read the prompt from stdin or a file\n\
             # (no per-argument limit).\n\
             [kinds.large]\n\
             routes = [{}]\n\
             max_prompt_bytes = {STREAM_PROMPT_LIMIT}\n\n",
            quoted(&streamed),
        );
    }
    let _ = write!(
        out,
        "# A lane: the queue its workers serve, and how many jobs run at once.\n\
         [lanes.default]\n\
         routes = [{routes_list}]\n\
         concurrency = 2\n"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_parses_and_names_what_was_found() {
        let found = vec![Found {
            profile: "claude",
            program: PathBuf::from("/opt/npm/bin/claude"),
            path_dirs: vec![
                PathBuf::from("/opt/npm/bin"),
                PathBuf::from("/opt/node/bin"),
            ],
        }];
        let text = render(&found, Some(Path::new("/home/svc")));
        let cfg = super::super::parse(Path::new("agentlane.toml"), &text).unwrap();
        let r = &cfg.routes["claude"];
        assert_eq!(r.program, "/opt/npm/bin/claude");
        assert!(r.env.set.contains(&(
            "PATH".into(),
            "/opt/npm/bin:/opt/node/bin:/usr/local/bin:/usr/bin:/bin".into()
        )));
        assert!(cfg.routes.contains_key("echo"));
        assert_eq!(cfg.lanes["default"].routes, vec!["echo", "claude"]);
    }

    #[test]
    fn the_starter_limits_each_kind_to_what_its_routes_can_carry() {
        let at = |p: &'static str| Found {
            profile: p,
            program: PathBuf::from(format!("/usr/local/bin/{p}")),
            path_dirs: vec![PathBuf::from("/usr/local/bin")],
        };
        let found = vec![at("claude"), at("codex"), at("aider")];
        let text = render(&found, Some(Path::new("/home/svc")));
        let cfg = super::super::parse(Path::new("agentlane.toml"), &text).unwrap();
        assert_eq!(cfg.routes["claude"].prompt_via, PromptVia::Arg);
        assert_eq!(cfg.routes["echo"].prompt_via, PromptVia::Arg);
        // A kind that may use an argument-delivered route stays under Linux's
        // per-argument limit (MAX_ARG_STRLEN, 131072 bytes), with headroom.
        for kind in cfg.kinds.values() {
            let limit = kind.max_prompt_bytes.unwrap();
            let by_argument = kind
                .routes
                .iter()
                .any(|r| cfg.routes[r].prompt_via == PromptVia::Arg);
            if by_argument {
                assert!(limit < 131_072, "{}: {limit}", kind.name);
            }
        }
        assert_eq!(
            cfg.kinds["default"].max_prompt_bytes,
            Some(ARG_PROMPT_LIMIT)
        );
        // Stdin and file routes keep a larger limit of their own.
        assert_eq!(cfg.kinds["large"].routes, vec!["codex", "aider"]);
        assert_eq!(
            cfg.kinds["large"].max_prompt_bytes,
            Some(STREAM_PROMPT_LIMIT)
        );
        let only_arg = render(&[at("claude")], None);
        assert!(!only_arg.contains("[kinds.large]"), "{only_arg}");
    }

    #[test]
    fn the_starter_without_clis_still_parses() {
        let cfg = super::super::parse(Path::new("agentlane.toml"), &render(&[], None)).unwrap();
        assert_eq!(cfg.routes.keys().collect::<Vec<_>>(), vec!["echo"]);
    }
}
