//! Doubles of the other Azure APIs the cookbook's recipes call with the action's tokens, so that
//! their scripts run against something that answers like the real service, errors included:
//!
//! - **ARM reads**: `GET /subscriptions?api-version=2022-12-01` (Subscriptions - List, what
//!   `az login` calls: <https://learn.microsoft.com/rest/api/resources/subscriptions/list>), `GET /subscriptions/{s}/resourcegroups?api-version=2021-04-01` (Resource Groups -
//!   List, <https://learn.microsoft.com/rest/api/resources/resource-groups/list>) and
//!   `GET /subscriptions/{s}/providers/Microsoft.RecoveryServices/vaults?api-version=2023-04-01`
//!   (Vaults - List By Subscription Id,
//!   <https://learn.microsoft.com/rest/api/recoveryservices/vaults/list-by-subscription-id>): a
//!   `{"value": [...], "nextLink": ...}` page, `nextLink` (an absolute URL) while more remain. An
//!   unknown subscription answers 404 `SubscriptionNotFound`. ARM's error body is
//!   `{"error":{"code","message"}}`: 401 `AuthenticationFailed` / `InvalidAuthenticationToken` /
//!   `InvalidAuthenticationTokenAudience`, 403 `AuthorizationFailed`
//!   (<https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling>,
//!   <https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors>).
//! - **Key Vault**: `GET {vault}/secrets/{name}[/{version}]?api-version=7.4` answers the `SecretBundle`
//!   `{"value","id","attributes":{...}}` (Get Secret,
//!   <https://learn.microsoft.com/rest/api/keyvault/secrets/get-secret/get-secret>); errors are the
//!   `KeyVaultError` `{"error":{"code","message","innererror"?}}`: 401 `Unauthorized` with a
//!   `WWW-Authenticate: Bearer authorization=…, resource="https://vault.azure.net"` challenge
//!   (<https://learn.microsoft.com/azure/key-vault/general/authentication-requests-and-responses>,
//!   <https://learn.microsoft.com/azure/key-vault/general/rest-error-codes>),
//!   403 `Forbidden` / innererror `ForbiddenByRbac` ("Caller is not authorized to perform action on
//!   resource."), 404 `SecretNotFound` ("A secret with (name/id) … was not found in this key vault.").
//!   The vault is the emulator's base URL (one vault).
//! - **Microsoft Graph**: `GET /v1.0/servicePrincipals?$filter=appId eq '{id}'` answers
//!   `{"@odata.context", "value": [{"id","appId","displayName"}]}` (List servicePrincipals,
//!   <https://learn.microsoft.com/graph/api/serviceprincipal-list>); errors are
//!   `{"error":{"code","message","innerError":{...}}}`: 401 `InvalidAuthenticationToken`, 403
//!   `Authorization_RequestDenied` ("Insufficient privileges to complete the operation.")
//!   (<https://learn.microsoft.com/graph/errors>).
//!
//! Every service checks the bearer token first: issued by this emulator's Entra endpoint and for
//! the service's own audience (an ARM token sent to Key Vault is a 401, as it is in Azure). The
//! wording of the 401 for a token the emulator never issued and of a missing `api-version` are the
//! double's own. Set with [`Emulator::set_services`](crate::Emulator::set_services).

use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::{Value, json};

use crate::Recorded;
use crate::http::{Request, Response};
use crate::state::State;

/// How the doubles answer; start from [`Services::default`].
#[derive(Clone, Debug)]
pub struct Services {
    /// The one subscription ARM knows; default `00000000-0000-4000-8000-0000000000bb`.
    pub subscription: String,
    /// Its resource groups: `(name, location)`.
    pub resource_groups: Vec<(String, String)>,
    /// Its Recovery Services vaults: `(name, location)` (each in resource group `rg-backup`).
    pub vaults: Vec<(String, String)>,
    /// The largest ARM list page; further items come through `nextLink`. Default 100.
    pub page_size: usize,
    /// The `aud` values ARM accepts; default the public cloud's four.
    pub arm_audiences: Vec<String>,
    /// The Key Vault's secrets: `(name, value)`.
    pub secrets: Vec<(String, String)>,
    /// Every service answers 403 its own way (the identity lacks the role or permission).
    pub forbid: bool,
}

