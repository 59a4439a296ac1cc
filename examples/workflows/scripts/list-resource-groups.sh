#!/usr/bin/env bash
# Lists the subscription's resource groups (every page of ARM's answer), one name a line.
# Environment: TOKEN (an ARM access token), SUBSCRIPTION_ID,
#   ARM_ENDPOINT (default https://management.azure.com). Role: Reader on the subscription.
RECIPE=resource-groups
# shellcheck source=examples/workflows/scripts/azure-call.sh
. "$(dirname "$0")/azure-call.sh"
need SUBSCRIPTION_ID
ARM_ENDPOINT=${ARM_ENDPOINT:-https://management.azure.com}
page=$(mktemp)
trap 'rm -f "$page"' EXIT
first="${ARM_ENDPOINT%/}/subscriptions/$SUBSCRIPTION_ID/resourcegroups?api-version=2021-04-01"
url=$first
while [ -n "$url" ]; do
  azure_get "resource groups" "$url" "$page" \
    "give the identity Reader on the subscription (role assignments take a few minutes to apply)" \
    "no such subscription: check SUBSCRIPTION_ID and that the identity has a role in it"
  jq -r '.value[].name' "$page"
  url=$(jq -r '.nextLink // empty' "$page")
  # The next page gets the token too: only over https, and only from the host the first page came from.
  if [ -n "$url" ] && ! same_origin "$first" "$url"; then
    fail "resource groups: the answer's nextLink leads to ${url%%\?*}, not an https:// URL on the host of ${first%%\?*}: not sending the token there"
  fi
done
