"""A later workflow step that mints its own Azure tokens with the Azure SDK for Python.

azure-identity has no GitHub Actions credential, so this is the pattern: a ClientAssertionCredential
whose callback asks the runner for a fresh GitHub ID token (the cloud's audience) every time Entra
needs an assertion. The job needs `permissions: id-token: write`, which gives every step
ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN.

Reads only AZURE_CLIENT_ID, AZURE_TENANT_ID, optional AZURE_AUTHORITY_HOST and the two ACTIONS_*
variables. Gets an Azure Resource Manager token and prints when it expires, never the token.
Dependencies: requirements.txt (pinned). Run: python examples/sdk/python.py
"""

import json
import os
import sys
import urllib.parse
import urllib.request
from datetime import datetime, timezone

from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientAssertionCredential

# Authority host -> (GitHub token audience the federated credential expects, ARM scope).
CLOUDS = {
    "login.microsoftonline.com": ("api://AzureADTokenExchange", "https://management.azure.com/.default"),
    "login.microsoftonline.us": ("api://AzureADTokenExchangeUSGov", "https://management.usgovcloudapi.net/.default"),
    "login.chinacloudapi.cn": ("api://AzureADTokenExchangeChina", "https://management.chinacloudapi.cn/.default"),
}


def require(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        hint = " (add `permissions: id-token: write` to the job)" if name.startswith("ACTIONS_") else ""
        sys.exit(f"error: {name} is not set{hint}")
    return value


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would follow a redirect with the request token still attached, to any host and over
    http: the token endpoint answers directly, so a redirect is an error (HTTPError) instead."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ARG002 (urllib's signature)
        return None


_NO_REDIRECTS = urllib.request.build_opener(_RefuseRedirects)


def github_id_token(request_url: str, request_token: str, audience: str) -> str:
    """A fresh GitHub ID token for `audience` (called by the credential whenever it needs one)."""
    url = urllib.parse.urlsplit(request_url)
    query = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
    query = [(k, v) for k, v in query if k != "audience"] + [("audience", audience)]
    request = urllib.request.Request(
        urllib.parse.urlunsplit(url._replace(query=urllib.parse.urlencode(query))),
        headers={"Authorization": "Bearer " + request_token, "Accept": "application/json"},
    )
    with _NO_REDIRECTS.open(request, timeout=30) as response:
        return json.load(response)["value"]


def main() -> int:
    authority = os.environ.get("AZURE_AUTHORITY_HOST", "").strip() or "https://login.microsoftonline.com"
    host = urllib.parse.urlsplit(authority).hostname or ""
    audience, scope = CLOUDS.get(host, CLOUDS["login.microsoftonline.com"])
    request_url = require("ACTIONS_ID_TOKEN_REQUEST_URL")
    request_token = require("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    credential = ClientAssertionCredential(
        require("AZURE_TENANT_ID"),
        require("AZURE_CLIENT_ID"),
        lambda: github_id_token(request_url, request_token, audience),
        authority=authority,
        # Only a private authority (Azure Stack, a test double) needs this: MSAL knows the public clouds.
        disable_instance_discovery=host not in CLOUDS,
    )
    try:
        token = credential.get_token(scope)
    except ClientAuthenticationError as error:
        first = str(error.message or error).strip().splitlines()[0]
        sys.exit(f"error: Entra ({host}) refused the token request for {scope}: {first}")
    expires = datetime.fromtimestamp(token.expires_on, timezone.utc)
    print(f"ARM token for {scope} expires at {expires:%Y-%m-%dT%H:%M:%SZ} (expires_on={token.expires_on})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
