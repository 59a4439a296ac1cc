//! The Windows build of the binary (`x86_64-pc-windows-gnu`), run under Wine against the emulator:
//! the action mode and the `token` command, with the runner's files given as Windows paths
//! (`Z:\…`, Wine's drive for the Unix root), as a Windows runner gives them.
//!
//! - action mode: outputs, `export-env` and `export-sdk-env` in `GITHUB_ENV`, the job summary, masks,
//!   no secret in the log (the runner-log model of tests/support), by the runner's parsers;
//! - refusals (bad input, before any request) and an Entra error: one `::error` line, exit 1,
//!   nothing written to the runner's files;
//! - `token` (JSON on stdout) and `token --output`: the file holds exactly the token, written through
//!   the Windows code that gives it an owner-only DACL (which Wine does not store: see that test); a
//!   later run replaces it, a failed one leaves it as it was and no temporary file behind.
//!
//! What it needs, which `.ci/run` provides: `AZURE_OIDC_TOKEN_WINDOWS_EXE`, the Windows build, with
//! `bcryptprimitives.dll` next to it (tests/wine/bcryptprimitives.c: Wine 8 lacks the `ProcessPrng`
//! that Rust's standard library calls); Wine (`WINE`, else `wine64` or `wine` on PATH, else Debian's
//! /usr/lib/wine/wine64); `WINEPREFIX`, an initialised prefix (optional: Wine's default otherwise).
//! Without them the tests are skipped, and fail under `CI=true`.
//!
//! What Wine is not: Windows. It runs the same machine code and Win32 calls, but with Wine's own
//! implementation of them (file security, for one, is mapped onto Unix mode bits). The release's
//! msvc build and a real Windows runner are not tested here (docs/native.md).

#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use azure_oidc_emulator::{Config, Emulator, Fault, Hop};
use serde_json::{Map, Value};

use crate::support::{self, Outcome, Step, total_requests};

/// The Windows build and how to run it.
struct Wine {
    loader: PathBuf,
    exe: PathBuf,
    prefix: Option<String>,
}

/// Where `program` is on this machine's PATH, if it is.
fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.is_file())
}

/// Wine and the Windows build, or `None` after [`support::skip`] (a failure under `CI=true`).
fn wine(test: &str) -> Option<&'static Wine> {
    static WINE: OnceLock<Result<Wine, String>> = OnceLock::new();
    let found = WINE.get_or_init(|| {
        let exe = std::env::var("AZURE_OIDC_TOKEN_WINDOWS_EXE")
            .map(PathBuf::from)
            .map_err(|_| {
                "AZURE_OIDC_TOKEN_WINDOWS_EXE is not set (the Windows build, which .ci/run makes)"
                    .to_owned()
            })?;
        for file in [exe.clone(), exe.with_file_name("bcryptprimitives.dll")] {
            if !file.is_file() {
                return Err(format!(
                    "{} does not exist (.ci/run builds it)",
                    file.display()
                ));
            }
        }
        let loader = std::env::var("WINE")
            .ok()
            .map(PathBuf::from)
            .or_else(|| on_path("wine64"))
            .or_else(|| on_path("wine"))
            .or_else(|| Some(PathBuf::from("/usr/lib/wine/wine64")).filter(|p| p.is_file()))
            .ok_or("Wine is not installed (Debian: apt-get install wine64)")?;
        let wine = Wine {
            loader,
            exe,
            prefix: std::env::var("WINEPREFIX").ok(),
        };
        wine.start_server()?;
        Ok(wine)
    });
    match found {
        Ok(wine) => Some(wine),
        Err(reason) => {
            support::skip(test, reason);
            None
        }
    }
}

