//! The AADSTS diagnosis: what to change when Entra says no, by error code, with the claims the
//! token presented and the federated credential that would have matched them. Codes and wordings:
//! <https://learn.microsoft.com/entra/identity-platform/reference-error-codes>; each hint has a
//! section in `docs/troubleshooting.md`.

use reqwest::Url;

use crate::exchange::claims::Claims;
use crate::exchange::cloud::Cloud;
use crate::exchange::entra::EntraError;
use crate::exchange::http::HttpError;
use crate::exchange::network::Network;
use crate::exchange::settings::ExchangeConfig;
use crate::onboarding::credential::Credential;

/// What to change when Entra refused the exchange (or never answered): by AADSTS code, with the
/// presented claims and the federated credential that would match them where that is the fix.
pub fn entra_hints(
    error: &EntraError,
    host: &str,
    presented: &Claims,
    context: &HintContext<'_>,
) -> Vec<String> {
    if let EntraError::Http(http) = error {
        return network_hints(http, "Entra hop", host, Some(context));
    }
    if error.status() == Some(429) {
        return vec![
            "Entra is throttling this client (HTTP 429). Retries honoured Retry-After within the budget; spread out parallel jobs or raise timeout-seconds.".to_owned(),
        ];
    }
    let codes = error.body().map(|b| b.codes()).unwrap_or_default();
    let has = |code: u64| codes.contains(&code);
    let mut hints = Vec::new();
    if has(7_002_138) {
        hints.push(format!(
            "Only the letter case differs: federated credential matching is case-sensitive. Set the credential's subject to exactly {}.",
            quoted(presented.sub.as_deref())
        ));
        hints.extend(matching_credential(presented, context));
    } else if [70_021, 700_211, 700_212, 700_213, 7_002_137]
        .iter()
        .any(|c| has(*c))
    {
        hints.push("No federated identity credential matches what was presented (issuer, subject and audience must match exactly, case-sensitively).".to_owned());
        if has(700_211) {
            hints.push("The issuer differs: the credential's issuer must equal the token's iss exactly (no trailing slash unless the token has one).".to_owned());
        }
        if has(700_212) {
            hints.push(format!(
                "The audience differs: the credential's audiences must contain {} (this step requested it; set the `audience` input to match the credential instead if that one is right).",
                quoted(Some(context.audience))
            ));
        }
        if has(700_213) || has(7_002_137) {
            hints.push("The subject differs: a job with `environment:` presents ...:environment:NAME, pull requests present ...:pull_request, other runs ...:ref:refs/heads/BRANCH or refs/tags/TAG. Repositories created or renamed after July 2026 present ID-based subjects (repo:OWNER@OWNER_ID/REPO@REPO_ID:...); older ones keep repo:OWNER/REPO:... until they opt in. Use the form your token has.".to_owned());
            hints.extend(
                presented
                    .sub
                    .as_deref()
                    .and_then(crate::onboarding::subject::presented_form_note),
            );
        }
        if has(70_021) {
            hints.push("If the credential was created or changed in the last few minutes, it may still be propagating: wait a few minutes and re-run the job (this action does not loop on it).".to_owned());
        }
        hints.extend(matching_credential(presented, context));
    } else if has(70_025) {
        hints.push(format!(
            "The app or managed identity {} has no federated identity credential at all (or client-id names the wrong one). Add one; credentials take a few minutes to propagate.",
            context.client_id.unwrap_or("(client-id)")
        ));
        hints.extend(matching_credential(presented, context));
    } else if has(700_016) {
        hints.push(format!(
            "Check client-id (the Application (client) ID, not the object ID), tenant-id, and environment ({}): the app must exist in that tenant and cloud.",
            context.cloud.name()
        ));
    } else if has(90_002) {
        hints.push(format!(
            "Check tenant-id; a tenant in a sovereign cloud needs `environment: AzureUSGovernment` or `AzureChinaCloud` (now {}).",
            context.cloud.name()
        ));
    } else if has(900_023) {
        hints.push("tenant-id must be the Directory (tenant) ID GUID or a verified domain such as contoso.onmicrosoft.com; check for an unexpanded expression or stray quotes.".to_owned());
    } else if has(700_024) {
        hints.push(format!(
            "The GitHub token is outside its valid time range (it presented nbf {} and exp {}; this machine's clock says {}). Check the runner's clock (self-hosted: enable NTP); this action always fetches a fresh token.",
            presented.nbf.map_or_else(|| "?".to_owned(), crate::clock::rfc3339),
            presented.exp.map_or_else(|| "?".to_owned(), crate::clock::rfc3339),
            crate::clock::rfc3339(crate::clock::unix_now())
        ));
    } else if has(700_222) {
        hints.push("An Entra-issued token was presented as the assertion; the assertion must be the GitHub ID token (check ACTIONS_ID_TOKEN_REQUEST_URL is not overridden).".to_owned());
    } else if has(7_000_215) || has(7_000_218) {
        hints.push("Entra expected a client secret: this app must authenticate with a federated credential. Check client-id names the app that holds the federated credential.".to_owned());
    } else if has(70_011) || has(700_022) || has(1_002_012) || has(500_011) {
        hints.push(format!(
            "Check the `scope` input ({}): one resource, ending in /.default, whose service principal exists in the tenant.",
            context.scope.unwrap_or_default()
        ));
    } else if let Some(code) = codes.first() {
        hints.push(format!(
            "See https://login.microsoftonline.com/error?code={code}."
        ));
    } else if matches!(
        error,
        EntraError::NotJson { .. } | EntraError::Redirect { .. } | EntraError::Malformed(_)
    ) {
        hints.push(format!(
            "Something other than Entra answered: check authority-host ({}) and any proxy.",
            context
                .authority_host
                .map(|url| url.as_str().trim_end_matches('/').to_owned())
                .unwrap_or_default()
        ));
    }
    if let Some(code) = codes.first().filter(|_| !hints.is_empty()) {
        hints.push(format!(
            "More on AADSTS{code}: docs/troubleshooting.md#aadsts{code} in the azure-oidc-token repository."
        ));
    }
    hints
}

