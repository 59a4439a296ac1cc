//! Answers a request: the protocol's checks, then a token from the cache or from a fresh exchange
//! (a new session, so a fresh GitHub ID token, for every exchange), and the failures rendered for
//! the client (status, AADSTS code and the action's hints) and for the log (one line per request).

use std::io::Write as _;

use crate::action::workflow;
use crate::clock::{rfc3339, unix_now};
use crate::error::{self, AppError};
use crate::exchange::entra::{AccessToken, EntraError};
use crate::exchange::http::server_text;
use crate::exchange::settings::{ConfigError, ExchangeConfig};
use crate::exchange::source::IdTokenSource;
use crate::exchange::source::github::GitHubError;
use crate::exchange::{ExchangeError, Session};
use crate::report::Log;
use crate::secret::Secret;

use super::allow::{AllowList, scope_for};
use super::cache::{Cache, Served};
use super::protocol::{self, RequestParts};

/// Why an exchange gave no token, rendered once and shared by every request that waited for it.
#[derive(Debug)]
pub struct Failure {
    /// HTTP status for the client: 503 when trying again later may help, 400 when a setting must change.
    pub status: u16,
    /// OAuth-style code.
    pub code: &'static str,
    /// The message and its hints, one per line, inert for the runner's command parsers.
    pub lines: Vec<String>,
}

impl Failure {
    fn from_error(error: &AppError, config: &ExchangeConfig) -> Self {
        let transient = is_transient(error);
        let mut lines = vec![error.to_string()];
        lines.extend(error::hints(error, Some(&config.hint_context())));
        Self {
            status: if transient { 503 } else { 400 },
            code: if transient {
                "temporarily_unavailable"
            } else {
                "invalid_request"
            },
            lines: lines
                .iter()
                .map(|line| workflow::neutralize(line))
                .collect(),
        }
    }
}

/// Whether the failure may pass by itself (the network, a server's 5xx or 429): the action already
/// retried within its budget, so the client may try again later; anything else needs a change.
fn is_transient(error: &AppError) -> bool {
    let AppError::Exchange(error) = error else {
        return false;
    };
    match &**error {
        ExchangeError::Entra { error, .. } => match error {
            EntraError::Http(_) | EntraError::EmptySuccess => true,
            other => other
                .status()
                .is_some_and(|status| status == 429 || status >= 500),
        },
        ExchangeError::GitHub { error, .. } => !matches!(error, GitHubError::Unauthorized(_)),
        _ => false,
    }
}

/// The error for an ID token already past its `exp` when the service got it: a file or variable
/// that nothing keeps fresh (a GitHub token is fetched fresh, so only clock trouble gets here).
fn expired_id_token(source: &IdTokenSource, exp: i64) -> AppError {
    let variable = match source {
        IdTokenSource::File { origin, .. } => origin,
        IdTokenSource::Env { .. } => "--id-token-env",
        IdTokenSource::GitHub(_) => "ACTIONS_ID_TOKEN_REQUEST_URL",
    };
    AppError::Config(ConfigError::Runner {
        variable,
        problem: format!(
            "gave an ID token that expired at {} ({}): the service never presents an expired token; whatever provides it must keep it fresh (a file rewritten before expiry, or the runner's endpoint), and the machine's clock must be right",
            rfc3339(exp),
            source.origin()
        ),
    })
}

/// An answer: status and body, plus the log line.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// JSON body (holds the token on success).
    pub body: Secret,
    /// The one log line for this request (no secret in it).
    pub log_line: String,
}

/// The service's state: what to exchange, what is allowed, the header secret and the cache.
pub struct Tokens {
    config: ExchangeConfig,
    allow: AllowList,
    secret: Secret,
    in_actions: bool,
    cache: Cache<Failure>,
}

impl Tokens {
    /// The state of a service minting with `config` for the resources in `allow`.
    pub fn new(config: ExchangeConfig, allow: AllowList, secret: Secret, in_actions: bool) -> Self {
        Self {
            config,
            allow,
            secret,
            in_actions,
            cache: Cache::default(),
        }
    }

