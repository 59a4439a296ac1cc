//! The action as a process: the real binary, real HTTPS servers on 127.0.0.1 (the emulator, with a
//! CA generated at test time), real `GITHUB_OUTPUT`/`GITHUB_ENV`/`GITHUB_STEP_SUMMARY` files.
//! Every scenario checks that no secret leaked (`Step::run_checked`).

use crate::support;

use azure_oidc_emulator::{
    App, Config, Emulator, Fault, FederatedCredential, Hop, ISSUER_PLACEHOLDER, entra_error_body,
};
use serde_json::{Value, json};
use support::{Step, parse_file_commands, total_requests};

const SUBJECT: &str = "repo:octo-org/octo-repo:ref:refs/heads/main";

fn emulator() -> Emulator {
    Emulator::start(Config::default()).unwrap()
}

fn emulator_with(change: impl FnOnce(&mut Config)) -> Emulator {
    let mut config = Config::default();
    change(&mut config);
    Emulator::start(config).unwrap()
}

fn fic(subject: &str, audience: &str) -> FederatedCredential {
    FederatedCredential {
        name: "github".to_owned(),
        issuer: ISSUER_PLACEHOLDER.to_owned(),
        subject: subject.to_owned(),
        audiences: vec![audience.to_owned()],
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// ---------------------------------------------------------------------------------------------
// Happy paths

#[test]
fn public_cloud_step_outputs_a_working_token() {
    let emulator = emulator();
    let step = Step::new(&emulator);
    let outcome = step.run_checked();
    outcome.assert_succeeded();

    let outputs = outcome.outputs();
    let issued = emulator.issued_access_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(outputs["access-token"], issued[0]);
    assert_eq!(outputs["token-type"], "Bearer");
    assert_eq!(outputs["tenant-id"], emulator.tenant_id());
    assert_eq!(outputs["client-id"], emulator.client_id());
    assert_eq!(outputs["principal-id"], App::default().object_id);
    assert!(!outputs.contains_key("subscription-id"));
    let expires_on: i64 = outputs["expires-on"].parse().unwrap();
    let expected = unix_now() + 4479;
    assert!(
        (expected - 30..=expected).contains(&expires_on),
        "{expires_on} vs {expected}"
    );
    let expires_at = &outputs["expires-at"];
    assert_eq!(expires_at.len(), 20, "{expires_at}");
    assert!(expires_at.ends_with('Z') && expires_at.as_bytes()[10] == b'T');

    // The success line names the scope, the authority host, tenant and client, the expiry and the
    // whole minutes left (the emulator's token lives 4479 s: 74 min, 73 if a minute boundary passed).
    let success = outcome
        .stdout
        .lines()
        .find(|line| line.starts_with("Azure access token for "))
        .unwrap_or_else(|| panic!("no success line in {}", outcome.stdout));
    let host = emulator
        .authority_host()
        .trim_start_matches("https://")
        .to_owned();
    assert!(
        success.starts_with(&format!(
            "Azure access token for https://management.azure.com/.default issued by {host} (tenant {}, client {}",
            emulator.tenant_id(),
            emulator.client_id()
        )),
        "{success}"
    );
    let minutes: i64 = success
        .rsplit_once("(in ")
        .and_then(|(_, rest)| rest.strip_suffix(" min)."))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no minutes in {success}"));
    assert!((73..=74).contains(&minutes), "{success}");
    assert!(
        success.contains(&format!("expires at {expires_at} ")),
        "{success}"
    );

    // The presented claims are logged before the exchange, and the summary is an audit without the token.
    assert!(
        outcome.stdout.contains(&format!("sub=\"{SUBJECT}\"")),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stdout
            .contains("aud=\"api://AzureADTokenExchange\"")
    );
    assert!(outcome.summary.contains(&emulator.tenant_id()));
    assert!(outcome.summary.contains(SUBJECT));
    assert_eq!(outcome.env_file, "");

    // One request per hop, by the protocol's rules.
    assert_eq!(emulator.requests(Hop::GitHub), 1);
    assert_eq!(emulator.requests(Hop::Entra), 1);
    let github = &emulator.recorded(Hop::GitHub)[0];
    assert_eq!(github.method, "GET");
    let query = github.query.clone().unwrap();
    assert!(query.contains("api-version=2.0"), "{query}");
    assert!(
        query.contains("audience=api%3A%2F%2FAzureADTokenExchange"),
        "{query}"
    );
    assert_eq!(
        github.header("authorization").unwrap(),
        format!("Bearer {}", emulator.request_token())
    );
    assert_eq!(github.header("accept"), Some("application/json"));
    assert!(
        github
            .header("user-agent")
            .unwrap()
            .starts_with("azure-oidc-token/")
    );
    let entra = &emulator.recorded(Hop::Entra)[0];
    assert_eq!(entra.method, "POST");
    assert_eq!(
        entra.path,
        format!("/{}/oauth2/v2.0/token", emulator.tenant_id())
    );
    assert_eq!(
        entra.form_field("grant_type").as_deref(),
        Some("client_credentials")
    );
    assert_eq!(entra.form_field("client_id"), Some(emulator.client_id()));
    assert_eq!(
        entra.form_field("scope").as_deref(),
        Some("https://management.azure.com/.default")
    );
    assert_eq!(
        entra.form_field("client_assertion_type").as_deref(),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    assert_eq!(
        entra.form_field("client_assertion"),
        Some(emulator.issued_id_tokens()[0].clone())
    );
    let request_id = entra.header("client-request-id").unwrap();
    assert_eq!(entra.header("x-ms-client-request-id"), Some(request_id));
    assert_eq!(request_id.len(), 36);
}

fn sovereign_cloud(environment: &str, audience: &str, scope: &str) {
    let emulator =
        emulator_with(|c| c.apps[0].federated_credentials = vec![fic(SUBJECT, audience)]);
    let outcome = Step::new(&emulator)
        .with("INPUT_ENVIRONMENT", environment)
        .run_checked();
    outcome.assert_succeeded();
    assert_eq!(
        outcome.outputs()["access-token"],
        emulator.issued_access_tokens()[0]
    );
    let github = &emulator.recorded(Hop::GitHub)[0];
    let encoded_audience = audience.replace(':', "%3A").replace('/', "%2F");
    assert!(
        github
            .query
            .as_deref()
            .unwrap()
            .contains(&format!("audience={encoded_audience}"))
    );
    assert_eq!(
        emulator.recorded(Hop::Entra)[0]
            .form_field("scope")
            .as_deref(),
        Some(scope)
    );
}

#[test]
fn us_government_cloud_uses_its_audience_and_scope() {
    sovereign_cloud(
        "AzureUSGovernment",
        "api://AzureADTokenExchangeUSGov",
        "https://management.usgovcloudapi.net/.default",
    );
}

#[test]
fn china_cloud_uses_its_audience_and_scope() {
    sovereign_cloud(
        "azurechinacloud",
        "api://AzureADTokenExchangeChina",
        "https://management.chinacloudapi.cn/.default",
    );
}

#[test]
fn azure_variables_are_the_fallback_and_subscription_is_echoed() {
    let emulator = emulator();
    let subscription = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
    let outcome = Step::new(&emulator)
        .with("INPUT_CLIENT-ID", "")
        .with("INPUT_TENANT-ID", "")
        .with("INPUT_AUTHORITY-HOST", "")
        .with("AZURE_CLIENT_ID", &emulator.client_id())
        .with("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
        .with(
            "AZURE_AUTHORITY_HOST",
            &format!("{}/", emulator.authority_host()),
        )
        .with("AZURE_SUBSCRIPTION_ID", subscription)
        .run_checked();
    outcome.assert_succeeded();
    let outputs = outcome.outputs();
    assert_eq!(outputs["subscription-id"], subscription);
    assert_eq!(outputs["tenant-id"], "contoso.onmicrosoft.com");
    assert_eq!(
        emulator.recorded(Hop::Entra)[0].path,
        "/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
}

#[test]
fn custom_scope_and_audience_are_sent() {
    let emulator =
        emulator_with(|c| c.apps[0].federated_credentials = vec![fic(SUBJECT, "api://custom")]);
    let outcome = Step::new(&emulator)
        .with("INPUT_AUDIENCE", "api://custom")
        .with("INPUT_SCOPE", "https://vault.azure.net")
        .run_checked();
    outcome.assert_succeeded();
    assert_eq!(
        emulator.recorded(Hop::Entra)[0]
            .form_field("scope")
            .as_deref(),
        Some("https://vault.azure.net/.default")
    );
}

#[test]
fn outputs_are_appended_after_earlier_steps_lines() {
    let emulator = emulator();
    let step = Step::new(&emulator);
    let earlier = "earlier=value\nmulti<<EOF\nline one\nline two\nEOF\n";
    std::fs::write(step.path("GITHUB_OUTPUT"), earlier).unwrap();
    let outcome = step.run_checked();
    outcome.assert_succeeded();
    assert!(outcome.output_file.starts_with(earlier));
    let outputs = outcome.outputs();
    assert_eq!(outputs["earlier"], "value");
    assert_eq!(outputs["multi"], "line one\nline two");
    assert_eq!(outputs["access-token"], emulator.issued_access_tokens()[0]);
    assert!(!outcome.output_file.contains('\r'));
}

#[test]
fn export_env_hands_the_token_to_later_steps() {
    let emulator = emulator();
    let step = Step::new(&emulator).with("INPUT_EXPORT-ENV", "ARM_ACCESS_TOKEN");
    std::fs::write(step.path("GITHUB_ENV"), "EARLIER=1\n").unwrap();
    let outcome = step.run_checked();
    outcome.assert_succeeded();
    let env: std::collections::BTreeMap<_, _> = parse_file_commands(&outcome.env_file)
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(env["EARLIER"], "1");
    assert_eq!(env["ARM_ACCESS_TOKEN"], emulator.issued_access_tokens()[0]);
    assert_eq!(env.len(), 2);
}

#[test]
fn summary_false_writes_no_summary() {
    let emulator = emulator();
    let outcome = Step::new(&emulator)
        .with("INPUT_SUMMARY", "FALSE")
        .run_checked();
    outcome.assert_succeeded();
    assert_eq!(outcome.summary, "");
}

#[test]
fn runner_debug_logs_more_but_no_secret() {
    let emulator = emulator();
    emulator.script(Hop::Entra, vec![Fault::status(503)]);
    let outcome = Step::new(&emulator).with("RUNNER_DEBUG", "1").run_checked();
    outcome.assert_succeeded();
    assert!(outcome.stdout.contains("::debug::"), "{}", outcome.stdout);
}

#[test]
fn ghec_enterprise_issuer_is_presented_and_matched() {
    let emulator = emulator_with(|c| c.issuer_path = "/octo-inc".to_owned());
    let outcome = Step::new(&emulator).run_checked();
    outcome.assert_succeeded();
    assert!(
        outcome
            .stdout
            .contains(&format!("iss=\"{}/octo-inc\"", emulator.base_url()))
    );
}

// ---------------------------------------------------------------------------------------------
// Validation: a clear error naming the input, exit 1, no request, nothing written

fn rejects(var: &str, value: &str, names: &str) {
    let emulator = emulator();
    let outcome = Step::new(&emulator).with(var, value).run_checked();
    let message = outcome.assert_failed();
    assert!(message.contains(names), "{var}={value:?}: {message}");
    assert_eq!(
        total_requests(&emulator),
        0,
        "{var}={value:?} made a request"
    );
}

#[test]
fn rejects_bad_client_id_before_any_request() {
    rejects("INPUT_CLIENT-ID", "my-app", "client-id");
    rejects(
        "INPUT_CLIENT-ID",
        "11111111-2222-4333-8444-55555555555",
        "client-id",
    );
}

#[test]
fn rejects_missing_client_and_tenant_before_any_request() {
    rejects("INPUT_CLIENT-ID", "", "client-id");
    rejects("INPUT_TENANT-ID", "  ", "tenant-id");
}

#[test]
fn rejects_bad_tenant_before_any_request() {
    rejects("INPUT_TENANT-ID", "contoso..onmicrosoft.com", "tenant-id");
    rejects(
        "INPUT_TENANT-ID",
        "${{ vars.AZURE_TENANT_ID }}",
        "tenant-id",
    );
    rejects("INPUT_TENANT-ID", &"a".repeat(129), "tenant-id");
}

#[test]
fn rejects_bad_subscription_and_environment_before_any_request() {
    rejects("INPUT_SUBSCRIPTION-ID", "prod", "subscription-id");
    rejects("INPUT_ENVIRONMENT", "AzureGermanCloud", "environment");
}

#[test]
fn rejects_http_authority_before_any_request() {
    rejects(
        "INPUT_AUTHORITY-HOST",
        "http://login.microsoftonline.com",
        "authority-host",
    );
    rejects(
        "INPUT_AUTHORITY-HOST",
        "https://login.microsoftonline.com/common",
        "authority-host",
    );
    rejects(
        "INPUT_AUTHORITY-HOST",
        "https://login.microsoftonline.com?x=1",
        "authority-host",
    );
    rejects(
        "INPUT_AUTHORITY-HOST",
        "login.microsoftonline.com",
        "authority-host",
    );
}

#[test]
fn rejects_bad_export_env_before_any_request() {
    rejects("INPUT_EXPORT-ENV", "node_options", "export-env");
    rejects("INPUT_EXPORT-ENV", "GITHUB_PATH", "export-env");
    rejects("INPUT_EXPORT-ENV", "RUNNER_TEMP", "export-env");
    rejects("INPUT_EXPORT-ENV", "9LIVES", "export-env");
    rejects("INPUT_EXPORT-ENV", "MY-TOKEN", "export-env");
}

#[test]
fn rejects_bad_timeout_summary_scope_and_audience_before_any_request() {
    rejects("INPUT_TIMEOUT-SECONDS", "0", "timeout-seconds");
    rejects("INPUT_TIMEOUT-SECONDS", "601", "timeout-seconds");
    rejects("INPUT_TIMEOUT-SECONDS", "ten", "timeout-seconds");
    rejects("INPUT_SUMMARY", "maybe", "summary");
    rejects(
        "INPUT_SCOPE",
        "https://management.azure.com/.default https://graph.microsoft.com/.default",
        "scope",
    );
    rejects("INPUT_AUDIENCE", "api://a api://b", "audience");
}

#[test]
fn missing_id_token_permission_says_how_to_fix_it() {
    let emulator = emulator();
    let outcome = Step::new(&emulator)
        .without("ACTIONS_ID_TOKEN_REQUEST_URL")
        .without("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .run_checked();
    let message = outcome.assert_failed();
    assert!(
        message.contains("ACTIONS_ID_TOKEN_REQUEST_URL"),
        "{message}"
    );
    assert!(message.contains("id-token: write"), "{message}");
    assert!(message.contains("fork"), "{message}");
    assert!(outcome.stdout.contains("id-token: write"));
    assert_eq!(total_requests(&emulator), 0);
}

// ---------------------------------------------------------------------------------------------
// Entra's answers: each AADSTS family gets the message and hints that end the guessing

/// The hint lines printed after the `::error` line (inside the `stop-commands` fence that keeps
/// their quoted claims inert; the fence markers themselves excluded). Entra's own text is on the
/// `::error` line, so it is not among them: a hint check cannot pass on Entra's wording.
fn hint_lines(outcome: &support::Outcome) -> Vec<String> {
    outcome
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("::error"))
        .skip(1)
        .filter(|l| !l.starts_with("::"))
        .map(str::to_owned)
        .collect()
}

fn entra_failure(emulator: &Emulator, step: Step<'_>, code: &str) -> support::Outcome {
    let outcome = step.run_checked();
    let message = outcome.assert_failed();
    assert!(message.contains(&format!("AADSTS{code}")), "{message}");
    assert!(message.contains("trace_id "), "{message}");
    assert!(message.contains("correlation_id "), "{message}");
    let request_id = emulator
        .recorded(Hop::Entra)
        .last()
        .unwrap()
        .header("client-request-id")
        .unwrap()
        .to_owned();
    assert!(
        message.contains(&format!("client-request-id {request_id}")),
        "{message}"
    );
    assert!(
        message.contains(&emulator.base_url().replace("https://", "")),
        "names the endpoint: {message}"
    );
    assert_eq!(
        emulator.requests(Hop::Entra),
        1,
        "a configuration error is not retried"
    );
    outcome
}

fn assert_shows_matching_credential(
    outcome: &support::Outcome,
    emulator: &Emulator,
    subject: &str,
) {
    assert!(
        outcome
            .stdout
            .contains(&format!("Presented subject:  \"{subject}\"")),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stdout
            .contains(&format!("Presented issuer:   \"{}\"", emulator.issuer()))
    );
    // Entra's field order (name, issuer, subject, audiences), as `az` prints a credential.
    let expected = format!(
        "{{\"name\":{},\"issuer\":{},\"subject\":{},\"audiences\":[\"api://AzureADTokenExchange\"]}}",
        json!(format!(
            "github-{}",
            subject
                .trim_start_matches("repo:")
                .replace(['/', ':', '@'], "-")
        )),
        json!(emulator.issuer()),
        json!(subject),
    );
    assert!(
        outcome.stdout.contains(&expected.to_string()),
        "{}\nexpected {expected}",
        outcome.stdout
    );
    // The hints quote claims, so they are fenced against workflow-command injection.
    assert!(outcome.stdout.contains("::stop-commands::"));
}

#[test]
fn subject_mismatch_700213_prints_the_credential_that_would_match() {
    let emulator = emulator();
    let subject = "repo:octo-org/octo-repo:environment:production";
    emulator.set_subject(subject);
    let outcome = entra_failure(&emulator, Step::new(&emulator), "700213");
    assert_shows_matching_credential(&outcome, &emulator, subject);
    assert!(outcome.stdout.contains("ID-based subjects"));
    assert!(
        outcome
            .stdout
            .contains("docs/troubleshooting.md#aadsts700213"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn case_only_difference_7002138_says_matching_is_case_sensitive() {
    let emulator = emulator();
    let subject = "repo:Octo-Org/octo-repo:ref:refs/heads/main";
    emulator.set_subject(subject);
    let outcome = entra_failure(&emulator, Step::new(&emulator), "7002138");
    // Our hint, not Entra's own text (which says "case-sensitive" too, inside the fenced excerpt).
    let hints = hint_lines(&outcome);
    assert!(
        hints.iter().any(|l| l.contains("letter case")
            && l.contains("case-sensitive")
            && l.contains(&format!("\"{subject}\""))),
        "no case-sensitivity hint naming the exact subject among {hints:#?}"
    );
    assert_shows_matching_credential(&outcome, &emulator, subject);
}

#[test]
fn audience_mismatch_700212_names_the_audience() {
    let emulator = emulator_with(|c| {
        c.apps[0].federated_credentials = vec![fic(SUBJECT, "api://AzureADTokenExchangeUSGov")]
    });
    let outcome = entra_failure(&emulator, Step::new(&emulator), "700212");
    assert!(
        outcome
            .stdout
            .contains("Presented audience: \"api://AzureADTokenExchange\""),
        "{}",
        outcome.stdout
    );
}

#[test]
fn issuer_mismatch_700211_shows_the_presented_issuer() {
    let emulator = emulator_with(|c| {
        c.apps[0].federated_credentials[0].issuer =
            "https://token.actions.githubusercontent.com".to_owned();
    });
    let outcome = entra_failure(&emulator, Step::new(&emulator), "700211");
    assert_shows_matching_credential(&outcome, &emulator, SUBJECT);
}

#[test]
fn propagation_70021_says_wait_and_does_not_loop() {
    let emulator = emulator_with(|c| c.apps[0].propagating = true);
    let outcome = entra_failure(&emulator, Step::new(&emulator), "70021");
    assert!(outcome.stdout.contains("propagating"), "{}", outcome.stdout);
}

#[test]
fn no_federated_credential_70025() {
    let emulator = emulator_with(|c| c.apps[0].federated_credentials.clear());
    let outcome = entra_failure(&emulator, Step::new(&emulator), "70025");
    assert!(
        outcome.stdout.contains("no federated identity credential"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn unknown_client_700016_points_at_client_tenant_and_cloud() {
    let emulator = emulator();
    let step = Step::new(&emulator).with("INPUT_CLIENT-ID", "22222222-2222-4222-8222-222222222222");
    let outcome = entra_failure(&emulator, step, "700016");
    assert!(outcome.stdout.contains("client-id"), "{}", outcome.stdout);
}

#[test]
fn unknown_tenant_90002_suggests_the_environment() {
    let emulator = emulator();
    let step = Step::new(&emulator).with("INPUT_TENANT-ID", "33333333-3333-4333-8333-333333333333");
    let outcome = entra_failure(&emulator, step, "90002");
    assert!(outcome.stdout.contains("environment"), "{}", outcome.stdout);
}

#[test]
fn entra_issued_assertion_700222() {
    let emulator = emulator_with(|c| {
        c.extra_claims.insert(
            "iss".to_owned(),
            Value::from("https://sts.windows.net/00000000-0000-4000-8000-0000000000aa/"),
        );
    });
    let outcome = entra_failure(&emulator, Step::new(&emulator), "700222");
    // The hint after the error, not the claims line logged before the exchange.
    let hints = hint_lines(&outcome);
    assert!(
        hints
            .iter()
            .any(|l| l.contains("Entra-issued token") && l.contains("GitHub ID token")),
        "no 700222 hint among {hints:#?}\n{}",
        outcome.stdout
    );
}

#[test]
fn secret_style_client_auth_7000215() {
    let emulator = emulator();
    emulator.script(
        Hop::Entra,
        vec![Fault::entra_error(
            401,
            "invalid_client",
            &[7_000_215],
            "Invalid client secret provided.",
        )],
    );
    let outcome = entra_failure(&emulator, Step::new(&emulator), "7000215");
    let message = outcome.error_lines()[0];
    assert!(
        message.contains("0a0a0a0a-0000-4000-8000-000000000001"),
        "{message}"
    );
    assert!(outcome.stdout.contains("federated credential"));
}

#[test]
fn server_text_cannot_inject_workflow_commands() {
    let emulator = emulator();
    emulator.script(
        Hop::Entra,
        vec![Fault::entra_error(
            400,
            "invalid_request",
            &[900_023],
            "bad\n::set-env name=NODE_OPTIONS::--require=/tmp/x\n::add-mask::oops",
        )],
    );
    let outcome = Step::new(&emulator).run_checked();
    outcome.assert_failed();
    for line in outcome.stdout.lines() {
        let trimmed = line.trim_start();
        assert!(!trimmed.starts_with("::set-env"), "{line}");
        if trimmed.starts_with("::add-mask::") {
            assert_ne!(trimmed, "::add-mask::oops");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Retries, budgets and broken servers: the fault catalogue (tests/faults.rs) owns every network,
// server, disk and clock fault; what stays here are protocol answers that are not faults.

#[test]
fn success_without_access_token_is_an_error() {
    let emulator = emulator();
    emulator.script(
        Hop::Entra,
        vec![Fault::Status {
            status: 200,
            retry_after: None,
            body: r#"{"token_type":"Bearer","expires_in":3599}"#.to_owned(),
            content_type: "application/json".to_owned(),
        }],
    );
    let message = Step::new(&emulator).run_checked().assert_failed();
    assert!(message.contains("without an access_token"), "{message}");
}

#[test]
fn rejected_request_token_is_not_retried() {
    let emulator = emulator();
    let outcome = Step::new(&emulator)
        .with("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "wrong")
        .run_checked();
    let message = outcome.assert_failed();
    assert!(message.contains("HTTP 401"), "{message}");
    assert_eq!(emulator.requests(Hop::GitHub), 1);
}

// ---------------------------------------------------------------------------------------------
// The writer and the runner's parser agree

#[test]
fn file_commands_round_trip_through_the_runners_rules() {
    let values = [
        "plain",
        "",
        "a=b=c",
        "x<<y",
        "<<EOF",
        "ghadelimiter_",
        "ghadelimiter_00000000-0000-4000-8000-000000000000",
        "line one\nline two\n",
        "naïve ✓",
        "=",
    ];
    for value in values {
        let text =
            azure_oidc_token::action::workflow::format_file_command("access-token", value).unwrap();
        let parsed = parse_file_commands(&text).unwrap();
        assert_eq!(
            parsed,
            vec![("access-token".to_owned(), value.to_owned())],
            "{value:?}"
        );
    }
}

#[test]
fn the_binary_prints_version_and_help() {
    let version = std::process::Command::new(support::BIN)
        .arg("--version")
        .env_clear()
        .output()
        .unwrap();
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("azure-oidc-token "));
    let unknown = std::process::Command::new(support::BIN)
        .arg("frobnicate")
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
}

// ---------------------------------------------------------------------------------------------
// Nothing on disk but the runner's files

/// The binary opens for writing, creates, renames or links no file but the runner's three: no temp
/// file, cache or log could hold a token. Traced with strace, so this holds for every path on the
/// machine, not only the step's directory (which `Step::run_checked` scans for secrets).
#[test]
fn writes_no_file_but_the_runners() {
    if std::process::Command::new("strace")
        .arg("-V")
        .output()
        .is_err()
    {
        support::skip(
            "writes_no_file_but_the_runners",
            "strace is not installed (Debian package strace)",
        );
        return;
    }
    let emulator = emulator();
    emulator.script(Hop::Entra, vec![Fault::status(503)]);
    let step = Step::new(&emulator)
        .with("INPUT_EXPORT-ENV", "ARM_ACCESS_TOKEN")
        .with("RUNNER_DEBUG", "1");
    let traces = tempfile::tempdir().unwrap();
    let log = traces.path().join("strace.log");
    let command = step.command_with(&[
        "strace",
        "-f",
        "-qq",
        "-o",
        log.to_str().unwrap(),
        "-e",
        "trace=creat,open,openat,openat2,rename,renameat,renameat2,link,linkat,symlink,symlinkat,\
         mknod,mknodat,truncate,mkdir,mkdirat",
    ]);
    let outcome = step.run_command(command);
    step.check(&outcome);
    outcome.assert_succeeded();

    let allowed: Vec<String> = ["GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY"]
        .iter()
        .map(|var| step.env[*var].clone())
        .collect();
    let trace = std::fs::read_to_string(&log).unwrap();
    let mut written = Vec::new();
    for line in trace.lines() {
        // "<pid> <syscall>(<args>) = <result>"
        // (strace pads the pid, so trim; `<... resumed>` halves repeat nothing the first half lacked,
        // and exit/signal lines are no calls.)
        let call = line
            .split_once(' ')
            .map_or(line, |(_, rest)| rest.trim_start());
        let name = call.split('(').next().unwrap_or_default();
        let writes = match name {
            "open" | "openat" | "openat2" => ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"]
                .iter()
                .any(|flag| call.contains(flag)),
            "creat" | "rename" | "renameat" | "renameat2" | "link" | "linkat" | "symlink"
            | "symlinkat" | "mknod" | "mknodat" | "truncate" | "mkdir" | "mkdirat" => true,
            _ => false,
        };
        if writes {
            let path = call.split('"').nth(1).unwrap_or_default().to_owned();
            assert!(
                allowed.contains(&path),
                "wrote outside the runner's files: {line}"
            );
            written.push(path);
        }
    }
    assert!(
        written.contains(&allowed[0]),
        "the trace saw no write: {trace}"
    );
}

/// A 503 (or 429) whose body holds a legacy `##[stop-commands]` command: the runner's fallback
/// parser finds `##[` anywhere in a line, so an unfenced retry line would stop command processing
/// and the access token's `::add-mask::` would then be logged as plain text.
fn legacy_command_in_a_retry_body(hop: Hop, status: u16, debug: bool) {
    let emulator = emulator();
    let body = "busy ##[stop-commands]pwned ##[set-env name=NODE_OPTIONS;]--require=/tmp/x";
    emulator.script(
        hop,
        vec![Fault::Status {
            status,
            retry_after: None,
            body: body.to_owned(),
            content_type: "text/plain".to_owned(),
        }],
    );
    let mut step = Step::new(&emulator);
    if debug {
        step = step.with("RUNNER_DEBUG", "1");
    }
    let outcome = step.run_checked();
    outcome.assert_succeeded();
    // The retry line is there (so the body was quoted), and the runner reads no command in it.
    let retry = outcome
        .stdout
        .lines()
        .find(|l| l.contains("retrying"))
        .unwrap_or_else(|| panic!("no retry line:\n{}", outcome.stdout));
    assert!(retry.contains("stop-commands"), "{retry}");
    assert_eq!(support::parse_legacy_command(retry), None, "{retry}");
    // What the runner would do with the whole log: every mask registered, no token shown.
    let log = support::RunnerLog::replay(&outcome.stdout, &outcome.stderr);
    let token = outcome.outputs()["access-token"].clone();
    assert!(
        log.masks().contains(&token),
        "the access token mask never took effect"
    );
}

#[test]
fn legacy_command_in_an_entra_503_body_cannot_stop_masking() {
    legacy_command_in_a_retry_body(Hop::Entra, 503, false);
}

#[test]
fn legacy_command_in_an_entra_429_body_cannot_stop_masking_with_debug() {
    legacy_command_in_a_retry_body(Hop::Entra, 429, true);
}

#[test]
fn legacy_command_in_a_github_503_body_cannot_stop_masking() {
    legacy_command_in_a_retry_body(Hop::GitHub, 503, false);
}

#[test]
fn legacy_command_in_a_github_503_body_cannot_stop_masking_with_debug() {
    legacy_command_in_a_retry_body(Hop::GitHub, 503, true);
}

#[test]
fn legacy_command_in_a_final_entra_error_stays_inert() {
    let emulator = emulator();
    emulator.script(
        Hop::Entra,
        vec![Fault::entra_error(
            400,
            "invalid_request",
            &[900_023],
            "AADSTS900023: bad ##[stop-commands]pwned tenant",
        )],
    );
    let outcome = Step::new(&emulator).run_checked();
    outcome.assert_failed();
    let log = support::RunnerLog::replay(&outcome.stdout, &outcome.stderr);
    assert!(!log.stopped(), "{}", outcome.stdout);
}

#[test]
fn a_scope_named_twice_is_requested_once() {
    let emulator = emulator();
    let outcome = Step::new(&emulator)
        .with(
            "INPUT_SCOPES",
            "arm=https://management.azure.com/.default\ngraph=https://graph.microsoft.com\ngraph2=https://graph.microsoft.com/.default",
        )
        .run_checked();
    outcome.assert_succeeded();
    assert_eq!(
        emulator.requests(Hop::Entra),
        2,
        "one request per distinct scope"
    );
    let outputs = outcome.outputs();
    assert_eq!(outputs["arm-access-token"], outputs["access-token"]);
    assert_eq!(
        outputs["graph2-access-token"],
        outputs["graph-access-token"]
    );
    assert_ne!(outputs["graph-access-token"], outputs["access-token"]);
    assert_eq!(outputs["arm-expires-on"], outputs["expires-on"]);
}

#[test]
fn export_env_clashing_with_export_sdk_env_is_refused_before_any_request() {
    let emulator = emulator();
    let outcome = Step::new(&emulator)
        .with("INPUT_EXPORT-ENV", "ARM_CLIENT_ID")
        .with("INPUT_EXPORT-SDK-ENV", "true")
        .run_checked();
    let message = outcome.assert_failed();
    assert!(
        message.contains("export-env")
            && message.contains("ARM_CLIENT_ID")
            && message.contains("export-sdk-env"),
        "{message}"
    );
    assert_eq!(total_requests(&emulator), 0);
}

#[test]
fn a_huge_error_description_is_cut_in_the_log() {
    let emulator = emulator();
    emulator.script(
        Hop::Entra,
        vec![Fault::entra_error(
            400,
            "invalid_request",
            &[90_002],
            &format!("Tenant '{}' not found.", "x".repeat(900_000)),
        )],
    );
    let outcome = Step::new(&emulator).run_checked();
    outcome.assert_failed();
    // Every line but the ID token's mask line: server text is cut to a few hundred characters.
    let longest = outcome
        .stdout
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(longest < 1_000, "a {longest}-character log line");
    assert!(
        outcome
            .stdout
            .contains("0a0a0a0a-0000-4000-8000-000000000001")
    );
}

#[test]
fn the_entra_timeout_hint_names_the_host_with_its_port() {
    let emulator = emulator();
    emulator.script(Hop::Entra, (0..20).map(|_| Fault::Hang).collect());
    let outcome = Step::new(&emulator)
        .with("INPUT_TIMEOUT-SECONDS", "1")
        .run_checked();
    outcome.assert_failed();
    let hint = format!(
        "The Entra hop (127.0.0.1:{}) did not answer within timeout-seconds = 1",
        emulator.port()
    );
    assert!(outcome.stdout.contains(&hint), "{}", outcome.stdout);
}

/// Each of the scope-related codes (invalid scope, no service principal for the resource, …) gets
/// the hint that names the `scope` input, and so does 7000218 the client-secret one.
#[test]
fn scope_codes_point_at_the_scope_input() {
    for (code, hint) in [
        (70_011, "Check the `scope` input"),
        (700_022, "Check the `scope` input"),
        (1_002_012, "Check the `scope` input"),
        (500_011, "Check the `scope` input"),
        (7_000_218, "Entra expected a client secret"),
    ] {
        let emulator = emulator();
        let body = entra_error_body(
            "invalid_request",
            &[code],
            "The provided request is not valid.",
            "0a0a0a0a-0000-4000-8000-000000000001",
            "0b0b0b0b-0000-4000-8000-000000000002",
        );
        emulator.script(
            Hop::Entra,
            vec![Fault::Status {
                status: 400,
                retry_after: None,
                body,
                content_type: "application/json; charset=utf-8".to_owned(),
            }],
        );
        let outcome = entra_failure(&emulator, Step::new(&emulator), &code.to_string());
        // Our hint, after the ::error line (Entra's own text is in the ::error line).
        let after_error = outcome
            .stdout
            .split_once("::error ")
            .map(|(_, rest)| rest.split_once('\n').map_or("", |(_, hints)| hints))
            .unwrap_or_default();
        assert!(
            after_error.contains(hint),
            "AADSTS{code}:\n{}",
            outcome.stdout
        );
    }
}
