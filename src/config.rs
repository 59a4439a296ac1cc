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

/// Where the ID token (the client assertion) comes from.
#[derive(Debug)]
pub enum IdTokenSource {
    /// The GitHub Actions OIDC endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`/`_TOKEN`).
    GitHub(IdTokenRequest),
    /// A file holding the token, read afresh whenever a token is needed (Kubernetes workload
    /// identity's `AZURE_FEDERATED_TOKEN_FILE` is rotated in place).
    File {
        /// The file.
        path: PathBuf,
        /// What named it: `--id-token-file` or `AZURE_FEDERATED_TOKEN_FILE`.
        origin: &'static str,
    },
    /// A token handed over in an environment variable (e.g. GitLab `id_tokens`).
    Env {
        /// The variable's name.
        name: String,
        /// Its value.
        token: Secret,
    },
}

/// One extra resource of the `scopes` input: outputs `<name>-access-token` and `<name>-expires-on`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedScope {
    /// Output name prefix.
    pub name: String,
    /// The resource scope, ending in `/.default`.
    pub scope: String,
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
    /// The one resource scope requested from Entra for `access-token`.
    pub scope: String,
    /// Further resources, one token each (`scopes`).
    pub scopes: Vec<NamedScope>,
    /// Entra's authority, `https://host[:port]`, no trailing slash.
    pub authority_host: Url,
    /// Environment variable that later steps get the token in.
    pub export_env: Option<String>,
    /// Export the non-secret `AZURE_*`/`ARM_*` settings for tools that mint their own tokens.
    pub export_sdk_env: bool,
    /// Run the diagnosis instead of the exchange.
    pub explain: bool,
    /// Budget for the whole run, retries included.
    pub timeout: Duration,
    /// Whether to write the audit summary.
    pub summary: bool,
    /// Whether `RUNNER_DEBUG=1`.
    pub debug: bool,
    /// Where the ID token comes from.
    pub id_token: IdTokenSource,
    /// Where outputs go (action mode only).
    pub files: Option<Files>,
    /// The proxy to use, checked.
    pub network: Network,
}

/// The HTTPS proxy of a run, read once from the environment and checked before any request.
#[derive(Debug, Default)]
pub struct Network {
    /// The proxy for HTTPS requests, if one is set.
    pub proxy: Option<ProxySetting>,
    /// `NO_PROXY`/`no_proxy`, unless it is `*` (then there is no proxy at all).
    pub no_proxy: Option<String>,
}

/// A proxy URL and the variable that set it.
pub struct ProxySetting {
    /// `HTTPS_PROXY`, `https_proxy`, `ALL_PROXY` or `all_proxy`.
    pub variable: &'static str,
    /// The proxy, `http://` or `https://`; it may carry credentials, so it is never printed whole.
    pub url: Url,
}

impl std::fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxySetting")
            .field("variable", &self.variable)
            .field("host", &self.host())
            .finish_non_exhaustive()
    }
}

impl ProxySetting {
    /// `host:port` of the proxy, for messages (never its credentials).
    pub fn host(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }
}

impl Network {
    /// Reads `HTTPS_PROXY`/`https_proxy`/`ALL_PROXY`/`all_proxy` (first set wins, as reqwest and
    /// curl read them for HTTPS), `NO_PROXY`/`no_proxy`, and checks `SSL_CERT_FILE`/`SSL_CERT_DIR`.
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        check_trust_settings(get)?;
        let no_proxy = ["NO_PROXY", "no_proxy"].into_iter().find_map(get);
        if no_proxy.as_deref().is_some_and(|list| list.trim() == "*") {
            // `*` bypasses every host, IP literals included (reqwest's matcher skips IPs for `*`).
            return Ok(Self::default());
        }
        let proxy = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
            .into_iter()
            .find_map(|variable| get(variable).map(|value| (variable, value)))
            .map(|(variable, value)| parse_proxy(variable, &value))
            .transpose()?;
        Ok(Self { proxy, no_proxy })
    }
}

/// Parses a proxy variable's value: `http://` or `https://` (a bare `host:port` means `http://`).
pub fn parse_proxy(variable: &'static str, value: &str) -> Result<ProxySetting, ConfigError> {
    let with_scheme = if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    // The value may hold a password: messages never quote it.
    let url = Url::parse(&with_scheme).map_err(|error| ConfigError::Runner {
        variable,
        problem: format!(
            "is not a valid proxy URL ({error}): use http://HOST:PORT (or http://USER:PASSWORD@HOST:PORT), or unset it"
        ),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::Runner {
            variable,
            problem: format!(
                "uses the {}:// scheme, which this action does not support: use an http:// or https:// proxy, or list the hosts in NO_PROXY",
                url.scheme()
            ),
        });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::Runner {
            variable,
            problem: "names no proxy host: use http://HOST:PORT, or unset it".to_owned(),
        });
    }
    Ok(ProxySetting { variable, url })
}

