//! The Entra hop: exchange the GitHub ID token for an access token (client credentials with a
//! federated client assertion), and parse Entra's answers into a token or a structured error.
//!
//! `POST <authority>/<tenant>/oauth2/v2.0/token`, form `client_id`, `scope`, `client_assertion_type`,
//! `client_assertion`, `grant_type=client_credentials`; a fresh `client-request-id` per attempt.
//! Protocol: <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#third-case-access-token-request-with-a-federated-credential>;
//! error codes: <https://learn.microsoft.com/entra/identity-platform/reference-error-codes>.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderMap};
use serde::Deserialize;

use crate::exchange::claims::decode_claims;
use crate::exchange::http::{self, Attempt, Deadline, HttpError, excerpt, location_host};
use crate::secret::Secret;

/// The assertion type for a JWT client assertion (RFC 7523).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub use crate::exchange::http::{SERVER_TEXT_LIMIT, server_text};

/// An access token and when it expires.
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// The bearer token.
    pub token: Secret,
    /// Expiry, Unix seconds.
    pub expires_on: i64,
}

/// Entra's error body, every field optional: nothing here is trusted to be present.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// OAuth error code (`invalid_client`, …).
    pub error: Option<String>,
    /// Human text, starting with `AADSTS<code>:` and ending with trace lines.
    pub error_description: Option<String>,
    /// Numeric AADSTS codes.
    #[serde(default)]
    pub error_codes: Vec<u64>,
    /// Entra's trace ID.
    pub trace_id: Option<String>,
    /// Entra's correlation ID.
    pub correlation_id: Option<String>,
    /// When Entra answered.
    pub timestamp: Option<String>,
}

impl ErrorBody {
    /// The AADSTS codes, from `error_codes` or, failing that, from the description.
    pub fn codes(&self) -> Vec<u64> {
        if !self.error_codes.is_empty() {
            return self.error_codes.clone();
        }
        let text = self.error_description.as_deref().unwrap_or_default();
        text.match_indices("AADSTS")
            .filter_map(|(at, _)| {
                let digits: String = text[at + 6..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().ok()
            })
            .collect()
    }

    /// The first line of the description (the trace lines are reported from their own fields),
    /// through [`server_text`]: it goes into log lines.
    pub fn summary(&self) -> Option<String> {
        let text = self.error_description.as_deref()?;
        let first = server_text(text.lines().next()?);
        (!first.is_empty()).then_some(first)
    }

    /// The body with every field that may reach a log line through [`server_text`]; the
    /// description keeps its first lines (for [`Self::codes`] and [`Self::summary`]), each cleaned.
    pub fn cleaned(self) -> Self {
        let clean = |field: Option<String>| field.map(|text| server_text(&text));
        Self {
            error: clean(self.error),
            error_description: self.error_description.map(|text| {
                text.lines()
                    .take(8)
                    .map(server_text)
                    .collect::<Vec<_>>()
                    .join("\n")
            }),
            error_codes: self.error_codes,
            trace_id: clean(self.trace_id),
            correlation_id: clean(self.correlation_id),
            timestamp: clean(self.timestamp),
        }
    }
}

/// Why the exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum EntraError {
    /// See the inner error; transport failures were retried within the budget.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// Entra answered with an error; the hints printed with it say what to change.
    #[error("HTTP {status}{}", describe_body(.body))]
    Rejected {
        /// The status.
        status: u16,
        /// The parsed error body.
        body: Box<ErrorBody>,
    },
    /// An error status whose body is not Entra's JSON: something in between (a proxy) answered.
    #[error("HTTP {status} with a body that is not Entra's error JSON{excerpt}")]
    NotJson {
        /// The status.
        status: u16,
        /// A short excerpt.
        excerpt: String,
    },
    /// Check `authority-host`: the token endpoint should answer directly.
    #[error("HTTP {status} redirect to {location}; redirects are not followed")]
    Redirect {
        /// The status.
        status: u16,
        /// Host of the target.
        location: String,
    },
    /// A 200 that is not a token response: check `authority-host` points at Entra.
    #[error("HTTP 200 without {0}")]
    Malformed(&'static str),
    /// Entra has been seen answering 200 with no body under load: retried like a 503, reported
    /// only if it lasts the whole budget.
    #[error("HTTP 200 with an empty body")]
    EmptySuccess,
}

fn describe_body(body: &ErrorBody) -> String {
    let mut text = String::new();
    if let Some(error) = &body.error {
        text.push(' ');
        text.push_str(error);
    }
    match body.summary() {
        Some(summary) => {
            text.push_str(": ");
            text.push_str(&summary);
        }
        None => {
            // Server-chosen too: a few codes, not however many it sent.
            let codes: Vec<String> = body
                .codes()
                .iter()
                .take(8)
                .map(|c| format!("AADSTS{c}"))
                .collect();
            if !codes.is_empty() {
                text.push_str(": ");
                text.push_str(&codes.join(", "));
            }
        }
    }
    text
}

impl EntraError {
    /// The parsed Entra error body, if Entra sent one.
    pub fn body(&self) -> Option<&ErrorBody> {
        match self {
            Self::Rejected { body, .. } => Some(body),
            _ => None,
        }
    }

