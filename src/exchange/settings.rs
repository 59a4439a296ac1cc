//! The exchange's settings: inputs (from `with:` or from flags) into a validated [`ExchangeConfig`],
//! before any network call. Both modes share these rules; each builds its inputs its own way.

use std::time::Duration;

use reqwest::Url;

use super::SourceConfig;
use super::cloud::Cloud;
use super::events::parse_allow_events;
pub use super::invalid::{ConfigError, quote};
use super::network::Network;
use super::source::IdTokenSource;

/// The exchange's inputs as given (each `None` when unset), before validation.
#[derive(Debug, Default)]
pub struct ExchangeInputs {
    /// `client-id` (falls back to `AZURE_CLIENT_ID`).
    pub client_id: Option<String>,
    /// `tenant-id` (falls back to `AZURE_TENANT_ID`).
    pub tenant_id: Option<String>,
    /// `environment`.
    pub environment: Option<String>,
    /// `audience`.
    pub audience: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `authority-host` (falls back to `AZURE_AUTHORITY_HOST`).
    pub authority_host: Option<String>,
    /// `timeout-seconds`.
    pub timeout_seconds: Option<u64>,
    /// `allow-events`: risky events allowed by name (comma- or newline-separated).
    pub allow_events: Option<String>,
}

/// Everything one exchange needs, validated.
#[derive(Debug)]
pub struct ExchangeConfig {
    /// Application (client) ID of the app registration or user-assigned managed identity.
    pub client_id: String,
    /// Tenant GUID or domain name.
    pub tenant_id: String,
    /// The cloud that supplied the defaults below.
    pub cloud: Cloud,
    /// The one resource scope requested from Entra.
    pub scope: String,
    /// Entra's authority, `https://host[:port]`.
    pub authority_host: Url,
    /// Whether `RUNNER_DEBUG=1`.
    pub debug: bool,
    /// Risky events (`pull_request_target`, `workflow_run`) whose ID tokens may be exchanged.
    pub allow_events: Vec<String>,
    /// The ID token: its source and audience, the budget, the network.
    pub source: SourceConfig,
}

/// The cloud of the `environment` input (`AzureCloud` when unset).
pub fn parse_cloud(value: Option<&str>) -> Result<Cloud, ConfigError> {
    match value {
        None => Ok(Cloud::AzureCloud),
        Some(name) => Cloud::parse(name).ok_or_else(|| ConfigError::Invalid {
            input: "environment",
            problem: format!(
                "is {}; use AzureCloud, AzureUSGovernment or AzureChinaCloud",
                quote(name)
            ),
        }),
    }
}

/// The `audience` input, or the cloud's.
pub fn parse_audience(value: Option<&str>, cloud: Cloud) -> Result<String, ConfigError> {
    match value {
        None => Ok(cloud.audience().to_owned()),
        Some(audience) => {
            check_token_chars(
                "audience",
                audience,
                "one audience, as in the federated credential's `audiences`",
            )?;
            Ok(audience.to_owned())
        }
    }
}

/// The `timeout-seconds` input: 1 to 600 seconds, 60 when unset.
pub fn parse_timeout(value: Option<u64>) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(Duration::from_secs(60)),
        Some(seconds @ 1..=600) => Ok(Duration::from_secs(seconds)),
        Some(seconds) => Err(ConfigError::Invalid {
            input: "timeout-seconds",
            problem: format!("is {seconds}; use a whole number of seconds from 1 to 600"),
        }),
    }
}

impl ExchangeConfig {
    /// Validates `inputs`, with the `AZURE_*` fallbacks and runner variables read through `env`
    /// (blank values are unset); `id_token` names the ID token's source once the inputs are good.
    pub fn new(
        inputs: ExchangeInputs,
        id_token: impl FnOnce() -> Result<IdTokenSource, ConfigError>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let set = |value: Option<String>| {
            value
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let required = |value: Option<String>, input: &'static str, fallback: &'static str| {
            set(value)
                .or_else(|| set(env(fallback)))
                .ok_or(ConfigError::Missing { input, fallback })
        };
        let client_id = required(inputs.client_id, "client-id", "AZURE_CLIENT_ID")?;
        check_client_id(&client_id)?;
        let tenant_id = required(inputs.tenant_id, "tenant-id", "AZURE_TENANT_ID")?;
        check_tenant(&tenant_id)?;
        let cloud = parse_cloud(set(inputs.environment).as_deref())?;
        let audience = parse_audience(set(inputs.audience).as_deref(), cloud)?;
        let scope = match set(inputs.scope) {
            None => cloud.arm_scope().to_owned(),
            Some(scope) => parse_scope(&scope)?,
        };
        let authority_host = parse_authority_host(
            &set(inputs.authority_host)
                .or_else(|| set(env("AZURE_AUTHORITY_HOST")))
                .unwrap_or_else(|| cloud.authority_host().to_owned()),
        )?;
        let timeout = parse_timeout(inputs.timeout_seconds)?;
        let allow_events =
            set(inputs.allow_events).map_or(Ok(Vec::new()), |value| parse_allow_events(&value))?;
        let debug = set(env("RUNNER_DEBUG")).as_deref() == Some("1");
        let network = Network::from_lookup(&|name| set(env(name)), timeout)?;
        let id_token = id_token()?;
        Ok(Self {
            client_id,
            tenant_id,
            cloud,
            scope,
            authority_host,
            debug,
            allow_events,
            source: SourceConfig {
                id_token,
                audience,
                timeout,
                network,
            },
        })
    }
}

/// `client-id`: a GUID.
pub fn check_client_id(value: &str) -> Result<(), ConfigError> {
    check_guid(
        "client-id",
        value,
        "the Application (client) ID of the app registration or user-assigned managed identity",
    )
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

pub fn check_guid(input: &'static str, value: &str, what: &str) -> Result<(), ConfigError> {
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

pub fn check_tenant(value: &str) -> Result<(), ConfigError> {
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

pub fn check_token_chars(input: &'static str, value: &str, what: &str) -> Result<(), ConfigError> {
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
