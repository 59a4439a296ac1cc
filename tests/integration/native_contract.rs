//! The contract the native action shares with the container action, checked on both side by side:
//! each case runs once as the runner starts the container action (the binary with an `INPUT_*`
//! variable for every input of action.yml) and once through native/action.yml (its step environment
//! evaluated from the YAML, install.sh downloading the real binary from a local release, checking and
//! running it), each against its own emulator.
//!
//! - refusals of bad input, before any request: the same one `::error` line, exit 1, nothing in
//!   `GITHUB_OUTPUT` or `GITHUB_ENV`, no request, no secret in the log;
//! - failures after the exchange started (no `id-token: write`, an Entra error): the same;
//! - every input with a non-default value reaches the binary the same way: the same requests
//!   (audience, scope, tenant, client), outputs and `GITHUB_ENV` entries, and no summary with
//!   `summary: false`.
//!
//! Where they differ by design (`scopes`, refused by the composite) native.rs tests it.

#![cfg(target_os = "linux")]

use std::collections::BTreeMap;

use azure_oidc_emulator::{Config, Emulator, Fault, FileServer, Hop, Serve, sha256_hex};

use crate::native::{
    Composite, RELEASE_PATH, container_step, platform, release, stripped_binary, with,
};
use crate::support::{Outcome, parse_file_commands, total_requests};

/// A release serving the binary under test, and its pins, shared by every case of a test.
struct Release {
    server: FileServer,
    pins: Vec<(String, String)>,
}

impl Release {
    fn new() -> Self {
        let (_, asset, pin_var) = platform();
        let binary = stripped_binary();
        let server = release(asset, Serve::File(binary.clone()));
        let pins = vec![
            (
                "AZURE_OIDC_TOKEN_RELEASE_URL".to_owned(),
                format!("{}{RELEASE_PATH}", server.base_url()),
            ),
            (pin_var, sha256_hex(&binary)),
        ];
        Self { server, pins }
    }
}

/// One run of each action: the outcome and the emulator it ran against.
struct Both {
    container: (Outcome, Emulator),
    native: (Outcome, Emulator),
}

/// Runs `inputs` (a workflow's `with:`, added to the emulator's tenant and app) through both actions.
/// `prepare` scripts each emulator; `without` names runner variables the job lacks.
fn run_both(
    release: &Release,
    inputs: &[(&str, &str)],
    prepare: &dyn Fn(&Emulator),
    without: &[&str],
) -> Both {
    let run = |native: bool| {
        let emulator = Emulator::start(Config::default()).unwrap();
        prepare(&emulator);
        let with = with(&emulator, inputs);
        let outcome = if native {
            let pins: Vec<(&str, String)> = release
                .pins
                .iter()
                .map(|(name, value)| (name.as_str(), value.clone()))
                .collect();
            let mut composite =
                Composite::new(&emulator, &with, &pins, Some(release.server.ca_pem()));
            for name in without {
                composite.step.env.remove(*name);
            }
            composite.run()
        } else {
            let mut step = container_step(&emulator, &with);
            for name in without {
                step.env.remove(*name);
            }
            step.run_checked()
        };
        (outcome, emulator)
    };
    Both {
        container: run(false),
        native: run(true),
    }
}

/// `text` with what differs between two runs by design replaced: the emulator's address and the
/// client-request-id of each request to Entra (random per request).
fn normalised(text: &str, emulator: &Emulator) -> String {
    let mut text = text
        .replace(&emulator.base_url(), "https://<emulator>")
        .replace(&emulator.base_url().replace("https://", ""), "<emulator>");
    for request in emulator.recorded(Hop::Entra) {
        if let Some(id) = request.header("client-request-id") {
            text = text.replace(id, "<client-request-id>");
        }
    }
    text
}

/// Both failed the same way: one `::error` line each (the harness's check: exit 1, the action's
/// title, nothing written to the runner's files), the same text, the same requests. Returns it.
fn assert_same_failure(both: &Both, case: &str) -> String {
    let (container, c_emulator) = &both.container;
    let (native, n_emulator) = &both.native;
    let c_line = normalised(&container.assert_failed(), c_emulator);
    let n_line = normalised(&native.assert_failed(), n_emulator);
    assert_eq!(c_line, n_line, "{case}: the same error from both actions");
    for hop in [Hop::GitHub, Hop::Entra, Hop::Discovery] {
        assert_eq!(
            c_emulator.requests(hop),
            n_emulator.requests(hop),
            "{case}: requests to {hop:?}"
        );
    }
    c_line
}

