//! The benchmark's floor: the two HTTPS requests of the exchange and nothing else.
//!
//! `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=api://AzureADTokenExchange` with the request token as
//! bearer, then `POST $AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/oauth2/v2.0/token` with the
//! client-assertion form, on one `reqwest` client (rustls + ring, native roots honouring
//! `SSL_CERT_FILE`: the action's stack, same crate features) and the action's current-thread runtime. No validation, no retries, no
//! outputs, no masking: whatever the action spends beyond this program is its overhead.
//! Exit status 0 only if Entra answered 200 with an `access_token`; it prints nothing on success.

use std::process::ExitCode;

const AUDIENCE: &str = "api://AzureADTokenExchange";
const SCOPE: &str = "https://management.azure.com/.default";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

type Error = Box<dyn std::error::Error>;

fn env(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

/// The string field `name` of a JSON object body.
fn field(body: &[u8], name: &str) -> Result<String, Error> {
    let value: serde_json::Value = serde_json::from_slice(body)?;
    value
        .get(name)
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("no `{name}` in the response").into())
}

async fn exchange() -> Result<(), Error> {
    let client = reqwest::Client::new();
    let github = client
        .get(env("ACTIONS_ID_TOKEN_REQUEST_URL")?)
        .query(&[("audience", AUDIENCE)])
        .bearer_auth(env("ACTIONS_ID_TOKEN_REQUEST_TOKEN")?)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let assertion = field(&github, "value")?;
    let endpoint = format!(
        "{}/{}/oauth2/v2.0/token",
        env("AZURE_AUTHORITY_HOST")?.trim_end_matches('/'),
        env("AZURE_TENANT_ID")?
    );
    let client_id = env("AZURE_CLIENT_ID")?;
    let entra = client
        .post(endpoint)
        .form(&[
            ("client_id", client_id.as_str()),
            ("scope", SCOPE),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion.as_str()),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    field(&entra, "access_token").map(drop)
}

fn main() -> ExitCode {
    // The action's runtime, built the same way.
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::from)
        .and_then(|runtime| runtime.block_on(exchange()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            #[allow(
                clippy::print_stderr,
                reason = "the benchmark shows why a run failed; the error never holds a token"
            )]
            {
                eprintln!("azure-oidc-bench-baseline: {error}");
            }
            ExitCode::FAILURE
        }
    }
}
