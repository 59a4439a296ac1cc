//! Terraform's azurerm/azuread providers ask GitHub for audience `api://AzureADTokenExchange` in every
//! cloud (hashicorp/go-azure-sdk `sdk/auth/github_oidc_authorizer.go`), so in a sovereign cloud
//! `federated-credential` says how to print the credential they need, and prints it on request.

use crate::support;

use std::process::{Command, Output};

use serde_json::Value;
use support::BIN;

fn federated_credential(extra: &[&str]) -> Output {
    Command::new(BIN)
        .args([
            "federated-credential",
            "--repository",
            "octo-org/infra",
            "--branch",
            "main",
        ])
        .args(extra)
        .env_clear()
        .output()
        .unwrap()
}

fn audiences(output: &Output) -> Value {
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    json["audiences"].clone()
}

const NOTE: &str = "note: Terraform's azurerm/azuread providers (export-sdk-env) request audience api://AzureADTokenExchange in every cloud: for them, also create this credential with --audience api://AzureADTokenExchange\n";

#[test]
fn a_sovereign_cloud_credential_comes_with_the_terraform_note() {
    for cloud in ["AzureUSGovernment", "AzureChinaCloud"] {
        let output = federated_credential(&["--environment-cloud", cloud]);
        assert!(output.status.success());
        let expected = if cloud == "AzureUSGovernment" {
            "api://AzureADTokenExchangeUSGov"
        } else {
            "api://AzureADTokenExchangeChina"
        };
        assert_eq!(audiences(&output), serde_json::json!([expected]));
        assert_eq!(String::from_utf8_lossy(&output.stderr), NOTE);
    }
}

#[test]
fn the_terraform_credential_prints_without_a_note() {
    let output = federated_credential(&[
        "--environment-cloud",
        "AzureUSGovernment",
        "--audience",
        "api://AzureADTokenExchange",
    ]);
    assert!(output.status.success());
    assert_eq!(
        audiences(&output),
        serde_json::json!(["api://AzureADTokenExchange"])
    );
    assert_eq!(output.stderr, b"");
}

#[test]
fn the_public_cloud_needs_no_note() {
    let output = federated_credential(&[]);
    assert!(output.status.success());
    assert_eq!(
        audiences(&output),
        serde_json::json!(["api://AzureADTokenExchange"])
    );
    assert_eq!(output.stderr, b"");
}
