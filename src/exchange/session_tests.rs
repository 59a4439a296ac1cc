//! Unit tests of the [`Session`]: a fresh ID token before a retry when the current one nears expiry
//! (never before the run's very first attempt), what a failed exchange reports, and where ID tokens
//! come from. Against the emulator's GitHub and Entra endpoints on 127.0.0.1, in-process, with a
//! client that trusts the emulator's test CA (the binary reads it from `SSL_CERT_FILE`).

use std::cell::RefCell;
use std::time::Duration;

use azure_oidc_emulator::{Config, Emulator, Fault, Hop};
use reqwest::Url;

use super::*;
use crate::exchange::cloud::Cloud;
use crate::exchange::network::Network;
use crate::exchange::source::github::IdTokenRequest;

const AUDIENCE: &str = "api://AzureADTokenExchange";
const ARM: &str = "https://management.azure.com/.default";
const VAULT: &str = "https://vault.azure.net/.default";

/// Everything the session told its progress, in order.
#[derive(Default)]
struct Recorder {
    events: RefCell<Vec<String>>,
}

impl Progress for Recorder {
    fn secret(&self, secret: &Secret) {
        self.events
            .borrow_mut()
            .push(format!("secret {}", secret.expose_secret()));
    }
    fn note(&self, line: &str) {
        self.events.borrow_mut().push(format!("note {line}"));
    }
    fn debug(&self, line: &str) {
        self.events.borrow_mut().push(format!("debug {line}"));
    }
}

impl Recorder {
    fn notes(&self) -> Vec<String> {
        self.events
            .borrow()
            .iter()
            .filter_map(|e| e.strip_prefix("note ").map(str::to_owned))
            .collect()
    }
    fn refreshes(&self) -> usize {
        self.notes()
            .iter()
            .filter(|n| n.contains("about to expire: getting a fresh one"))
            .count()
    }
}

fn emulator(lifetime_secs: u64) -> Emulator {
    Emulator::start(Config {
        id_token_lifetime: Duration::from_secs(lifetime_secs),
        ..Config::default()
    })
    .expect("emulator")
}

fn config(emulator: &Emulator) -> ExchangeConfig {
    ExchangeConfig {
        client_id: emulator.client_id(),
        tenant_id: emulator.tenant_id(),
        cloud: Cloud::AzureCloud,
        scope: ARM.to_owned(),
        authority_host: Url::parse(&emulator.authority_host()).expect("authority"),
        debug: true,
        allow_events: Vec::new(),
        source: SourceConfig {
            id_token: IdTokenSource::GitHub(IdTokenRequest {
                url: Url::parse(&emulator.request_url()).expect("request url"),
                token: Secret::new(emulator.request_token()),
            }),
            audience: AUDIENCE.to_owned(),
            timeout: Duration::from_secs(120),
            network: Network::default(),
        },
    }
}

