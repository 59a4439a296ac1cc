#!/usr/bin/env bash
# Restore drill (Recovery Services vault, Azure VM): restore the newest recovery point's disks into a
# staging storage account and a resource group kept for the drill, follow the restore job to its end,
# then PROVE the restore: find the managed disks it created in that resource group, check that there
# are as many as the recovery point holds and that each is provisioned in the vault's region, and
# delete them. Fails the step if any call is refused, the job does not end Completed, a disk is missing
# or unhealthy, or WAIT_MINUTES pass.
#
# CompletedWithWarnings fails the drill (after the cleanup): a drill exists to show that a restore
# works end to end, and a restore with warnings did not do all it was asked (typically a disk was
# skipped); the step's error carries the job's warnings.
#
# Environment (besides those of azure-backup.sh: TOKEN, VAULT_ID, ARM_ENDPOINT, …):
#   ITEM                        the protected item's path inside the vault:
#                               backupFabrics/Azure/protectionContainers/…/protectedItems/…
#   STAGING_STORAGE_ACCOUNT_ID  ARM ID of the staging storage account: in the vault's region, not
#                               zone-redundant (checked before the restore starts)
#   TARGET_RESOURCE_GROUP_ID    ARM ID of a resource group used ONLY by this drill: it must hold no
#                               disk when the drill starts, so every disk in it afterwards is restored
#   SOURCE_VM_ID                optional: the protected VM's ARM ID (default: read from the protected item)
#   STORAGE_API_VERSION         default 2023-05-01
#   DISKS_API_VERSION           Microsoft.Compute/disks, default 2024-03-02
# Roles: Backup Operator on the vault, Virtual Machine Contributor on the source VM, Storage Account
# Contributor on the staging account, Contributor on the target resource group (lists and deletes
# the restored disks).
set -euo pipefail
# shellcheck source=examples/workflows/scripts/azure-backup.sh
. "$(dirname "$0")/azure-backup.sh"
need VAULT_ID ITEM STAGING_STORAGE_ACCOUNT_ID TARGET_RESOURCE_GROUP_ID
STORAGE_API_VERSION=${STORAGE_API_VERSION:-2023-05-01}
DISKS_API_VERSION=${DISKS_API_VERSION:-2024-03-02}
for version in STORAGE_API_VERSION DISKS_API_VERSION; do
  [[ ${!version} =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$ ]] || fail "$version must look like 2024-03-02"
done
TARGET_RESOURCE_GROUP_ID=${TARGET_RESOURCE_GROUP_ID%/}
[[ $TARGET_RESOURCE_GROUP_ID =~ ^/subscriptions/[^/]+/resourceGroups/[^/]+$ ]] ||
  fail "TARGET_RESOURCE_GROUP_ID must be a resource group's ARM ID: /subscriptions/<id>/resourceGroups/<name>"
DISKS_ROLE="Contributor on the target resource group"

# disks_in_target OUT: every managed disk in the target resource group (all pages), as a JSON array.
disks_in_target() {
  arm_list "$TARGET_RESOURCE_GROUP_ID/providers/Microsoft.Compute/disks?api-version=$DISKS_API_VERSION" \
    "disks in the target resource group" "$DISKS_ROLE" "$1"
}

# delete_disks FILE: deletes every disk listed in FILE and waits for each deletion to finish.
delete_disks() {
  local id name
  while IFS= read -r id; do
    [ -n "$id" ] || continue
    on_arm "$ARM_ENDPOINT$id" || fail "restored disk: '$(clean "$id" 200)' is not an ARM ID"
    name=$(clean "${id##*/}" 100)
    arm DELETE "$id?api-version=$DISKS_API_VERSION" "delete restored disk $name" "$DISKS_ROLE"
    if [ "$CODE" = 202 ]; then
      follow_async "delete restored disk $name" "$DISKS_ROLE"
    fi
    echo "deleted restored disk $name"
  done < <(jq -r '.[].id // empty' "$1")
}

# The restore stages in the vault's region; no region is hard-coded.
arm GET "$VAULT_ID?$API" "vault" "Backup Operator on the vault"
region=$(jq -r '.location // empty' "$WORK/body")
[ -n "$region" ] || fail "vault: GET $VAULT_ID named no location"
region=$(clean "$region" 60)

arm GET "$STAGING_STORAGE_ACCOUNT_ID?api-version=$STORAGE_API_VERSION" "staging storage account" \
  "Storage Account Contributor on the staging storage account"
staging_region=$(clean "$(jq -r '.location // empty' "$WORK/body")" 60)
staging_sku=$(clean "$(jq -r '.sku.name // empty' "$WORK/body")" 60)
if [ "${staging_region,,}" != "${region,,}" ]; then
  fail "staging storage account: it is in '$staging_region' but the vault is in '$region': set STAGING_STORAGE_ACCOUNT_ID to an account in '$region'"
fi
case $staging_sku in
  *ZRS*) fail "staging storage account: its SKU $staging_sku is zone-redundant, which a disk restore cannot stage to: use an LRS or GRS account in '$region'" ;;
