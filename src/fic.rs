//! Federated identity credentials: the subject GitHub presents, and the credential that matches it,
//! as JSON (the Microsoft Graph body), `az` commands, Bicep resources or Terraform blocks.
//!
//! Subjects follow GitHub's OIDC reference
//! (<https://docs.github.com/en/actions/reference/security/oidc>): the default template, ID-based
//! subjects and `include_claim_keys` templates. Credential fields and limits follow Entra
//! (<https://learn.microsoft.com/graph/api/resources/federatedidentitycredential>); wildcards
//! become flexible credentials (`crate::expression`). `docs/federated-credentials.md` cites the
//! schema of every output format.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::expression::{self, Condition, Expression};

/// GitHub.com's issuer (GHEC enterprise issuers append `/<slug>`; GHES uses `https://HOST/_services/token`).
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Graph beta: the only Graph version whose federated credentials take `claimsMatchingExpression`.
pub const GRAPH_BETA: &str = "https://graph.microsoft.com/beta";

/// Managed-identity API version of exact credentials (GA).
pub const MSI_API: &str = "2023-01-31";

/// Managed-identity API version that added `claimsMatchingExpression` (preview).
pub const MSI_PREVIEW_API: &str = "2025-01-31-preview";

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

/// Why no credential can be generated; each message names the flag to change.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FicError {
    /// Entra's rule: 3–120 of `[A-Za-z0-9_-]`, starting with a letter or digit.
    #[error(
        "--name {0:?} is not a credential name Entra accepts: use 3 to 120 letters, digits, '-' or '_', starting with a letter or digit"
    )]
    Name(String),
    /// `--repository` is `OWNER/REPO`, as in the repository's URL.
    #[error("--repository {0:?} must be OWNER/REPO")]
    Repository(String),
    /// Entra only trusts HTTPS issuers.
    #[error("--issuer {0:?} must be an https:// URL (Entra only trusts HTTPS issuers)")]
    Issuer(String),
    /// The ref flag got a ref of the other kind, or nothing.
    #[error("{flag} {value:?}: {fix}")]
    Ref {
        /// `--branch` or `--tag`.
        flag: &'static str,
        /// What was given.
        value: String,
        /// What to pass instead.
        fix: String,
    },
    /// GitHub Enterprise Server issues only name-based subjects.
    #[error(
        "--owner-id/--repository-id: issuer {0} is not github.com or GitHub Enterprise Cloud, and GitHub Enterprise Server never issues ID-based subjects (repo:OWNER@ID/REPO@ID:...); drop both flags"
    )]
    IdsNotIssued(String),
    /// Entra matches wildcards (flexible credentials, preview) only for github.com's issuer.
    #[error(
        "{what} needs a flexible federated credential, which Entra supports only with --issuer {GITHUB_ISSUER} (not {issuer}); use exact values (one credential per branch or tag) or a GitHub environment"
    )]
    FlexibleIssuer {
        /// What made the credential flexible.
        what: String,
        /// The issuer given.
        issuer: String,
    },
    /// A subject needs a context (`--environment`, `--branch`, `--tag` or `--pull-request`).
    #[error(
        "say what the job runs for: --environment NAME, --branch NAME, --tag NAME or --pull-request (the subject's context)"
    )]
    NoEntity,
    /// GitHub claim keys are letters, digits and underscores.
    #[error(
        "--claim-keys: {0:?} is not a GitHub claim key (letters, digits and '_' only, e.g. repo,context,job_workflow_ref)"
    )]
    ClaimKey(String),
    /// A claim key of the template has no value to put in the subject.
    #[error("--claim-keys includes {key}, so the subject needs its value: {fix}")]
    MissingClaim {
        /// The claim key.
        key: String,
        /// The flag that supplies it.
        fix: String,
    },
    /// `--claim` takes `KEY=VALUE` for a key in `--claim-keys`.
    #[error("--claim {0:?}: {1}")]
    Claim(String, &'static str),
}

/// Escapes a value inside a subject as GitHub does: `:` becomes `%3A`.
pub fn escape_value(value: &str) -> String {
    value.replace(':', "%3A")
}

