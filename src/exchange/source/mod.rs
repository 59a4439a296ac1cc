//! Where the ID token (the client assertion) comes from: one file per source. Each source says
//! whether it applies and gets a token for an audience; its errors say how to fix it.
//!
//! - [`github`]: the GitHub Actions runner's OIDC endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`/`_TOKEN`).
//! - [`file`]: a file (`--id-token-file`, `AZURE_FEDERATED_TOKEN_FILE`).
//! - [`env`]: an environment variable (`--id-token-env`).

pub mod env;
pub mod file;
pub mod github;

use std::path::PathBuf;

use crate::exchange::invalid::ConfigError;
use crate::secret::Secret;

/// Where the ID token comes from.
#[derive(Debug)]
pub enum IdTokenSource {
    /// The GitHub Actions OIDC endpoint.
    GitHub(github::IdTokenRequest),
    /// A file holding the token, read afresh whenever a token is needed.
    File {
        /// The file.
        path: PathBuf,
        /// What named it: `--id-token-file` or `AZURE_FEDERATED_TOKEN_FILE`.
        origin: &'static str,
    },
    /// A token handed over in an environment variable.
    Env {
        /// The variable's name.
        name: String,
        /// Its value.
        token: Secret,
    },
}

impl IdTokenSource {
    /// The command line's source: `--id-token-file`, `--id-token-env`, `AZURE_FEDERATED_TOKEN_FILE`,
    /// then the GitHub runner's endpoint, in that order (`env` reads the environment, blank = unset).
    pub fn for_command_line(
        id_token_file: Option<&str>,
        id_token_env: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let set = |name: &str| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if let Some(path) = id_token_file {
            return Ok(Self::File {
                path: PathBuf::from(path),
                origin: "--id-token-file",
            });
        }
        if let Some(name) = id_token_env {
            return Ok(Self::Env {
                name: name.to_owned(),
                token: env::token_from_env(name, env)?,
            });
        }
        if let Some(path) = set("AZURE_FEDERATED_TOKEN_FILE") {
            return Ok(Self::File {
                path: PathBuf::from(path),
                origin: "AZURE_FEDERATED_TOKEN_FILE",
            });
        }
        if set("ACTIONS_ID_TOKEN_REQUEST_URL").is_some()
            || set("ACTIONS_ID_TOKEN_REQUEST_TOKEN").is_some()
        {
            return github::request_from_env(&set).map(Self::GitHub);
        }
        Err(ConfigError::NoIdTokenSource)
    }

    /// Where the token comes from, for messages (a host, a file, a variable; never a token).
    pub fn origin(&self) -> String {
        match self {
            Self::GitHub(request) => format!("GitHub ({})", crate::exchange::host_of(&request.url)),
            Self::File { path, origin } => format!("{origin} ({})", path.display()),
            Self::Env { name, .. } => format!("${name}"),
        }
    }
}
