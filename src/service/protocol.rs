//! The App Service managed-identity protocol (api-version 2019-08-01), as pure functions: a
//! request's parts into a [`TokenQuery`] or a [`Refusal`], and the JSON answers.
//!
//! `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=R[&client_id=ID]` with the header
//! `X-IDENTITY-HEADER: {IDENTITY_HEADER}` answers `{"access_token", "expires_on" (Unix seconds, a
//! string), "resource", "token_type": "Bearer", "client_id"}`.
//! Protocol: <https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference>.

use subtle::ConstantTimeEq as _;

use crate::secret::Secret;

/// The only API version served: the one every tested client sends.
pub const API_VERSION: &str = "2019-08-01";

/// The header that carries `IDENTITY_HEADER` (HTTP header names are case-insensitive).
pub const SECRET_HEADER: &str = "x-identity-header";

/// The endpoint's path: `IDENTITY_ENDPOINT` is `http://<listen address>/msi/token`.
pub const PATH: &str = "/msi/token";

/// What a request asks for once it passed every check.
#[derive(Debug, PartialEq, Eq)]
pub struct TokenQuery {
    /// The `resource` parameter, as sent (the cache key, and the scope's base).
    pub resource: String,
}

/// What arrived, before any check.
#[derive(Debug)]
pub struct RequestParts<'a> {
    /// Whether the peer's address is a loopback address.
    pub peer_is_loopback: bool,
    /// The HTTP method.
    pub method: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    /// Every `X-IDENTITY-HEADER` value sent (bytes: a header need not be UTF-8).
    pub secret_headers: Vec<&'a [u8]>,
}

/// Why a request gets no token; each variant has its HTTP status and says what to change.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Only loopback peers are served (the listener is bound to loopback; this is the second lock).
    #[error("only clients on this machine's loopback interface are served")]
    NotLoopback,
    /// The protocol has one method.
    #[error("method {0} is not served: the managed-identity endpoint answers GET only")]
    Method(String),
    /// Another path.
    #[error("no endpoint at this path: use IDENTITY_ENDPOINT as written to the env file ({PATH})")]
    NotFound,
    /// The header is missing.
    #[error("the X-IDENTITY-HEADER header is missing: send the value of IDENTITY_HEADER in it")]
    MissingSecret,
    /// The header is wrong (or sent twice).
    #[error(
        "the X-IDENTITY-HEADER header does not match: send the value of IDENTITY_HEADER written by this service"
    )]
    WrongSecret,
    /// Another or no API version.
    #[error("api-version {0} is not served: use api-version={API_VERSION}")]
    ApiVersion(String),
    /// A parameter is malformed or given twice.
    #[error("the query parameter {0} is given more than once")]
    Duplicate(String),
    /// No resource.
    #[error("the resource query parameter is missing, e.g. resource=https://management.azure.com/")]
    NoResource,
    /// A managed identity other than the one this service mints tokens for.
    #[error(
        "{parameter}={value} names another identity: this service mints tokens only for client_id {client_id} (drop the parameter, or set it to that client ID)"
    )]
    OtherIdentity {
        /// `client_id`, `principal_id`, `object_id`, `mi_res_id` or `msi_res_id`.
        parameter: String,
        /// What was sent.
        value: String,
        /// This service's client ID.
        client_id: String,
    },
    /// A resource off the allow-list.
    #[error(
        "resource {resource} is not served: start the service with --allow-scope {resource} (native action: token-service-scopes) to allow it"
    )]
    NotAllowed {
        /// The resource asked for.
        resource: String,
    },
}

impl Refusal {
    /// The HTTP status of the answer.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotLoopback | Self::NotAllowed { .. } => 403,
            Self::Method(_) => 405,
            Self::NotFound => 404,
            Self::MissingSecret | Self::WrongSecret => 401,
            Self::ApiVersion(_)
            | Self::Duplicate(_)
            | Self::NoResource
            | Self::OtherIdentity { .. } => 400,
        }
    }

    /// The OAuth-style error code of the answer.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotLoopback | Self::NotAllowed { .. } => "access_denied",
            Self::MissingSecret | Self::WrongSecret => "unauthorized_client",
            Self::Method(_) | Self::NotFound => "invalid_request",
            _ => "invalid_request",
        }
    }
}

