//! End-to-end checks of the emulator through a real HTTPS client.

use std::error::Error;
use std::time::{Duration, Instant};

use rsa::BigUint;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::sha2::Sha256;
use rsa::signature::Verifier as _;
use serde_json::{Map, Value, json};

use super::*;

type TestResult = Result<(), Box<dyn Error>>;

const FIC_AUDIENCE: &str = "api://AzureADTokenExchange";
const ARM: &str = "https://management.azure.com/.default";

fn client(emulator: &Emulator) -> Result<reqwest::Client, Box<dyn Error>> {
    client_with_timeout(emulator, Duration::from_secs(20))
}

fn client_with_timeout(
    emulator: &Emulator,
    timeout: Duration,
) -> Result<reqwest::Client, Box<dyn Error>> {
    Ok(reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(
            emulator.ca_pem().as_bytes(),
        )?)
        .tls_built_in_root_certs(false)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .build()?)
}

fn claims(token: &str) -> Result<Map<String, Value>, Box<dyn Error>> {
    Ok(jwt::decode(token).ok_or("not a JWS")?.claims)
}

async fn id_token(
    client: &reqwest::Client,
    emulator: &Emulator,
    audience: &str,
) -> Result<String, Box<dyn Error>> {
    let mut url = emulator.request_url();
    url.push_str("&audience=");
    url.extend(form_urlencoded::byte_serialize(audience.as_bytes()));
    let response = client
        .get(url)
        .bearer_auth(emulator.request_token())
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await?;
    Ok(body["value"].as_str().ok_or("no value")?.to_owned())
}

