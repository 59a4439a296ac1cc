//! Round-three hardening (issue 19), run as processes against the emulator: variables that are not
//! UTF-8, the access token on `token`'s stdout inside Actions, the risky-event guard, `export-env`
//! names that hand the token to others, and claims that break the step summary's table.

use crate::support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;

use azure_oidc_emulator::{Config, Emulator, Hop};
use serde_json::{Map, Value};
use support::{Step, total_requests};

fn emulator() -> Emulator {
    Emulator::start(Config::default()).unwrap()
}

/// An emulator whose GitHub hop issues ID tokens for `event`.
fn emulator_for_event(event: &str) -> Emulator {
    let mut config = Config::default();
    config
        .extra_claims
        .insert("event_name".to_owned(), Value::from(event));
    Emulator::start(config).unwrap()
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

/// `serve` reads the same variables as `token` (here `HTTPS_PROXY`): one that is not UTF-8 is named
/// before the service listens or asks anything, never taken as unset (a direct connection).
#[test]
fn a_serve_variable_that_is_not_utf8_is_named() {
    let emulator = emulator();
    let step = Step::new(&emulator);
    let mut command = std::process::Command::new(support::BIN);
    command
        .args(["serve", "--id-token-env", "OIDC", "--env-file"])
        .arg(step.dir.path().join("serve.env"))
        .env_clear()
        .env("SSL_CERT_FILE", &step.env["SSL_CERT_FILE"])
        .env("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001")
        .env("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
        .env("OIDC", "eyJ.e30.sig")
        .env(
            "HTTPS_PROXY",
            OsStr::from_bytes(b"http://proxy.example:3128/\xff"),
        );
    let outcome = step.run_command(command);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .starts_with("error: HTTPS_PROXY is set to a value that is not valid UTF-8"),
        "{}",
        outcome.stderr
    );
    assert_eq!(total_requests(&emulator), 0);
    assert!(!step.dir.path().join("serve.env").exists());
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

// ---------------------------------------------------------------------------------------------
// The risky-event guard

#[test]
fn pull_request_target_is_refused_before_the_entra_request() {
    let emulator = emulator_for_event("pull_request_target");
    // The environment says `push`: only the ID token's claim counts (a step cannot forge it).
    let step = Step::new(&emulator).with("GITHUB_EVENT_NAME", "push");
    let outcome = step.run_checked();
    let message = outcome.assert_failed();
    assert!(message.contains("`pull_request_target` event"), "{message}");
    assert!(message.contains("base branch's subject"), "{message}");
    assert!(
        message.contains("allow-events: pull_request_target"),
        "{message}"
    );
    assert_eq!(emulator.successes(Hop::GitHub), 1);
    assert_eq!(emulator.requests(Hop::Entra), 0, "no Entra request");
    assert_eq!(outcome.output_file, "");
}

#[test]
fn workflow_run_is_refused_unless_allowed_by_name() {
    let emulator = emulator_for_event("workflow_run");
    let step = Step::new(&emulator).with("INPUT_ALLOW-EVENTS", "pull_request_target");
    let message = step.run_checked().assert_failed();
    assert!(message.contains("allow-events: workflow_run"), "{message}");
    assert_eq!(emulator.requests(Hop::Entra), 0);

    let emulator = emulator_for_event("workflow_run");
    let step =
        Step::new(&emulator).with("INPUT_ALLOW-EVENTS", "pull_request_target,\nworkflow_run");
    step.run_checked().assert_succeeded();
    assert_eq!(emulator.successes(Hop::Entra), 1);
}

#[test]
fn ordinary_events_are_exchanged() {
    let emulator = emulator_for_event("pull_request");
    Step::new(&emulator).run_checked().assert_succeeded();
}

#[test]
fn a_malformed_allow_list_is_refused_before_any_request() {
    let emulator = emulator();
    let step = Step::new(&emulator).with("INPUT_ALLOW-EVENTS", "pull_request_target; echo");
    let message = step.run_checked().assert_failed();
    assert!(message.starts_with("input `allow-events`"), "{message}");
    assert_eq!(total_requests(&emulator), 0);
}

#[test]
fn token_applies_the_same_guard_with_allow_events() {
    let emulator = emulator();
    let token = emulator.mint_id_token(
        "api://AzureADTokenExchange",
        Map::from_iter([("event_name".to_owned(), Value::from("pull_request_target"))]),
    );
    let step = Step::new(&emulator);
    let run = |extra: &[&str]| {
        let mut command = std::process::Command::new(support::BIN);
        command
            .args(["token", "--output", "t", "--id-token-env", "OIDC"])
            .args([
                "--client-id",
                &emulator.client_id(),
                "--tenant-id",
                &emulator.tenant_id(),
                "--authority-host",
                &emulator.authority_host(),
            ])
            .args(extra)
            .env_clear()
            .env("SSL_CERT_FILE", &step.env["SSL_CERT_FILE"])
            .env("OIDC", &token)
            .current_dir(step.dir.path().join("workspace"));
        step.run_command(command)
    };
    let refused = run(&[]);
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("--allow-events pull_request_target"),
        "{}",
        refused.stderr
    );
    assert_eq!(emulator.requests(Hop::Entra), 0);
    let allowed = run(&["--allow-events", "pull_request_target"]);
    assert_eq!(allowed.code, Some(0), "{}", allowed.stderr);
    assert_eq!(emulator.successes(Hop::Entra), 1);
    assert!(!allowed.stderr.contains(&token));
}

// ---------------------------------------------------------------------------------------------
// `token` inside Actions: the token never on a stream the runner reads

/// Every line the runner would show, with stdout's lines processed all before stderr's and all
/// after: the runner reads the two pipes on separate threads, so either may come first.
fn shown_in_either_order(stdout: &str, stderr: &str) -> Vec<String> {
    let mut shown = Vec::new();
    for (first, second) in [(stdout, stderr), (stderr, stdout)] {
        let mut log = support::RunnerLog::default();
        for line in first.lines().chain(second.lines()) {
            log.process(line);
        }
        shown.extend(log.shown);
    }
    shown
}

fn token_in_actions(emulator: &Emulator, step: &Step<'_>, extra: &[&str]) -> support::Outcome {
    let mut command = std::process::Command::new(support::BIN);
    command
        .arg("token")
        .args(extra)
        .args([
            "--client-id",
            &emulator.client_id(),
            "--tenant-id",
            &emulator.tenant_id(),
            "--authority-host",
            &emulator.authority_host(),
        ])
        .env_clear()
        .env("SSL_CERT_FILE", &step.env["SSL_CERT_FILE"])
        .env("GITHUB_ACTIONS", "true")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", emulator.request_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", emulator.request_token())
        .current_dir(step.dir.path().join("workspace"));
    step.run_command(command)
}

