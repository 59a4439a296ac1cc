//! Why `federated-credential` cannot build a credential from its flags; each message names the
//! flag to change.

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
    /// The ID-based `repo` segment (`repo:OWNER@ID/REPO@ID`) needs both numeric IDs.
    #[error(
        "{given} without {missing}: the subject's repo segment in the ID-based form (repo:OWNER@ID/REPO@ID:...) needs both; add {missing} (gh api repos/OWNER/REPO --jq '.owner.id, .id'), or use a --claim-keys template without repo"
    )]
    IdsTogether {
        /// The flag given.
        given: &'static str,
        /// The flag missing.
        missing: &'static str,
    },
    /// Entra matches wildcards (flexible credentials, preview) only for github.com's issuer.
    #[error(
        "{what} needs a flexible federated credential, which Entra supports only with --issuer https://token.actions.githubusercontent.com (not {issuer}); use exact values (one credential per branch or tag) or a GitHub environment"
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