/// POSTs a form to `<authority>/<tenant>/oauth2/v2.0/token`.
async fn post_token(
    client: &reqwest::Client,
    emulator: &Emulator,
    tenant: &str,
    form: &[(&str, &str)],
) -> Result<(u16, Value), Box<dyn Error>> {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let response = client
        .post(format!(
            "{}/{tenant}/oauth2/v2.0/token",
            emulator.authority_host()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("client-request-id", "0b7f1c8e-2f3a-4d5b-9c6d-7e8f9a0b1c2d")
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

/// The standard exchange of `assertion` for the emulator's tenant and client.
async fn exchange(
    client: &reqwest::Client,
    emulator: &Emulator,
    assertion: &str,
) -> Result<(u16, Value), Box<dyn Error>> {
    let client_id = emulator.client_id();
    post_token(
        client,
        emulator,
        &emulator.tenant_id(),
        &[
            ("client_id", &client_id),
            ("scope", ARM),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
            ("grant_type", "client_credentials"),
        ],
    )
    .await
}

/// Asserts an Entra error: status, OAuth error, AADSTS code; returns the description.
fn assert_entra_error(
    (status, body): &(u16, Value),
    want_status: u16,
    error: &str,
    code: u64,
) -> String {
    assert_eq!(*status, want_status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], json!([code]), "{body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    assert!(description.contains("\r\nTrace ID: "), "{description}");
    assert_eq!(
        body["correlation_id"], "0b7f1c8e-2f3a-4d5b-9c6d-7e8f9a0b1c2d",
        "client-request-id becomes the correlation id"
    );
    assert_eq!(
        body["error_uri"],
        format!("https://login.microsoftonline.com/error?code={code}")
    );
    description.to_owned()
}

#[tokio::test]
async fn id_token_endpoint() -> TestResult {
    let emulator = Emulator::start(Config::default())?;
    let client = client(&emulator)?;

    let anonymous = client.get(emulator.request_url()).send().await?;
    assert_eq!(anonymous.status(), 401);
    let wrong = client
        .get(emulator.request_url())
        .bearer_auth("nope")
        .send()
        .await?;
    assert_eq!(wrong.status(), 401);
    let post = client
        .post(emulator.request_url())
        .bearer_auth(emulator.request_token())
        .send()
        .await?;
    assert_eq!(post.status(), 405);

    // Default audience, lower-case scheme.
    let response = client
        .get(emulator.request_url())
        .header(
            "authorization",
            format!("bearer {}", emulator.request_token()),
        )
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await?;
    assert_eq!(body["count"], 1);
    let default = claims(body["value"].as_str().ok_or("value")?)?;
    assert_eq!(default["aud"], "https://github.com/octo-org");

    let token = id_token(&client, &emulator, FIC_AUDIENCE).await?;
    let c = claims(&token)?;
    assert_eq!(c["aud"], FIC_AUDIENCE);
    assert_eq!(c["iss"], emulator.issuer().as_str());
    assert_eq!(c["sub"], "repo:octo-org/octo-repo:ref:refs/heads/main");
    assert_eq!(c["repository_id"], "1339936803");
    let iat = c["iat"].as_i64().ok_or("iat")?;
    assert_eq!(c["exp"].as_i64(), Some(iat + 300));
    assert_eq!(c["nbf"].as_i64(), Some(iat - 300));
    assert!(c.get("environment").is_none());

    emulator.set_subject("repo:octo-org/octo-repo:environment:prod");
    let again = claims(&id_token(&client, &emulator, FIC_AUDIENCE).await?)?;
    assert_eq!(again["sub"], "repo:octo-org/octo-repo:environment:prod");

    assert_eq!(emulator.requests(Hop::GitHub), 6);
    assert_eq!(emulator.issued_id_tokens().len(), 3);
    assert_eq!(emulator.issued_id_tokens()[1], token);
    let recorded = emulator.recorded(Hop::GitHub);
    assert_eq!(
        recorded[4].header("Authorization").map(|h| h.len()),
        Some(71)
    );
    assert_eq!(recorded[4].method, "GET");
    assert!(
        recorded[4]
            .query
            .as_deref()
            .is_some_and(|q| q.contains("audience=api"))
    );
    Ok(())
}

#[tokio::test]
async fn config_shapes_id_tokens() -> TestResult {
    let mut extra = Map::new();
    extra.insert("environment".into(), json!("prod"));
    extra.insert("run_attempt".into(), Value::Null);
    let emulator = Emulator::start(Config {
        issuer_path: "/octo-inc".into(),
        extra_claims: extra,
        id_token_lifetime: Duration::from_secs(60),
        id_token_clock_offset_secs: -1000,
        ..Config::default()
    })?;
    let client = client(&emulator)?;
    let c = claims(&id_token(&client, &emulator, FIC_AUDIENCE).await?)?;
    assert_eq!(c["iss"], format!("{}/octo-inc", emulator.base_url()));
    assert_eq!(c["environment"], "prod");
    assert!(c.get("run_attempt").is_none());
    let iat = c["iat"].as_i64().ok_or("iat")?;
    assert!((clock::now() - 1000 - iat).abs() < 5);
    assert_eq!(c["exp"].as_i64(), Some(iat + 60));

    let config: Value = client
        .get(format!(
            "{}/.well-known/openid-configuration",
            emulator.issuer()
        ))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(config["issuer"], emulator.issuer().as_str());
    assert_eq!(emulator.requests(Hop::Discovery), 1);
    Ok(())
}

#[tokio::test]
async fn discovery_and_jwks_verify_tokens() -> TestResult {
    let emulator = Emulator::start(Config::default())?;
    let client = client(&emulator)?;
    let config: Value = client
        .get(format!(
            "{}/.well-known/openid-configuration",
            emulator.issuer()
        ))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(config["issuer"], emulator.issuer().as_str());
    assert_eq!(
        config["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    let jwks_uri = config["jwks_uri"].as_str().ok_or("jwks_uri")?;
    assert_eq!(jwks_uri, format!("{}/.well-known/jwks", emulator.issuer()));
    let jwks: Value = client.get(jwks_uri).send().await?.json().await?;
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");

    // Verify an issued token independently, from the JWKS alone.
    let token = id_token(&client, &emulator, FIC_AUDIENCE).await?;
    let b64 = |v: &Value| -> Result<Vec<u8>, Box<dyn Error>> {
        use base64::Engine as _;
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(v.as_str().ok_or("b64")?)?)
    };
    let public = rsa::RsaPublicKey::new(
        BigUint::from_bytes_be(&b64(&key["n"])?),
        BigUint::from_bytes_be(&b64(&key["e"])?),
    )?;
    let (input, signature) = token.rsplit_once('.').ok_or("jws")?;
    let header: Value = serde_json::from_slice(&b64(&json!(input.split('.').next()))?)?;
    assert_eq!(header["kid"], key["kid"]);
    assert_eq!(header["alg"], "RS256");
    VerifyingKey::<Sha256>::new(public).verify(
        input.as_bytes(),
        &Signature::try_from(b64(&json!(signature))?.as_slice())?,
    )?;

    let post = client.post(jwks_uri).send().await?;
    assert_eq!(post.status(), 405);
    let unknown = client
        .get(format!("{}/nowhere", emulator.base_url()))
        .send()
        .await?;
    assert_eq!(unknown.status(), 404);
    assert_eq!(emulator.requests(Hop::Discovery), 3);
    Ok(())
}

#[tokio::test]
async fn successful_exchange() -> TestResult {
    let emulator = Emulator::start(Config {
        access_token_lifetime_secs: 3900,
        ..Config::default()
    })?;
    let client = client(&emulator)?;
    let assertion = id_token(&client, &emulator, FIC_AUDIENCE).await?;
    let (status, body) = exchange(&client, &emulator, &assertion).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3900);
    assert_eq!(body["ext_expires_in"], 3900);
    let access = body["access_token"].as_str().ok_or("access_token")?;
    let c = claims(access)?;
    assert_eq!(c["aud"], "https://management.azure.com");
    assert_eq!(c["oid"], "99999999-8888-4777-8666-555555555555");
    assert_eq!(c["appid"], emulator.client_id().as_str());
    assert_eq!(c["tid"], emulator.tenant_id().as_str());
    assert_eq!(c["idtyp"], "app");
    assert_eq!(
        c["iss"],
        format!("https://sts.windows.net/{}/", emulator.tenant_id())
    );
    assert_eq!(emulator.issued_access_tokens(), vec![access.to_owned()]);

    // The tenant's domain works like its GUID; every token differs.
    let client_id = emulator.client_id();
    let (status, second) = post_token(
        &client,
        &emulator,
        "contoso.onmicrosoft.com",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("scope", "https://management.core.windows.net//.default"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
        ],
    )
    .await?;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["access_token"], body["access_token"]);
    assert_eq!(
        claims(second["access_token"].as_str().ok_or("token")?)?["aud"],
        "https://management.core.windows.net/"
    );
    let recorded = emulator.recorded(Hop::Entra);
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].method, "POST");
    assert_eq!(
        recorded[0].form_field("client_assertion").as_deref(),
        Some(assertion.as_str())
    );
    Ok(())
}

