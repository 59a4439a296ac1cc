//! The audit's judgement: pure functions from a credential as Entra holds it and what GitHub said
//! about its repository to [`Finding`]s, each with the fix. No I/O: the fetching is in
//! [`crate::audit::fetch`], the rendering in [`crate::audit::render`].
//!
//! Subjects follow GitHub's OIDC reference
//! (<https://docs.github.com/en/actions/reference/security/oidc>): the default template
//! `repo:OWNER/REPO:CONTEXT`, the ID-based form `repo:OWNER@ID/REPO@ID:CONTEXT`, and
//! `include_claim_keys` templates (`key:value` pairs, `:` inside a value escaped as `%3A`).
//! Entra compares issuer, subject and audience exactly and case-sensitively
//! (<https://learn.microsoft.com/entra/workload-id/workload-identity-federation>) and holds at most
//! 20 federated credentials per app or identity
//! (<https://learn.microsoft.com/entra/workload-id/workload-identity-federation-considerations>).

use crate::audit::findings::{
    Code, Deployed, Finding, GitHubFacts, Lookup, PresentedForm, Repository, Template,
};
use crate::onboarding::credential::shell_quote;
use crate::onboarding::expression;

/// Entra's limit of federated credentials per app registration or managed identity.
pub const CREDENTIAL_LIMIT: usize = 20;

/// From this many credentials on, the audit warns (`capacity`).
pub const CAPACITY_WARNING: usize = 18;

const GITHUB_HOST: &str = "token.actions.githubusercontent.com";

/// What an issuer is, for the audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssuerKind {
    /// Exactly a GitHub issuer: github.com (optionally `/ENTERPRISE-SLUG`) or a GHE.com
    /// `token.actions.SUBDOMAIN.ghe.com`.
    GitHub {
        /// `SUBDOMAIN` of a GHE.com issuer; `None` for github.com.
        ghe_subdomain: Option<String>,
    },
    /// Not exactly, but a trailing slash, `http://` or letter case away from one.
    NearGitHub {
        /// The GitHub issuer it was meant to be.
        canonical: String,
    },
    /// Another issuer (GitHub Enterprise Server, another CI, Kubernetes): not checked against GitHub.
    Other,
}

/// The GHE.com subdomain (`Some("")` for github.com) if `issuer` is exactly a GitHub issuer.
fn github_issuer(issuer: &str) -> Option<Option<String>> {
    let rest = issuer.strip_prefix("https://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    // An enterprise slug is one path segment, no trailing slash.
    if !path.is_empty()
        && (path.contains('/') || !path.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return None;
    }
    if rest.ends_with('/') {
        return None;
    }
    if host == GITHUB_HOST {
        return Some(None);
    }
    let subdomain = host
        .strip_prefix("token.actions.")?
        .strip_suffix(".ghe.com")?;
    let valid = !subdomain.is_empty()
        && subdomain
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    valid.then(|| Some(subdomain.to_owned()))
}

/// Classifies an issuer as stored in Entra.
pub fn issuer_kind(issuer: &str) -> IssuerKind {
    if let Some(ghe_subdomain) = github_issuer(issuer) {
        return IssuerKind::GitHub { ghe_subdomain };
    }
    let lowered = issuer.trim().to_ascii_lowercase();
    let https = match lowered.strip_prefix("http://") {
        Some(rest) => format!("https://{rest}"),
        None => lowered,
    };
    let canonical = https.trim_end_matches('/').to_owned();
    if github_issuer(&canonical).is_some() {
        IssuerKind::NearGitHub { canonical }
    } else {
        IssuerKind::Other
    }
}

/// The repository a subject names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoRef {
    /// Owner login as written in the subject.
    pub owner: String,
    /// Repository name as written in the subject.
    pub name: String,
    /// `(owner ID, repository ID)` of an ID-based subject.
    pub ids: Option<(u64, u64)>,
}

impl RepoRef {
    /// `OWNER/NAME` as written.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// A subject taken apart: its keys in order (`repo`, `environment`, `ref`, `pull_request`, or a
/// template's other claim keys) and what the audit needs from the values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectParts {
    /// The keys in order.
    pub keys: Vec<String>,
    /// The `repo` segment.
    pub repo: Option<RepoRef>,
    /// The `environment` value, unescaped.
    pub environment: Option<String>,
    /// Whether the subject ends in `pull_request`.
    pub pull_request: bool,
    /// The `ref` value (`refs/heads/…`, `refs/tags/…`), unescaped.
    pub reference: Option<String>,
}

