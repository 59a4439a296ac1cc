//! `azure-oidc-token serve` as a process against the emulator: the App Service managed-identity
//! protocol on loopback, refusals, the cache and its single flight, a fresh ID token per exchange,
//! the env-file hand-off and its masking, SIGTERM, Entra's refusals reaching the client, and no
//! secret in anything the service prints. The real clients are in `service_clients.rs`.

use crate::support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use azure_oidc_emulator::{App, Config, Emulator, Hop};
use serde_json::Value;

/// How long the service may take to start listening (a busy CI box builds beside it).
const START_DEADLINE: Duration = Duration::from_secs(60);

/// A running `serve`: its files, the endpoint and header it wrote, and the process.
pub struct Service {
    pub dir: tempfile::TempDir,
    pub endpoint: String,
    pub header: String,
    pub env_file: PathBuf,
    child: Option<Child>,
}

/// The environment of a later step's process: nothing from the test's own environment.
pub fn step_env(command: &mut Command, emulator: &Emulator, dir: &Path) {
    let ca = dir.join("emulator-ca.pem");
    std::fs::write(&ca, emulator.ca_pem()).unwrap();
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("SSL_CERT_FILE", &ca)
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", emulator.request_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", emulator.request_token())
        .env("AZURE_CLIENT_ID", emulator.client_id())
        .env("AZURE_TENANT_ID", emulator.tenant_id())
        .env("AZURE_AUTHORITY_HOST", emulator.authority_host())
        .env("GITHUB_ACTIONS", "true");
}

impl Service {
    /// Starts `serve` with `args`, a runner's environment (`GITHUB_ENV` a file in a temp dir) and
    /// `edit` applied; waits until it has written its env lines.
    pub fn start(emulator: &Emulator, args: &[&str], edit: impl FnOnce(&mut Command)) -> Service {
        Self::start_wrapped(emulator, &[], args, edit)
    }

