//! The Backup vault (`Microsoft.DataProtection/backupVaults`) part of the ARM double: the REST flow
//! that restores a managed disk from its backup, as Microsoft's guide describes it
//! (<https://learn.microsoft.com/azure/backup/backup-azure-dataprotection-use-rest-api-restore-disks>):
//! - `GET {vault}/backupInstances/{bi}`: the protected disk (`properties.dataSourceInfo`);
//! - `GET {vault}/backupInstances/{bi}/recoveryPoints`: `AzureBackupDiscreteRecoveryPoint`s, in pages
//!   joined by `nextLink` (<https://learn.microsoft.com/rest/api/dataprotection/recovery-points/list>);
//! - `POST {vault}/backupInstances/{bi}/validateRestore` and `POST …/restore`: `202 Accepted` with
//!   `Azure-AsyncOperation` at `/subscriptions/{s}/providers/Microsoft.DataProtection/locations/{region}/operationStatus/{op}`
//!   and `Location` at `…/operationResults/{op}`; the operation goes `InProgress`, then `Succeeded`
//!   (for a restore with `properties.jobId`, the job's full ARM ID, `objectType: OperationJobExtendedInfo`),
//!   or `Failed` / `Canceled` with `error`
//!   (<https://learn.microsoft.com/rest/api/dataprotection/backup-instances/trigger-restore>,
//!   <https://learn.microsoft.com/rest/api/dataprotection/operation-status/get>);
//! - `GET {vault}/backupJobs/{jobId}`: `properties.status` `InProgress`, then `Completed` (the restored
//!   disk then exists at the request's `restoreTargetInfo.datasourceInfo.resourceID`), `Failed` or
//!   `Cancelled` (<https://learn.microsoft.com/rest/api/dataprotection/jobs/get>).
//!
//! Authentication, api-versions, throttling and the poll limit are the front door's, in [`crate::arm`].

use serde_json::{Value, json};

use crate::arm::{
    ArmState, Disk, Job, Operation, advance_operation, eq, error, friendly_name, guid, not_found,
    operation_error, over_poll_limit, page,
};
use crate::clock;
use crate::http::{Request, Response};

/// What a path below a Backup vault names.
pub(crate) enum Kind {
    Vault,
    Instance(String),
    RecoveryPoints(String),
    ValidateRestore(String),
    Restore(String),
    Job(String),
    /// `/subscriptions/{s}/providers/Microsoft.DataProtection/locations/{region}/operationStatus/{op}`
    OperationStatus(String),
}

impl Kind {
    /// `rest`: the segments after `backupVaults/{name}`.
    pub(crate) fn parse(rest: &[&str]) -> Option<Kind> {
        match rest {
            [] => Some(Kind::Vault),
            [b, bi] if eq(b, "backupInstances") => Some(Kind::Instance((*bi).to_owned())),
            [b, bi, r] if eq(b, "backupInstances") && eq(r, "recoveryPoints") => {
                Some(Kind::RecoveryPoints((*bi).to_owned()))
            }
            [b, bi, v] if eq(b, "backupInstances") && eq(v, "validateRestore") => {
                Some(Kind::ValidateRestore((*bi).to_owned()))
            }
            [b, bi, r] if eq(b, "backupInstances") && eq(r, "restore") => {
                Some(Kind::Restore((*bi).to_owned()))
            }
            [j, id] if eq(j, "backupJobs") => Some(Kind::Job((*id).to_owned())),
            _ => None,
        }
    }

    /// Whether this is the POST that starts a restore job.
    pub(crate) fn starts_job(&self) -> bool {
        matches!(self, Kind::Restore(_))
    }

    /// Whether this is a GET that clients repeat (the throttle hits those).
    pub(crate) fn is_poll(&self) -> bool {
        matches!(self, Kind::Job(_) | Kind::OperationStatus(_))
    }
}

