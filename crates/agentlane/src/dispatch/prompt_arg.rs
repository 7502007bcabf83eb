//! Where an argument-delivered prompt sits, and whether a CLI could read it as a flag.
//!
//! A prompt given as a whole argument (`args = ["-p", "{prompt}"]`) is parsed
//! by the CLI like any other argument: the prompt `--version` made every npm
//! agent CLI print its version and exit 0, `--yolo` would change what the agent
//! may do (docs/agent-clis.md has what each CLI did). Only two argument forms
//! are literal in every parser agentlane meets (clap, commander.js, yargs,
//! argparse): a positional after the `--` separator, and the attached value of
//! a long option (`--prompt={prompt}`). A whole argument that follows a
//! value-taking option is NOT safe: yargs reads `-p --version` as two flags,
//! argparse refuses `--message --version` and reads `--message '-c x'` as its
//! `-c` option. Pure: prepare calls [`check_prompt_arg`], routes insert options
//! with [`insert_options`].

/// The placeholder an argument-delivered prompt replaces.
pub const PROMPT_PLACEHOLDER: &str = "{prompt}";

/// How the CLI's parser sees one argument that holds the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptSlot {
    /// A positional after a bare `--`: literal whatever the prompt is.
    AfterSeparator,
    /// The value attached to a long option (`--name=…{prompt}`): literal.
    AttachedValue,
    /// After a fixed prefix that does not start with `-` (`note:{prompt}`): never an option.
    Embedded,
    /// The prompt starts the argument (or is glued to a short option,
    /// `-p{prompt}`) with no `--` before it: a prompt starting with `-` is an option.
    Exposed,
}

impl PromptSlot {
    /// Whether `prompt` in this slot could be read as an option.
    pub fn exposes(self, prompt: &str) -> bool {
        self == PromptSlot::Exposed && prompt.starts_with('-')
    }
}

/// The index of the first bare `--` (where a parser stops reading options).
pub fn separator_at(args: &[String]) -> Option<usize> {
    args.iter().position(|a| a == "--")
}

/// Where options may be added to `args` and still be read as options: before
/// the first bare `--`, else at the end.
pub fn options_end(args: &[String]) -> usize {
    separator_at(args).unwrap_or(args.len())
}

/// Adds `extra` options (model, JSON, verbose) where the CLI still reads them
/// as options: before a `--` separator, never after it (there they would become
/// part of the prompt, and the prompt would lose its protection).
pub fn insert_options<I>(args: &mut Vec<String>, extra: I)
where
    I: IntoIterator<Item = String>,
{
    let at = options_end(args);
    args.splice(at..at, extra);
}

/// Every argument of `args` that holds the prompt, with its slot. With no
/// placeholder the prompt is appended as a last whole argument (what
/// `substitute` in prepare does), reported at index `args.len()`.
pub fn prompt_slots(args: &[String]) -> Vec<(usize, PromptSlot)> {
    let separator = separator_at(args);
    let mut slots: Vec<(usize, PromptSlot)> = args
        .iter()
        .enumerate()
        .filter_map(|(i, arg)| {
            let at = arg.find(PROMPT_PLACEHOLDER)?;
            Some((i, slot_of(&arg[..at], separator.is_some_and(|s| s < i))))
        })
        .collect();
    if slots.is_empty() {
        let after = separator.is_some();
        slots.push((args.len(), slot_of("", after)));
    }
    slots
}

fn slot_of(prefix: &str, after_separator: bool) -> PromptSlot {
    if after_separator {
        PromptSlot::AfterSeparator
    } else if prefix.starts_with("--") && prefix.len() > 2 && prefix.contains('=') {
        PromptSlot::AttachedValue
    } else if !prefix.is_empty() && !prefix.starts_with('-') {
        PromptSlot::Embedded
    } else {
        PromptSlot::Exposed
    }
}

/// A prompt a CLI could read as an option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposedPrompt {
    /// The argument's index (`args.len()` when the prompt is appended).
    pub index: usize,
    /// The argument as the route wrote it (`{prompt}` when appended).
    pub template: String,
}

/// Refuses a prompt that starts with `-` where the CLI would parse it as an
/// option; `None` when every argument holding it is literal for the parser.
pub fn check_prompt_arg(args: &[String], prompt: &str) -> Option<ExposedPrompt> {
    prompt_slots(args)
        .into_iter()
        .find(|(_, slot)| slot.exposes(prompt))
        .map(|(index, _)| ExposedPrompt {
            index,
            template: args
                .get(index)
                .cloned()
                .unwrap_or_else(|| PROMPT_PLACEHOLDER.to_string()),
        })
}

impl ExposedPrompt {
    /// What the refusal records as evidence.
    pub fn evidence(&self, prompt: &str) -> String {
        let start: String = prompt.chars().take(24).collect();
        format!(
            "the prompt starts with '-' ({start:?}…) and argument {} ({:?}) passes it where the CLI reads options: it could run as a flag",
            self.index + 1,
            self.template
        )
    }

    /// The repair hint: the three forms that keep a prompt literal.
    pub const HINT: &'static str = "the route must pass the prompt where the CLI cannot read it as a flag: after a `--` separator (args = [..., \"--\", \"{prompt}\"]), as the attached value of its prompt option (args = [\"--prompt={prompt}\"]), or prompt_via = \"stdin\" / \"file\"; the built-in profiles already do (docs/agent-clis.md)";
}

#[cfg(test)]
#[path = "prompt_arg_tests.rs"]
mod tests;