fn parse_repo(value: &str) -> Option<RepoRef> {
    let (owner, name) = value.split_once('/')?;
    if owner.is_empty() || name.is_empty() || name.contains('/') {
        return None;
    }
    let split = |part: &str| match part.split_once('@') {
        Some((name, id)) => id.parse::<u64>().ok().map(|id| (name.to_owned(), Some(id))),
        None => Some((part.to_owned(), None)),
    };
    let ((owner, owner_id), (name, repo_id)) = (split(owner)?, split(name)?);
    let ids = match (owner_id, repo_id) {
        (Some(o), Some(r)) => Some((o, r)),
        (None, None) => None,
        _ => return None,
    };
    Some(RepoRef { owner, name, ids })
}

/// Takes a subject apart, `None` if it is not `key:value` pairs as GitHub writes them.
pub fn parse_subject(subject: &str) -> Option<SubjectParts> {
    let tokens: Vec<&str> = subject.split(':').collect();
    let mut parts = SubjectParts {
        keys: Vec::new(),
        repo: None,
        environment: None,
        pull_request: false,
        reference: None,
    };
    let mut i = 0;
    while i < tokens.len() {
        let key = tokens[i];
        if key.is_empty() {
            return None;
        }
        parts.keys.push(key.to_owned());
        if key == "pull_request" {
            parts.pull_request = true;
            i += 1;
            continue;
        }
        let value = *tokens.get(i + 1)?;
        match key {
            "repo" => parts.repo = Some(parse_repo(value)?),
            "environment" => parts.environment = Some(value.replace("%3A", ":")),
            "ref" => parts.reference = Some(value.replace("%3A", ":")),
            _ => {}
        }
        i += 2;
    }
    Some(parts)
}

/// Whether a subject with `keys` is one a template of `template` keys produces: `context` stands
/// for `environment`, `ref` or `pull_request`.
pub fn fits_template(template: &[String], keys: &[String]) -> bool {
    template.len() == keys.len()
        && template.iter().zip(keys).all(|(t, k)| {
            t == k
                || (t == "context" && matches!(k.as_str(), "environment" | "ref" | "pull_request"))
        })
}

/// The default template's keys.
pub fn default_template() -> Vec<String> {
    vec!["repo".to_owned(), "context".to_owned()]
}

/// `subject` with its `repo` segment rewritten for `repository` (ID form if `id_based`).
pub fn subject_for(subject: &str, repository: &Repository, id_based: bool) -> Option<String> {
    let parts = parse_subject(subject)?;
    let old = parts.repo?;
    let old_segment = match old.ids {
        Some((o, r)) => format!("repo:{}@{o}/{}@{r}", old.owner, old.name),
        None => format!("repo:{}", old.full_name()),
    };
    let (owner, name) = repository.full_name.split_once('/')?;
    let new_segment = if id_based {
        format!(
            "repo:{owner}@{}/{name}@{}",
            repository.owner_id, repository.id
        )
    } else {
        format!("repo:{owner}/{name}")
    };
    Some(subject.replacen(&old_segment, &new_segment, 1))
}

/// The repository a credential's subject (or flexible pattern) names, with its environment: what
/// the fetcher asks GitHub about. `None` for other issuers and subjects without a `repo` segment.
pub fn repository_of(credential: &Deployed) -> Option<(RepoRef, Option<String>)> {
    if issuer_kind(&credential.issuer) == IssuerKind::Other {
        return None;
    }
    let subject = credential.subject.as_deref()?;
    let parts = parse_subject(subject)?;
    Some((parts.repo?, parts.environment))
}

/// What the classifier needs besides the credential.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The cloud's token-exchange audience (`api://AzureADTokenExchange…`).
    pub audience: &'a str,
    /// The cloud's name, for messages.
    pub cloud: &'a str,
}

fn ref_under<'a>(parts: &'a SubjectParts, prefix: &str) -> Option<&'a str> {
    parts.reference.as_deref()?.strip_prefix(prefix)
}

