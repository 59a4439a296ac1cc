"""The Python contender: azure-identity's ClientAssertionCredential (MSAL underneath), fed the GitHub
ID token fetched with requests, the token masked and written as a step output, as a Python step in
a workflow would do it. Instance discovery is off and the authority points at the emulator (which
serves the tenant discovery document MSAL fetches first)."""

import os
import sys

import requests
from azure.identity import ClientAssertionCredential


def github_id_token() -> str:
    response = requests.get(
        os.environ["ACTIONS_ID_TOKEN_REQUEST_URL"],
        params={"audience": "api://AzureADTokenExchange"},
        headers={"Authorization": "Bearer " + os.environ["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]},
        timeout=60,
    )
    response.raise_for_status()
    return response.json()["value"]


def main() -> int:
    credential = ClientAssertionCredential(
        os.environ["AZURE_TENANT_ID"],
        os.environ["AZURE_CLIENT_ID"],
        github_id_token,
        authority=os.environ["AZURE_AUTHORITY_HOST"],
        disable_instance_discovery=True,
    )
    token = credential.get_token("https://management.azure.com/.default")
    print(f"::add-mask::{token.token}", flush=True)
    with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
        out.write(f"access-token={token.token}\nexpires-on={token.expires_on}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