#[tokio::test]
async fn federated_credential_matching_errors() -> TestResult {
    let emulator = Emulator::start(Config::default())?;
    let client = client(&emulator)?;

    emulator.set_subject("repo:octo-org/octo-repo:ref:refs/heads/dev");
    let assertion = id_token(&client, &emulator, FIC_AUDIENCE).await?;
    let d = assert_entra_error(
        &exchange(&client, &emulator, &assertion).await?,
        401,
        "invalid_client",
        700_213,
    );
    assert!(
        d.contains("'repo:octo-org/octo-repo:ref:refs/heads/dev'"),
        "{d}"
    );

    emulator.set_subject("repo:Octo-Org/octo-repo:ref:refs/heads/main");
    let assertion = id_token(&client, &emulator, FIC_AUDIENCE).await?;
    let d = assert_entra_error(
        &exchange(&client, &emulator, &assertion).await?,
        401,
        "invalid_client",
        7_002_138,
    );
    assert!(d.contains("case-insensitive"), "{d}");

    emulator.set_subject("repo:octo-org/octo-repo:ref:refs/heads/main");
    let assertion = id_token(&client, &emulator, "api://AzureADTokenExchangeUSGov").await?;
    let d = assert_entra_error(
        &exchange(&client, &emulator, &assertion).await?,
        401,
        "invalid_client",
        700_212,
    );
    assert!(d.contains("'api://AzureADTokenExchangeUSGov'"), "{d}");

    let mut foreign = Map::new();
    foreign.insert(
        "iss".into(),
        json!("https://token.actions.githubusercontent.com"),
    );
    let assertion = emulator.mint_id_token(FIC_AUDIENCE, foreign);
    let d = assert_entra_error(
        &exchange(&client, &emulator, &assertion).await?,
        401,
        "invalid_client",
        700_211,
    );
    assert!(
        d.contains("'https://token.actions.githubusercontent.com'"),
        "{d}"
    );

    // Matching audience inside an array is fine.
    let mut array_aud = Map::new();
    array_aud.insert("aud".into(), json!(["x", FIC_AUDIENCE]));
    let assertion = emulator.mint_id_token("ignored", array_aud);
    assert_eq!(exchange(&client, &emulator, &assertion).await?.0, 200);
    assert!(
        emulator.issued_id_tokens().len() == 3,
        "minted tokens are not 'issued'"
    );
    Ok(())
}

#[tokio::test]
async fn assertion_errors() -> TestResult {
    let emulator = Emulator::start(Config::default())?;
    let client = client(&emulator)?;

    let mut expired = Map::new();
    expired.insert("exp".into(), json!(clock::now() - 10));
    let assertion = emulator.mint_id_token(FIC_AUDIENCE, expired);
    // Real Entra answers AADSTS700024 with 401, like the other assertion failures.
    let d = assert_entra_error(
        &exchange(&client, &emulator, &assertion).await?,
        401,
        "invalid_client",
        700_024,
    );
    assert!(
        d.contains("Current time: 20") && d.contains(".0000000Z"),
        "{d}"
    );

    let mut future = Map::new();
    future.insert("nbf".into(), json!(clock::now() + 600));
    let assertion = emulator.mint_id_token(FIC_AUDIENCE, future);
    assert_entra_error(
        &exchange(&client, &emulator, &assertion).await?,
        401,
        "invalid_client",
        700_024,
    );
    let mut near_future = Map::new();
    near_future.insert("nbf".into(), json!(clock::now() + 200));
    let assertion = emulator.mint_id_token(FIC_AUDIENCE, near_future);
    assert_eq!(
        exchange(&client, &emulator, &assertion).await?.0,
        200,
        "nbf has 5 minutes of tolerance"
    );

    // Tampered payload: the signature fails.
    let good = emulator.mint_id_token(FIC_AUDIENCE, Map::new());
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let mut c = claims(&good)?;
    c.insert("repository".into(), json!("evil/repo"));
    parts[1] = jwt::b64(Value::Object(c).to_string().as_bytes());
    assert_entra_error(
        &exchange(&client, &emulator, &parts.join(".")).await?,
        401,
        "invalid_client",
        700_027,
    );

    assert_entra_error(
        &exchange(&client, &emulator, "not-a-jwt").await?,
        400,
        "invalid_request",
        50_027,
    );

    let mut no_sub = Map::new();
    no_sub.insert("sub".into(), Value::Null);
    let assertion = emulator.mint_id_token(FIC_AUDIENCE, no_sub);
    assert_entra_error(
        &exchange(&client, &emulator, &assertion).await?,
        400,
        "invalid_request",
        90_014,
    );

    // An Entra access token used as the assertion.
    let ok = exchange(&client, &emulator, &good).await?;
    let access = ok.1["access_token"]
        .as_str()
        .ok_or("access_token")?
        .to_owned();
    assert_entra_error(
        &exchange(&client, &emulator, &access).await?,
        400,
        "invalid_request",
        700_222,
    );
    Ok(())
}

