//! Inputs → a validated [`Config`], read once, before any network call.
//!
//! The runner passes each input as `INPUT_<NAME>` (upper-cased, hyphens kept), defaults included; an
//! empty value means unset, and some inputs fall back to the `AZURE_*` variables the Azure SDKs use.
//! The environment is read through a lookup function so tests never mutate the process environment.
//! Contract: `DESIGN.md` § Inputs; runner facts: `reference/github-actions.md` §3.4.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use crate::secret::Secret;

/// A Microsoft cloud, as `azure/login` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cloud {
    /// The public cloud.
    AzureCloud,
    /// Azure Government (Fairfax).
    AzureUSGovernment,
    /// Azure operated by 21Vianet (Mooncake).
    AzureChinaCloud,
}

impl Cloud {
    /// Parses the `environment` input, case-insensitively.
    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::AzureCloud,
            Self::AzureUSGovernment,
            Self::AzureChinaCloud,
        ]
        .into_iter()
        .find(|cloud| cloud.name().eq_ignore_ascii_case(value))
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Self::AzureCloud => "AzureCloud",
            Self::AzureUSGovernment => "AzureUSGovernment",
            Self::AzureChinaCloud => "AzureChinaCloud",
        }
    }

    /// Entra's authority host for this cloud.
    pub fn authority_host(self) -> &'static str {
        match self {
            Self::AzureCloud => "https://login.microsoftonline.com",
            Self::AzureUSGovernment => "https://login.microsoftonline.us",
            Self::AzureChinaCloud => "https://login.chinacloudapi.cn",
        }
    }

    /// The Azure Resource Manager scope for this cloud.
    pub fn arm_scope(self) -> &'static str {
        match self {
            Self::AzureCloud => "https://management.azure.com/.default",
            Self::AzureUSGovernment => "https://management.usgovcloudapi.net/.default",
            Self::AzureChinaCloud => "https://management.chinacloudapi.cn/.default",
        }
    }

    /// The audience a federated identity credential in this cloud expects.
    pub fn audience(self) -> &'static str {
        match self {
            Self::AzureCloud => "api://AzureADTokenExchange",
            Self::AzureUSGovernment => "api://AzureADTokenExchangeUSGov",
            Self::AzureChinaCloud => "api://AzureADTokenExchangeChina",
        }
    }
}

/// Where the runner lets this step fetch its ID token (`permissions: id-token: write`).
#[derive(Debug)]
pub struct IdTokenRequest {
    /// `ACTIONS_ID_TOKEN_REQUEST_URL`, parsed.
    pub url: Url,
    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub token: Secret,
}

/// The runner's file-command files.
#[derive(Debug)]
pub struct Files {
    /// `GITHUB_OUTPUT`.
    pub output: PathBuf,
    /// `GITHUB_ENV`, needed only with `export-env`.
    pub env: Option<PathBuf>,
    /// `GITHUB_STEP_SUMMARY`, written only when `summary` is true.
    pub step_summary: Option<PathBuf>,
}

/// Everything one run needs, validated.
#[derive(Debug)]
pub struct Config {
    /// Application (client) ID of the app registration or user-assigned managed identity.
    pub client_id: String,
    /// Tenant GUID or domain name.
    pub tenant_id: String,
    /// Subscription GUID, echoed to outputs only.
    pub subscription_id: Option<String>,
    /// The cloud that supplied the defaults below.
    pub cloud: Cloud,
    /// Audience of the GitHub ID token.
    pub audience: String,
    /// The one resource scope requested from Entra.
    pub scope: String,
    /// Entra's authority, `https://host[:port]`, no trailing slash.
    pub authority_host: Url,
    /// Environment variable that later steps get the token in.
    pub export_env: Option<String>,
    /// Budget for the whole run, retries included.
    pub timeout: Duration,
    /// Whether to write the audit summary.
    pub summary: bool,
    /// Whether `RUNNER_DEBUG=1`.
    pub debug: bool,
    /// The ID token endpoint.
    pub id_token_request: IdTokenRequest,
    /// Where outputs go.
    pub files: Files,
}

