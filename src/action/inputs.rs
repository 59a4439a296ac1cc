//! The step's inputs (`INPUT_*`, defaults included; blank means unset) into a validated
//! [`ActionConfig`], read once, before any network call. Inputs fall back to the `AZURE_*`
//! variables the Azure SDKs use. Nothing outside `action` knows `INPUT_*` or the runner's files.

use std::path::PathBuf;

use crate::exchange::settings::{ConfigError, ExchangeConfig, ExchangeInputs, parse_scope, quote};
use crate::exchange::source::IdTokenSource;
use crate::exchange::source::github;
use crate::onboarding::matching::Check;

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

/// One extra resource of the `scopes` input: outputs `<name>-access-token` and `<name>-expires-on`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedScope {
    /// Output name prefix.
    pub name: String,
    /// The resource scope, ending in `/.default`.
    pub scope: String,
}

/// Every variable `export-sdk-env` may set (the subscription ones only when a subscription is given).
pub const SDK_ENV_NAMES: &[&str] = &[
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_SUBSCRIPTION_ID",
    "AZURE_AUTHORITY_HOST",
    "ARM_USE_OIDC",
    "ARM_CLIENT_ID",
    "ARM_TENANT_ID",
    "ARM_SUBSCRIPTION_ID",
    "ARM_ENVIRONMENT",
];

/// Everything one step needs, validated.
#[derive(Debug)]
pub struct ActionConfig {
    /// The exchange.
    pub exchange: ExchangeConfig,
    /// Subscription GUID, echoed to outputs only.
    pub subscription_id: Option<String>,
    /// Further resources, one token each (`scopes`).
    pub scopes: Vec<NamedScope>,
    /// Environment variable that later steps get the token in.
    pub export_env: Option<String>,
    /// Export the non-secret `AZURE_*`/`ARM_*` settings for tools that mint their own tokens.
    pub export_sdk_env: bool,
    /// Run the diagnosis instead of the exchange.
    pub explain: bool,
    /// What the diagnosis checks against the job's token (`explain-subject`, `explain-expression`).
    pub explain_check: Check,
    /// Whether to write the audit summary.
    pub summary: bool,
    /// Where outputs go.
    pub files: Files,
}

