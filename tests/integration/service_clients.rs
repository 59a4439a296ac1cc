//! The token service (`serve`) proved against the real clients, pinned and unmodified, with only
//! what a later step of the job has (`IDENTITY_ENDPOINT` and `IDENTITY_HEADER` from the env file,
//! `AZURE_CLIENT_ID` where `export-sdk-env` would set it):
//! - Python azure-identity `ManagedIdentityCredential` and `DefaultAzureCredential`, MSAL Python's
//!   `ManagedIdentityClient` (`examples/sdk/managed_identity.py`, `examples/sdk/requirements.txt`);
//! - Node @azure/identity `ManagedIdentityCredential` (`examples/sdk/managed_identity.mjs`);
//! - the Azure CLI (`azure-cli`, pinned in `.ci/run`, in its own venv): `az login --identity`,
//!   `az account get-access-token` and `az rest` against the emulator's Resource Manager double,
//!   registered as a cloud;
//! - a long job: ID tokens living seconds, access tokens tens of seconds, clients asking for two
//!   resources for over a minute: no failure, no expired token, no expired assertion at Entra.
//!
//! `.ci/run` installs every client; without one a test prints `skipped` and passes, except under
//! `CI=true`, where it fails.

use crate::service::Service;
use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use azure_oidc_emulator::{Config, Emulator, Hop};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const ARM_SCOPE: &str = "https://management.azure.com/.default";
const VAULT_SCOPE: &str = "https://vault.azure.net/.default";
/// The Azure CLI's venv, as `.ci/run` creates it (`AZURE_CLI_VENV` overrides).
const AZ_VENV: &str = ".cache/azure-oidc-token/azure-cli-2.91.0";

#[derive(Clone, Copy, Debug)]
enum Client {
    /// azure-identity `ManagedIdentityCredential`.
    PythonManagedIdentity,
    /// azure-identity `DefaultAzureCredential` with `AZURE_CLIENT_ID`.
    PythonDefault,
    /// MSAL Python `ManagedIdentityClient`.
    Msal,
    /// @azure/identity `ManagedIdentityCredential`.
    NodeManagedIdentity,
}

impl Client {
    /// The client's command for `seconds` and `scopes`, or why it cannot run here.
    fn command(self, seconds: u64, scopes: &[&str]) -> Result<Command, String> {
        let sdk = Path::new(REPO).join("examples/sdk");
        let (mut command, kind) = match self {
            Client::PythonManagedIdentity | Client::PythonDefault | Client::Msal => {
                let python = sdk.join(".venv/bin/python");
                if !python.is_file() {
                    return Err(format!(
                        "{} is missing: python3 -m venv examples/sdk/.venv && examples/sdk/.venv/bin/pip install -r examples/sdk/requirements.txt",
                        python.display()
                    ));
                }
                let mut command = Command::new(python);
                command.arg(sdk.join("managed_identity.py"));
                let kind = match self {
                    Client::PythonManagedIdentity => "managed-identity",
                    Client::PythonDefault => "default",
                    _ => "msal",
                };
                (command, kind)
            }
            Client::NodeManagedIdentity => {
                if !sdk.join("node_modules/@azure/identity").is_dir() {
                    return Err(
                        "examples/sdk/node_modules is missing: (cd examples/sdk && npm ci)"
                            .to_owned(),
                    );
                }
                let mut command = Command::new("node");
                command.arg(sdk.join("managed_identity.mjs"));
                (command, "managed-identity")
            }
        };
        command.arg(kind).arg(seconds.to_string()).args(scopes);
        Ok(command)
    }
}

/// A later step's process: `PATH`, `HOME`, the two variables from the env file, and
/// `AZURE_CLIENT_ID` for `DefaultAzureCredential` (as `export-sdk-env` exports it).
fn later_step(command: &mut Command, service: &Service, emulator: &Emulator, client: Client) {
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", service.dir.path())
        .env("IDENTITY_ENDPOINT", &service.endpoint)
        .env("IDENTITY_HEADER", &service.header)
        .current_dir(service.dir.path());
    if matches!(client, Client::PythonDefault) {
        command
            .env("AZURE_CLIENT_ID", emulator.client_id())
            .env("AZURE_TENANT_ID", emulator.tenant_id());
    }
}

