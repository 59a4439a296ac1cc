//! The commands beyond the step (`token`, `explain`, `federated-credential`) and the inputs that
//! build on the exchange (`scopes`, `export-sdk-env`, `explain`), run as processes against the emulator.

use crate::support;

use std::collections::BTreeMap;
use std::process::Command;

use azure_oidc_emulator::{
    App, Config, Emulator, Fault, FederatedCredential, Hop, ISSUER_PLACEHOLDER,
};
use serde_json::{Map, Value};
use support::{BIN, Step, assert_no_secret_in_streams, parse_file_commands, secrets};

fn emulator() -> Emulator {
    Emulator::start(Config::default()).unwrap()
}

/// Runs `azure-oidc-token ARGS` with exactly `env` (plus the emulator's CA, and the runner's files,
/// `HOME` and `TMPDIR` as a `run:` step has them) and returns the outcome, checked: the CLI writes
/// none of the runner's files and no file at all under the step's directory, and no secret of the
/// test (every token handed out, minted or registered) is on stderr or stdout, except the access
/// token on `token`'s stdout, which is that command's job.
fn cli(emulator: &Emulator, args: &[&str], env: &[(&str, &str)]) -> support::Outcome {
    let step = Step::new(emulator);
    let mut command = Command::new(BIN);
    command.args(args).env_clear();
    for var in [
        "SSL_CERT_FILE",
        "GITHUB_OUTPUT",
        "GITHUB_ENV",
        "GITHUB_STEP_SUMMARY",
        "HOME",
        "TMPDIR",
    ] {
        command.env(var, &step.env[var]);
    }
    command
        .envs(env.iter().copied())
        .current_dir(step.dir.path().join("workspace"));
    let outcome = step.run_command(command);
    assert_eq!(outcome.output_file, "", "the CLI wrote to GITHUB_OUTPUT");
    assert_eq!(outcome.env_file, "", "the CLI wrote to GITHUB_ENV");
    assert_eq!(outcome.summary, "", "the CLI wrote to GITHUB_STEP_SUMMARY");
    assert_no_leak_on_stderr(emulator, &outcome);
    let allowed_on_stdout = if args.first() == Some(&"token") {
        emulator.issued_access_tokens()
    } else {
        Vec::new()
    };
    assert_no_leak_on_stdout(emulator, &outcome, &allowed_on_stdout);
    support::assert_no_secret_on_disk(&secrets(emulator), step.dir.path(), &[]);
    outcome
}

/// `outcome` with only one of its streams (the other and the files empty).
fn only(outcome: &support::Outcome, stdout: bool) -> support::Outcome {
    support::Outcome {
        code: outcome.code,
        stdout: if stdout {
            outcome.stdout.clone()
        } else {
            String::new()
        },
        stderr: if stdout {
            String::new()
        } else {
            outcome.stderr.clone()
        },
        output_file: String::new(),
        env_file: String::new(),
        summary: String::new(),
        elapsed: outcome.elapsed,
    }
}

fn assert_no_leak_on_stderr(emulator: &Emulator, outcome: &support::Outcome) {
    assert_no_secret_in_streams(
        &secrets(emulator),
        &support::id_tokens(emulator),
        &only(outcome, false),
        false,
    );
}

/// No secret on stdout but those in `allowed` (the request token is never allowed).
fn assert_no_leak_on_stdout(emulator: &Emulator, outcome: &support::Outcome, allowed: &[String]) {
    let mut scanned = secrets(emulator);
    let request_token = scanned.remove(0);
    scanned.retain(|s| !allowed.contains(s));
    scanned.insert(0, request_token);
    assert_no_secret_in_streams(
        &scanned,
        &support::id_tokens(emulator),
        &only(outcome, true),
        false,
    );
}

fn exchange_flags(emulator: &Emulator) -> Vec<String> {
    vec![
        "--client-id".to_owned(),
        emulator.client_id(),
        "--tenant-id".to_owned(),
        emulator.tenant_id(),
        "--authority-host".to_owned(),
        emulator.authority_host(),
    ]
}

