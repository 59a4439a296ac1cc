//! `cargo run --example demo`: the action end to end against the built-in local emulator.
//!
//! Starts the emulator (GitHub's OIDC issuer and Entra's token endpoint on 127.0.0.1 over HTTPS, with
//! a CA made at start-up), runs the real `azure-oidc-token` binary with the environment a runner gives
//! a container step, and shows what the step logged (masked as the runner masks it) and what later
//! steps receive. A second run presents a subject no federated credential matches, to show the
//! diagnosis a user gets.

#![allow(clippy::print_stdout)] // a demo's job is to print

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;

use azure_oidc_emulator::{Config, Emulator};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn main() -> Result<()> {
    let binary = build_binary()?;
    let emulator = Emulator::start(Config::default())?;
    let dir = tempfile::tempdir()?;

    println!(
        "Emulator: GitHub OIDC issuer {} and Entra token endpoint {}/<tenant>/oauth2/v2.0/token",
        emulator.issuer(),
        emulator.authority_host()
    );
    println!(
        "Federated credential: issuer {}, subject repo:octo-org/octo-repo:ref:refs/heads/main, audience api://AzureADTokenExchange\n",
        emulator.issuer()
    );

    banner("Run 1: a job on main with `permissions: id-token: write`");
    let first = run_step(&binary, &emulator, dir.path(), "run1")?;
    show_step(&first);

    banner(
        "Run 2: the same job, but it now runs in `environment: production` (a different subject)",
    );
    emulator.set_subject("repo:octo-org/octo-repo:environment:production");
    let second = run_step(&binary, &emulator, dir.path(), "run2")?;
    show_step(&second);

    if first.status == Some(0) && second.status == Some(1) {
        println!("\nDemo finished: run 1 got a token, run 2 was refused with a diagnosis.");
        Ok(())
    } else {
        Err(format!(
            "unexpected exit statuses: run 1 {:?}, run 2 {:?}",
            first.status, second.status
        )
        .into())
    }
}

/// Builds the action binary with the same profile as this example and returns its path.
fn build_binary() -> Result<PathBuf> {
    let examples_dir = std::env::current_exe()?
        .parent()
        .ok_or("no exe dir")?
        .to_path_buf();
    let profile_dir = examples_dir.parent().ok_or("no profile dir")?.to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    build.args(["build", "--quiet", "--bin", "azure-oidc-token"]);
    build.current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    if !build.status()?.success() {
        return Err("cargo build --bin azure-oidc-token failed".into());
    }
    Ok(profile_dir.join("azure-oidc-token"))
}

struct StepRun {
    status: Option<i32>,
    log: String,
    outputs: String,
    summary: String,
}

/// Runs the binary as a container step would run: inputs as `INPUT_*`, file-command files, the
/// runner's OIDC variables, and nothing else from this process's environment.
fn run_step(binary: &Path, emulator: &Emulator, dir: &Path, name: &str) -> Result<StepRun> {
    let ca = dir.join("emulator-ca.pem");
    std::fs::write(&ca, emulator.ca_pem())?;
    let output = dir.join(format!("set_output_{name}"));
    let env_file = dir.join(format!("set_env_{name}"));
    let summary = dir.join(format!("step_summary_{name}"));
    for file in [&output, &env_file, &summary] {
        std::fs::write(file, "")?;
    }
    let env: BTreeMap<&str, String> = BTreeMap::from([
        ("INPUT_CLIENT-ID", emulator.client_id()),
        ("INPUT_TENANT-ID", emulator.tenant_id()),
        (
            "INPUT_SUBSCRIPTION-ID",
            "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee".to_owned(),
        ),
        ("INPUT_ENVIRONMENT", "AzureCloud".to_owned()),
        // The one input a real workflow would not set: point Entra's authority at the emulator.
        ("INPUT_AUTHORITY-HOST", emulator.authority_host()),
        ("INPUT_TIMEOUT-SECONDS", "60".to_owned()),
        ("INPUT_SUMMARY", "true".to_owned()),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", emulator.request_url()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", emulator.request_token()),
        ("GITHUB_OUTPUT", output.display().to_string()),
        ("GITHUB_ENV", env_file.display().to_string()),
        ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
        ("SSL_CERT_FILE", ca.display().to_string()),
        ("GITHUB_ACTIONS", "true".to_owned()),
        ("CI", "true".to_owned()),
    ]);
    let result = Command::new(binary).env_clear().envs(&env).output()?;
    let mut log = String::from_utf8_lossy(&result.stdout).into_owned();
    log.push_str(&String::from_utf8_lossy(&result.stderr));
    Ok(StepRun {
        status: result.status.code(),
        log,
        outputs: std::fs::read_to_string(&output)?,
        summary: std::fs::read_to_string(&summary)?,
    })
}

/// Replaces every masked value with `***`, as the runner's log does.
fn masked(text: &str, masks: &[String]) -> String {
    masks.iter().fold(text.to_owned(), |text, secret| {
        text.replace(secret.as_str(), "***")
    })
}

fn show_step(run: &StepRun) {
    let masks: Vec<String> = run
        .log
        .lines()
        .filter_map(|line| line.strip_prefix("::add-mask::").map(str::to_owned))
        .filter(|secret| !secret.is_empty())
        .collect();
    println!(
        "-- step log (exit status {:?}; masked values shown as *** like the runner does):",
        run.status
    );
    for line in run.log.lines() {
        println!("   {}", masked(line, &masks));
    }
    if run.outputs.is_empty() {
        println!(
            "-- GITHUB_OUTPUT: nothing written (a failed step leaves no half-written outputs)"
        );
    } else {
        println!(
            "-- what later steps get as steps.<id>.outputs (GITHUB_OUTPUT, delimiters omitted):"
        );
        let mut lines = run.outputs.lines();
        while let Some(header) = lines.next() {
            let Some((name, delimiter)) = header.split_once("<<") else {
                continue;
            };
            let value: Vec<&str> = lines
                .by_ref()
                .take_while(|line| *line != delimiter)
                .collect();
            let value = value.join("\n");
            let shown = if masks.contains(&value) {
                format!("*** ({} characters, masked)", value.len())
            } else {
                value
            };
            println!("   {name} = {shown}");
        }
    }
    if !run.summary.is_empty() {
        println!("-- step summary (GITHUB_STEP_SUMMARY):");
        for line in masked(&run.summary, &masks).lines() {
            println!("   {line}");
        }
    }
}

fn banner(title: &str) {
    println!("\n=== {title}");
}
