// A later workflow step that mints its own Azure tokens with the Azure SDK for JavaScript.
//
// @azure/identity has no public GitHub Actions credential, so this is the pattern: a
// ClientAssertionCredential whose callback asks the runner for a fresh GitHub ID token (the cloud's
// audience) every time Entra needs an assertion. The job needs `permissions: id-token: write`, which
// gives every step ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN.
//
// Reads only AZURE_CLIENT_ID, AZURE_TENANT_ID, optional AZURE_AUTHORITY_HOST and the two ACTIONS_*
// variables. Gets an Azure Resource Manager token and prints when it expires, never the token.
// Dependencies: package.json + package-lock.json (npm ci). Run: node examples/sdk/node.mjs
import { ClientAssertionCredential } from "@azure/identity";

// Authority host -> [GitHub token audience the federated credential expects, ARM scope].
const CLOUDS = {
  "login.microsoftonline.com": ["api://AzureADTokenExchange", "https://management.azure.com/.default"],
  "login.microsoftonline.us": ["api://AzureADTokenExchangeUSGov", "https://management.usgovcloudapi.net/.default"],
  "login.chinacloudapi.cn": ["api://AzureADTokenExchangeChina", "https://management.chinacloudapi.cn/.default"],
};

function need(name) {
  const value = (process.env[name] ?? "").trim();
  if (!value) {
    const hint = name.startsWith("ACTIONS_") ? " (add `permissions: id-token: write` to the job)" : "";
    console.error(`error: ${name} is not set${hint}`);
    process.exit(1);
  }
  return value;
}

// A fresh GitHub ID token for `audience` (called by the credential whenever it needs one).
async function githubIdToken(requestUrl, requestToken, audience) {
  const url = new URL(requestUrl);
  url.searchParams.set("audience", audience);
  const response = await fetch(url, {
    headers: { Authorization: `Bearer ${requestToken}`, Accept: "application/json" },
    signal: AbortSignal.timeout(30_000),
  });
  if (!response.ok) {
    throw new Error(`GitHub's ID token endpoint (${url.host}) answered HTTP ${response.status}`);
  }
  return (await response.json()).value;
}

const authority = (process.env.AZURE_AUTHORITY_HOST ?? "").trim() || "https://login.microsoftonline.com";
const host = new URL(authority).hostname;
const [audience, scope] = CLOUDS[host] ?? CLOUDS["login.microsoftonline.com"];
const requestUrl = need("ACTIONS_ID_TOKEN_REQUEST_URL");
const requestToken = need("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
const credential = new ClientAssertionCredential(
  need("AZURE_TENANT_ID"),
  need("AZURE_CLIENT_ID"),
  () => githubIdToken(requestUrl, requestToken, audience),
  // Only a private authority (Azure Stack, a test double) needs discovery off: MSAL knows the public clouds.
  { authorityHost: authority, disableInstanceDiscovery: !(host in CLOUDS) },
);
let token;
try {
  token = await credential.getToken(scope);
} catch (error) {
  const first = String(error?.message ?? error).trim().split("\n")[0];
  console.error(`error: Entra (${host}) refused the token request for ${scope}: ${first}`);
  process.exit(1);
}
const expiresOn = Math.floor(token.expiresOnTimestamp / 1000);
console.log(`ARM token for ${scope} expires at ${new Date(expiresOn * 1000).toISOString().replace(/\.\d+Z$/, "Z")} (expires_on=${expiresOn})`);
