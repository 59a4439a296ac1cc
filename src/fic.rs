//! Federated identity credentials: the subject GitHub presents, and the credential that matches it,
//! as JSON for `az … --parameters`, an `az` command, a Bicep resource or a Terraform block.
//!
//! Subject formats: `reference/github-actions.md` §2.4; credential fields and limits:
//! `reference/entra-id.md` §5.

use serde::Serialize;

/// GitHub.com's issuer (GHEC enterprise issuers append `/<slug>`; GHES uses `https://HOST/_services/token`).
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// What the workflow run is tied to: the `context` part of the default subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entity {
    /// A job with `environment: NAME` (takes precedence over everything else).
    Environment(String),
    /// A push or other run on a branch.
    Branch(String),
    /// A run on a tag.
    Tag(String),
    /// A `pull_request` event.
    PullRequest,
}

/// A repository, with the numeric IDs the immutable subject form needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    /// Owner (organisation or user) login.
    pub owner: String,
    /// Repository name.
    pub name: String,
    /// Numeric owner ID, for ID-based subjects.
    pub owner_id: Option<u64>,
    /// Numeric repository ID, for ID-based subjects.
    pub repository_id: Option<u64>,
}

/// Escapes a value inside a subject as GitHub does: `:` becomes `%3A`.
pub fn escape_value(value: &str) -> String {
    value.replace(':', "%3A")
}

/// The default-template subject: classic `repo:OWNER/REPO:…`, or ID-based `repo:OWNER@ID/REPO@ID:…`.
pub fn subject(repository: &Repository, entity: &Entity, id_based: bool) -> Option<String> {
    let repo = if id_based {
        format!(
            "{}@{}/{}@{}",
            repository.owner, repository.owner_id?, repository.name, repository.repository_id?
        )
    } else {
        format!("{}/{}", repository.owner, repository.name)
    };
    let context = match entity {
        Entity::Environment(name) => format!("environment:{}", escape_value(name)),
        Entity::Branch(branch) => format!("ref:refs/heads/{}", escape_value(branch)),
        Entity::Tag(tag) => format!("ref:refs/tags/{}", escape_value(tag)),
        Entity::PullRequest => "pull_request".to_owned(),
    };
    Some(format!("repo:{repo}:{context}"))
}

/// A federated identity credential as Entra stores it (field order as `az` and the portal show it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Credential {
    /// 3–120 of `[A-Za-z0-9_-]`, starting alphanumeric; immutable once created.
    pub name: String,
    /// Must equal the token's `iss` exactly.
    pub issuer: String,
    /// Must equal the token's `sub` exactly (case-sensitive).
    pub subject: String,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Exactly one audience, equal to the token's `aud`.
    pub audiences: Vec<String>,
}

impl Credential {
    /// A credential for `subject`, named after it.
    pub fn new(issuer: &str, subject: &str, audience: &str) -> Self {
        Self {
            name: credential_name(subject),
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
            description: None,
            audiences: vec![audience.to_owned()],
        }
    }

    /// One-line JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The `az ad app federated-credential create` command for an app registration.
    pub fn az_app_command(&self, app_id: Option<&str>) -> String {
        format!(
            "az ad app federated-credential create --id {} --parameters {}",
            app_id.unwrap_or("<APP_ID>"),
            shell_quote(&self.to_json())
        )
    }

    /// The `az identity federated-credential create` command for a user-assigned managed identity.
    pub fn az_identity_command(&self) -> String {
        format!(
            "az identity federated-credential create --name {} --identity-name <IDENTITY_NAME> --resource-group <RESOURCE_GROUP> --issuer {} --subject {} --audiences {}",
            shell_quote(&self.name),
            shell_quote(&self.issuer),
            shell_quote(&self.subject),
            shell_quote(self.audiences.first().map_or("", String::as_str))
        )
    }
}

/// A credential name Entra accepts, derived from the subject: `github-<subject, sanitised>`.
pub fn credential_name(subject: &str) -> String {
    let tail = subject.strip_prefix("repo:").unwrap_or(subject);
    let mut sanitized = String::new();
    for c in tail.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '-'
        };
        if !(c == '-' && (sanitized.is_empty() || sanitized.ends_with('-'))) {
            sanitized.push(c);
        }
    }
    sanitized.truncate(113);
    let sanitized = sanitized.trim_end_matches('-');
    if sanitized.is_empty() {
        "github".to_owned()
    } else {
        format!("github-{sanitized}")
    }
}

/// POSIX single-quoting.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// Output formats of `federated-credential`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON for `az … --parameters @file` (an array when there are several).
    Json,
    /// `az` commands (app registration and managed identity).
    Az,
    /// Bicep resources for a user-assigned managed identity.
    Bicep,
    /// Terraform `azuread_application_federated_identity_credential` blocks.
    Terraform,
}