/// Answers one request below a Backup vault (`vault_id`: the vault's ARM ID as sent).
pub(crate) fn answer(
    arm: &mut ArmState,
    vault_id: &str,
    kind: &Kind,
    method: &str,
    request: &Request,
) -> Response {
    match (method, kind) {
        ("GET", Kind::Vault) => vault(arm, vault_id),
        ("GET", Kind::Instance(bi)) => instance(arm, vault_id, bi),
        ("GET", Kind::RecoveryPoints(bi)) => recovery_points(arm, vault_id, bi, request),
        ("POST", Kind::ValidateRestore(bi)) => start(arm, vault_id, bi, request, false),
        ("POST", Kind::Restore(bi)) => start(arm, vault_id, bi, request, true),
        ("GET", Kind::Job(id)) => job(arm, vault_id, id),
        ("GET", Kind::OperationStatus(op)) => operation_status(arm, vault_id, op),
        _ => error(
            405,
            "HttpMethodNotAllowed",
            &format!(
                "The HTTP method '{method}' is not supported at '{}'.",
                request.path
            ),
        ),
    }
}

fn vault(arm: &ArmState, vault_id: &str) -> Response {
    Response::json(
        200,
        &json!({
            "id": vault_id,
            "name": friendly_name(vault_id),
            "type": "Microsoft.DataProtection/backupVaults",
            "location": arm.backup.location,
            "identity": { "type": "SystemAssigned", "principalId": "c0c0c0c0-1111-4222-8333-444444444444" },
            "properties": {
                "provisioningState": "Succeeded",
                "storageSettings": [{ "datastoreType": "VaultStore", "type": "LocallyRedundant" }],
            },
        }),
    )
}

fn instance(arm: &ArmState, vault_id: &str, bi: &str) -> Response {
    let disk = &arm.backup.source_disk;
    Response::json(
        200,
        &json!({
            "id": format!("{vault_id}/backupInstances/{bi}"),
            "name": bi,
            "type": "Microsoft.DataProtection/backupVaults/backupInstances",
            "properties": {
                "friendlyName": friendly_name(disk),
                "objectType": "BackupInstance",
                "protectionStatus": { "status": "ProtectionConfigured" },
                "currentProtectionState": "ProtectionConfigured",
                "provisioningState": "Succeeded",
                "dataSourceInfo": {
                    "datasourceType": "Microsoft.Compute/disks",
                    "objectType": "Datasource",
                    "resourceID": disk,
                    "resourceLocation": arm.backup.location,
                    "resourceName": friendly_name(disk),
                    "resourceType": "Microsoft.Compute/disks",
                    "resourceUri": disk,
                },
                "policyInfo": { "policyId": format!("{vault_id}/backupPolicies/disk-daily") },
            },
        }),
    )
}

fn recovery_points(arm: &ArmState, vault_id: &str, bi: &str, request: &Request) -> Response {
    let items: Vec<Value> = arm
        .backup
        .recovery_points
        .iter()
        .map(|(name, time)| {
            json!({
                "id": format!("{vault_id}/backupInstances/{bi}/recoveryPoints/{name}"),
                "name": name,
                "type": "Microsoft.DataProtection/backupVaults/backupInstances/recoveryPoints",
                "properties": {
                    "objectType": "AzureBackupDiscreteRecoveryPoint",
                    "recoveryPointId": name,
                    "recoveryPointTime": time,
                    "recoveryPointType": "Incremental",
                    "policyName": "disk-daily",
                    "recoveryPointDataStoresDetails": [{ "type": "OperationalStore", "state": "COMMITTED" }],
                },
            })
        })
        .collect();
    page(arm, request, items, arm.backup.recovery_points_page_size)
}