impl Default for Services {
    fn default() -> Services {
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        Services {
            subscription: "00000000-0000-4000-8000-0000000000bb".to_owned(),
            resource_groups: vec![
                pair("rg-app", "westeurope"),
                pair("rg-backup", "westeurope"),
            ],
            vaults: vec![pair("vault-prod", "westeurope")],
            page_size: 100,
            arm_audiences: [
                "https://management.azure.com",
                "https://management.azure.com/",
                "https://management.core.windows.net",
                "https://management.core.windows.net/",
            ]
            .map(str::to_owned)
            .to_vec(),
            secrets: vec![pair("db-password", "s3cr3t-db-password")],
            forbid: false,
        }
    }
}

/// The doubles' configuration and request log.
#[derive(Default)]
pub(crate) struct ServicesState {
    config: Option<Services>,
    recorded: Vec<Recorded>,
}

fn lock(m: &Mutex<ServicesState>) -> MutexGuard<'_, ServicesState> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn configure(services: &Mutex<ServicesState>, config: Services) {
    lock(services).config = Some(config);
}

pub(crate) fn recorded(services: &Mutex<ServicesState>) -> Vec<Recorded> {
    lock(services).recorded.clone()
}

/// Which service a path belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    Arm,
    KeyVault,
    Graph,
}

/// What one request asks for.
enum Route {
    Subscriptions,
    ResourceGroups(String),
    Vaults(String),
    Secret(String),
    ServicePrincipals,
}

impl Route {
    fn service(&self) -> Service {
        match self {
            Route::Subscriptions | Route::ResourceGroups(_) | Route::Vaults(_) => Service::Arm,
            Route::Secret(_) => Service::KeyVault,
            Route::ServicePrincipals => Service::Graph,
        }
    }
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn route(path: &str) -> Option<Route> {
    let s: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let s: Vec<&str> = s.iter().map(String::as_str).collect();
    match s.as_slice() {
        [subs] if eq(subs, "subscriptions") => Some(Route::Subscriptions),
        [subs, sub, rgs] if eq(subs, "subscriptions") && eq(rgs, "resourcegroups") => {
            Some(Route::ResourceGroups((*sub).to_owned()))
        }
        [subs, sub, p, ns, vaults]
            if eq(subs, "subscriptions")
                && eq(p, "providers")
                && eq(ns, "Microsoft.RecoveryServices")
                && eq(vaults, "vaults") =>
        {
            Some(Route::Vaults((*sub).to_owned()))
        }
        ["secrets", name] | ["secrets", name, _] => Some(Route::Secret((*name).to_owned())),
        ["v1.0", sps] if eq(sps, "servicePrincipals") => Some(Route::ServicePrincipals),
        _ => None,
    }
}

/// Whether one of these doubles serves `path`.
pub(crate) fn serves(path: &str) -> bool {
    route(path).is_some()
}

fn error(status: u16, code: &str, message: &str) -> Response {
    Response::json(
        status,
        &json!({ "error": { "code": code, "message": message } }),
    )
}

fn query(request: &Request, name: &str) -> Option<String> {
    request.query.as_deref().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    })
}