fn id_command(repository: &Repository, parts: &SubjectParts) -> String {
    let context = if parts.pull_request {
        " --pull-request".to_owned()
    } else if let Some(environment) = &parts.environment {
        format!(" --environment {}", shell_quote(environment))
    } else if let Some(branch) = ref_under(parts, "refs/heads/") {
        format!(" --branch {}", shell_quote(branch))
    } else if let Some(tag) = ref_under(parts, "refs/tags/") {
        format!(" --tag {}", shell_quote(tag))
    } else {
        " --branch|--tag …".to_owned()
    };
    // A customised template needs its keys (and the values they name, e.g. --job-workflow-ref).
    let template = match &repository.template {
        Template::Custom(keys) => format!(" --claim-keys {} …", keys.join(",")),
        Template::Default | Template::Unknown => String::new(),
    };
    format!(
        "azure-oidc-token federated-credential --repository {}{context}{template} --owner-id {} --repository-id {}",
        repository.full_name, repository.owner_id, repository.id
    )
}

fn form_note(form: PresentedForm) -> &'static str {
    match form {
        PresentedForm::NameBased => "GitHub says the repository presents the name-based form today",
        PresentedForm::IdBased => "GitHub says the repository presents the ID-based form today",
        PresentedForm::Unknown => {
            "which form the repository presents today is unknown (GitHub's API did not say)"
        }
    }
}

/// The findings about one credential's subject against what GitHub said.
fn subject_findings(
    subject: &str,
    issues_ids: bool,
    facts: Option<&GitHubFacts>,
    findings: &mut Vec<Finding>,
) {
    let Some(parts) = parse_subject(subject) else {
        return;
    };
    let Some(repo) = &parts.repo else {
        return;
    };
    if parts.pull_request {
        findings.push(Finding::new(
            Code::PullRequestSubject,
            format!(
                "trusts every pull_request run of {}, whatever branch it comes from: give the deployment a GitHub environment with protection rules and trust ...:environment:NAME instead",
                repo.full_name()
            ),
        ));
    }
    let lookup = facts.map(|f| &f.lookup);
    let written = repo.full_name();
    match lookup {
        Some(Lookup::NotFound) => {
            let private = if facts.is_some_and(|f| f.authenticated) {
                " (a private repository the GitHub token cannot read answers 404 too: check with a token that can read it before deleting)"
            } else {
                " (without GITHUB_TOKEN a private repository also answers 404: check with a token that can read it before deleting)"
            };
            let what = if repo.ids.is_some() {
                "it can never match again"
            } else {
                "anyone who creates a repository of that name gets tokens this credential accepts"
            };
            findings.push(Finding::new(
                Code::RepositoryNotFound,
                format!(
                    "GitHub has no repository {written}{}: {what}; delete this credential{private}",
                    repo.ids
                        .map(|(_, id)| format!(" (ID {id})"))
                        .unwrap_or_default()
                ),
            ));
            return;
        }
        Some(Lookup::Moved { now }) => {
            let target = now
                .as_ref()
                .map_or("another name".to_owned(), |r| r.full_name.clone());
            let fix = now
                .as_ref()
                .map(|r| format!(" ({})", id_command(r, &parts)))
                .unwrap_or_default();
            findings.push(Finding::new(
                Code::RepositoryRenamed,
                format!(
                    "{written} was renamed or transferred to {target}: GitHub no longer issues this subject, and the old name can be registered by anyone; create the credential for the new name{fix} and delete this one"
                ),
            ));
            return;
        }
        Some(Lookup::Found(repository)) => {
            if !repository.full_name.eq_ignore_ascii_case(&written) {
                // An ID-based subject whose IDs now belong to another name.
                let fix = subject_for(subject, repository, true).unwrap_or_default();
                findings.push(Finding::new(
                    Code::RepositoryRenamed,
                    format!(
                        "the IDs in this subject now belong to {}, not {written}: GitHub issues {fix:?} instead; create a credential with that subject and delete this one",
                        repository.full_name
                    ),
                ));
                return;
            }
            if repository.full_name != written {
                let fixed =
                    subject_for(subject, repository, repo.ids.is_some()).unwrap_or_default();
                findings.push(Finding::new(
                    Code::CaseMismatch,
                    format!(
                        "GitHub spells the repository {}, and Entra compares subjects case-sensitively: this subject never matches; recreate the credential with subject {fixed:?}",
                        repository.full_name
                    ),
                ));
            }
            if let (Some(environment), Some(false)) =
                (&parts.environment, facts.and_then(|f| f.environment_exists))
            {
                findings.push(Finding::new(
                    Code::EnvironmentNotFound,
                    format!(
                        "{} has no environment {environment:?}: create it (with protection rules) or delete this credential; whoever creates an environment of that name later gets its trust",
                        repository.full_name
                    ),
                ));
            }
            form_findings(subject, &parts, repository, findings);
        }
        Some(Lookup::Unknown(_)) | None => {}
    }
    if repo.ids.is_none() && issues_ids {
        let (target, form) = match lookup {
            Some(Lookup::Found(repository)) => (
                format!(
                    "add a credential with subject {:?} ({}), ",
                    subject_for(subject, repository, true).unwrap_or_default(),
                    id_command(repository, &parts)
                ),
                repository.form,
            ),
            _ => (
                format!(
                    "look up the IDs (gh api repos/{written} --jq '.owner.id, .id'), add a credential with the ID-based subject (azure-oidc-token federated-credential --owner-id N --repository-id N), "
                ),
                PresentedForm::Unknown,
            ),
        };
        findings.push(Finding::new(
            Code::MutableSubject,
            format!(
                "name-based subject: if {written} is renamed, transferred or deleted, whoever takes the name gets its trust. Move to the ID form without an outage: {target}switch the repository to ID-based subjects (or let GitHub switch it), then delete this credential once runs present the ID form; {}",
                form_note(form)
            ),
        ));
    }
}

