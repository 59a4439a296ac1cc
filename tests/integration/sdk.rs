//! The SDK hand-off examples run with their pinned, real SDKs against the emulator:
//! `examples/sdk/python.py` (azure-identity, `examples/sdk/requirements.txt` in `examples/sdk/.venv`)
//! and `examples/sdk/node.mjs` (@azure/identity, `examples/sdk/package-lock.json` in
//! `examples/sdk/node_modules`). `.ci/run` installs both before `cargo test`; without them these
//! tests print `skipped` and pass, except under `CI=true`, where a missing SDK fails.
//!
//! Each run gets only what a later workflow step gets (the two `ACTIONS_*` variables, `AZURE_*`),
//! plus the test CA; the checks: exit status, the printed expiry, no token in any output, and what
//! the emulator saw (a GitHub ID token requested with the cloud's audience and the request token,
//! and used as the client assertion of the one Entra request).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use azure_oidc_emulator::{Config, Emulator, Hop};
use support::{encodings, secrets};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

#[derive(Clone, Copy, Debug)]
enum Sdk {
    Python,
    Node,
}

impl Sdk {
    /// The program and script, or why they cannot run here.
    fn command(self) -> Result<Command, String> {
        let sdk = Path::new(REPO).join("examples/sdk");
        match self {
            Sdk::Python => {
                let python = sdk.join(".venv/bin/python");
                if !python.is_file() {
                    return Err(format!(
                        "{} is missing: python3 -m venv examples/sdk/.venv && examples/sdk/.venv/bin/pip install -r examples/sdk/requirements.txt",
                        python.display()
                    ));
                }
                let mut command = Command::new(python);
                command.arg(sdk.join("python.py"));
                Ok(command)
            }
            Sdk::Node => {
                if !sdk.join("node_modules/@azure/identity").is_dir() {
                    return Err(
                        "examples/sdk/node_modules is missing: (cd examples/sdk && npm ci)"
                            .to_owned(),
                    );
                }
                let mut command = Command::new("node");
                command.arg(sdk.join("node.mjs"));
                Ok(command)
            }
        }
    }
}

/// Runs `sdk`'s example with a later step's environment, `edit` applied; `None` if it cannot run here.
fn run(sdk: Sdk, emulator: &Emulator, edit: impl FnOnce(&mut Command)) -> Option<Output> {
    let mut command = match sdk.command() {
        Ok(command) => command,
        Err(why) => {
            support::skip(&format!("the {sdk:?} SDK example"), &why);
            return None;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("emulator-ca.pem");
    std::fs::write(&ca, emulator.ca_pem()).unwrap();
    // What a runner trusts plus the emulator's CA (Python's requests and urllib read one bundle).
    let bundle = dir.path().join("bundle.pem");
    let system = std::fs::read_to_string(SYSTEM_BUNDLE).unwrap_or_default();
    std::fs::write(&bundle, format!("{system}\n{}", emulator.ca_pem())).unwrap();
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", emulator.request_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", emulator.request_token())
        .env("AZURE_CLIENT_ID", emulator.client_id())
        .env("AZURE_TENANT_ID", emulator.tenant_id())
        .env("AZURE_AUTHORITY_HOST", emulator.authority_host())
        .env("REQUESTS_CA_BUNDLE", &bundle)
        .env("SSL_CERT_FILE", &bundle)
        .env("NODE_EXTRA_CA_CERTS", &ca)
        .current_dir(dir.path());
    edit(&mut command);
    let output = command.output().unwrap();
    assert_no_token(emulator, &output);
    Some(output)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// No request token, ID token or access token, in any encoding, on stdout or stderr.
fn assert_no_token(emulator: &Emulator, output: &Output) {
    for (stream, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let text = text(bytes);
        for secret in secrets(emulator) {
            for form in encodings(&secret) {
                assert!(!text.contains(&form), "a token leaked on {stream}:\n{text}");
            }
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn gets_an_arm_token_with_a_fresh_github_token(sdk: Sdk) {
    let emulator = Emulator::start(Config::default()).unwrap();
    let Some(output) = run(sdk, &emulator, |_| {}) else {
        return;
    };
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // "ARM token for <scope> expires at <RFC 3339> (expires_on=<unix>)", and nothing else.
    let line = stdout.trim_end();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let rest = line
        .strip_prefix("ARM token for https://management.azure.com/.default expires at ")
        .unwrap_or_else(|| panic!("unexpected output: {line}"));
    let (at, expires_on) = rest.split_once(" (expires_on=").unwrap();
    let expires_on: u64 = expires_on.trim_end_matches(')').parse().unwrap();
    assert_eq!(at.len(), "2026-11-30T21:00:00Z".len(), "{at}");
    assert!(at.ends_with('Z') && at.as_bytes()[10] == b'T', "{at}");
    // The emulator issues tokens for 4479 s.
    let lifetime = expires_on.saturating_sub(now());
    assert!((4300..=4480).contains(&lifetime), "expires in {lifetime} s");

    // GitHub: asked with the public cloud's audience and the request token.
    let github = emulator.recorded(Hop::GitHub);
    assert!(!github.is_empty());
    for request in &github {
        let query = request.query.as_deref().unwrap_or_default();
        let audiences: Vec<String> = form_audiences(query);
        assert_eq!(audiences, ["api://AzureADTokenExchange"], "{query}");
        assert!(
            query.contains("api-version=2.0"),
            "the runner's query was kept: {query}"
        );
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {}", emulator.request_token()).as_str())
        );
    }
    // Entra: one token request, whose assertion is a GitHub token issued for it.
    let entra = emulator.recorded(Hop::Entra);
    assert_eq!(entra.len(), 1);
    assert_eq!(emulator.successes(Hop::Entra), 1);
    let assertion = entra[0].form_field("client_assertion").unwrap();
    assert!(emulator.issued_id_tokens().contains(&assertion));
    assert_eq!(
        entra[0].form_field("scope").as_deref(),
        Some("https://management.azure.com/.default")
    );
}

fn form_audiences(query: &str) -> Vec<String> {
    query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("audience="))
        .map(percent_decode)
        .collect()
}

/// Decodes a query value (`%XX` and `+`).
fn percent_decode(value: &str) -> String {
    let mut out = Vec::new();
    let mut bytes = value.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hex: String = bytes.by_ref().take(2).map(char::from).collect();
                out.push(u8::from_str_radix(&hex, 16).unwrap());
            }
            b'+' => out.push(b' '),
            _ => out.push(b),
        }
    }
    String::from_utf8(out).unwrap()
}

