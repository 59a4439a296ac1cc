//! The cookbook's recipes, executed: each workflow in `examples/workflows/` that a recipe page in
//! `docs/cookbook/` shows runs step by step as the runner would, against the emulator (GitHub's
//! token endpoint, Entra, and its doubles of ARM, Key Vault and Microsoft Graph). The action step is
//! the real binary in action mode; each `run:` step is written to a file and run with
//! `bash --noprofile --norc -e FILE` (GitHub's default shell: no pipefail), with the step's `env:`
//! after `${{ … }}` expansion, `GITHUB_ENV` carried to the later steps as the runner does, `curl`
//! trusting the test CA (`CURL_CA_BUNDLE`, `SSL_CERT_FILE`) and the service base URLs the scripts read
//! (`ARM_ENDPOINT`, `VAULT_URL`, `GRAPH_ENDPOINT`) pointed at the emulator.
//!
//! Every scenario, passing or failing, checks that no token appears in any step's stdout, stderr or
//! `run:` outputs, and that a secret read from Key Vault appears only on its `::add-mask::` lines.
//! The recipes whose tool cannot run here (PowerShell, Terraform) are checked for what can be
//! checked: the names they read exist.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::{Step, encodings, parse_file_commands, secrets};
use azure_oidc_emulator::{
    App, Config, Emulator, FederatedCredential, ISSUER_PLACEHOLDER, Services,
};
use yaml_rust2::{Yaml, YamlLoader};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const SUBSCRIPTION: &str = "00000000-0000-4000-8000-0000000000bb";
/// A token Entra never issued (it looks like one: three base64url parts).
const FORGED: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIn0.c2lnbmF0dXJl";

/// One finished step.
#[derive(Debug)]
struct Ran {
    name: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    outputs: BTreeMap<String, String>,
    env_file: String,
}

impl Ran {
    fn errors(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with("::error"))
            .collect()
    }
}

fn vars(emulator: &Emulator) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("vars.AZURE_CLIENT_ID".into(), emulator.client_id()),
        ("vars.AZURE_TENANT_ID".into(), emulator.tenant_id()),
        ("vars.AZURE_SUBSCRIPTION_ID".into(), SUBSCRIPTION.into()),
        ("vars.KEY_VAULT_NAME".into(), "kv-prod".into()),
    ])
}