/// Strips the prefix people paste (`refs/heads/` from a branch, `refs/tags/` from a tag) and
/// refuses a ref of the other kind.
pub fn normalise_entity(entity: Entity) -> Result<Entity, FicError> {
    let (flag, value, own, other, other_flag) = match &entity {
        Entity::Branch(b) => ("--branch", b, "refs/heads/", "refs/tags/", "--tag"),
        Entity::Tag(t) => ("--tag", t, "refs/tags/", "refs/heads/", "--branch"),
        _ => return Ok(entity),
    };
    let error = |fix: String| FicError::Ref {
        flag,
        value: value.clone(),
        fix,
    };
    if let Some(rest) = value.strip_prefix(other) {
        return Err(error(format!(
            "that is not a {flag} ref; use {other_flag} {rest}"
        )));
    }
    if value.starts_with("refs/pull/") {
        return Err(error(
            "pull request runs present ...:pull_request; use --pull-request".to_owned(),
        ));
    }
    let name = value.strip_prefix(own).unwrap_or(value);
    if name.is_empty() {
        return Err(error(format!("give the name after {own}")));
    }
    Ok(match entity {
        Entity::Branch(_) => Entity::Branch(name.to_owned()),
        _ => Entity::Tag(name.to_owned()),
    })
}

/// The `context` part of a subject: `environment:NAME`, `ref:refs/heads/B`, `ref:refs/tags/T` or `pull_request`.
pub fn context(entity: &Entity) -> String {
    match entity {
        Entity::Environment(name) => format!("environment:{}", escape_value(name)),
        Entity::Branch(branch) => format!("ref:refs/heads/{}", escape_value(branch)),
        Entity::Tag(tag) => format!("ref:refs/tags/{}", escape_value(tag)),
        Entity::PullRequest => "pull_request".to_owned(),
    }
}

fn repo_segment(repository: &Repository, id_based: bool) -> Option<String> {
    Some(if id_based {
        format!(
            "{}@{}/{}@{}",
            repository.owner, repository.owner_id?, repository.name, repository.repository_id?
        )
    } else {
        format!("{}/{}", repository.owner, repository.name)
    })
}

/// The default-template subject: classic `repo:OWNER/REPO:…`, or ID-based `repo:OWNER@ID/REPO@ID:…`.
pub fn subject(repository: &Repository, entity: &Entity, id_based: bool) -> Option<String> {
    Some(format!(
        "repo:{}:{}",
        repo_segment(repository, id_based)?,
        context(entity)
    ))
}

/// What a customised subject is built from.
#[derive(Clone, Debug)]
pub struct TemplateValues<'a> {
    /// The run's context, if known.
    pub entity: Option<&'a Entity>,
    /// `job_workflow_ref` of the job.
    pub job_workflow_ref: Option<&'a str>,
    /// Other claims by key (`--claim KEY=VALUE`); they win over derived values.
    pub claims: &'a BTreeMap<String, String>,
}

