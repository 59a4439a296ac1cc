#!/usr/bin/env bash
# On-demand backup of one protected item, then follow the Backup job it starts to its end.
# Fails the step if the trigger is refused, or the job ends Failed or Cancelled, or outlasts WAIT_MINUTES.
# CompletedWithWarnings passes with a `::warning` (the recovery point exists; the warning says what
# it lacks, e.g. an excluded disk or a crash-consistent instead of an app-consistent point).
#
# Environment (besides those of azure-backup.sh: TOKEN, VAULT_ID, ARM_ENDPOINT, …):
#   ITEM          the protected item's path inside the vault:
#                 backupFabrics/Azure/protectionContainers/…/protectedItems/…
#   RETAIN_DAYS   how long the on-demand recovery point is kept, default 30
# Role: Backup Operator on the vault.
set -euo pipefail
# shellcheck source=examples/workflows/scripts/azure-backup.sh
. "$(dirname "$0")/azure-backup.sh"
need VAULT_ID ITEM

RETAIN_DAYS=${RETAIN_DAYS:-30}
[[ $RETAIN_DAYS =~ ^[0-9]{1,4}$ ]] || fail "RETAIN_DAYS must be a whole number of days"
expiry=$(date -u -d "+$((10#$RETAIN_DAYS)) days" +%Y-%m-%dT%H:%M:%SZ)
body=$(jq -cn --arg expiry "$expiry" \
  '{properties: {objectType: "IaasVMBackupRequest", recoveryPointExpiryTimeInUTC: $expiry}}')
arm POST "$VAULT_ID/$ITEM/backup?$API" "backup trigger" "Backup Operator on the vault" "$body"
follow_operation "backup trigger"
echo "backup job started: $JOB_ID (recovery point kept until $expiry)"
set_output job-id "$JOB_ID"
wait_for_job "$JOB_ID" backup
if [ "$JOB_STATUS" = CompletedWithWarnings ]; then
  echo "::warning title=azure-backup::backup job $JOB_ID: CompletedWithWarnings: ${JOB_DETAILS:-see the job in the vault}"
fi