    /// The HTTP status, if any answer came.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Rejected { status, .. }
            | Self::NotJson { status, .. }
            | Self::Redirect { status, .. } => Some(*status),
            Self::Malformed(_) | Self::EmptySuccess => Some(200),
            Self::Http(_) => None,
        }
    }
}

/// The token endpoint: `<authority>/<tenant>/oauth2/v2.0/token`.
pub fn token_endpoint(authority: &reqwest::Url, tenant: &str) -> reqwest::Url {
    let mut url = authority.clone();
    url.set_query(None);
    url.set_path(&format!("/{tenant}/oauth2/v2.0/token"));
    url
}

/// What one exchange attempt sends.
pub struct TokenRequest<'a> {
    /// The token endpoint.
    pub endpoint: &'a reqwest::Url,
    /// Application (client) ID.
    pub client_id: &'a str,
    /// The one resource scope.
    pub scope: &'a str,
}

/// Makes one exchange attempt, with `client_request_id` sent as `client-request-id` and
/// `x-ms-client-request-id`.
pub async fn exchange_once(
    client: &reqwest::Client,
    request: &TokenRequest<'_>,
    assertion: &Secret,
    client_request_id: &str,
    deadline: &Deadline,
) -> Attempt<AccessToken, EntraError> {
    let sent_at = crate::clock::unix_now();
    let builder = client
        .post(request.endpoint.clone())
        .header(ACCEPT, "application/json")
        .header("client-request-id", client_request_id)
        .header("x-ms-client-request-id", client_request_id)
        .form(&[
            ("client_id", request.client_id),
            ("scope", request.scope),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.expose_secret()),
            ("grant_type", "client_credentials"),
        ]);
    match http::send(builder, deadline).await {
        Ok(response) => parse_response(response.status, &response.headers, &response.body, sent_at),
        Err(error) => match Attempt::from_transport(error) {
            Attempt::Done(result) => Attempt::Done(result.map_err(EntraError::from)),
            Attempt::Retry { error, retry_after } => Attempt::Retry {
                error: error.into(),
                retry_after,
            },
        },
    }
}

#[derive(Deserialize)]
struct SuccessBody {
    // No `#[serde(default)]`: a missing token must be an error, not an empty token.
    access_token: Option<String>,
    expires_in: Option<serde_json::Value>,
}

/// Turns an Entra answer into a token, a final error, or a retry (`sent_at`: Unix seconds of sending).
pub fn parse_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    sent_at: i64,
) -> Attempt<AccessToken, EntraError> {
    if status.is_success() {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Attempt::Retry {
                error: EntraError::EmptySuccess,
                retry_after: http::retry_after(headers, std::time::SystemTime::now()),
            };
        }
        return Attempt::Done(parse_success(body, sent_at));
    }
    let code = status.as_u16();
    if status.is_redirection() {
        return Attempt::Done(Err(EntraError::Redirect {
            status: code,
            location: location_host(headers),
        }));
    }
    let error = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) if parsed.error.is_some() || !parsed.error_codes.is_empty() => {
            EntraError::Rejected {
                status: code,
                body: Box::new(parsed.cleaned()),
            }
        }
        _ => EntraError::NotJson {
            status: code,
            excerpt: excerpt(body),
        },
    };
    let temporarily_unavailable = error
        .body()
        .and_then(|b| b.error.as_deref())
        .is_some_and(|e| e == "temporarily_unavailable");
    if http::retryable_status(status) || temporarily_unavailable {
        Attempt::Retry {
            error,
            retry_after: http::retry_after(headers, std::time::SystemTime::now()),
        }
    } else {
        Attempt::Done(Err(error))
    }
}

fn parse_success(body: &[u8], sent_at: i64) -> Result<AccessToken, EntraError> {
    let parsed: SuccessBody =
        serde_json::from_slice(body).map_err(|_| EntraError::Malformed("a JSON token response"))?;
    let token = parsed
        .access_token
        .filter(|token| !token.trim().is_empty())
        .ok_or(EntraError::Malformed("an access_token"))?;
    let token = Secret::new(token);
    // `expires_in` is a number (v2) or a numeric string (v1-style); never assume 3600.
    let expires_in = match parsed.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    let expires_on = match expires_in {
        Some(seconds) if seconds > 0 => sent_at.saturating_add(seconds),
        _ => decode_claims(token.expose_secret())
            .ok()
            .and_then(|claims| claims.exp)
            .ok_or(EntraError::Malformed("a usable expires_in"))?,
    };
    Ok(AccessToken { token, expires_on })
}

#[cfg(test)]
mod tests;
