//! `federated-credential`'s output formats: JSON (one Graph body per line), `az` commands, Bicep
//! (chained with `dependsOn`: Entra refuses concurrent writes to one identity) and Terraform.
//! The schema each targets is cited in `docs/federated-credentials.md`.

use crate::exchange::cloud::Cloud;
use crate::onboarding::credential::{
    Credential, GITHUB_ISSUER, MSI_API, MSI_FLEXIBLE_WARNING, MSI_PREVIEW_API,
};

/// Output formats of `federated-credential`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line: each is one `az … --parameters` / Graph body.
    Json,
    /// `az` commands (app registration and managed identity), one credential after another.
    Az,
    /// Bicep resources for a user-assigned managed identity, chained with `dependsOn`.
    Bicep,
    /// Terraform `azuread_application_(flexible_)federated_identity_credential` blocks.
    Terraform,
}

/// Notes for stderr about `credentials` in `format`: how to use several, and what is preview.
pub fn notes(credentials: &[Credential], format: Format) -> Vec<String> {
    let mut notes = Vec::new();
    if credentials.len() > 1 && format == Format::Json {
        notes.push(format!(
            "note: {} credentials, one JSON object per line; create them one at a time (az takes one object per call): while IFS= read -r fic; do az ad app federated-credential create --id \"$APP_ID\" --parameters \"$fic\"; done < fic.jsonl",
            credentials.len()
        ));
    }
    if credentials
        .iter()
        .any(|c| c.claims_matching_expression.is_some())
    {
        notes.push(format!(
            "note: a wildcard or a separate job_workflow_ref makes a flexible federated credential (Entra preview): issuer {GITHUB_ISSUER} only, claims sub and job_workflow_ref, operators eq and matches (* any run of characters, ? one) joined by `and`. App registrations: Microsoft Graph beta (az rest; use --format az); managed identities (ARM API {MSI_PREVIEW_API}): {MSI_FLEXIBLE_WARNING}. Check it against a real token first: azure-oidc-token explain --expression \"...\""
        ));
    }
    notes
}

/// Renders `credentials` in `format`.
pub fn render(
    credentials: &[Credential],
    format: Format,
    app_id: Option<&str>,
    cloud: Cloud,
) -> String {
    match format {
        Format::Json => credentials
            .iter()
            .map(|c| format!("{}\n", c.to_json()))
            .collect(),
        Format::Az => credentials
            .iter()
            .map(|c| {
                let flexible = c.claims_matching_expression.is_some();
                let preview = if flexible {
                    "# flexible credential (preview): Graph beta for an app registration, --claims-matching-expression-* for a managed identity\n"
                } else {
                    ""
                };
                let identity_warning = if flexible {
                    format!("# {MSI_FLEXIBLE_WARNING}\n")
                } else {
                    String::new()
                };
                format!(
                    "{preview}# app registration\n{}\n# or a user-assigned managed identity\n{identity_warning}{}\n",
                    c.az_app_command_in(app_id, cloud),
                    c.az_identity_command()
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Format::Bicep => render_bicep(credentials),
        Format::Terraform => credentials
            .iter()
            .map(|c| match c.expression() {
                Some(expression) => format!(
                    "# flexible credential (preview)\nresource \"azuread_application_flexible_federated_identity_credential\" \"{}\" {{\n  application_id             = azuread_application.this.id\n  display_name               = {}\n  issuer                     = {}\n  claims_matching_expression = {}\n  audience                   = {}\n}}\n",
                    identifier(&c.name, true),
                    hcl_string(&c.name),
                    hcl_string(&c.issuer),
                    hcl_string(expression),
                    hcl_string(c.audience())
                ),
                None => format!(
                    "resource \"azuread_application_federated_identity_credential\" \"{}\" {{\n  application_id = azuread_application.this.id\n  display_name   = {}\n  issuer         = {}\n  subject        = {}\n  audiences      = [{}]\n}}\n",
                    identifier(&c.name, true),
                    hcl_string(&c.name),
                    hcl_string(&c.issuer),
                    hcl_string(c.subject.as_deref().unwrap_or_default()),
                    c.audiences.iter().map(|a| hcl_string(a)).collect::<Vec<_>>().join(", ")
                ),
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// Bicep: each credential depends on the one before it, because Entra refuses concurrent writes
/// of credentials on one identity (HTTP 409).
fn render_bicep(credentials: &[Credential]) -> String {
    let mut text = format!(
        "@description('The user-assigned managed identity that gets the credentials')\nparam identityName string\n\nresource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@{MSI_API}' existing = {{\n  name: identityName\n}}\n"
    );
    let mut previous: Option<String> = None;
    for credential in credentials {
        let symbol = identifier(&credential.name, false);
        let (api, comment, matcher) = match &credential.claims_matching_expression {
            Some(expression) => (
                MSI_PREVIEW_API,
                format!("// flexible credential (preview API)\n// {MSI_FLEXIBLE_WARNING}\n"),
                format!(
                    "    claimsMatchingExpression: {{\n      value: {}\n      languageVersion: {}\n    }}\n",
                    bicep_string(&expression.value),
                    expression.language_version
                ),
            ),
            None => (
                MSI_API,
                String::new(),
                format!(
                    "    subject: {}\n",
                    bicep_string(credential.subject.as_deref().unwrap_or_default())
                ),
            ),
        };
        let depends = previous
            .as_ref()
            .map(|p| format!("  dependsOn: [\n    {p}\n  ]\n"))
            .unwrap_or_default();
        text.push_str(&format!(
            "\n{comment}resource {symbol} 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@{api}' = {{\n  parent: identity\n  name: {}\n{depends}  properties: {{\n    issuer: {}\n{matcher}    audiences: [\n{}    ]\n  }}\n}}\n",
            bicep_string(&credential.name),
            bicep_string(&credential.issuer),
            credential
                .audiences
                .iter()
                .map(|a| format!("      {}\n", bicep_string(a)))
                .collect::<String>()
        ));
        previous = Some(symbol);
    }
    text
}

/// A Bicep/Terraform identifier from a credential name (starting with a letter).
pub(crate) fn identifier(name: &str, snake: bool) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if upper && !snake {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else if snake {
            if !out.ends_with('_') {
                out.push('_');
            }
        } else {
            upper = true;
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, if snake { "fic_" } else { "fic" });
    }
    out
}

fn bicep_string(value: &str) -> String {
    format!(
        "'{}'",
        value
            .replace('\\', "\\\\")
            .replace('\'', "\\'")
            .replace("${", "\\${")
    )
}

fn hcl_string(value: &str) -> String {
    format!(
        "\"{}\"",
        value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace("${", "$${")
            .replace("%{", "%%{")
    )
}