/// What [`Session::start`] does, with a client that trusts the emulator's CA.
async fn start<'a>(
    emulator: &Emulator,
    source: &'a SourceConfig,
    progress: &'a dyn Progress,
) -> Result<Session<'a>, ExchangeError> {
    let ca = reqwest::Certificate::from_pem(emulator.ca_pem().as_bytes()).expect("CA");
    let client = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .https_only(true)
        .no_proxy()
        .add_root_certificate(ca)
        .build()
        .expect("client");
    let deadline = Deadline::after(source.timeout);
    let current = fetch_id_token(
        &source.id_token,
        &source.audience,
        &client,
        &deadline,
        progress,
    )
    .await?;
    Ok(Session {
        source: &source.id_token,
        audience: &source.audience,
        client,
        deadline,
        progress,
        current: RefCell::new(current),
        exchanged: Cell::new(false),
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn assertions(emulator: &Emulator) -> Vec<Option<String>> {
    emulator
        .recorded(Hop::Entra)
        .iter()
        .map(|r| r.form_field("client_assertion"))
        .collect()
}

#[test]
fn a_retry_presents_a_fresh_id_token_when_the_current_one_expires_within_a_minute() {
    // A lifetime of 45 s is inside the 60 s margin.
    let emulator = emulator(45);
    emulator.script(Hop::Entra, vec![Fault::status(503)]);
    let config = config(&emulator);
    let progress = Recorder::default();
    runtime().block_on(async {
        let session = start(&emulator, &config.source, &progress)
            .await
            .expect("start");
        let token = session.exchange(&config, ARM).await.expect("token");
        assert_eq!(emulator.requests(Hop::GitHub), 2);
        let issued = emulator.issued_id_tokens();
        assert_eq!(
            assertions(&emulator),
            [Some(issued[0].clone()), Some(issued[1].clone())],
            "the 503 got the first token, the retry the fresh one"
        );
        assert_eq!(session.presented().token.expose_secret(), issued[1]);
        // `client()` is the session's own client: it trusts the emulator's CA.
        let discovery = format!("{}/.well-known/openid-configuration", emulator.issuer());
        let answer = session.client().get(&discovery).send().await;
        assert_eq!(answer.expect("trusted").status(), 200);
        assert!(session.deadline().remaining() > Duration::from_secs(60));
        assert_eq!(
            emulator.access_token_for(&issued[1]).as_deref(),
            Some(token.token.expose_secret())
        );
    });
    assert_eq!(progress.refreshes(), 1);
    // The fresh token was handed to `secret` (to be masked) like the first.
    let issued = emulator.issued_id_tokens();
    let events = progress.events.borrow();
    for token in &issued {
        assert!(events.contains(&format!("secret {token}")), "{events:?}");
    }
    // The retry note quotes the failed attempt's client-request-id and the wait.
    let request_id = emulator.recorded(Hop::Entra)[0]
        .header("client-request-id")
        .expect("client-request-id")
        .to_owned();
    let host = host_of(&Url::parse(&emulator.authority_host()).expect("url"));
    let retry = progress
        .notes()
        .into_iter()
        .find(|n| n.contains("retrying"))
        .expect("a retry note");
    assert!(
        retry.starts_with(&format!("Entra ID token endpoint {host}: "))
            && retry.contains(&format!(" [client-request-id {request_id}]; retrying in "))
            && retry.ends_with(" s (attempt 1 failed)"),
        "{retry}"
    );
}

#[test]
fn a_retry_keeps_an_id_token_that_lasts() {
    let emulator = emulator(300);
    emulator.script(Hop::Entra, vec![Fault::status(503)]);
    let config = config(&emulator);
    let progress = Recorder::default();
    runtime().block_on(async {
        let session = start(&emulator, &config.source, &progress)
            .await
            .expect("start");
        session.exchange(&config, ARM).await.expect("token");
        // A second exchange too: the token still lasts.
        session.exchange(&config, VAULT).await.expect("token");
    });
    assert_eq!(emulator.requests(Hop::GitHub), 1);
    let first = emulator.issued_id_tokens()[0].clone();
    assert_eq!(assertions(&emulator), vec![Some(first); 3]);
    assert_eq!(progress.refreshes(), 0);
}

#[test]
fn only_the_runs_very_first_attempt_skips_the_expiry_check() {
    // The token just fetched is used as is for the first attempt, even if it expires soon; the
    // next exchange of the same session (another scope) checks it before its first attempt.
    let emulator = emulator(45);
    let config = config(&emulator);
    let progress = Recorder::default();
    runtime().block_on(async {
        let session = start(&emulator, &config.source, &progress)
            .await
            .expect("start");
        session.exchange(&config, ARM).await.expect("first");
        assert_eq!(emulator.requests(Hop::GitHub), 1);
        session.exchange(&config, VAULT).await.expect("second");
        assert_eq!(emulator.requests(Hop::GitHub), 2);
        session.exchange(&config, ARM).await.expect("third");
        assert_eq!(emulator.requests(Hop::GitHub), 3);
    });
    let issued = emulator.issued_id_tokens();
    assert_eq!(
        assertions(&emulator),
        issued.iter().cloned().map(Some).collect::<Vec<_>>()
    );
    let scopes: Vec<_> = emulator
        .recorded(Hop::Entra)
        .iter()
        .map(|r| r.form_field("scope"))
        .collect();
    assert_eq!(
        scopes,
        [
            Some(ARM.to_owned()),
            Some(VAULT.to_owned()),
            Some(ARM.to_owned())
        ]
    );
    assert_eq!(progress.refreshes(), 2);
}

#[test]
fn a_failed_refresh_is_reported_as_the_github_failure() {
    let emulator = emulator(45);
    emulator.script(Hop::Entra, vec![Fault::status(503)]);
    // The first ID token request is answered; the one for the retry is refused.
    emulator.script(
        Hop::GitHub,
        vec![Fault::Delay(Duration::ZERO), Fault::status(403)],
    );
    let config = config(&emulator);
    let progress = Recorder::default();
    let error = runtime().block_on(async {
        let session = start(&emulator, &config.source, &progress)
            .await
            .expect("start");
        session.exchange(&config, ARM).await.expect_err("refused")
    });
    let ExchangeError::GitHub { host, attempts, .. } = &error else {
        panic!("expected the GitHub hop's failure, got {error:?}");
    };
    assert_eq!(
        *host,
        host_of(&Url::parse(&emulator.request_url()).expect("url"))
    );
    assert_eq!(*attempts, 1);
    assert_eq!(emulator.requests(Hop::Entra), 1, "no attempt after it");
}

#[test]
fn a_refused_exchange_names_tenant_scope_ids_and_attempts() {
    let emulator = emulator(300);
    emulator.script(
        Hop::Entra,
        vec![
            Fault::status(503),
            Fault::status(503),
            Fault::entra_error(
                400,
                "invalid_client",
                &[700_213],
                "AADSTS700213: No matching federated identity record found for presented assertion subject.",
            ),
        ],
    );
    let config = config(&emulator);
    let progress = Recorder::default();
    let error = runtime().block_on(async {
        let session = start(&emulator, &config.source, &progress)
            .await
            .expect("start");
        session.exchange(&config, VAULT).await.expect_err("refused")
    });
    let last_request_id = emulator.recorded(Hop::Entra)[2]
        .header("client-request-id")
        .expect("client-request-id")
        .to_owned();
    let host = host_of(&Url::parse(&emulator.authority_host()).expect("url"));
    let ExchangeError::Entra {
        host: said_host,
        tenant,
        scope,
        client_request_id,
        attempts,
        retry_after_beyond_budget,
        presented,
        ..
    } = &error
    else {
        panic!("expected Entra's refusal, got {error:?}");
    };
    assert_eq!(*said_host, host);
    assert_eq!(*tenant, emulator.tenant_id());
    assert_eq!(scope, VAULT);
    assert_eq!(*client_request_id, last_request_id);
    assert_eq!(*attempts, 3);
    assert_eq!(*retry_after_beyond_budget, None);
    assert_eq!(
        presented.sub.as_deref(),
        Some("repo:octo-org/octo-repo:ref:refs/heads/main")
    );
    let text = error.to_string();
    assert!(
        text.starts_with(&format!(
            "Entra ID token endpoint {host} (tenant {}, scope {VAULT}): ",
            emulator.tenant_id()
        )),
        "{text}"
    );
    // The two 503s before the refusal are said too (what the earlier attempts saw).
    assert!(
        text.ends_with(&format!(
            " [trace_id {}, correlation_id {}, client-request-id {last_request_id}] (after 3 attempts; the ones before the last: HTTP 503 with a body that is not Entra's error JSON: emulated status 503)",
            azure_oidc_emulator::SCRIPTED_TRACE_ID,
            azure_oidc_emulator::SCRIPTED_CORRELATION_ID
        )),
        "{text}"
    );
}

#[test]
fn the_id_token_comes_from_its_source_and_is_hidden_first() {
    let emulator = emulator(300);
    let minted = emulator.mint_id_token(AUDIENCE, serde_json::Map::new());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("token");
    std::fs::write(&path, format!("{minted}\n")).expect("write");
    let client = reqwest::Client::new();
    let deadline = Deadline::after(Duration::from_secs(30));
    let sources = [
        IdTokenSource::File {
            path: path.clone(),
            origin: "--id-token-file",
        },
        IdTokenSource::Env {
            name: "T".to_owned(),
            token: Secret::new(minted.clone()),
        },
    ];
    for source in &sources {
        let progress = Recorder::default();
        let presented = runtime()
            .block_on(fetch_id_token(
                source, AUDIENCE, &client, &deadline, &progress,
            ))
            .expect("a token");
        assert_eq!(presented.token.expose_secret(), minted);
        assert_eq!(
            presented.claims.sub.as_deref(),
            Some("repo:octo-org/octo-repo:ref:refs/heads/main")
        );
        assert_eq!(
            progress.events.borrow().first(),
            Some(&format!("secret {minted}"))
        );
    }
    // Not a JWT: hidden all the same, then refused naming where it came from.
    let progress = Recorder::default();
    let garbage = IdTokenSource::Env {
        name: "T".to_owned(),
        token: Secret::new("not-a-jwt".to_owned()),
    };
    let error = runtime()
        .block_on(fetch_id_token(
            &garbage, AUDIENCE, &client, &deadline, &progress,
        ))
        .err()
        .expect("refused");
    assert!(
        matches!(&error, ExchangeError::IdToken { origin, .. } if *origin == garbage.origin()),
        "{error:?}"
    );
    assert_eq!(*progress.events.borrow(), ["secret not-a-jwt"]);
    // A missing file: named with the option that gave it.
    let missing = IdTokenSource::File {
        path: dir.path().join("absent"),
        origin: "AZURE_FEDERATED_TOKEN_FILE",
    };
    let error = runtime()
        .block_on(fetch_id_token(
            &missing,
            AUDIENCE,
            &client,
            &deadline,
            &Recorder::default(),
        ))
        .err()
        .expect("refused");
    let ExchangeError::IdTokenFile { origin, path, .. } = &error else {
        panic!("expected the file error, got {error:?}");
    };
    assert_eq!(*origin, "AZURE_FEDERATED_TOKEN_FILE");
    assert_eq!(*path, dir.path().join("absent").display().to_string());
}

#[test]
fn messages_name_hosts_waits_and_attempts() {
    let url = |text: &str| Url::parse(text).expect("url");
    assert_eq!(
        host_of(&url("https://127.0.0.1:8443/x?y")),
        "127.0.0.1:8443"
    );
    assert_eq!(
        host_of(&url(
            "https://login.microsoftonline.com/tenant/oauth2/v2.0/token"
        )),
        "login.microsoftonline.com"
    );
    assert_eq!(host_of(&url("data:text/plain,x")), "(no host)");
    assert_eq!(seconds(Duration::from_millis(1_500)), "1.5 s");
    assert_eq!(seconds(Duration::from_secs(10)), "10.0 s");
    assert_eq!(attempts_note(1, None, None), "");
    assert_eq!(attempts_note(2, None, None), " (after 2 attempts)");
    assert_eq!(
        attempts_note(1, None, Some("connection failed (reset)")),
        "",
        "a single attempt has no earlier ones"
    );
    assert_eq!(
        attempts_note(5, None, Some("connection failed (reset)")),
        " (after 5 attempts; the ones before the last: connection failed (reset))"
    );
    assert_eq!(
        attempts_note(1, Some(Duration::from_secs(90)), None),
        "; the server asked to retry after 90 s, beyond the time left in timeout-seconds"
    );
    assert_eq!(
        attempts_note(3, Some(Duration::from_secs(90)), None),
        "; the server asked to retry after 90 s, beyond the time left in timeout-seconds (after 3 attempts)"
    );
    assert_eq!(
        display(std::path::Path::new("/var/run/token")),
        "/var/run/token"
    );
}