    /// Answers one request.
    pub async fn answer(&self, parts: &RequestParts<'_>) -> Answer {
        let client_id = &self.config.client_id;
        let query = match protocol::check(parts, &self.secret, client_id, |r| self.allow.allows(r))
        {
            Ok(query) => query,
            Err(refusal) => {
                let message = refusal.to_string();
                return Answer {
                    status: refusal.status(),
                    body: Secret::new(protocol::error_json(
                        refusal.status(),
                        refusal.code(),
                        &message,
                    )),
                    log_line: format!(
                        "{} {}: refused ({}): {message}",
                        server_text(parts.method),
                        server_text(parts.path),
                        refusal.status()
                    ),
                };
            }
        };
        let resource = &query.resource;
        match self
            .cache
            .get(resource, unix_now, || self.exchange(resource))
            .await
        {
            Ok(served) => {
                let token = served.token();
                let how = match served {
                    Served::Cached(_) => "from cache",
                    Served::Exchanged(_) => "exchanged",
                };
                Answer {
                    status: 200,
                    body: protocol::token_json(&token.token, token.expires_on, resource, client_id),
                    log_line: format!(
                        "resource {resource}: {how}, 200, expires {} (in {} s)",
                        rfc3339(token.expires_on),
                        token.expires_on - unix_now()
                    ),
                }
            }
            Err(failure) => Answer {
                status: failure.status,
                body: Secret::new(protocol::error_json(
                    failure.status,
                    failure.code,
                    &failure.lines.join("\n"),
                )),
                log_line: format!(
                    "resource {resource}: exchange failed, {}: {}",
                    failure.status,
                    failure.lines.join(" | ")
                ),
            },
        }
    }