/// The restore request's rules (the same body goes to `validateRestore`, wrapped in
/// `restoreRequestObject`); the target disk's ARM ID.
fn check_request(arm: &ArmState, body: &Value) -> Result<String, Response> {
    let invalid = |message: String| Err(error(400, "UserErrorInvalidRequestParameter", &message));
    if body["objectType"] != "AzureBackupRecoveryPointBasedRestoreRequest" {
        return invalid("objectType must be AzureBackupRecoveryPointBasedRestoreRequest.".into());
    }
    let point = body["recoveryPointId"].as_str().unwrap_or_default();
    if !arm.backup.recovery_points.iter().any(|(n, _)| n == point) {
        return Err(error(
            404,
            "UserErrorRecoveryPointNotFound",
            &format!("Recovery point '{point}' was not found."),
        ));
    }
    if body["sourceDataStoreType"] != "OperationalStore" {
        return invalid("sourceDataStoreType must be OperationalStore for disks.".into());
    }
    let target = &body["restoreTargetInfo"];
    if target["objectType"] != "RestoreTargetInfo" || target["recoveryOption"] != "FailIfExists" {
        return invalid(
            "restoreTargetInfo must be a RestoreTargetInfo with recoveryOption FailIfExists."
                .into(),
        );
    }
    if !eq(
        target["restoreLocation"].as_str().unwrap_or_default(),
        &arm.backup.location,
    ) {
        return invalid("restoreTargetInfo.restoreLocation must be the vault's region.".into());
    }
    let info = &target["datasourceInfo"];
    let id = info["resourceID"].as_str().unwrap_or_default().to_owned();
    let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
    let is_disk = parts.len() == 8
        && eq(parts[0], "subscriptions")
        && eq(parts[2], "resourceGroups")
        && eq(parts[5], "Microsoft.Compute")
        && eq(parts[6], "disks");
    if !is_disk || info["datasourceType"] != "Microsoft.Compute/disks" {
        return invalid(format!(
            "restoreTargetInfo.datasourceInfo.resourceID '{id}' must be a managed disk's ARM ID."
        ));
    }
    if arm.disks.iter().any(|d| eq(&d.id, &id)) {
        return Err(error(
            409,
            "UserErrorDiskAlreadyExists",
            &format!("The target disk '{id}' already exists (recoveryOption FailIfExists)."),
        ));
    }
    Ok(id)
}

fn start(
    arm: &mut ArmState,
    vault_id: &str,
    bi: &str,
    request: &Request,
    restore: bool,
) -> Response {
    if arm.backup.forbid_triggers {
        return error(
            403,
            "AuthorizationFailed",
            &format!(
                "The client '11111111-2222-4333-8444-555555555555' does not have authorization to perform action 'Microsoft.DataProtection/backupVaults/backupInstances/{}/action' over scope '{vault_id}/backupInstances/{bi}' or the scope is invalid.",
                if restore {
                    "restore"
                } else {
                    "validateRestore"
                }
            ),
        );
    }
    let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let body = if restore {
        body
    } else {
        body["restoreRequestObject"].clone()
    };
    let target = match check_request(arm, &body) {
        Ok(target) => target,
        Err(response) => return response,
    };
    let op = guid();
    let mut job_id = None;
    if restore {
        if arm.jobs.values().any(|j| j.item == bi && !j.ended) {
            return error(
                409,
                "UserErrorAnotherOperationInProgress",
                "Another operation is in progress on this backup instance. Wait for it to finish, then try again.",
            );
        }
        let id = guid();
        arm.jobs.insert(
            id.clone(),
            Job {
                operation: "Restore",
                item: bi.to_owned(),
                started: clock::now(),
                polls: 0,
                polls_in_progress: arm.backup.job_polls_in_progress,
                target: Some((target, String::new())),
                ended: false,
            },
        );
        job_id = Some(format!("{vault_id}/backupJobs/{id}"));
    }
    let outcome = if restore || arm.backup.validate_outcome.is_empty() {
        arm.backup.operation_outcome.clone()
    } else {
        arm.backup.validate_outcome.clone()
    };
    arm.operations.insert(
        op.clone(),
        Operation {
            polls: 0,
            polls_in_progress: arm.backup.operation_polls_in_progress,
            outcome,
            job_id,
        },
    );
    if restore && arm.backup.trigger_answers_502 {
        return error(
            502,
            "BadGateway",
            "The gateway did not receive a response in time.",
        );
    }
    let subscription = vault_id.split('/').nth(2).unwrap_or_default();
    let api = crate::arm::query(request, "api-version").unwrap_or_default();
    let base = format!(
        "{}/subscriptions/{subscription}/providers/Microsoft.DataProtection/locations/{}",
        arm.endpoint, arm.backup.location
    );
    Response::new(202, "", Vec::new())
        .with_header(
            "Azure-AsyncOperation",
            format!("{base}/operationStatus/{op}?api-version={api}"),
        )
        .with_header(
            "Location",
            format!("{base}/operationResults/{op}?api-version={api}"),
        )
        .with_header("Retry-After", "10")
}