#[tokio::test]
async fn request_errors() -> TestResult {
    let no_fic = App {
        client_id: "22222222-2222-4222-8222-222222222222".into(),
        display_name: "bare".into(),
        federated_credentials: Vec::new(),
        ..App::default()
    };
    let propagating = App {
        client_id: "33333333-3333-4333-8333-333333333333".into(),
        propagating: true,
        ..App::default()
    };
    let emulator = Emulator::start(Config {
        apps: vec![App::default(), no_fic, propagating],
        ..Config::default()
    })?;
    let client = client(&emulator)?;
    let assertion = id_token(&client, &emulator, FIC_AUDIENCE).await?;
    let tenant = emulator.tenant_id();
    let client_id = emulator.client_id();
    let jwt_bearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    let form = |overrides: &[(&'static str, &'static str)]| -> Vec<(String, String)> {
        let mut fields = vec![
            ("client_id".to_owned(), client_id.clone()),
            ("scope".to_owned(), ARM.to_owned()),
            ("client_assertion_type".to_owned(), jwt_bearer.to_owned()),
            ("client_assertion".to_owned(), assertion.clone()),
            ("grant_type".to_owned(), "client_credentials".to_owned()),
        ];
        for (k, v) in overrides {
            fields.retain(|(name, _)| name != k);
            if !v.is_empty() {
                fields.push(((*k).to_owned(), (*v).to_owned()));
            }
        }
        fields
    };
    let send = |tenant: String, fields: Vec<(String, String)>| {
        let client = client.clone();
        let emulator = &emulator;
        async move {
            let pairs: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            post_token(&client, emulator, &tenant, &pairs).await
        }
    };

    let d = assert_entra_error(
        &send("00000000-0000-4000-8000-0000000000bb".into(), form(&[])).await?,
        400,
        "invalid_tenant",
        90_002,
    );
    assert!(
        d.contains("Tenant '00000000-0000-4000-8000-0000000000bb' not found"),
        "{d}"
    );
    let d = assert_entra_error(
        &send("my%20tenant".into(), form(&[])).await?,
        400,
        "invalid_request",
        900_023,
    );
    assert!(d.contains("'my tenant'"), "{d}");
    assert_entra_error(
        &send(
            tenant.clone(),
            form(&[("client_id", "44444444-4444-4444-8444-444444444444")]),
        )
        .await?,
        400,
        "unauthorized_client",
        700_016,
    );
    assert_entra_error(
        &send(tenant.clone(), form(&[("client_id", "")])).await?,
        400,
        "invalid_request",
        900_144,
    );
    assert_entra_error(
        &send(tenant.clone(), form(&[("grant_type", "")])).await?,
        400,
        "invalid_request",
        900_144,
    );
    assert_entra_error(
        &send(tenant.clone(), form(&[("grant_type", "password")])).await?,
        400,
        "unsupported_grant_type",
        70_003,
    );
    assert_entra_error(
        &send(tenant.clone(), form(&[("client_secret", "s3cret")])).await?,
        401,
        "invalid_client",
        7_000_215,
    );
    assert_entra_error(
        &send(tenant.clone(), form(&[("client_assertion", "")])).await?,
        401,
        "invalid_client",
        7_000_218,
    );
    assert_entra_error(
        &send(tenant.clone(), form(&[("client_assertion_type", "")])).await?,
        400,
        "invalid_request",
        900_144,
    );
    assert_entra_error(
        &send(tenant.clone(), form(&[("client_assertion_type", "urn:x")])).await?,
        400,
        "invalid_request",
        90_011,
    );
    assert_entra_error(
        &send(tenant.clone(), form(&[("scope", "")])).await?,
        400,
        "invalid_request",
        900_144,
    );
    assert_entra_error(
        &send(
            tenant.clone(),
            form(&[("scope", "https://management.azure.com")]),
        )
        .await?,
        400,
        "invalid_scope",
        1_002_012,
    );
    assert_entra_error(
        &send(
            tenant.clone(),
            form(&[(
                "scope",
                "https://management.azure.com/.default https://graph.microsoft.com/.default",
            )]),
        )
        .await?,
        400,
        "invalid_scope",
        70_011,
    );
    let d = assert_entra_error(
        &send(
            tenant.clone(),
            form(&[("client_id", "22222222-2222-4222-8222-222222222222")]),
        )
        .await?,
        400,
        "invalid_client",
        70_025,
    );
    assert!(
        d.contains("'22222222-2222-4222-8222-222222222222'(bare)"),
        "{d}"
    );
    let d = assert_entra_error(
        &send(
            tenant.clone(),
            form(&[("client_id", "33333333-3333-4333-8333-333333333333")]),
        )
        .await?,
        400,
        "invalid_request",
        70_021,
    );
    assert!(
        d.contains("Assertion Audience: 'api://AzureADTokenExchange'"),
        "{d}"
    );

    // Wrong content type and wrong method.
    let response = client
        .post(format!(
            "{}/{tenant}/oauth2/v2.0/token",
            emulator.authority_host()
        ))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await?;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await?;
    assert_eq!(body["error_codes"], json!([900_144]));
    let response = client
        .get(format!(
            "{}/{tenant}/oauth2/v2.0/token",
            emulator.authority_host()
        ))
        .send()
        .await?;
    assert_eq!(response.status(), 400);
    Ok(())
}