/// An input or environment variable that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// Set the input or its fallback variable.
    #[error(
        "input `{input}` is required: set `with: {input}:` on the step or the {fallback} variable"
    )]
    Missing {
        /// Input name.
        input: &'static str,
        /// Fallback environment variable.
        fallback: &'static str,
    },
    /// Fix the value as the message says.
    #[error("input `{input}` {problem}")]
    Invalid {
        /// Input name (or the variable that supplied it).
        input: &'static str,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// Add `permissions: id-token: write` to the job (fork pull requests never get it).
    #[error(
        "{missing} not set, so this job cannot request a GitHub OIDC token: add `permissions: id-token: write` to the job or workflow (pull requests from forks never get it)"
    )]
    NoIdTokenPermission {
        /// Which variables are missing.
        missing: &'static str,
    },
    /// The runner set a value this action cannot use; report it.
    #[error("{variable} {problem}")]
    Runner {
        /// The variable.
        variable: &'static str,
        /// What is wrong.
        problem: String,
    },
}

impl Config {
    /// Reads and validates every input and runner variable through `lookup` (an environment).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let input = |name: &str| get(&format!("INPUT_{}", name.to_uppercase().replace(' ', "_")));

        let client_id = input("client-id")
            .or_else(|| get("AZURE_CLIENT_ID"))
            .ok_or(ConfigError::Missing {
                input: "client-id",
                fallback: "AZURE_CLIENT_ID",
            })?;
        check_guid(
            "client-id",
            &client_id,
            "the Application (client) ID of the app registration or user-assigned managed identity",
        )?;

        let tenant_id = input("tenant-id")
            .or_else(|| get("AZURE_TENANT_ID"))
            .ok_or(ConfigError::Missing {
                input: "tenant-id",
                fallback: "AZURE_TENANT_ID",
            })?;
        check_tenant(&tenant_id)?;

        let subscription_id = input("subscription-id").or_else(|| get("AZURE_SUBSCRIPTION_ID"));
        if let Some(subscription) = &subscription_id {
            check_guid("subscription-id", subscription, "a subscription ID")?;
        }

        let cloud = match input("environment") {
            None => Cloud::AzureCloud,
            Some(name) => Cloud::parse(&name).ok_or_else(|| ConfigError::Invalid {
                input: "environment",
                problem: format!(
                    "is {}; use AzureCloud, AzureUSGovernment or AzureChinaCloud",
                    quote(&name)
                ),
            })?,
        };

        let audience = match input("audience") {
            None => cloud.audience().to_owned(),
            Some(audience) => {
                check_token_chars(
                    "audience",
                    &audience,
                    "one audience, as in the federated credential's `audiences`",
                )?;
                audience
            }
        };

        let scope = match input("scope") {
            None => cloud.arm_scope().to_owned(),
            Some(scope) => parse_scope(&scope)?,
        };

        let authority_host = match input("authority-host").or_else(|| get("AZURE_AUTHORITY_HOST")) {
            None => parse_authority_host(cloud.authority_host())?,
            Some(host) => parse_authority_host(&host)?,
        };

        let export_env = input("export-env")
            .map(|name| check_env_name(&name).map(|()| name))
            .transpose()?;

        let timeout = match input("timeout-seconds") {
            None => Duration::from_secs(60),
            Some(value) => match value.parse::<u64>() {
                Ok(seconds @ 1..=600) => Duration::from_secs(seconds),
                _ => {
                    return Err(ConfigError::Invalid {
                        input: "timeout-seconds",
                        problem: format!(
                            "is {}; use a whole number of seconds from 1 to 600",
                            quote(&value)
                        ),
                    });
                }
            },
        };

        let summary = match input("summary") {
            None => true,
            Some(value) => parse_bool("summary", &value)?,
        };

        let debug = get("RUNNER_DEBUG").as_deref() == Some("1");

