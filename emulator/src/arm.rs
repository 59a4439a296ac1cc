//! A double of the Azure Resource Manager endpoints that the cookbook's Azure Backup scripts call
//! (Recovery Services vaults, the staging storage account, managed disks, and Backup vaults through
//! [`crate::backup_vault`]), so that the scripts run against something that answers like ARM.
//!
//! What it follows (Microsoft's Backup REST guides and the REST references):
//! - On-demand backup, `POST {vault}/backupFabrics/Azure/protectionContainers/{c}/protectedItems/{i}/backup`,
//!   and restore, `POST .../protectedItems/{i}/recoveryPoints/{rp}/restore`, answer `202 Accepted` with
//!   `Location` (`.../operationResults/{op}`), `Azure-AsyncOperation` (`.../operationsStatus/{op}`) and
//!   `Retry-After` (<https://learn.microsoft.com/azure/backup/backup-azure-arm-userestapi-backupazurevms>,
//!   <https://learn.microsoft.com/azure/backup/backup-azure-arm-userestapi-restoreazurevms>).
//! - The `Azure-AsyncOperation` URL answers `{"status":"InProgress"}` and then `Succeeded` with
//!   `properties: {objectType: "OperationStatusJobExtendedInfo", jobId}` (it turns `Succeeded` as soon
//!   as the Backup **job** exists, not when the job is done), or `Failed` / `Canceled` with `error`
//!   (<https://learn.microsoft.com/rest/api/backup/protected-item-operation-statuses/get>).
//! - `GET {vault}/backupJobs/{jobId}` answers 200; `properties.status` goes `InProgress` and ends
//!   `Completed`, `CompletedWithWarnings`, `Failed` or `Cancelled`
//!   (<https://learn.microsoft.com/azure/backup/backup-azure-arm-userestapi-managejobs>). A restore that
//!   completes creates its managed disks in the request's `targetResourceGroupId`.
//! - Recovery points are listed in pages joined by `nextLink` (`$skipToken`), and each names
//!   `recoveryPointDiskConfiguration.numberOfDisksIncludedInBackup`
//!   (<https://learn.microsoft.com/rest/api/backup/recovery-points/list>).
//! - Managed disks: `GET {rg}/providers/Microsoft.Compute/disks` (paged with `nextLink`), and
//!   `DELETE {disk}` answering 202 with an `Azure-AsyncOperation` under
//!   `/subscriptions/{s}/providers/Microsoft.Compute/locations/{region}/operations/{op}`
//!   (<https://learn.microsoft.com/rest/api/compute/disks/list-by-resource-group>,
//!   <https://learn.microsoft.com/rest/api/compute/disks/delete>).
//! - Every request needs a bearer token and an `api-version` the provider supports: none is 400
//!   `MissingApiVersionParameter`, a malformed one 400 `InvalidApiVersionParameter`, a well-formed one
//!   the provider does not have 400 `NoRegisteredProviderFound` naming the supported versions, as ARM
//!   answers. ARM's error body is `{"error":{"code","message"}}` (401 `AuthenticationFailed` /
//!   `InvalidAuthenticationToken` / `InvalidAuthenticationTokenAudience`, 403 `AuthorizationFailed`,
//!   429 with `Retry-After`)
//!   (<https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling>).
//!
//! Simplifications: any subscription, resource group, vault, container and item name exists; a bearer
//! token is valid if this emulator's Entra endpoint issued it for ARM (no expiry or role check, except
//! the configurable 403 on triggers); the status codes of invalid restore bodies are the double's own,
//! and so is the 409 `UserErrorBackupOperationInProgress` for a trigger resent while its job runs.
//! Time is the test's: operations and jobs advance one step per poll (no real waiting), and an
//! operation or job polled more than [`Backup::poll_limit`] times answers 400 `DoublePollLimit`, so a
//! client that never stops polling fails in seconds instead of spinning until its own deadline.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};

use crate::clock;
use crate::faults::Fault;
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

