#!/usr/bin/env bash
# Looks up the job's own service principal in Microsoft Graph and prints its name and object ID.
# Environment: TOKEN (a Graph access token: scope https://graph.microsoft.com/.default), CLIENT_ID,
#   GRAPH_ENDPOINT (default https://graph.microsoft.com).
# Permission: Microsoft Graph Application.Read.All (application), with admin consent.
RECIPE=graph
# shellcheck source=examples/workflows/scripts/azure-call.sh
. "$(dirname "$0")/azure-call.sh"
need CLIENT_ID
GRAPH_ENDPOINT=${GRAPH_ENDPOINT:-https://graph.microsoft.com}
body=$(mktemp)
trap 'rm -f "$body"' EXIT
filter=$(jq -rn --arg id "$CLIENT_ID" '"appId eq '"'"'\($id)'"'"'" | @uri')
azure_get "service principal" \
  "${GRAPH_ENDPOINT%/}/v1.0/servicePrincipals?%24filter=$filter&%24select=id,appId,displayName" "$body" \
  "grant the identity the Graph application permission Application.Read.All, with admin consent" \
  "see Graph's message"
jq -er '.value[0] // empty | "signed in as \(.displayName) (object ID \(.id))"' "$body" ||
  fail "service principal: Graph found none with appId $CLIENT_ID"
