//! The diagnosis: what an ID token claims, the federated credential that matches it, and the check
//! Entra makes of its issuer, done first so users see it (discovery document and JWKS over HTTPS,
//! RS256 signature, key id). Nothing secret is printed: claims are not secret, the token is.
//!
//! Entra fetches the issuer's OpenID discovery document and keys from the public internet
//! (<https://learn.microsoft.com/entra/workload-id/workload-identity-federation>); GitHub's issuer
//! publishes them at `<iss>/.well-known/openid-configuration`
//! (<https://docs.github.com/en/actions/reference/security/oidc>).

use std::fmt::Write as _;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::clock::rfc3339;
use crate::exchange::claims::{Claims, ClaimsError, decode_payload};
use crate::exchange::http::{self, Attempt, Deadline, HttpError, excerpt};
use crate::onboarding::credential::Credential;
use crate::secret::Secret;

/// Why the issuer check failed: Entra would reject the token for the same reason.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// GHES and custom issuers must be public HTTPS URLs that Entra can reach.
    #[error(
        "the token's issuer {0} is not an https:// URL; Entra only trusts HTTPS issuers it can reach"
    )]
    IssuerNotHttps(String),
    /// The issuer must serve `/.well-known/openid-configuration` publicly, over HTTPS.
    #[error("issuer discovery document {url} could not be fetched: {reason}")]
    Discovery {
        /// Where it was looked for (host and path).
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The discovery document must name the same issuer as the token's `iss`, exactly.
    #[error("the discovery document names issuer {found}, but the token says {expected}")]
    IssuerMismatch {
        /// `iss` of the token.
        expected: String,
        /// `issuer` of the document.
        found: String,
    },
    /// The issuer's key set must be reachable over HTTPS.
    #[error("the issuer's keys (jwks_uri {url}) could not be fetched: {reason}")]
    Jwks {
        /// Host and path.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// Entra only accepts RS256-signed assertions.
    #[error("the token header is unusable ({0}); Entra expects an RS256 JWT with a kid")]
    Header(String),
    /// The key that signed the token is not published (rotated, or another issuer signed it).
    #[error("no RSA key with kid {kid} among the issuer's {count} published keys")]
    NoKey {
        /// The token's key id.
        kid: String,
        /// Keys published.
        count: usize,
    },
    /// The token was not signed by the issuer's key: it was altered or comes from elsewhere.
    #[error("the signature does not verify with the issuer's key {kid} ({reason})")]
    BadSignature {
        /// The key id.
        kid: String,
        /// What the verifier said.
        reason: String,
    },
    /// The token is not a JWT at all.
    #[error("the ID token {0}")]
    Claims(#[from] ClaimsError),
}

/// What the issuer check found.
#[derive(Debug)]
pub struct Verified {
    /// The discovery document's URL (no query).
    pub discovery_url: String,
    /// The JWKS URL (no query).
    pub jwks_url: String,
    /// Keys published.
    pub key_count: usize,
    /// The key that verified the token.
    pub kid: String,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: Option<String>,
    jwks_uri: Option<String>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: Option<String>,
    kid: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// Fetches `url` and parses it as JSON of type `T`, retrying transient failures.
async fn fetch_json<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &Url,
    deadline: &Deadline,
) -> Result<T, String> {
    let result = http::retry(
        deadline,
        |_| {
            let request = client
                .get(url.clone())
                .header(reqwest::header::ACCEPT, "application/json");
            async move {
                match http::send(request, deadline).await {
                    Ok(response) if response.status == StatusCode::OK => {
                        Attempt::Done(serde_json::from_slice::<T>(&response.body).map_err(|_| {
                            "HTTP 200 with a body that is not the expected JSON".to_owned()
                        }))
                    }
                    Ok(response) if http::retryable_status(response.status) => Attempt::Retry {
                        error: format!("HTTP {}", response.status.as_u16()),
                        retry_after: http::retry_after(
                            &response.headers,
                            std::time::SystemTime::now(),
                        ),
                    },
                    Ok(response) => Attempt::Done(Err(format!(
                        "HTTP {}{}",
                        response.status.as_u16(),
                        excerpt(&response.body)
                    ))),
                    Err(error) => match Attempt::<T, HttpError>::from_transport(error) {
                        Attempt::Done(result) => Attempt::Done(result.map_err(|e| e.to_string())),
                        Attempt::Retry { error, retry_after } => Attempt::Retry {
                            error: error.to_string(),
                            retry_after,
                        },
                    },
                }
            }
        },
        |_, _, _| {},
    )
    .await;
    result.map_err(|gave_up| gave_up.error)
}

/// The URL as fetched (port included), without query or fragment.
fn shown(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// Checks the token the way Entra does: issuer discovery, JWKS, RS256 signature by `kid`.
pub async fn verify_issuer(
    client: &reqwest::Client,
    token: &Secret,
    claims: &Claims,
    deadline: &Deadline,
) -> Result<Verified, ExplainError> {
    let issuer = claims.iss.clone().unwrap_or_default();
    let issuer_url = Url::parse(&issuer)
        .ok()
        .filter(|url| url.scheme() == "https")
        .ok_or_else(|| ExplainError::IssuerNotHttps(format!("{issuer:?}")))?;
    let mut discovery_url = issuer_url.clone();
    discovery_url.set_path(&format!(
        "{}/.well-known/openid-configuration",
        issuer_url.path().trim_end_matches('/')
    ));
    let discovery: Discovery =
        fetch_json(client, &discovery_url, deadline)
            .await
            .map_err(|reason| ExplainError::Discovery {
                url: shown(&discovery_url),
                reason,
            })?;
    let found = discovery.issuer.unwrap_or_default();
    if found != issuer {
        return Err(ExplainError::IssuerMismatch {
            expected: format!("{issuer:?}"),
            // The discovery document's text: cut and cleaned like any server text.
            found: format!("{:?}", http::server_text(&found)),
        });
    }
    let jwks_url = discovery
        .jwks_uri
        .as_deref()
        .and_then(|uri| Url::parse(uri).ok())
        .filter(|url| url.scheme() == "https")
        .ok_or_else(|| ExplainError::Jwks {
            url: format!(
                "{:?}",
                http::server_text(&discovery.jwks_uri.unwrap_or_default())
            ),
            reason: "missing or not an https:// URL".to_owned(),
        })?;
    let jwks: Jwks = fetch_json(client, &jwks_url, deadline)
        .await
        .map_err(|reason| ExplainError::Jwks {
            url: shown(&jwks_url),
            reason,
        })?;

    let header = jsonwebtoken::decode_header(token.expose_secret())
        .map_err(|e| ExplainError::Header(e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(ExplainError::Header(format!("alg is {:?}", header.alg)));
    }
    let kid = header
        .kid
        .ok_or_else(|| ExplainError::Header("no kid".to_owned()))?;
    let key = jwks
        .keys
        .iter()
        .find(|key| key.kid.as_deref() == Some(kid.as_str()) && key.kty.as_deref() == Some("RSA"))
        .ok_or_else(|| ExplainError::NoKey {
            kid: kid.clone(),
            count: jwks.keys.len(),
        })?;
    let (Some(n), Some(e)) = (&key.n, &key.e) else {
        return Err(ExplainError::NoKey {
            kid,
            count: jwks.keys.len(),
        });
    };
    let decoding_key =
        DecodingKey::from_rsa_components(n, e).map_err(|e| ExplainError::BadSignature {
            kid: kid.clone(),
            reason: e.to_string(),
        })?;
    // Only the signature is checked here; times and audience are reported from the claims.
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token.expose_secret(), &decoding_key, &validation).map_err(
        |e| ExplainError::BadSignature {
            kid: kid.clone(),
            reason: e.to_string(),
        },
    )?;
    Ok(Verified {
        discovery_url: shown(&discovery_url),
        jwks_url: shown(&jwks_url),
        key_count: jwks.keys.len(),
        kid,
    })
}

/// The diagnosis as plain text lines.
pub fn report_lines(
    token: &Secret,
    origin: &str,
    audience_requested: Option<&str>,
    client_id: Option<&str>,
    verification: &Result<Verified, ExplainError>,
    now: i64,
) -> Result<Vec<String>, ClaimsError> {
    let payload = decode_payload(token.expose_secret())?;
    let claims = crate::exchange::claims::decode_claims(token.expose_secret())?;
    let mut lines = vec![format!("ID token from {origin}; its claims (not secret):")];
    for (name, value) in ordered_claims(&payload) {
        lines.push(format!(
            "  {name:<22} {}",
            describe_claim(&name, &value, now)
        ));
    }
    let audience = claims
        .aud
        .values()
        .first()
        .map(|a| (*a).to_owned())
        .or_else(|| audience_requested.map(str::to_owned))
        .unwrap_or_default();
    let credential = Credential::new(
        claims.iss.as_deref().unwrap_or_default(),
        claims.sub.as_deref().unwrap_or_default(),
        &audience,
    );
    lines.push(String::new());
    lines.push("The federated identity credential that matches this token (issuer, subject and audience must match exactly, case-sensitively):".to_owned());
    for line in serde_json::to_string_pretty(&credential)
        .unwrap_or_default()
        .lines()
    {
        lines.push(format!("  {line}"));
    }
    lines.push(format!("  {}", credential.az_app_command(client_id)));
    lines.push(format!("  {}", credential.az_identity_command()));
    lines.push(String::new());
    lines.push("Issuer check, as Entra makes it:".to_owned());
    match verification {
        Ok(verified) => {
            lines.push(format!(
                "  discovery  {}  ok, issuer matches",
                verified.discovery_url
            ));
            lines.push(format!(
                "  jwks       {}  ok, {} key(s)",
                verified.jwks_url, verified.key_count
            ));
            lines.push(format!(
                "  signature  RS256 with kid {}  verified",
                verified.kid
            ));
        }
        Err(error) => lines.push(format!("  FAILED: {error}")),
    }
    Ok(lines)
}

/// The diagnosis as Markdown for `GITHUB_STEP_SUMMARY`.
pub fn report_markdown(lines: &[String]) -> String {
    let mut text = String::from("### azure-oidc-token: explain\n\n```text\n");
    for line in lines {
        let _ = writeln!(text, "{}", line.replace("```", "'''"));
    }
    text.push_str("```\n\n");
    text
}

/// Claims in a useful order: the ones Entra matches first, then times, then the rest by name.
fn ordered_claims(payload: &Map<String, Value>) -> Vec<(String, Value)> {
    const FIRST: [&str; 8] = [
        "iss",
        "sub",
        "aud",
        "exp",
        "nbf",
        "iat",
        "job_workflow_ref",
        "environment",
    ];
    let mut ordered: Vec<(String, Value)> = FIRST
        .iter()
        .filter_map(|name| payload.get(*name).map(|v| ((*name).to_owned(), v.clone())))
        .collect();
    ordered.extend(
        payload
            .iter()
            .filter(|(name, _)| !FIRST.contains(&name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone())),
    );
    ordered
}

fn describe_claim(name: &str, value: &Value, now: i64) -> String {
    let text = match value {
        Value::String(s) => s.escape_debug().to_string(),
        other => other.to_string(),
    };
    match (name, crate::exchange::claims::numeric_date_value(value)) {
        ("exp", Some(exp)) if exp <= now => {
            format!(
                "{text} ({}, expired {} s ago)",
                rfc3339(exp),
                now.saturating_sub(exp)
            )
        }
        ("exp", Some(exp)) => format!(
            "{text} ({}, in {} s)",
            rfc3339(exp),
            exp.saturating_sub(now)
        ),
        ("nbf" | "iat", Some(t)) => format!("{text} ({})", rfc3339(t)),
        _ => text,
    }
}