#[test]
fn error_body_shape() -> TestResult {
    let body: Value = serde_json::from_str(&entra_error_body(
        "invalid_client",
        &[700_213],
        "No matching federated identity record found.",
        "t-1",
        "c-1",
    ))?;
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"], json!([700_213]));
    assert_eq!(body["trace_id"], "t-1");
    assert_eq!(body["correlation_id"], "c-1");
    let timestamp = body["timestamp"].as_str().ok_or("timestamp")?;
    assert_eq!(timestamp.len(), "2026-11-23 09:41:07Z".len());
    assert_eq!(
        body["error_description"],
        format!(
            "AADSTS700213: No matching federated identity record found.\r\nTrace ID: t-1\r\nCorrelation ID: c-1\r\nTimestamp: {timestamp}"
        )
    );
    assert_eq!(
        body["error_uri"],
        "https://login.microsoftonline.com/error?code=700213"
    );
    Ok(())
}

#[tokio::test]
async fn status_faults_then_normal() -> TestResult {
    let emulator = Emulator::start(Config::default())?;
    let client = client(&emulator)?;
    let mut throttled = Fault::status_retry_after(429, "2");
    if let Fault::Status {
        body, content_type, ..
    } = &mut throttled
    {
        *body = entra_error_body("temporarily_unavailable", &[90_055], "Throttled.", "t", "c");
        *content_type = "application/json".into();
    }
    emulator.script(Hop::Entra, vec![throttled, Fault::status(503)]);
    let assertion = id_token(&client, &emulator, FIC_AUDIENCE).await?;
    let url = format!(
        "{}/{}/oauth2/v2.0/token",
        emulator.authority_host(),
        emulator.tenant_id()
    );
    let form = [
        ("client_id", emulator.client_id()),
        ("scope", ARM.to_owned()),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
        ),
        ("client_assertion", assertion.clone()),
        ("grant_type", "client_credentials".to_owned()),
    ];
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&form)
        .finish();
    let send = || {
        client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
    };
    let first = send().await?;
    assert_eq!(first.status(), 429);
    assert_eq!(first.headers()["retry-after"], "2");
    let first: Value = first.json().await?;
    assert_eq!(first["error_codes"], json!([90_055]));
    let second = send().await?;
    assert_eq!(second.status(), 503);
    assert!(second.headers().get("retry-after").is_none());
    assert_eq!(send().await?.status(), 200);
    assert_eq!(emulator.requests(Hop::Entra), 3);
    assert_eq!(emulator.recorded(Hop::Entra).len(), 3);
    Ok(())
}

