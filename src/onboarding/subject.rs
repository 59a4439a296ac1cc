//! Subjects as GitHub issues them (<https://docs.github.com/en/actions/reference/security/oidc>):
//! the default template `repo:OWNER/REPO:CONTEXT`, the ID-based form `repo:OWNER@ID/REPO@ID:…`,
//! customised `include_claim_keys` templates, and telling the two repository forms apart.

use std::collections::BTreeMap;

use crate::onboarding::credential_error::FicError;

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
                    // The context flags exclude each other: with one given, a value only another
                    // one could give comes from --claim.
                    let exclusive = "(--environment, --branch, --tag and --pull-request exclude each other)";
                    missing(
                        key,
                        &match (other, values.entity) {
                            ("repository_owner_id", _) => "--owner-id".to_owned(),
                            ("repository_id", _) => "--repository-id".to_owned(),
                            ("environment", None) => "--environment NAME (GitHub then requires the job to use an environment)".to_owned(),
                            ("environment", Some(_)) => format!("--claim environment=NAME {exclusive}; GitHub then requires the job to use an environment"),
                            ("ref" | "ref_type", None) => "--branch or --tag".to_owned(),
                            ("ref", Some(_)) => format!("--claim ref=REF, e.g. ref=refs/heads/main {exclusive}"),
                            ("ref_type", Some(_)) => format!("--claim ref_type=branch or ref_type=tag {exclusive}"),
                            ("job_workflow_ref", _) => "--job-workflow-ref OWNER/REPO/.github/workflows/FILE.yml@REF".to_owned(),
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

#[cfg(test)]
mod tests;
