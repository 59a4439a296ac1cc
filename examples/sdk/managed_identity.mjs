// A later workflow step using the token service (`azure-oidc-token serve`, or the native action's
// `token-service: true`): plain @azure/identity code, nothing GitHub-specific, no secret. The SDK
// finds IDENTITY_ENDPOINT and IDENTITY_HEADER in the environment and asks the service.
//
//   node managed_identity.mjs CREDENTIAL SECONDS SCOPE...
//
// CREDENTIAL: `managed-identity` (ManagedIdentityCredential) or `default` (DefaultAzureCredential;
// with AZURE_CLIENT_ID set it asks for that identity). Asks for every scope, again and again for
// SECONDS (at least once), and fails if a token was already expired when it arrived. Prints no token.
import { DefaultAzureCredential, ManagedIdentityCredential } from "@azure/identity";

const [kind, secondsText, ...scopes] = process.argv.slice(2);
const credential =
  kind === "managed-identity"
    ? new ManagedIdentityCredential()
    : kind === "default"
      ? new DefaultAzureCredential()
      : null;
if (!credential) {
  console.error(`unknown credential ${kind}`);
  process.exit(2);
}
const stats = new Map(scopes.map((scope) => [scope, { tokens: 0, distinct: new Set(), leastLeft: Infinity }]));
const end = Date.now() + Number(secondsText) * 1000;
for (;;) {
  for (const scope of scopes) {
    let token;
    try {
      token = await credential.getToken(scope);
    } catch (error) {
      console.error(`${kind}: ${scope}: ${error.name}: ${error.message}`);
      process.exit(1);
    }
    const left = (token.expiresOnTimestamp - Date.now()) / 1000;
    if (left <= 0) {
      console.error(`${kind}: ${scope}: a token arrived expired (${left.toFixed(1)} s)`);
      process.exit(1);
    }
    const entry = stats.get(scope);
    entry.tokens += 1;
    entry.distinct.add(token.token);
    entry.leastLeft = Math.min(entry.leastLeft, left);
  }
  if (Date.now() >= end) break;
  await new Promise((resolve) => setTimeout(resolve, 500)); // pacing, like a job doing work between calls
}
for (const [scope, entry] of stats) {
  console.log(
    `${kind}: ${scope}: ${entry.tokens} tokens, ${entry.distinct.size} distinct, least time left at arrival ${Math.floor(entry.leastLeft)} s`,
  );
}
