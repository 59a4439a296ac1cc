#!/usr/bin/env bash
# Restore drill: restore the newest recovery point's disks of a protected VM into a staging storage
# account and target resource group, and follow the restore job to its end. Fails the step if any
# call is refused, or the restore job ends Failed or Cancelled, or outlasts WAIT_MINUTES.
#
# Environment (besides those of azure-backup.sh: TOKEN, VAULT_ID, ITEM, ARM_ENDPOINT, …):
#   STAGING_STORAGE_ACCOUNT_ID  ARM ID of the staging storage account: in the vault's region, not
#                               zone-redundant (checked before the restore starts)
#   TARGET_RESOURCE_GROUP_ID    ARM ID of the resource group that receives the restored managed disks
#   SOURCE_VM_ID                optional: the protected VM's ARM ID (default: read from the protected item)
# Roles: Backup Operator on the vault, Virtual Machine Contributor on the source VM, Storage Account
# Contributor on the staging account, Contributor on the target resource group.
set -euo pipefail
# shellcheck source=examples/workflows/scripts/azure-backup.sh
. "$(dirname "$0")/azure-backup.sh"
need VAULT_ID ITEM STAGING_STORAGE_ACCOUNT_ID TARGET_RESOURCE_GROUP_ID

# The restore stages in the vault's region; no region is hard-coded.
arm GET "$VAULT_ID?$API" "vault" "Backup Operator on the vault"
region=$(jq -r '.location // empty' "$WORK/body")
[ -n "$region" ] || fail "vault: GET $VAULT_ID named no location"

arm GET "$STAGING_STORAGE_ACCOUNT_ID?api-version=2023-05-01" "staging storage account" \
  "Storage Account Contributor on the staging storage account"
staging_region=$(jq -r '.location // empty' "$WORK/body")
staging_sku=$(jq -r '.sku.name // empty' "$WORK/body")
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

arm GET "$VAULT_ID/$ITEM/recoveryPoints?$API" "recovery points" "Backup Operator on the vault"
point=$(jq -r '.value // [] | max_by(.properties.recoveryPointTime) | .name // empty' "$WORK/body")
[ -n "$point" ] || fail "recovery points: the item has none yet: run a backup first"
point_time=$(jq -r --arg p "$point" '.value[] | select(.name == $p) | .properties.recoveryPointTime' "$WORK/body")
echo "restoring recovery point $point ($point_time) of $(basename "$source_vm") in $region"

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
wait_for_job "$JOB_ID" restore