#[test]
fn both_actions_refuse_bad_input_alike_before_any_request() {
    let release = Release::new();
    let cases: &[(&str, &str, &str)] = &[
        ("client-id", "not-a-guid", "client-id"),
        ("tenant-id", "contoso..com", "tenant-id"),
        ("subscription-id", "123", "subscription-id"),
        ("environment", "AzureMoon", "environment"),
        (
            "authority-host",
            "http://login.microsoftonline.com",
            "authority-host",
        ),
        ("export-env", "GITHUB_TOKEN", "export-env"),
        ("timeout-seconds", "0", "timeout-seconds"),
        ("summary", "maybe", "summary"),
        ("export-sdk-env", "yes please", "export-sdk-env"),
        ("explain", "perhaps", "explain"),
    ];
    for (input, value, named) in cases {
        let case = format!("{input}: {value}");
        let both = run_both(&release, &[(input, value)], &|_| {}, &[]);
        let line = assert_same_failure(&both, &case);
        assert!(line.contains(named), "{case}: {line}");
        assert_eq!(total_requests(&both.native.1), 0, "{case}: {line}");
    }
}

#[test]
fn both_actions_fail_alike_without_id_token_permission_and_on_an_entra_error() {
    let release = Release::new();
    let both = run_both(
        &release,
        &[],
        &|_| {},
        &[
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        ],
    );
    let line = assert_same_failure(&both, "no id-token permission");
    assert!(line.contains("id-token: write"), "{line}");

    let entra_error = |emulator: &Emulator| {
        emulator.script(
            Hop::Entra,
            vec![Fault::entra_error(
                400,
                "invalid_request",
                &[700_213],
                "AADSTS700213: No matching federated identity record found for presented assertion subject.",
            )],
        );
    };
    let both = run_both(
        &release,
        &[("export-env", "AZURE_TOKEN")],
        &entra_error,
        &[],
    );
    let line = assert_same_failure(&both, "AADSTS700213");
    assert!(line.contains("AADSTS700213"), "{line}");
    assert_eq!(both.native.1.requests(Hop::Entra), 1);
}

#[test]
fn every_input_reaches_the_binary_the_same_way_through_both_actions() {
    let release = Release::new();
    let inputs = [
        ("subscription-id", "33333333-4444-4555-8666-777777777777"),
        ("environment", "AzureUSGovernment"),
        ("audience", "api://AzureADTokenExchange"),
        ("scope", "https://vault.azure.net"),
        ("export-env", "AZURE_TOKEN"),
        ("timeout-seconds", "45"),
        ("summary", "false"),
        ("export-sdk-env", "true"),
    ];
    let both = run_both(&release, &inputs, &|_| {}, &[]);
    let (container, c_emulator) = &both.container;
    let (native, n_emulator) = &both.native;
    container.assert_succeeded();
    native.assert_succeeded();
    assert_eq!(container.summary, "", "summary: false");
    assert_eq!(native.summary, "", "summary: false");

    // The same requests: the GitHub token's audience, and Entra's form without its assertion.
    let github = |e: &Emulator| e.recorded(Hop::GitHub)[0].query.clone().unwrap();
    assert_eq!(github(c_emulator), github(n_emulator));
    assert!(
        github(n_emulator).contains("audience=api%3A%2F%2FAzureADTokenExchange"),
        "{}",
        github(n_emulator)
    );
    let entra = |e: &Emulator| {
        let request = &e.recorded(Hop::Entra)[0];
        let fields: BTreeMap<&str, Option<String>> =
            ["grant_type", "scope", "client_assertion_type"]
                .into_iter()
                .map(|f| (f, request.form_field(f)))
                .collect();
        (
            normalised(&request.path, e).replace(&e.tenant_id(), "<tenant>"),
            fields,
        )
    };
    assert_eq!(entra(c_emulator), entra(n_emulator));
    assert_eq!(
        entra(n_emulator).1["scope"].as_deref(),
        Some("https://vault.azure.net/.default")
    );

    // The same outputs and GITHUB_ENV entries, but for each run's own token, expiry and address.
    let outputs = |outcome: &Outcome, e: &Emulator| -> BTreeMap<String, String> {
        outcome
            .outputs()
            .into_iter()
            .filter(|(name, _)| {
                !["access-token", "expires-on", "expires-at"].contains(&name.as_str())
            })
            .map(|(name, value)| {
                (
                    name,
                    normalised(&value, e)
                        .replace(&e.tenant_id(), "<tenant>")
                        .replace(&e.client_id(), "<client>"),
                )
            })
            .collect()
    };
    assert_eq!(outputs(container, c_emulator), outputs(native, n_emulator));
    let env = |outcome: &Outcome, e: &Emulator| -> BTreeMap<String, String> {
        let token = &e.issued_access_tokens()[0];
        parse_file_commands(&outcome.env_file)
            .unwrap()
            .into_iter()
            .map(|(name, value)| {
                let value = if &value == token {
                    "<token>".to_owned()
                } else {
                    value
                };
                (
                    name,
                    normalised(&value, e)
                        .replace(&e.tenant_id(), "<tenant>")
                        .replace(&e.client_id(), "<client>"),
                )
            })
            .collect()
    };
    let native_env = env(native, n_emulator);
    assert_eq!(env(container, c_emulator), native_env);
    assert_eq!(native_env["AZURE_TOKEN"], "<token>");
    assert_eq!(native_env["ARM_ENVIRONMENT"], "usgovernment");
}