esac

arm GET "$VAULT_ID/$ITEM?$API" "protected item" "Backup Operator on the vault"
source_vm=${SOURCE_VM_ID:-}
if [ -z "$source_vm" ]; then
  source_vm=$(jq -r '.properties.sourceResourceId // empty' "$WORK/body")
fi
[ -n "$source_vm" ] || fail "protected item: no properties.sourceResourceId: set SOURCE_VM_ID"

# The target resource group must start without disks: afterwards, every disk in it is the restore's.
disks_in_target "$WORK/before.json"
if [ "$(jq length "$WORK/before.json")" -gt 0 ]; then
  fail "target resource group: it already holds disks ($(clean "$(jq -r 'map(.name) | join(", ")' "$WORK/before.json")" 300)): the drill needs a resource group of its own, so that every disk in it after the restore is one the restore made; delete those disks (an earlier drill may have left them) or set TARGET_RESOURCE_GROUP_ID to an empty group"
fi

# Every page of recovery points: the newest may be on any of them.
arm_list "$VAULT_ID/$ITEM/recoveryPoints?$API" "recovery points" "Backup Operator on the vault" "$WORK/points.json"
jq 'max_by(.properties.recoveryPointTime) // empty' "$WORK/points.json" >"$WORK/point.json"
point=$(jq -r '.name // empty' "$WORK/point.json")
[ -n "$point" ] || fail "recovery points: the item has none yet: run a backup first"
[[ $point =~ ^[A-Za-z0-9-]{1,100}$ ]] || fail "recovery points: '$(clean "$point" 100)' is not a recovery point name"
point_time=$(clean "$(jq -r '.properties.recoveryPointTime // empty' "$WORK/point.json")" 40)
expected=$(jq -r '.properties.recoveryPointDiskConfiguration.numberOfDisksIncludedInBackup // 1' "$WORK/point.json")
[[ $expected =~ ^[0-9]{1,3}$ ]] || expected=1
echo "restoring recovery point $point ($point_time, $expected disks) of $(clean "${source_vm##*/}" 80) in $region"

body=$(jq -cn --arg point "$point" --arg vm "$source_vm" --arg staging "$STAGING_STORAGE_ACCOUNT_ID" \
  --arg rg "$TARGET_RESOURCE_GROUP_ID" --arg region "$region" '{properties: {
    objectType: "IaasVMRestoreRequest", recoveryPointId: $point, recoveryType: "RestoreDisks",
    sourceResourceId: $vm, storageAccountId: $staging, targetResourceGroupId: $rg, region: $region,
    createNewCloudService: false, originalStorageAccountOption: false,
    encryptionDetails: {encryptionEnabled: false}}}')
arm POST "$VAULT_ID/$ITEM/recoveryPoints/$point/restore?$API" "restore trigger" \
  "Backup Operator on the vault, Virtual Machine Contributor on the source VM, Storage Account Contributor on the staging account and Contributor on the target resource group" \
  "$body"
follow_operation "restore trigger"
echo "restore job started: $JOB_ID"
set_output job-id "$JOB_ID"
JOB_END_RETURNS=1 wait_for_job "$JOB_ID" restore

# The proof: the disks the restore made, in the target resource group.
disks_in_target "$WORK/restored.json"
count=$(jq length "$WORK/restored.json")
problems=$(jq -r --arg region "$region" '[.[] |
  select((.properties.provisioningState // "") != "Succeeded" or ((.location // "") | ascii_downcase) != ($region | ascii_downcase)) |
  "\(.name) (\(.properties.provisioningState // "no state"), \(.location // "no region"))"] | join(", ")' "$WORK/restored.json")
jq -r '.[] | "restored disk \(.name): \(.properties.diskSizeGB // "?") GiB, \(.properties.provisioningState // "no state"), \(.location // "no region")"' \
  "$WORK/restored.json" | while IFS= read -r line; do clean "$line"; echo; done
set_output restored-disks "$count"

# Clean up before judging, so that a failed drill does not leave disks behind (they cost money).
delete_disks "$WORK/restored.json"

left=""
[ "$count" -eq 0 ] || left=" ($count disks it left were deleted)"
case $JOB_STATUS in
  Failed | Cancelled) fail "restore job $JOB_ID ended $JOB_STATUS${JOB_DETAILS:+: $JOB_DETAILS}$left" ;;
esac
[ "$count" -ge "$expected" ] ||
  fail "restore job $JOB_ID: $JOB_STATUS, but the target resource group holds $count restored disks where the recovery point has $expected: the restore did not produce the VM's disks"
[ -z "$problems" ] || fail "restore job $JOB_ID: restored disks not usable: $(clean "$problems" 500) (deleted)"
if [ "$JOB_STATUS" = CompletedWithWarnings ]; then
  fail "restore job $JOB_ID: CompletedWithWarnings fails the drill (the restored disks were found and deleted): ${JOB_DETAILS:-see the job in the vault}"
fi
echo "restore drill passed: $count disks restored from $point, checked and deleted"