impl Wine {
    /// A wine process started with this prefix and nothing of the caller's environment, quiet.
    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(&self.loader);
        command.arg(program).env_clear().env("WINEDEBUG", "-all");
        if let Some(prefix) = &self.prefix {
            command.env("WINEPREFIX", prefix);
        }
        command
    }

    /// Starts the wine server and Wine's own background processes once, detached from any test's
    /// pipes: started by a test's process, they would inherit its stdout and stderr and hold them
    /// open (the harness reads both to their end) until the server exits.
    fn start_server(&self) -> Result<(), String> {
        let server = self
            .loader
            .with_file_name("wineserver")
            .is_file()
            .then(|| self.loader.with_file_name("wineserver"))
            .or_else(|| on_path("wineserver"))
            .ok_or("wineserver not found next to the Wine loader or on PATH")?;
        let mut start = Command::new(server);
        // Persistent until 60 s after its last client: for the whole test run, then gone.
        start.arg("-p60").env_clear();
        if let Some(prefix) = &self.prefix {
            start.env("WINEPREFIX", prefix);
        }
        let quiet = |command: &mut Command| {
            command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|e| format!("cannot start {command:?}: {e}"))
        };
        quiet(&mut start)?;
        let status = quiet(self.command(&self.exe).arg("--version"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "the Windows build does not start under Wine ({status}): is bcryptprimitives.dll next to it?"
            ))
        }
    }
}

/// The Windows form of an absolute Unix path under Wine: `Z:` and backslashes.
fn windows_path(path: &str) -> String {
    assert!(path.starts_with('/'), "not absolute: {path}");
    format!("Z:{}", path.replace('/', "\\"))
}

/// The variables that hold paths the binary opens, given to it in Windows form.
const PATH_VARIABLES: &[&str] = &[
    "GITHUB_OUTPUT",
    "GITHUB_ENV",
    "GITHUB_STEP_SUMMARY",
    "SSL_CERT_FILE",
    "AZURE_FEDERATED_TOKEN_FILE",
];

/// The Windows build with environment `env` (paths in Windows form) and `args`, in `dir`.
fn windows_command(
    wine: &Wine,
    env: &BTreeMap<String, String>,
    args: &[&str],
    dir: &Path,
) -> Command {
    let mut command = wine.command(&wine.exe);
    command.args(args).current_dir(dir);
    for (name, value) in env {
        if PATH_VARIABLES.contains(&name.as_str()) {
            command.env(name, windows_path(value));
        } else {
            command.env(name, value);
        }
    }
    command
}

/// Runs the step's action mode under Wine and checks that no secret leaked.
fn run_action(wine: &Wine, step: &Step<'_>) -> Outcome {
    let command = windows_command(wine, &step.env, &[], &step.dir.path().join("workspace"));
    let outcome = step.run_command(command);
    step.check(&outcome);
    outcome
}

#[test]
fn windows_build_runs_the_action_with_windows_paths() {
    let Some(wine) = wine("windows_build_runs_the_action_with_windows_paths") else {
        return;
    };
    let emulator = Emulator::start(Config::default()).unwrap();
    let step = Step::new(&emulator)
        .with(
            "INPUT_SUBSCRIPTION-ID",
            "33333333-4444-4555-8666-777777777777",
        )
        .with("INPUT_EXPORT-ENV", "AZURE_TOKEN")
        .with("INPUT_EXPORT-SDK-ENV", "true");
    let outcome = run_action(wine, &step);
    outcome.assert_succeeded();

    let issued = emulator.issued_access_tokens();
    assert_eq!(issued.len(), 1, "one exchange");
    let outputs = outcome.outputs();
    assert_eq!(outputs["access-token"], issued[0]);
    assert_eq!(outputs["token-type"], "Bearer");
    assert_eq!(outputs["tenant-id"], emulator.tenant_id());
    assert_eq!(outputs["client-id"], emulator.client_id());
    assert_eq!(
        outputs["subscription-id"],
        "33333333-4444-4555-8666-777777777777"
    );
    let expires_on: i64 = outputs["expires-on"].parse().unwrap();
    assert!(expires_on > 1_700_000_000, "{expires_on}");
    assert!(outputs["expires-at"].ends_with('Z'));

    let env: BTreeMap<String, String> = support::parse_file_commands(&outcome.env_file)
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(env["AZURE_TOKEN"], issued[0]);
    assert_eq!(env["AZURE_CLIENT_ID"], emulator.client_id());
    assert_eq!(env["ARM_USE_OIDC"], "true");
    assert_eq!(
        env["ARM_SUBSCRIPTION_ID"],
        "33333333-4444-4555-8666-777777777777"
    );
    assert!(
        outcome.summary.contains(&emulator.tenant_id()),
        "{}",
        outcome.summary
    );
    assert_eq!(emulator.requests(Hop::GitHub), 1);
    assert_eq!(emulator.requests(Hop::Entra), 1);
}