/// The api-versions each provider answers: a subset of each provider's published versions, each one
/// the version selector of its REST reference offers (<https://learn.microsoft.com/rest/api/backup/>,
/// <https://learn.microsoft.com/rest/api/storagerp/>, <https://learn.microsoft.com/rest/api/compute/disks>,
/// <https://learn.microsoft.com/rest/api/dataprotection/>). The cookbook's scripts default to
/// 2025-08-01, 2023-05-01, 2024-03-02 and 2024-04-01.
const API_VERSIONS: [(&str, &[&str]); 4] = [
    (
        "Microsoft.RecoveryServices",
        &["2023-04-01", "2024-04-01", "2025-08-01"],
    ),
    ("Microsoft.Storage", &["2023-01-01", "2023-05-01"]),
    ("Microsoft.Compute", &["2023-10-02", "2024-03-02"]),
    ("Microsoft.DataProtection", &["2023-05-01", "2024-04-01"]),
];

/// One started operation (a trigger's, or a disk deletion's): its polls so far and left.
pub(crate) struct Operation {
    pub(crate) polls: u32,
    pub(crate) polls_in_progress: u32,
    /// How it ends: `Succeeded`, `Failed` or `Canceled`.
    pub(crate) outcome: String,
    /// The Backup job it started, if any.
    pub(crate) job_id: Option<String>,
}

/// One Backup job.
pub(crate) struct Job {
    pub(crate) operation: &'static str,
    pub(crate) item: String,
    pub(crate) started: i64,
    pub(crate) polls: u32,
    pub(crate) polls_in_progress: u32,
    /// Where a restore creates its disks (a resource group's ARM ID), and their base name.
    pub(crate) target: Option<(String, String)>,
    /// Whether it has ended (reported its outcome once).
    pub(crate) ended: bool,
}

/// One managed disk.
#[derive(Clone)]
pub(crate) struct Disk {
    pub(crate) id: String,
    pub(crate) location: String,
    pub(crate) size_gb: u32,
    pub(crate) state: String,
}

/// The double's mutable state.
#[derive(Default)]
pub(crate) struct ArmState {
    pub(crate) backup: Backup,
    pub(crate) operations: HashMap<String, Operation>,
    pub(crate) jobs: HashMap<String, Job>,
    pub(crate) disks: Vec<Disk>,
    pub(crate) throttled: u32,
    pub(crate) throttled_triggers: u32,
    pub(crate) recorded: Vec<Recorded>,
    /// The emulator's base URL, for the `Location` and `Azure-AsyncOperation` headers.
    pub(crate) endpoint: String,
    /// Whether `backup.existing_disks` were added to `disks`.
    pub(crate) seeded: bool,
}

pub(crate) fn lock(m: &Mutex<ArmState>) -> MutexGuard<'_, ArmState> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Replaces the double's behaviour (and forgets its operations, jobs and disks).
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

/// The ARM IDs of the managed disks that exist now.
pub(crate) fn disks(arm: &Mutex<ArmState>) -> Vec<String> {
    let mut state = lock(arm);
    seed(&mut state);
    state.disks.iter().map(|d| d.id.clone()).collect()
}

/// The delay every answer gets ([`Backup::delay`]), as a fault for the server.
pub(crate) fn delay(arm: &Mutex<ArmState>) -> Option<Fault> {
    let delay = lock(arm).backup.delay;
    (delay > Duration::ZERO).then_some(Fault::Delay(delay))
}

fn seed(arm: &mut ArmState) {
    if !arm.seeded {
        arm.seeded = true;
        let location = arm.backup.location.clone();
        let existing = arm.backup.existing_disks.clone();
        arm.disks.extend(existing.into_iter().map(|id| Disk {
            id,
            location: location.clone(),
            size_gb: 32,
            state: "Succeeded".to_owned(),
        }));
    }
}

/// Whether `path` is an ARM resource path (ARM paths are case-insensitive).
pub(crate) fn is_arm_path(path: &str) -> bool {
    path.get(..15)
        .is_some_and(|p| p.eq_ignore_ascii_case("/subscriptions/"))
}

