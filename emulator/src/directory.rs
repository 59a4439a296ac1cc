//! Doubles of the two lists of federated identity credentials that `federated-credential audit`
//! reads, answering by their public documents:
//!
//! - **Microsoft Graph**: `GET /v1.0/applications(appId='{appId}')/federatedIdentityCredentials` and
//!   the same under `/beta` (List federatedIdentityCredentials,
//!   <https://learn.microsoft.com/graph/api/application-list-federatedidentitycredentials>; the
//!   `appId` alternate key, <https://learn.microsoft.com/graph/api/application-get>). The body is
//!   `{"@odata.context", "value": [{"id","name","issuer","subject","description","audiences"}]}`;
//!   only beta carries `claimsMatchingExpression` (flexible credentials,
//!   <https://learn.microsoft.com/graph/api/resources/federatedidentitycredential?view=graph-rest-beta>),
//!   v1.0 lists a flexible credential with `subject: null`. Pages of [`Directory::page_size`] with an
//!   absolute `@odata.nextLink` carrying `$skiptoken` (<https://learn.microsoft.com/graph/paging>).
//!   Errors as Graph's `{"error":{"code","message","innerError"}}` (<https://learn.microsoft.com/graph/errors>):
//!   401 `InvalidAuthenticationToken`, 403 `Authorization_RequestDenied`, 404 `Request_ResourceNotFound`.
//! - **Azure Resource Manager**: `GET /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}/federatedIdentityCredentials?api-version=…`
//!   (Federated Identity Credentials - List,
//!   <https://learn.microsoft.com/rest/api/managedidentity/federated-identity-credentials/list>):
//!   `{"value": [{"id","name","type","properties":{"issuer","subject","audiences"}}], "nextLink"}`,
//!   `claimsMatchingExpression` in `properties` only for `2025-01-31-preview`. Errors as ARM's
//!   `{"error":{"code","message"}}`: 401, 403 `AuthorizationFailed`, 404 `ResourceNotFound`.
//!
//! Both check the bearer token as the services do: issued by this emulator's Entra endpoint, for
//! the service's audience. Every request to these doubles and to the GitHub REST double
//! ([`crate::github_api`]) is recorded in one log (`Emulator::audit_requests`), so a test can check
//! that the audit only reads. Set with `Emulator::set_directory`.

use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::{Value, json};

use crate::http::{Request, Response};
use crate::state::State;
use crate::{Emulator, Recorded};

/// A federated identity credential as Graph or ARM stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCredential {
    /// Its name.
    pub name: String,
    /// Its issuer, as stored (no normalisation).
    pub issuer: String,
    /// The exact subject, `None` for a flexible credential.
    pub subject: Option<String>,
    /// A flexible credential's `claimsMatchingExpression.value`.
    pub expression: Option<String>,
    /// Its audiences.
    pub audiences: Vec<String>,
}

impl StoredCredential {
    /// An exact credential with the public cloud's audience.
    pub fn exact(name: &str, issuer: &str, subject: &str) -> StoredCredential {
        StoredCredential {
            name: name.to_owned(),
            issuer: issuer.to_owned(),
            subject: Some(subject.to_owned()),
            expression: None,
            audiences: vec!["api://AzureADTokenExchange".to_owned()],
        }
    }

    /// A flexible credential with the public cloud's audience.
    pub fn flexible(name: &str, issuer: &str, expression: &str) -> StoredCredential {
        StoredCredential {
            name: name.to_owned(),
            issuer: issuer.to_owned(),
            subject: None,
            expression: Some(expression.to_owned()),
            audiences: vec!["api://AzureADTokenExchange".to_owned()],
        }
    }
}

/// The credentials the doubles hold; start from [`Directory::default`] (nothing).
#[derive(Clone, Debug)]
pub struct Directory {
    /// App registrations: `(appId, credentials)`.
    pub applications: Vec<(String, Vec<StoredCredential>)>,
    /// User-assigned identities: `(resource ID, credentials)`; the ID is compared case-insensitively.
    pub identities: Vec<(String, Vec<StoredCredential>)>,
    /// The largest page; default 100.
    pub page_size: usize,
    /// Graph answers 403 (no `Application.Read.All`, not an owner).
    pub forbid_graph: bool,
    /// ARM answers 403 (no Reader role on the identity).
    pub forbid_arm: bool,
}

impl Default for Directory {
    fn default() -> Directory {
        Directory {
            applications: Vec::new(),
            identities: Vec::new(),
            page_size: 100,
            forbid_graph: false,
            forbid_arm: false,
        }
    }
}

/// The doubles' configuration and their shared request log.
#[derive(Default)]
pub(crate) struct DoublesState {
    pub(crate) directory: Directory,
    pub(crate) github: crate::github_api::GitHubApi,
    pub(crate) recorded: Vec<Recorded>,
}