    /// One exchange for `resource`: a new session (so a fresh ID token), refused if that ID token
    /// has already expired (a stale `--id-token-file`), then the action's exchange with its retries.
    async fn exchange(&self, resource: &str) -> Result<AccessToken, Failure> {
        let mut stderr = std::io::stderr();
        let log = Log::new(&mut stderr, self.in_actions, self.config.debug);
        let scope = scope_for(resource);
        let result: Result<AccessToken, AppError> = async {
            let session = Session::start(&self.config.source, &log).await?;
            if let Some(exp) = session.presented().claims.exp
                && exp <= unix_now()
            {
                return Err(expired_id_token(&self.config.source.id_token, exp));
            }
            Ok(session.exchange(&self.config, &scope).await?)
        }
        .await;
        match result {
            Ok(token) if token.expires_on <= unix_now() => {
                // Never served: a token already expired on arrival means the clock or the
                // server is wrong, and a client would fail with it anyway.
                log.mask(&token.token);
                Err(Failure {
                    status: 503,
                    code: "temporarily_unavailable",
                    lines: vec![format!(
                        "Entra answered with a token that expired at {}, before it arrived: check this machine's clock",
                        rfc3339(token.expires_on)
                    )],
                })
            }
            Ok(token) => {
                log.mask(&token.token);
                Ok(token)
            }
            Err(error) => {
                let failure = Failure::from_error(&error, &self.config);
                let _ = log.into_inner().flush();
                Err(failure)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::cloud::Cloud;
    use crate::exchange::entra::ErrorBody;
    use crate::exchange::http::HttpError;
    use crate::exchange::settings::ExchangeInputs;
    use crate::exchange::source::IdTokenSource;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const CLIENT: &str = "11111111-2222-4333-8444-555555555555";
    const SECRET: &str = "0123456789abcdef";
    const ARM: &str = "https://management.azure.com/";

    /// An exchange that reads its ID token from `file` and whose Entra is a loopback port nothing
    /// listens on (a request that got that far fails with a connection error, within 2 s).
    fn config(file: &std::path::Path) -> ExchangeConfig {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = closed.local_addr().expect("address").port();
        drop(closed);
        let env = |name: &str| match name {
            "AZURE_CLIENT_ID" => Some(CLIENT.to_owned()),
            "AZURE_TENANT_ID" => Some("contoso.onmicrosoft.com".to_owned()),
            _ => None,
        };
        let path = file.to_path_buf();
        ExchangeConfig::new(
            ExchangeInputs {
                authority_host: Some(format!("https://127.0.0.1:{port}")),
                timeout_seconds: Some(2),
                ..Default::default()
            },
            || {
                Ok(IdTokenSource::File {
                    path,
                    origin: "--id-token-file",
                })
            },
            &env,
        )
        .expect("valid")
    }

    fn tokens(file: &std::path::Path) -> Tokens {
        Tokens::new(
            config(file),
            AllowList::new(Cloud::AzureCloud, &[]).expect("valid"),
            Secret::new(SECRET.to_owned()),
            false,
        )
    }

    fn request<'a>(query: &'a str) -> RequestParts<'a> {
        RequestParts {
            peer_is_loopback: true,
            method: "GET",
            path: protocol::PATH,
            query: Some(query),
            secret_headers: vec![SECRET.as_bytes()],
        }
    }

    fn body(answer: &Answer) -> serde_json::Value {
        serde_json::from_str(answer.body.expose_secret()).expect("JSON body")
    }

    /// An unsigned JWT expiring at `exp` (the service reads claims, Entra checks signatures).
    fn id_token(exp: i64) -> String {
        let payload =
            format!(r#"{{"sub":"repo:octo-org/octo-repo:ref:refs/heads/main","exp":{exp}}}"#);
        format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    fn entra(error: EntraError) -> AppError {
        AppError::Exchange(Box::new(ExchangeError::Entra {
            host: "login.microsoftonline.com".to_owned(),
            tenant: "contoso.onmicrosoft.com".to_owned(),
            scope: format!("{ARM}.default"),
            error,
            client_request_id: "00000000-0000-4000-8000-000000000001".to_owned(),
            attempts: 1,
            retry_after_beyond_budget: None,
            earlier: None,
            presented: Box::default(),
        }))
    }

    fn rejected(status: u16) -> AppError {
        entra(EntraError::Rejected {
            status,
            body: Box::new(ErrorBody::default()),
        })
    }

    fn github(error: GitHubError) -> AppError {
        AppError::Exchange(Box::new(ExchangeError::GitHub {
            host: "pipelines.actions.githubusercontent.com".to_owned(),
            error,
            attempts: 1,
            retry_after_beyond_budget: None,
            earlier: None,
        }))
    }

    #[test]
    fn a_failure_is_a_503_only_when_trying_again_later_may_help() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        let config = config(file.path());
        let transient = [
            entra(EntraError::Http(HttpError::Transport("reset".to_owned()))),
            entra(EntraError::EmptySuccess),
            rejected(429),
            rejected(500),
            rejected(503),
            github(GitHubError::Http(HttpError::Transport("reset".to_owned()))),
            github(GitHubError::Status {
                status: 503,
                excerpt: String::new(),
            }),
        ];
        for error in &transient {
            let failure = Failure::from_error(error, &config);
            assert_eq!(
                (failure.status, failure.code),
                (503, "temporarily_unavailable"),
                "{error}"
            );
            assert_eq!(failure.lines[0], error.to_string());
        }
        let lasting = [
            rejected(400),
            rejected(401),
            rejected(499),
            entra(EntraError::Redirect {
                status: 302,
                location: "login.example".to_owned(),
            }),
            entra(EntraError::Malformed("access_token")),
            github(GitHubError::Unauthorized(401)),
            AppError::Config(ConfigError::Runner {
                variable: "--id-token-file",
                problem: "is empty".to_owned(),
            }),
        ];
        for error in &lasting {
            let failure = Failure::from_error(error, &config);
            assert_eq!(
                (failure.status, failure.code),
                (400, "invalid_request"),
                "{error}"
            );
            assert_eq!(failure.lines[0], error.to_string());
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn refusals_reach_the_client_with_their_status_code_and_message() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        let tokens = tokens(file.path());
        let query = "api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com%2F";
        let mut wrong_header = request(query);
        wrong_header.secret_headers = vec![b"fedcba9876543210"];
        let mut remote = request(query);
        remote.peer_is_loopback = false;
        let mut post = request(query);
        post.method = "POST";
        let off_list = request("api-version=2019-08-01&resource=https://vault.azure.net");
        let cases = [
            (
                wrong_header,
                401,
                "unauthorized_client",
                "X-IDENTITY-HEADER",
            ),
            (remote, 403, "access_denied", "loopback"),
            (post, 405, "invalid_request", "answers GET only"),
            (
                off_list,
                403,
                "access_denied",
                "--allow-scope https://vault.azure.net",
            ),
        ];
        for (parts, status, code, says) in cases {
            let answer = tokens.answer(&parts).await;
            let json = body(&answer);
            assert_eq!(
                (answer.status, json["error"].as_str()),
                (status, Some(code)),
                "{json}"
            );
            assert_eq!(json["statusCode"], status, "{json}");
            assert!(
                json["message"].as_str().is_some_and(|m| m.contains(says)),
                "{json}"
            );
            assert!(json.get("access_token").is_none(), "{json}");
            assert!(
                answer.log_line.contains(&format!("refused ({status})")),
                "{}",
                answer.log_line
            );
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_expired_id_token_is_refused_before_entra_and_a_fresh_one_goes_on() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), id_token(unix_now() - 10)).expect("write");
        let tokens = tokens(file.path());
        let query = "api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com%2F";
        let answer = tokens.answer(&request(query)).await;
        let json = body(&answer);
        assert_eq!(
            (answer.status, &json["error"]),
            (400, &serde_json::json!("invalid_request")),
            "{json}"
        );
        let message = json["message"].as_str().expect("message");
        assert!(
            message.starts_with("--id-token-file gave an ID token that expired at "),
            "{message}"
        );
        assert!(
            !message.contains("connection failed"),
            "Entra is never asked: {message}"
        );
        assert!(
            answer.log_line.contains("exchange failed, 400"),
            "{}",
            answer.log_line
        );

        // The file is read afresh for the next exchange (a failure is not cached): a token that
        // has not expired goes on to Entra, which here is a closed port: a 503, not a refusal.
        std::fs::write(file.path(), id_token(unix_now() + 300)).expect("write");
        let answer = tokens.answer(&request(query)).await;
        let json = body(&answer);
        assert_eq!(answer.status, 503, "{json}");
        assert_eq!(json["error"], "temporarily_unavailable", "{json}");
        let message = json["message"].as_str().expect("message");
        assert!(!message.contains("expired at"), "{message}");
        assert!(message.contains("connection failed"), "{message}");
    }

    /// The child's test: answers two requests for Resource Manager with the exchange the parent's
    /// environment describes (the emulator, its CA in `SSL_CERT_FILE`), one `ANSWER {json}` line
    /// each on stdout (status, error, message, whether a token came, log line; never the token).
    const CHILD: &str = "service::tokens::tests::child_answers_two_requests";

    #[tokio::test(flavor = "current_thread")]
    #[ignore = "run by the tests below in a child process whose SSL_CERT_FILE trusts the emulator"]
    async fn child_answers_two_requests() {
        let env = |name: &str| std::env::var(name).ok();
        let config = ExchangeConfig::new(
            ExchangeInputs {
                timeout_seconds: Some(30),
                ..Default::default()
            },
            || IdTokenSource::for_command_line(None, None, &env),
            &env,
        )
        .expect("the parent's environment is valid");
        let tokens = Tokens::new(
            config,
            AllowList::new(Cloud::AzureCloud, &[]).expect("valid"),
            Secret::new(SECRET.to_owned()),
            false,
        );
        let query = "api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com%2F";
        let mut stdout = std::io::stdout();
        for _ in 0..2 {
            let answer = tokens.answer(&request(query)).await;
            let json = body(&answer);
            let summary = serde_json::json!({
                "status": answer.status,
                "error": json.get("error"),
                "message": json.get("message"),
                "has_token": json.get("access_token").is_some(),
                "expires_on": json.get("expires_on"),
                "log_line": answer.log_line,
            });
            writeln!(stdout, "ANSWER {summary}").expect("stdout");
        }
    }

    /// Runs [`child_answers_two_requests`] in a child process (this test binary: under
    /// cargo-mutants, the mutated code) against `emulator`, with an ID token file it minted.
    fn answers_in_a_child(emulator: &azure_oidc_emulator::Emulator) -> Vec<serde_json::Value> {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, emulator.ca_pem()).expect("write CA");
        let id_token = dir.path().join("id-token");
        let minted = emulator.mint_id_token("api://AzureADTokenExchange", serde_json::Map::new());
        std::fs::write(&id_token, &minted).expect("write ID token");
        let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([
                CHILD,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env_clear()
            .env("SSL_CERT_FILE", &ca)
            .env("AZURE_FEDERATED_TOKEN_FILE", &id_token)
            .env("AZURE_CLIENT_ID", emulator.client_id())
            .env("AZURE_TENANT_ID", emulator.tenant_id())
            .env("AZURE_AUTHORITY_HOST", emulator.authority_host())
            .output()
            .expect("run the child");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stdout}{stderr}");
        let mut secrets = emulator.issued_access_tokens();
        secrets.push(minted);
        for secret in &secrets {
            assert!(
                !stdout.contains(secret.as_str()) && !stderr.contains(secret.as_str()),
                "a token in the child's output"
            );
        }
        let answers: Vec<serde_json::Value> = stdout
            .lines()
            // libtest writes "test NAME ... " before the first line.
            .filter_map(|line| line.split_once("ANSWER ").map(|(_, json)| json))
            .map(|json| serde_json::from_str(json).expect("ANSWER json"))
            .collect();
        assert_eq!(answers.len(), 2, "{stdout}{stderr}");
        answers
    }

    #[test]
    fn serves_entras_token_then_the_cached_one() {
        let emulator = azure_oidc_emulator::Emulator::start(azure_oidc_emulator::Config::default())
            .expect("emulator");
        let answers = answers_in_a_child(&emulator);
        for (answer, how) in answers.iter().zip(["exchanged", "from cache"]) {
            assert_eq!(answer["status"], 200, "{answer}");
            assert_eq!(answer["has_token"], true, "{answer}");
            let expires_on: i64 = answer["expires_on"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("expires_on, Unix seconds as a string");
            assert!(expires_on > unix_now() + 3_600, "{answer}");
            let log_line = answer["log_line"].as_str().expect("log line");
            assert!(
                log_line.starts_with(&format!("resource {ARM}: {how}, 200, expires ")),
                "{log_line}"
            );
        }
        assert_eq!(emulator.successes(azure_oidc_emulator::Hop::Entra), 1);
    }

    #[test]
    fn never_serves_a_token_that_arrived_expired() {
        // expires_in 0: the token's exp is the moment Entra issued it.
        let emulator = azure_oidc_emulator::Emulator::start(azure_oidc_emulator::Config {
            access_token_lifetime_secs: 0,
            ..azure_oidc_emulator::Config::default()
        })
        .expect("emulator");
        let answers = answers_in_a_child(&emulator);
        for answer in &answers {
            assert_eq!(answer["status"], 503, "{answer}");
            assert_eq!(answer["error"], "temporarily_unavailable", "{answer}");
            assert_eq!(answer["has_token"], false, "{answer}");
            let message = answer["message"].as_str().expect("message");
            assert!(message.contains("check this machine's clock"), "{message}");
        }
        // Nothing cached: the second request exchanged again.
        assert_eq!(emulator.successes(azure_oidc_emulator::Hop::Entra), 2);
    }
}
