//! Federated identity credentials: the credential(s) that match what GitHub presents for a
//! repository and context, with Entra's naming rules; rendered by [`crate::onboarding::render`],
//! subjects built by [`crate::onboarding::subject`].
//!
//! Subjects follow GitHub's OIDC reference
//! (<https://docs.github.com/en/actions/reference/security/oidc>): the default template, ID-based
//! subjects and `include_claim_keys` templates. Credential fields and limits follow Entra
//! (<https://learn.microsoft.com/graph/api/resources/federatedidentitycredential>); wildcards
//! become flexible credentials (`crate::onboarding::expression`). `docs/federated-credentials.md` cites the
//! schema of every output format.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::exchange::cloud::Cloud;
pub use crate::onboarding::credential_error::FicError;
use crate::onboarding::expression::{self, Condition, Expression};
use crate::onboarding::name::{credential_name, flexible_name, valid_name};
use crate::onboarding::subject::{
    Entity, Repository, TemplateValues, normalise_entity, templated_subject,
};

/// GitHub.com's issuer (GHEC enterprise issuers append `/<slug>`; GHES uses `https://HOST/_services/token`).
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Graph's version whose federated credentials take `claimsMatchingExpression` (beta), under each
/// cloud's Graph root ([`Cloud::graph_endpoint`]).
pub const GRAPH_FLEXIBLE_VERSION: &str = "beta";

/// Said wherever a flexible credential is written for a managed identity. Microsoft Learn's setup
/// page says "Flexible federated identity credentials support is not yet available for managed
/// identities" (<https://learn.microsoft.com/entra/workload-id/workload-identities-set-up-flexible-federated-identity-credential>),
/// and the ARM change log shows `claimsMatchingExpression` added in 2025-01-31-preview and removed
/// in 2025-05-31-preview
/// (<https://learn.microsoft.com/azure/templates/microsoft.managedidentity/change-log/userassignedidentities/federatedidentitycredentials>).
pub const MSI_FLEXIBLE_WARNING: &str = "warning: Microsoft Entra does not support flexible federated credentials on managed identities yet (Microsoft Learn), and the ARM API removed claimsMatchingExpression again in 2025-05-31-preview: Azure may refuse this credential or it may never match; hold it on an app registration instead";

/// Managed-identity API version of exact credentials (GA).
pub const MSI_API: &str = "2023-01-31";

/// Managed-identity API version that added `claimsMatchingExpression` (preview).
pub const MSI_PREVIEW_API: &str = "2025-01-31-preview";

/// A flexible credential's matcher, as Graph and the managed-identity API spell it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClaimsMatchingExpression {
    /// The expression text.
    pub value: String,
    /// Always 1.
    #[serde(rename = "languageVersion")]
    pub language_version: u32,
}

