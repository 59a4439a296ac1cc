//! The GitHub hop: fetch the job's OIDC ID token for one audience.
//!
//! `GET <ACTIONS_ID_TOKEN_REQUEST_URL>` with the `audience` query parameter set (the URL is parsed, not
//! pasted into), `Authorization: Bearer <request token>`, `Accept: application/json`; the answer is
//! `{"value": "<jwt>"}` with any other field ignored. The runner gives the URL and token only to jobs
//! with `permissions: id-token: write`. Protocol:
//! <https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect>.

use reqwest::StatusCode;
use reqwest::header::ACCEPT;
use serde::Deserialize;

use reqwest::Url;

use crate::exchange::http::{self, Attempt, Deadline, GaveUp, HttpError, excerpt, location_host};
use crate::exchange::invalid::ConfigError;
use crate::secret::Secret;

/// Where the runner lets this step fetch its ID token (`permissions: id-token: write`).
#[derive(Debug)]
pub struct IdTokenRequest {
    /// `ACTIONS_ID_TOKEN_REQUEST_URL`, parsed.
    pub url: Url,
    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub token: Secret,
}

/// The runner's ID token endpoint, or the error that says to add `id-token: write`.
pub fn request_from_env(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<IdTokenRequest, ConfigError> {
    match (
        get("ACTIONS_ID_TOKEN_REQUEST_URL"),
        get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        (Some(url), Some(token)) => Ok(IdTokenRequest {
            url: parse_request_url(&url)?,
            token: Secret::new(token),
        }),
        (None, None) => Err(ConfigError::NoIdTokenPermission {
            missing: "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are",
        }),
        (None, Some(_)) => Err(ConfigError::NoIdTokenPermission {
            missing: "ACTIONS_ID_TOKEN_REQUEST_URL is",
        }),
        (Some(_), None) => Err(ConfigError::NoIdTokenPermission {
            missing: "ACTIONS_ID_TOKEN_REQUEST_TOKEN is",
        }),
    }
}

fn parse_request_url(value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| ConfigError::Runner {
        variable: "ACTIONS_ID_TOKEN_REQUEST_URL",
        problem: format!(
            "is not a valid URL ({e}); the runner sets it, so check for a step overriding it"
        ),
    })?;
    if url.scheme() != "https" {
        return Err(ConfigError::Runner {
            variable: "ACTIONS_ID_TOKEN_REQUEST_URL",
            problem: format!(
                "uses {}://; only https:// is accepted for the ID token request",
                url.scheme()
            ),
        });
    }
    Ok(url)
}

/// Why no ID token came back.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// See the inner error; transport failures were retried within the budget.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// 401/403: the request token was refused; it expires with the job, so re-run the job.
    #[error("refused the request token (HTTP {0})")]
    Unauthorized(u16),
    /// The endpoint redirected; the runner's URL should answer directly, so check for a proxy rewriting it.
    #[error("answered with a redirect (HTTP {status}) to {location}; redirects are not followed")]
    Redirect {
        /// The status.
        status: u16,
        /// Host of the redirect target.
        location: String,
    },
    /// Any other non-success status; retried ones (408/429/5xx) are retried first.
    #[error("answered HTTP {status}{excerpt}")]
    Status {
        /// The status.
        status: u16,
        /// A short, escaped excerpt of the body, with a leading separator, or empty.
        excerpt: String,
    },
    /// A 200 whose body is not `{"value": "<token>"}`: a proxy or a wrong URL answered.
    #[error("answered 200 without an ID token in a JSON `value` field")]
    NoToken,
}

#[derive(Deserialize)]
struct TokenResponse {
    value: Option<String>,
}

/// Builds the request URL: the runner's URL with `audience` set, replacing any existing one.
pub fn id_token_url(request: &IdTokenRequest, audience: &str) -> reqwest::Url {
    let mut url = request.url.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| name != "audience")
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("audience", audience);
    url
}

/// Fetches an ID token for `audience`, retrying transient failures within `deadline`.
pub async fn fetch_id_token(
    client: &reqwest::Client,
    request: &IdTokenRequest,
    audience: &str,
    deadline: &Deadline,
    on_retry: impl FnMut(&GitHubError, u32, std::time::Duration),
) -> Result<Secret, GaveUp<GitHubError>> {
    let url = id_token_url(request, audience);
    http::retry(
        deadline,
        |_| {
            let builder = client
                .get(url.clone())
                .bearer_auth(request.token.expose_secret())
                .header(ACCEPT, "application/json");
            async move {
                match http::send(builder, deadline).await {
                    Ok(response) => classify(response),
                    Err(error) => match Attempt::from_transport(error) {
                        Attempt::Done(result) => Attempt::Done(result.map_err(GitHubError::from)),
                        Attempt::Retry { error, retry_after } => Attempt::Retry {
                            error: error.into(),
                            retry_after,
                        },
                    },
                }
            }
        },
        on_retry,
    )
    .await
}

fn classify(response: http::Response) -> Attempt<Secret, GitHubError> {
    let status = response.status;
    if status == StatusCode::OK {
        return Attempt::Done(parse_token_response(&response.body));
    }
    let code = status.as_u16();
    if http::retryable_status(status) {
        return Attempt::Retry {
            error: GitHubError::Status {
                status: code,
                excerpt: excerpt(&response.body),
            },
            retry_after: http::retry_after(&response.headers, std::time::SystemTime::now()),
        };
    }
    Attempt::Done(Err(match code {
        401 | 403 => GitHubError::Unauthorized(code),
        300..=399 => GitHubError::Redirect {
            status: code,
            location: location_host(&response.headers),
        },
        _ => GitHubError::Status {
            status: code,
            excerpt: excerpt(&response.body),
        },
    }))
}

/// Parses `{"value": "<jwt>"}`, ignoring other fields.
pub fn parse_token_response(body: &[u8]) -> Result<Secret, GitHubError> {
    let parsed: TokenResponse = serde_json::from_slice(body).map_err(|_| GitHubError::NoToken)?;
    match parsed.value {
        Some(value) if !value.trim().is_empty() => Ok(Secret::new(value)),
        _ => Err(GitHubError::NoToken),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_the_audience_parameter_on_the_runner_url() {
        let request = IdTokenRequest {
            url: reqwest::Url::parse(
                "https://pipelines.example/idtoken?api-version=2.0&audience=old",
            )
            .expect("url"),
            token: Secret::new("t".to_owned()),
        };
        let url = id_token_url(&request, "api://AzureADTokenExchange");
        assert_eq!(
            url.as_str(),
            "https://pipelines.example/idtoken?api-version=2.0&audience=api%3A%2F%2FAzureADTokenExchange"
        );
    }

    #[test]
    fn parses_value_and_ignores_other_fields() {
        let token = parse_token_response(br#"{"value":"a.b.c","count":1}"#).expect("token");
        assert_eq!(token.expose_secret(), "a.b.c");
        assert!(matches!(
            parse_token_response(br#"{"count":1}"#),
            Err(GitHubError::NoToken)
        ));
        assert!(matches!(
            parse_token_response(b"<html>"),
            Err(GitHubError::NoToken)
        ));
        assert!(matches!(
            parse_token_response(br#"{"value":""}"#),
            Err(GitHubError::NoToken)
        ));
    }
}