fn quoted(value: Option<&str>) -> String {
    serde_json::to_string(value.unwrap_or_default()).unwrap_or_default()
}

/// The presented claims and the federated credential that would match them.
pub fn matching_credential(presented: &Claims, context: &HintContext<'_>) -> Vec<String> {
    let issuer = presented.iss.clone().unwrap_or_default();
    let subject = presented.sub.clone().unwrap_or_default();
    let audience = presented
        .aud
        .values()
        .first()
        .map_or_else(|| context.audience.to_owned(), |a| (*a).to_owned());
    let credential = Credential::new(&issuer, &subject, &audience);
    let mut lines = vec![
        format!("Presented issuer:   {}", quoted(Some(&issuer))),
        format!("Presented subject:  {}", quoted(Some(&subject))),
        format!("Presented audience: {}", quoted(Some(&audience))),
    ];
    if let Some(workflow) = &presented.job_workflow_ref {
        lines.push(format!("job_workflow_ref:   {}", quoted(Some(workflow))));
    }
    lines.push("A federated identity credential that matches this token:".to_owned());
    lines.push(format!("  {}", credential.to_json()));
    lines.push(format!(
        "  {}",
        credential.az_app_command(context.client_id)
    ));
    lines.push(format!(
        "  (managed identity: {})",
        credential.az_identity_command()
    ));
    lines
}

/// What the run was configured with, as far as the hints need it.
pub struct HintContext<'a> {
    /// The client ID, when one was given.
    pub client_id: Option<&'a str>,
    /// The cloud.
    pub cloud: Cloud,
    /// The audience requested.
    pub audience: &'a str,
    /// The scope requested, for exchanges.
    pub scope: Option<&'a str>,
    /// Entra's authority, for exchanges.
    pub authority_host: Option<&'a Url>,
    /// The proxy settings.
    pub network: &'a Network,
}

impl ExchangeConfig {
    /// The context the hints of an exchange's errors name.
    pub fn hint_context(&self) -> HintContext<'_> {
        HintContext {
            client_id: Some(&self.client_id),
            cloud: self.cloud,
            audience: &self.source.audience,
            scope: Some(&self.scope),
            authority_host: Some(&self.authority_host),
            network: &self.source.network,
        }
    }
}

/// What to change when a hop got no usable answer: the budget, the CA bundle, or the proxy.
pub fn network_hints(
    error: &HttpError,
    hop: &str,
    host: &str,
    context: Option<&HintContext<'_>>,
) -> Vec<String> {
    match error {
        HttpError::Timeout(budget) | HttpError::AttemptTimeout { budget, .. } => vec![format!(
            "The {hop} ({host}) did not answer within timeout-seconds = {}; raise timeout-seconds or check the runner's network and proxy.",
            budget.as_secs()
        )],
        HttpError::Certificate(_) => vec![
            "Behind a TLS-inspecting proxy, set SSL_CERT_FILE (or SSL_CERT_DIR) to a bundle that contains the proxy's CA. Either variable replaces the system's CA store, so the bundle must also hold the public CAs the hosts use.".to_owned(),
        ],
        HttpError::Proxy(_) => {
            let proxy = context.and_then(|c| c.network.proxy.as_ref()).map_or_else(
                || "the proxy (HTTPS_PROXY)".to_owned(),
                |p| format!("the proxy {} (set by {})", p.host(), p.variable),
            );
            vec![format!(
                "The {hop} ({host}) goes through {proxy}, which refused the tunnel: fix the proxy address or its credentials (http://USER:PASSWORD@HOST:PORT), or add the host to NO_PROXY."
            )]
        }
        _ => Vec::new(),
    }
}
