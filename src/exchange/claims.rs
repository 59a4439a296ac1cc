//! Unverified decoding of JWT claims, for diagnostics and preflight checks only.
//!
//! Nothing here trusts a token: Entra verifies the GitHub token's signature, and later steps' ARM calls
//! verify the access token. We read `iss`/`sub`/`aud` to tell users what they presented, `exp` to know
//! when to fetch a fresh ID token, and the access token's `oid` for the `principal-id` output.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// The claims this action looks at; any other claim is ignored.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Claims {
    /// Issuer.
    pub iss: Option<String>,
    /// Subject.
    pub sub: Option<String>,
    /// Audience(s).
    #[serde(default)]
    pub aud: Audience,
    /// Expiry, Unix seconds.
    #[serde(default, deserialize_with = "numeric_date")]
    pub exp: Option<i64>,
    /// Not before, Unix seconds.
    #[serde(default, deserialize_with = "numeric_date")]
    pub nbf: Option<i64>,
    /// Issued at, Unix seconds.
    #[serde(default, deserialize_with = "numeric_date")]
    pub iat: Option<i64>,
    /// GitHub: the reusable workflow that ran the job.
    pub job_workflow_ref: Option<String>,
    /// GitHub: the event that triggered the run (the risky-event guard reads it).
    pub event_name: Option<String>,
    /// Entra: object ID of the service principal or managed identity.
    pub oid: Option<String>,
    /// Entra: tenant ID.
    pub tid: Option<String>,
}

/// A NumericDate as whole seconds: RFC 7519 §2 allows fractions (`1700000000.5`), which are cut
/// off; an out-of-range value saturates. Anything but a number is an error.
pub fn numeric_date_value(value: &serde_json::Value) -> Option<i64> {
    let number = value.as_number()?;
    number.as_i64().or_else(|| {
        number.as_f64().filter(|f| f.is_finite()).map(|f| {
            // `as` saturates at i64's bounds, which is what an absurd date should do.
            f.floor() as i64
        })
    })
}

fn numeric_date<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(value) => numeric_date_value(&value)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("a NumericDate must be a number")),
    }
}

/// `aud` is a string or an array of strings.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Audience {
    /// No `aud` claim.
    #[default]
    None,
    /// One audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// The audiences as a list.
    pub fn values(&self) -> Vec<&str> {
        match self {
            Self::None => Vec::new(),
            Self::One(one) => vec![one.as_str()],
            Self::Many(many) => many.iter().map(String::as_str).collect(),
        }
    }

    /// The audiences joined by `, ` for a log line.
    pub fn joined(&self) -> String {
        self.values().join(", ")
    }
}

/// Why a token's claims could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClaimsError {
    /// The server sent something other than a compact JWS; check the endpoint.
    #[error("is not a JWT (expected three dot-separated base64url parts)")]
    NotAJwt,
    /// The payload is not base64url; the token is corrupt.
    #[error("has a payload that is not base64url")]
    Base64,
    /// The payload is not a JSON object with the usual claim types.
    #[error("has a payload that is not a JSON claims object")]
    Json,
}

/// Decodes the payload of a compact JWS without verifying it.
pub fn decode_claims(token: &str) -> Result<Claims, ClaimsError> {
    serde_json::from_slice(&payload_bytes(token)?).map_err(|_| ClaimsError::Json)
}

/// Every claim of a compact JWS, unverified, for the `explain` table.
pub fn decode_payload(
    token: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, ClaimsError> {
    serde_json::from_slice(&payload_bytes(token)?).map_err(|_| ClaimsError::Json)
}

fn payload_bytes(token: &str) -> Result<Vec<u8>, ClaimsError> {
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ClaimsError::NotAJwt);
    };
    if payload.is_empty() {
        return Err(ClaimsError::NotAJwt);
    }
    // Tolerate padding, which some issuers emit although RFC 7515 forbids it.
    URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| ClaimsError::Base64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn fractional_numeric_dates_are_accepted() {
        let claims = decode_claims(&jwt(
            r#"{"exp":1700000300.75,"nbf":1699999700.0,"iat":1700000000.5}"#,
        ))
        .expect("claims");
        assert_eq!(claims.exp, Some(1_700_000_300));
        assert_eq!(claims.nbf, Some(1_699_999_700));
        assert_eq!(claims.iat, Some(1_700_000_000));
        assert_eq!(
            decode_claims(&jwt(r#"{"exp":1e300}"#)).expect("claims").exp,
            Some(i64::MAX)
        );
        assert_eq!(
            decode_claims(&jwt(r#"{"exp":null}"#)).expect("claims").exp,
            None
        );
    }

    #[test]
    fn reads_github_claims() {
        let claims = decode_claims(&jwt(
            r#"{"iss":"https://token.actions.githubusercontent.com","sub":"repo:o/r:ref:refs/heads/main","aud":"api://AzureADTokenExchange","exp":1700000300,"nbf":1699999700,"iat":1700000000,"job_workflow_ref":"o/r/.github/workflows/d.yml@refs/heads/main","run_id":"1"}"#,
        ))
        .expect("claims");
        assert_eq!(claims.sub.as_deref(), Some("repo:o/r:ref:refs/heads/main"));
        assert_eq!(claims.aud.joined(), "api://AzureADTokenExchange");
        assert_eq!(claims.exp, Some(1_700_000_300));
    }

    #[test]
    fn audience_may_be_an_array() {
        let claims = decode_claims(&jwt(r#"{"aud":["a","b"]}"#)).expect("claims");
        assert_eq!(claims.aud.values(), vec!["a", "b"]);
    }

    #[test]
    fn rejects_non_jwts_without_panicking() {
        assert_eq!(decode_claims("abc"), Err(ClaimsError::NotAJwt));
        assert_eq!(decode_claims("a.b.c.d"), Err(ClaimsError::NotAJwt));
        assert_eq!(decode_claims("a..c"), Err(ClaimsError::NotAJwt));
        assert_eq!(decode_claims("a.!!!.c"), Err(ClaimsError::Base64));
        assert_eq!(decode_claims(&jwt("[1,2]")), Err(ClaimsError::Json));
        assert_eq!(
            decode_claims(&jwt(r#"{"exp":"soon"}"#)),
            Err(ClaimsError::Json)
        );
    }
}