    /// [`start`](Self::start) under `wrapper` (e.g. strace and its arguments).
    pub fn start_wrapped(
        emulator: &Emulator,
        wrapper: &[&str],
        args: &[&str],
        edit: impl FnOnce(&mut Command),
    ) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let env_file = dir.path().join("github_env");
        std::fs::write(&env_file, "EARLIER=1\n").unwrap();
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(support::BIN);
                command
            }
            None => Command::new(support::BIN),
        };
        command.arg("serve").args(args);
        step_env(&mut command, emulator, dir.path());
        command.env("GITHUB_ENV", &env_file);
        edit(&mut command);
        command
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("stdout")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap());
        let mut child = command.spawn().unwrap();
        let started = Instant::now();
        let pairs = loop {
            let text = std::fs::read_to_string(&env_file).unwrap();
            let pairs = support::parse_file_commands(&text).unwrap_or_default();
            if pairs.iter().any(|(name, _)| name == "IDENTITY_HEADER") {
                break pairs;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "serve exited ({status}) before writing its env lines:\n{}",
                    std::fs::read_to_string(dir.path().join("stderr")).unwrap()
                );
            }
            assert!(
                started.elapsed() < START_DEADLINE,
                "serve did not write its env lines within {START_DEADLINE:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        Service {
            endpoint: get("IDENTITY_ENDPOINT"),
            header: get("IDENTITY_HEADER"),
            env_file,
            dir,
            child: Some(child),
        }
    }

    /// `host:port` of the endpoint.
    pub fn address(&self) -> String {
        let rest = self.endpoint.strip_prefix("http://").unwrap();
        rest.split('/').next().unwrap().to_owned()
    }

    /// A token request for `resource` with the right header; `extra` is appended to the query.
    pub fn get(&self, resource: &str, extra: &str) -> (u16, Value) {
        let query = format!(
            "api-version=2019-08-01&resource={}{extra}",
            encode(resource)
        );
        let header = format!("X-IDENTITY-HEADER: {}\r\n", self.header);
        self.request("GET", &format!("/msi/token?{query}"), &header)
    }

    /// Any request: method, path with query, extra header lines.
    pub fn request(&self, method: &str, target: &str, headers: &str) -> (u16, Value) {
        request(&self.address(), method, target, headers)
    }

    /// What it printed so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout")).unwrap()
    }

    /// What it logged so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap()
    }

    /// Sends SIGTERM and waits (within a generous deadline) for the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        self.stop_with("-TERM")
    }

    /// Sends `signal` (`-TERM`, `-INT`) and waits (within a generous deadline) for the exit status.
    pub fn stop_with(&mut self, signal: &str) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                panic!("serve did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// No secret of the test (the emulator's and the header) on any line the service printed,
    /// except on its own `::add-mask::` line, which comes before any other mention.
    pub fn assert_no_secret_printed(&self, emulator: &Emulator) {
        let mut secrets = support::secrets(emulator);
        secrets.push(self.header.clone());
        for (stream, text) in [("stdout", self.stdout()), ("stderr", self.stderr())] {
            for line in text.lines() {
                let masked = line.strip_prefix("::add-mask::");
                for secret in &secrets {
                    if masked == Some(secret.as_str()) {
                        continue;
                    }
                    for form in support::encodings(secret) {
                        assert!(!line.contains(&form), "a secret leaked on {stream}: {line}");
                    }
                }
            }
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One HTTP/1.1 request to `address` (`host:port`): method, path with query, extra header lines;
/// the status and the JSON body.
pub fn request(address: &str, method: &str, target: &str, headers: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: {address}\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    (status, serde_json::from_str(body).unwrap())
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

const ARM: &str = "https://management.azure.com/";
const ARM_CLASSIC: &str = "https://management.core.windows.net/";

#[test]
fn serves_the_app_service_protocol_with_a_cache_and_a_fresh_id_token_per_exchange() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let mut service = Service::start(&emulator, &[], |_| {});
    // Masked on stdout before it was written anywhere (the env file is written after stdout is flushed).
    assert_eq!(
        service.stdout().lines().next(),
        Some(format!("::add-mask::{}", service.header).as_str())
    );
    assert!(
        service.endpoint.starts_with("http://127.0.0.1:"),
        "{}",
        service.endpoint
    );
    assert!(service.endpoint.ends_with("/msi/token"));
    assert_eq!(service.header.len(), 64);
    let env = std::fs::read_to_string(&service.env_file).unwrap();
    assert!(
        env.starts_with("EARLIER=1\n"),
        "appended, not truncated: {env}"
    );

    let (status, first) = service.get(ARM, "");
    assert_eq!(status, 200, "{first}");
    let token = first["access_token"].as_str().unwrap();
    assert_eq!(emulator.issued_access_tokens(), vec![token.to_owned()]);
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["resource"], ARM);
    assert_eq!(first["client_id"], emulator.client_id());
    let expires_on: i64 = first["expires_on"].as_str().unwrap().parse().unwrap();
    assert!(
        (4300..=4480).contains(&(expires_on - now())),
        "{expires_on}"
    );

    // Cached: no second exchange; client_id naming this identity is served.
    let (status, again) = service.get(ARM, &format!("&client_id={}", emulator.client_id()));
    assert_eq!(status, 200);
    assert_eq!(again["access_token"], first["access_token"]);
    assert_eq!(emulator.requests(Hop::Entra), 1);

    // The other Resource Manager URI (the Azure CLI's) is its own resource, with its own exchange
    // and its own fresh GitHub ID token.
    let (status, classic) = service.get(ARM_CLASSIC, "");
    assert_eq!(status, 200, "{classic}");
    assert_ne!(classic["access_token"], first["access_token"]);
    let entra = emulator.recorded(Hop::Entra);
    assert_eq!(entra.len(), 2);
    assert_eq!(
        entra[1].form_field("scope").as_deref(),
        Some("https://management.core.windows.net//.default")
    );
    let ids = emulator.issued_id_tokens();
    assert_eq!(ids.len(), 2, "one fresh GitHub ID token per exchange");
    let assertions: Vec<String> = entra
        .iter()
        .map(|r| r.form_field("client_assertion").unwrap())
        .collect();
    assert_eq!(assertions, ids);

    let log = service.stderr();
    assert!(
        log.contains(&format!("listening on {}", service.endpoint)),
        "{log}"
    );
    assert!(
        log.contains(&format!("resource {ARM}: exchanged, 200, expires ")),
        "{log}"
    );
    assert!(
        log.contains(&format!("resource {ARM}: from cache, 200, expires ")),
        "{log}"
    );
    service.assert_no_secret_printed(&emulator);

    assert_eq!(service.stop().code(), Some(0));
    assert!(
        service.stderr().contains("stopped (SIGTERM)"),
        "{}",
        service.stderr()
    );
}

#[test]
fn refuses_without_a_token_and_says_what_to_change() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let service = Service::start(
        &emulator,
        &["--allow-scope", "https://vault.azure.net/.default"],
        |_| {},
    );
    let query = format!("/msi/token?api-version=2019-08-01&resource={}", encode(ARM));
    let right = format!("X-IDENTITY-HEADER: {}\r\n", service.header);
    let mut wrong_header = service.header.clone();
    wrong_header.replace_range(
        0..1,
        if wrong_header.starts_with('0') {
            "1"
        } else {
            "0"
        },
    );
    let cases: Vec<(&str, String, String, u16, &str)> = vec![
        (
            "GET",
            query.clone(),
            String::new(),
            401,
            "X-IDENTITY-HEADER header is missing",
        ),
        (
            "GET",
            query.clone(),
            format!("X-IDENTITY-HEADER: {wrong_header}\r\n"),
            401,
            "does not match",
        ),
        ("POST", query.clone(), right.clone(), 405, "GET only"),
        (
            "GET",
            "/metadata/identity/oauth2/token".to_owned(),
            right.clone(),
            404,
            "/msi/token",
        ),
        (
            "GET",
            format!(
                "/msi/token?api-version=2019-08-01&resource={}",
                encode("https://storage.azure.com/")
            ),
            right.clone(),
            403,
            "--allow-scope https://storage.azure.com/",
        ),
        (
            "GET",
            format!("{query}&client_id=00000000-0000-4000-8000-000000000001"),
            right.clone(),
            400,
            "another identity",
        ),
        (
            "GET",
            format!("{query}&mi_res_id=%2Fsubscriptions%2Fx"),
            right.clone(),
            400,
            "mi_res_id",
        ),
        (
            "GET",
            format!("/msi/token?api-version=2017-09-01&resource={}", encode(ARM)),
            right.clone(),
            400,
            "api-version=2019-08-01",
        ),
    ];
    for (method, target, headers, status, says) in cases {
        let (got, body) = service.request(method, &target, &headers);
        assert_eq!(got, status, "{method} {target}: {body}");
        assert!(body.get("access_token").is_none(), "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(says), "{method} {target}: {message}");
        assert_eq!(body["statusCode"], status);
    }
    assert_eq!(
        emulator.requests(Hop::GitHub),
        0,
        "a refusal costs no exchange"
    );
    assert_eq!(emulator.requests(Hop::Entra), 0);
    // An allowed extra scope is served (by its bare resource URI, as the clients send it).
    let (status, body) = service.get("https://vault.azure.net", "");
    assert_eq!(status, 200, "{body}");
    let log = service.stderr();
    assert_eq!(
        log.matches(": refused (").count(),
        8,
        "one line per request:\n{log}"
    );
    service.assert_no_secret_printed(&emulator);
}

#[test]
fn concurrent_requests_for_one_resource_share_one_exchange() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let service = Service::start(&emulator, &[], |_| {});
    let tokens: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let (status, body) = service.get(ARM, "");
                    assert_eq!(status, 200, "{body}");
                    body["access_token"].as_str().unwrap().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(emulator.requests(Hop::Entra), 1);
    assert_eq!(emulator.requests(Hop::GitHub), 1);
    let log = service.stderr();
    assert_eq!(log.matches(": exchanged, 200").count(), 1, "{log}");
    assert_eq!(log.matches(": from cache, 200").count(), 7, "{log}");
}

#[test]
fn an_entra_refusal_reaches_the_client_with_its_code_and_the_hint() {
    // The app has a credential for another branch: AADSTS700213, and the action's hint names the
    // credential that would match.
    let mut app = App::default();
    app.federated_credentials[0].subject =
        "repo:octo-org/octo-repo:ref:refs/heads/release".to_owned();
    let emulator = Emulator::start(Config {
        apps: vec![app],
        ..Config::default()
    })
    .unwrap();
    let service = Service::start(&emulator, &[], |_| {});
    let (status, body) = service.get(ARM, "");
    assert_eq!(status, 400, "{body}");
    assert!(body.get("access_token").is_none());
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("AADSTS700213"), "{message}");
    assert!(
        message.contains("repo:octo-org/octo-repo:ref:refs/heads/main"),
        "the hint shows the subject to trust: {message}"
    );
    assert_eq!(body["error"], "invalid_request");
    let log = service.stderr();
    assert!(
        log.contains(&format!("resource {ARM}: exchange failed, 400: ")),
        "{log}"
    );
    assert!(log.contains("AADSTS700213"), "{log}");
    service.assert_no_secret_printed(&emulator);
}