        let id_token_request = match (
            get("ACTIONS_ID_TOKEN_REQUEST_URL"),
            get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        ) {
            (Some(url), Some(token)) => IdTokenRequest {
                url: parse_request_url(&url)?,
                token: Secret::new(token),
            },
            (None, None) => {
                return Err(ConfigError::NoIdTokenPermission {
                    missing: "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are",
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::NoIdTokenPermission {
                    missing: "ACTIONS_ID_TOKEN_REQUEST_URL is",
                });
            }
            (Some(_), None) => {
                return Err(ConfigError::NoIdTokenPermission {
                    missing: "ACTIONS_ID_TOKEN_REQUEST_TOKEN is",
                });
            }
        };

        let output = get("GITHUB_OUTPUT").map(PathBuf::from).ok_or(ConfigError::Runner {
            variable: "GITHUB_OUTPUT",
            problem: "is not set: run this as a GitHub Actions step (outside Actions, use `azure-oidc-token token`)".to_owned(),
        })?;
        let env = get("GITHUB_ENV").map(PathBuf::from);
        if export_env.is_some() && env.is_none() {
            return Err(ConfigError::Runner {
                variable: "GITHUB_ENV",
                problem: "is not set, so `export-env` cannot export the token: run this as a GitHub Actions step".to_owned(),
            });
        }
        let step_summary = get("GITHUB_STEP_SUMMARY").map(PathBuf::from);

        Ok(Self {
            client_id,
            tenant_id,
            subscription_id,
            cloud,
            audience,
            scope,
            authority_host,
            export_env,
            timeout,
            summary,
            debug,
            id_token_request,
            files: Files {
                output,
                env,
                step_summary,
            },
        })
    }
}

/// Quotes a user-supplied value for an error message, escaping anything unprintable.
pub fn quote(value: &str) -> String {
    const MAX: usize = 80;
    let shown: String = value.chars().take(MAX).collect();
    let ellipsis = if value.chars().count() > MAX {
        "…"
    } else {
        ""
    };
    format!("'{}{ellipsis}'", shown.escape_debug())
}

/// Whether `value` is a GUID in its 8-4-4-4-12 hexadecimal form.
pub fn is_guid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn check_guid(input: &'static str, value: &str, what: &str) -> Result<(), ConfigError> {
    if is_guid(value) {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            input,
            problem: format!(
                "is {}, not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx): use {what}",
                quote(value)
            ),
        })
    }
}

/// Whether `value` is a DNS domain name: labels of `[A-Za-z0-9-]` joined by single dots, ≤ 128 chars.
pub fn is_domain_name(value: &str) -> bool {
    value.len() <= 128
        && value.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn check_tenant(value: &str) -> Result<(), ConfigError> {
    if is_guid(value) || is_domain_name(value) {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            input: "tenant-id",
            problem: format!(
                "is {}: use the Directory (tenant) ID GUID or a domain such as contoso.onmicrosoft.com (at most 128 characters)",
                quote(value)
            ),
        })
    }
}

fn check_token_chars(input: &'static str, value: &str, what: &str) -> Result<(), ConfigError> {
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err(ConfigError::Invalid {
            input,
            problem: format!(
                "is {}: it must be {what}, with no spaces or line breaks",
                quote(value)
            ),
        })
    } else {
        Ok(())
    }
}

/// Validates the `scope` input and appends `/.default` to a bare resource URI.
pub fn parse_scope(value: &str) -> Result<String, ConfigError> {
    check_token_chars(
        "scope",
        value,
        "one resource scope such as https://vault.azure.net/.default (use `scopes` for several)",
    )?;
    if value.ends_with("/.default") {
        Ok(value.to_owned())
    } else {
        Ok(format!("{value}/.default"))
    }
}

/// Validates an authority host: `https://` only, no path, query or credentials; one trailing `/` tolerated.
pub fn parse_authority_host(value: &str) -> Result<Url, ConfigError> {
    let invalid = |problem: &str| ConfigError::Invalid {
        input: "authority-host",
        problem: format!("is {}: {problem}", quote(value)),
    };
    let rest = match value.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => rest,
        Some(_) => {
            return Err(invalid(
                "only https:// authority hosts are allowed, e.g. https://login.microsoftonline.com",
            ));
        }
        None => {
            return Err(invalid(
                "use a full https:// URL, e.g. https://login.microsoftonline.com",
            ));
        }
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty()
        || authority.contains(['/', '?', '#', '@'])
        || authority.contains(char::is_whitespace)
    {
        return Err(invalid(
            "give the host only (https://host[:port]), with no path, query or credentials",
        ));
    }
    let url = Url::parse(&format!("https://{authority}"))
        .map_err(|e| invalid(&format!("not a valid URL ({e})")))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host name"));
    }
    Ok(url)
}