#[tokio::test]
async fn connection_faults() -> TestResult {
    let emulator = Emulator::start(Config::default())?;
    let client = client(&emulator)?;
    let get = || {
        client
            .get(emulator.request_url())
            .bearer_auth(emulator.request_token())
            .send()
    };

    emulator.script(Hop::GitHub, vec![Fault::Reset]);
    assert!(get().await.is_err(), "reset gives a connection error");
    assert_eq!(get().await?.status(), 200, "then normal again");

    emulator.script(Hop::GitHub, vec![Fault::ResetMidBody]);
    match get().await {
        Err(_) => {}
        Ok(response) => assert!(response.bytes().await.is_err(), "truncated body"),
    }

    emulator.script(Hop::GitHub, vec![Fault::Oversized(2 * 1024 * 1024)]);
    let big = get().await?;
    assert_eq!(big.status(), 200);
    let bytes = big.bytes().await?;
    assert_eq!(bytes.len(), 2 * 1024 * 1024);
    assert!(bytes.starts_with(br#"{"value":"aaa"#) && bytes.ends_with(br#"aa"}"#));

    emulator.script(Hop::GitHub, vec![Fault::OversizedChunked(2 * 1024 * 1024)]);
    let big = get().await?;
    assert_eq!(big.status(), 200);
    assert!(
        !big.headers().contains_key("content-length"),
        "no Content-Length: the size shows only while reading"
    );
    assert_eq!(big.headers()["transfer-encoding"], "chunked");
    let bytes = big.bytes().await?;
    assert_eq!(bytes.len(), 2 * 1024 * 1024);
    assert!(bytes.starts_with(br#"{"value":"aaa"#) && bytes.ends_with(br#"aa"}"#));

    emulator.script(Hop::GitHub, vec![Fault::NonJson]);
    let html = get().await?;
    assert_eq!(html.status(), 200);
    assert!(
        html.headers()["content-type"]
            .to_str()?
            .starts_with("text/html")
    );
    assert_eq!(html.text().await?, "<html>oops</html>");

    emulator.script(
        Hop::GitHub,
        vec![Fault::Redirect("https://example.invalid/x".into())],
    );
    let redirect = get().await?;
    assert_eq!(redirect.status(), 302);
    assert_eq!(redirect.headers()["location"], "https://example.invalid/x");

    emulator.script(
        Hop::GitHub,
        vec![
            Fault::Drip {
                chunk: 64,
                every: Duration::from_millis(5),
            },
            Fault::Delay(Duration::from_millis(300)),
        ],
    );
    let dripped: Value = get().await?.json().await?;
    assert!(
        dripped["value"]
            .as_str()
            .is_some_and(|v| v.starts_with("eyJ"))
    );
    let started = Instant::now();
    assert_eq!(get().await?.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    assert_eq!(emulator.requests(Hop::GitHub), 9);
    Ok(())
}

#[tokio::test]
async fn hang_times_out_and_drop_does_not_wait() -> TestResult {
    let emulator = Emulator::start(Config::default())?;
    let quick = client_with_timeout(&emulator, Duration::from_millis(400))?;
    emulator.script(Hop::GitHub, vec![Fault::Hang, Fault::Hang]);
    let started = Instant::now();
    let error = quick
        .get(emulator.request_url())
        .bearer_auth(emulator.request_token())
        .send()
        .await
        .err()
        .ok_or("a hang must time out")?;
    assert!(error.is_timeout(), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Other connections are served meanwhile.
    let status = quick
        .get(format!("{}/.well-known/jwks", emulator.issuer()))
        .send()
        .await?
        .status();
    assert_eq!(status, 200);

    // A client with no timeout hangs until the emulator goes away.
    let patient = client_with_timeout(&emulator, Duration::from_secs(60))?;
    let request = patient
        .get(emulator.request_url())
        .bearer_auth(emulator.request_token())
        .send();
    let pending = tokio::spawn(request);
    // Poll until the second request has arrived (not a fixed sleep, which a loaded machine can
    // outlast): then it is certainly hanging, and dropping the emulator must not wait for it.
    let waiting = Instant::now();
    while emulator.requests(Hop::GitHub) < 2 {
        assert!(
            waiting.elapsed() < Duration::from_secs(30),
            "the second request never arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(emulator.requests(Hop::GitHub), 2);
    let started = Instant::now();
    drop(emulator);
    // Dropping only signals and joins the server thread: well under a second idle; 5 s on a
    // loaded 2-core machine is a margin, a wait for the hung connection would be 60 s.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(pending.await?.is_err());
    Ok(())
}

#[tokio::test]
async fn tenant_discovery_document_points_at_the_token_endpoint() -> TestResult {
    let emulator = Emulator::start(Config::default())?;
    let client = client(&emulator)?;
    let base = emulator.authority_host();
    let tenant = emulator.tenant_id();
    let get = |tenant: &str| {
        client
            .get(format!(
                "{base}/{tenant}/v2.0/.well-known/openid-configuration"
            ))
            .header("client-request-id", "0b7f1c8e-2f3a-4d5b-9c6d-7e8f9a0b1c2d")
            .send()
    };
    for asked in [tenant.as_str(), "contoso.onmicrosoft.com"] {
        let response = get(asked).await?;
        assert_eq!(response.status(), 200);
        let document: Value = response.json().await?;
        // Endpoints name the tenant GUID, whichever form was asked for.
        assert_eq!(
            document["token_endpoint"],
            format!("{base}/{tenant}/oauth2/v2.0/token")
        );
        assert_eq!(document["issuer"], format!("{base}/{tenant}/v2.0"));
        assert_eq!(
            document["authorization_endpoint"],
            format!("{base}/{tenant}/oauth2/v2.0/authorize")
        );
        assert!(
            document["jwks_uri"]
                .as_str()
                .is_some_and(|u| u.starts_with(&base))
        );
    }
    // The advertised token endpoint is the real one.
    let document: Value = get(&tenant).await?.json().await?;
    let assertion = id_token(&client, &emulator, FIC_AUDIENCE).await?;
    let (status, body) = exchange(&client, &emulator, &assertion).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        emulator.recorded(Hop::Entra)[0].path,
        document["token_endpoint"]
            .as_str()
            .and_then(|u| u.strip_prefix(&base))
            .ok_or("token_endpoint")?
    );

    let unknown = get("fabrikam.onmicrosoft.com").await?;
    assert_eq!(unknown.status(), 400);
    let unknown: Value = unknown.json().await?;
    assert_eq!(unknown["error"], "invalid_tenant");
    assert_eq!(unknown["error_codes"], json!([90_002]));
    let malformed: Value = get("not%20a%20tenant").await?.json().await?;
    assert_eq!(malformed["error_codes"], json!([900_023]));

    // Counted on its own hop, apart from the token endpoint.
    assert_eq!(emulator.requests(Hop::TenantDiscovery), 5);
    assert_eq!(emulator.successes(Hop::TenantDiscovery), 3);
    assert_eq!(emulator.requests(Hop::Entra), 1);
    assert_eq!(emulator.requests(Hop::Discovery), 0);
    Ok(())
}

#[tokio::test]
async fn stats_count_requests_and_real_successes_per_hop() -> TestResult {
    let emulator = Emulator::start(Config::default())?;
    let client = client(&emulator)?;
    let stats = || async {
        let response = client
            .get(format!("{}/_emulator/stats", emulator.base_url()))
            .send()
            .await?;
        assert_eq!(response.status(), 200);
        Ok::<Value, Box<dyn Error>>(response.json().await?)
    };
    let zero = json!({ "requests": 0, "ok": 0 });
    assert_eq!(
        stats().await?,
        json!({ "github": zero, "entra": zero, "discovery": zero, "tenant_discovery": zero })
    );

    // A scripted 503 is a request but no success; the real answer after it is both.
    emulator.script(Hop::GitHub, vec![Fault::status(503)]);
    let first = client
        .get(emulator.request_url())
        .bearer_auth(emulator.request_token())
        .send()
        .await?;
    assert_eq!(first.status(), 503);
    let assertion = id_token(&client, &emulator, FIC_AUDIENCE).await?;
    let (status, _) = exchange(&client, &emulator, "not-a-jwt").await?;
    assert_eq!(status, 400);
    let (status, _) = exchange(&client, &emulator, &assertion).await?;
    assert_eq!(status, 200);

    let counts = stats().await?;
    assert_eq!(counts["github"], json!({ "requests": 2, "ok": 1 }));
    assert_eq!(counts["entra"], json!({ "requests": 2, "ok": 1 }));
    assert_eq!(counts["discovery"], zero);
    // Asking for the stats is not itself counted anywhere.
    assert_eq!(emulator.successes(Hop::GitHub), 1);
    assert_eq!(emulator.successes(Hop::Entra), 1);
    Ok(())
}

#[test]
fn error_bodies_keep_entras_field_order() {
    let body = crate::entra_error_body(
        "invalid_client",
        &[700_213],
        "No matching federated identity record found.",
        "11111111-0000-4000-8000-000000000000",
        "22222222-0000-4000-8000-000000000000",
    );
    let positions: Vec<usize> = [
        "\"error\":",
        "\"error_description\":",
        "\"error_codes\":",
        "\"timestamp\":",
        "\"trace_id\":",
        "\"correlation_id\":",
        "\"error_uri\":",
    ]
    .iter()
    .map(|key| {
        body.find(key)
            .unwrap_or_else(|| panic!("{key} missing: {body}"))
    })
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{body}");
    let parsed: Value = serde_json::from_str(&body).expect("valid JSON");
    assert_eq!(parsed["error_codes"], json!([700_213]));
}

// ---------------------------------------------------------------------------------------------
// The ARM double (Azure Backup)

const VAULT: &str = "/subscriptions/00000000-0000-4000-8000-0000000000bb/resourceGroups/rg-backup/providers/Microsoft.RecoveryServices/vaults/vault-prod";
const ITEM: &str = "backupFabrics/Azure/protectionContainers/iaasvmcontainer;iaasvmcontainerv2;rg;vm/protectedItems/vm;iaasvmcontainerv2;rg;vm";
const BACKUP_API: &str = "api-version=2025-08-01";

/// An ARM token issued by the emulator's Entra endpoint.
async fn arm_token(
    client: &reqwest::Client,
    emulator: &Emulator,
) -> Result<String, Box<dyn Error>> {
    let assertion = id_token(client, emulator, FIC_AUDIENCE).await?;
    let (status, body) = exchange(client, emulator, &assertion).await?;
    assert_eq!(status, 200, "{body}");
    Ok(body["access_token"].as_str().ok_or("no token")?.to_owned())
}

async fn arm_error(response: reqwest::Response) -> Result<(u16, String), Box<dyn Error>> {
    let status = response.status().as_u16();
    let body: Value = response.json().await?;
    Ok((
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    ))
}

#[tokio::test]
async fn arm_double_demands_a_token_the_emulator_issued_and_an_api_version() -> TestResult {
    let emulator = Emulator::start(Config::default())?;
    let client = client(&emulator)?;
    let url = format!("{}{VAULT}?{BACKUP_API}", emulator.base_url());
    let response = client.get(&url).send().await?;
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap_or_default().starts_with("Bearer")),
        Some(true)
    );
    assert_eq!(
        arm_error(response).await?,
        (401, "AuthenticationFailed".to_owned())
    );
    let forged = client
        .get(&url)
        .bearer_auth("eyJhbGciOiJub25lIn0.e30.")
        .send()
        .await?;
    assert_eq!(
        arm_error(forged).await?,
        (401, "InvalidAuthenticationToken".to_owned())
    );

    let token = arm_token(&client, &emulator).await?;
    let unversioned = client
        .get(format!("{}{VAULT}", emulator.base_url()))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(
        arm_error(unversioned).await?,
        (400, "MissingApiVersionParameter".to_owned())
    );
    // Per provider, as ARM answers: a malformed version, then one the provider does not serve (the
    // Storage version on a Recovery Services vault).
    for (version, code) in [
        ("latest", "InvalidApiVersionParameter"),
        ("2025-8-1", "InvalidApiVersionParameter"),
        ("2023-05-01", "NoRegisteredProviderFound"),
    ] {
        let wrong = client
            .get(format!(
                "{}{VAULT}?api-version={version}",
                emulator.base_url()
            ))
            .bearer_auth(&token)
            .send()
            .await?;
        assert_eq!(arm_error(wrong).await?, (400, code.to_owned()), "{version}");
    }
    let vault: Value = client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(vault["location"], "swedencentral");
    assert_eq!(vault["type"], "Microsoft.RecoveryServices/vaults");
    Ok(())
}

#[tokio::test]
async fn arm_double_trigger_answers_202_and_the_operation_names_the_job() -> TestResult {
    let emulator = Emulator::start(Config::default())?;
    emulator.set_backup(Backup {
        job_outcome: "Failed".to_owned(),
        job_polls_in_progress: 1,
        ..Backup::default()
    });
    let client = client(&emulator)?;
    let token = arm_token(&client, &emulator).await?;
    let trigger = client
        .post(format!(
            "{}{VAULT}/{ITEM}/backup?{BACKUP_API}",
            emulator.base_url()
        ))
        .bearer_auth(&token)
        .json(&json!({"properties": {"objectType": "IaasVMBackupRequest"}}))
        .send()
        .await?;
    assert_eq!(trigger.status(), 202);
    let header = |name: &str| {
        trigger
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let operation = header("azure-asyncoperation");
    assert!(
        operation.contains("/protectedItems/") && operation.contains("/operationsStatus/"),
        "{operation}"
    );
    assert!(operation.ends_with(BACKUP_API), "{operation}");
    assert!(header("location").contains("/operationResults/"));
    assert_eq!(header("retry-after"), "60");

    let poll = || async {
        client
            .get(&operation)
            .bearer_auth(&token)
            .send()
            .await?
            .json::<Value>()
            .await
    };
    assert_eq!(poll().await?["status"], "InProgress");
    let done = poll().await?;
    assert_eq!(done["status"], "Succeeded");
    assert_eq!(
        done["properties"]["objectType"],
        "OperationStatusJobExtendedInfo"
    );
    let job_id = done["properties"]["jobId"]
        .as_str()
        .ok_or("no jobId")?
        .to_owned();

    let job_url = format!(
        "{}{VAULT}/backupJobs/{job_id}?{BACKUP_API}",
        emulator.base_url()
    );
    let job = || async {
        client
            .get(&job_url)
            .bearer_auth(&token)
            .send()
            .await?
            .json::<Value>()
            .await
    };
    assert_eq!(job().await?["properties"]["status"], "InProgress");
    let failed = job().await?;
    assert_eq!(failed["properties"]["status"], "Failed");
    assert_eq!(failed["properties"]["operation"], "Backup");
    assert!(failed["properties"]["errorDetails"][0]["errorString"].is_string());
    assert_eq!(emulator.arm_requests().len(), 5);
    Ok(())
}

#[tokio::test]
async fn arm_double_forbids_and_throttles_on_request() -> TestResult {
    let emulator = Emulator::start(Config::default())?;
    emulator.set_backup(Backup {
        forbid_triggers: true,
        throttle_polls: 1,
        ..Backup::default()
    });
    let client = client(&emulator)?;
    let token = arm_token(&client, &emulator).await?;
    let trigger = client
        .post(format!(
            "{}{VAULT}/{ITEM}/backup?{BACKUP_API}",
            emulator.base_url()
        ))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(
        arm_error(trigger).await?,
        (403, "AuthorizationFailed".to_owned())
    );
    let poll = client
        .get(format!(
            "{}{VAULT}/backupJobs/some-job?{BACKUP_API}",
            emulator.base_url()
        ))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(
        poll.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    assert_eq!(arm_error(poll).await?.0, 429);
    Ok(())
}
