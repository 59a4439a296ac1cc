//! The Entra side: `POST /{tenant}/oauth2/v2.0/token` for the client-credentials grant with a federated
//! assertion, checked in Entra's order and answered with Entra's error bodies.

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use crate::clock;
use crate::http::{Request, Response};
use crate::jwt;
use crate::state::State;
use crate::{App, FederatedCredential};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const WIF_DOC: &str = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation";
const CHECK_FIC: &str = "Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.";
/// Entra tolerates an assertion whose `nbf` is this far in the future.
const NBF_SKEW_SECS: i64 = 300;

/// Entra's error JSON: `error`, `error_description` (`AADSTS<code>: <description>` followed by the
/// trace ID, correlation ID and timestamp lines, CRLF-separated), `error_codes`, `timestamp`,
/// `trace_id`, `correlation_id` and `error_uri`, timestamped now.
///
/// `description` is the text after the `AADSTS<code>: ` prefix, which is added from `codes[0]`
/// (unless `description` already starts with `AADSTS` or `codes` is empty; `error_uri` is then omitted too).
pub fn entra_error_body(
    error: &str,
    codes: &[u64],
    description: &str,
    trace_id: &str,
    correlation_id: &str,
) -> String {
    let timestamp = clock::entra_timestamp(clock::now());
    let first = codes.first();
    let text = match first {
        Some(code) if !description.starts_with("AADSTS") => {
            format!("AADSTS{code}: {description}")
        }
        _ => description.to_owned(),
    };
    // Entra's field order (serde_json's map would sort the keys): error, error_description,
    // error_codes, timestamp, trace_id, correlation_id, error_uri.
    let description = format!(
        "{text}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
    );
    let mut fields = vec![
        ("error", json!(error)),
        ("error_description", json!(description)),
        ("error_codes", json!(codes)),
        ("timestamp", json!(timestamp)),
        ("trace_id", json!(trace_id)),
        ("correlation_id", json!(correlation_id)),
    ];
    if let Some(code) = first {
        fields.push((
            "error_uri",
            json!(format!(
                "https://login.microsoftonline.com/error?code={code}"
            )),
        ));
    }
    ordered_json(&fields)
}

/// A JSON object with its fields in the order given, as Entra writes them.
pub fn ordered_json(fields: &[(&str, Value)]) -> String {
    let members: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("{}:{value}", json!(name)))
        .collect();
    format!("{{{}}}", members.join(","))
}

/// A rejection: HTTP status, OAuth `error`, AADSTS code and message.
struct Reject {
    status: u16,
    error: &'static str,
    code: u64,
    text: String,
}

fn reject(status: u16, error: &'static str, code: u64, text: impl Into<String>) -> Reject {
    Reject {
        status,
        error,
        code,
        text: text.into(),
    }
}