/// Answers one request for a path [`serves`] accepts.
pub(crate) fn handle(state: &State, request: &Request, recorded: Recorded) -> Response {
    let mut services = lock(&state.services);
    services.recorded.push(recorded);
    let config = services.config.clone().unwrap_or_default();
    drop(services);
    let Some(route) = route(&request.path) else {
        return error(404, "NotFound", "Not found.");
    };
    let service = route.service();
    if let Err(response) = authenticate(state, request, service, &config) {
        return response;
    }
    if request.method != "GET" {
        return error(
            405,
            "HttpMethodNotAllowed",
            &format!("The HTTP method '{}' is not supported.", request.method),
        );
    }
    if service != Service::Graph && query(request, "api-version").is_none_or(|v| v.is_empty()) {
        return error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    }
    match route {
        Route::ResourceGroups(sub) | Route::Vaults(sub) if !eq(&sub, &config.subscription) => {
            error(
                404,
                "SubscriptionNotFound",
                &format!("The subscription '{sub}' could not be found."),
            )
        }
        Route::Subscriptions => {
            let sub = &config.subscription;
            let items = vec![json!({
                "id": format!("/subscriptions/{sub}"),
                "subscriptionId": sub,
                "tenantId": state.tenant_id,
                "displayName": "octo-subscription",
                "state": "Enabled",
                "subscriptionPolicies": {
                    "locationPlacementId": "Public_2014-09-01",
                    "quotaId": "PayAsYouGo_2014-09-01",
                    "spendingLimit": "Off"
                },
                "authorizationSource": "RoleBased",
                "managedByTenants": [],
                "tags": {}
            })];
            arm_page(state, request, &config, items)
        }
        Route::ResourceGroups(sub) => {
            if config.forbid {
                return arm_forbidden(
                    &sub,
                    "Microsoft.Resources/subscriptions/resourceGroups/read",
                );
            }
            let items = config
                .resource_groups
                .iter()
                .map(|(name, location)| {
                    json!({
                        "id": format!("/subscriptions/{sub}/resourceGroups/{name}"),
                        "name": name,
                        "type": "Microsoft.Resources/resourceGroups",
                        "location": location,
                        "properties": { "provisioningState": "Succeeded" },
                    })
                })
                .collect();
            arm_page(state, request, &config, items)
        }
        Route::Vaults(sub) => {
            if config.forbid {
                return arm_forbidden(&sub, "Microsoft.RecoveryServices/vaults/read");
            }
            let items = config
                .vaults
                .iter()
                .map(|(name, location)| {
                    json!({
                        "id": format!("/subscriptions/{sub}/resourceGroups/rg-backup/providers/Microsoft.RecoveryServices/vaults/{name}"),
                        "name": name,
                        "type": "Microsoft.RecoveryServices/vaults",
                        "location": location,
                        "sku": { "name": "RS0", "tier": "Standard" },
                        "properties": { "provisioningState": "Succeeded" },
                    })
                })
                .collect();
            arm_page(state, request, &config, items)
        }
        Route::Secret(name) => secret(state, &config, &name),
        Route::ServicePrincipals => service_principals(state, request, &config),
    }
}

