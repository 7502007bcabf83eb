//! Rendering units: systemd unit files and launchd plists, with their
//! escaping rules. Pure.

use super::{env_file_path, expand_home, launchd_label, Flavour, UnitSpec};

/// Escapes `%` specifiers, and C escapes inside a double-quoted word.
fn systemd_escape(value: &str, dollar: bool) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '%' => out.push_str("%%"),
            '$' if dollar => out.push_str("$$"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32 & 0xff));
            }
            c => out.push(c),
        }
    }
    out
}

/// One `Environment=` assignment, quoted whole. systemd expands `%`
/// specifiers there but not `$` (which has no special meaning). Pure.
pub fn systemd_assignment(name: &str, value: &str) -> String {
    format!("\"{}={}\"", name, systemd_escape(value, false))
}

/// One `ExecStart=` word: bare when plainly safe, else double-quoted;
/// `%` becomes `%%` and `$` becomes `$$` either way. Pure.
pub fn systemd_exec_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_.,:+=@-".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("\"{}\"", systemd_escape(word, true))
    }
}

/// A directive value that is one path or name (no quoting; `%` escaped).
fn systemd_plain(value: &str) -> String {
    value.replace('%', "%%")
}

/// The comment naming secret variables and where they go.
fn secrets_note(spec: &UnitSpec, place: &str) -> Option<String> {
    (!spec.secret_names.is_empty()).then(|| {
        format!(
            "Secret variables the routes use are not written here: {place}: {}.",
            spec.secret_names.join(", ")
        )
    })
}

/// Renders the systemd unit. Pure.
pub fn render_systemd(spec: &UnitSpec, user_unit: bool) -> String {
    let env_file = env_file_path(user_unit, &spec.lane, &spec.home());
    let mut comments = vec![
        format!(
            "agentlane worker for lane '{}', written by `agentlane service install`.",
            spec.lane
        ),
        "PATH and the variables below were captured when it was written; regenerate with"
            .to_string(),
        format!(
            "`agentlane service print --lane {} --systemd{}` after changing routes.",
            spec.lane,
            if user_unit { " --user" } else { "" }
        ),
    ];
    comments.extend(secrets_note(
        spec,
        &format!(
            "put KEY=VALUE lines for them in {} (mode 0600)",
            env_file.display()
        ),
    ));
    let mut out = String::new();
    for c in comments {
        out.push_str(&format!("# {}\n", c.replace('\n', " ")));
    }
    out.push_str(&format!(
        "\n[Unit]\nDescription=agentlane worker for lane {}\nAfter=network-online.target\nWants=network-online.target\n\n[Service]\nType=simple\n",
        systemd_plain(&spec.lane)
    ));
    let exec: Vec<String> = spec.argv().iter().map(|w| systemd_exec_word(w)).collect();
    out.push_str(&format!("ExecStart={}\n", exec.join(" ")));
    out.push_str(&format!(
        "Environment={}\n",
        systemd_assignment("PATH", &spec.path)
    ));
    for (name, value) in &spec.env {
        out.push_str(&format!(
            "Environment={}\n",
            systemd_assignment(name, value)
        ));
    }
    out.push_str(&format!(
        "EnvironmentFile=-{}\n",
        systemd_plain(&env_file.to_string_lossy())
    ));
    out.push_str(&format!(
        "WorkingDirectory={}\n",
        systemd_plain(&spec.working_directory.to_string_lossy())
    ));
    if let (false, Some(user)) = (user_unit, &spec.user) {
        out.push_str(&format!("User={}\n", systemd_plain(user)));
    }
    out.push_str(&format!(
        "Restart=on-failure\nRestartSec=5\nKillMode=mixed\nKillSignal=SIGTERM\nTimeoutStopSec={}\n",
        spec.stop_timeout.as_secs().max(1)
    ));
    out.push_str(&format!(
        "\n[Install]\nWantedBy={}\n",
        if user_unit {
            "default.target"
        } else {
            "multi-user.target"
        }
    ));
    out
}