/// `subject-form-mismatch`: the repository's template or `repo` form cannot produce `subject`.
fn form_findings(
    subject: &str,
    parts: &SubjectParts,
    repository: &Repository,
    findings: &mut Vec<Finding>,
) {
    let template = match &repository.template {
        Template::Default => Some(default_template()),
        Template::Custom(keys) => Some(keys.clone()),
        Template::Unknown => None,
    };
    if let Some(template) = template
        && !fits_template(&template, &parts.keys)
    {
        let described = if repository.template == Template::Default {
            "GitHub's default subject template (repo, context)".to_owned()
        } else {
            format!("the customised subject template {}", template.join(","))
        };
        let flag = if repository.template == Template::Default {
            String::new()
        } else {
            format!(" --claim-keys {}", template.join(","))
        };
        findings.push(Finding::new(
            Code::SubjectFormMismatch,
            format!(
                "{} uses {described}, so its tokens never carry a subject of the form {}: recreate the credential for that template (azure-oidc-token federated-credential --repository {}{flag} ...) and delete this one",
                repository.full_name,
                parts.keys.join(","),
                repository.full_name
            ),
        ));
        return;
    }
    if !parts.keys.iter().any(|k| k == "repo") {
        return;
    }
    let id_based = parts.repo.as_ref().is_some_and(|r| r.ids.is_some());
    let mismatch = match repository.form {
        PresentedForm::IdBased => !id_based,
        PresentedForm::NameBased => id_based,
        PresentedForm::Unknown => false,
    };
    if mismatch {
        let (have, want) = if id_based {
            ("name-based (repo:OWNER/REPO)", "ID-based")
        } else {
            ("ID-based (repo:OWNER@ID/REPO@ID)", "name-based")
        };
        let fixed = subject_for(subject, repository, !id_based).unwrap_or_default();
        findings.push(Finding::new(
            Code::SubjectFormMismatch,
            format!(
                "{} presents the {have} subject form and this credential has the {want} form, so it never matches: add a credential with subject {fixed:?}, then delete this one",
                repository.full_name
            ),
        ));
    }
}

/// `wildcard-owner` for a flexible credential's expression.
fn expression_findings(text: &str, findings: &mut Vec<Finding>) {
    let Ok(parsed) = expression::parse(text) else {
        return;
    };
    let Some(pattern) = parsed.subject_pattern() else {
        return;
    };
    let repo_segment = pattern
        .strip_prefix("repo:")
        .or_else(|| pattern.find(":repo:").map(|at| &pattern[at + 6..]))
        .map(|rest| rest.split(':').next().unwrap_or(rest));
    let wide = match repo_segment {
        Some(segment) => expression::has_wildcard(segment),
        None => pattern.starts_with(['*', '?']),
    };
    if wide {
        let owner = repo_segment
            .and_then(|s| s.split('/').next())
            .filter(|o| !expression::has_wildcard(o));
        let scope = owner.map_or("every repository of every owner".to_owned(), |o| {
            format!("every repository of {o} whose name fits the pattern")
        });
        findings.push(Finding::new(
            Code::WildcardOwner,
            format!(
                "the pattern {pattern:?} matches {scope}, including repositories created later: name the repositories, or trust a protected GitHub environment"
            ),
        ));
    }
    if pattern.ends_with(":pull_request") {
        findings.push(Finding::new(
            Code::PullRequestSubject,
            format!(
                "the pattern {pattern:?} trusts pull_request runs: give the deployment a protected GitHub environment and trust ...:environment:NAME instead"
            ),
        ));
    }
}

