"""A later workflow step using the token service (`azure-oidc-token serve`, or the native action's
`token-service: true`): plain Azure SDK code, nothing GitHub-specific, no secret. The SDK finds
IDENTITY_ENDPOINT and IDENTITY_HEADER in the environment and asks the service, which mints every
token by the action's exchange, with a fresh GitHub ID token each time.

    python managed_identity.py CREDENTIAL SECONDS SCOPE...

CREDENTIAL: `managed-identity` (azure-identity ManagedIdentityCredential), `default`
(DefaultAzureCredential; with AZURE_CLIENT_ID set, as `export-sdk-env` sets it, it asks for that
identity), or `msal` (MSAL's ManagedIdentityClient). Asks for every scope, again and again for
SECONDS (at least once), and fails if a token was already expired when it arrived. Prints no token.
"""

import os
import sys
import time


def token_getter(kind):
    """A function scope -> (token, expires_on), one credential for the whole run."""
    if kind == "managed-identity":
        from azure.identity import ManagedIdentityCredential

        credential = ManagedIdentityCredential()
        return lambda scope: tuple(credential.get_token(scope))[:2]
    if kind == "default":
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
        return lambda scope: tuple(credential.get_token(scope))[:2]
    if kind == "msal":
        import msal
        import requests

        client_id = os.environ.get("AZURE_CLIENT_ID")
        identity = (
            msal.UserAssignedManagedIdentity(client_id=client_id)
            if client_id
            else msal.SystemAssignedManagedIdentity()
        )
        client = msal.ManagedIdentityClient(identity, http_client=requests.Session())

        def get(scope):
            resource = scope[: -len("/.default")] if scope.endswith("/.default") else scope
            result = client.acquire_token_for_client(resource=resource)
            if "access_token" not in result:
                raise RuntimeError(f"{result.get('error')}: {result.get('error_description')}")
            return result["access_token"], int(time.time()) + int(result["expires_in"])

        return get
    raise SystemExit(f"unknown credential {kind!r}")


def main():
    kind, seconds, scopes = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    get = token_getter(kind)
    stats = {scope: {"tokens": 0, "distinct": set(), "least_left": None} for scope in scopes}
    end = time.time() + seconds
    while True:
        for scope in scopes:
            try:
                token, expires_on = get(scope)
            except Exception as error:  # the SDK's message carries the service's explanation
                print(f"{kind}: {scope}: {type(error).__name__}: {error}", file=sys.stderr)
                return 1
            left = expires_on - time.time()
            if left <= 0:
                print(f"{kind}: {scope}: a token arrived expired ({left:.1f} s)", file=sys.stderr)
                return 1
            entry = stats[scope]
            entry["tokens"] += 1
            entry["distinct"].add(hash(token))
            entry["least_left"] = left if entry["least_left"] is None else min(entry["least_left"], left)
        if time.time() >= end:
            break
        time.sleep(0.5)  # pacing, like a job doing work between calls
    for scope, entry in stats.items():
        print(
            f"{kind}: {scope}: {entry['tokens']} tokens, {len(entry['distinct'])} distinct, "
            f"least time left at arrival {entry['least_left']:.0f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
