//! A double of the Azure Resource Manager endpoints that Azure Backup (Recovery Services vault) scripts
//! call, so that the cookbook's scripts run against something that answers like ARM.
//!
//! What it follows (Microsoft's Backup REST guides and the Recovery Services REST reference):
//! - On-demand backup, `POST {vault}/backupFabrics/Azure/protectionContainers/{c}/protectedItems/{i}/backup`,
//!   and restore, `POST .../protectedItems/{i}/recoveryPoints/{rp}/restore`, answer `202 Accepted` with
//!   `Location` (`.../operationResults/{op}`), `Azure-AsyncOperation` (`.../operationsStatus/{op}`) and
//!   `Retry-After` (<https://learn.microsoft.com/azure/backup/backup-azure-arm-userestapi-backupazurevms>,
//!   <https://learn.microsoft.com/azure/backup/backup-azure-arm-userestapi-restoreazurevms>).
//! - The `Azure-AsyncOperation` URL answers `{"status":"InProgress"}` and then `"Succeeded"` with
//!   `properties: {objectType: "OperationStatusJobExtendedInfo", jobId}`: it turns `Succeeded` as soon as
//!   the Backup **job** exists, not when the job is done.
//! - `GET {vault}/backupJobs/{jobId}` always answers 200; `properties.status` goes `InProgress` and ends
//!   `Completed`, `CompletedWithWarnings`, `Failed` or `Cancelled`
//!   (<https://learn.microsoft.com/azure/backup/backup-azure-arm-userestapi-managejobs>).
//! - Every request needs `?api-version=` and a bearer token; ARM's error body is
//!   `{"error":{"code","message"}}` (401 `AuthenticationFailed` / `InvalidAuthenticationToken` /
//!   `InvalidAuthenticationTokenAudience`, 403 `AuthorizationFailed`, 429 with `Retry-After`)
//!   (<https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling>).
//!
//! Simplifications: any subscription, resource group, vault, container and item name exists; a bearer
//! token is valid if this emulator's Entra endpoint issued it for ARM (no expiry or role check, except
//! the configurable 403 on triggers); the status codes of invalid restore bodies are the double's own.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::{Value, json};

use crate::clock;
use crate::http::{Request, Response};
use crate::state::State;
use crate::{Backup, Recorded};

/// The audiences ARM accepts for its tokens.
const ARM_AUDIENCES: [&str; 4] = [
    "https://management.azure.com",
    "https://management.azure.com/",
    "https://management.core.windows.net",
    "https://management.core.windows.net/",
];

/// One started operation: its async-operation polls left, its job and the job's polls left.
struct Operation {
    polls_in_progress: u32,
    job_id: String,
}

/// One Backup job.
struct Job {
    operation: &'static str,
    item: String,
    started: i64,
    polls_in_progress: u32,
}

/// The double's mutable state.
#[derive(Default)]
pub(crate) struct ArmState {
    backup: Backup,
    operations: HashMap<String, Operation>,
    jobs: HashMap<String, Job>,
    throttled: u32,
    recorded: Vec<Recorded>,
    /// The emulator's base URL, for the `Location` and `Azure-AsyncOperation` headers.
    endpoint: String,
}

fn lock(m: &Mutex<ArmState>) -> MutexGuard<'_, ArmState> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Replaces the double's behaviour (and forgets its operations and jobs).
pub(crate) fn configure(arm: &Mutex<ArmState>, backup: Backup) {
    let mut state = lock(arm);
    *state = ArmState {
        backup,
        recorded: std::mem::take(&mut state.recorded),
        ..ArmState::default()
    };
}

/// Every ARM request received, in order.
pub(crate) fn recorded(arm: &Mutex<ArmState>) -> Vec<Recorded> {
    lock(arm).recorded.clone()
}

/// Whether `path` is an ARM resource path (ARM paths are case-insensitive).
pub(crate) fn is_arm_path(path: &str) -> bool {
    path.get(..15)
        .is_some_and(|p| p.eq_ignore_ascii_case("/subscriptions/"))
}