impl ActionConfig {
    /// Reads and validates every input and runner variable of a step through `env` (an environment).
    pub fn from_lookup(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            env(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let input = |name: &str| get(&format!("INPUT_{}", name.to_uppercase().replace(' ', "_")));
        // Before anything else: a container step cannot leave the token service running.
        check_token_service(&input, &get)?;
        let timeout_seconds = match input("timeout-seconds") {
            None => None,
            Some(value) => Some(value.parse::<u64>().map_err(|_| ConfigError::Invalid {
                input: "timeout-seconds",
                problem: format!(
                    "is {}; use a whole number of seconds from 1 to 600",
                    quote(&value)
                ),
            })?),
        };
        // The subscription is checked right after the tenant, as the inputs are listed.
        let subscription_id = input("subscription-id").or_else(|| get("AZURE_SUBSCRIPTION_ID"));
        let exchange_inputs = ExchangeInputs {
            client_id: input("client-id"),
            tenant_id: input("tenant-id"),
            environment: input("environment"),
            audience: input("audience"),
            scope: input("scope"),
            authority_host: input("authority-host"),
            timeout_seconds,
            allow_events: input("allow-events"),
        };
        let mut action_inputs = None;
        let exchange = ExchangeConfig::new(
            exchange_inputs,
            || {
                if let Some(subscription) = &subscription_id {
                    crate::exchange::settings::check_guid(
                        "subscription-id",
                        subscription,
                        "a subscription ID",
                    )?;
                }
                action_inputs = Some(ActionInputs::read(&input)?);
                github::request_from_env(&get).map(IdTokenSource::GitHub)
            },
            env,
        )?;
        let Some(action) = action_inputs else {
            unreachable!("the ID token closure ran, so the action inputs were read")
        };
        let output = get("GITHUB_OUTPUT").map(PathBuf::from).ok_or(ConfigError::Runner {
            variable: "GITHUB_OUTPUT",
            problem: "is not set: run this as a GitHub Actions step (outside Actions, use `azure-oidc-token token`)".to_owned(),
        })?;
        let env_file = get("GITHUB_ENV").map(PathBuf::from);
        if (action.export_env.is_some() || action.export_sdk_env) && env_file.is_none() {
            return Err(ConfigError::Runner {
                variable: "GITHUB_ENV",
                problem: "is not set, so `export-env`/`export-sdk-env` cannot export anything: run this as a GitHub Actions step".to_owned(),
            });
        }
        Ok(Self {
            exchange,
            subscription_id,
            scopes: action.scopes,
            export_env: action.export_env,
            export_sdk_env: action.export_sdk_env,
            explain: action.explain,
            explain_check: action.explain_check,
            summary: action.summary,
            files: Files {
                output,
                env: env_file,
                step_summary: get("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            },
        })
    }
}

/// The inputs only a step has.
struct ActionInputs {
    export_env: Option<String>,
    export_sdk_env: bool,
    explain: bool,
    explain_check: Check,
    summary: bool,
    scopes: Vec<NamedScope>,
}

impl ActionInputs {
    fn read(input: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
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
            .filter(|name| export_sdk_env && SDK_ENV_NAMES.contains(name))
        {
            return Err(ConfigError::Invalid {
                input: "export-env",
                problem: format!(
                    "is {name}, which `export-sdk-env: true` also sets (to a non-secret setting): choose another name for the token, e.g. AZURE_ACCESS_TOKEN"
                ),
            });
        }
        let explain = flag("explain", false)?;
        let explain_check = read_explain_check(input, explain)?;
        Ok(Self {
            export_env,
            export_sdk_env,
            explain,
            explain_check,
            summary: flag("summary", true)?,
            scopes,
        })
    }
}

/// The variable native/action.yml sets: the token service is started by its script, not here.
pub const NATIVE_MARKER: &str = "AZURE_OIDC_TOKEN_NATIVE";

/// `token-service: true` works only in the native action (its script starts `serve` in the
/// background after this step's exchange); the container action's process ends with its step.
fn check_token_service(
    input: &dyn Fn(&str) -> Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let wanted = match input("token-service") {
        None => false,
        Some(value) => parse_bool("token-service", &value)?,
    };
    if wanted && env(NATIVE_MARKER).as_deref() != Some("true") {
        return Err(ConfigError::Invalid {
            input: "token-service",
            problem: "is true, but the container action cannot keep the token service running after its step (the container is removed when the step ends): use the native action (uses: <owner>/<repo>/native@<ref>) with token-service: true, or run `azure-oidc-token serve` in the background yourself".to_owned(),
        });
    }
    Ok(())
}

/// `explain-subject` and `explain-expression`: what `explain: true` checks against the job's own
/// token (the only place a real one exists). Each needs `explain: true`; a malformed expression or a
/// subject with control characters is refused here, before any network call.
fn read_explain_check(
    input: &dyn Fn(&str) -> Option<String>,
    explain: bool,
) -> Result<Check, ConfigError> {
    let subject = input("explain-subject");
    let text = input("explain-expression");
    for (name, value) in [("explain-subject", &subject), ("explain-expression", &text)] {
        if value.is_some() && !explain {
            return Err(ConfigError::Invalid {
                input: name,
                problem: "is set, but `explain` is not true: it is only checked in a diagnosis run; add `explain: true` (no token is issued then)".to_owned(),
            });
        }
    }
    if let Some(subject) = &subject
        && (subject.chars().any(char::is_control) || subject.len() > 1024)
    {
        return Err(ConfigError::Invalid {
            input: "explain-subject",
            problem: "holds a line break or control character, or is longer than 1024 characters: give one federated credential's subject, e.g. repo:octo-org/octo-repo:ref:refs/heads/main".to_owned(),
        });
    }
    let expression = text
        .as_deref()
        .map(|text| {
            crate::onboarding::expression::parse(text).map_err(|error| ConfigError::Invalid {
                input: "explain-expression",
                problem: format!(
                    "is not a flexible credential expression ({error}): write e.g. claims['sub'] matches 'repo:octo-org/octo-repo:ref:refs/heads/release/*'"
                ),
            })
        })
        .transpose()?;
    Ok(Check {
        subject,
        expression,
        from_inputs: true,
    })
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

/// Names `export-env` refuses (letter case ignored), each with why: the runner, the shell or a
/// language runtime interprets them, so the token would go to GitHub's services, replace the
/// search path, or be loaded as code by every later step.
const EXPORT_ENV_REFUSED: &[(&str, &str)] = &[
    (
        "NODE_OPTIONS",
        "the runner refuses to set NODE_OPTIONS through GITHUB_ENV",
    ),
    (
        "PATH",
        "later steps would look for every program in the token",
    ),
    (
        "BASH_ENV",
        "bash would run the token as a script in every later `run:` step",
    ),
    (
        "ENV",
        "sh would run the token as a script in every later `run:` step",
    ),
    (
        "JAVA_TOOL_OPTIONS",
        "every Java process of later steps would read the token as its options",
    ),
    (
        "PYTHONPATH",
        "every Python process of later steps would import from the token",
    ),
    (
        "PYTHONSTARTUP",
        "interactive Python would run the token as a script",
    ),
    (
        "PERL5OPT",
        "every Perl process of later steps would read the token as its options",
    ),
    (
        "RUBYOPT",
        "every Ruby process of later steps would read the token as its options",
    ),
];

/// Prefixes `export-env` refuses (letter case ignored), each with why.
const EXPORT_ENV_REFUSED_PREFIXES: &[(&str, &str)] = &[
    (
        "ACTIONS_",
        "ACTIONS_* variables are the runner's own (ACTIONS_ID_TOKEN_REQUEST_TOKEN, ACTIONS_RUNTIME_TOKEN): actions send them to GitHub's services, so the Azure token would go there",
    ),
    (
        "GITHUB_",
        "GITHUB_* variables cannot be overwritten by a step",
    ),
    (
        "RUNNER_",
        "RUNNER_* variables cannot be overwritten by a step",
    ),
    (
        "LD_",
        "the dynamic loader reads LD_* variables (LD_PRELOAD, LD_LIBRARY_PATH) in every later process",
    ),
    (
        "DYLD_",
        "the macOS loader reads DYLD_* variables in every later process",
    ),
];

/// Checks an `export-env` name: `[A-Za-z_][A-Za-z0-9_]*`, and none that the runner, the shell or a
/// loader interprets ([`EXPORT_ENV_REFUSED`], [`EXPORT_ENV_REFUSED_PREFIXES`]; letter case ignored,
/// as the runner compares `NODE_OPTIONS`).
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
    let reason = EXPORT_ENV_REFUSED
        .iter()
        .find(|(refused, _)| upper == *refused)
        .or_else(|| {
            EXPORT_ENV_REFUSED_PREFIXES
                .iter()
                .find(|(prefix, _)| upper.starts_with(prefix))
        });
    match reason {
        Some((_, why)) => Err(invalid(&format!(
            "{why}; pick another name, e.g. AZURE_ACCESS_TOKEN"
        ))),
        None => Ok(()),
    }
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
mod tests;
