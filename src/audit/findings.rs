//! The audit's vocabulary: the finding codes and their severities (exactly as
//! `docs/federated-credentials.md` lists them), a credential as Entra holds it, and what GitHub
//! said about the repository its subject names. Plain data, no I/O.

use serde::Serialize;

/// How bad a finding is: errors fail the audit (exit 2), warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The credential is dead, dangerous or drifted: act on it.
    Error,
    /// The credential works but is fragile or broad.
    Warning,
}

/// What a finding is about; the codes are a public contract (JSON output, docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    /// GitHub answers 404 for the subject's repository: the name can be claimed by anyone.
    RepositoryNotFound,
    /// The subject names a repository GitHub now knows under another name.
    RepositoryRenamed,
    /// The subject's environment does not exist in the repository.
    EnvironmentNotFound,
    /// The repository cannot present this subject (customised template, or the other ID form).
    SubjectFormMismatch,
    /// The issuer is close to a GitHub issuer but not exactly one.
    IssuerMismatch,
    /// The subject differs from the repository's canonical name only in letter case.
    CaseMismatch,
    /// `--declared` names a credential Entra does not have.
    NotDeployed,
    /// Declared and deployed under the same name, with different content.
    DiffersFromDeclared,
    /// A name-based subject: someone who takes over the name gets the trust.
    MutableSubject,
    /// The subject trusts every pull request of the repository.
    PullRequestSubject,
    /// A flexible credential matching every repository of an owner, or wider.
    WildcardOwner,
    /// Two credentials with the same issuer, subject and audiences.
    Duplicate,
    /// An audience other than the cloud's token-exchange audience.
    UnusualAudience,
    /// In Entra, not in the declaration.
    Undeclared,
    /// 18 or more of the 20 credentials an app or identity may hold are used.
    Capacity,
}

impl Code {
    /// Every code, in the order of the documentation's table.
    pub const ALL: [Code; 15] = [
        Code::RepositoryNotFound,
        Code::RepositoryRenamed,
        Code::EnvironmentNotFound,
        Code::SubjectFormMismatch,
        Code::IssuerMismatch,
        Code::CaseMismatch,
        Code::NotDeployed,
        Code::DiffersFromDeclared,
        Code::MutableSubject,
        Code::PullRequestSubject,
        Code::WildcardOwner,
        Code::Duplicate,
        Code::UnusualAudience,
        Code::Undeclared,
        Code::Capacity,
    ];

    /// The code as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::RepositoryNotFound => "repository-not-found",
            Code::RepositoryRenamed => "repository-renamed",
            Code::EnvironmentNotFound => "environment-not-found",
            Code::SubjectFormMismatch => "subject-form-mismatch",
            Code::IssuerMismatch => "issuer-mismatch",
            Code::CaseMismatch => "case-mismatch",
            Code::NotDeployed => "not-deployed",
            Code::DiffersFromDeclared => "differs-from-declared",
            Code::MutableSubject => "mutable-subject",
            Code::PullRequestSubject => "pull-request-subject",
            Code::WildcardOwner => "wildcard-owner",
            Code::Duplicate => "duplicate",
            Code::UnusualAudience => "unusual-audience",
            Code::Undeclared => "undeclared",
            Code::Capacity => "capacity",
        }
    }

    /// Its severity, fixed per code.
    pub fn severity(self) -> Severity {
        match self {
            Code::RepositoryNotFound
            | Code::RepositoryRenamed
            | Code::EnvironmentNotFound
            | Code::SubjectFormMismatch
            | Code::IssuerMismatch
            | Code::CaseMismatch
            | Code::NotDeployed
            | Code::DiffersFromDeclared => Severity::Error,
            Code::MutableSubject
            | Code::PullRequestSubject
            | Code::WildcardOwner
            | Code::Duplicate
            | Code::UnusualAudience
            | Code::Undeclared
            | Code::Capacity => Severity::Warning,
        }
    }
}

/// One finding: its code and a message that says what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What it is about.
    pub code: Code,
    /// What was found and what to do.
    pub message: String,
}

impl Finding {
    /// A finding of `code`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A federated identity credential as Entra holds it (Graph or ARM), or as a declaration names it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Deployed {
    /// Its name (unique per app or identity).
    pub name: String,
    /// Its issuer, as stored.
    pub issuer: String,
    /// The exact subject, if not flexible.
    pub subject: Option<String>,
    /// The flexible credential's `claimsMatchingExpression.value`.
    pub expression: Option<String>,
    /// Its audiences.
    pub audiences: Vec<String>,
}

/// Which subject form a repository presents, as far as GitHub's API says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresentedForm {
    /// `repo:OWNER/REPO:…`.
    NameBased,
    /// `repo:OWNER@ID/REPO@ID:…`.
    IdBased,
    /// The API did not say: never guessed.
    Unknown,
}

/// The subject template a repository uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Template {
    /// GitHub's default (`repo`, `context`).
    Default,
    /// A customised `include_claim_keys` (the repository's, or its organisation's).
    Custom(Vec<String>),
    /// GitHub did not say (no permission to read it, or an error).
    Unknown,
}

/// A repository as GitHub knows it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    /// `OWNER/NAME`, in GitHub's letter case.
    pub full_name: String,
    /// The owner's numeric ID.
    pub owner_id: u64,
    /// The repository's numeric ID.
    pub id: u64,
    /// The subject template it uses.
    pub template: Template,
    /// The `repo` form it presents.
    pub form: PresentedForm,
}

/// What GitHub answered for the repository a subject names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// It exists; for an ID-based subject, the repository those IDs belong to now.
    Found(Repository),
    /// GitHub redirects the name elsewhere (301): the repository was renamed or transferred;
    /// `now` is where it went, if GitHub said.
    Moved {
        /// The repository under its new name.
        now: Option<Repository>,
    },
    /// 404: no such repository (or a private one the GitHub token cannot read).
    NotFound,
    /// GitHub could not be asked (rate limit, 401/403, network): no finding depends on it.
    Unknown(String),
}

/// Everything GitHub said about one credential's repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitHubFacts {
    /// The repository.
    pub lookup: Lookup,
    /// Whether the subject's environment exists (`None`: not asked, or GitHub did not say).
    pub environment_exists: Option<bool>,
    /// Whether a GitHub token was used (a private repository answers 404 without one).
    pub authenticated: bool,
}