/// The subject GitHub builds from an `include_claim_keys` template: `key:value` pairs in the
/// template's order, joined by `:`, except that `repo` is written `repo:OWNER/REPO` (or the ID
/// form) and `context` is the default subject's tail (`environment:…`, `ref:…`, `pull_request`).
pub fn templated_subject(
    repository: &Repository,
    id_based: bool,
    keys: &[String],
    values: &TemplateValues<'_>,
) -> Result<String, FicError> {
    let missing = |key: &str, fix: &str| FicError::MissingClaim {
        key: key.to_owned(),
        fix: fix.to_owned(),
    };
    let mut parts = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(value) = values.claims.get(key) {
            parts.push(format!("{key}:{}", escape_value(value)));
            continue;
        }
        let part = match key.as_str() {
            "repo" => format!(
                "repo:{}",
                repo_segment(repository, id_based)
                    .ok_or_else(|| missing(key, "--owner-id and --repository-id"))?
            ),
            "context" => context(values.entity.ok_or(FicError::NoEntity)?),
            other => {
                let derived = match (other, values.entity) {
                    ("repository_owner", _) => Some(repository.owner.clone()),
                    ("repository", _) => Some(format!("{}/{}", repository.owner, repository.name)),
                    ("repository_owner_id", _) => repository.owner_id.map(|id| id.to_string()),
                    ("repository_id", _) => repository.repository_id.map(|id| id.to_string()),
                    ("environment", Some(Entity::Environment(name))) => Some(name.clone()),
                    ("ref", Some(Entity::Branch(b))) => Some(format!("refs/heads/{b}")),
                    ("ref", Some(Entity::Tag(t))) => Some(format!("refs/tags/{t}")),
                    ("ref_type", Some(Entity::Branch(_))) => Some("branch".to_owned()),
                    ("ref_type", Some(Entity::Tag(_))) => Some("tag".to_owned()),
                    ("job_workflow_ref", _) => values.job_workflow_ref.map(str::to_owned),
                    _ => None,
                };
                let value = derived.ok_or_else(|| {
                    missing(
                        key,
                        &match other {
                            "repository_owner_id" => "--owner-id".to_owned(),
                            "repository_id" => "--repository-id".to_owned(),
                            "environment" => "--environment NAME (GitHub then requires the job to use an environment)".to_owned(),
                            "ref" | "ref_type" => "--branch or --tag".to_owned(),
                            "job_workflow_ref" => "--job-workflow-ref OWNER/REPO/.github/workflows/FILE.yml@REF".to_owned(),
                            _ => format!("--claim {other}=VALUE"),
                        },
                    )
                })?;
                format!("{key}:{}", escape_value(&value))
            }
        };
        parts.push(part);
    }
    Ok(parts.join(":"))
}

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

    fn audience(&self) -> &str {
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
        // A GUID needs no quotes (and reads better); anything else is quoted.
        let app = match app_id {
            None => "\"$APP_ID\"".to_owned(),
            Some(id) if id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => id.to_owned(),
            Some(other) => shell_quote(other),
        };
        if self.claims_matching_expression.is_some() {
            format!(
                "az rest --method POST --url \"{GRAPH_BETA}/applications/$(az ad app show --id {app} --query id --output tsv)/federatedIdentityCredentials\" --headers Content-Type=application/json --body {}",
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

/// Whether `name` is a credential name Entra accepts: 3–120 of `[A-Za-z0-9_-]`, the first a
/// letter or digit (the managed-identity API's pattern `^[a-zA-Z0-9]{1}[a-zA-Z0-9-_]{2,119}$`).
pub fn valid_name(name: &str) -> bool {
    (3..=120).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// 32-bit FNV-1a: a stable, dependency-free fingerprint that keeps shortened names distinct.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

fn sanitise(text: &str) -> String {
    let mut sanitized = String::new();
    for c in text.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '-'
        };
        if !(c == '-' && (sanitized.is_empty() || sanitized.ends_with('-'))) {
            sanitized.push(c);
        }
    }
    sanitized.trim_end_matches('-').to_owned()
}

/// `github-<tail>`, cut to 120 characters; a cut name ends in `-<8 hex digits>` of the whole
/// `source`, so two long sources that share their first 110 characters keep distinct names.
fn name_from(source: &str, tail: &str, always_hash: bool) -> String {
    let sanitized = sanitise(tail);
    let full = if sanitized.is_empty() {
        "github".to_owned()
    } else {
        format!("github-{sanitized}")
    };
    if full.len() <= 120 && !always_hash {
        return full;
    }
    let suffix = format!("-{:08x}", fnv1a(source));
    let mut kept = full;
    kept.truncate(120 - suffix.len());
    format!("{}{suffix}", kept.trim_end_matches('-'))
}

/// A credential name Entra accepts, derived from the subject: `github-<subject, sanitised>`.
pub fn credential_name(subject: &str) -> String {
    name_from(
        subject,
        subject.strip_prefix("repo:").unwrap_or(subject),
        false,
    )
}

/// A flexible credential's name: from the `sub` pattern, always with the hash suffix (a wildcard
/// sanitises to the same name as some exact subject would).
fn flexible_name(expression: &str) -> String {
    let pattern = expression::parse(expression)
        .ok()
        .and_then(|e| e.subject_pattern().map(str::to_owned))
        .unwrap_or_default();
    name_from(
        expression,
        pattern.strip_prefix("repo:").unwrap_or(&pattern),
        true,
    )
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
    let ids = request.owner_id.is_some() && request.repository_id.is_some();
    if ids && !issues_id_subjects(issuer) {
        return Err(FicError::IdsNotIssued(issuer.to_owned()));
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
    if ids && keys.iter().any(|k| k == "repo") {
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
            "note: a wildcard or a separate job_workflow_ref makes a flexible federated credential (Entra preview): issuer {GITHUB_ISSUER} only, claims sub and job_workflow_ref, operators eq and matches (* any run of characters, ? one) joined by `and`. App registrations: Microsoft Graph beta (az rest; use --format az); managed identities: API {MSI_PREVIEW_API}. Check it against a real token first: azure-oidc-token explain --expression \"...\""
        ));
    }
    notes
}

/// Renders `credentials` in `format`.
pub fn render(credentials: &[Credential], format: Format, app_id: Option<&str>) -> String {
    match format {
        Format::Json => credentials
            .iter()
            .map(|c| format!("{}\n", c.to_json()))
            .collect(),
        Format::Az => credentials
            .iter()
            .map(|c| {
                let preview = if c.claims_matching_expression.is_some() {
                    "# flexible credential (preview): Graph beta for an app registration, --claims-matching-expression-* for a managed identity\n"
                } else {
                    ""
                };
                format!(
                    "{preview}# app registration\n{}\n# or a user-assigned managed identity\n{}\n",
                    c.az_app_command(app_id),
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
                "// flexible credential (preview API)\n",
                format!(
                    "    claimsMatchingExpression: {{\n      value: {}\n      languageVersion: {}\n    }}\n",
                    bicep_string(&expression.value),
                    expression.language_version
                ),
            ),
            None => (
                MSI_API,
                "",
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

/// Which form a subject's `repo` segment has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubjectForm {
    /// `repo:OWNER/REPO:…`.
    NameBased,
    /// `repo:OWNER@ID/REPO@ID:…`.
    IdBased,
}

fn repo_value(subject: &str) -> Option<&str> {
    let start = if subject.starts_with("repo:") {
        0
    } else {
        subject.find(":repo:")? + 1
    };
    let rest = &subject[start + "repo:".len()..];
    Some(rest.split(':').next().unwrap_or(rest))
}

/// The form of `subject` (or of a pattern), if it has a `repo` segment.
pub fn subject_form(subject: &str) -> Option<SubjectForm> {
    let repo = repo_value(subject)?;
    if repo.contains('@') {
        Some(SubjectForm::IdBased)
    } else if repo.contains('/') {
        Some(SubjectForm::NameBased)
    } else {
        None
    }
}

/// The name-based subject of an ID-based one (the IDs dropped).
pub fn name_based(subject: &str) -> Option<String> {
    let repo = repo_value(subject)?;
    let (owner, name) = repo.split_once('/')?;
    let strip = |part: &str| part.split('@').next().unwrap_or(part).to_owned();
    let plain = format!("{}/{}", strip(owner), strip(name));
    Some(subject.replacen(&format!("repo:{repo}"), &format!("repo:{plain}"), 1))
}

/// Said when a subject's form differs from the credential's.
pub const FORM_SWITCH: &str = "GitHub switches a repository to the ID-based form when it is created, renamed or transferred after 15 July 2026, or when it opts in; until then it presents the name-based form";

/// A warning when `presented` and `credential` (a subject or a `sub` pattern) differ in form.
pub fn form_mismatch(presented: &str, credential: &str) -> Option<String> {
    let (have, want) = (subject_form(presented)?, subject_form(credential)?);
    (have != want).then(|| {
        let describe = |form| match form {
            SubjectForm::NameBased => "name-based (repo:OWNER/REPO:...)",
            SubjectForm::IdBased => "ID-based (repo:OWNER@ID/REPO@ID:...)",
        };
        format!(
            "warning: the token presents the {} subject form, the credential has the {} form; they never match. {FORM_SWITCH}.",
            describe(have),
            describe(want)
        )
    })
}

/// For a subject mismatch (AADSTS700213): what the presented subject's form means.
pub fn presented_form_note(presented: &str) -> Option<String> {
    match subject_form(presented)? {
        SubjectForm::IdBased => Some(format!(
            "This token presents the ID-based subject form; a credential with the name-based form {} does not match it. {FORM_SWITCH}.",
            serde_json::to_string(&name_based(presented)?).unwrap_or_default()
        )),
        SubjectForm::NameBased => Some(format!(
            "This token presents the name-based subject form; a credential with the ID-based form (repo:OWNER@ID/REPO@ID:..., which the Azure portal proposes) does not match it. {FORM_SWITCH}."
        )),
    }
}

/// A Bicep/Terraform identifier from a credential name (starting with a letter).
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

    fn request(entity: Entity) -> Request {
        Request {
            repository: "octo-org/octo-repo".to_owned(),
            entity: Some(entity),
            issuer: GITHUB_ISSUER.to_owned(),
            audience: "api://AzureADTokenExchange".to_owned(),
            ..Request::default()
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
    fn names_follow_entras_rule() {
        for good in ["abc", "a-_", "0ab", &"x".repeat(120)] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "x",
            "ab",
            "has space",
            "_abc",
            "-abc",
            "ab.c",
            "é12",
            &"x".repeat(121),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
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
        assert!(valid_name(&long), "{long}");
        assert_eq!(credential_name(""), "github");
    }

    #[test]
    fn shortened_names_stay_distinct() {
        let repo = format!("repo:octo-org/{}", "a".repeat(100));
        let names: Vec<String> = ["release/2025", "release/2026"]
            .iter()
            .map(|b| credential_name(&format!("{repo}:ref:refs/heads/{b}")))
            .collect();
        assert_ne!(names[0], names[1]);
        for name in &names {
            assert_eq!(name.len(), 120, "{name}");
            assert!(valid_name(name), "{name}");
        }
        // Deterministic: the same subject always gets the same name.
        assert_eq!(
            names[0],
            credential_name(&format!("{repo}:ref:refs/heads/release/2025"))
        );
        // FNV-1a 32 test vectors (draft-eastlake-fnv): "" and "a".
        assert_eq!(fnv1a(""), 0x811c_9dc5);
        assert_eq!(fnv1a("a"), 0xe40c_292c);
    }

    #[test]
    fn full_refs_are_normalised_and_crossed_refs_refused() {
        assert_eq!(
            normalise_entity(Entity::Branch("refs/heads/main".to_owned())),
            Ok(Entity::Branch("main".to_owned()))
        );
        assert_eq!(
            normalise_entity(Entity::Tag("refs/tags/v1".to_owned())),
            Ok(Entity::Tag("v1".to_owned()))
        );
        let crossed =
            normalise_entity(Entity::Branch("refs/tags/v1".to_owned())).expect_err("a tag ref");
        assert!(crossed.to_string().contains("use --tag v1"), "{crossed}");
        assert!(normalise_entity(Entity::Branch("refs/heads/".to_owned())).is_err());
        assert!(normalise_entity(Entity::Branch("refs/pull/1/merge".to_owned())).is_err());
    }

    #[test]
    fn wildcards_make_flexible_credentials() {
        let made = credentials(&request(Entity::Branch("release/*".to_owned()))).expect("ok");
        assert_eq!(made.len(), 1);
        assert_eq!(
            made[0].subject, None,
            "subject and expression are exclusive"
        );
        assert_eq!(
            made[0].expression(),
            Some("claims['sub'] matches 'repo:octo-org/octo-repo:ref:refs/heads/release/*'")
        );
        assert!(valid_name(&made[0].name));
        let exact = credentials(&request(Entity::Branch("release".to_owned()))).expect("ok");
        assert_ne!(made[0].name, exact[0].name);
        let json: serde_json::Value = serde_json::from_str(&made[0].to_json()).expect("json");
        assert_eq!(json["claimsMatchingExpression"]["languageVersion"], 1);
        assert!(json.get("subject").is_none());
    }

    #[test]
    fn flexible_credentials_need_github_coms_issuer() {
        let mut ghes = request(Entity::Branch("a*".to_owned()));
        ghes.issuer = "https://ghes.example/_services/token".to_owned();
        assert!(matches!(
            credentials(&ghes),
            Err(FicError::FlexibleIssuer { .. })
        ));
        let mut ghec = request(Entity::Branch("a*".to_owned()));
        ghec.issuer = format!("{GITHUB_ISSUER}/octo-inc");
        assert!(matches!(
            credentials(&ghec),
            Err(FicError::FlexibleIssuer { .. })
        ));
    }

    #[test]
    fn id_subjects_are_refused_for_ghes() {
        let mut ghes = request(Entity::Branch("main".to_owned()));
        ghes.issuer = "https://ghes.example/_services/token".to_owned();
        ghes.owner_id = Some(1);
        ghes.repository_id = Some(2);
        assert!(matches!(credentials(&ghes), Err(FicError::IdsNotIssued(_))));
        ghes.issuer = format!("{GITHUB_ISSUER}/octo-inc");
        assert_eq!(credentials(&ghes).expect("GHEC issues them").len(), 2);
        ghes.issuer = "https://token.actions.octocorp.ghe.com".to_owned();
        assert_eq!(credentials(&ghes).expect("GHE.com issues them").len(), 2);
    }

    #[test]
    fn claim_key_templates_follow_githubs_order_and_format() {
        let mut custom = request(Entity::Environment("prod".to_owned()));
        custom.claim_keys = Some(vec![
            "repo".to_owned(),
            "context".to_owned(),
            "job_workflow_ref".to_owned(),
        ]);
        custom.job_workflow_ref =
            Some("octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main".to_owned());
        // GitHub's example for this template, verbatim.
        assert_eq!(
            credentials(&custom).expect("ok")[0].subject.as_deref(),
            Some(
                "repo:octo-org/octo-repo:environment:prod:job_workflow_ref:octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main"
            )
        );
        let mut owner = request(Entity::Environment("production:eastus".to_owned()));
        owner.claim_keys = Some(vec![
            "environment".to_owned(),
            "repository_owner".to_owned(),
        ]);
        assert_eq!(
            credentials(&owner).expect("ok")[0].subject.as_deref(),
            Some("environment:production%3Aeastus:repository_owner:octo-org")
        );
        let mut property = request(Entity::Branch("main".to_owned()));
        property.claim_keys = Some(vec![
            "repo_property_workspace_id".to_owned(),
            "repo".to_owned(),
        ]);
        assert!(matches!(
            credentials(&property),
            Err(FicError::MissingClaim { .. })
        ));
        property.claims = vec!["repo_property_workspace_id=ws:42".to_owned()];
        assert_eq!(
            credentials(&property).expect("ok")[0].subject.as_deref(),
            Some("repo_property_workspace_id:ws%3A42:repo:octo-org/octo-repo")
        );
        property.claims = vec!["actor=octocat".to_owned()];
        assert!(matches!(credentials(&property), Err(FicError::Claim(..))));
    }

    #[test]
    fn a_separate_workflow_ref_is_matched_by_its_own_condition() {
        let mut any_ref = request(Entity::Environment("prod".to_owned()));
        any_ref.job_workflow_ref = Some("octo-org/deploy/.github/workflows/d.yml@*".to_owned());
        let made = credentials(&any_ref).expect("ok");
        assert_eq!(
            made[0].expression(),
            Some(
                "claims['sub'] eq 'repo:octo-org/octo-repo:environment:prod' and claims['job_workflow_ref'] matches 'octo-org/deploy/.github/workflows/d.yml@*'"
            )
        );
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
        assert_eq!(json.lines().count(), 2, "one object per line: {json}");
    }

    #[test]
    fn identifiers_start_with_a_letter() {
        assert_eq!(identifier("1abc", false), "fic1abc");
        assert_eq!(identifier("1a-b", true), "fic_1a_b");
    }

    #[test]
    fn subject_forms_are_told_apart() {
        let id = "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main";
        let name = "repo:octo-org/octo-repo:ref:refs/heads/main";
        assert_eq!(subject_form(id), Some(SubjectForm::IdBased));
        assert_eq!(subject_form(name), Some(SubjectForm::NameBased));
        assert_eq!(
            subject_form("environment:prod:repo:o@1/r@2:x"),
            Some(SubjectForm::IdBased)
        );
        assert_eq!(subject_form("repository_owner:octo-org"), None);
        assert_eq!(name_based(id).as_deref(), Some(name));
        assert!(form_mismatch(id, name).is_some_and(|w| w.contains("renamed or transferred")));
        assert!(form_mismatch(name, "repo:octo-org/octo-repo:ref:refs/heads/*").is_none());
        assert!(presented_form_note(id).is_some_and(|n| n.contains(name)));
        assert!(presented_form_note(name).is_some_and(|n| n.contains("ID-based form")));
    }
}
