//! What later steps receive: step outputs, the optional env var, and the audit summary.
//!
//! Everything is formatted first and written last, each file in one `write_all`; if any write fails,
//! every file is cut back to its previous length, so a failed run leaves nothing behind.
//! The outputs are listed in `action.yml` and `docs/design.md`.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::action::inputs::{ActionConfig, Files, NamedScope};
use crate::action::workflow::{self, FileCommandError};
use crate::clock::rfc3339;
use crate::exchange::claims::Claims;
use crate::exchange::cloud::Cloud;
use crate::exchange::entra::AccessToken;
use crate::secret::Secret;

/// The pieces of a successful run that outputs are made of.
pub struct Issued<'a> {
    /// The access token for `scope`.
    pub token: &'a AccessToken,
    /// Its `oid`, when it decodes as a JWT.
    pub principal_id: Option<&'a str>,
    /// One token per entry of `scopes`.
    pub extra: &'a [(NamedScope, AccessToken)],
}

/// Why outputs could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A name or value the runner could not read back; see the inner error.
    #[error(transparent)]
    Format(#[from] FileCommandError),
    /// The file the runner named cannot be appended to: check the path, disk space and permissions.
    #[error("cannot append to {variable} ({path}): {source}")]
    Write {
        /// `GITHUB_OUTPUT` or `GITHUB_ENV`.
        variable: &'static str,
        /// The file.
        path: String,
        /// The cause.
        source: io::Error,
    },
}

