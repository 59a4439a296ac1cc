#!/usr/bin/env bash
# Reads one Key Vault secret, masks it, and hands it to the job's later steps as an environment
# variable (never printed; a value of several lines is masked line by line).
# Environment: TOKEN (a Key Vault access token: scope https://vault.azure.net), VAULT_URL
#   (https://NAME.vault.azure.net), SECRET_NAME, ENV_NAME (the variable to set).
# Role: Key Vault Secrets User on the vault (or on the secret).
RECIPE=key-vault
# shellcheck source=examples/workflows/scripts/azure-call.sh
. "$(dirname "$0")/azure-call.sh"
need VAULT_URL SECRET_NAME ENV_NAME GITHUB_ENV
body=$(mktemp)
trap 'rm -f "$body"' EXIT
azure_get "secret $SECRET_NAME" "${VAULT_URL%/}/secrets/$SECRET_NAME?api-version=7.4" "$body" \
  "give the identity Key Vault Secrets User on the vault (an access-policy vault needs a 'get' secret permission instead)" \
  "the vault has no enabled secret $SECRET_NAME: check SECRET_NAME and VAULT_URL"
value=$(jq -er .value "$body") || fail "secret $SECRET_NAME: the answer had no value"
while IFS= read -r line; do
  # The runner unescapes a command's data (%25, %0D, %0A): escape it so the mask is the line itself.
  line=${line//'%'/'%25'}
  line=${line//$'\r'/'%0D'}
  [ -z "$line" ] || echo "::add-mask::$line"
done <<<"$value"
delimiter="EOF_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
{
  echo "$ENV_NAME<<$delimiter"
  printf '%s\n' "$value"
  echo "$delimiter"
} >>"$GITHUB_ENV"
echo "$ENV_NAME is set for the next steps (secret $SECRET_NAME, masked)"
