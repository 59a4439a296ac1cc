//! Getting the federated credential right: the [`credential`] generator and its output formats,
//! the [`expression`] language of flexible credentials, [`matching`] a credential against a token,
//! [`explain`] (claims, the credential that matches, Entra's issuer check), and the AADSTS
//! [`diagnosis`] printed when Entra says no.

pub mod credential;
pub mod credential_error;
pub mod diagnosis;
pub mod explain;
pub mod expression;
pub mod matching;
pub mod name;
pub mod render;
pub mod subject;

use crate::error::AppError;
use crate::exchange::claims::decode_payload;
use crate::exchange::{ExchangeError, Session};

/// What `explain` found: the report, and whether the token passes (the issuer check, then the
/// credential given to check it against).
pub struct Diagnosis {
    /// The report, line by line (claims, credential, checks); it quotes claims, so it is printed fenced
    /// where a runner reads it.
    pub lines: Vec<String>,
    /// `Err` if Entra would refuse the token or the given credential does not match it.
    pub verdict: Result<(), AppError>,
}

/// Runs the diagnosis on the session's ID token: `audience` as requested, `client_id` for the
/// printed `az` command, `check` the credential to hold against the token.
pub async fn diagnose(
    session: &Session<'_>,
    origin: &str,
    audience: &str,
    client_id: Option<&str>,
    check: &matching::Check,
) -> Result<Diagnosis, AppError> {
    let (token, claims) = {
        let presented = session.presented();
        (presented.token.clone(), presented.claims.clone())
    };
    let verification =
        explain::verify_issuer(session.client(), &token, &claims, session.deadline()).await;
    let mut lines = explain::report_lines(
        &token,
        origin,
        Some(audience),
        client_id,
        &verification,
        crate::clock::unix_now(),
    )
    .map_err(|source| ExchangeError::IdToken {
        origin: origin.to_owned(),
        source,
    })?;
    let payload = decode_payload(token.expose_secret()).unwrap_or_default();
    let (checked, mismatch) = matching::check_lines(&payload, check);
    lines.extend(checked);
    // The issuer check comes first: a credential cannot match a token Entra would refuse.
    let verdict = match (verification, mismatch) {
        (Err(error), _) => Err(AppError::Explain {
            error,
            presented: Box::new(claims),
        }),
        (Ok(_), Some(mismatch)) => Err(AppError::CredentialMismatch(mismatch)),
        (Ok(_), None) => Ok(()),
    };
    Ok(Diagnosis { lines, verdict })
}
