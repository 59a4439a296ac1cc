#!/usr/bin/env bash
# On-demand backup of one protected item, then follow the Backup job it starts to its end.
# Fails the step if the trigger is refused, or the job ends Failed or Cancelled, or outlasts WAIT_MINUTES.
#
# Environment (besides those of azure-backup.sh: TOKEN, VAULT_ID, ITEM, ARM_ENDPOINT, …):
#   RETAIN_DAYS   how long the on-demand recovery point is kept, default 30
# Role: Backup Operator on the vault.
set -euo pipefail
# shellcheck source=examples/workflows/scripts/azure-backup.sh
. "$(dirname "$0")/azure-backup.sh"
need VAULT_ID ITEM

expiry=$(date -u -d "+${RETAIN_DAYS:-30} days" +%Y-%m-%dT%H:%M:%SZ)
body=$(jq -cn --arg expiry "$expiry" \
  '{properties: {objectType: "IaasVMBackupRequest", recoveryPointExpiryTimeInUTC: $expiry}}')
arm POST "$VAULT_ID/$ITEM/backup?$API" "backup trigger" "Backup Operator on the vault" "$body"
follow_operation "backup trigger"
echo "backup job started: $JOB_ID (recovery point kept until $expiry)"
set_output job-id "$JOB_ID"
wait_for_job "$JOB_ID" backup