fn fails_in_one_line_when_entra_refuses(sdk: Sdk) {
    // The job's subject is not the one the federated credential trusts.
    let emulator = Emulator::start(Config {
        subject: "repo:octo-org/octo-repo:ref:refs/heads/feature".to_owned(),
        ..Config::default()
    })
    .unwrap();
    let Some(output) = run(sdk, &emulator, |_| {}) else {
        return;
    };
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_ne!(output.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("expires at"), "{stdout}");
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line:\n{stderr}"));
    assert!(
        error.contains("error: Entra (127.0.0.1) refused the token request for https://management.azure.com/.default:"),
        "{error}"
    );
    assert!(error.contains("AADSTS700213"), "{error}");
}

fn says_what_is_missing_without_id_token_permission(sdk: Sdk) {
    let emulator = Emulator::start(Config::default()).unwrap();
    let Some(output) = run(sdk, &emulator, |c| {
        c.env_remove("ACTIONS_ID_TOKEN_REQUEST_URL");
    }) else {
        return;
    };
    let stderr = text(&output.stderr);
    assert_ne!(output.status.code(), Some(0));
    assert!(
        stderr.contains(
            "error: ACTIONS_ID_TOKEN_REQUEST_URL is not set (add `permissions: id-token: write` to the job)"
        ),
        "{stderr}"
    );
    assert_eq!(emulator.requests(Hop::Entra), 0);
}

#[test]
fn python_example_gets_an_arm_token_with_a_fresh_github_token() {
    gets_an_arm_token_with_a_fresh_github_token(Sdk::Python);
}

#[test]
fn node_example_gets_an_arm_token_with_a_fresh_github_token() {
    gets_an_arm_token_with_a_fresh_github_token(Sdk::Node);
}

#[test]
fn python_example_fails_in_one_line_when_entra_refuses() {
    fails_in_one_line_when_entra_refuses(Sdk::Python);
}

#[test]
fn node_example_fails_in_one_line_when_entra_refuses() {
    fails_in_one_line_when_entra_refuses(Sdk::Node);
}

#[test]
fn python_example_says_what_is_missing_without_id_token_permission() {
    says_what_is_missing_without_id_token_permission(Sdk::Python);
}

#[test]
fn node_example_says_what_is_missing_without_id_token_permission() {
    says_what_is_missing_without_id_token_permission(Sdk::Node);
}

#[test]
fn the_examples_pin_their_sdks() {
    let sdk = PathBuf::from(REPO).join("examples/sdk");
    let requirements = std::fs::read_to_string(sdk.join("requirements.txt")).unwrap();
    assert!(
        requirements
            .lines()
            .any(|l| l.starts_with("azure-identity=="))
    );
    for line in requirements
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        assert!(line.contains("=="), "unpinned requirement: {line}");
    }
    let package: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sdk.join("package.json")).unwrap()).unwrap();
    let version = package["dependencies"]["@azure/identity"].as_str().unwrap();
    assert!(
        version.chars().all(|c| c.is_ascii_digit() || c == '.'),
        "unpinned: {version}"
    );
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sdk.join("package-lock.json")).unwrap())
            .unwrap();
    assert_eq!(
        lock["packages"]["node_modules/@azure/identity"]["version"],
        version
    );
}

/// The request token must not follow a redirect to another host over http (urllib's default
/// would): the Python example refuses redirects, so the second server never hears from it.
#[test]
fn python_example_does_not_forward_the_request_token_on_a_redirect() {
    use crate::support::http_double::{Answer, HttpDouble};
    let emulator = Emulator::start(Config::default()).unwrap();
    let elsewhere = HttpDouble::start(vec![Answer::new(200, r#"{"value":"a.b.c"}"#)]);
    let redirector = HttpDouble::start(vec![Answer::redirect(
        302,
        &format!("{}/collect", elsewhere.url),
    )]);
    let request_url = format!("{}/idtoken?api-version=2.0", redirector.url);
    let Some(output) = run(Sdk::Python, &emulator, |command| {
        command.env("ACTIONS_ID_TOKEN_REQUEST_URL", &request_url);
    }) else {
        return;
    };
    assert!(!output.status.success(), "{}", text(&output.stdout));
    let asked = redirector.seen();
    assert!(!asked.is_empty());
    assert!(
        asked[0].request_line.starts_with("GET /idtoken?"),
        "{asked:?}"
    );
    assert_eq!(
        asked[0].authorization.as_deref(),
        Some(format!("Bearer {}", emulator.request_token()).as_str())
    );
    assert!(
        elsewhere.seen().is_empty(),
        "the redirect was followed: {:?}",
        elsewhere.seen()
    );
    assert_eq!(emulator.requests(Hop::Entra), 0);
}