#[test]
fn never_presents_an_expired_id_token_from_a_file() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let mut claims = serde_json::Map::new();
    claims.insert("exp".to_owned(), Value::from(now() - 10));
    claims.insert("iat".to_owned(), Value::from(now() - 310));
    let expired = emulator.mint_id_token("api://AzureADTokenExchange", claims);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &expired).unwrap();
    let path = file.path().to_str().unwrap().to_owned();
    let service = Service::start(&emulator, &["--id-token-file", &path], |_| {});
    let (status, body) = service.get(ARM, "");
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("expired at"), "{message}");
    assert_eq!(
        emulator.requests(Hop::Entra),
        0,
        "Entra never sees an expired assertion"
    );

    // The file is read afresh for every exchange: once it holds a valid token, it is served.
    let fresh = emulator.mint_id_token("api://AzureADTokenExchange", serde_json::Map::new());
    std::fs::write(file.path(), &fresh).unwrap();
    let (status, body) = service.get(ARM, "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        emulator.recorded(Hop::Entra)[0]
            .form_field("client_assertion")
            .as_deref(),
        Some(fresh.as_str())
    );
    service.assert_no_secret_printed(&emulator);
}

#[test]
fn refuses_to_listen_beyond_loopback_before_writing_anything() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("github_env");
    std::fs::write(&env_file, "").unwrap();
    for listen in ["0.0.0.0:0", "192.0.2.1:80", "localhost"] {
        let mut command = Command::new(support::BIN);
        command.args(["serve", "--listen", listen]);
        step_env(&mut command, &emulator, dir.path());
        command.env("GITHUB_ENV", &env_file);
        let (status, stdout, stderr) = support::output_within(command, Duration::from_secs(60));
        let (stdout, stderr) = (
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr),
        );
        assert_eq!(status.code(), Some(1), "{stdout}{stderr}");
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("::error"))
            .collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(errors[0].contains("listen"), "{}", errors[0]);
        assert!(stdout.is_empty(), "{stdout}");
    }
    assert_eq!(std::fs::read_to_string(&env_file).unwrap(), "");
    assert_eq!(emulator.requests(Hop::GitHub), 0);
}

