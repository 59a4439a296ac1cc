//! An ID token handed over in an environment variable: `--id-token-env NAME` (e.g. a GitLab CI
//! `id_tokens:` entry).

use crate::exchange::invalid::{ConfigError, quote};
use crate::secret::Secret;

/// The token in variable `name`, read through `env`; an unset or blank variable names itself.
pub fn token_from_env(
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Secret, ConfigError> {
    env(name)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .map(Secret::new)
        .ok_or_else(|| ConfigError::Invalid {
            input: "id-token-env",
            problem: format!(
                "names {}, which is not set or empty: in GitLab CI declare it under `id_tokens:` with the federated credential's audience",
                quote(name)
            ),
        })
}