/// A federated identity credential as Entra stores it (field order as `az` and the portal show it):
/// either `subject` (exact) or `claimsMatchingExpression` (flexible), never both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Credential {
    /// 3–120 of `[A-Za-z0-9_-]`, starting alphanumeric; immutable once created.
    pub name: String,
    /// Must equal the token's `iss` exactly.
    pub issuer: String,
    /// Must equal the token's `sub` exactly (case-sensitive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Flexible credentials (preview): the expression the token's claims must satisfy.
    #[serde(
        rename = "claimsMatchingExpression",
        skip_serializing_if = "Option::is_none"
    )]
    pub claims_matching_expression: Option<ClaimsMatchingExpression>,
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
            subject: Some(subject.to_owned()),
            claims_matching_expression: None,
            description: None,
            audiences: vec![audience.to_owned()],
        }
    }

    /// A flexible credential for `expression`, named after it.
    pub fn flexible(issuer: &str, expression: &Expression, audience: &str) -> Self {
        let value = expression.to_string();
        Self {
            name: flexible_name(&value),
            issuer: issuer.to_owned(),
            subject: None,
            claims_matching_expression: Some(ClaimsMatchingExpression {
                value,
                language_version: expression::LANGUAGE_VERSION,
            }),
            description: None,
            audiences: vec![audience.to_owned()],
        }
    }

    /// The flexible expression's text, if this is a flexible credential.
    pub fn expression(&self) -> Option<&str> {
        self.claims_matching_expression
            .as_ref()
            .map(|e| e.value.as_str())
    }

    pub fn audience(&self) -> &str {
        self.audiences.first().map_or("", String::as_str)
    }

    /// One-line JSON: the body `az ad app federated-credential create --parameters` takes (exact),
    /// or Graph beta's `POST …/federatedIdentityCredentials` body (both).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The command that creates this credential on an app registration: `az ad app
    /// federated-credential create`, or for a flexible one `az rest` against Graph beta (the az
    /// command has no expression flag).
    pub fn az_app_command(&self, app_id: Option<&str>) -> String {
        self.az_app_command_in(app_id, Cloud::AzureCloud)
    }

    /// [`az_app_command`](Self::az_app_command) in `cloud`: a flexible credential goes to that
    /// cloud's Graph beta.
    pub fn az_app_command_in(&self, app_id: Option<&str>, cloud: Cloud) -> String {
        // A GUID needs no quotes (and reads better); anything else is quoted.
        let app = match app_id {
            None => "\"$APP_ID\"".to_owned(),
            Some(id) if id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => id.to_owned(),
            Some(other) => shell_quote(other),
        };
        if self.claims_matching_expression.is_some() {
            format!(
                "az rest --method POST --url \"{}/{GRAPH_FLEXIBLE_VERSION}/applications/$(az ad app show --id {app} --query id --output tsv)/federatedIdentityCredentials\" --headers Content-Type=application/json --body {}",
                cloud.graph_endpoint(),
                shell_quote(&self.to_json())
            )
        } else {
            format!(
                "az ad app federated-credential create --id {app} --parameters {}",
                shell_quote(&self.to_json())
            )
        }
    }

    /// The `az identity federated-credential create` command for a user-assigned managed identity
    /// (with the preview `--claims-matching-expression-*` flags for a flexible one).
    pub fn az_identity_command(&self) -> String {
        let matcher = match self.expression() {
            Some(value) => format!(
                "--claims-matching-expression-value {} --claims-matching-expression-version {}",
                shell_quote(value),
                expression::LANGUAGE_VERSION
            ),
            None => format!(
                "--subject {}",
                shell_quote(self.subject.as_deref().unwrap_or_default())
            ),
        };
        format!(
            "az identity federated-credential create --name {} --identity-name \"$IDENTITY_NAME\" --resource-group \"$RESOURCE_GROUP\" --issuer {} {matcher} --audiences {}",
            shell_quote(&self.name),
            shell_quote(&self.issuer),
            shell_quote(self.audience())
        )
    }
}

/// What `federated-credential` was asked for.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// `OWNER/REPO`.
    pub repository: String,
    /// `--owner-id`.
    pub owner_id: Option<u64>,
    /// `--repository-id`.
    pub repository_id: Option<u64>,
    /// The context flag, as given.
    pub entity: Option<Entity>,
    /// The issuer (without a trailing `/`).
    pub issuer: String,
    /// The audience.
    pub audience: String,
    /// `--name`.
    pub name: Option<String>,
    /// `--claim-keys`; `None` is GitHub's default template (`repo`, `context`).
    pub claim_keys: Option<Vec<String>>,
    /// `--claim KEY=VALUE`, as given.
    pub claims: Vec<String>,
    /// `--job-workflow-ref`.
    pub job_workflow_ref: Option<String>,
}

/// Which GitHub the issuer belongs to.
fn issues_id_subjects(issuer: &str) -> bool {
    let Some(rest) = issuer.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or_default();
    host == "token.actions.githubusercontent.com"
        || (host.starts_with("token.actions.") && host.ends_with(".ghe.com"))
}