fn write_token_file(emulator: &Emulator, dir: &std::path::Path) -> std::path::PathBuf {
    let token = emulator.mint_id_token("api://AzureADTokenExchange", Map::new());
    let path = dir.join("azure-identity-token");
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path
}

// ---------------------------------------------------------------------------------------------
// token

#[test]
fn token_from_a_kubernetes_token_file_prints_json() {
    let emulator = emulator();
    let dir = tempfile::tempdir().unwrap();
    let file = write_token_file(&emulator, dir.path());
    let outcome = cli(
        &emulator,
        &["token"],
        &[
            ("AZURE_CLIENT_ID", &emulator.client_id()),
            ("AZURE_TENANT_ID", &emulator.tenant_id()),
            ("AZURE_AUTHORITY_HOST", &emulator.authority_host()),
            ("AZURE_FEDERATED_TOKEN_FILE", file.to_str().unwrap()),
        ],
    );
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    let json: Value = serde_json::from_str(&outcome.stdout).unwrap();
    assert_eq!(
        json["access_token"],
        Value::from(emulator.issued_access_tokens()[0].clone())
    );
    assert_eq!(json["token_type"], "Bearer");
    assert!(json["expires_on"].as_i64().unwrap() > 1_700_000_000);
    assert!(json["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        emulator.requests(Hop::GitHub),
        0,
        "a file source needs no GitHub request"
    );
    let sent = emulator.recorded(Hop::Entra)[0]
        .form_field("client_assertion")
        .unwrap();
    assert_eq!(sent, std::fs::read_to_string(&file).unwrap().trim());
}

#[test]
fn token_raw_from_a_gitlab_style_env_var() {
    let emulator = emulator();
    let token = emulator.mint_id_token("api://AzureADTokenExchange", Map::new());
    let mut args = vec!["token", "--raw", "--id-token-env", "GITLAB_OIDC_TOKEN"];
    let flags = exchange_flags(&emulator);
    args.extend(flags.iter().map(String::as_str));
    let outcome = cli(&emulator, &args, &[("GITLAB_OIDC_TOKEN", &token)]);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert_eq!(
        outcome.stdout,
        format!("{}\n", emulator.issued_access_tokens()[0])
    );
}

#[test]
fn token_from_the_github_runner_masks_inside_actions() {
    let emulator = emulator();
    let flags = exchange_flags(&emulator);
    // Inside Actions the token goes to a file (stdout is refused there: tests/integration/hardening.rs).
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("azure-token");
    let mut args = vec![
        "token",
        "--scope",
        "https://vault.azure.net",
        "--output",
        file.to_str().unwrap(),
    ];
    args.extend(flags.iter().map(String::as_str));
    let outcome = cli(
        &emulator,
        &args,
        &[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &emulator.request_url()),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", &emulator.request_token()),
            ("GITHUB_ACTIONS", "true"),
        ],
    );
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    let access = &emulator.issued_access_tokens()[0];
    assert_eq!(&std::fs::read_to_string(&file).unwrap(), access);
    assert!(
        outcome.stderr.contains(&format!("::add-mask::{access}")),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome
            .stderr
            .contains(&format!("::add-mask::{}", emulator.issued_id_tokens()[0]))
    );
    assert_eq!(
        emulator.recorded(Hop::Entra)[0]
            .form_field("scope")
            .as_deref(),
        Some("https://vault.azure.net/.default")
    );
}

