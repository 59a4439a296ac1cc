#!/usr/bin/env bash
# The `curl | jq | curl` contender: what a user writes in a workflow `run:` step instead of an action.
# The benchmark runs it the way the runner runs a `run:` step: bash --noprofile --norc -eo pipefail.
# Inputs: ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN, AZURE_AUTHORITY_HOST, AZURE_TENANT_ID, AZURE_CLIENT_ID,
# GITHUB_OUTPUT; trust: CURL_CA_BUNDLE.
ID_TOKEN=$(curl -sSf -H "Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" \
  "$ACTIONS_ID_TOKEN_REQUEST_URL&audience=api://AzureADTokenExchange" | jq -r .value)
ACCESS_TOKEN=$(curl -sSf "$AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/oauth2/v2.0/token" \
  -d client_id="$AZURE_CLIENT_ID" \
  --data-urlencode scope=https://management.azure.com/.default \
  -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
  -d client_assertion="$ID_TOKEN" \
  -d grant_type=client_credentials | jq -r .access_token)
echo "::add-mask::$ACCESS_TOKEN"
echo "access-token=$ACCESS_TOKEN" >>"$GITHUB_OUTPUT"