#[test]
fn token_inside_actions_refuses_stdout_before_any_request() {
    for form in [&["--raw"][..], &[][..]] {
        let emulator = emulator();
        let step = Step::new(&emulator);
        let outcome = token_in_actions(&emulator, &step, form);
        assert_eq!(outcome.code, Some(1), "{form:?}: {}", outcome.stdout);
        assert_eq!(outcome.stdout, "", "{form:?}");
        let errors: Vec<&str> = outcome
            .stderr
            .lines()
            .filter(|l| l.starts_with("::error"))
            .collect();
        assert_eq!(errors.len(), 1, "{}", outcome.stderr);
        assert!(errors[0].contains("--output FILE"), "{}", errors[0]);
        assert!(errors[0].contains("add-mask"), "{}", errors[0]);
        assert_eq!(total_requests(&emulator), 0, "{form:?}");
    }
}

#[test]
fn token_inside_actions_with_output_shows_no_token_in_either_order() {
    let emulator = emulator();
    let step = Step::new(&emulator);
    let file = step.dir.path().join("azure-token");
    let outcome = token_in_actions(&emulator, &step, &["--output", file.to_str().unwrap()]);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    let access = emulator.issued_access_tokens()[0].clone();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), access);
    let secrets = [access, emulator.issued_id_tokens()[0].clone()];
    for line in shown_in_either_order(&outcome.stdout, &outcome.stderr) {
        for secret in &secrets {
            assert!(!line.contains(secret.as_str()), "shown: {line}");
        }
    }
    // Nor with stderr thrown away (`2>/dev/null`): stdout alone holds no token.
    for secret in &secrets {
        assert!(!outcome.stdout.contains(secret.as_str()));
    }
}

// ---------------------------------------------------------------------------------------------
// zizmor on what we ship

/// zizmor (pinned in `.ci/run`) finds nothing in the workflows, both action.yml files and the
/// example workflows people copy: no template injection, no checkout that keeps its credentials.
#[test]
fn zizmor_finds_nothing_in_the_workflows_and_actions() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec!["action.yml".to_owned(), "native/action.yml".to_owned()];
    for dir in [".github/workflows", "examples/workflows"] {
        for entry in std::fs::read_dir(repo.join(dir)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".yml") {
                files.push(format!("{dir}/{name}"));
            }
        }
    }
    let output = match std::process::Command::new("zizmor")
        .args(["--offline", "--no-progress"])
        .args(&files)
        .current_dir(repo)
        .output()
    {
        Ok(output) => output,
        Err(error) => {
            support::skip(
                "zizmor on the workflows",
                &format!("zizmor is not installed ({error}): pip install zizmor==1.33.1"),
            );
            return;
        }
    };
    assert!(
        output.status.success(),
        "zizmor findings:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(files.len() >= 8, "{files:?}");
}

/// `explain` inside Actions puts no secret on stdout (the claims, fenced), and the ID token's mask
/// goes to stderr: in either order of the two streams, and with stderr discarded, no token shows.
#[test]
fn explain_inside_actions_shows_no_token_in_either_order() {
    let emulator = emulator();
    let step = Step::new(&emulator);
    let mut command = std::process::Command::new(support::BIN);
    command
        .arg("explain")
        .env_clear()
        .env("SSL_CERT_FILE", &step.env["SSL_CERT_FILE"])
        .env("GITHUB_ACTIONS", "true")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", emulator.request_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", emulator.request_token())
        .current_dir(step.dir.path().join("workspace"));
    let outcome = step.run_command(command);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    let secrets = [
        emulator.issued_id_tokens()[0].clone(),
        emulator.request_token(),
    ];
    for secret in &secrets {
        assert!(!outcome.stdout.contains(secret.as_str()), "on stdout");
    }
    for line in shown_in_either_order(&outcome.stdout, &outcome.stderr) {
        for secret in &secrets {
            assert!(!line.contains(secret.as_str()), "shown: {line}");
        }
    }
}