/// `text` with every `${{ expr }}` replaced from `values`; an unknown expression fails the test.
fn expand(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").unwrap() + start;
        let expr = rest[start + 3..end].trim();
        let value = values
            .get(expr)
            .unwrap_or_else(|| panic!("the workflow uses `{expr}`, which the test does not know"));
        out.push_str(value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

fn env_of(node: &Yaml, values: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    node["env"]
        .as_hash()
        .map(|hash| {
            hash.iter()
                .map(|(k, v)| {
                    let value = match v {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        other => panic!("unexpected env value {other:?}"),
                    };
                    (k.as_str().unwrap().to_owned(), expand(&value, values))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the single job of `examples/workflows/<file>` against `emulator` until a step fails.
/// `overrides` are set on every `run:` step last (as if the runner's network resolved the public
/// hosts to the emulator, or a test swapped a value in).
fn run_workflow(emulator: &Emulator, file: &str, overrides: &[(&str, &str)]) -> Vec<Ran> {
    let text =
        std::fs::read_to_string(Path::new(REPO).join("examples/workflows").join(file)).unwrap();
    let docs = YamlLoader::load_from_str(&text).unwrap();
    let jobs = docs[0]["jobs"].as_hash().unwrap();
    assert_eq!(jobs.len(), 1, "{file}: one job expected");
    let job = jobs.values().next().unwrap();
    assert_eq!(
        job["permissions"]["id-token"].as_str(),
        Some("write"),
        "{file}: the job needs id-token: write"
    );
    let mut values = vars(emulator);
    let mut job_env = env_of(job, &values);
    let work = tempfile::tempdir().unwrap();
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, emulator.ca_pem()).unwrap();
    let base = emulator.base_url();
    let mut ran = Vec::new();
    for (index, step) in job["steps"].as_vec().unwrap().iter().enumerate() {
        let id = step["id"].as_str().map(str::to_owned);
        let name = step["name"]
            .as_str()
            .map_or_else(|| format!("step {index}"), str::to_owned);
        let result = if let Some(uses) = step["uses"].as_str() {
            if uses.starts_with("actions/checkout@") {
                continue; // the test runs in the repository already
            }
            assert!(
                uses.contains("azure-oidc-token@"),
                "{file}: unexpected action {uses}"
            );
            let mut action = Step::new(emulator);
            for (k, v) in step["with"].as_hash().unwrap() {
                let value = expand(v.as_str().unwrap(), &values);
                action = action.with(
                    &format!("INPUT_{}", k.as_str().unwrap().to_uppercase()),
                    &value,
                );
            }
            // The support's checks expect every ID token of the emulator in this run; a test that
            // took a token beforehand relies on `assert_no_token_printed` below instead.
            let first = emulator.issued_id_tokens().is_empty();
            let outcome = if first {
                action.run_checked()
            } else {
                action.run()
            };
            outcome.assert_succeeded();
            Ran {
                name,
                code: outcome.code,
                outputs: outcome.outputs(),
                stdout: outcome.stdout,
                stderr: outcome.stderr,
                env_file: outcome.env_file,
            }
        } else {
            let script = step["run"].as_str().unwrap();
            let file_path = work.path().join(format!("step-{index}.sh"));
            std::fs::write(&file_path, script).unwrap();
            let output_file = work.path().join(format!("output-{index}"));
            let env_file = work.path().join(format!("env-{index}"));
            std::fs::write(&output_file, "").unwrap();
            std::fs::write(&env_file, "").unwrap();
            let mut env = job_env.clone();
            env.extend(env_of(step, &values));
            let mut command = Command::new("bash");
            command
                .args(["--noprofile", "--norc", "-e"])
                .arg(&file_path)
                .current_dir(REPO)
                .env_clear()
                .envs(&env)
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("HOME", work.path())
                .env("TMPDIR", work.path())
                .env("GITHUB_ACTIONS", "true")
                .env("GITHUB_OUTPUT", &output_file)
                .env("GITHUB_ENV", &env_file)
                .env("CURL_CA_BUNDLE", &ca)
                .env("SSL_CERT_FILE", &ca)
                .env("ARM_ENDPOINT", &base)
                .env("VAULT_URL", &base)
                .env("GRAPH_ENDPOINT", &base);
            for (k, v) in overrides {
                command.env(k, v);
            }
            let output = command.output().unwrap();
            let read = |path: &Path| std::fs::read_to_string(path).unwrap();
            Ran {
                name,
                code: output.status.code(),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
                outputs: parse_file_commands(&read(&output_file))
                    .unwrap()
                    .into_iter()
                    .collect(),
                env_file: read(&env_file),
            }
        };
        if let Some(id) = id {
            for (k, v) in &result.outputs {
                values.insert(format!("steps.{id}.outputs.{k}"), v.clone());
            }
        }
        // The runner adds GITHUB_ENV's variables to the environment of the later steps.
        job_env.extend(parse_file_commands(&result.env_file).unwrap());
        let failed = result.code != Some(0);
        ran.push(result);
        if failed {
            break;
        }
    }
    assert_no_token_printed(emulator, &ran);
    assert_runner_runs_no_server_text(&ran);
    ran
}

/// No token of the run in any step's streams (the action's own `::add-mask::` lines aside), and
/// none in a `run:` step's outputs or env file.
fn assert_no_token_printed(emulator: &Emulator, ran: &[Ran]) {
    let mut secrets = secrets(emulator);
    secrets.push(FORGED.to_owned());
    assert!(secrets.len() >= 3, "the run issued no token");
    for step in ran {
        for (stream, text) in [("stdout", &step.stdout), ("stderr", &step.stderr)] {
            for line in text.lines() {
                let masked = line.strip_prefix("::add-mask::");
                for secret in &secrets {
                    if masked == Some(secret.as_str()) {
                        continue;
                    }
                    for form in encodings(secret) {
                        assert!(
                            !line.contains(&form),
                            "a token leaked on {stream} of step `{}`: {line}",
                            step.name
                        );
                    }
                }
            }
        }
    }
    for step in ran
        .iter()
        .filter(|s| !s.outputs.contains_key("access-token"))
    {
        for value in step.outputs.values().chain([&step.env_file]) {
            for secret in &secrets {
                assert!(
                    !value.contains(secret.as_str()),
                    "a token in the files of `{}`",
                    step.name
                );
            }
        }
    }
}

/// `value` appears in no step's streams except on `::add-mask::` lines.
fn assert_only_masked(ran: &[Ran], value: &str) {
    for step in ran {
        for line in step.stdout.lines().chain(step.stderr.lines()) {
            if line.strip_prefix("::add-mask::").is_none() {
                assert!(
                    !line.contains(value),
                    "`{}` printed the secret: {line}",
                    step.name
                );
            }
        }
    }
}

fn emulator_with(services: Services) -> Emulator {
    let emulator = Emulator::start(Config::default()).unwrap();
    emulator.set_services(services);
    emulator
}

fn last(ran: &[Ran]) -> &Ran {
    ran.last().unwrap()
}

/// The one `::error` line of a failed step.
fn failed(step: &Ran) -> &str {
    assert_eq!(step.code, Some(1), "{step:#?}");
    let errors = step.errors();
    assert_eq!(errors.len(), 1, "one ::error line expected: {step:#?}");
    errors[0]
}

/// A token of this emulator for `scope` (empty: the action's default, ARM), for the wrong-audience
/// cases.
fn token(emulator: &Emulator, scope: &str) -> String {
    let step = Step::new(emulator).with("INPUT_SCOPE", scope);
    let outcome = if emulator.issued_id_tokens().is_empty() {
        step.run_checked()
    } else {
        step.run()
    };
    outcome.assert_succeeded();
    outcome.outputs()["access-token"].clone()
}

// --- Call any ARM API with curl (rest.md) -------------------------------------------------------

#[test]
fn rest_lists_the_resource_groups() {
    let emulator = emulator_with(Services::default());
    let ran = run_workflow(&emulator, "rest.yml", &[]);
    assert_eq!(ran.len(), 2);
    let step = last(&ran);
    assert_eq!(step.code, Some(0), "{step:#?}");
    assert_eq!(step.stdout, "rg-app\nrg-backup\n");
    let calls = emulator.service_requests();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].path,
        format!("/subscriptions/{SUBSCRIPTION}/resourcegroups")
    );
    assert_eq!(calls[0].query.as_deref(), Some("api-version=2021-04-01"));
}

#[test]
fn rest_fails_its_step_when_arm_says_no() {
    // 403: no role on the subscription.
    let emulator = emulator_with(Services {
        forbid: true,
        ..Services::default()
    });
    let ran = run_workflow(&emulator, "rest.yml", &[]);
    let error = failed(last(&ran));
    assert!(
        error.contains("listing resource groups failed: AuthorizationFailed: The client"),
        "{error}"
    );
    assert!(
        last(&ran).stderr.contains("403"),
        "curl names the status: {}",
        last(&ran).stderr
    );

    // 404: a subscription ARM does not know.
    let emulator = emulator_with(Services {
        subscription: "another".into(),
        ..Services::default()
    });
    let ran = run_workflow(&emulator, "rest.yml", &[]);
    let error = failed(last(&ran));
    assert!(error.contains("SubscriptionNotFound"), "{error}");

    // 401: a token ARM refuses (never issued), and one for another resource (Key Vault).
    let emulator = emulator_with(Services::default());
    let ran = run_workflow(&emulator, "rest.yml", &[("TOKEN", FORGED)]);
    assert!(
        failed(last(&ran)).contains("InvalidAuthenticationToken: The access token is invalid.")
    );
    let vault_token = token(&emulator, "https://vault.azure.net");
    let ran = run_workflow(&emulator, "rest.yml", &[("TOKEN", &vault_token)]);
    assert!(failed(last(&ran)).contains("InvalidAuthenticationTokenAudience"));
}

// --- A Key Vault secret (key-vault.md) ----------------------------------------------------------

#[test]
fn key_vault_secret_reaches_the_next_step_masked() {
    let value = "s3cr3t-db-password";
    let emulator = emulator_with(Services::default());
    let ran = run_workflow(&emulator, "key-vault.yml", &[]);
    assert_eq!(ran.len(), 3, "{ran:#?}");
    for step in &ran {
        assert_eq!(step.code, Some(0), "{step:#?}");
    }
    let read = &ran[1];
    let masks: Vec<&str> = read
        .stdout
        .lines()
        .filter(|l| l.starts_with("::add-mask::"))
        .collect();
    assert_eq!(masks, [format!("::add-mask::{value}")]);
    assert!(
        read.stdout
            .contains("DB_PASSWORD is set for the next steps"),
        "{}",
        read.stdout
    );
    assert_eq!(
        parse_file_commands(&read.env_file).unwrap(),
        [("DB_PASSWORD".to_owned(), value.to_owned())]
    );
    // The next step saw it in its environment.
    assert_eq!(
        ran[2].stdout,
        format!("DB_PASSWORD has {} characters\n", value.len())
    );
    assert_only_masked(&ran, value);
    let calls = emulator.service_requests();
    assert_eq!(calls[0].path, "/secrets/db-password");
    assert_eq!(calls[0].query.as_deref(), Some("api-version=7.4"));
}

#[test]
fn key_vault_secret_of_several_lines_is_masked_line_by_line() {
    // With a `%` sequence the runner would unescape if the script did not escape it first.
    let value = "-----BEGIN KEY-----\nMIIEvQIBADANBg%0AkqhkiG9w0BAQEFAASC\n-----END KEY-----";
    let emulator = emulator_with(Services {
        secrets: vec![("db-password".into(), value.into())],
        ..Services::default()
    });
    let ran = run_workflow(&emulator, "key-vault.yml", &[]);
    assert_eq!(last(&ran).code, Some(0), "{ran:#?}");
    // What the runner masks: each command's data unescaped by its rules.
    let masks: Vec<String> = ran[1]
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("::add-mask::"))
        .map(crate::support::unescape_data)
        .collect();
    assert_eq!(masks, value.lines().collect::<Vec<_>>());
    assert_eq!(
        parse_file_commands(&ran[1].env_file).unwrap(),
        [("DB_PASSWORD".to_owned(), value.to_owned())]
    );
    for line in value.lines() {
        assert_only_masked(&ran, line);
    }
}

#[test]
fn key_vault_fails_its_step_when_the_vault_says_no() {
    // 403: no role on the vault.
    let emulator = emulator_with(Services {
        forbid: true,
        ..Services::default()
    });
    let ran = run_workflow(&emulator, "key-vault.yml", &[]);
    assert_eq!(
        ran.len(),
        2,
        "the step that would use the secret never runs"
    );
    let error = failed(last(&ran));
    assert!(
        error.starts_with("::error title=key-vault::secret db-password: GET https://127.0.0.1:"),
        "{error}"
    );
    assert!(error.contains("/secrets/db-password answered HTTP 403 (Forbidden: ForbiddenByRbac: Caller is not authorized"), "{error}");
    assert!(
        error.contains("give the identity Key Vault Secrets User on the vault"),
        "{error}"
    );
    assert!(
        !error.contains("api-version"),
        "no query in the message: {error}"
    );
    assert_eq!(last(&ran).env_file, "", "nothing handed to the next steps");

    // 404: no such secret.
    let emulator = emulator_with(Services {
        secrets: Vec::new(),
        ..Services::default()
    });
    let ran = run_workflow(&emulator, "key-vault.yml", &[]);
    let error = failed(last(&ran));
    assert!(
        error.contains(
            "HTTP 404 (SecretNotFound: A secret with (name/id) db-password was not found"
        ),
        "{error}"
    );
    assert!(error.contains("check SECRET_NAME and VAULT_URL"), "{error}");

    // 401: an ARM token (the action without `scope`) sent to Key Vault, and a forged one.
    let emulator = emulator_with(Services::default());
    let arm = token(&emulator, "");
    let ran = run_workflow(&emulator, "key-vault.yml", &[("TOKEN", &arm)]);
    let error = failed(last(&ran));
    assert!(error.contains("HTTP 401 (Unauthorized: AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://management.azure.com."), "{error}");
    assert!(
        error.contains("pass the access-token output for this service's scope"),
        "{error}"
    );
    let ran = run_workflow(&emulator, "key-vault.yml", &[("TOKEN", FORGED)]);
    assert!(failed(last(&ran)).contains("HTTP 401 (Unauthorized: AKV10032"));
}

#[test]
fn key_vault_names_an_unreachable_vault() {
    let emulator = emulator_with(Services::default());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let ran = run_workflow(&emulator, "key-vault.yml", &[("VAULT_URL", &url)]);
    let error = failed(last(&ran));
    assert!(error.contains("failed before any HTTP answer"), "{error}");
    assert!(
        last(&ran).stderr.contains("curl: (7)"),
        "{}",
        last(&ran).stderr
    );
}

// --- Several resources in one step (several-resources.md) ---------------------------------------

#[test]
fn several_resources_uses_each_token_with_its_own_service() {
    let emulator = emulator_with(Services {
        page_size: 1,
        ..Services::default()
    });
    let ran = run_workflow(&emulator, "several-resources.yml", &[]);
    assert_eq!(ran.len(), 4, "{ran:#?}");
    for step in &ran {
        assert_eq!(step.code, Some(0), "{step:#?}");
    }
    // ARM, page by page through nextLink.
    assert_eq!(ran[1].stdout, "rg-app\nrg-backup\n");
    // Graph: the identity found itself.
    assert!(
        ran[2].stdout.starts_with(
            "signed in as octo-deployer (object ID 99999999-8888-4777-8666-555555555555)\n"
        ),
        "{}",
        ran[2].stdout
    );
    assert!(
        ran[2].stdout.contains("the Graph token is valid until"),
        "{}",
        ran[2].stdout
    );
    // Key Vault.
    assert_eq!(
        parse_file_commands(&ran[3].env_file).unwrap(),
        [("DB_PASSWORD".to_owned(), "s3cr3t-db-password".to_owned())]
    );
    assert_only_masked(&ran, "s3cr3t-db-password");
    // Each double checks the token's audience, so each call carried its own service's token.
    let calls: Vec<String> = emulator
        .service_requests()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(
        calls,
        [
            format!("/subscriptions/{SUBSCRIPTION}/resourcegroups"),
            format!("/subscriptions/{SUBSCRIPTION}/resourcegroups"),
            "/v1.0/servicePrincipals".to_owned(),
            "/secrets/db-password".to_owned(),
        ]
    );
    let graph = &emulator.service_requests()[2];
    assert!(
        graph
            .query
            .as_deref()
            .unwrap()
            .contains("%24filter=appId%20eq%20'11111111-2222-4333-8444-555555555555'"),
        "{:?}",
        graph.query
    );
    // One GitHub token, three Entra exchanges.
    assert_eq!(emulator.issued_id_tokens().len(), 1);
    assert_eq!(emulator.issued_access_tokens().len(), 3);
}

#[test]
fn several_resources_fails_the_step_whose_service_says_no() {
    let emulator = emulator_with(Services {
        forbid: true,
        ..Services::default()
    });
    let ran = run_workflow(&emulator, "several-resources.yml", &[]);
    assert_eq!(ran.len(), 2);
    let error = failed(last(&ran));
    assert!(
        error.starts_with("::error title=resource-groups::resource groups: GET "),
        "{error}"
    );
    assert!(
        error.contains("HTTP 403 (AuthorizationFailed: The client"),
        "{error}"
    );
    assert!(
        error.contains("give the identity Reader on the subscription"),
        "{error}"
    );

    // Graph alone refusing: the ARM token where the Graph token belongs.
    let emulator = emulator_with(Services::default());
    let arm = token(&emulator, "");
    let text =
        std::fs::read_to_string(Path::new(REPO).join("examples/workflows/scripts/graph-whoami.sh"))
            .unwrap();
    assert!(text.contains("GRAPH_ENDPOINT"));
    let ran = run_script(
        &emulator,
        "graph-whoami.sh",
        &[("TOKEN", &arm), ("CLIENT_ID", &emulator.client_id())],
    );
    let error = failed(&ran);
    assert!(error.contains("HTTP 401 (InvalidAuthenticationToken: Access token validation failure. Invalid audience.)"), "{error}");
    let graph_token = token(&emulator, "https://graph.microsoft.com/.default");
    let ran = run_script(
        &emulator,
        "graph-whoami.sh",
        &[
            ("TOKEN", &graph_token),
            ("CLIENT_ID", "00000000-0000-0000-0000-000000000000"),
        ],
    );
    assert!(failed(&ran).contains("service principal: Graph found none with appId"));
}

/// Runs one script of `examples/workflows/scripts/` as a `run:` step would (`bash -e`), and checks
/// that it printed no token.
fn run_script(emulator: &Emulator, script: &str, env: &[(&str, &str)]) -> Ran {
    let work = tempfile::tempdir().unwrap();
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, emulator.ca_pem()).unwrap();
    let output = Command::new("bash")
        .args(["--noprofile", "--norc", "-e"])
        .arg(Path::new("examples/workflows/scripts").join(script))
        .current_dir(REPO)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TMPDIR", work.path())
        .env("CURL_CA_BUNDLE", &ca)
        .env("GRAPH_ENDPOINT", emulator.base_url())
        .env("ARM_ENDPOINT", emulator.base_url())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let ran = Ran {
        name: script.to_owned(),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        outputs: BTreeMap::new(),
        env_file: String::new(),
    };
    assert_no_token_printed(emulator, std::slice::from_ref(&ran));
    assert_runner_runs_no_server_text(std::slice::from_ref(&ran));
    ran
}

// --- Sovereign clouds (sovereign-clouds.md) -----------------------------------------------------

/// An emulator whose app trusts the Azure Government audience and whose ARM double accepts
/// `arm_audiences`.
fn gov_emulator(arm_audiences: &[&str]) -> Emulator {
    let config = Config {
        apps: vec![App {
            federated_credentials: vec![FederatedCredential {
                name: "github-main-usgov".into(),
                issuer: ISSUER_PLACEHOLDER.into(),
                subject: "repo:octo-org/octo-repo:ref:refs/heads/main".into(),
                audiences: vec!["api://AzureADTokenExchangeUSGov".into()],
            }],
            ..App::default()
        }],
        ..Config::default()
    };
    let emulator = Emulator::start(config).unwrap();
    emulator.set_services(Services {
        arm_audiences: arm_audiences.iter().map(|a| (*a).to_owned()).collect(),
        ..Services::default()
    });
    emulator
}

#[test]
fn sovereign_cloud_lists_vaults_with_the_clouds_own_token() {
    let emulator = gov_emulator(&[
        "https://management.usgovcloudapi.net",
        "https://management.usgovcloudapi.net/",
    ]);
    let ran = run_workflow(&emulator, "sovereign-clouds.yml", &[]);
    let step = last(&ran);
    assert_eq!(step.code, Some(0), "{ran:#?}");
    assert_eq!(step.stdout, "vault-prod westeurope\n");
    let calls = emulator.service_requests();
    assert_eq!(
        calls[0].path,
        format!("/subscriptions/{SUBSCRIPTION}/providers/Microsoft.RecoveryServices/vaults")
    );
    // The cloud's audience and scope went to GitHub and Entra.
    let github = emulator.recorded(azure_oidc_emulator::Hop::GitHub);
    assert!(
        github[0]
            .query
            .as_deref()
            .unwrap()
            .contains("audience=api%3A%2F%2FAzureADTokenExchangeUSGov"),
        "{:?}",
        github[0].query
    );
    let entra = emulator.recorded(azure_oidc_emulator::Hop::Entra);
    assert_eq!(
        entra[0].form_field("scope").as_deref(),
        Some("https://management.usgovcloudapi.net/.default")
    );
    // The workflow calls the same cloud's ARM host as the page's table gives for `environment`.
    let workflow =
        std::fs::read_to_string(Path::new(REPO).join("examples/workflows/sovereign-clouds.yml"))
            .unwrap();
    let page =
        std::fs::read_to_string(Path::new(REPO).join("docs/cookbook/sovereign-clouds.md")).unwrap();
    assert!(workflow.contains("environment: AzureUSGovernment"));
    assert!(workflow.contains("ARM_ENDPOINT: https://management.usgovcloudapi.net\n"));
    assert!(page.contains("| `AzureUSGovernment` | `https://login.microsoftonline.us` | `https://management.usgovcloudapi.net/.default` |"));
}

#[test]
fn sovereign_cloud_fails_when_the_token_is_for_another_clouds_arm() {
    // ARM of the public cloud refuses the Government token (ARM_ENDPOINT left at the default).
    let emulator = gov_emulator(&[
        "https://management.azure.com",
        "https://management.azure.com/",
    ]);
    let ran = run_workflow(&emulator, "sovereign-clouds.yml", &[]);
    let error = failed(last(&ran));
    assert!(error.contains("listing vaults failed: InvalidAuthenticationTokenAudience: The access token has been obtained for wrong audience or resource 'https://management.usgovcloudapi.net'"), "{error}");
}

// --- The pages show the files the tests run -----------------------------------------------------

/// The fenced blocks of a Markdown page.
fn fenced_blocks(page: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in page.lines() {
        match &mut current {
            None if line.trim_start().starts_with("```") => current = Some(String::new()),
            Some(block) if line.trim_start().starts_with("```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// Each recipe page shows each file it relies on verbatim (so page and tested file cannot drift) and
/// links it; the scripts are executable where the workflows run them.
#[test]
fn the_recipe_pages_show_the_tested_files_verbatim() {
    let shown: &[(&str, &[&str])] = &[
        ("rest.md", &["rest.yml"]),
        (
            "key-vault.md",
            &[
                "key-vault.yml",
                "scripts/read-secret.sh",
                "scripts/azure-call.sh",
            ],
        ),
        (
            "several-resources.md",
            &[
                "several-resources.yml",
                "scripts/list-resource-groups.sh",
                "scripts/graph-whoami.sh",
            ],
        ),
        ("sovereign-clouds.md", &["sovereign-clouds.yml"]),
    ];
    for (page, files) in shown {
        let text =
            std::fs::read_to_string(Path::new(REPO).join("docs/cookbook").join(page)).unwrap();
        let blocks = fenced_blocks(&text);
        for file in *files {
            let content =
                std::fs::read_to_string(Path::new(REPO).join("examples/workflows").join(file))
                    .unwrap();
            assert!(
                blocks.contains(&content),
                "docs/cookbook/{page} does not show examples/workflows/{file} verbatim (copy the file into a fenced block)"
            );
            assert!(
                text.contains(&format!("(../../examples/workflows/{file})")),
                "docs/cookbook/{page} does not link examples/workflows/{file}"
            );
        }
    }
    for script in [
        "read-secret.sh",
        "list-resource-groups.sh",
        "graph-whoami.sh",
    ] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(
            Path::new(REPO)
                .join("examples/workflows/scripts")
                .join(script),
        )
        .unwrap()
        .permissions()
        .mode();
        assert!(mode & 0o111 != 0, "{script} is not executable");
    }
}

// --- Recipes whose tool cannot run here ----------------------------------------------------------

/// The first ```yaml block of a recipe page, parsed.
fn page_yaml(page: &str) -> Yaml {
    let text = std::fs::read_to_string(Path::new(REPO).join("docs/cookbook").join(page)).unwrap();
    let start = text.find("```yaml\n").unwrap() + 8;
    let end = text[start..].find("```").unwrap() + start;
    YamlLoader::load_from_str(&text[start..end])
        .unwrap()
        .remove(0)
}

/// PowerShell (pwsh is not installed here): the `pwsh` step reads only variables its `env:` sets,
/// from outputs the action step has, and passes each to the `Connect-AzAccount` parameter that takes it.
#[test]
fn powershell_step_reads_only_what_its_env_sets() {
    let doc = page_yaml("powershell.md");
    let steps = doc["jobs"]["powershell"]["steps"].as_vec().unwrap();
    let pwsh = steps
        .iter()
        .find(|s| s["shell"].as_str() == Some("pwsh"))
        .unwrap();
    let env: Vec<&str> = pwsh["env"]
        .as_hash()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    let script = pwsh["run"].as_str().unwrap();
    let mut read = Vec::new();
    for (at, _) in script.match_indices("$env:") {
        let name: String = script[at + 5..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        read.push(name);
    }
    assert!(!read.is_empty());
    for name in &read {
        assert!(
            env.contains(&name.as_str()),
            "the script reads $env:{name}, which the step does not set"
        );
    }
    for (parameter, variable) in [
        ("-AccessToken", "TOKEN"),
        ("-AccountId", "CLIENT_ID"),
        ("-Tenant", "TENANT_ID"),
        ("-Subscription", "SUB"),
    ] {
        assert!(
            script.contains(&format!("{parameter} $env:{variable} ")),
            "{parameter} $env:{variable}"
        );
    }
    for (variable, output) in [
        ("TOKEN", "access-token"),
        ("CLIENT_ID", "client-id"),
        ("TENANT_ID", "tenant-id"),
        ("SUB", "subscription-id"),
    ] {
        assert_eq!(
            pwsh["env"][variable].as_str(),
            Some(format!("${{{{ steps.azure.outputs.{output} }}}}").as_str())
        );
    }
}

/// Terraform (not installed here): what `export-sdk-env` writes for the azurerm/azuread providers is
/// exactly what the page lists, every name is one the azurerm provider documents
/// (<https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/guides/service_principal_oidc>;
/// `ARM_ENVIRONMENT`'s values: `internal/provider/provider.go` in
/// <https://github.com/hashicorp/terraform-provider-azurerm>),
/// `ARM_ENVIRONMENT` takes a value the provider accepts (`public`, `usgovernment`, `china`), and
/// nothing written is secret.
#[test]
fn terraform_gets_the_variables_the_page_lists_and_azurerm_reads() {
    const AZURERM_READS: [&str; 8] = [
        "ARM_USE_OIDC",
        "ARM_CLIENT_ID",
        "ARM_TENANT_ID",
        "ARM_SUBSCRIPTION_ID",
        "ARM_ENVIRONMENT",
        "ARM_OIDC_REQUEST_URL",
        "ARM_OIDC_REQUEST_TOKEN",
        "ARM_OIDC_TOKEN",
    ];
    let page = std::fs::read_to_string(Path::new(REPO).join("docs/cookbook/terraform.md")).unwrap();
    let intro = &page[..page.find("```yaml").unwrap()];
    let listed: Vec<&str> = intro
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with("ARM_") && s.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(listed.len() >= 5, "{listed:?}");
    let doc = page_yaml("terraform.md");
    let with = &doc["jobs"]["terraform"]["steps"][1]["with"];
    assert_eq!(with["export-sdk-env"].as_bool(), Some(true));
    for (environment, expected) in [
        ("AzureCloud", "public"),
        ("AzureUSGovernment", "usgovernment"),
        ("AzureChinaCloud", "china"),
    ] {
        let emulator = Emulator::start(Config::default()).unwrap();
        let outcome = Step::new(&emulator)
            .with("INPUT_SUBSCRIPTION-ID", SUBSCRIPTION)
            .with("INPUT_EXPORT-SDK-ENV", "true")
            .with("INPUT_ENVIRONMENT", environment)
            // The emulator's app trusts the public audience; Terraform asks for it in every cloud.
            .with("INPUT_AUDIENCE", "api://AzureADTokenExchange")
            .run_checked();
        outcome.assert_succeeded();
        let exported: BTreeMap<String, String> = parse_file_commands(&outcome.env_file)
            .unwrap()
            .into_iter()
            .collect();
        let arm: Vec<&str> = exported
            .keys()
            .map(String::as_str)
            .filter(|k| k.starts_with("ARM_"))
            .collect();
        let mut sorted_listed = listed.clone();
        sorted_listed.sort_unstable();
        assert_eq!(
            arm, sorted_listed,
            "the page's list vs what export-sdk-env writes"
        );
        for name in &arm {
            assert!(AZURERM_READS.contains(name), "azurerm does not read {name}");
        }
        assert_eq!(exported["ARM_ENVIRONMENT"], expected);
        assert_eq!(exported["ARM_USE_OIDC"], "true");
        for secret in secrets(&emulator) {
            assert!(!outcome.env_file.contains(&secret), "a token in GITHUB_ENV");
        }
    }
}

// --- Kubernetes and GitLab CI (kubernetes-and-gitlab.md) ----------------------------------------

/// The `n`th ```yaml block of a recipe page, parsed.
fn page_yaml_block(page: &str, n: usize) -> Yaml {
    let text = std::fs::read_to_string(Path::new(REPO).join("docs/cookbook").join(page)).unwrap();
    let block = text.split("```yaml\n").nth(n + 1).unwrap();
    let block = &block[..block.find("```").unwrap()];
    YamlLoader::load_from_str(block).unwrap().remove(0)
}

/// What one run of a snippet outside GitHub left.
struct Outside {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// No token of the run (nor `id_token`, which the emulator minted without recording) in `texts`.
fn assert_no_token_in(emulator: &Emulator, id_token: &str, texts: &[&str]) {
    let mut all = secrets(emulator);
    all.push(id_token.to_owned());
    assert!(
        !emulator.issued_access_tokens().is_empty(),
        "no exchange happened"
    );
    for text in texts {
        for secret in &all {
            for form in encodings(secret) {
                assert!(!text.contains(&form), "a token was printed: {text}");
            }
        }
    }
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Runs the page's Kubernetes Job: the init container's `args` with the real binary, then the main
/// container's `sh -c`, with `/var/run/azure` (the shared memory volume) a temp directory.
fn run_kubernetes_job(emulator: &Emulator) -> (Outside, Outside, String) {
    let job = page_yaml_block("kubernetes-and-gitlab.md", 0);
    let spec = &job["spec"]["template"]["spec"];
    assert_eq!(
        job["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"].as_str(),
        Some("true")
    );
    let work = tempfile::tempdir().unwrap();
    let volume = work.path().join("azure");
    std::fs::create_dir(&volume).unwrap();
    let mount = |text: &str| text.replace("/var/run/azure", volume.to_str().unwrap());
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, emulator.ca_pem()).unwrap();
    // What the workload identity webhook projects into the pod.
    let id_token = emulator.mint_id_token("api://AzureADTokenExchange", serde_json::Map::new());
    let federated = work.path().join("azure-identity-token");
    std::fs::write(&federated, &id_token).unwrap();
    let init = &spec["initContainers"][0];
    let args: Vec<String> = init["args"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| mount(a.as_str().unwrap()))
        .collect();
    let output = Command::new(crate::support::BIN)
        .args(&args)
        .env_clear()
        .env("AZURE_FEDERATED_TOKEN_FILE", &federated)
        .env("AZURE_CLIENT_ID", emulator.client_id())
        .env("AZURE_TENANT_ID", emulator.tenant_id())
        .env("AZURE_AUTHORITY_HOST", emulator.authority_host())
        .env("SSL_CERT_FILE", &ca)
        .output()
        .unwrap();
    let init_run = Outside {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    let main = &spec["containers"][0];
    let command: Vec<&str> = main["command"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(command, ["sh", "-c"]);
    let mut env: BTreeMap<String, String> = main["env"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|e| {
            let name = e["name"].as_str().unwrap().to_owned();
            (name, e["value"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(env["ARM_ENDPOINT"], "https://management.azure.com");
    env.insert("ARM_ENDPOINT".into(), emulator.base_url());
    env.insert("AZURE_SUBSCRIPTION_ID".into(), SUBSCRIPTION.into());
    let output = Command::new("sh")
        .arg("-c")
        .arg(mount(main["args"][0].as_str().unwrap()))
        .env_clear()
        .envs(&env)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CURL_CA_BUNDLE", &ca)
        .output()
        .unwrap();
    let main_run = Outside {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    let token_file = volume.join("token");
    assert_eq!(mode_of(&token_file), 0o600);
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert!(
        emulator.issued_access_tokens().contains(&token),
        "the file holds exactly the token"
    );
    assert_no_token_in(
        emulator,
        &id_token,
        &[
            &init_run.stdout,
            &init_run.stderr,
            &main_run.stdout,
            &main_run.stderr,
        ],
    );
    (init_run, main_run, id_token)
}

#[test]
fn kubernetes_job_lists_vaults_with_the_token_file() {
    let emulator = emulator_with(Services::default());
    let (init, main, _) = run_kubernetes_job(&emulator);
    assert_eq!(init.code, Some(0), "{}", init.stderr);
    let printed: serde_json::Value = serde_json::from_str(init.stdout.trim()).unwrap();
    assert!(printed.get("access_token").is_none());
    assert!(printed["expires_on"].is_u64(), "{printed}");
    assert_eq!(main.code, Some(0), "{}", main.stderr);
    let vaults: serde_json::Value = serde_json::from_str(&main.stdout).unwrap();
    assert_eq!(vaults["value"][0]["name"], "vault-prod");
    let calls = emulator.service_requests();
    assert_eq!(
        calls[0].path,
        format!("/subscriptions/{SUBSCRIPTION}/providers/Microsoft.RecoveryServices/vaults")
    );
    assert_eq!(calls[0].query.as_deref(), Some("api-version=2023-04-01"));
}

#[test]
fn kubernetes_job_fails_when_arm_says_no() {
    let emulator = emulator_with(Services {
        forbid: true,
        ..Services::default()
    });
    let (init, main, _) = run_kubernetes_job(&emulator);
    assert_eq!(init.code, Some(0), "{}", init.stderr);
    assert_eq!(
        main.code,
        Some(22),
        "curl --fail-with-body: {}",
        main.stderr
    );
    assert!(
        main.stdout.contains("\"code\":\"AuthorizationFailed\""),
        "{}",
        main.stdout
    );
}

/// Runs the page's GitLab job's `script:` lines with `bash -e`, `azure-oidc-token` on PATH.
fn run_gitlab_job(emulator: &Emulator) -> (Outside, Vec<std::path::PathBuf>) {
    let doc = page_yaml_block("kubernetes-and-gitlab.md", 1);
    let job = &doc["list-vaults"];
    let audience = job["id_tokens"]["AZURE_ID_TOKEN"]["aud"].as_str().unwrap();
    assert_eq!(
        job["variables"]["ARM_ENDPOINT"].as_str(),
        Some("https://management.azure.com")
    );
    let script: Vec<&str> = job["script"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|l| {
            l.as_str().unwrap_or_else(|| {
                panic!("a script: line YAML does not read as a command (quote it): {l:?}")
            })
        })
        .collect();
    let work = tempfile::tempdir().unwrap();
    let bin = work.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(crate::support::BIN, bin.join("azure-oidc-token")).unwrap();
    let tmp = work.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, emulator.ca_pem()).unwrap();
    let file = work.path().join("script.sh");
    std::fs::write(&file, script.join("\n") + "\n").unwrap();
    let id_token = emulator.mint_id_token(audience, serde_json::Map::new());
    let output = Command::new("bash")
        .args(["--noprofile", "--norc", "-e"])
        .arg(&file)
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("TMPDIR", &tmp)
        .env("AZURE_ID_TOKEN", &id_token)
        .env("AZURE_CLIENT_ID", emulator.client_id())
        .env("AZURE_TENANT_ID", emulator.tenant_id())
        .env("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
        .env("AZURE_AUTHORITY_HOST", emulator.authority_host())
        .env("ARM_ENDPOINT", emulator.base_url())
        .env("SSL_CERT_FILE", &ca)
        .env("CURL_CA_BUNDLE", &ca)
        .output()
        .unwrap();
    let run = Outside {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_no_token_in(emulator, &id_token, &[&run.stdout, &run.stderr]);
    // The token file `mktemp -d` made room for.
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&tmp).unwrap() {
        let token = dir.unwrap().path().join("azure-token");
        if token.exists() {
            assert_eq!(mode_of(&token), 0o600);
            files.push(token);
        }
    }
    (run, files)
}

#[test]
fn gitlab_job_lists_vaults_without_printing_the_token() {
    let emulator = emulator_with(Services::default());
    let (run, files) = run_gitlab_job(&emulator);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(files.len(), 1);
    assert!(run.stdout.contains("\"expires_on\":"), "{}", run.stdout);
    assert!(
        run.stdout.contains("\"name\":\"vault-prod\""),
        "{}",
        run.stdout
    );
}

#[test]
fn gitlab_job_fails_when_arm_says_no() {
    let emulator = emulator_with(Services {
        forbid: true,
        ..Services::default()
    });
    let (run, _) = run_gitlab_job(&emulator);
    assert_eq!(run.code, Some(22), "{}", run.stderr);
    assert!(
        run.stdout.contains("\"code\":\"AuthorizationFailed\""),
        "{}",
        run.stdout
    );
}

// --- The shipped scripts against hostile or slow answers (issue 19, items 7 to 9) --------------

use crate::support::http_double::{Answer, HttpDouble, command_lines_holding};

/// What ARM answers with the resource groups (or vaults) of the emulator's subscription, as a
/// double would: the scripts only read `value[].name` and `.location`.
const LIST: &str = r#"{"value":[{"name":"rg-app","location":"westeurope"}]}"#;

/// A proxy's error page that holds workflow commands for both of the runner's parsers.
const HOSTILE_PAGE: &str = "<html><body>Bad gateway\n::stop-commands::pwned\n##[warning]injected\n::add-mask::oops\n%0A::error::forged\n</body></html>";

/// The workflows' REST steps, run against `double` as their ARM endpoint.
fn run_against(file: &str, double: &HttpDouble) -> Vec<Ran> {
    let emulator = if file.starts_with("sovereign") {
        gov_emulator(&[])
    } else {
        emulator_with(Services::default())
    };
    // run_workflow replays every step through the runner model (assert_runner_runs_no_server_text).
    run_workflow(&emulator, file, &[("ARM_ENDPOINT", &double.url)])
}

/// Each step's output replayed through the runner model (both parsers): only the commands the
/// scripts write themselves ran (`::error`, `::add-mask::`, the action's own fences), nothing a
/// server sent.
fn assert_runner_runs_no_server_text(ran: &[Ran]) {
    for step in ran {
        let log = crate::support::RunnerLog::replay(&step.stdout, &step.stderr);
        assert!(!log.stopped(), "`{}` left the runner stopped", step.name);
        for command in &log.processed {
            let name = command.name.to_ascii_lowercase();
            let ours = match name.as_str() {
                "error" | "add-mask" | "debug" => true,
                "stop-commands" => command.data.starts_with("inert"),
                other => other.starts_with("inert"),
            };
            assert!(ours, "`{}` had the runner run {command:?}", step.name);
        }
        assert!(
            !log.masks().iter().any(|m| m == "oops"),
            "`{}` registered a server's mask",
            step.name
        );
    }
}

#[test]
fn the_scan_sees_a_token_on_a_command_line() {
    // The control: the old form (`-H "Authorization: Bearer $TOKEN"`) is seen while curl waits.
    let double = HttpDouble::start(vec![Answer::new(200, LIST)]);
    let token = format!("eyJ{}", uuid_like());
    let status = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!("{}/x", double.url))
        .status()
        .unwrap();
    assert!(status.success());
    let seen = double.seen();
    assert_eq!(seen.len(), 1);
    assert!(
        !seen[0].token_on_command_lines.is_empty(),
        "the scan did not see curl's own command line"
    );
    assert!(command_lines_holding(&token).is_empty(), "curl has exited");
}

fn uuid_like() -> String {
    format!("{:x}{:x}", std::process::id(), SystemTimeNanos::now())
}

struct SystemTimeNanos;
impl SystemTimeNanos {
    fn now() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    }
}

#[test]
fn rest_recipes_keep_the_token_off_every_command_line() {
    for (file, expected) in [
        ("rest.yml", "rg-app\n"),
        ("sovereign-clouds.yml", "rg-app westeurope\n"),
    ] {
        let double = HttpDouble::start(vec![Answer::new(200, LIST)]);
        let ran = run_against(file, &double);
        assert_eq!(last(&ran).code, Some(0), "{file}: {ran:#?}");
        assert_eq!(last(&ran).stdout, expected, "{file}");
        let seen = double.seen();
        assert_eq!(seen.len(), 1, "{file}");
        assert!(
            seen[0]
                .authorization
                .as_deref()
                .is_some_and(|a| a.starts_with("Bearer ey"))
        );
        assert_eq!(
            seen[0].token_on_command_lines,
            Vec::<String>::new(),
            "{file}: the token was on a command line while the request ran"
        );
    }
}

#[test]
fn a_proxy_error_page_runs_no_workflow_command() {
    for (file, what) in [
        ("rest.yml", "listing resource groups failed: "),
        ("sovereign-clouds.yml", "listing vaults failed: "),
    ] {
        let double = HttpDouble::start(vec![Answer::new(502, HOSTILE_PAGE)]);
        let ran = run_against(file, &double);
        let error = failed(last(&ran));
        assert!(
            error.starts_with(&format!("::error::{what}<html>")),
            "{file}: {error}"
        );
        // The page is data of the one ::error line: its line breaks and `%` are escaped.
        assert!(
            error.contains("%0A::stop-commands::pwned%0A##[warning]"),
            "{error}"
        );
        assert!(error.contains("%250A::error::forged"), "{error}");
    }
}

#[test]
fn list_resource_groups_follows_no_next_link_off_its_host() {
    // A nextLink to another host (here: another port) over http never gets the token.
    let elsewhere = HttpDouble::start(vec![Answer::new(200, LIST)]);
    let page = format!(
        r#"{{"value":[{{"name":"rg-app"}}],"nextLink":"{}/subscriptions/s/resourcegroups?api-version=2021-04-01&$skiptoken=x"}}"#,
        elsewhere.url
    );
    let first = HttpDouble::start(vec![Answer::new(200, &page)]);
    let emulator = emulator_with(Services::default());
    let token = token(&emulator, "");
    let ran = run_script(
        &emulator,
        "list-resource-groups.sh",
        &[
            ("TOKEN", &token),
            ("SUBSCRIPTION_ID", SUBSCRIPTION),
            ("ARM_ENDPOINT", &first.url),
        ],
    );
    let error = failed(&ran);
    assert!(error.contains("nextLink leads to"), "{error}");
    assert!(error.contains("not sending the token there"), "{error}");
    assert_eq!(ran.stdout.lines().next(), Some("rg-app"));
    assert_eq!(first.seen().len(), 1);
    assert!(
        elsewhere.seen().is_empty(),
        "the token went to {}",
        elsewhere.url
    );
    assert!(first.seen()[0].token_on_command_lines.is_empty());
}

/// `same_origin` of azure-call.sh: the rule every paging loop uses before sending the token on.
#[test]
fn paging_links_are_followed_only_over_https_on_the_first_host() {
    let check = |first: &str, next: &str| {
        Command::new("bash")
            .args(["--noprofile", "--norc", "-c"])
            .arg(r#". examples/workflows/scripts/azure-call.sh; same_origin "$1" "$2""#)
            .args(["check", first, next])
            .current_dir(REPO)
            .status()
            .unwrap()
            .success()
    };
    let arm = "https://management.azure.com/subscriptions/s/resourcegroups?api-version=1";
    for next in [
        "https://management.azure.com/subscriptions/s/resourcegroups?api-version=1&%24skiptoken=x",
        "https://management.azure.com:443/subscriptions/s/resourcegroups?$skiptoken=x",
    ] {
        assert!(check(arm, next), "{next}");
    }
    for next in [
        "http://management.azure.com/subscriptions/s",
        "https://management.azure.com.evil.example/subscriptions/s",
        "https://management.azure.com@evil.example/subscriptions/s",
        "https://management.azure.com:8443/subscriptions/s",
        "https://evil.example/https://management.azure.com/",
        "//management.azure.com/subscriptions/s",
        "",
    ] {
        assert!(!check(arm, next), "{next}");
    }
    let local = "https://127.0.0.1:8443/subscriptions/s";
    assert!(check(
        local,
        "https://127.0.0.1:8443/subscriptions/s?$skiptoken=x"
    ));
    assert!(!check(local, "https://127.0.0.1:9443/subscriptions/s"));
    assert!(!check(
        "http://127.0.0.1:8443/s",
        "http://127.0.0.1:8443/s?next"
    ));
}