fn operation_status(arm: &mut ArmState, path: &str, op: &str) -> Response {
    let start = clock::entra_instant(clock::now());
    let (status, job_id) = match advance_operation(arm, op) {
        None => return not_found(op),
        Some(Err(response)) => return response,
        Some(Ok(next)) => next,
    };
    let mut body = json!({
        "id": format!("{path}/operationStatus/{op}"),
        "name": op,
        "status": status,
        "startTime": start,
    });
    match status.as_str() {
        "InProgress" => {}
        "Succeeded" => {
            body["endTime"] = json!(start);
            if let Some(job_id) = job_id {
                body["properties"] =
                    json!({ "objectType": "OperationJobExtendedInfo", "jobId": job_id });
            }
        }
        other => {
            body["endTime"] = json!(start);
            body["error"] = operation_error(other);
        }
    }
    Response::json(200, &body)
}

fn job(arm: &mut ArmState, vault_id: &str, id: &str) -> Response {
    let outcome = arm.backup.job_outcome.clone();
    let limit = arm.backup.poll_limit;
    let location = arm.backup.location.clone();
    let restored_state = arm.backup.restored_disk_state.clone();
    let create = arm.backup.restored_disks.unwrap_or(1) > 0;
    let source = arm.backup.source_disk.clone();
    let Some(job) = arm.jobs.get_mut(id) else {
        return error(
            404,
            "UserErrorJobNotFound",
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
    let target = job
        .target
        .as_ref()
        .map(|(t, _)| t.clone())
        .unwrap_or_default();
    let mut new_disk = None;
    if status != "InProgress" && !job.ended {
        job.ended = true;
        if status.starts_with("Completed") && create {
            new_disk = Some(Disk {
                id: target.clone(),
                location,
                size_gb: 64,
                state: restored_state,
            });
        }
    }
    let mut properties = json!({
        "activityID": guid(),
        "backupInstanceFriendlyName": friendly_name(&source),
        "dataSourceId": source,
        "dataSourceName": friendly_name(&source),
        "dataSourceType": "Microsoft.Compute/disks",
        "isUserTriggered": true,
        "operation": "Restore",
        "operationCategory": "Restore",
        "status": status,
        "startTime": clock::entra_instant(job.started),
        "supportedActions": [""],
        "vaultName": friendly_name(vault_id),
        "extendedInfo": { "recoveryDestination": target },
    });
    if status != "InProgress" {
        properties["endTime"] = json!(clock::entra_instant(clock::now()));
    }
    if status == "Failed" {
        properties["errorDetails"] = json!([{
            "code": "UserErrorDiskRestoreFailed",
            "message": "The vault's managed identity lacks Disk Restore Operator on the target resource group.",
        }]);
    }
    let body = json!({
        "id": format!("{vault_id}/backupJobs/{id}"),
        "name": id,
        "type": "Microsoft.DataProtection/backupVaults/backupJobs",
        "properties": properties,
    });
    arm.disks.extend(new_disk);
    Response::json(200, &body)
}
