//! `agentlane init`: a commented starter agentlane.toml that works on this machine.

use std::io::Write;
use std::path::PathBuf;

use agentlane::config::starter;
use agentlane::exit_status;
use clap::Args;

use crate::Failure;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write it
    #[arg(long, value_name = "FILE", default_value = "agentlane.toml")]
    path: PathBuf,
    /// Overwrite an existing file
    #[arg(long)]
    force: bool,
    /// Print the file instead of writing it
    #[arg(long)]
    print: bool,
}

pub fn run(args: InitArgs) -> Result<i32, Failure> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let path_var = std::env::var("PATH").ok();
    let found = starter::detect(path_var.as_deref(), home.as_deref());
    let text = starter::render(&found, home.as_deref());
    if args.print {
        print!("{text}");
        return Ok(0);
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(&args.path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::new(
                exit_status::CANT_CREATE,
                format!(
                    "{} already exists: keep it, or overwrite it with --force",
                    args.path.display()
                ),
            )
        } else {
            Failure::new(
                exit_status::CANT_CREATE,
                format!("cannot write {}: {e}", args.path.display()),
            )
        }
    })?;
    file.write_all(text.as_bytes()).map_err(|e| {
        Failure::new(
            exit_status::CANT_CREATE,
            format!("cannot write {}: {e}", args.path.display()),
        )
    })?;
    let names: Vec<&str> = found.iter().map(|f| f.profile).collect();
    println!(
        "wrote {} with routes: echo{}{}",
        args.path.display(),
        if names.is_empty() { "" } else { ", " },
        names.join(", ")
    );
    println!("next: agentlane doctor    (checks every route in the environment it will run with)");
    Ok(0)
}