/// Escapes text for XML character data and attribute values; characters
/// XML 1.0 forbids become U+FFFD. Pure.
pub fn xml_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Text safe inside an XML comment (no `--`, no trailing `-`).
fn xml_comment(text: &str) -> String {
    let mut s = text.replace("--", "- -").replace('\n', " ");
    if s.ends_with('-') {
        s.push(' ');
    }
    s
}

fn plist_string(out: &mut String, indent: &str, value: &str) {
    out.push_str(&format!("{indent}<string>{}</string>\n", xml_escape(value)));
}

fn plist_key(out: &mut String, indent: &str, key: &str) {
    out.push_str(&format!("{indent}<key>{}</key>\n", xml_escape(key)));
}

/// Renders the launchd plist. launchd expands neither `$HOME` nor `~`, so
/// every value is made absolute here. Pure.
pub fn render_launchd(spec: &UnitSpec) -> String {
    let home = spec.home();
    let expand = |v: &str| expand_home(v, &home);
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n",
    );
    let mut comments = vec![format!(
        "agentlane worker for lane '{}', written by `agentlane service install`. PATH and the variables below were captured when it was written: print it again with `agentlane service print` after changing routes.",
        spec.lane
    )];
    comments.extend(secrets_note(
        spec,
        "launchd has no environment file, so set them in the routes' env_file (agentlane.toml [routes.NAME] env_file, mode 0600), or add them to EnvironmentVariables below and chmod 600 this file",
    ));
    for c in comments {
        out.push_str(&format!("<!-- {} -->\n", xml_comment(&c)));
    }
    out.push_str("<plist version=\"1.0\">\n<dict>\n");
    plist_key(&mut out, "  ", "Label");
    plist_string(&mut out, "  ", &launchd_label(&spec.lane));
    plist_key(&mut out, "  ", "ProgramArguments");
    out.push_str("  <array>\n");
    for word in spec.argv() {
        plist_string(&mut out, "    ", &expand(&word));
    }
    out.push_str("  </array>\n");
    plist_key(&mut out, "  ", "EnvironmentVariables");
    out.push_str("  <dict>\n");
    let mut env = spec.env.clone();
    env.insert("PATH".to_string(), spec.path.clone());
    for (name, value) in &env {
        plist_key(&mut out, "    ", name);
        plist_string(&mut out, "    ", &expand(value));
    }
    out.push_str("  </dict>\n");
    plist_key(&mut out, "  ", "WorkingDirectory");
    plist_string(
        &mut out,
        "  ",
        &expand(&spec.working_directory.to_string_lossy()),
    );
    if let Some(user) = &spec.user {
        plist_key(&mut out, "  ", "UserName");
        plist_string(&mut out, "  ", user);
    }
    out.push_str("  <key>RunAtLoad</key>\n  <true/>\n");
    // Restart when the worker fails (like Restart=on-failure), not after a clean stop.
    out.push_str("  <key>KeepAlive</key>\n  <dict>\n    <key>SuccessfulExit</key>\n    <false/>\n  </dict>\n");
    out.push_str("  <key>ThrottleInterval</key>\n  <integer>5</integer>\n");
    out.push_str(&format!(
        "  <key>ExitTimeOut</key>\n  <integer>{}</integer>\n",
        spec.stop_timeout.as_secs().max(1)
    ));
    let log = expand(&spec.log_file().to_string_lossy());
    for key in ["StandardOutPath", "StandardErrorPath"] {
        plist_key(&mut out, "  ", key);
        plist_string(&mut out, "  ", &log);
    }
    out.push_str("</dict>\n</plist>\n");
    out
}

/// Renders the unit for `flavour`. Pure.
pub fn render(spec: &UnitSpec, flavour: Flavour, user_unit: bool) -> String {
    match flavour {
        Flavour::Systemd => render_systemd(spec, user_unit),
        Flavour::Launchd => render_launchd(spec),
    }
}