/// The step outputs, in the order they are written.
pub fn output_pairs(config: &ActionConfig, issued: &Issued<'_>) -> Vec<(String, String)> {
    let token = issued.token;
    let mut pairs: Vec<(String, String)> = [
        ("access-token", token.token.expose_secret().to_owned()),
        ("token-type", "Bearer".to_owned()),
        ("expires-on", token.expires_on.to_string()),
        ("expires-at", rfc3339(token.expires_on)),
        ("tenant-id", config.exchange.tenant_id.clone()),
        ("client-id", config.exchange.client_id.clone()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    if let Some(subscription) = &config.subscription_id {
        pairs.push(("subscription-id".to_owned(), subscription.clone()));
    }
    if let Some(principal) = issued.principal_id {
        pairs.push(("principal-id".to_owned(), principal.to_owned()));
    }
    for (named, token) in issued.extra {
        pairs.push((
            format!("{}-access-token", named.name),
            token.token.expose_secret().to_owned(),
        ));
        pairs.push((
            format!("{}-expires-on", named.name),
            token.expires_on.to_string(),
        ));
    }
    pairs
}

/// The non-secret settings `export-sdk-env` hands to later steps. Terraform's azurerm/azuread
/// providers (`ARM_USE_OIDC`) read the `ARM_*` ones and request their own GitHub ID tokens from the
/// runner, so they keep working past this token's hour. The Azure SDKs' `DefaultAzureCredential` and
/// the Azure CLI cannot sign in from these alone (they need a token file, and a GitHub ID token
/// expires within minutes, so none is written); SDK code reads `AZURE_*` through the
/// `ClientAssertionCredential` pattern of `docs/later-steps.md`.
pub fn sdk_env_pairs(config: &ActionConfig) -> Vec<(&'static str, String)> {
    let authority = config
        .exchange
        .authority_host
        .as_str()
        .trim_end_matches('/')
        .to_owned();
    let terraform_environment = match config.exchange.cloud {
        Cloud::AzureCloud => "public",
        Cloud::AzureUSGovernment => "usgovernment",
        Cloud::AzureChinaCloud => "china",
    };
    let mut pairs = vec![
        ("AZURE_CLIENT_ID", config.exchange.client_id.clone()),
        ("AZURE_TENANT_ID", config.exchange.tenant_id.clone()),
    ];
    if let Some(subscription) = &config.subscription_id {
        pairs.push(("AZURE_SUBSCRIPTION_ID", subscription.clone()));
    }
    pairs.extend([
        ("AZURE_AUTHORITY_HOST", authority),
        ("ARM_USE_OIDC", "true".to_owned()),
        ("ARM_CLIENT_ID", config.exchange.client_id.clone()),
        ("ARM_TENANT_ID", config.exchange.tenant_id.clone()),
    ]);
    if let Some(subscription) = &config.subscription_id {
        pairs.push(("ARM_SUBSCRIPTION_ID", subscription.clone()));
    }
    pairs.push(("ARM_ENVIRONMENT", terraform_environment.to_owned()));
    pairs
}

/// Formats and appends the outputs (and the `export-env`/`export-sdk-env` variables), all or nothing.
pub fn write_outputs(
    config: &ActionConfig,
    files: &Files,
    issued: &Issued<'_>,
) -> Result<(), OutputError> {
    // The pairs hold copies of the token: zeroed when dropped, on every path.
    let pairs = zeroize::Zeroizing::new(output_pairs(config, issued));
    let outputs =
        workflow::format_file_commands(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))?;
    let mut writes = vec![("GITHUB_OUTPUT", files.output.clone(), outputs)];
    let mut env_pairs: Vec<(&str, &str)> = Vec::new();
    if let Some(name) = &config.export_env {
        env_pairs.push((name.as_str(), issued.token.token.expose_secret()));
    }
    let sdk = if config.export_sdk_env {
        sdk_env_pairs(config)
    } else {
        Vec::new()
    };
    env_pairs.extend(sdk.iter().map(|(n, v)| (*n, v.as_str())));
    if let (false, Some(env_file)) = (env_pairs.is_empty(), &files.env) {
        writes.push((
            "GITHUB_ENV",
            env_file.clone(),
            workflow::format_file_commands(env_pairs)?,
        ));
    }
    append_all_or_nothing(&writes)
}

/// Appends each text to its file; on any failure, truncates every file back to where it was.
fn append_all_or_nothing(writes: &[(&'static str, PathBuf, Secret)]) -> Result<(), OutputError> {
    let mut opened = Vec::with_capacity(writes.len());
    for (variable, path, _) in writes {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(|source| write_error(variable, path, source))?;
        let length = file.metadata().map(|m| m.len()).unwrap_or(0);
        opened.push((file, length));
    }
    for (index, (variable, path, text)) in writes.iter().enumerate() {
        let (file, _) = &mut opened[index];
        if let Err(source) = file
            .write_all(text.expose_secret().as_bytes())
            .and_then(|()| file.flush())
        {
            for (file, length) in &opened {
                // Best effort: a file we could not write to may not let us truncate either.
                let _ = file.set_len(*length);
            }
            return Err(write_error(variable, path, source));
        }
    }
    Ok(())
}

fn write_error(variable: &'static str, path: &Path, source: io::Error) -> OutputError {
    OutputError::Write {
        variable,
        path: path.display().to_string(),
        source,
    }
}

/// The audit summary for `GITHUB_STEP_SUMMARY`: who, for what, presented what, until when. No token.
pub fn summary_markdown(config: &ActionConfig, id_claims: &Claims, issued: &Issued<'_>) -> String {
    let cell = |value: &str| code_span(&value.replace('|', "\\|").replace(['\r', '\n'], " "));
    let mut rows = vec![
        ("Tenant", config.exchange.tenant_id.clone()),
        ("Client ID", config.exchange.client_id.clone()),
    ];
    if let Some(subscription) = &config.subscription_id {
        rows.push(("Subscription", subscription.clone()));
    }
    if let Some(principal) = issued.principal_id {
        rows.push(("Principal (oid)", principal.to_owned()));
    }
    for (named, token) in issued.extra {
        rows.push((
            "Also issued",
            format!(
                "{}: {} until {}",
                named.name,
                named.scope,
                rfc3339(token.expires_on)
            ),
        ));
    }
    rows.extend([
        ("Cloud", config.exchange.cloud.name().to_owned()),
        ("Scope", config.exchange.scope.clone()),
        (
            "Issuer presented",
            id_claims.iss.clone().unwrap_or_default(),
        ),
        (
            "Subject presented",
            id_claims.sub.clone().unwrap_or_default(),
        ),
        ("Audience presented", id_claims.aud.joined()),
        ("Token expires", rfc3339(issued.token.expires_on)),
    ]);
    let mut text = String::from("### Azure access token issued\n\n| | |\n| --- | --- |\n");
    for (name, value) in rows {
        text.push_str(&format!("| {name} | {} |\n", cell(&value)));
    }
    text.push_str(
        "\nThe token itself is masked and only available to later steps of this job.\n\n",
    );
    text
}

/// `value` as one Markdown code span (CommonMark 6.1): fenced by one backtick more than its longest
/// run of backticks, padded with a space where it starts or ends with one, so a claim holding a
/// backtick cannot end the span early and turn the rest of it into Markdown.
pub fn code_span(value: &str) -> String {
    let longest = value.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if value.starts_with('`') || value.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{value}{pad}{fence}")
}

/// Appends the summary; failures are reported by the caller as a warning, never fatal.
pub fn write_summary(path: &Path, markdown: &str) -> io::Result<()> {
    workflow::append_all(path, &Secret::new(markdown.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The content of the code span that opens `text`, read as CommonMark reads it, and what
    /// follows the span.
    fn read_code_span(text: &str) -> Option<(&str, &str)> {
        let fence = text.len() - text.trim_start_matches('`').len();
        let rest = &text[fence..];
        let mut at = 0;
        while let Some(found) = rest[at..].find('`') {
            let start = at + found;
            let run = rest[start..].len() - rest[start..].trim_start_matches('`').len();
            if run == fence {
                let content = &rest[..start];
                let stripped = content
                    .strip_prefix(' ')
                    .and_then(|c| c.strip_suffix(' '))
                    .filter(|c| !c.trim().is_empty());
                return Some((stripped.unwrap_or(content), &rest[start + run..]));
            }
            at = start + run;
        }
        None
    }

    #[test]
    fn code_spans_hold_claims_with_backticks_whole() {
        for value in [
            "repo:o/r:ref:refs/heads/main",
            "a`b",
            "`x`",
            "x``y```z",
            "ends with `",
            "` starts",
        ] {
            let span = code_span(value);
            assert_eq!(read_code_span(&span), Some((value, "")), "{span}");
        }
    }

    #[test]
    fn failed_second_write_rolls_back_the_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let output = dir.path().join("out");
        std::fs::write(&output, "earlier=1\n").expect("seed");
        let writes = vec![
            (
                "GITHUB_OUTPUT",
                output.clone(),
                Secret::new("a<<D\nx\nD\n".to_owned()),
            ),
            (
                "GITHUB_ENV",
                PathBuf::from("/dev/full"),
                Secret::new("b<<D\ny\nD\n".to_owned()),
            ),
        ];
        let error = append_all_or_nothing(&writes).expect_err("disk full");
        assert!(error.to_string().contains("GITHUB_ENV"), "{error}");
        assert_eq!(
            std::fs::read_to_string(&output).expect("read"),
            "earlier=1\n"
        );
    }
}