/// `SSL_CERT_FILE` must be a readable file of PEM certificates and each `SSL_CERT_DIR` entry a
/// readable directory: otherwise every TLS handshake would fail later with a less helpful error.
fn check_trust_settings(get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    if let Some(file) = get("SSL_CERT_FILE") {
        let problem = match std::fs::read(&file) {
            Err(error) => Some(format!("cannot be read ({error})")),
            Ok(bytes)
                if !bytes
                    .windows(27)
                    .any(|w| w == b"-----BEGIN CERTIFICATE-----") =>
            {
                Some("holds no PEM certificate".to_owned())
            }
            Ok(_) => None,
        };
        if let Some(problem) = problem {
            return Err(ConfigError::Runner {
                variable: "SSL_CERT_FILE",
                problem: format!(
                    "is {}, which {problem}: point it at a PEM bundle of CA certificates (e.g. your TLS-inspecting proxy's CA), or unset it to use the system's",
                    quote(&file)
                ),
            });
        }
    }
    if let Some(dirs) = get("SSL_CERT_DIR") {
        for dir in std::env::split_paths(&dirs) {
            if let Err(error) = std::fs::read_dir(&dir) {
                return Err(ConfigError::Runner {
                    variable: "SSL_CERT_DIR",
                    problem: format!(
                        "names {}, which cannot be read as a directory ({error}): point it at directories of CA certificates, or unset it",
                        quote(&dir.display().to_string())
                    ),
                });
            }
        }
    }
    Ok(())
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
    /// Outside GitHub Actions, name a token: `--id-token-file`, `--id-token-env` or `AZURE_FEDERATED_TOKEN_FILE`.
    #[error(
        "no ID token to present: pass --id-token-file FILE or --id-token-env VAR, set AZURE_FEDERATED_TOKEN_FILE, or run in GitHub Actions with `permissions: id-token: write`"
    )]
    NoIdTokenSource,
    /// The runner set a value this action cannot use; report it.
    #[error("{variable} {problem}")]
    Runner {
        /// The variable.
        variable: &'static str,
        /// What is wrong.
        problem: String,
    },
}

impl ConfigError {
    /// The message for command-line use: inputs are named as the flags that set them.
    pub fn cli_message(&self) -> String {
        match self {
            Self::Missing { input, fallback } => {
                format!("--{input} is required (or set {fallback})")
            }
            Self::Invalid { input, problem } => format!("--{input} {problem}"),
            other => other.to_string(),
        }
    }
}

/// How a run is configured: as an action step, or from the command line.
pub enum Mode<'a> {
    /// Inputs from `INPUT_*`, the ID token from the runner, outputs to the runner's files.
    Action,
    /// Inputs from flags (looked up by input name), the ID token from a file, a variable or the runner.
    Cli {
        /// `--id-token-file`.
        id_token_file: Option<&'a str>,
        /// `--id-token-env`.
        id_token_env: Option<&'a str>,
    },
}

impl Config {
    /// Reads and validates every input and runner variable of an action step through `lookup` (an environment).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let input =
            |name: &str| lookup(&format!("INPUT_{}", name.to_uppercase().replace(' ', "_")));
        Self::load(Mode::Action, &input, lookup)
    }

    /// Reads and validates a run: `input(name)` gives an input (`client-id`, …) as set by the step or
    /// the flags, `lookup` the environment (fallbacks and runner variables).
    pub fn load(
        mode: Mode<'_>,
        input: &dyn Fn(&str) -> Option<String>,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let trimmed = |value: Option<String>| {
            value
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let get = |name: &str| trimmed(lookup(name));
        let input = |name: &str| trimmed(input(name));
        let action = matches!(mode, Mode::Action);

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

        // Action-only inputs; the command line has no runner files to write them to.
        let (export_env, export_sdk_env, explain, summary, scopes) = if action {
            let export_env = input("export-env")
                .map(|name| check_env_name(&name).map(|()| name))
                .transpose()?;
            let flag = |name: &'static str, default: bool| {
                input(name).map_or(Ok(default), |value| parse_bool(name, &value))
            };
            let scopes = input("scopes").map_or(Ok(Vec::new()), |text| parse_scopes(&text))?;
            let export_sdk_env = flag("export-sdk-env", false)?;
            if let Some(name) = export_env
                .as_deref()
                .filter(|name| export_sdk_env && crate::outputs::SDK_ENV_NAMES.contains(name))
            {
                return Err(ConfigError::Invalid {
                    input: "export-env",
                    problem: format!(
                        "is {name}, which `export-sdk-env: true` also sets (to a non-secret setting): choose another name for the token, e.g. AZURE_ACCESS_TOKEN"
                    ),
                });
            }
            (
                export_env,
                export_sdk_env,
                flag("explain", false)?,
                flag("summary", true)?,
                scopes,
            )
        } else {
            (None, false, false, false, Vec::new())
        };

        let debug = get("RUNNER_DEBUG").as_deref() == Some("1");
        let network = Network::from_lookup(&get)?;

        let id_token = match mode {
            Mode::Action => IdTokenSource::GitHub(github_request(&get)?),
            Mode::Cli {
                id_token_file,
                id_token_env,
            } => cli_id_token_source(id_token_file, id_token_env, lookup, &get)?,
        };

        let files = if action {
            let output = get("GITHUB_OUTPUT").map(PathBuf::from).ok_or(ConfigError::Runner {
                variable: "GITHUB_OUTPUT",
                problem: "is not set: run this as a GitHub Actions step (outside Actions, use `azure-oidc-token token`)".to_owned(),
            })?;
            let env = get("GITHUB_ENV").map(PathBuf::from);
            if (export_env.is_some() || export_sdk_env) && env.is_none() {
                return Err(ConfigError::Runner {
                    variable: "GITHUB_ENV",
                    problem: "is not set, so `export-env`/`export-sdk-env` cannot export anything: run this as a GitHub Actions step".to_owned(),
                });
            }
            let step_summary = get("GITHUB_STEP_SUMMARY").map(PathBuf::from);
            Some(Files {
                output,
                env,
                step_summary,
            })
        } else {
            None
        };

        Ok(Self {
            client_id,
            tenant_id,
            subscription_id,
            cloud,
            audience,
            scope,
            scopes,
            authority_host,
            export_env,
            export_sdk_env,
            explain,
            timeout,
            summary,
            debug,
            id_token,
            files,
            network,
        })
    }
}