pub(crate) fn lock(m: &Mutex<DoublesState>) -> MutexGuard<'_, DoublesState> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Emulator {
    /// Sets the credentials the Graph and ARM credential-list doubles hold.
    pub fn set_directory(&self, directory: Directory) {
        lock(&self.state.doubles).directory = directory;
    }

    /// Sets what the GitHub REST double knows.
    pub fn set_github_api(&self, github: crate::github_api::GitHubApi) {
        lock(&self.state.doubles).github = github;
    }

    /// Every request the Graph, ARM credential-list and GitHub REST doubles received, in order.
    pub fn audit_requests(&self) -> Vec<Recorded> {
        lock(&self.state.doubles).recorded.clone()
    }
}

enum Route {
    Graph { version: String, app_id: String },
    Arm { identity: String },
}

const ARM_SUFFIX: &str = "/federatedIdentityCredentials";

fn route(path: &str) -> Option<Route> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned();
    for version in ["v1.0", "beta"] {
        if let Some(app_id) = decoded
            .strip_prefix(&format!("/{version}/applications(appId='"))
            .and_then(|rest| rest.strip_suffix("')/federatedIdentityCredentials"))
        {
            return Some(Route::Graph {
                version: version.to_owned(),
                app_id: app_id.to_owned(),
            });
        }
    }
    let identity = decoded.strip_suffix(ARM_SUFFIX)?;
    let segments: Vec<&str> = identity.split('/').collect();
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    match segments.as_slice() {
        ["", subs, _, rgs, _, providers, ns, kind, _]
            if eq(subs, "subscriptions")
                && eq(rgs, "resourceGroups")
                && eq(providers, "providers")
                && eq(ns, "Microsoft.ManagedIdentity")
                && eq(kind, "userAssignedIdentities") =>
        {
            Some(Route::Arm {
                identity: identity.to_owned(),
            })
        }
        _ => None,
    }
}

/// Whether these doubles serve `path`.
pub(crate) fn serves(path: &str) -> bool {
    route(path).is_some()
}

fn query(request: &Request, name: &str) -> Option<String> {
    request.query.as_deref().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    })
}

fn graph_error(status: u16, code: &str, message: &str) -> Response {
    Response::json(
        status,
        &json!({ "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": crate::clock::entra_instant(crate::clock::now()),
                "request-id": uuid::Uuid::new_v4().hyphenated().to_string(),
                "client-request-id": uuid::Uuid::new_v4().hyphenated().to_string(),
            },
        }}),
    )
}

fn arm_error(status: u16, code: &str, message: &str) -> Response {
    Response::json(
        status,
        &json!({ "error": { "code": code, "message": message } }),
    )
}

/// The bearer token's audience, if this emulator's Entra endpoint issued it.
fn issued_audience(state: &State, request: &Request) -> Result<String, &'static str> {
    let token = request
        .header("authorization")
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or("missing")?;
    if !state.issued_access_tokens().contains(&token) {
        return Err("invalid");
    }
    Ok(crate::jwt::decode(&token)
        .and_then(|d| {
            d.claims
                .get("aud")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default())
}

/// Answers one request for a path [`serves`] accepts.
pub(crate) fn handle(state: &State, request: &Request, recorded: Recorded) -> Response {
    let directory = {
        let mut doubles = lock(&state.doubles);
        doubles.recorded.push(recorded);
        doubles.directory.clone()
    };
    match route(&request.path) {
        Some(Route::Graph { version, app_id }) => {
            graph(state, request, &directory, &version, &app_id)
        }
        Some(Route::Arm { identity }) => arm(state, request, &directory, &identity),
        None => arm_error(404, "NotFound", "Not found."),
    }
}

fn page<'a>(request: &Request, items: &'a [Value], size: usize) -> (&'a [Value], Option<usize>) {
    let skip: usize = query(request, "$skiptoken")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
        .min(items.len());
    let size = size.max(1);
    let end = (skip + size).min(items.len());
    (&items[skip..end], (end < items.len()).then_some(end))
}