/// Checks a request: peer, method, path, then the secret header (before anything about the request
/// is said back), then the parameters. `allowed` says whether a resource is on the allow-list.
pub fn check(
    parts: &RequestParts<'_>,
    secret: &Secret,
    client_id: &str,
    allowed: impl Fn(&str) -> bool,
) -> Result<TokenQuery, Refusal> {
    if !parts.peer_is_loopback {
        return Err(Refusal::NotLoopback);
    }
    if parts.method != "GET" {
        return Err(Refusal::Method(shown(parts.method)));
    }
    if parts.path != PATH {
        return Err(Refusal::NotFound);
    }
    match parts.secret_headers.as_slice() {
        [] => return Err(Refusal::MissingSecret),
        [one] if secret_matches(one, secret) => {}
        _ => return Err(Refusal::WrongSecret),
    }
    let pairs = query_pairs(parts.query.unwrap_or_default());
    let single = |name: &str| -> Result<Option<String>, Refusal> {
        let mut values = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        match (values.next(), values.next()) {
            (_, Some(_)) => Err(Refusal::Duplicate(name.to_owned())),
            (value, None) => Ok(value.cloned()),
        }
    };
    match single("api-version")? {
        Some(version) if version == API_VERSION => {}
        Some(version) => return Err(Refusal::ApiVersion(shown(&version))),
        None => return Err(Refusal::ApiVersion("(none)".to_owned())),
    }
    let resource = single("resource")?
        .filter(|r| !r.trim().is_empty())
        .ok_or(Refusal::NoResource)?;
    if let Some(value) = single("client_id")?
        && !value.eq_ignore_ascii_case(client_id)
    {
        return Err(Refusal::OtherIdentity {
            parameter: "client_id".to_owned(),
            value: shown(&value),
            client_id: client_id.to_owned(),
        });
    }
    // Other ways to name an identity: this service cannot tell whether they name its own, so it
    // refuses them rather than hand out a token for an identity the client did not mean.
    for parameter in ["principal_id", "object_id", "mi_res_id", "msi_res_id"] {
        if let Some(value) = single(parameter)? {
            return Err(Refusal::OtherIdentity {
                parameter: parameter.to_owned(),
                value: shown(&value),
                client_id: client_id.to_owned(),
            });
        }
    }
    if !allowed(&resource) {
        return Err(Refusal::NotAllowed {
            resource: shown(&resource),
        });
    }
    Ok(TokenQuery { resource })
}

/// Compares the header with the secret in constant time (the length is not secret: it is fixed).
pub fn secret_matches(sent: &[u8], secret: &Secret) -> bool {
    bool::from(sent.ct_eq(secret.expose_secret().as_bytes()))
}

/// The query's name/value pairs, percent-decoded.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    let mut url = reqwest::Url::parse("http://localhost/").expect("a constant, valid URL");
    url.set_query(Some(query));
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Client text for a message and a log line: cleaned and bounded as server text is (one line, no
/// control or bidirectional characters, at most 300 characters).
fn shown(value: &str) -> String {
    crate::exchange::http::server_text(value)
}

/// The success answer.
pub fn token_json(token: &Secret, expires_on: i64, resource: &str, client_id: &str) -> Secret {
    let body = serde_json::json!({
        "access_token": token.expose_secret(),
        "expires_on": expires_on.to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": client_id,
    });
    Secret::new(body.to_string())
}

/// An error answer (no token, ever): `{"error", "error_description"}` as OAuth has it, plus
/// `{"statusCode", "message"}` as App Service has it, because that is what the clients show: MSAL
/// Python's `_obtain_token_on_app_service` (msal/managed_identity.py) reports `statusCode` and
/// `message`, MSAL Node's `BaseManagedIdentitySource` reports `message`, else `error_description`.
pub fn error_json(status: u16, code: &str, description: &str) -> String {
    serde_json::json!({
        "error": code,
        "error_description": description,
        "statusCode": status,
        "message": description,
    })
    .to_string()
}

#[cfg(test)]
mod tests;
