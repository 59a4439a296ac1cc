//! Round-three hardening (issue 19), run as processes against the emulator: variables that are not
//! UTF-8, the access token on `token`'s stdout inside Actions, the risky-event guard, `export-env`
//! names that hand the token to others, and claims that break the step summary's table.

use crate::support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;

use azure_oidc_emulator::{Config, Emulator};
use support::{Step, total_requests};

fn emulator() -> Emulator {
    Emulator::start(Config::default()).unwrap()
}

/// A step whose variable `name` holds `bytes` (not UTF-8): refused before any request, naming it.
fn refused_as_not_utf8(name: &str, bytes: &[u8]) -> String {
    let emulator = emulator();
    let step = Step::new(&emulator);
    let mut command = step.command();
    command.env(name, OsStr::from_bytes(bytes));
    let outcome = step.run_command(command);
    step.check(&outcome);
    let message = outcome.assert_failed();
    assert_eq!(total_requests(&emulator), 0, "{message}");
    assert!(message.starts_with(name), "{message}");
    assert!(message.contains("not valid UTF-8"), "{message}");
    message
}

#[test]
fn a_proxy_variable_that_is_not_utf8_is_refused_not_ignored() {
    refused_as_not_utf8("HTTPS_PROXY", b"http://proxy.example:3128/\xff");
}

#[test]
fn an_input_that_is_not_utf8_does_not_fall_back_to_azure_variables() {
    // Step::new sets INPUT_CLIENT-ID; AZURE_CLIENT_ID would be used if the input counted as unset.
    refused_as_not_utf8("INPUT_CLIENT-ID", b"\xc3\x28");
}

#[test]
fn a_token_command_variable_that_is_not_utf8_is_named() {
    let emulator = emulator();
    let step = Step::new(&emulator);
    let mut command = std::process::Command::new(support::BIN);
    command
        .args(["token", "--id-token-env", "OIDC"])
        .env_clear()
        .env("SSL_CERT_FILE", &step.env["SSL_CERT_FILE"])
        .env("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001")
        .env("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
        .env("OIDC", OsStr::from_bytes(b"eyJ\xff"));
    let outcome = step.run_command(command);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .starts_with("error: OIDC is set to a value that is not valid UTF-8"),
        "{}",
        outcome.stderr
    );
    assert_eq!(total_requests(&emulator), 0);
}

/// `export-env` names that hand the token to GitHub's services, the shell or a loader: refused
/// before any request, with the reason.
#[test]
fn export_env_refuses_names_the_runner_shell_or_a_loader_interprets() {
    for (name, reason) in [
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "GitHub's services"),
        ("actions_runtime_token", "GitHub's services"),
        ("PATH", "look for every program"),
        ("LD_PRELOAD", "dynamic loader"),
        ("ld_library_path", "dynamic loader"),
        ("DYLD_INSERT_LIBRARIES", "macOS loader"),
        ("BASH_ENV", "bash would run"),
        ("ENV", "sh would run"),
        ("JAVA_TOOL_OPTIONS", "Java"),
        ("PYTHONPATH", "Python"),
        ("PYTHONSTARTUP", "Python"),
        ("PERL5OPT", "Perl"),
        ("RubyOpt", "Ruby"),
        ("NODE_OPTIONS", "refuses to set NODE_OPTIONS"),
        ("GITHUB_PATH", "cannot be overwritten"),
    ] {
        let emulator = emulator();
        let step = Step::new(&emulator).with("INPUT_EXPORT-ENV", name);
        let outcome = step.run_checked();
        let message = outcome.assert_failed();
        assert!(
            message.starts_with("input `export-env`"),
            "{name}: {message}"
        );
        assert!(message.contains(name), "{name}: {message}");
        assert!(message.contains(reason), "{name}: {message}");
        assert_eq!(total_requests(&emulator), 0, "{name}");
    }
    // Names that merely contain one of these are fine.
    let emulator = emulator();
    let step = Step::new(&emulator).with("INPUT_EXPORT-ENV", "MY_PATH_TOKEN");
    step.run_checked().assert_succeeded();
}