#[test]
fn needs_an_env_file_outside_a_runner() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(support::BIN);
    command.arg("serve");
    step_env(&mut command, &emulator, dir.path());
    command.env_remove("GITHUB_ACTIONS");
    let (status, _, stderr) = support::output_within(command, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&stderr);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: --env-file is not given"),
        "{stderr}"
    );
    assert!(stderr.contains("--env-file FILE"), "{stderr}");
}

#[test]
fn never_serves_a_token_that_arrived_expired() {
    // expires_in 0: the token's exp is the moment it was issued.
    let emulator = Emulator::start(Config {
        access_token_lifetime_secs: 0,
        ..Config::default()
    })
    .unwrap();
    let service = Service::start(&emulator, &[], |_| {});
    let (status, body) = service.get(ARM, "");
    assert_eq!(status, 503, "{body}");
    assert!(body.get("access_token").is_none(), "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("clock"),
        "{body}"
    );
    assert_eq!(emulator.successes(Hop::Entra), 1);
    service.assert_no_secret_printed(&emulator);
}

#[test]
fn a_lasting_outage_is_a_503_after_the_actions_retries_and_the_next_request_tries_again() {
    let emulator = Emulator::start(Config::default()).unwrap();
    emulator.script(
        Hop::Entra,
        (0..40)
            .map(|_| azure_oidc_emulator::Fault::status(503))
            .collect(),
    );
    let service = Service::start(&emulator, &["--timeout-seconds", "2"], |_| {});
    let (status, body) = service.get(ARM, "");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("HTTP 503"), "{message}");
    let tried = emulator.requests(Hop::Entra);
    assert!(tried > 1, "retried within the budget: {tried}");
    // Every exchange has its own budget and its own fresh ID token; a failure is not cached.
    let (status, _) = service.get(ARM, "");
    assert_eq!(status, 503);
    assert!(emulator.requests(Hop::Entra) > tried);
    assert_eq!(emulator.issued_id_tokens().len(), 2);
    service.assert_no_secret_printed(&emulator);
}