#[test]
fn windows_build_refuses_bad_input_before_any_request() {
    let Some(wine) = wine("windows_build_refuses_bad_input_before_any_request") else {
        return;
    };
    let emulator = Emulator::start(Config::default()).unwrap();
    for (variable, value, named) in [
        ("INPUT_CLIENT-ID", "not-a-guid", "client-id"),
        ("INPUT_TIMEOUT-SECONDS", "0", "timeout-seconds"),
        ("INPUT_EXPORT-ENV", "GITHUB_TOKEN", "export-env"),
    ] {
        let step = Step::new(&emulator).with(variable, value);
        let outcome = run_action(wine, &step);
        let line = outcome.assert_failed();
        assert!(line.contains(named), "{variable}={value}: {line}");
        assert_eq!(total_requests(&emulator), 0, "{variable}={value}: {line}");
    }
}

#[test]
fn windows_build_reports_an_entra_error_in_one_line_and_writes_nothing() {
    let Some(wine) = wine("windows_build_reports_an_entra_error_in_one_line_and_writes_nothing")
    else {
        return;
    };
    let emulator = Emulator::start(Config::default()).unwrap();
    emulator.script(
        Hop::Entra,
        vec![Fault::entra_error(
            400,
            "invalid_request",
            &[700_213],
            "AADSTS700213: No matching federated identity record found for presented assertion subject.",
        )],
    );
    let step = Step::new(&emulator).with("INPUT_EXPORT-ENV", "AZURE_TOKEN");
    let outcome = run_action(wine, &step);
    let line = outcome.assert_failed();
    assert!(line.contains("700213"), "{line}");
    assert!(emulator.issued_access_tokens().is_empty());
}

/// `token` as a workload would run it on Windows: the ID token in a file named by
/// `AZURE_FEDERATED_TOKEN_FILE` (a Windows path), the IDs in `AZURE_*`, nothing of GitHub Actions.
fn run_token(wine: &Wine, emulator: &Emulator, step: &Step<'_>, args: &[&str]) -> Outcome {
    let id_token = step.dir.path().join("azure-identity-token");
    let minted = emulator.mint_id_token("api://AzureADTokenExchange", Map::new());
    std::fs::write(&id_token, minted).unwrap();
    let mut env = BTreeMap::new();
    for var in ["SSL_CERT_FILE", "HOME", "TMPDIR"] {
        env.insert(var.to_owned(), step.env[var].clone());
    }
    for (var, value) in [
        ("AZURE_FEDERATED_TOKEN_FILE", id_token.display().to_string()),
        ("AZURE_CLIENT_ID", emulator.client_id()),
        ("AZURE_TENANT_ID", emulator.tenant_id()),
        ("AZURE_AUTHORITY_HOST", emulator.authority_host()),
    ] {
        env.insert(var.to_owned(), value);
    }
    let mut all_args = vec!["token"];
    all_args.extend_from_slice(args);
    let command = windows_command(wine, &env, &all_args, &step.dir.path().join("workspace"));
    step.run_command(command)
}

#[test]
fn windows_build_token_prints_json() {
    let Some(wine) = wine("windows_build_token_prints_json") else {
        return;
    };
    let emulator = Emulator::start(Config::default()).unwrap();
    let step = Step::new(&emulator);
    let outcome = run_token(wine, &emulator, &step, &[]);
    assert_eq!(
        outcome.code,
        Some(0),
        "{}{}",
        outcome.stdout,
        outcome.stderr
    );
    let issued = emulator.issued_access_tokens();
    assert_eq!(issued.len(), 1);
    let json: Value = serde_json::from_str(outcome.stdout.trim_end()).unwrap();
    assert_eq!(json["access_token"], issued[0]);
    assert_eq!(json["token_type"], "Bearer");
    assert!(json["expires_on"].as_i64().is_some());
    // The access token is the JSON's, and nothing else secret is on either stream.
    let without_token = Outcome {
        stdout: outcome.stdout.replace(&issued[0], "<token>"),
        ..outcome
    };
    support::assert_no_secret_in_streams(
        &support::secrets(&emulator),
        &support::id_tokens(&emulator),
        &without_token,
        false,
    );
}

