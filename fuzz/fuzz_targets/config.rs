//! The whole input set: any environment gives a validated config or an error naming the problem,
//! never a panic. Values are either arbitrary text or picked from samples, so valid configs are
//! reached too.
#![no_main]

use std::collections::HashMap;

use azure_oidc_token::action::inputs::ActionConfig;
use azure_oidc_token::exchange::settings::{is_domain_name, is_guid};
use libfuzzer_sys::fuzz_target;

const KEYS: &[(&str, &[&str])] = &[
    ("INPUT_CLIENT-ID", &["11111111-2222-4333-8444-555555555555"]),
    ("INPUT_TENANT-ID", &["00000000-0000-4000-8000-0000000000aa", "contoso.onmicrosoft.com"]),
    ("AZURE_CLIENT_ID", &["aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"]),
    ("AZURE_TENANT_ID", &["contoso.onmicrosoft.com"]),
    ("INPUT_SUBSCRIPTION-ID", &["aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"]),
    ("AZURE_SUBSCRIPTION_ID", &["aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"]),
    ("INPUT_ENVIRONMENT", &["AzureCloud", "azureusgovernment", "AzureChinaCloud"]),
    ("INPUT_AUDIENCE", &["api://custom"]),
    ("INPUT_SCOPE", &["https://vault.azure.net"]),
    ("INPUT_SCOPES", &["graph=https://graph.microsoft.com\n# c\nvault=https://vault.azure.net"]),
    ("INPUT_AUTHORITY-HOST", &["https://127.0.0.1:8443", "https://login.microsoftonline.us/"]),
    ("AZURE_AUTHORITY_HOST", &["https://login.chinacloudapi.cn"]),
    ("INPUT_EXPORT-ENV", &["ARM_ACCESS_TOKEN"]),
    ("INPUT_EXPORT-SDK-ENV", &["true", "false"]),
    ("INPUT_EXPLAIN", &["false", "true"]),
    ("INPUT_TIMEOUT-SECONDS", &["60", "1", "600"]),
    ("INPUT_SUMMARY", &["true", "FALSE"]),
    ("ACTIONS_ID_TOKEN_REQUEST_URL", &["https://127.0.0.1:1/idtoken?api-version=2.0"]),
    ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", &["request-token"]),
    ("AZURE_FEDERATED_TOKEN_FILE", &["/nonexistent/token"]),
    ("GITHUB_OUTPUT", &["/tmp/out"]),
    ("GITHUB_ENV", &["/tmp/env"]),
    ("GITHUB_STEP_SUMMARY", &["/tmp/summary"]),
    ("RUNNER_DEBUG", &["1"]),
];

fuzz_target!(|entries: Vec<(u8, u8, String)>| {
    let env: HashMap<&str, String> = entries
        .into_iter()
        .map(|(key, pick, text)| {
            let (name, samples) = KEYS[usize::from(key) % KEYS.len()];
            let value = match samples.get(usize::from(pick)) {
                Some(sample) => (*sample).to_owned(),
                None => text,
            };
            (name, value)
        })
        .collect();
    let lookup = |name: &str| env.get(name).cloned();
    match ActionConfig::from_lookup(&lookup) {
        Ok(config) => {
            let exchange = &config.exchange;
            assert!(is_guid(&exchange.client_id));
            assert!(is_guid(&exchange.tenant_id) || is_domain_name(&exchange.tenant_id));
            assert!((1..=600).contains(&exchange.source.timeout.as_secs()));
            assert_eq!(exchange.authority_host.scheme(), "https");
        }
        Err(error) => {
            // The message names the input or variable it is about, not just anything.
            let message = error.to_string();
            let names = KEYS.iter().any(|(key, _)| {
                message.contains(key)
                    || key.strip_prefix("INPUT_").is_some_and(|input| {
                        message.contains(&format!("`{}`", input.to_ascii_lowercase()))
                    })
            });
            assert!(names, "names no input: {message}");
        }
    }
});