/// The bearer token: present, issued by this emulator, for `service`'s audience.
fn authenticate(
    state: &State,
    request: &Request,
    service: Service,
    config: &Services,
) -> Result<(), Response> {
    let token = request
        .header("authorization")
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
        .filter(|t| !t.is_empty());
    let audience = token.as_ref().and_then(|t| {
        crate::jwt::decode(t).and_then(|d| {
            d.claims
                .get("aud")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
    });
    let issued = token
        .as_ref()
        .is_some_and(|t| state.issued_access_tokens().contains(t));
    let challenge = format!(
        "Bearer authorization=\"https://login.windows.net/{}\", resource=\"https://vault.azure.net\"",
        state.tenant_id
    );
    match service {
        Service::Arm => {
            let Some(_) = token else {
                return Err(error(
                    401,
                    "AuthenticationFailed",
                    "Authentication failed. The 'Authorization' header is missing.",
                ));
            };
            if !issued {
                return Err(error(
                    401,
                    "InvalidAuthenticationToken",
                    "The access token is invalid.",
                ));
            }
            let audience = audience.unwrap_or_default();
            if !config.arm_audiences.contains(&audience) {
                return Err(error(
                    401,
                    "InvalidAuthenticationTokenAudience",
                    &format!(
                        "The access token has been obtained for wrong audience or resource '{audience}'. It should exactly match with one of the allowed audiences '{}'.",
                        config.arm_audiences.join("','")
                    ),
                ));
            }
        }
        Service::KeyVault => {
            let unauthorized = |message: String| {
                error(401, "Unauthorized", &message)
                    .with_header("WWW-Authenticate", challenge.clone())
            };
            if token.is_none() {
                return Err(unauthorized(
                    "AKV10000: Request is missing a Bearer or PoP token.".to_owned(),
                ));
            }
            if !issued {
                return Err(unauthorized(
                    "AKV10032: Invalid issuer or signature.".to_owned(),
                ));
            }
            let audience = audience.unwrap_or_default();
            if !["https://vault.azure.net", "https://vault.azure.net/"].contains(&audience.as_str())
            {
                return Err(unauthorized(format!(
                    "AKV10022: Invalid audience. Expected https://vault.azure.net, found: {audience}."
                )));
            }
        }
        Service::Graph => {
            let invalid = |message: &str| graph_error(401, "InvalidAuthenticationToken", message);
            if token.is_none() {
                return Err(invalid("Access token is empty."));
            }
            if !issued {
                return Err(invalid("Access token validation failure."));
            }
            let audience = audience.unwrap_or_default();
            if ![
                "https://graph.microsoft.com",
                "https://graph.microsoft.com/",
                "00000003-0000-0000-c000-000000000000",
            ]
            .contains(&audience.as_str())
            {
                return Err(invalid(
                    "Access token validation failure. Invalid audience.",
                ));
            }
        }
    }
    Ok(())
}

fn arm_forbidden(sub: &str, action: &str) -> Response {
    error(
        403,
        "AuthorizationFailed",
        &format!(
            "The client '11111111-2222-4333-8444-555555555555' with object id '99999999-8888-4777-8666-555555555555' does not have authorization to perform action '{action}' over scope '/subscriptions/{sub}' or the scope is invalid. If access was recently granted, please refresh your credentials."
        ),
    )
}

/// One page of an ARM list, `$skiptoken` being the offset.
fn arm_page(state: &State, request: &Request, config: &Services, items: Vec<Value>) -> Response {
    let skip: usize = query(request, "$skiptoken")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let size = config.page_size.max(1);
    let page: Vec<Value> = items.iter().skip(skip).take(size).cloned().collect();
    let mut body = json!({ "value": page });
    if skip + size < items.len() {
        let api = query(request, "api-version").unwrap_or_default();
        body["nextLink"] = json!(format!(
            "{}{}?api-version={api}&%24skiptoken={}",
            state.base_url,
            request.path,
            skip + size
        ));
    }
    Response::json(200, &body)
}

fn secret(state: &State, config: &Services, name: &str) -> Response {
    if config.forbid {
        return Response::json(
            403,
            &json!({ "error": {
                "code": "Forbidden",
                "message": format!("Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid=11111111-2222-4333-8444-555555555555;oid=99999999-8888-4777-8666-555555555555;iss=https://sts.windows.net/{}/\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\nAssignment: (not found)\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: kv-prod;location=westeurope\r\n", state.tenant_id),
                "innererror": { "code": "ForbiddenByRbac" },
            }}),
        );
    }
    let Some((name, value)) = config.secrets.iter().find(|(n, _)| eq(n, name)) else {
        return error(
            404,
            "SecretNotFound",
            &format!(
                "A secret with (name/id) {name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
            ),
        );
    };
    let version = crate::sha256_hex(name.as_bytes());
    let version = version.get(..32).unwrap_or_default();
    Response::json(
        200,
        &json!({
            "value": value,
            "id": format!("{}/secrets/{name}/{version}", state.base_url),
            "attributes": {
                "enabled": true,
                "created": 1_493_938_410,
                "updated": 1_493_938_410,
                "recoveryLevel": "Recoverable+Purgeable",
            },
        }),
    )
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

fn service_principals(state: &State, request: &Request, config: &Services) -> Response {
    if config.forbid {
        return graph_error(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let filter = query(request, "$filter").unwrap_or_default();
    let value: Vec<Value> = state
        .apps
        .iter()
        .filter(|app| filter.is_empty() || filter == format!("appId eq '{}'", app.client_id))
        .map(|app| {
            json!({
                "id": app.object_id,
                "appId": app.client_id,
                "displayName": app.display_name,
            })
        })
        .collect();
    Response::json(
        200,
        &json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals(id,appId,displayName)",
            "value": value,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::{Route, route, serves};

    #[test]
    fn routes_follow_the_services_paths() {
        let sub = "00000000-0000-4000-8000-0000000000bb";
        assert!(matches!(
            route(&format!("/subscriptions/{sub}/resourcegroups")),
            Some(Route::ResourceGroups(s)) if s == sub
        ));
        // ARM paths are case-insensitive.
        assert!(matches!(
            route(&format!("/Subscriptions/{sub}/resourceGroups")),
            Some(Route::ResourceGroups(_))
        ));
        assert!(matches!(
            route(&format!(
                "/subscriptions/{sub}/providers/microsoft.recoveryservices/Vaults"
            )),
            Some(Route::Vaults(_))
        ));
        assert!(
            matches!(route("/secrets/db-password"), Some(Route::Secret(n)) if n == "db-password")
        );
        assert!(matches!(
            route("/secrets/db-password/4387e9f3d6e14c459867679a90fd0f79"),
            Some(Route::Secret(_))
        ));
        assert!(matches!(
            route("/v1.0/servicePrincipals"),
            Some(Route::ServicePrincipals)
        ));
        // Left to the Backup double, GitHub and Entra.
        for other in [
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v",
            "/subscriptions/s/resourcegroups/rg",
            "/tenant/oauth2/v2.0/token",
            "/.well-known/jwks",
            "/secrets",
        ] {
            assert!(!serves(other), "{other}");
        }
    }
}
