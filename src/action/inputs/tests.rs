//! Unit tests of `inputs`.
use std::collections::HashMap;

use super::*;
use std::time::Duration;

use crate::exchange::cloud::Cloud;
use crate::exchange::settings::parse_authority_host;

const CLIENT: &str = "11111111-2222-4333-8444-555555555555";
const TENANT: &str = "00000000-0000-4000-8000-0000000000aa";

fn env(pairs: &[(&str, &str)]) -> Result<ActionConfig, ConfigError> {
    let mut map: HashMap<String, String> = [
        ("INPUT_CLIENT-ID", CLIENT),
        ("INPUT_TENANT-ID", TENANT),
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "https://example.test/idtoken?api-version=2.0",
        ),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token"),
        ("GITHUB_OUTPUT", "/tmp/out"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in pairs {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    ActionConfig::from_lookup(&|name| map.get(name).cloned())
}

fn invalid_input(result: Result<ActionConfig, ConfigError>) -> &'static str {
    match result {
        Err(ConfigError::Invalid { input, .. } | ConfigError::Missing { input, .. }) => input,
        other => panic!("expected an input error, got {other:?}"),
    }
}

#[test]
fn public_cloud_defaults() {
    let config = env(&[]).expect("valid");
    assert_eq!(config.exchange.cloud, Cloud::AzureCloud);
    assert_eq!(
        config.exchange.source.audience,
        "api://AzureADTokenExchange"
    );
    assert_eq!(
        config.exchange.scope,
        "https://management.azure.com/.default"
    );
    assert_eq!(
        config.exchange.authority_host.as_str(),
        "https://login.microsoftonline.com/"
    );
    assert_eq!(config.exchange.source.timeout, Duration::from_secs(60));
    assert!(config.summary);
}

#[test]
fn sovereign_clouds_derive_every_default() {
    let config = env(&[("INPUT_ENVIRONMENT", "azureusgovernment")]).expect("valid");
    assert_eq!(
        config.exchange.source.audience,
        "api://AzureADTokenExchangeUSGov"
    );
    assert_eq!(
        config.exchange.scope,
        "https://management.usgovcloudapi.net/.default"
    );
    assert_eq!(
        config.exchange.authority_host.host_str(),
        Some("login.microsoftonline.us")
    );
    let config = env(&[("INPUT_ENVIRONMENT", "AzureChinaCloud")]).expect("valid");
    assert_eq!(
        config.exchange.source.audience,
        "api://AzureADTokenExchangeChina"
    );
    assert_eq!(
        config.exchange.authority_host.host_str(),
        Some("login.chinacloudapi.cn")
    );
}

#[test]
fn falls_back_to_azure_variables_and_treats_blank_as_unset() {
    let config = env(&[
        ("INPUT_CLIENT-ID", "  "),
        ("AZURE_CLIENT_ID", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
        (
            "AZURE_SUBSCRIPTION_ID",
            "aaaaaaaa-bbbb-cccc-dddd-000000000000",
        ),
    ])
    .expect("valid");
    assert_eq!(
        config.exchange.client_id,
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    );
    assert_eq!(
        config.subscription_id.as_deref(),
        Some("aaaaaaaa-bbbb-cccc-dddd-000000000000")
    );
}

#[test]
fn rejects_bad_inputs_naming_them() {
    assert_eq!(invalid_input(env(&[("INPUT_CLIENT-ID", "")])), "client-id");
    assert_eq!(
        invalid_input(env(&[("INPUT_CLIENT-ID", "my-app")])),
        "client-id"
    );
    assert_eq!(
        invalid_input(env(&[("INPUT_TENANT-ID", "contoso..com")])),
        "tenant-id"
    );
    assert_eq!(
        invalid_input(env(&[("INPUT_TENANT-ID", "${{ secrets.X }}")])),
        "tenant-id"
    );
    assert_eq!(
        invalid_input(env(&[("INPUT_TENANT-ID", &"a".repeat(129))])),
        "tenant-id"
    );
    assert_eq!(
        invalid_input(env(&[("INPUT_SUBSCRIPTION-ID", "nope")])),
        "subscription-id"
    );
    assert_eq!(
        invalid_input(env(&[("INPUT_ENVIRONMENT", "AzureGermany")])),
        "environment"
    );
    assert_eq!(invalid_input(env(&[("INPUT_SCOPE", "a b")])), "scope");
    assert_eq!(
        invalid_input(env(&[("INPUT_AUDIENCE", "a\nb")])),
        "audience"
    );
    assert_eq!(
        invalid_input(env(&[("INPUT_TIMEOUT-SECONDS", "0")])),
        "timeout-seconds"
    );
    assert_eq!(
        invalid_input(env(&[("INPUT_TIMEOUT-SECONDS", "601")])),
        "timeout-seconds"
    );
    assert_eq!(invalid_input(env(&[("INPUT_SUMMARY", "yes")])), "summary");
    assert_eq!(
        invalid_input(env(&[("INPUT_EXPORT-ENV", "1ABC")])),
        "export-env"
    );
    assert_eq!(
        invalid_input(env(&[("INPUT_EXPORT-ENV", "node_options")])),
        "export-env"
    );
    assert_eq!(
        invalid_input(env(&[("INPUT_EXPORT-ENV", "GITHUB_TOKEN")])),
        "export-env"
    );
    assert_eq!(
        invalid_input(env(&[("INPUT_EXPORT-ENV", "Runner_X")])),
        "export-env"
    );
}

#[test]
fn authority_host_is_https_host_only() {
    assert!(parse_authority_host("https://login.example.com").is_ok());
    assert!(parse_authority_host("https://login.example.com/").is_ok());
    assert!(parse_authority_host("https://127.0.0.1:8443").is_ok());
    for bad in [
        "http://login.example.com",
        "login.example.com",
        "https://login.example.com//",
        "https://login.example.com/tenant",
        "https://login.example.com?x=1",
        "https://user@login.example.com",
        "https://",
        "ftp://x",
    ] {
        assert!(parse_authority_host(bad).is_err(), "{bad}");
    }
}

#[test]
fn bare_resource_scope_gets_default_suffix() {
    assert_eq!(
        parse_scope("https://vault.azure.net").expect("ok"),
        "https://vault.azure.net/.default"
    );
    assert_eq!(
        parse_scope("https://management.core.windows.net/").expect("ok"),
        "https://management.core.windows.net//.default"
    );
    assert_eq!(
        parse_scope("api://x/.default").expect("ok"),
        "api://x/.default"
    );
}

#[test]
fn tenant_accepts_guid_and_domain() {
    assert!(env(&[("INPUT_TENANT-ID", "contoso.onmicrosoft.com")]).is_ok());
    assert!(env(&[("INPUT_TENANT-ID", "A-1.z")]).is_ok());
    assert!(env(&[("INPUT_TENANT-ID", ".contoso")]).is_err());
}

#[test]
fn missing_request_variables_name_the_permission() {
    let result = env(&[
        ("ACTIONS_ID_TOKEN_REQUEST_URL", ""),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", ""),
    ]);
    assert!(matches!(
        result,
        Err(ConfigError::NoIdTokenPermission { .. })
    ));
    let message = result.expect_err("error").to_string();
    assert!(message.contains("id-token: write"), "{message}");
}

#[test]
fn request_url_must_be_https() {
    let result = env(&[(
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "http://example.test/idtoken",
    )]);
    assert!(matches!(
        result,
        Err(ConfigError::Runner {
            variable: "ACTIONS_ID_TOKEN_REQUEST_URL",
            ..
        })
    ));
}

#[test]
fn exports_need_github_env_each_on_its_own() {
    let runner_variable = |result: Result<ActionConfig, ConfigError>| match result {
        Err(ConfigError::Runner { variable, .. }) => Some(variable),
        Ok(_) => None,
        Err(other) => panic!("unexpected {other:?}"),
    };
    assert_eq!(
        runner_variable(env(&[("INPUT_EXPORT-ENV", "AZURE_ACCESS_TOKEN")])),
        Some("GITHUB_ENV")
    );
    assert_eq!(
        runner_variable(env(&[("INPUT_EXPORT-SDK-ENV", "true")])),
        Some("GITHUB_ENV")
    );
    assert_eq!(runner_variable(env(&[])), None);
    assert_eq!(
        runner_variable(env(&[
            ("INPUT_EXPORT-SDK-ENV", "true"),
            ("GITHUB_ENV", "/tmp/env")
        ])),
        None
    );
}

#[test]
fn an_sdk_variable_name_clashes_only_with_export_sdk_env() {
    let with_env = |pairs: &[(&str, &str)]| {
        let mut all = vec![("GITHUB_ENV", "/tmp/env")];
        all.extend_from_slice(pairs);
        env(&all)
    };
    assert!(with_env(&[("INPUT_EXPORT-ENV", "ARM_CLIENT_ID")]).is_ok());
    assert!(
        with_env(&[
            ("INPUT_EXPORT-ENV", "AZURE_ACCESS_TOKEN"),
            ("INPUT_EXPORT-SDK-ENV", "true")
        ])
        .is_ok()
    );
    assert_eq!(
        invalid_input(with_env(&[
            ("INPUT_EXPORT-ENV", "ARM_CLIENT_ID"),
            ("INPUT_EXPORT-SDK-ENV", "true")
        ])),
        "export-env"
    );
}

#[test]
fn scope_names_take_letters_digits_dash_and_underscore() {
    let names = |text: &str| {
        parse_scopes(text).map(|scopes| scopes.into_iter().map(|s| s.name).collect::<Vec<_>>())
    };
    assert_eq!(
        names("key-vault=https://vault.azure.net\n_graph_2=https://graph.microsoft.com")
            .expect("valid names"),
        vec!["key-vault".to_owned(), "_graph_2".to_owned()]
    );
    for bad in [
        "a.b=https://x",
        "a b=https://x",
        "-a=https://x",
        "9a=https://x",
        "a/b=https://x",
    ] {
        assert!(names(bad).is_err(), "{bad}");
    }
}