#[test]
fn token_errors_like_the_action() {
    let emulator = emulator();
    emulator.set_subject("repo:octo-org/octo-repo:pull_request");
    let dir = tempfile::tempdir().unwrap();
    let token = emulator.mint_id_token("api://AzureADTokenExchange", Map::new());
    let path = dir.path().join("t");
    std::fs::write(&path, &token).unwrap();
    let flags = exchange_flags(&emulator);
    let mut args = vec!["token", "--id-token-file", path.to_str().unwrap()];
    args.extend(flags.iter().map(String::as_str));
    let outcome = cli(&emulator, &args, &[]);
    assert_eq!(outcome.code, Some(1));
    assert!(
        outcome.stderr.starts_with("error: Entra ID token endpoint"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("AADSTS700213"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome
            .stderr
            .contains("Presented subject:  \"repo:octo-org/octo-repo:pull_request\"")
    );
    assert_eq!(outcome.stdout, "");
}

#[test]
fn token_without_any_id_token_source_says_where_to_get_one() {
    let emulator = emulator();
    let flags = exchange_flags(&emulator);
    let mut args = vec!["token"];
    args.extend(flags.iter().map(String::as_str));
    let outcome = cli(&emulator, &args, &[]);
    assert_eq!(outcome.code, Some(1));
    assert!(
        outcome.stderr.contains("--id-token-file"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("AZURE_FEDERATED_TOKEN_FILE"));
    assert_eq!(support::total_requests(&emulator), 0);
}

#[test]
fn token_validates_flags_before_any_request() {
    let emulator = emulator();
    let outcome = cli(
        &emulator,
        &[
            "token",
            "--client-id",
            "nope",
            "--tenant-id",
            "contoso.onmicrosoft.com",
            "--id-token-env",
            "X",
        ],
        &[("X", "a.b.c")],
    );
    assert_eq!(outcome.code, Some(1));
    assert!(
        outcome.stderr.starts_with("error: --client-id is 'nope'"),
        "{}",
        outcome.stderr
    );
    let outcome = cli(&emulator, &["token", "--authority-host", "http://x"], &[]);
    assert_eq!(outcome.code, Some(1));
    assert_eq!(support::total_requests(&emulator), 0);
}

#[test]
fn unreadable_token_file_is_named() {
    let emulator = emulator();
    let outcome = cli(
        &emulator,
        &["token"],
        &[
            ("AZURE_CLIENT_ID", &emulator.client_id()),
            ("AZURE_TENANT_ID", &emulator.tenant_id()),
            ("AZURE_FEDERATED_TOKEN_FILE", "/nonexistent/token"),
        ],
    );
    assert_eq!(outcome.code, Some(1));
    assert!(
        outcome
            .stderr
            .contains("AZURE_FEDERATED_TOKEN_FILE /nonexistent/token"),
        "{}",
        outcome.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// explain

#[test]
fn explain_shows_claims_credential_and_verifies_the_issuer() {
    let emulator = emulator();
    let outcome = cli(
        &emulator,
        &["explain", "--client-id", &emulator.client_id()],
        &[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &emulator.request_url()),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", &emulator.request_token()),
        ],
    );
    assert_eq!(
        outcome.code,
        Some(0),
        "{}{}",
        outcome.stdout,
        outcome.stderr
    );
    let out = &outcome.stdout;
    assert!(
        out.contains("sub                    repo:octo-org/octo-repo:ref:refs/heads/main"),
        "{out}"
    );
    assert!(
        out.contains("\"subject\": \"repo:octo-org/octo-repo:ref:refs/heads/main\""),
        "{out}"
    );
    assert!(out.contains(&format!(
        "az ad app federated-credential create --id {}",
        emulator.client_id()
    )));
    assert!(out.contains("signature  RS256 with kid"), "{out}");
    assert!(out.contains("verified"));
    // The URLs the issuer check fetched, each printed once with its scheme (not `https://https://`).
    let issuer = emulator.issuer();
    assert!(
        out.contains(&format!(
            "  discovery  {issuer}/.well-known/openid-configuration  ok, issuer matches"
        )),
        "{out}"
    );
    assert!(
        out.lines().any(
            |l| l.starts_with("  jwks       https://127.0.0.1:") && l.ends_with("ok, 1 key(s)")
        ),
        "{out}"
    );
    assert!(!out.contains("https://https://"), "{out}");
    assert_eq!(
        emulator.requests(Hop::Discovery),
        2,
        "discovery document and JWKS"
    );
    // Nothing secret: not the ID token, not the request token.
    let only_stdout = support::Outcome {
        stderr: String::new(),
        ..outcome
    };
    assert_no_secret_in_streams(
        &secrets(&emulator),
        &emulator.issued_id_tokens(),
        &only_stdout,
        false,
    );
}

#[test]
fn explain_a_ghec_enterprise_token_from_a_file() {
    let emulator = Emulator::start(Config {
        issuer_path: "/octo-inc".to_owned(),
        ..Config::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = write_token_file(&emulator, dir.path());
    let outcome = cli(
        &emulator,
        &["explain", "--id-token-file", file.to_str().unwrap()],
        &[],
    );
    assert_eq!(
        outcome.code,
        Some(0),
        "{}{}",
        outcome.stdout,
        outcome.stderr
    );
    assert!(
        outcome
            .stdout
            .contains(&format!("\"issuer\": \"{}/octo-inc\"", emulator.base_url()))
    );
    assert!(outcome.stdout.contains("--id \"$APP_ID\""));
    assert!(
        emulator.recorded(Hop::Discovery)[0]
            .path
            .starts_with("/octo-inc/.well-known/")
    );
}

#[test]
fn explain_names_a_tampered_signature() {
    let emulator = emulator();
    let token = emulator.mint_id_token("api://AzureADTokenExchange", Map::new());
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let other = emulator.mint_id_token(
        "api://AzureADTokenExchange",
        Map::from_iter([(
            "sub".to_owned(),
            Value::from("repo:evil/repo:ref:refs/heads/main"),
        )]),
    );
    parts[1] = other.split('.').nth(1).unwrap().to_owned();
    let outcome = cli(
        &emulator,
        &["explain", "--id-token-env", "T"],
        &[("T", &parts.join("."))],
    );
    assert_eq!(outcome.code, Some(1));
    assert!(
        outcome
            .stdout
            .contains("FAILED: the signature does not verify"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stderr.contains("issuer check failed"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn explain_names_an_unreachable_discovery_document() {
    let emulator = emulator();
    emulator.script(Hop::Discovery, vec![Fault::status(404)]);
    let token = emulator.mint_id_token("api://AzureADTokenExchange", Map::new());
    let outcome = cli(
        &emulator,
        &["explain", "--id-token-env", "T"],
        &[("T", &token)],
    );
    assert_eq!(outcome.code, Some(1));
    assert!(
        outcome
            .stderr
            .contains("openid-configuration could not be fetched: HTTP 404"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("publicly trusted certificate"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn explain_rejects_a_non_https_issuer() {
    let emulator = emulator();
    let token = emulator.mint_id_token(
        "api://AzureADTokenExchange",
        Map::from_iter([(
            "iss".to_owned(),
            Value::from("http://ghes.internal/_services/token"),
        )]),
    );
    let outcome = cli(
        &emulator,
        &["explain", "--id-token-env", "T"],
        &[("T", &token)],
    );
    assert_eq!(outcome.code, Some(1));
    assert!(
        outcome.stderr.contains("is not an https:// URL"),
        "{}",
        outcome.stderr
    );
    assert_eq!(emulator.requests(Hop::Discovery), 0);
}

#[test]
fn explain_input_runs_the_diagnosis_instead_of_the_exchange() {
    let emulator = emulator();
    let outcome = Step::new(&emulator)
        .with("INPUT_EXPLAIN", "true")
        .run_checked();
    outcome.assert_succeeded();
    assert_eq!(
        emulator.requests(Hop::Entra),
        0,
        "no exchange in explain mode"
    );
    assert_eq!(outcome.output_file, "", "no outputs without a token");
    assert!(
        outcome.stdout.contains("::stop-commands::"),
        "claims are printed inert"
    );
    assert!(outcome.stdout.contains("verified"), "{}", outcome.stdout);
    assert!(
        outcome.summary.contains("### azure-oidc-token: explain"),
        "{}",
        outcome.summary
    );
    assert!(
        outcome
            .summary
            .contains("\"subject\": \"repo:octo-org/octo-repo:ref:refs/heads/main\"")
    );
}

#[test]
fn explain_inputs_check_a_subject_and_an_expression_against_the_jobs_token() {
    let emulator = emulator();
    let outcome = Step::new(&emulator)
        .with("INPUT_EXPLAIN", "true")
        .with(
            "INPUT_EXPLAIN-SUBJECT",
            "repo:octo-org/octo-repo:ref:refs/heads/main",
        )
        .run_checked();
    outcome.assert_succeeded();
    assert!(
        outcome
            .stdout
            .contains("\"repo:octo-org/octo-repo:ref:refs/heads/main\"  matches the token's sub"),
        "{}",
        outcome.stdout
    );
    assert_eq!(
        emulator.requests(Hop::Entra),
        0,
        "no exchange in explain mode"
    );

    // A subject that differs fails the step, naming the input.
    let emulator = self::emulator();
    let outcome = Step::new(&emulator)
        .with("INPUT_EXPLAIN", "true")
        .with(
            "INPUT_EXPLAIN-SUBJECT",
            "repo:octo-org/octo-repo:environment:production",
        )
        .run_checked();
    let error = outcome.assert_failed();
    assert!(
        error.contains("explain-subject does not match the token's sub: it differs (AADSTS700213)"),
        "{error}"
    );

    // The expression is evaluated against the job's claims (the sub condition holds); Entra
    // evaluates flexible credentials only for github.com's issuer, which the emulator is not.
    let emulator = self::emulator();
    let outcome = Step::new(&emulator)
        .with("INPUT_EXPLAIN", "true")
        .with(
            "INPUT_EXPLAIN-EXPRESSION",
            "claims['sub'] matches 'repo:octo-org/octo-repo:ref:refs/heads/*'",
        )
        .run_checked();
    let error = outcome.assert_failed();
    assert!(
        outcome
            .stdout
            .contains("claims['sub'] is \"repo:octo-org/octo-repo:ref:refs/heads/main\": holds"),
        "{}",
        outcome.stdout
    );
    assert!(
        error.contains("explain-expression does not match the token's claims"),
        "{error}"
    );
}

#[test]
fn explain_inputs_are_validated_before_any_network_call() {
    for (extra, input, expected) in [
        (
            vec![
                ("INPUT_EXPLAIN", "true"),
                ("INPUT_EXPLAIN-EXPRESSION", "claims['sub'] like 'x'"),
            ],
            "explain-expression",
            "is not a flexible credential expression (operator \"like\" is not in Entra's language",
        ),
        (
            vec![(
                "INPUT_EXPLAIN-SUBJECT",
                "repo:octo-org/octo-repo:ref:refs/heads/main",
            )],
            "explain-subject",
            "is set, but `explain` is not true",
        ),
        (
            vec![("INPUT_EXPLAIN-EXPRESSION", "claims['sub'] eq 'x'")],
            "explain-expression",
            "is set, but `explain` is not true",
        ),
        (
            vec![
                ("INPUT_EXPLAIN", "true"),
                (
                    "INPUT_EXPLAIN-SUBJECT",
                    "repo:o/r:ref:refs/heads/main\n::warning::x",
                ),
            ],
            "explain-subject",
            "holds a line break or control character",
        ),
    ] {
        let emulator = emulator();
        let mut step = Step::new(&emulator);
        for (name, value) in &extra {
            step = step.with(name, value);
        }
        let outcome = step.run_checked();
        let error = outcome.assert_failed();
        assert!(error.contains(input) && error.contains(expected), "{error}");
        assert_eq!(support::total_requests(&emulator), 0, "{input}: no request");
    }
}

// ---------------------------------------------------------------------------------------------
// scopes and export-sdk-env

#[test]
fn scopes_mint_one_masked_token_per_resource() {
    let emulator = emulator();
    let outcome = Step::new(&emulator)
        .with(
            "INPUT_SCOPES",
            "graph=https://graph.microsoft.com/.default\n\n# Key Vault\nvault = https://vault.azure.net\n",
        )
        .run_checked();
    outcome.assert_succeeded();
    let outputs = outcome.outputs();
    let issued = emulator.issued_access_tokens();
    assert_eq!(issued.len(), 3);
    assert_eq!(
        outputs["access-token"], issued[0],
        "access-token stays the first"
    );
    assert_eq!(outputs["graph-access-token"], issued[1]);
    assert_eq!(outputs["vault-access-token"], issued[2]);
    assert!(outputs["vault-expires-on"].parse::<i64>().unwrap() > 1_700_000_000);
    for token in &issued {
        assert!(outcome.stdout.contains(&format!("::add-mask::{token}")));
    }
    let scopes: Vec<_> = emulator
        .recorded(Hop::Entra)
        .iter()
        .map(|r| r.form_field("scope").unwrap())
        .collect();
    assert_eq!(
        scopes,
        [
            "https://management.azure.com/.default",
            "https://graph.microsoft.com/.default",
            "https://vault.azure.net/.default"
        ]
    );
    assert_eq!(
        emulator.requests(Hop::GitHub),
        1,
        "one ID token serves every resource"
    );
}

#[test]
fn scopes_fetch_a_fresh_id_token_when_it_nears_expiry() {
    let emulator = Emulator::start(Config {
        id_token_lifetime: std::time::Duration::from_secs(30),
        ..Config::default()
    })
    .unwrap();
    let outcome = Step::new(&emulator)
        .with("INPUT_SCOPES", "graph=https://graph.microsoft.com/.default")
        .run_checked();
    outcome.assert_succeeded();
    assert_eq!(emulator.requests(Hop::GitHub), 2);
}

#[test]
fn bad_scopes_are_rejected_before_any_request() {
    for bad in [
        "graph",
        "1x=https://a",
        "a=https://x\na=https://y",
        "a=https://x y",
        "a=",
    ] {
        let emulator = emulator();
        let outcome = Step::new(&emulator).with("INPUT_SCOPES", bad).run_checked();
        let message = outcome.assert_failed();
        assert!(message.contains("input `scopes`"), "{bad:?}: {message}");
        assert_eq!(support::total_requests(&emulator), 0);
    }
}

#[test]
fn export_sdk_env_hands_non_secret_settings_to_later_steps() {
    let subscription = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
    // A US Government credential: the step requests the USGov audience.
    let emulator = Emulator::start(Config {
        apps: vec![App {
            federated_credentials: vec![FederatedCredential {
                name: "gov".to_owned(),
                issuer: ISSUER_PLACEHOLDER.to_owned(),
                subject: "repo:octo-org/octo-repo:ref:refs/heads/main".to_owned(),
                audiences: vec!["api://AzureADTokenExchangeUSGov".to_owned()],
            }],
            ..App::default()
        }],
        ..Config::default()
    })
    .unwrap();
    let outcome = Step::new(&emulator)
        .with("INPUT_EXPORT-SDK-ENV", "true")
        .with("INPUT_SUBSCRIPTION-ID", subscription)
        .with("INPUT_ENVIRONMENT", "AzureUSGovernment")
        .run_checked();
    outcome.assert_succeeded();
    let env: BTreeMap<String, String> = parse_file_commands(&outcome.env_file)
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(env["AZURE_CLIENT_ID"], emulator.client_id());
    assert_eq!(env["AZURE_TENANT_ID"], emulator.tenant_id());
    assert_eq!(env["AZURE_SUBSCRIPTION_ID"], subscription);
    assert_eq!(env["AZURE_AUTHORITY_HOST"], emulator.authority_host());
    assert_eq!(env["ARM_USE_OIDC"], "true");
    assert_eq!(env["ARM_CLIENT_ID"], emulator.client_id());
    assert_eq!(env["ARM_TENANT_ID"], emulator.tenant_id());
    assert_eq!(env["ARM_SUBSCRIPTION_ID"], subscription);
    assert_eq!(env["ARM_ENVIRONMENT"], "usgovernment");
    assert_eq!(env.len(), 9);
    for token in emulator.issued_access_tokens() {
        assert!(
            !outcome.env_file.contains(&token),
            "export-sdk-env exports no token"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// federated-credential (offline)

fn offline(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).env_clear().output().unwrap()
}

#[test]
fn federated_credential_json_in_both_subject_forms() {
    let output = offline(&[
        "federated-credential",
        "--repository",
        "octo-org/octo-repo",
        "--environment",
        "Production:EU",
        "--owner-id",
        "123456",
        "--repository-id",
        "456789",
    ]);
    assert!(output.status.success());
    // One object per line: `az ad app federated-credential create --parameters` takes one per call.
    let json: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let subjects: Vec<&str> = json
        .iter()
        .map(|c| c["subject"].as_str().unwrap())
        .collect();
    assert_eq!(
        subjects,
        [
            "repo:octo-org/octo-repo:environment:Production%3AEU",
            "repo:octo-org@123456/octo-repo@456789:environment:Production%3AEU"
        ]
    );
    assert_eq!(
        json[0]["issuer"],
        "https://token.actions.githubusercontent.com"
    );
    assert_eq!(
        json[0]["audiences"],
        serde_json::json!(["api://AzureADTokenExchange"])
    );
}

#[test]
fn federated_credential_for_a_ghec_enterprise_issuer_and_sovereign_cloud() {
    let output = offline(&[
        "federated-credential",
        "--repository",
        "octo-org/octo-repo",
        "--pull-request",
        "--issuer",
        "https://token.actions.githubusercontent.com/octo-inc",
        "--environment-cloud",
        "AzureChinaCloud",
    ]);
    assert!(output.status.success());
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        json["issuer"],
        "https://token.actions.githubusercontent.com/octo-inc"
    );
    assert_eq!(json["subject"], "repo:octo-org/octo-repo:pull_request");
    assert_eq!(
        json["audiences"],
        serde_json::json!(["api://AzureADTokenExchangeChina"])
    );
}

#[test]
fn federated_credential_as_az_bicep_and_terraform() {
    let base = [
        "federated-credential",
        "--repository",
        "octo-org/octo-repo",
        "--tag",
        "v1.2.3",
    ];
    let run = |format: &str| {
        let mut args = base.to_vec();
        args.extend([
            "--format",
            format,
            "--client-id",
            "11111111-2222-4333-8444-555555555555",
        ]);
        String::from_utf8(offline(&args).stdout).unwrap()
    };
    let az = run("az");
    assert!(az.contains("az ad app federated-credential create --id 11111111-2222-4333-8444-555555555555 --parameters '{\"name\":\"github-octo-org-octo-repo-ref-refs-tags-v1-2-3\""), "{az}");
    assert!(az.contains("az identity federated-credential create"));
    let bicep = run("bicep");
    assert!(
        bicep.contains(
            "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@"
        ),
        "{bicep}"
    );
    assert!(bicep.contains("subject: 'repo:octo-org/octo-repo:ref:refs/tags/v1.2.3'"));
    let terraform = run("terraform");
    assert!(
        terraform.contains("resource \"azuread_application_federated_identity_credential\""),
        "{terraform}"
    );
    assert!(
        terraform.contains("subject        = \"repo:octo-org/octo-repo:ref:refs/tags/v1.2.3\"")
    );
}

#[test]
fn federated_credential_needs_exactly_one_entity_and_a_repository() {
    // Without a context (and no --claim-keys template that omits it) there is no subject.
    let none = offline(&["federated-credential", "--repository", "o/r"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("--environment NAME, --branch NAME"));
    let two = offline(&[
        "federated-credential",
        "--repository",
        "o/r",
        "--branch",
        "a",
        "--tag",
        "b",
    ]);
    assert_eq!(two.status.code(), Some(2));
    let bad = offline(&[
        "federated-credential",
        "--repository",
        "o",
        "--branch",
        "main",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("OWNER/REPO"));
    let half_ids = offline(&[
        "federated-credential",
        "--repository",
        "o/r",
        "--branch",
        "main",
        "--owner-id",
        "1",
    ]);
    // Refused by the generator (the ID-based repo segment needs both), naming the missing flag;
    // a template without `repo` takes --owner-id alone (credentials::owner_id_alone_serves_...).
    assert_eq!(half_ids.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&half_ids.stderr).contains("add --repository-id"));
}

#[test]
fn help_and_version_read_well() {
    let help = offline(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for command in ["token", "explain", "federated-credential"] {
        assert!(text.contains(command), "{text}");
    }
    let version = offline(&["--version"]);
    assert_eq!(
        String::from_utf8(version.stdout).unwrap(),
        format!("azure-oidc-token {}\n", env!("CARGO_PKG_VERSION"))
    );
}

// ---------------------------------------------------------------------------------------------
// Hardening: token files, fractional dates, explain inside Actions

#[test]
fn token_file_larger_than_64_kib_is_refused_at_once() {
    let emulator = emulator();
    let flags = exchange_flags(&emulator);
    let mut args = vec!["token", "--id-token-file", "/dev/zero"];
    args.extend(flags.iter().map(String::as_str));
    let outcome = cli(&emulator, &args, &[]);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("/dev/zero") && outcome.stderr.contains("larger than 64 KiB"),
        "{}",
        outcome.stderr
    );
    // At once: reading /dev/zero to its (absent) end would run into the harness's deadline; 10 s is
    // a margin for a loaded 2-core machine, not a measurement.
    assert!(outcome.elapsed < std::time::Duration::from_secs(10));
    assert_eq!(support::total_requests(&emulator), 0);
}

#[test]
fn token_file_that_never_delivers_fails_within_the_budget() {
    let emulator = emulator();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo");
    let flags = exchange_flags(&emulator);
    let mut args = vec![
        "token",
        "--timeout-seconds",
        "2",
        "--id-token-file",
        fifo.to_str().unwrap(),
    ];
    args.extend(flags.iter().map(String::as_str));
    let outcome = cli(&emulator, &args, &[]);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("not read within the 2-second budget"),
        "{}",
        outcome.stderr
    );
    // The 2-second budget plus process start-up and exit on a loaded machine (the same 5 s margin
    // as the fault catalogue); without the budget the read would block until the harness's deadline.
    assert!(outcome.elapsed < std::time::Duration::from_secs(7));
}

#[test]
fn fractional_numeric_dates_reach_entra() {
    let emulator = emulator();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let token = emulator.mint_id_token(
        "api://AzureADTokenExchange",
        Map::from_iter([
            ("iat".to_owned(), Value::from(now - 10.5)),
            ("nbf".to_owned(), Value::from(now - 70.25)),
            ("exp".to_owned(), Value::from(now + 290.75)),
        ]),
    );
    let flags = exchange_flags(&emulator);
    let mut args = vec!["token", "--id-token-env", "OIDC_TOKEN"];
    args.extend(flags.iter().map(String::as_str));
    let outcome = cli(&emulator, &args, &[("OIDC_TOKEN", &token)]);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert_eq!(emulator.successes(Hop::Entra), 1);
}

#[test]
fn explain_inside_actions_fences_claims() {
    let emulator = emulator();
    let token = emulator.mint_id_token(
        "api://AzureADTokenExchange",
        Map::from_iter([
            ("::warning::x".to_owned(), Value::from("::error::y")),
            ("note".to_owned(), Value::from("##[stop-commands]z")),
        ]),
    );
    let outcome = cli(
        &emulator,
        &["explain", "--id-token-env", "OIDC_TOKEN"],
        &[("OIDC_TOKEN", &token), ("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(
        outcome.code,
        Some(0),
        "{}{}",
        outcome.stdout,
        outcome.stderr
    );
    assert!(
        outcome.stdout.contains("::warning::x"),
        "{}",
        outcome.stdout
    );
    let log = support::RunnerLog::replay(&outcome.stdout, &outcome.stderr);
    // Besides the ID token's mask: only the fence and its end ran, no claim became a command.
    let names: Vec<&str> = log
        .processed
        .iter()
        .map(|c| c.name.as_str())
        .filter(|name| *name != "add-mask")
        .collect();
    assert_eq!(names.len(), 2, "only the fence and its end: {names:?}");
    assert_eq!(names[0], "stop-commands");
    assert!(!log.stopped());
    assert!(!outcome.stdout.contains(&token));
}

#[test]
fn explain_names_the_discovery_url_with_its_port() {
    let emulator = emulator();
    emulator.script(Hop::Discovery, vec![Fault::status(404)]);
    let token = emulator.mint_id_token("api://AzureADTokenExchange", Map::new());
    let outcome = cli(
        &emulator,
        &["explain", "--id-token-env", "OIDC_TOKEN"],
        &[("OIDC_TOKEN", &token)],
    );
    assert_eq!(outcome.code, Some(1));
    let expected = format!(
        "https://127.0.0.1:{}/.well-known/openid-configuration",
        emulator.port()
    );
    assert!(outcome.stderr.contains(&expected), "{}", outcome.stderr);
}
