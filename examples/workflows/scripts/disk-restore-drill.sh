#!/usr/bin/env bash
# Restore drill (Backup vault, Azure managed disk): restore the newest recovery point of a disk's
# backup instance as a NEW disk in a resource group kept for the drill, follow the restore job to its
# end, then PROVE the restore: read the new disk, check that it is provisioned in the vault's region,
# and delete it. Fails the step if any call is refused, validateRestore says no, the job does not end
# Completed, the disk is missing or unhealthy, or WAIT_MINUTES pass. CompletedWithWarnings fails the
# drill too (after the cleanup), for the reason given in restore-drill.sh.
#
# The REST flow is Microsoft's (https://learn.microsoft.com/azure/backup/backup-azure-dataprotection-use-rest-api-restore-disks):
# list recovery points, POST validateRestore, POST restore, follow the operation to the job's ID,
# poll backupJobs/{id}.
#
# Environment (besides those of azure-backup.sh: TOKEN, ARM_ENDPOINT, WAIT_MINUTES, POLL_SECONDS):
#   VAULT_ID                    the Backup vault's ARM ID: /subscriptions/…/providers/Microsoft.DataProtection/backupVaults/NAME
#   BACKUP_INSTANCE             the disk's backup instance name in the vault (see GET {vault}/backupInstances)
#   TARGET_RESOURCE_GROUP_ID    ARM ID of the resource group that receives the restored disk
#   DATAPROTECTION_API_VERSION  default 2024-04-01
#   DISKS_API_VERSION           Microsoft.Compute/disks, default 2024-03-02
#   RESTORED_DISK_NAME          default <source disk>-drill-<GITHUB_RUN_ID or the time>
# Roles: Backup Operator on the Backup vault; Contributor on the target resource group (reads and
# deletes the restored disk). The VAULT's managed identity needs Disk Restore Operator on the target
# resource group (Microsoft's guide above), or the job fails.
set -euo pipefail
# shellcheck source=examples/workflows/scripts/azure-backup.sh
. "$(dirname "$0")/azure-backup.sh"
need VAULT_ID BACKUP_INSTANCE TARGET_RESOURCE_GROUP_ID
DATAPROTECTION_API_VERSION=${DATAPROTECTION_API_VERSION:-2024-04-01}
DISKS_API_VERSION=${DISKS_API_VERSION:-2024-03-02}
for version in DATAPROTECTION_API_VERSION DISKS_API_VERSION; do
  [[ ${!version} =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$ ]] || fail "$version must look like 2024-04-01"
done
[[ $BACKUP_INSTANCE =~ ^[A-Za-z0-9._-]{1,200}$ ]] || fail "BACKUP_INSTANCE must be a backup instance's name (letters, digits, . _ -)"
TARGET_RESOURCE_GROUP_ID=${TARGET_RESOURCE_GROUP_ID%/}
[[ $TARGET_RESOURCE_GROUP_ID =~ ^/subscriptions/[^/]+/resourceGroups/[^/]+$ ]] ||
  fail "TARGET_RESOURCE_GROUP_ID must be a resource group's ARM ID: /subscriptions/<id>/resourceGroups/<name>"
DP="api-version=$DATAPROTECTION_API_VERSION"
JOB_API_VERSION=$DATAPROTECTION_API_VERSION
OPERATOR="Backup Operator on the Backup vault"
DISKS_ROLE="Contributor on the target resource group"
INSTANCE="$VAULT_ID/backupInstances/$BACKUP_INSTANCE"

arm GET "$VAULT_ID?$DP" "Backup vault" "$OPERATOR"
region=$(clean "$(jq -r '.location // empty' "$WORK/body")" 60)
[ -n "$region" ] || fail "Backup vault: GET $VAULT_ID named no location"

arm GET "$INSTANCE?$DP" "backup instance" "$OPERATOR"
jq '.properties.dataSourceInfo // {}' "$WORK/body" >"$WORK/source.json"
[ "$(jq -r '.datasourceType // empty' "$WORK/source.json")" = Microsoft.Compute/disks ] ||
  fail "backup instance $BACKUP_INSTANCE: it does not protect a managed disk (dataSourceInfo.datasourceType is not Microsoft.Compute/disks): this drill restores disks only"
source_name=$(jq -r '.resourceName // empty' "$WORK/source.json")
[[ $source_name =~ ^[A-Za-z0-9._-]{1,80}$ ]] || fail "backup instance $BACKUP_INSTANCE: the source disk's name '$(clean "$source_name" 80)' is not a disk name"