/// Runs `client` for `seconds` against `service`; `None` if it cannot run here.
fn run_client(
    client: Client,
    service: &Service,
    emulator: &Emulator,
    seconds: u64,
    scopes: &[&str],
) -> Option<(Option<i32>, String, String)> {
    let mut command = match client.command(seconds, scopes) {
        Ok(command) => command,
        Err(why) => {
            support::skip(&format!("the {client:?} client"), &why);
            return None;
        }
    };
    later_step(&mut command, service, emulator, client);
    let (status, stdout, stderr) =
        support::output_within(command, Duration::from_secs(seconds + 120));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    );
    assert_no_secret(emulator, service, &format!("{stdout}\n{stderr}"));
    Some((status.code(), stdout, stderr))
}

fn assert_no_secret(emulator: &Emulator, service: &Service, text: &str) {
    let mut secrets = support::secrets(emulator);
    secrets.push(service.header.clone());
    for secret in secrets {
        for form in support::encodings(&secret) {
            assert!(!text.contains(&form), "a secret leaked:\n{text}");
        }
    }
}

fn gets_tokens_through_the_service(client: Client) {
    let emulator = Emulator::start(Config::default()).unwrap();
    let service = Service::start(&emulator, &["--allow-scope", VAULT_SCOPE], |_| {});
    let Some((code, stdout, stderr)) =
        run_client(client, &service, &emulator, 0, &[ARM_SCOPE, VAULT_SCOPE])
    else {
        return;
    };
    assert_eq!(
        code,
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}\nservice:\n{}",
        service.stderr()
    );
    for scope in [ARM_SCOPE, VAULT_SCOPE] {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(&format!(": {scope}: 1 tokens, 1 distinct"))),
            "{stdout}"
        );
    }
    // One exchange per resource, each with its own fresh GitHub ID token; the service saw the
    // resource as the client derives it from the scope.
    assert_eq!(emulator.requests(Hop::Entra), 2);
    assert_eq!(emulator.successes(Hop::Entra), 2);
    assert_eq!(emulator.issued_id_tokens().len(), 2);
    let log = service.stderr();
    assert_eq!(log.matches(": exchanged, 200").count(), 2, "{log}");
    service.assert_no_secret_printed(&emulator);
}

fn a_refused_resource_is_a_clear_error(client: Client) {
    let emulator = Emulator::start(Config::default()).unwrap();
    let service = Service::start(&emulator, &[], |_| {});
    let Some((code, stdout, stderr)) = run_client(
        client,
        &service,
        &emulator,
        0,
        &["https://storage.azure.com/.default"],
    ) else {
        return;
    };
    assert_ne!(code, Some(0), "{stdout}");
    assert!(
        stderr.contains("--allow-scope https://storage.azure.com"),
        "the client shows the service's reason:\n{stderr}"
    );
    assert_eq!(emulator.requests(Hop::Entra), 0);
}

#[test]
fn python_managed_identity_credential_gets_tokens() {
    gets_tokens_through_the_service(Client::PythonManagedIdentity);
}

#[test]
fn python_default_azure_credential_gets_tokens_for_azure_client_id() {
    gets_tokens_through_the_service(Client::PythonDefault);
}

#[test]
fn msal_python_managed_identity_client_gets_tokens() {
    gets_tokens_through_the_service(Client::Msal);
}

#[test]
fn node_managed_identity_credential_gets_tokens() {
    gets_tokens_through_the_service(Client::NodeManagedIdentity);
}

#[test]
fn python_shows_why_a_resource_is_refused() {
    a_refused_resource_is_a_clear_error(Client::PythonManagedIdentity);
}

#[test]
fn msal_python_shows_why_a_resource_is_refused() {
    a_refused_resource_is_a_clear_error(Client::Msal);
}

#[test]
fn node_shows_why_a_resource_is_refused() {
    a_refused_resource_is_a_clear_error(Client::NodeManagedIdentity);
}