/// Renders `credentials` in `format`.
pub fn render(credentials: &[Credential], format: Format, app_id: Option<&str>) -> String {
    match format {
        Format::Json => {
            let json = if let [one] = credentials {
                serde_json::to_string_pretty(one)
            } else {
                serde_json::to_string_pretty(credentials)
            };
            format!("{}\n", json.unwrap_or_default())
        }
        Format::Az => credentials
            .iter()
            .map(|c| {
                format!(
                    "# app registration\n{}\n# or a user-assigned managed identity\n{}\n",
                    c.az_app_command(app_id),
                    c.az_identity_command()
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Format::Bicep => {
            let mut text = String::from(
                "resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {\n  name: '<IDENTITY_NAME>'\n}\n",
            );
            for credential in credentials {
                text.push_str(&format!(
                    "\nresource {} 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {{\n  parent: identity\n  name: {}\n  properties: {{\n    issuer: {}\n    subject: {}\n    audiences: [\n{}    ]\n  }}\n}}\n",
                    identifier(&credential.name, false),
                    bicep_string(&credential.name),
                    bicep_string(&credential.issuer),
                    bicep_string(&credential.subject),
                    credential
                        .audiences
                        .iter()
                        .map(|a| format!("      {}\n", bicep_string(a)))
                        .collect::<String>()
                ));
            }
            text
        }
        Format::Terraform => credentials
            .iter()
            .map(|c| {
                format!(
                    "resource \"azuread_application_federated_identity_credential\" \"{}\" {{\n  application_id = azuread_application.this.id\n  display_name   = {}\n  issuer         = {}\n  subject        = {}\n  audiences      = [{}]\n}}\n",
                    identifier(&c.name, true),
                    hcl_string(&c.name),
                    hcl_string(&c.issuer),
                    hcl_string(&c.subject),
                    c.audiences.iter().map(|a| hcl_string(a)).collect::<Vec<_>>().join(", ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// A Bicep/Terraform identifier from a credential name.
fn identifier(name: &str, snake: bool) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(ids: bool) -> Repository {
        Repository {
            owner: "octo-org".to_owned(),
            name: "octo-repo".to_owned(),
            owner_id: ids.then_some(123_456),
            repository_id: ids.then_some(456_789),
        }
    }

    #[test]
    fn subjects_in_both_forms() {
        let branch = Entity::Branch("main".to_owned());
        assert_eq!(
            subject(&repo(false), &branch, false).as_deref(),
            Some("repo:octo-org/octo-repo:ref:refs/heads/main")
        );
        assert_eq!(
            subject(&repo(true), &branch, true).as_deref(),
            Some("repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main")
        );
        assert_eq!(subject(&repo(false), &branch, true), None);
        assert_eq!(
            subject(
                &repo(false),
                &Entity::Environment("Production:V1".to_owned()),
                false
            )
            .as_deref(),
            Some("repo:octo-org/octo-repo:environment:Production%3AV1")
        );
        assert_eq!(
            subject(&repo(false), &Entity::PullRequest, false).as_deref(),
            Some("repo:octo-org/octo-repo:pull_request")
        );
        assert_eq!(
            subject(&repo(false), &Entity::Tag("v1.2.3".to_owned()), false).as_deref(),
            Some("repo:octo-org/octo-repo:ref:refs/tags/v1.2.3")
        );
    }

    #[test]
    fn credential_names_are_valid() {
        assert_eq!(
            credential_name("repo:octo-org/octo-repo:ref:refs/heads/main"),
            "github-octo-org-octo-repo-ref-refs-heads-main"
        );
        assert_eq!(
            credential_name("repo:a@1/b@2:environment:Prod%3AV1"),
            "github-a-1-b-2-environment-Prod-3AV1"
        );
        let long = credential_name(&"x".repeat(500));
        assert!(long.len() <= 120 && long.starts_with("github-"));
        assert_eq!(credential_name(""), "github");
    }

    #[test]
    fn json_keeps_entra_field_order() {
        let credential = Credential::new(
            GITHUB_ISSUER,
            "repo:o/r:pull_request",
            "api://AzureADTokenExchange",
        );
        assert_eq!(
            credential.to_json(),
            r#"{"name":"github-o-r-pull_request","issuer":"https://token.actions.githubusercontent.com","subject":"repo:o/r:pull_request","audiences":["api://AzureADTokenExchange"]}"#
        );
    }

    #[test]
    fn renders_every_format() {
        let credential = Credential::new(
            GITHUB_ISSUER,
            "repo:o/r:environment:it's",
            "api://AzureADTokenExchange",
        );
        let az = render(std::slice::from_ref(&credential), Format::Az, Some("app"));
        assert!(az.contains("--id app --parameters '{\"name\""), "{az}");
        assert!(az.contains("it'\\''s"), "{az}");
        let bicep = render(std::slice::from_ref(&credential), Format::Bicep, None);
        assert!(
            bicep.contains("resource githubOREnvironmentItS 'Microsoft.ManagedIdentity"),
            "{bicep}"
        );
        assert!(
            bicep.contains("subject: 'repo:o/r:environment:it\\'s'"),
            "{bicep}"
        );
        let terraform = render(std::slice::from_ref(&credential), Format::Terraform, None);
        assert!(terraform.contains("resource \"azuread_application_federated_identity_credential\" \"github_o_r_environment_it_s\""), "{terraform}");
        let json = render(&[credential.clone(), credential], Format::Json, None);
        assert!(json.starts_with('['), "{json}");
    }
}