fn error(status: u16, code: &str, message: &str) -> Response {
    Response::json(
        status,
        &json!({ "error": { "code": code, "message": message } }),
    )
}

fn guid() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

/// Answers one ARM request.
pub(crate) fn handle(state: &State, request: &Request, recorded: Recorded) -> Response {
    let mut arm = lock(&state.arm);
    arm.recorded.push(recorded);
    arm.endpoint.clone_from(&state.base_url);
    let response = answer(state, &mut arm, request);
    response
        .with_header("x-ms-request-id", guid())
        .with_header("x-ms-correlation-request-id", guid())
}

fn answer(state: &State, arm: &mut ArmState, request: &Request) -> Response {
    // Authentication comes first at ARM's front door, before the api-version or the route.
    let bearer = request
        .header("authorization")
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let Some(token) = bearer else {
        return error(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        )
        .with_header("WWW-Authenticate", "Bearer authorization_uri=\"https://login.windows.net/\", error=\"invalid_token\", error_description=\"The authentication failed because of missing 'Authorization' header.\"");
    };
    if !state.issued_access_tokens().contains(&token) {
        return error(
            401,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        )
        .with_header("WWW-Authenticate", "Bearer authorization_uri=\"https://login.windows.net/\", error=\"invalid_token\", error_description=\"The access token is invalid.\"");
    }
    let audience = crate::jwt::decode(&token)
        .and_then(|d| {
            d.claims
                .get("aud")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    if !ARM_AUDIENCES.contains(&audience.as_str()) {
        return error(
            401,
            "InvalidAuthenticationTokenAudience",
            &format!(
                "The access token has been obtained for wrong audience or resource '{audience}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'."
            ),
        );
    }
    let api_version = request.query.as_deref().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "api-version")
            .map(|(_, v)| v.into_owned())
    });
    if api_version.as_deref().is_none_or(str::is_empty) {
        return error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    }
    let segments: Vec<String> = request
        .path
        .trim_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let Some(route) = Route::parse(&segments) else {
        return not_found(&request.path);
    };
    // Polls are the GETs that scripts repeat; the throttle hits those.
    let polling = matches!(route.kind, Kind::OperationStatus(_) | Kind::Job(_));
    if polling && arm.throttled < arm.backup.throttle_polls {
        arm.throttled += 1;
        return error(
            429,
            "TooManyRequests",
            "The request is being throttled as the limit has been reached for operation type - Read. For more information, see - https://aka.ms/srsthrottling",
        )
        .with_header("Retry-After", "1");
    }
    match (request.method.as_str(), &route.kind) {
        ("GET", Kind::Vault) => vault(arm, &route),
        ("GET", Kind::StorageAccount(name)) => storage_account(arm, &route, name),
        ("GET", Kind::ProtectedItem(item)) => protected_item(arm, &route, item),
        ("GET", Kind::RecoveryPoints(item)) => recovery_points(arm, &route, item),
        ("POST", Kind::Backup(item)) => trigger(arm, &route, item, "Backup", request),
        ("POST", Kind::Restore(item, point)) => {
            if let Err(response) = check_restore(arm, item, point, request) {
                return response;
            }
            trigger(arm, &route, item, "Restore", request)
        }
        ("GET", Kind::OperationStatus(op)) => operation_status(arm, op),
        ("GET", Kind::OperationResult(op)) => operation_result(arm, &route, op),
        ("GET", Kind::Job(id)) => job(arm, &route, id),
        _ => error(
            405,
            "HttpMethodNotAllowed",
            &format!(
                "The HTTP method '{}' is not supported at '{}'.",
                request.method, request.path
            ),
        ),
    }
}

fn not_found(path: &str) -> Response {
    error(
        404,
        "ResourceNotFound",
        &format!("The Resource '{path}' was not found."),
    )
}