# Every page of recovery points: the newest may be on any of them.
arm_list "$INSTANCE/recoveryPoints?$DP" "recovery points" "$OPERATOR" "$WORK/points.json"
point=$(jq -r 'max_by(.properties.recoveryPointTime) | .name // empty' "$WORK/points.json")
[ -n "$point" ] || fail "recovery points: the backup instance has none yet: run a backup first"
[[ $point =~ ^[A-Za-z0-9-]{1,100}$ ]] || fail "recovery points: '$(clean "$point" 100)' is not a recovery point name"

suffix=${GITHUB_RUN_ID:-$(date -u +%Y%m%d%H%M%S)}
restored_name=${RESTORED_DISK_NAME:-${source_name:0:50}-drill-$suffix}
[[ $restored_name =~ ^[A-Za-z0-9._-]{1,80}$ ]] || fail "RESTORED_DISK_NAME must be 1 to 80 letters, digits, . _ -"
restored_id="$TARGET_RESOURCE_GROUP_ID/providers/Microsoft.Compute/disks/$restored_name"
echo "restoring recovery point $point of disk $source_name as $restored_name in $region"

request=$(jq -cn --arg point "$point" --arg id "$restored_id" --arg name "$restored_name" --arg region "$region" '{
  objectType: "AzureBackupRecoveryPointBasedRestoreRequest",
  sourceDataStoreType: "OperationalStore",
  recoveryPointId: $point,
  restoreTargetInfo: {
    objectType: "RestoreTargetInfo", recoveryOption: "FailIfExists", restoreLocation: $region,
    datasourceInfo: {objectType: "Datasource", datasourceType: "Microsoft.Compute/disks",
      resourceID: $id, resourceName: $name, resourceType: "Microsoft.Compute/disks",
      resourceLocation: $region, resourceUri: ""}}}')

# validateRestore first: it checks the vault identity's roles and the target before anything starts.
arm POST "$INSTANCE/validateRestore?$DP" "validate restore" "$OPERATOR" "$(jq -c '{restoreRequestObject: .}' <<<"$request")"
follow_async "validate restore" "$OPERATOR"

arm POST "$INSTANCE/restore?$DP" "restore trigger" "$OPERATOR" "$request"
follow_async "restore trigger" "$OPERATOR"
job_arm_id=$(jq -r '.properties.jobId // empty' "$WORK/body")
JOB_ID=${job_arm_id##*/}
[[ ${job_arm_id,,} == "${VAULT_ID,,}/backupjobs/"* && $JOB_ID =~ ^[A-Za-z0-9-]{1,100}$ ]] ||
  fail "restore trigger: the operation succeeded but named no job of this vault to follow (properties.jobId '$(clean "$job_arm_id" 200)')"
echo "restore job started: $JOB_ID"
set_output job-id "$JOB_ID"
JOB_END_RETURNS=1 wait_for_job "$JOB_ID" restore

# The proof: the new disk exists, provisioned, in the vault's region. Then it is deleted.
ALLOW_STATUS=404 arm GET "$restored_id?api-version=$DISKS_API_VERSION" "restored disk $restored_name" "$DISKS_ROLE"
found=$CODE
problem=""
if [ "$found" = 200 ]; then
  state=$(clean "$(jq -r '.properties.provisioningState // "no state"' "$WORK/body")" 40)
  location=$(clean "$(jq -r '.location // "no region"' "$WORK/body")" 60)
  size=$(clean "$(jq -r '.properties.diskSizeGB // 0' "$WORK/body")" 10)
  echo "restored disk $restored_name: $size GiB, $state, $location"
  if [ "$state" != Succeeded ] || [ "${location,,}" != "${region,,}" ] || [ "$size" = 0 ]; then
    problem="restored disk $restored_name is not usable ($size GiB, $state, $location)"
  fi
  arm DELETE "$restored_id?api-version=$DISKS_API_VERSION" "delete restored disk $restored_name" "$DISKS_ROLE"
  if [ "$CODE" = 202 ]; then
    follow_async "delete restored disk $restored_name" "$DISKS_ROLE"
  fi
  echo "deleted restored disk $restored_name"
fi
set_output restored-disk "$restored_name"

case $JOB_STATUS in
  Failed | Cancelled) fail "restore job $JOB_ID ended $JOB_STATUS${JOB_DETAILS:+: $JOB_DETAILS}" ;;
esac
[ "$found" = 200 ] || fail "restore job $JOB_ID: $JOB_STATUS, but the restored disk $restored_name is not in the target resource group: the restore did not produce the disk"
[ -z "$problem" ] || fail "restore job $JOB_ID: $problem (deleted)"
if [ "$JOB_STATUS" = CompletedWithWarnings ]; then
  fail "restore job $JOB_ID: CompletedWithWarnings fails the drill (the restored disk was found and deleted): ${JOB_DETAILS:-see the job in the vault}"
fi
echo "disk restore drill passed: $restored_name restored from $point, checked and deleted"