/// The runner's ID token endpoint, or the error that says to add `id-token: write`.
pub fn github_request(get: &dyn Fn(&str) -> Option<String>) -> Result<IdTokenRequest, ConfigError> {
    match (
        get("ACTIONS_ID_TOKEN_REQUEST_URL"),
        get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        (Some(url), Some(token)) => Ok(IdTokenRequest {
            url: parse_request_url(&url)?,
            token: Secret::new(token),
        }),
        (None, None) => Err(ConfigError::NoIdTokenPermission {
            missing: "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are",
        }),
        (None, Some(_)) => Err(ConfigError::NoIdTokenPermission {
            missing: "ACTIONS_ID_TOKEN_REQUEST_URL is",
        }),
        (Some(_), None) => Err(ConfigError::NoIdTokenPermission {
            missing: "ACTIONS_ID_TOKEN_REQUEST_TOKEN is",
        }),
    }
}

/// The command line's ID token: `--id-token-file`, `--id-token-env`, `AZURE_FEDERATED_TOKEN_FILE`,
/// then the GitHub runner's endpoint, in that order.
pub fn cli_id_token_source(
    id_token_file: Option<&str>,
    id_token_env: Option<&str>,
    lookup: &dyn Fn(&str) -> Option<String>,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<IdTokenSource, ConfigError> {
    if let Some(path) = id_token_file {
        return Ok(IdTokenSource::File {
            path: PathBuf::from(path),
            origin: "--id-token-file",
        });
    }
    if let Some(name) = id_token_env {
        let token = lookup(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        return match token {
            Some(token) => Ok(IdTokenSource::Env {
                name: name.to_owned(),
                token: Secret::new(token),
            }),
            None => Err(ConfigError::Invalid {
                input: "id-token-env",
                problem: format!("names {}, which is not set or empty", quote(name)),
            }),
        };
    }
    if let Some(path) = get("AZURE_FEDERATED_TOKEN_FILE") {
        return Ok(IdTokenSource::File {
            path: PathBuf::from(path),
            origin: "AZURE_FEDERATED_TOKEN_FILE",
        });
    }
    if get("ACTIONS_ID_TOKEN_REQUEST_URL").is_some()
        || get("ACTIONS_ID_TOKEN_REQUEST_TOKEN").is_some()
    {
        return github_request(get).map(IdTokenSource::GitHub);
    }
    Err(ConfigError::NoIdTokenSource)
}

/// Parses the `scopes` input: one `name=scope` per line; blank lines and `#` comments are skipped.
pub fn parse_scopes(text: &str) -> Result<Vec<NamedScope>, ConfigError> {
    let invalid = |problem: String| ConfigError::Invalid {
        input: "scopes",
        problem,
    };
    let mut scopes: Vec<NamedScope> = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let Some((name, scope)) = line.split_once('=') else {
            return Err(invalid(format!(
                "has the line {}: write one `name=scope` per line, e.g. graph=https://graph.microsoft.com/.default",
                quote(line)
            )));
        };
        let (name, scope) = (name.trim(), scope.trim());
        let mut bytes = name.bytes();
        let valid_name = bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_name {
            return Err(invalid(format!(
                "has the name {}: use letters, digits, `-` and `_`, starting with a letter (it prefixes the output names)",
                quote(name)
            )));
        }
        if scopes.iter().any(|s| s.name.eq_ignore_ascii_case(name)) {
            return Err(invalid(format!("names {} twice", quote(name))));
        }
        if scope.is_empty() {
            return Err(invalid(format!("gives {} no scope", quote(name))));
        }
        let scope = parse_scope(scope).map_err(|_| {
            invalid(format!(
                "gives {} the scope {}: one resource scope per line, with no spaces",
                quote(name),
                quote(scope)
            ))
        })?;
        scopes.push(NamedScope {
            name: name.to_owned(),
            scope,
        });
    }
    Ok(scopes)
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