/// What the path names, below a vault (or a storage account).
enum Kind {
    Vault,
    StorageAccount(String),
    ProtectedItem(Item),
    RecoveryPoints(Item),
    Backup(Item),
    Restore(Item, String),
    OperationStatus(String),
    OperationResult(String),
    Job(String),
}

/// `backupFabrics/{fabric}/protectionContainers/{container}/protectedItems/{item}`.
#[derive(Clone)]
struct Item {
    fabric: String,
    container: String,
    name: String,
}

impl Item {
    fn path(&self) -> String {
        format!(
            "backupFabrics/{}/protectionContainers/{}/protectedItems/{}",
            self.fabric, self.container, self.name
        )
    }
}

struct Route {
    /// `/subscriptions/{s}/resourceGroups/{rg}/providers/{namespace}/{type}/{name}` as sent.
    resource_id: String,
    kind: Kind,
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl Route {
    fn parse(s: &[String]) -> Option<Route> {
        let at = |i: usize| s.get(i).map(String::as_str).unwrap_or_default();
        if s.len() < 8
            || !eq(at(0), "subscriptions")
            || !eq(at(2), "resourceGroups")
            || !eq(at(4), "providers")
        {
            return None;
        }
        let resource_id = format!("/{}", s.get(..8)?.join("/"));
        let rest: Vec<&str> = s.get(8..)?.iter().map(String::as_str).collect();
        let kind = if eq(at(5), "Microsoft.Storage") && eq(at(6), "storageAccounts") {
            rest.is_empty()
                .then(|| Kind::StorageAccount(at(7).to_owned()))?
        } else if eq(at(5), "Microsoft.RecoveryServices") && eq(at(6), "vaults") {
            Self::vault_kind(&rest)?
        } else {
            return None;
        };
        Some(Route { resource_id, kind })
    }

    fn vault_kind(rest: &[&str]) -> Option<Kind> {
        match rest {
            [] => Some(Kind::Vault),
            [jobs, id] if eq(jobs, "backupJobs") => Some(Kind::Job((*id).to_owned())),
            [f, fabric, c, container, p, item, tail @ ..]
                if eq(f, "backupFabrics")
                    && eq(c, "protectionContainers")
                    && eq(p, "protectedItems") =>
            {
                let item = Item {
                    fabric: (*fabric).to_owned(),
                    container: (*container).to_owned(),
                    name: (*item).to_owned(),
                };
                match tail {
                    [] => Some(Kind::ProtectedItem(item)),
                    [b] if eq(b, "backup") => Some(Kind::Backup(item)),
                    [r] if eq(r, "recoveryPoints") => Some(Kind::RecoveryPoints(item)),
                    [r, point, restore] if eq(r, "recoveryPoints") && eq(restore, "restore") => {
                        Some(Kind::Restore(item, (*point).to_owned()))
                    }
                    [o, op] if eq(o, "operationsStatus") => {
                        Some(Kind::OperationStatus((*op).to_owned()))
                    }
                    [o, op] if eq(o, "operationResults") => {
                        Some(Kind::OperationResult((*op).to_owned()))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

fn vault(arm: &ArmState, route: &Route) -> Response {
    let name = route.resource_id.rsplit('/').next().unwrap_or_default();
    Response::json(
        200,
        &json!({
            "id": route.resource_id,
            "name": name,
            "type": "Microsoft.RecoveryServices/vaults",
            "location": arm.backup.location,
            "sku": { "name": "RS0", "tier": "Standard" },
            "properties": { "provisioningState": "Succeeded" },
        }),
    )
}

fn storage_account(arm: &ArmState, route: &Route, name: &str) -> Response {
    let Some(account) = arm
        .backup
        .storage_accounts
        .iter()
        .find(|a| eq(&a.name, name))
    else {
        return error(
            404,
            "ResourceNotFound",
            &format!(
                "The Resource 'Microsoft.Storage/storageAccounts/{name}' under resource group was not found."
            ),
        );
    };
    Response::json(
        200,
        &json!({
            "id": route.resource_id,
            "name": account.name,
            "type": "Microsoft.Storage/storageAccounts",
            "location": account.location,
            "kind": "StorageV2",
            "sku": { "name": account.sku, "tier": "Standard" },
            "properties": { "provisioningState": "Succeeded" },
        }),
    )
}

fn protected_item(arm: &ArmState, route: &Route, item: &Item) -> Response {
    Response::json(
        200,
        &json!({
            "id": format!("{}/{}", route.resource_id, item.path()),
            "name": item.name,
            "type": "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems",
            "properties": {
                "protectedItemType": "Microsoft.Compute/virtualMachines",
                "backupManagementType": "AzureIaasVM",
                "workloadType": "VM",
                "friendlyName": friendly_name(&arm.backup.source_vm),
                "sourceResourceId": arm.backup.source_vm,
                "protectionStatus": "Healthy",
                "protectionState": "Protected",
            },
        }),
    )
}

fn friendly_name(resource_id: &str) -> String {
    resource_id
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn recovery_points(arm: &ArmState, route: &Route, item: &Item) -> Response {
    let value: Vec<Value> = arm
        .backup
        .recovery_points
        .iter()
        .map(|(name, time)| {
            json!({
                "id": format!("{}/{}/recoveryPoints/{name}", route.resource_id, item.path()),
                "name": name,
                "type": "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems/recoveryPoints",
                "properties": {
                    "objectType": "IaasVMRecoveryPoint",
                    "recoveryPointType": "AppConsistent",
                    "recoveryPointTime": time,
                    "isSourceVMEncrypted": false,
                    "isInstantIlrSessionActive": false,
                },
            })
        })
        .collect();
    Response::json(200, &json!({ "value": value }))
}

/// The restore body's rules that the cookbook's restore drill must meet.
fn check_restore(
    arm: &ArmState,
    item: &Item,
    point: &str,
    request: &Request,
) -> Result<(), Response> {
    if !arm
        .backup
        .recovery_points
        .iter()
        .any(|(name, _)| name == point)
    {
        return Err(error(
            404,
            "BMSUserErrorRecoveryPointNotFound",
            &format!(
                "Recovery point '{point}' of item '{}' was not found.",
                item.name
            ),
        ));
    }
    let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let properties = &body["properties"];
    let text = |name: &str| properties[name].as_str().unwrap_or_default().to_owned();
    let invalid = |message: String| Err(error(400, "BMSUserErrorInvalidInput", &message));
    if text("objectType") != "IaasVMRestoreRequest" {
        return invalid("properties.objectType must be IaasVMRestoreRequest.".to_owned());
    }
    if text("recoveryPointId") != point {
        return invalid(format!(
            "properties.recoveryPointId '{}' does not name the recovery point in the URL.",
            text("recoveryPointId")
        ));
    }
    if !eq(&text("sourceResourceId"), &arm.backup.source_vm) {
        return invalid(format!(
            "properties.sourceResourceId '{}' is not the protected VM.",
            text("sourceResourceId")
        ));
    }
    if !eq(&text("region"), &arm.backup.location) {
        return invalid(format!(
            "properties.region '{}' must be the vault's region '{}'.",
            text("region"),
            arm.backup.location
        ));
    }
    let account = text("storageAccountId");
    let known = arm
        .backup
        .storage_accounts
        .iter()
        .find(|a| eq(&friendly_name(&account), &a.name));
    match known {
        Some(a) if eq(&a.location, &arm.backup.location) && !a.sku.contains("ZRS") => Ok(()),
        _ => invalid(format!(
            "properties.storageAccountId '{account}' must be a staging account in the vault's region that is not zone-redundant."
        )),
    }
}

fn trigger(
    arm: &mut ArmState,
    route: &Route,
    item: &Item,
    operation: &'static str,
    request: &Request,
) -> Response {
    if arm.backup.forbid_triggers {
        let action = if operation == "Backup" {
            "backup/action"
        } else {
            "recoveryPoints/restore/action"
        };
        return error(
            403,
            "AuthorizationFailed",
            &format!(
                "The client '{}' with object id '{}' does not have authorization to perform action 'Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/{action}' over scope '{}{}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
                "11111111-2222-4333-8444-555555555555",
                "99999999-8888-4777-8666-555555555555",
                route.resource_id,
                request
                    .path
                    .get(route.resource_id.len()..)
                    .unwrap_or_default(),
            ),
        );
    }
    let op = guid();
    let job_id = guid();
    arm.operations.insert(
        op.clone(),
        Operation {
            polls_in_progress: arm.backup.operation_polls_in_progress,
            job_id: job_id.clone(),
        },
    );
    arm.jobs.insert(
        job_id,
        Job {
            operation,
            item: item.name.clone(),
            started: clock::now(),
            polls_in_progress: arm.backup.job_polls_in_progress,
        },
    );
    let api = request.query.clone().unwrap_or_default();
    let base = format!("{}{}/{}", arm.endpoint, route.resource_id, item.path());
    Response::new(202, "", Vec::new())
        .with_header("Location", format!("{base}/operationResults/{op}?{api}"))
        .with_header(
            "Azure-AsyncOperation",
            format!("{base}/operationsStatus/{op}?{api}"),
        )
        .with_header("Retry-After", "60")
}

fn operation_status(arm: &mut ArmState, op: &str) -> Response {
    let Some(operation) = arm.operations.get_mut(op) else {
        return not_found(op);
    };
    let start = clock::entra_instant(clock::now());
    if operation.polls_in_progress > 0 {
        operation.polls_in_progress -= 1;
        return Response::json(
            200,
            &json!({ "id": op, "name": op, "status": "InProgress", "startTime": start }),
        );
    }
    Response::json(
        200,
        &json!({
            "id": op,
            "name": op,
            "status": "Succeeded",
            "startTime": start,
            "endTime": start,
            "properties": {
                "objectType": "OperationStatusJobExtendedInfo",
                "jobId": operation.job_id,
            },
        }),
    )
}

fn operation_result(arm: &mut ArmState, route: &Route, op: &str) -> Response {
    let Some(operation) = arm.operations.get(op) else {
        return not_found(op);
    };
    if operation.polls_in_progress > 0 {
        let location = format!("{}{}", arm.endpoint, route.resource_id);
        return Response::new(202, "", Vec::new())
            .with_header("Location", location)
            .with_header("Retry-After", "60");
    }
    Response::new(204, "", Vec::new())
}

fn job(arm: &mut ArmState, route: &Route, id: &str) -> Response {
    let outcome = arm.backup.job_outcome.clone();
    let vm = friendly_name(&arm.backup.source_vm);
    let Some(job) = arm.jobs.get_mut(id) else {
        return error(
            404,
            "BMSUserErrorJobNotFound",
            &format!("Job '{id}' was not found in the vault."),
        );
    };
    let status = if job.polls_in_progress > 0 {
        job.polls_in_progress -= 1;
        "InProgress".to_owned()
    } else {
        outcome
    };
    let mut properties = json!({
        "jobType": "AzureIaaSVMJob",
        "entityFriendlyName": vm,
        "backupManagementType": "AzureIaasVM",
        "operation": job.operation,
        "status": status,
        "startTime": clock::entra_instant(job.started),
        "activityId": guid(),
        "virtualMachineVersion": "Compute",
        "containerName": job.item,
    });
    if status != "InProgress" {
        properties["endTime"] = json!(clock::entra_instant(clock::now()));
    }
    if status == "Failed" {
        properties["errorDetails"] = json!([{
            "errorCode": 400_001,
            "errorString": "UserErrorStorageAccountNotFound: the staging storage account could not be written.",
            "recommendations": ["Check the staging storage account and its role assignment, then retry."],
        }]);
    }
    Response::json(
        200,
        &json!({
            "id": format!("{}/backupJobs/{id}", route.resource_id),
            "name": id,
            "type": "Microsoft.RecoveryServices/vaults/backupJobs",
            "properties": properties,
        }),
    )
}