/// Every finding about one credential, except those that compare it with others
/// ([`duplicates`]) or with a declaration ([`crate::audit::plan`]).
pub fn classify(
    credential: &Deployed,
    facts: Option<&GitHubFacts>,
    context: &Context<'_>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let kind = issuer_kind(&credential.issuer);
    if let IssuerKind::NearGitHub { canonical } = &kind {
        findings.push(Finding::new(
            Code::IssuerMismatch,
            format!(
                "issuer {:?} is not exactly GitHub's {canonical:?}: Entra compares issuers character for character, so no GitHub token matches; set the issuer to {canonical:?}",
                credential.issuer
            ),
        ));
    }
    for audience in &credential.audiences {
        if audience != context.audience {
            findings.push(Finding::new(
                Code::UnusualAudience,
                format!(
                    "audience {audience:?} is not {:?}, the one Entra recommends in {}: every job must request exactly this audience; use {:?} unless a tool needs this one",
                    context.audience, context.cloud, context.audience
                ),
            ));
        }
    }
    if let Some(text) = &credential.expression {
        expression_findings(text, &mut findings);
    }
    if kind != IssuerKind::Other
        && let Some(subject) = &credential.subject
    {
        // GitHub Enterprise Server never issues ID-based subjects; github.com and GHE.com do.
        subject_findings(subject, true, facts, &mut findings);
    }
    findings
}

/// `duplicate` findings, one list per credential in `all` (same order).
pub fn duplicates(all: &[Deployed]) -> Vec<Vec<Finding>> {
    let key = |c: &Deployed| {
        let mut audiences = c.audiences.clone();
        audiences.sort();
        (
            c.issuer.clone(),
            c.subject.clone(),
            c.expression.clone(),
            audiences,
        )
    };
    all.iter()
        .enumerate()
        .map(|(i, credential)| {
            let mine = key(credential);
            all.iter()
                .enumerate()
                .filter(|(j, other)| *j != i && key(other) == mine)
                .map(|(_, other)| {
                    Finding::new(
                        Code::Duplicate,
                        format!(
                            "same issuer, subject and audiences as {:?}: delete one of them (each takes one of the {CREDENTIAL_LIMIT} slots)",
                            other.name
                        ),
                    )
                })
                .collect()
        })
        .collect()
}

/// `capacity`, if `count` credentials leave little room.
pub fn capacity(count: usize, target: &str) -> Option<Finding> {
    (count >= CAPACITY_WARNING).then(|| {
        Finding::new(
            Code::Capacity,
            format!(
                "{count} of the {CREDENTIAL_LIMIT} federated credentials {target} may hold are used: a move to ID-based subjects needs one extra credential per subject while both forms are live; delete dead credentials first"
            ),
        )
    })
}

/// Whether the presented form, as GitHub's customization endpoint reports it, is known: from
/// `sub_claim_prefix` first (the prefix GitHub says it writes), else `use_immutable_subject`.
pub fn presented_form(
    sub_claim_prefix: Option<&str>,
    use_immutable: Option<bool>,
) -> PresentedForm {
    if let Some(prefix) = sub_claim_prefix
        && let Some(repo) = prefix.strip_prefix("repo:")
    {
        let repo = repo.split(':').next().unwrap_or(repo);
        return if repo.contains('@') {
            PresentedForm::IdBased
        } else {
            PresentedForm::NameBased
        };
    }
    match use_immutable {
        Some(true) => PresentedForm::IdBased,
        Some(false) => PresentedForm::NameBased,
        None => PresentedForm::Unknown,
    }
}

#[cfg(test)]
mod tests;