#[test]
fn sigint_stops_it_too_with_a_request_in_flight() {
    let emulator = Emulator::start(Config::default()).unwrap();
    // The exchange hangs (the emulator's Entra never answers), so the request is still open.
    emulator.script(Hop::Entra, vec![azure_oidc_emulator::Fault::Hang]);
    let mut service = Service::start(&emulator, &["--timeout-seconds", "600"], |_| {});
    let address = service.address();
    let header = service.header.clone();
    let pending = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        write!(
            stream,
            "GET /msi/token?api-version=2019-08-01&resource={} HTTP/1.1\r\nHost: x\r\nX-IDENTITY-HEADER: {header}\r\n\r\n",
            encode(ARM)
        )
        .unwrap();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        rest
    });
    let started = Instant::now();
    while emulator.requests(Hop::Entra) == 0 {
        assert!(
            started.elapsed() < START_DEADLINE,
            "the exchange never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let stopping = Instant::now();
    assert_eq!(service.stop_with("-INT").code(), Some(0));
    // "Within a second or two": generous here, for a busy machine.
    assert!(
        stopping.elapsed() < Duration::from_secs(20),
        "{:?}",
        stopping.elapsed()
    );
    assert!(
        service.stderr().contains("stopped (SIGINT)"),
        "{}",
        service.stderr()
    );
    // The client sees its connection closed, and no token.
    let rest = pending.join().unwrap();
    assert!(!String::from_utf8_lossy(&rest).contains("access_token"));
}

/// The header's `::add-mask::` reaches stdout before the env file is even opened, and the service
/// writes no other file (no cache, no log on disk): traced with strace, every path on the machine.
#[test]
fn masks_the_header_before_opening_the_env_file_and_writes_no_other_file() {
    if Command::new("strace").arg("-V").output().is_err() {
        support::skip(
            "masks_the_header_before_opening_the_env_file",
            "strace is not installed (Debian package strace)",
        );
        return;
    }
    let emulator = Emulator::start(Config::default()).unwrap();
    let traces = tempfile::tempdir().unwrap();
    let log = traces.path().join("strace.log");
    let mut service = Service::start_wrapped(
        &emulator,
        &[
            "strace",
            "-f",
            "-qq",
            "-s",
            "256",
            "-o",
            log.to_str().unwrap(),
            "-e",
            "trace=write,writev,creat,open,openat,openat2,rename,renameat,renameat2,link,linkat,\
             symlink,symlinkat,mknod,mknodat,truncate,mkdir,mkdirat",
        ],
        &[],
        |_| {},
    );
    let (status, body) = service.get(ARM, "");
    assert_eq!(status, 200, "{body}");
    let pid = service
        .stderr()
        .split("(pid ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .map(str::to_owned)
        .expect("the start line names the pid");
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert_eq!(
        service.stop().code(),
        Some(0),
        "strace ends with its tracee"
    );

    let trace = std::fs::read_to_string(&log).unwrap();
    let env_file = service.env_file.display().to_string();
    let lines: Vec<&str> = trace.lines().collect();
    let mask = lines
        .iter()
        .position(|l| l.contains(&format!("write(1, \"::add-mask::{}\\n\"", service.header)))
        .unwrap_or_else(|| panic!("no mask written to stdout:\n{trace}"));
    let opened = lines
        .iter()
        .position(|l| l.contains(&format!("\"{env_file}\"")))
        .unwrap_or_else(|| panic!("the env file was never opened:\n{trace}"));
    assert!(
        mask < opened,
        "the env file was opened before the mask was written:\n{trace}"
    );
    for line in &lines {
        let call = line
            .split_once(' ')
            .map_or(*line, |(_, rest)| rest.trim_start());
        let name = call.split('(').next().unwrap_or_default();
        let writes_a_file = match name {
            "open" | "openat" | "openat2" => ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"]
                .iter()
                .any(|flag| call.contains(flag)),
            "creat" | "rename" | "renameat" | "renameat2" | "link" | "linkat" | "symlink"
            | "symlinkat" | "mknod" | "mknodat" | "truncate" | "mkdir" | "mkdirat" => true,
            _ => false,
        };
        if writes_a_file {
            assert_eq!(
                call.split('"').nth(1),
                Some(env_file.as_str()),
                "wrote another file: {line}"
            );
        }
        // The header goes to stdout (its mask) and the env file only.
        if call.contains(&service.header) {
            assert!(
                call.starts_with("write(1, \"::add-mask::") || call.contains("IDENTITY_HEADER<<"),
                "the header went elsewhere: {line}"
            );
        }
    }
}

/// The risky-event guard of the exchange holds in the service too: a `pull_request_target` token is
/// not exchanged unless `--allow-events` names the event.
#[test]
fn refuses_risky_events_unless_allowed() {
    let mut claims = serde_json::Map::new();
    claims.insert("event_name".to_owned(), Value::from("pull_request_target"));
    let emulator = Emulator::start(Config {
        extra_claims: claims,
        ..Config::default()
    })
    .unwrap();
    let service = Service::start(&emulator, &[], |_| {});
    let (status, body) = service.get(ARM, "");
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("pull_request_target"), "{message}");
    assert!(message.contains("allow-events"), "{message}");
    assert_eq!(emulator.requests(Hop::Entra), 0);
    drop(service);
    let allowed = Service::start(
        &emulator,
        &["--allow-events", "pull_request_target"],
        |_| {},
    );
    let (status, body) = allowed.get(ARM, "");
    assert_eq!(status, 200, "{body}");
}
