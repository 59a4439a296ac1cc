// The Node contender: what a JavaScript action would do, with the libraries such an action uses.
// @actions/core fetches the GitHub ID token; @azure/identity's ClientAssertionCredential (MSAL
// underneath) exchanges it; the token is masked and written as a step output.
// Instance discovery is off and the authority points at the emulator (the emulator serves the
// tenant discovery document MSAL fetches first).
import * as core from "@actions/core";
import { ClientAssertionCredential } from "@azure/identity";

const credential = new ClientAssertionCredential(
  process.env.AZURE_TENANT_ID,
  process.env.AZURE_CLIENT_ID,
  () => core.getIDToken("api://AzureADTokenExchange"),
  { authorityHost: process.env.AZURE_AUTHORITY_HOST, disableInstanceDiscovery: true },
);
try {
  const token = await credential.getToken("https://management.azure.com/.default");
  core.setSecret(token.token);
  core.setOutput("access-token", token.token);
  core.setOutput("expires-on", String(Math.floor(token.expiresOnTimestamp / 1000)));
} catch (error) {
  core.setFailed(`token exchange failed: ${error.message}`);
}