/// The credentials for `request`: the name-based subject, plus the ID-based one when both IDs are
/// given; flexible where a value holds a wildcard or `--job-workflow-ref` is matched on its own.
pub fn credentials(request: &Request) -> Result<Vec<Credential>, FicError> {
    if let Some(name) = &request.name
        && !valid_name(name)
    {
        return Err(FicError::Name(name.clone()));
    }
    let (owner, repo) = request
        .repository
        .split_once('/')
        .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
        .ok_or_else(|| FicError::Repository(request.repository.clone()))?;
    let issuer = request.issuer.trim_end_matches('/');
    if !issuer.starts_with("https://") {
        return Err(FicError::Issuer(issuer.to_owned()));
    }
    let repository = Repository {
        owner: owner.to_owned(),
        name: repo.to_owned(),
        owner_id: request.owner_id,
        repository_id: request.repository_id,
    };
    let entity = request.entity.clone().map(normalise_entity).transpose()?;
    let keys = request
        .claim_keys
        .clone()
        .unwrap_or_else(|| vec!["repo".to_owned(), "context".to_owned()]);
    // The ID-based `repo` segment needs both IDs; a template without `repo` (e.g. the reusable
    // workflows' repository_owner_id,job_workflow_ref) takes either on its own.
    let has_repo = keys.iter().any(|k| k == "repo");
    let ids = request.owner_id.is_some() && request.repository_id.is_some();
    if has_repo && request.owner_id.is_some() != request.repository_id.is_some() {
        let (given, missing) = if request.owner_id.is_some() {
            ("--owner-id", "--repository-id")
        } else {
            ("--repository-id", "--owner-id")
        };
        return Err(FicError::IdsTogether { given, missing });
    }
    if ids && has_repo && !issues_id_subjects(issuer) {
        return Err(FicError::IdsNotIssued(issuer.to_owned()));
    }
    if let Some(bad) = keys
        .iter()
        .find(|k| k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return Err(FicError::ClaimKey(bad.clone()));
    }
    let mut claims = BTreeMap::new();
    for pair in &request.claims {
        let (key, value) = pair
            .split_once('=')
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            .ok_or(FicError::Claim(pair.clone(), "use KEY=VALUE"))?;
        if !keys.iter().any(|k| k == key) {
            return Err(FicError::Claim(
                pair.clone(),
                "that key is not in --claim-keys, so it is not part of the subject",
            ));
        }
        claims.insert(key.to_owned(), value.to_owned());
    }
    if entity.is_none() && keys.iter().any(|k| k == "context") {
        return Err(FicError::NoEntity);
    }
    let values = TemplateValues {
        entity: entity.as_ref(),
        job_workflow_ref: request.job_workflow_ref.as_deref(),
        claims: &claims,
    };
    let mut subjects = vec![templated_subject(&repository, false, &keys, &values)?];
    if ids && has_repo {
        subjects.push(templated_subject(&repository, true, &keys, &values)?);
    }
    // A workflow ref outside the template can only be matched by its own condition.
    let separate_workflow = request
        .job_workflow_ref
        .as_deref()
        .filter(|_| !keys.iter().any(|k| k == "job_workflow_ref"));
    let mut credentials = Vec::with_capacity(subjects.len());
    for (i, subject) in subjects.iter().enumerate() {
        let mut credential = if expression::has_wildcard(subject) || separate_workflow.is_some() {
            if issuer != GITHUB_ISSUER {
                let what = if expression::has_wildcard(subject) {
                    format!("the wildcard in {subject:?}")
                } else {
                    "--job-workflow-ref outside --claim-keys".to_owned()
                };
                return Err(FicError::FlexibleIssuer {
                    what,
                    issuer: issuer.to_owned(),
                });
            }
            let mut conditions = vec![Condition::new("sub", subject)];
            conditions.extend(separate_workflow.map(|w| Condition::new("job_workflow_ref", w)));
            Credential::flexible(issuer, &Expression { conditions }, &request.audience)
        } else {
            Credential::new(issuer, subject, &request.audience)
        };
        if let Some(name) = &request.name {
            credential.name = if i == 0 {
                name.clone()
            } else {
                format!("{name}-id")
            };
            if !valid_name(&credential.name) {
                return Err(FicError::Name(credential.name));
            }
        }
        credentials.push(credential);
    }
    Ok(credentials)
}

/// POSIX single-quoting.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests;