#[test]
fn windows_build_token_output_writes_the_file_through_the_acl_code() {
    let Some(wine) = wine("windows_build_token_output_writes_the_file_through_the_acl_code") else {
        return;
    };
    let emulator = Emulator::start(Config::default()).unwrap();
    let step = Step::new(&emulator);
    let file = step.dir.path().join("workspace").join("azure-token");
    let windows_file = windows_path(&file.display().to_string());
    let outcome = run_token(wine, &emulator, &step, &["--output", &windows_file]);
    assert_eq!(
        outcome.code,
        Some(0),
        "{}{}",
        outcome.stdout,
        outcome.stderr
    );
    support::assert_no_secret_in_streams(
        &support::secrets(&emulator),
        &support::id_tokens(&emulator),
        &outcome,
        false,
    );
    let issued = emulator.issued_access_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), issued[0]);
    let json: Value = serde_json::from_str(outcome.stdout.trim_end()).unwrap();
    assert!(json.get("access_token").is_none(), "{json}");
    assert_eq!(json["token_type"], "Bearer");
    // No temporary file left next to it.
    let left: Vec<_> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from("azure-token")]);

    // Its DACL cannot be read back here: Wine 8 keeps no DACL on files. It maps a DACL it is
    // given onto the Unix mode bits and reports one made up from them (wine server/file.c,
    // sd_to_mode and the mode-based descriptor), and its SetSecurityInfo on a file handle returns
    // success with the mode unchanged. What runs here is the Windows code path itself (the process's
    // user SID, the descriptor from SDDL, SetSecurityInfo on the handle), which must succeed for
    // the token to be written; the descriptor applied is read back by src/token_file.rs's unit
    // tests, which .ci/run also runs under Wine.
}

#[test]
fn windows_build_token_output_replaces_a_file_and_a_failure_leaves_it() {
    let Some(wine) = wine("windows_build_token_output_replaces_a_file_and_a_failure_leaves_it")
    else {
        return;
    };
    // A later run replaces the file of an earlier one (Windows' rename over an existing file).
    let emulator = Emulator::start(Config::default()).unwrap();
    let step = Step::new(&emulator);
    let file = step.dir.path().join("workspace").join("azure-token");
    std::fs::write(&file, "the token of an earlier run").unwrap();
    let windows_file = windows_path(&file.display().to_string());
    let outcome = run_token(wine, &emulator, &step, &["--output", &windows_file]);
    assert_eq!(
        outcome.code,
        Some(0),
        "{}{}",
        outcome.stdout,
        outcome.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        emulator.issued_access_tokens()[0]
    );

    // A failed exchange writes nothing: the file is as it was, and no temporary file is left.
    let failing = Emulator::start(Config::default()).unwrap();
    failing.script(
        Hop::Entra,
        vec![Fault::entra_error(
            401,
            "invalid_client",
            &[7_000_215],
            "Invalid client secret provided.",
        )],
    );
    let before = std::fs::read_to_string(&file).unwrap();
    let failing_step = Step::new(&failing);
    let outcome = run_token(wine, &failing, &failing_step, &["--output", &windows_file]);
    assert_eq!(
        outcome.code,
        Some(1),
        "{}{}",
        outcome.stdout,
        outcome.stderr
    );
    assert!(outcome.stderr.contains("7000215"), "{}", outcome.stderr);
    support::assert_no_secret_in_streams(
        &support::secrets(&failing),
        &support::id_tokens(&failing),
        &outcome,
        false,
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    let left: Vec<_> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from("azure-token")]);
}