fn parse_request_url(value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| ConfigError::Runner {
        variable: "ACTIONS_ID_TOKEN_REQUEST_URL",
        problem: format!(
            "is not a valid URL ({e}); the runner sets it, so check for a step overriding it"
        ),
    })?;
    if url.scheme() != "https" {
        return Err(ConfigError::Runner {
            variable: "ACTIONS_ID_TOKEN_REQUEST_URL",
            problem: format!(
                "uses {}://; only https:// is accepted for the ID token request",
                url.scheme()
            ),
        });
    }
    Ok(url)
}

/// Checks an `export-env` name: `[A-Za-z_][A-Za-z0-9_]*`, not `NODE_OPTIONS`, not `GITHUB_*`/`RUNNER_*`.
pub fn check_env_name(name: &str) -> Result<(), ConfigError> {
    let invalid = |problem: &str| ConfigError::Invalid {
        input: "export-env",
        problem: format!("is {}: {problem}", quote(name)),
    };
    let mut bytes = name.bytes();
    let valid_shape = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid_shape {
        return Err(invalid(
            "use a variable name of letters, digits and underscores, not starting with a digit, e.g. AZURE_ACCESS_TOKEN",
        ));
    }
    let upper = name.to_ascii_uppercase();
    if upper == "NODE_OPTIONS" {
        return Err(invalid(
            "the runner refuses to set NODE_OPTIONS through GITHUB_ENV; pick another name",
        ));
    }
    if upper.starts_with("GITHUB_") || upper.starts_with("RUNNER_") {
        return Err(invalid(
            "GITHUB_* and RUNNER_* variables cannot be overwritten by a step; pick another name",
        ));
    }
    Ok(())
}

fn parse_bool(input: &'static str, value: &str) -> Result<bool, ConfigError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ConfigError::Invalid {
            input,
            problem: format!("is {}; use true or false", quote(value)),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const CLIENT: &str = "11111111-2222-4333-8444-555555555555";
    const TENANT: &str = "00000000-0000-4000-8000-0000000000aa";

    fn env(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
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
        Config::from_lookup(&|name| map.get(name).cloned())
    }

    fn invalid_input(result: Result<Config, ConfigError>) -> &'static str {
        match result {
            Err(ConfigError::Invalid { input, .. } | ConfigError::Missing { input, .. }) => input,
            other => panic!("expected an input error, got {other:?}"),
        }
    }

    #[test]
    fn public_cloud_defaults() {
        let config = env(&[]).expect("valid");
        assert_eq!(config.cloud, Cloud::AzureCloud);
        assert_eq!(config.audience, "api://AzureADTokenExchange");
        assert_eq!(config.scope, "https://management.azure.com/.default");
        assert_eq!(
            config.authority_host.as_str(),
            "https://login.microsoftonline.com/"
        );
        assert_eq!(config.timeout, Duration::from_secs(60));
        assert!(config.summary);
    }

    #[test]
    fn sovereign_clouds_derive_every_default() {
        let config = env(&[("INPUT_ENVIRONMENT", "azureusgovernment")]).expect("valid");
        assert_eq!(config.audience, "api://AzureADTokenExchangeUSGov");
        assert_eq!(
            config.scope,
            "https://management.usgovcloudapi.net/.default"
        );
        assert_eq!(
            config.authority_host.host_str(),
            Some("login.microsoftonline.us")
        );
        let config = env(&[("INPUT_ENVIRONMENT", "AzureChinaCloud")]).expect("valid");
        assert_eq!(config.audience, "api://AzureADTokenExchangeChina");
        assert_eq!(
            config.authority_host.host_str(),
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
        assert_eq!(config.client_id, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
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
}