fn missing(name: &str) -> Reject {
    reject(
        400,
        "invalid_request",
        900_144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

/// Handles one token request.
pub(crate) fn token(state: &State, request: &Request, raw_tenant: &str) -> Response {
    let trace_id = uuid::Uuid::new_v4().hyphenated().to_string();
    // Entra echoes the caller's `client-request-id` (and uses it as the correlation id) when it is
    // a GUID; `x-ms-client-request-id` is not what it reads.
    let correlation_id = request
        .header("client-request-id")
        .and_then(|v| uuid::Uuid::parse_str(v.trim()).ok())
        .unwrap_or_else(uuid::Uuid::new_v4)
        .hyphenated()
        .to_string();
    let response = match check(state, request, raw_tenant) {
        Ok(body) => Response::new(200, "application/json; charset=utf-8", body.into_bytes()),
        Err(r) => Response::new(
            r.status,
            "application/json; charset=utf-8",
            entra_error_body(r.error, &[r.code], &r.text, &trace_id, &correlation_id).into_bytes(),
        ),
    };
    response
        .with_header("Cache-Control", "no-store, no-cache")
        .with_header("Pragma", "no-cache")
        .with_header("x-ms-request-id", trace_id)
        .with_header("client-request-id", correlation_id)
}

/// GUID `8-4-4-4-12` hex.
fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Labels of `[A-Za-z0-9-]` joined by single dots.
fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Whether the tenant segment of a path (percent-encoded) names the emulated tenant, by GUID or a
/// verified domain; otherwise Entra's rejection (AADSTS900023 malformed, AADSTS90002 not found).
fn known_tenant(state: &State, raw_tenant: &str) -> Result<(), Reject> {
    let tenant = percent_encoding::percent_decode_str(raw_tenant).decode_utf8_lossy();
    if !is_guid(&tenant) && !is_dns_name(&tenant) {
        return Err(reject(
            400,
            "invalid_request",
            900_023,
            format!(
                "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."
            ),
        ));
    }
    let known = tenant.eq_ignore_ascii_case(&state.tenant_id)
        || state
            .tenant_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&tenant));
    if !known {
        return Err(reject(
            400,
            "invalid_tenant",
            90_002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        ));
    }
    Ok(())
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`: the tenant's OpenID Connect discovery
/// document, which MSAL-based SDKs (`@azure/identity`, `azure-identity`) fetch before their first
/// token request. Like Entra, the endpoints name the tenant GUID whichever form (GUID or domain) was
/// asked for; an unknown or malformed tenant gets the token endpoint's `400` error body.
pub(crate) fn tenant_discovery(state: &State, request: &Request, raw_tenant: &str) -> Response {
    let trace_id = uuid::Uuid::new_v4().hyphenated().to_string();
    let checked = known_tenant(state, raw_tenant).and_then(|()| {
        if request.method == "GET" {
            Ok(())
        } else {
            Err(reject(
                400,
                "invalid_request",
                900_561,
                format!(
                    "The endpoint only accepts GET, OPTIONS requests. Received a {} request.",
                    request.method
                ),
            ))
        }
    });
    if let Err(r) = checked {
        let correlation_id = uuid::Uuid::new_v4().hyphenated().to_string();
        return Response::new(
            r.status,
            "application/json; charset=utf-8",
            entra_error_body(r.error, &[r.code], &r.text, &trace_id, &correlation_id).into_bytes(),
        )
        .with_header("x-ms-request-id", trace_id);
    }
    let base = &state.base_url;
    let tenant = &state.tenant_id;
    let instance = base.strip_prefix("https://").unwrap_or(base);
    let body = json!({
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/{tenant}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{tenant}/oauth2/v2.0/logout"),
        "claims_supported": [
            "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username",
            "name", "tid", "ver", "at_hash", "c_hash", "email"
        ],
        "kerberos_endpoint": format!("{base}/{tenant}/kerberos"),
        "tenant_region_scope": "NA",
        "cloud_instance_name": instance,
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    });
    Response::json(200, &body)
        .with_header("Cache-Control", "max-age=86400, private")
        .with_header("x-ms-request-id", trace_id)
}

/// Every check of the grant, in Entra's order; `Ok` is the success body.
fn check(state: &State, request: &Request, raw_tenant: &str) -> Result<String, Reject> {
    // 1. The tenant segment.
    known_tenant(state, raw_tenant)?;
    if request.method != "POST" {
        return Err(reject(
            400,
            "invalid_request",
            900_561,
            format!(
                "The endpoint only accepts POST, OPTIONS requests. Received a {} request.",
                request.method
            ),
        ));
    }

    // 2. A form body with the client-credentials grant.
    let is_form = request
        .header("content-type")
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(missing("grant_type"));
    }
    let form: Vec<(Cow<'_, str>, Cow<'_, str>)> = form_urlencoded::parse(&request.body).collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_ref())
    };
    match field("grant_type") {
        None => return Err(missing("grant_type")),
        Some("client_credentials") => {}
        Some(other) => {
            return Err(reject(
                400,
                "unsupported_grant_type",
                70_003,
                format!("The app requested an unsupported grant type '{other}'."),
            ));
        }
    }

    // 3. The client.
    let client_id = field("client_id").ok_or_else(|| missing("client_id"))?;
    let app = state
        .apps
        .iter()
        .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
        .ok_or_else(|| {
            reject(
                400,
                "unauthorized_client",
                700_016,
                format!(
                    "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                    state.tenant_id
                ),
            )
        })?;

    // 4. Client authentication: a federated assertion, not a secret.
    if field("client_secret").is_some() {
        return Err(reject(
            401,
            "invalid_client",
            7_000_215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                app.client_id
            ),
        ));
    }
    let assertion = field("client_assertion").ok_or_else(|| {
        reject(
            401,
            "invalid_client",
            7_000_218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
    })?;
    match field("client_assertion_type") {
        None => return Err(missing("client_assertion_type")),
        Some(JWT_BEARER) => {}
        Some(_) => {
            return Err(reject(
                400,
                "invalid_request",
                90_011,
                // Observed wording (ADAL-era report); Entra does not echo the value.
                "Unexpected client assertion type.",
            ));
        }
    }

    // 5. One resource, `/.default`.
    let scope = field("scope").ok_or_else(|| missing("scope"))?;
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let resource = match scopes.as_slice() {
        [] => return Err(missing("scope")),
        [one] => one.strip_suffix("/.default").ok_or_else(|| {
            reject(
                400,
                "invalid_scope",
                1_002_012,
                format!(
                    "The provided value for scope {one} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            )
        })?,
        _ => {
            return Err(reject(
                400,
                "invalid_scope",
                70_011,
                format!(
                    "The provided value for the input parameter 'scope' is not valid. One or more scopes in '{scope}' are not compatible with each other."
                ),
            ));
        }
    };
    if resource.is_empty() {
        return Err(reject(
            400,
            "invalid_resource",
            500_011,
            format!(
                "The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
                state.tenant_id
            ),
        ));
    }

    // 6. The assertion.
    verify_assertion(state, app, assertion)?;

    // 7. Success.
    Ok(issue(state, app, resource, assertion))
}

/// `aud` as Entra quotes it: the string, or an array's members joined with `, `.
fn audiences(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn numeric(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    let value = claims.get(name)?;
    // Whole seconds; fractional NumericDates are truncated.
    value.as_i64().or_else(|| value.as_f64().map(|f| f as i64))
}

/// Decoding, issuer, credential matching, signature and lifetime, in that order.
fn verify_assertion(state: &State, app: &App, assertion: &str) -> Result<(), Reject> {
    let jws = jwt::decode(assertion).ok_or_else(|| {
        reject(
            400,
            "invalid_request",
            50_027,
            "JWT token is invalid or malformed.",
        )
    })?;
    let missing_claim = |name: &str| {
        reject(
            400,
            "invalid_request",
            90_014,
            format!(
                "The required field '{name}' is missing from the credential. Ensure that you have all the necessary parameters for the login request."
            ),
        )
    };
    let claim = |name: &str| {
        jws.claims
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| missing_claim(name))
    };
    let iss = claim("iss")?;
    let sub = claim("sub")?;
    let aud = audiences(&jws.claims);
    if aud.is_empty() {
        return Err(missing_claim("aud"));
    }
    let exp = numeric(&jws.claims, "exp").ok_or_else(|| missing_claim("exp"))?;
    let aud_text = aud.join(", ");

    if iss.starts_with("https://login.microsoftonline.com/")
        || iss.starts_with("https://sts.windows.net/")
    {
        return Err(reject(
            400,
            "invalid_request",
            700_222,
            "AAD-issued tokens may not be used for federated identity flows.",
        ));
    }
    if app.federated_credentials.is_empty() {
        return Err(reject(
            400,
            "invalid_client",
            70_025,
            format!(
                "The client '{}'({}) has no configured federated identity credentials.",
                app.client_id, app.display_name
            ),
        ));
    }
    if app.propagating {
        return Err(reject(
            400,
            "invalid_request",
            70_021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{aud_text}'. https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation"
            ),
        ));
    }
    matching_credential(app, &iss, &sub, &aud, &aud_text)?;

    // Signature: via the issuer's own keys. Only this emulator's issuer is reachable from here.
    if iss != state.issuer {
        return Err(reject(
            401,
            "invalid_client",
            50_166,
            format!("Request to External OIDC endpoint failed. Issuer: '{iss}'."),
        ));
    }
    state.keys.verify(&jws).map_err(|reason| {
        reject(
            401,
            "invalid_client",
            700_027,
            format!(
                "Client assertion failed signature validation. (Reason - {reason} Key ID of key used by client: '{}'.)",
                jws.header
                    .get("kid")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            ),
        )
    })?;

    // Lifetime: no skew on `exp`, five minutes on `nbf`.
    let now = clock::now();
    let nbf = numeric(&jws.claims, "nbf");
    let valid_from = nbf.or_else(|| numeric(&jws.claims, "iat")).unwrap_or(exp);
    if now >= exp || nbf.is_some_and(|nbf| nbf > now + NBF_SKEW_SECS) {
        // Entra answers this one with 401, like the other assertion failures (Azure/login#180).
        return Err(reject(
            401,
            "invalid_client",
            700_024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
                clock::entra_instant(now),
                clock::entra_instant(valid_from),
                clock::entra_instant(exp)
            ),
        ));
    }
    Ok(())
}

/// Exact, case-sensitive matching of issuer, then subject, then audience.
fn matching_credential<'a>(
    app: &'a App,
    iss: &str,
    sub: &str,
    aud: &[String],
    aud_text: &str,
) -> Result<&'a FederatedCredential, Reject> {
    let by_issuer: Vec<&FederatedCredential> = app
        .federated_credentials
        .iter()
        .filter(|f| f.issuer == iss)
        .collect();
    if by_issuer.is_empty() {
        return Err(reject(
            401,
            "invalid_client",
            700_211,
            format!(
                "No matching federated identity record found for presented assertion issuer '{iss}'. {CHECK_FIC} {WIF_DOC}"
            ),
        ));
    }
    let by_subject: Vec<&FederatedCredential> = by_issuer
        .iter()
        .copied()
        .filter(|f| f.subject == sub)
        .collect();
    if by_subject.is_empty() {
        return Err(
            if by_issuer
                .iter()
                .any(|f| f.subject.to_lowercase() == sub.to_lowercase())
            {
                reject(
                    401,
                    "invalid_client",
                    7_002_138,
                    format!(
                        // Wording as Entra sends it since 2025 (e.g. Azure/login#515).
                        "No matching federated identity record found for presented assertion subject '{sub}'. The subject matches with case-insensitive comparison, but not with case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. See documentation at: {WIF_DOC}. See breaking change notification and remediation at: https://learn.microsoft.com/en-us/entra/identity-platform/reference-breaking-changes#august-2024."
                    ),
                )
            } else {
                reject(
                    401,
                    "invalid_client",
                    700_213,
                    format!(
                        // Wording as Entra sends it since 2025 (e.g. dotnet/maui#31978,
                        // Azure/azure-workload-identity#1200): it no longer mentions case.
                        "No matching federated identity record found for presented assertion subject '{sub}'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. {WIF_DOC}"
                    ),
                )
            },
        );
    }
    by_subject
        .into_iter()
        .find(|f| f.audiences.iter().any(|a| aud.contains(a)))
        .ok_or_else(|| {
            reject(
                401,
                "invalid_client",
                700_212,
                format!(
                    "No matching federated identity record found for presented assertion audience '{aud_text}'. {CHECK_FIC} {WIF_DOC}"
                ),
            )
        })
}

/// The success body with a fresh app-only access token for `resource`.
fn issue(state: &State, app: &App, resource: &str, assertion: &str) -> String {
    let now = clock::now();
    let lifetime = i64::try_from(state.access_token_lifetime_secs).unwrap_or(i64::MAX / 2);
    let sts = format!("https://sts.windows.net/{}/", state.tenant_id);
    let claims = json!({
        "aud": resource,
        "iss": sts,
        "iat": now,
        "nbf": now,
        "exp": now.saturating_add(lifetime),
        "aio": jwt::random_id(2),
        "app_displayname": app.display_name,
        "appid": app.client_id,
        "appidacr": "2",
        "idp": sts,
        "idtyp": "app",
        "oid": app.object_id,
        "rh": format!("1.{}.", jwt::random_id(1)),
        "sub": app.object_id,
        "tid": state.tenant_id,
        "uti": jwt::random_id(1),
        "ver": "1.0",
        "xms_tcdt": 1_600_000_000,
    });
    let token = match &claims {
        Value::Object(map) => state.keys.sign(map),
        _ => String::new(),
    };
    state.add_issued_access_token(&token, assertion);
    // Entra's field order.
    ordered_json(&[
        ("token_type", json!("Bearer")),
        ("expires_in", json!(state.access_token_lifetime_secs)),
        ("ext_expires_in", json!(state.access_token_lifetime_secs)),
        ("access_token", json!(token)),
    ])
}