pub(crate) fn error(status: u16, code: &str, message: &str) -> Response {
    Response::json(
        status,
        &json!({ "error": { "code": code, "message": message } }),
    )
}

pub(crate) fn guid() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

pub(crate) fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The value of query parameter `name`.
pub(crate) fn query(request: &Request, name: &str) -> Option<String> {
    request.query.as_deref().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    })
}

/// Answers one ARM request.
pub(crate) fn handle(state: &State, request: &Request, recorded: Recorded) -> Response {
    let mut arm = lock(&state.arm);
    arm.recorded.push(recorded);
    arm.endpoint.clone_from(&state.base_url);
    seed(&mut arm);
    let response = answer(state, &mut arm, request);
    response
        .with_header("x-ms-request-id", guid())
        .with_header("x-ms-correlation-request-id", guid())
}

/// Whether `version` has ARM's shape: `YYYY-MM-DD`, optionally `-preview`.
fn well_formed_api_version(version: &str) -> bool {
    let date = version.strip_suffix("-preview").unwrap_or(version);
    let b = date.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// ARM's api-version check for `namespace` / `resource_type`.
fn check_api_version(
    request: &Request,
    namespace: &str,
    resource_type: &str,
    location: &str,
) -> Result<(), Response> {
    let version = query(request, "api-version").unwrap_or_default();
    if version.is_empty() {
        return Err(error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    }
    let supported = API_VERSIONS
        .iter()
        .find(|(ns, _)| eq(ns, namespace))
        .map(|(_, v)| v.join(", "))
        .unwrap_or_default();
    if !well_formed_api_version(&version) {
        return Err(error(
            400,
            "InvalidApiVersionParameter",
            &format!(
                "The api-version '{version}' is invalid. The supported versions are '{supported}'."
            ),
        ));
    }
    let known = API_VERSIONS
        .iter()
        .any(|(ns, versions)| eq(ns, namespace) && versions.contains(&version.as_str()));
    if !known {
        return Err(error(
            400,
            "NoRegisteredProviderFound",
            &format!(
                "No registered resource provider found for location '{location}' and API version '{version}' for type '{resource_type}'. The supported api-versions are '{supported}'. The supported locations are '{location}'."
            ),
        ));
    }
    Ok(())
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
    let location = arm.backup.location.clone();
    if let Err(response) =
        check_api_version(request, &route.namespace, &route.resource_type, &location)
    {
        return response;
    }
    // Polls are the GETs that scripts repeat; the throttle hits those.
    let polling = matches!(
        route.kind,
        Kind::OperationStatus(_) | Kind::Job(_) | Kind::ComputeOperation(_)
    ) || matches!(&route.kind, Kind::BackupVault(k) if k.is_poll());
    let starts_job = request.method == "POST"
        && (matches!(route.kind, Kind::Backup(_) | Kind::Restore(..))
            || matches!(&route.kind, Kind::BackupVault(k) if k.starts_job()));
    if starts_job && arm.throttled_triggers < arm.backup.throttle_triggers {
        arm.throttled_triggers += 1;
        return error(
            429,
            "TooManyRequests",
            "The request is being throttled as the limit has been reached for operation type - Write. For more information, see - https://aka.ms/srsthrottling",
        )
        .with_header("Retry-After", "1");
    }
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
        ("GET", Kind::RecoveryPoints(item)) => recovery_points(arm, &route, item, request),
        ("POST", Kind::Backup(item)) => trigger(arm, &route, item, "Backup", request, None),
        ("POST", Kind::Restore(item, point)) => match check_restore(arm, item, point, request) {
            Ok(target) => trigger(arm, &route, item, "Restore", request, Some(target)),
            Err(response) => response,
        },
        ("GET", Kind::OperationStatus(op)) => operation_status(arm, op),
        ("GET", Kind::OperationResult(op)) => operation_result(arm, &route, op),
        ("GET", Kind::Job(id)) => job(arm, &route, id),
        ("GET", Kind::Disks) => list_disks(arm, &route, request),
        ("GET", Kind::Disk) => get_disk(arm, &route),
        ("DELETE", Kind::Disk) => delete_disk(arm, &route, request),
        ("GET", Kind::ComputeOperation(op)) => compute_operation(arm, op),
        (method, Kind::BackupVault(kind)) => {
            crate::backup_vault::answer(arm, &route.resource_id, kind, method, request)
        }
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

pub(crate) fn not_found(path: &str) -> Response {
    error(
        404,
        "ResourceNotFound",
        &format!("The Resource '{path}' was not found."),
    )
}

/// What the path names.
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
    /// `{rg}/providers/Microsoft.Compute/disks`
    Disks,
    /// `{rg}/providers/Microsoft.Compute/disks/{name}`
    Disk,
    /// `/subscriptions/{s}/providers/Microsoft.Compute/locations/{region}/operations/{op}`
    ComputeOperation(String),
    /// Below a Backup vault (`Microsoft.DataProtection/backupVaults/{name}`).
    BackupVault(crate::backup_vault::Kind),
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
    /// `/subscriptions/{s}/resourceGroups/{rg}/providers/{namespace}/{type}[/{name}]` as sent.
    resource_id: String,
    namespace: String,
    resource_type: String,
    kind: Kind,
}

impl Route {
    fn parse(s: &[String]) -> Option<Route> {
        let at = |i: usize| s.get(i).map(String::as_str).unwrap_or_default();
        if !eq(at(0), "subscriptions") {
            return None;
        }
        // /subscriptions/{s}/providers/Microsoft.Compute/locations/{region}/operations/{op}
        if s.len() == 8
            && eq(at(2), "providers")
            && eq(at(3), "Microsoft.Compute")
            && eq(at(4), "locations")
            && eq(at(6), "operations")
        {
            return Some(Route {
                resource_id: format!("/{}", s.join("/")),
                namespace: "Microsoft.Compute".to_owned(),
                resource_type: "locations/operations".to_owned(),
                kind: Kind::ComputeOperation(at(7).to_owned()),
            });
        }
        // /subscriptions/{s}/providers/Microsoft.DataProtection/locations/{region}/operationStatus/{op}
        if s.len() == 8
            && eq(at(2), "providers")
            && eq(at(3), "Microsoft.DataProtection")
            && eq(at(4), "locations")
            && eq(at(6), "operationStatus")
        {
            return Some(Route {
                resource_id: format!("/{}", s[..6].join("/")),
                namespace: "Microsoft.DataProtection".to_owned(),
                resource_type: "locations/operationStatus".to_owned(),
                kind: Kind::BackupVault(crate::backup_vault::Kind::OperationStatus(
                    at(7).to_owned(),
                )),
            });
        }
        if s.len() < 7 || !eq(at(2), "resourceGroups") || !eq(at(4), "providers") {
            return None;
        }
        let namespace = at(5).to_owned();
        let resource_type = at(6).to_owned();
        if s.len() == 7 {
            return (eq(&namespace, "Microsoft.Compute") && eq(&resource_type, "disks")).then(
                || Route {
                    resource_id: format!("/{}", s.join("/")),
                    namespace,
                    resource_type,
                    kind: Kind::Disks,
                },
            );
        }
        let resource_id = format!("/{}", s.get(..8)?.join("/"));
        let rest: Vec<&str> = s.get(8..)?.iter().map(String::as_str).collect();
        let kind = if eq(&namespace, "Microsoft.Storage") && eq(&resource_type, "storageAccounts") {
            rest.is_empty()
                .then(|| Kind::StorageAccount(at(7).to_owned()))?
        } else if eq(&namespace, "Microsoft.Compute") && eq(&resource_type, "disks") {
            rest.is_empty().then_some(Kind::Disk)?
        } else if eq(&namespace, "Microsoft.RecoveryServices") && eq(&resource_type, "vaults") {
            Self::vault_kind(&rest)?
        } else if eq(&namespace, "Microsoft.DataProtection") && eq(&resource_type, "backupVaults") {
            Kind::BackupVault(crate::backup_vault::Kind::parse(&rest)?)
        } else {
            return None;
        };
        Some(Route {
            resource_id,
            namespace,
            resource_type,
            kind,
        })
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

pub(crate) fn friendly_name(resource_id: &str) -> String {
    resource_id
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// One page of `items` from `$skipToken` on, with `nextLink` to the next page if there is one.
pub(crate) fn page(
    arm: &ArmState,
    request: &Request,
    items: Vec<Value>,
    page_size: usize,
) -> Response {
    let size = page_size.max(1);
    let from: usize = query(request, "$skipToken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let value: Vec<Value> = items.iter().skip(from).take(size).cloned().collect();
    let mut body = json!({ "value": value });
    if from + size < items.len() {
        let api = query(request, "api-version").unwrap_or_default();
        body["nextLink"] = json!(format!(
            "{}{}?api-version={api}&%24skipToken={}",
            arm.endpoint,
            request.path,
            from + size
        ));
    }
    Response::json(200, &body)
}

fn recovery_points(arm: &ArmState, route: &Route, item: &Item, request: &Request) -> Response {
    let items: Vec<Value> = arm
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
                    "recoveryPointDiskConfiguration": {
                        "numberOfDisksIncludedInBackup": arm.backup.disks_in_backup,
                        "numberOfDisksAttachedToVm": arm.backup.disks_in_backup,
                    },
                },
            })
        })
        .collect();
    page(arm, request, items, arm.backup.recovery_points_page_size)
}

/// The restore body's rules that the cookbook's restore drill must meet; the target resource group.
fn check_restore(
    arm: &ArmState,
    item: &Item,
    point: &str,
    request: &Request,
) -> Result<String, Response> {
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
    let target = text("targetResourceGroupId");
    if target.split('/').filter(|s| !s.is_empty()).count() != 4 {
        return invalid(format!(
            "properties.targetResourceGroupId '{target}' must be a resource group's ARM ID."
        ));
    }
    let account = text("storageAccountId");
    let known = arm
        .backup
        .storage_accounts
        .iter()
        .find(|a| eq(&friendly_name(&account), &a.name));
    match known {
        Some(a) if eq(&a.location, &arm.backup.location) && !a.sku.contains("ZRS") => Ok(target),
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
    target: Option<String>,
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
    if arm.jobs.values().any(|j| j.item == item.name && !j.ended) {
        return error(
            409,
            "UserErrorBackupOperationInProgress",
            "Another backup or restore operation is in progress on this item. Wait for it to finish, then try again.",
        );
    }
    let op = guid();
    let job_id = guid();
    arm.operations.insert(
        op.clone(),
        Operation {
            polls: 0,
            polls_in_progress: arm.backup.operation_polls_in_progress,
            outcome: arm.backup.operation_outcome.clone(),
            job_id: Some(job_id.clone()),
        },
    );
    let vm = friendly_name(&arm.backup.source_vm);
    arm.jobs.insert(
        job_id.clone(),
        Job {
            operation,
            item: item.name.clone(),
            started: clock::now(),
            polls: 0,
            polls_in_progress: arm.backup.job_polls_in_progress,
            target: target.map(|rg| (rg, format!("{vm}-{}", &job_id[..8]))),
            ended: false,
        },
    );
    if arm.backup.trigger_answers_502 {
        // The job started, but the answer was lost on the way back.
        return error(
            502,
            "BadGateway",
            "The gateway did not receive a response in time.",
        );
    }
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

/// 400 once a client has polled one operation or job more than [`Backup::poll_limit`] times.
pub(crate) fn over_poll_limit(polls: u32, limit: u32, what: &str) -> Option<Response> {
    (polls > limit).then(|| {
        error(
            400,
            "DoublePollLimit",
            &format!(
                "This {what} was polled {polls} times, more than the test double answers ({limit}): a client that keeps polling a finished {what} never ends."
            ),
        )
    })
}

/// The next status of operation `op`, advanced by one poll: `None` if there is no such operation.
pub(crate) fn advance_operation(
    arm: &mut ArmState,
    op: &str,
) -> Option<Result<(String, Option<String>), Response>> {
    let limit = arm.backup.poll_limit;
    let operation = arm.operations.get_mut(op)?;
    operation.polls += 1;
    if let Some(response) = over_poll_limit(operation.polls, limit, "operation") {
        return Some(Err(response));
    }
    if operation.polls_in_progress > 0 {
        operation.polls_in_progress -= 1;
        return Some(Ok(("InProgress".to_owned(), None)));
    }
    Some(Ok((operation.outcome.clone(), operation.job_id.clone())))
}

/// The `error` of an operation that ended `Failed` or `Canceled`.
pub(crate) fn operation_error(outcome: &str) -> Value {
    if outcome == "Canceled" {
        json!({ "code": "OperationCanceled", "message": "The operation was canceled." })
    } else {
        json!({
            "code": "UserErrorVmNotFound",
            "message": "The virtual machine to restore was not found or is being deleted. Check the VM, then try again.",
        })
    }
}

fn operation_status(arm: &mut ArmState, op: &str) -> Response {
    let start = clock::entra_instant(clock::now());
    let (status, job_id) = match advance_operation(arm, op) {
        None => return not_found(op),
        Some(Err(response)) => return response,
        Some(Ok(next)) => next,
    };
    let mut body = json!({ "id": op, "name": op, "status": status, "startTime": start });
    match status.as_str() {
        "InProgress" => {}
        "Succeeded" => {
            body["endTime"] = json!(start);
            body["properties"] = json!({
                "objectType": "OperationStatusJobExtendedInfo",
                "jobId": job_id,
            });
        }
        other => {
            body["endTime"] = json!(start);
            body["error"] = operation_error(other);
        }
    }
    Response::json(200, &body)
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
    let limit = arm.backup.poll_limit;
    let vm = friendly_name(&arm.backup.source_vm);
    let location = arm.backup.location.clone();
    let restored = arm
        .backup
        .restored_disks
        .unwrap_or(arm.backup.disks_in_backup);
    let restored_state = arm.backup.restored_disk_state.clone();
    let Some(job) = arm.jobs.get_mut(id) else {
        return error(
            404,
            "BMSUserErrorJobNotFound",
            &format!("Job '{id}' was not found in the vault."),
        );
    };
    job.polls += 1;
    if let Some(response) = over_poll_limit(job.polls, limit, "job") {
        return response;
    }
    let status = if job.polls_in_progress > 0 {
        job.polls_in_progress -= 1;
        "InProgress".to_owned()
    } else {
        outcome
    };
    let mut new_disks = Vec::new();
    if status != "InProgress" && !job.ended {
        job.ended = true;
        // A restore that completes leaves its disks in the target resource group.
        if let Some((rg, base)) = &job.target
            && status.starts_with("Completed")
        {
            for n in 0..restored {
                let kind = if n == 0 {
                    "osdisk".to_owned()
                } else {
                    format!("datadisk-{}", n - 1)
                };
                new_disks.push(Disk {
                    id: format!("{rg}/providers/Microsoft.Compute/disks/{base}-{kind}"),
                    location: location.clone(),
                    size_gb: if n == 0 { 127 } else { 64 },
                    state: restored_state.clone(),
                });
            }
        }
    }
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
    if let Some((rg, base)) = &job.target {
        properties["extendedInfo"] = json!({
            "propertyBag": {
                "Job Type": "Recover disks",
                "Target resource group": friendly_name(rg),
                "Config Blob Name": format!("config-{base}.json"),
                "Config Blob Container Name": base,
            },
        });
    }
    if status != "InProgress" {
        properties["endTime"] = json!(clock::entra_instant(clock::now()));
    }
    match status.as_str() {
        "Failed" => {
            properties["errorDetails"] = json!([{
                "errorCode": 400_001,
                "errorString": "UserErrorStorageAccountNotFound: the staging storage account could not be written.",
                "recommendations": ["Check the staging storage account and its role assignment, then retry."],
            }]);
        }
        "CompletedWithWarnings" => {
            properties["errorDetails"] = json!([{
                "errorCode": 300_001,
                "errorString": "UserErrorSomeDisksNotRestored: one or more disks were not restored.",
                "recommendations": ["Check the disks excluded from the backup and the target resource group's quota."],
            }]);
        }
        _ => {}
    }
    let body = json!({
        "id": format!("{}/backupJobs/{id}", route.resource_id),
        "name": id,
        "type": "Microsoft.RecoveryServices/vaults/backupJobs",
        "properties": properties,
    });
    arm.disks.extend(new_disks);
    Response::json(200, &body)
}

/// The JSON ARM gives for one managed disk.
fn disk_json(disk: &Disk) -> Value {
    json!({
        "id": disk.id,
        "name": friendly_name(&disk.id),
        "type": "Microsoft.Compute/disks",
        "location": disk.location,
        "sku": { "name": "Premium_LRS", "tier": "Premium" },
        "properties": {
            "diskSizeGB": disk.size_gb,
            "provisioningState": disk.state,
            "diskState": "Unattached",
            "timeCreated": clock::entra_instant(clock::now()),
        },
    })
}

/// Whether `disk_id` lies in the resource group of `rg_path` (`/subscriptions/{s}/resourceGroups/{rg}…`).
fn in_resource_group(disk_id: &str, rg_path: &str) -> bool {
    let rg: Vec<&str> = rg_path.trim_matches('/').split('/').take(4).collect();
    let disk: Vec<&str> = disk_id.trim_matches('/').split('/').take(4).collect();
    rg.len() == 4 && rg.iter().zip(&disk).all(|(a, b)| eq(a, b))
}

fn list_disks(arm: &ArmState, route: &Route, request: &Request) -> Response {
    let items: Vec<Value> = arm
        .disks
        .iter()
        .filter(|d| in_resource_group(&d.id, &route.resource_id))
        .map(disk_json)
        .collect();
    page(arm, request, items, arm.backup.disks_page_size)
}

fn get_disk(arm: &ArmState, route: &Route) -> Response {
    match arm.disks.iter().find(|d| eq(&d.id, &route.resource_id)) {
        Some(disk) => Response::json(200, &disk_json(disk)),
        None => not_found(&route.resource_id),
    }
}

fn delete_disk(arm: &mut ArmState, route: &Route, request: &Request) -> Response {
    let Some(index) = arm.disks.iter().position(|d| eq(&d.id, &route.resource_id)) else {
        // Deleting what is not there is a success in ARM.
        return Response::new(204, "", Vec::new());
    };
    arm.disks.remove(index);
    let op = guid();
    arm.operations.insert(
        op.clone(),
        Operation {
            polls: 0,
            polls_in_progress: arm.backup.operation_polls_in_progress,
            outcome: "Succeeded".to_owned(),
            job_id: None,
        },
    );
    let subscription = route.resource_id.split('/').nth(2).unwrap_or_default();
    let api = query(request, "api-version").unwrap_or_default();
    let url = format!(
        "{}/subscriptions/{subscription}/providers/Microsoft.Compute/locations/{}/operations/{op}?api-version={api}",
        arm.endpoint, arm.backup.location
    );
    Response::new(202, "", Vec::new())
        .with_header("Azure-AsyncOperation", url.clone())
        .with_header("Location", format!("{url}&monitor=true"))
        .with_header("Retry-After", "10")
}

fn compute_operation(arm: &mut ArmState, op: &str) -> Response {
    let start = clock::entra_instant(clock::now());
    match advance_operation(arm, op) {
        None => not_found(op),
        Some(Err(response)) => response,
        Some(Ok((status, _))) => {
            let mut body = json!({ "name": op, "status": status, "startTime": start });
            if status != "InProgress" {
                body["endTime"] = json!(start);
            }
            Response::json(200, &body)
        }
    }
}