/// A long job, simulated: the emulator's ID tokens live 10 s and its access tokens 20 s, so over
/// 65 s every resource is exchanged again and again (each token is served for half its life), by
/// two clients at once asking for two resources. Nothing depends on how the seconds fall: the
/// checks are relations between expiries and the emulator's records.
#[test]
fn a_long_job_gets_fresh_tokens_for_over_a_minute() {
    let emulator = Emulator::start(Config {
        id_token_lifetime: Duration::from_secs(10),
        access_token_lifetime_secs: 20,
        ..Config::default()
    })
    .unwrap();
    let service = Service::start(&emulator, &["--allow-scope", VAULT_SCOPE], |_| {});
    let seconds = 65;
    let scopes = [ARM_SCOPE, VAULT_SCOPE];
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = [Client::PythonDefault, Client::NodeManagedIdentity]
            .into_iter()
            .map(|client| {
                let (service, emulator) = (&service, &emulator);
                scope.spawn(move || {
                    (
                        client,
                        run_client(client, service, emulator, seconds, &scopes),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ran = 0;
    for (client, result) in results {
        let Some((code, stdout, stderr)) = result else {
            continue;
        };
        ran += 1;
        assert_eq!(
            code,
            Some(0),
            "{client:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        for scope in scopes {
            let line = stdout
                .lines()
                .find(|l| l.contains(&format!(": {scope}: ")))
                .unwrap_or_else(|| panic!("{client:?} reported nothing for {scope}:\n{stdout}"));
            // Several distinct tokens: the client outlived the first one and got new ones.
            let distinct: usize = line
                .split(" tokens, ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{line}"));
            assert!(
                distinct >= 3,
                "{client:?} got {distinct} distinct tokens: {line}"
            );
        }
    }
    if ran == 0 {
        return;
    }
    // Entra: every exchange succeeded (the emulator refuses an assertion past its exp with
    // AADSTS700024, so none was), each with its own fresh GitHub ID token.
    let entra = emulator.recorded(Hop::Entra);
    assert!(entra.len() >= 2 * 3, "{} exchanges", entra.len());
    assert_eq!(
        emulator.successes(Hop::Entra),
        entra.len(),
        "an exchange failed"
    );
    let assertions: Vec<String> = entra
        .iter()
        .map(|r| r.form_field("client_assertion").unwrap())
        .collect();
    let mut unique = assertions.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        assertions.len(),
        "an ID token was presented twice"
    );
    // The service served no token past its expiry: every 200 line says how long it had left.
    let log = service.stderr();
    let served: Vec<i64> = log
        .lines()
        .filter(|l| l.contains(", 200, expires "))
        .map(|l| {
            let left = l.rsplit("(in ").next().unwrap();
            left.trim_end_matches(" s)").parse().unwrap()
        })
        .collect();
    assert!(served.len() >= 12, "{} tokens served", served.len());
    assert!(served.iter().all(|left| *left > 0), "{log}");
    assert!(!log.contains("exchange failed"), "{log}");
    service.assert_no_secret_printed(&emulator);
}

/// Where the Azure CLI is, or why it cannot run here.
fn az() -> Result<PathBuf, String> {
    let venv = std::env::var("AZURE_CLI_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(&std::env::var("HOME").unwrap_or_default()).join(AZ_VENV));
    let az = venv.join("bin/az");
    if az.is_file() {
        Ok(az)
    } else {
        Err(format!(
            "{} is missing: python3 -m venv {} && {}/bin/pip install azure-cli==2.91.0 (.ci/run does this)",
            az.display(),
            venv.display(),
            venv.display()
        ))
    }
}

/// `az` with a later step's environment: the env file's two variables, its own config directory,
/// the emulator's CA for the Resource Manager double, no telemetry or survey (nothing leaves loopback).
fn az_command(az: &Path, service: &Service, emulator: &Emulator, config_dir: &Path) -> Command {
    let bundle = service.dir.path().join("bundle.pem");
    if !bundle.exists() {
        let system =
            std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
        std::fs::write(&bundle, format!("{system}\n{}", emulator.ca_pem())).unwrap();
    }
    let mut command = Command::new(az);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", service.dir.path())
        .env("AZURE_CONFIG_DIR", config_dir)
        .env("AZURE_CORE_COLLECT_TELEMETRY", "false")
        .env("AZURE_CORE_SURVEY_MESSAGE", "false")
        .env("AZURE_CORE_NO_COLOR", "true")
        .env("REQUESTS_CA_BUNDLE", &bundle)
        .env("IDENTITY_ENDPOINT", &service.endpoint)
        .env("IDENTITY_HEADER", &service.header)
        .current_dir(service.dir.path());
    command
}

fn run_az(command: Command) -> (Option<i32>, String, String) {
    let (status, stdout, stderr) = support::output_within(command, Duration::from_secs(300));
    (
        status.code(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[test]
fn azure_cli_logs_in_with_identity_and_calls_resource_manager() {
    let az = match az() {
        Ok(az) => az,
        Err(why) => {
            support::skip("the Azure CLI", &why);
            return;
        }
    };
    let emulator = Emulator::start(Config::default()).unwrap();
    let service = Service::start(&emulator, &[], |_| {});
    let config_dir = service.dir.path().join("azure");
    let base = emulator.base_url();
    let step = |args: &[&str]| {
        let mut command = az_command(&az, &service, &emulator, &config_dir);
        command.args(args);
        let (code, stdout, stderr) = run_az(command);
        assert_eq!(
            code,
            Some(0),
            "az {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}\nservice:\n{}",
            service.stderr()
        );
        // `az account get-access-token` prints the token on stdout by design, for its caller.
        let shown = if args.contains(&"get-access-token") {
            String::new()
        } else {
            stdout.clone()
        };
        assert_no_secret(&emulator, &service, &format!("{shown}\n{stderr}"));
        (stdout, stderr)
    };
    // The emulator's Resource Manager double as a cloud of its own (az has no other way to point
    // at another Resource Manager); the token resource stays the public cloud's.
    step(&[
        "cloud",
        "register",
        "--name",
        "Emulator",
        "--skip-endpoint-discovery",
        "--endpoint-resource-manager",
        &format!("{base}/"),
        "--endpoint-active-directory",
        &base,
        "--endpoint-active-directory-resource-id",
        "https://management.core.windows.net/",
        "--endpoint-active-directory-graph-resource-id",
        "https://graph.windows.net/",
        "--endpoint-management",
        "https://management.core.windows.net/",
    ]);
    step(&["cloud", "set", "--name", "Emulator"]);
    let (login, login_err) = step(&["login", "--identity", "--output", "json"]);
    let accounts: serde_json::Value =
        serde_json::from_str(&login).unwrap_or_else(|e| panic!("{e}: {login}\n{login_err}"));
    assert_eq!(
        accounts[0]["id"], "00000000-0000-4000-8000-0000000000bb",
        "{login}"
    );
    assert_eq!(accounts[0]["tenantId"], emulator.tenant_id());
    assert_eq!(accounts[0]["user"]["type"], "servicePrincipal");
    assert_eq!(accounts[0]["user"]["name"], "systemAssignedIdentity");
    // The Azure CLI asks for Resource Manager's classic resource URI.
    let entra = emulator.recorded(Hop::Entra);
    assert!(!entra.is_empty());
    assert_eq!(
        entra[0].form_field("scope").as_deref(),
        Some("https://management.core.windows.net//.default")
    );

    let (token_json, _) = step(&["account", "get-access-token", "--output", "json"]);
    let token: serde_json::Value = serde_json::from_str(&token_json).unwrap();
    let access_token = token["accessToken"].as_str().unwrap();
    assert!(
        emulator
            .issued_access_tokens()
            .iter()
            .any(|t| t == access_token)
    );
    let expires_on = token["expires_on"].as_i64().unwrap();
    assert!(expires_on > support_now(), "{expires_on}");

    let (groups, _) = step(&[
        "rest",
        "--method",
        "get",
        "--url",
        &format!(
            "{base}/subscriptions/00000000-0000-4000-8000-0000000000bb/resourcegroups?api-version=2021-04-01"
        ),
        "--output",
        "json",
    ]);
    let groups: serde_json::Value = serde_json::from_str(&groups).unwrap();
    assert_eq!(groups["value"][0]["name"], "rg-app", "{groups}");
    let arm = emulator.service_requests();
    assert!(
        arm.iter().any(|r| r.path.ends_with("/resourcegroups")),
        "az rest reached the double"
    );
    // Every ARM call carried a token the service handed out.
    for request in &arm {
        let bearer = request
            .header("authorization")
            .unwrap()
            .strip_prefix("Bearer ")
            .unwrap();
        assert!(emulator.issued_access_tokens().iter().any(|t| t == bearer));
    }
    service.assert_no_secret_printed(&emulator);
    // As a user-assigned identity (the client ID the service mints for), and refused for another.
    let client_id = emulator.client_id();
    let (login, _) = step(&[
        "login",
        "--identity",
        "--client-id",
        &client_id,
        "--output",
        "json",
    ]);
    assert!(login.contains("userAssignedIdentity"), "{login}");
    let mut other = az_command(&az, &service, &emulator, &config_dir);
    other.args([
        "login",
        "--identity",
        "--client-id",
        "00000000-0000-4000-8000-000000000001",
    ]);
    let (code, stdout, stderr) = run_az(other);
    assert_ne!(code, Some(0), "{stdout}");
    assert!(
        stderr.contains("names another identity"),
        "az shows the service's reason:\n{stderr}"
    );
    // `az login --identity` keeps no token on disk: its profile names the identity only.
    support::assert_no_secret_on_disk(&support::secrets(&emulator), &config_dir, &[]);
}

fn support_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
