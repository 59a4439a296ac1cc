//! An input or environment variable that cannot be used, and how a user-supplied value is quoted
//! in the message that says so.

/// An input or environment variable that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// Set the input or its fallback variable.
    #[error(
        "input `{input}` is required: set `with: {input}:` on the step or the {fallback} variable"
    )]
    Missing {
        /// Input name.
        input: &'static str,
        /// Fallback environment variable.
        fallback: &'static str,
    },
    /// Fix the value as the message says.
    #[error("input `{input}` {problem}")]
    Invalid {
        /// Input name (or the variable that supplied it).
        input: &'static str,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// Add `permissions: id-token: write` to the job (fork pull requests never get it).
    #[error(
        "{missing} not set, so this job cannot request a GitHub OIDC token: add `permissions: id-token: write` to the job or workflow (pull requests from forks never get it)"
    )]
    NoIdTokenPermission {
        /// Which variables are missing.
        missing: &'static str,
    },
    /// Outside GitHub Actions, name a token: `--id-token-file`, `--id-token-env` or `AZURE_FEDERATED_TOKEN_FILE`.
    #[error(
        "no ID token to present: pass --id-token-file FILE or --id-token-env VAR, set AZURE_FEDERATED_TOKEN_FILE, or run in GitHub Actions with `permissions: id-token: write`"
    )]
    NoIdTokenSource,
    /// A variable the binary reads holds bytes that are not UTF-8: it is refused, never taken as
    /// unset (a malformed proxy would otherwise mean a direct connection).
    #[error(
        "{variable} is set to a value that is not valid UTF-8 text, so it cannot be used: set it to UTF-8 text, or unset it"
    )]
    NotUnicode {
        /// The variable.
        variable: String,
    },
    /// The runner set a value this action cannot use; report it.
    #[error("{variable} {problem}")]
    Runner {
        /// The variable.
        variable: &'static str,
        /// What is wrong.
        problem: String,
    },
}

impl ConfigError {
    /// The message for command-line use: inputs are named as the flags that set them.
    pub fn cli_message(&self) -> String {
        match self {
            Self::Missing { input, fallback } => {
                format!("--{input} is required (or set {fallback})")
            }
            Self::Invalid { input, problem } => format!("--{input} {problem}"),
            other => other.to_string(),
        }
    }
}

/// Quotes a user-supplied value for an error message, escaping anything unprintable.
pub fn quote(value: &str) -> String {
    const MAX: usize = 80;
    let shown: String = value.chars().take(MAX).collect();
    let ellipsis = if value.chars().count() > MAX {
        "…"
    } else {
        ""
    };
    format!("'{}{ellipsis}'", shown.escape_debug())
}