/// A stable GUID for a name (Graph gives every credential an `id`).
fn guid_of(name: &str) -> String {
    let hex = crate::sha256_hex(name.as_bytes());
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn graph(
    state: &State,
    request: &Request,
    directory: &Directory,
    version: &str,
    app_id: &str,
) -> Response {
    match issued_audience(state, request) {
        Err("missing") => {
            return graph_error(401, "InvalidAuthenticationToken", "Access token is empty.");
        }
        Err(_) => {
            return graph_error(
                401,
                "InvalidAuthenticationToken",
                "Access token validation failure.",
            );
        }
        Ok(audience)
            if ![
                "https://graph.microsoft.com",
                "https://graph.microsoft.com/",
                "00000003-0000-0000-c000-000000000000",
            ]
            .contains(&audience.as_str()) =>
        {
            return graph_error(
                401,
                "InvalidAuthenticationToken",
                "Access token validation failure. Invalid audience.",
            );
        }
        Ok(_) => {}
    }
    if request.method != "GET" {
        return graph_error(
            405,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        );
    }
    if directory.forbid_graph {
        return graph_error(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let Some((_, credentials)) = directory
        .applications
        .iter()
        .find(|(id, _)| id.eq_ignore_ascii_case(app_id))
    else {
        return graph_error(
            404,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{app_id}' does not exist or one of its queried reference-property objects are not present."
            ),
        );
    };
    let beta = version == "beta";
    let items: Vec<Value> = credentials
        .iter()
        .map(|c| {
            let mut item = json!({
                "id": guid_of(&c.name),
                "name": c.name,
                "issuer": c.issuer,
                "subject": c.subject,
                "description": null,
                "audiences": c.audiences,
            });
            if beta {
                item["claimsMatchingExpression"] = match &c.expression {
                    Some(value) => json!({ "value": value, "languageVersion": 1 }),
                    None => Value::Null,
                };
            }
            item
        })
        .collect();
    let (page, next) = page(request, &items, directory.page_size);
    let path = format!("/{version}/applications(appId='{app_id}')/federatedIdentityCredentials");
    let mut body = json!({
        "@odata.context": format!("https://graph.microsoft.com/{version}/$metadata#applications('{app_id}')/federatedIdentityCredentials"),
        "value": page,
    });
    if let Some(next) = next {
        body["@odata.nextLink"] = json!(format!("{}{path}?$skiptoken={next}", state.base_url));
    }
    Response::json(200, &body)
}

fn arm(state: &State, request: &Request, directory: &Directory, identity: &str) -> Response {
    const AUDIENCES: [&str; 4] = [
        "https://management.azure.com",
        "https://management.azure.com/",
        "https://management.core.windows.net",
        "https://management.core.windows.net/",
    ];
    match issued_audience(state, request) {
        Err("missing") => {
            return arm_error(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            );
        }
        Err(_) => {
            return arm_error(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
            );
        }
        Ok(audience) if !AUDIENCES.contains(&audience.as_str()) => {
            return arm_error(
                401,
                "InvalidAuthenticationTokenAudience",
                &format!(
                    "The access token has been obtained for wrong audience or resource '{audience}'."
                ),
            );
        }
        Ok(_) => {}
    }
    let Some(api_version) = query(request, "api-version").filter(|v| !v.is_empty()) else {
        return arm_error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    };
    if request.method != "GET" {
        return arm_error(
            405,
            "HttpMethodNotAllowed",
            &format!("The HTTP method '{}' is not supported.", request.method),
        );
    }
    if directory.forbid_arm {
        return arm_error(
            403,
            "AuthorizationFailed",
            &format!(
                "The client '11111111-2222-4333-8444-555555555555' with object id '99999999-8888-4777-8666-555555555555' does not have authorization to perform action 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read' over scope '{identity}' or the scope is invalid. If access was recently granted, please refresh your credentials."
            ),
        );
    }
    let Some((id, credentials)) = directory
        .identities
        .iter()
        .find(|(id, _)| id.eq_ignore_ascii_case(identity))
    else {
        let name = identity.rsplit('/').next().unwrap_or_default();
        return arm_error(
            404,
            "ResourceNotFound",
            &format!(
                "The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/{name}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
            ),
        );
    };
    let preview = api_version == "2025-01-31-preview";
    let items: Vec<Value> = credentials
        .iter()
        .map(|c| {
            let mut properties = json!({
                "issuer": c.issuer,
                "subject": c.subject,
                "audiences": c.audiences,
            });
            if preview && let Some(value) = &c.expression {
                properties["claimsMatchingExpression"] = json!({ "value": value, "languageVersion": 1 });
            }
            json!({
                "id": format!("{id}/federatedIdentityCredentials/{}", c.name),
                "name": c.name,
                "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
                "properties": properties,
            })
        })
        .collect();
    let (page, next) = page(request, &items, directory.page_size);
    let mut body = json!({ "value": page });
    if let Some(next) = next {
        body["nextLink"] = json!(format!(
            "{}{}?api-version={api_version}&%24skiptoken={next}",
            state.base_url, request.path
        ));
    }
    Response::json(200, &body)
}

#[cfg(test)]
mod tests {
    use super::{Route, route, serves};

    #[test]
    fn routes_follow_graph_and_arm_paths() {
        assert!(matches!(
            route("/beta/applications(appId='a-b')/federatedIdentityCredentials"),
            Some(Route::Graph { version, app_id }) if version == "beta" && app_id == "a-b"
        ));
        assert!(matches!(
            route("/v1.0/applications(appId=%27a-b%27)/federatedIdentityCredentials"),
            Some(Route::Graph { version, .. }) if version == "v1.0"
        ));
        assert!(matches!(
            route(
                "/subscriptions/s/resourcegroups/rg/providers/microsoft.managedidentity/userAssignedIdentities/id/federatedIdentityCredentials"
            ),
            Some(Route::Arm { .. })
        ));
        for other in [
            "/v2.0/applications(appId='a')/federatedIdentityCredentials",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id",
            "/subscriptions/s/resourcegroups",
        ] {
            assert!(!serves(other), "{other}");
        }
    }
}
