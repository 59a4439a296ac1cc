//! `federated-credential audit` as a process against the emulator's doubles of Microsoft Graph,
//! Azure Resource Manager and GitHub's REST API over loopback HTTPS: every finding code, paging,
//! 301/404, the exit statuses, the declared plan, a GHE.com issuer, GET-only reads, and a leak scan
//! of every output.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use azure_oidc_emulator::{
    Config, Directory, Emulator, GitHubApi, GitHubRepository, Hop, StoredCredential,
};
use serde_json::{Value, json};
use support::{BIN, Step};

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const APP: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
const IDENTITY: &str = "/subscriptions/00000000-0000-4000-8000-0000000000bb/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-deploy";
const GITHUB_TOKEN: &str = "ghs_auditReadOnlyToken0123456789abcdefABCDEF";

fn exact(name: &str, subject: &str) -> StoredCredential {
    StoredCredential::exact(name, ISSUER, subject)
}

/// octo-org/octo-repo (ID form, environment `production`), octo-org/legacy (name form), and
/// octo-org/templated (a customised template); octo-org/old-name was renamed to octo-org/octo-repo.
fn github() -> GitHubApi {
    let mut repo = GitHubRepository::new("octo-org", 123_456, "octo-repo", 456_789);
    repo.environments = vec!["production".to_owned()];
    repo.customization = json!({
        "use_default": true,
        "use_immutable_subject": true,
        "sub_claim_prefix": "repo:octo-org@123456/octo-repo@456789",
    });
    let mut legacy = GitHubRepository::new("octo-org", 123_456, "legacy", 111_111);
    legacy.customization = json!({
        "use_default": true,
        "use_immutable_subject": false,
        "sub_claim_prefix": "repo:octo-org/legacy",
    });
    let mut templated = GitHubRepository::new("octo-org", 123_456, "templated", 222_222);
    templated.customization = json!({ "use_default": false });
    GitHubApi {
        repositories: vec![repo, legacy, templated],
        renamed: vec![("octo-org/old-name".to_owned(), 456_789)],
        rate_limited: false,
        org_templates: vec![(
            "octo-org".to_owned(),
            vec![
                "repo".to_owned(),
                "context".to_owned(),
                "job_workflow_ref".to_owned(),
            ],
        )],
    }
}

fn emulator(directory: Directory) -> Emulator {
    let emulator = Emulator::start(Config::default()).unwrap();
    emulator.set_directory(directory);
    emulator.set_github_api(github());
    emulator.add_secret(GITHUB_TOKEN);
    emulator
}

fn app(credentials: Vec<StoredCredential>) -> Directory {
    Directory {
        applications: vec![(APP.to_owned(), credentials)],
        ..Directory::default()
    }
}

/// Runs `azure-oidc-token federated-credential audit ARGS` (endpoints at the emulator, the token
/// minted by the exchange unless ARGS give a file) with exactly these variables plus `env`; then
/// checks what every audit must: no secret on any stream or on disk, nothing written to the
/// runner's files, and no request to the doubles but GET.
fn audit(emulator: &Emulator, args: &[&str], env: &[(&str, &str)]) -> support::Outcome {
    let step = Step::new(emulator);
    let base = emulator.base_url();
    let mut command = Command::new(BIN);
    command
        .args(["federated-credential", "audit"])
        .args(args)
        .args(["--graph-endpoint", &base, "--arm-endpoint", &base])
        .env_clear();
    for var in [
        "SSL_CERT_FILE",
        "HOME",
        "TMPDIR",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "GITHUB_OUTPUT",
        "GITHUB_ENV",
        "GITHUB_STEP_SUMMARY",
    ] {
        command.env(var, &step.env[var]);
    }
    command
        .env("AZURE_CLIENT_ID", emulator.client_id())
        .env("AZURE_TENANT_ID", emulator.tenant_id())
        .env("AZURE_AUTHORITY_HOST", emulator.authority_host())
        .env("GITHUB_API_URL", &base)
        .envs(env.iter().copied())
        .current_dir(step.dir.path().join("workspace"));
    let outcome = step.run_command(command);
    support::assert_no_secret_in_streams(
        &emulator.secrets(),
        &support::id_tokens(emulator),
        &outcome,
        false,
    );
    support::assert_no_secret_on_disk(&emulator.secrets(), step.dir.path(), &[]);
    assert_eq!(outcome.output_file, "");
    assert_eq!(outcome.env_file, "");
    assert_eq!(outcome.summary, "");
    for request in emulator.audit_requests() {
        assert_eq!(request.method, "GET", "{} {}", request.method, request.path);
    }
    outcome
}

fn json_of(outcome: &support::Outcome) -> Value {
    serde_json::from_str(&outcome.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", outcome.stdout, outcome.stderr))
}

/// Finding codes by credential name (`""`: the top-level list).
fn codes(report: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    let list = |findings: &Value| -> BTreeSet<String> {
        findings
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_owned())
            .collect()
    };
    for credential in report["credentials"].as_array().unwrap() {
        out.insert(
            credential["name"].as_str().unwrap().to_owned(),
            list(&credential["findings"]),
        );
    }
    out.insert(String::new(), list(&report["findings"]));
    out
}

fn set(codes: &[&str]) -> BTreeSet<String> {
    codes.iter().map(|c| (*c).to_owned()).collect()
}

fn paths(emulator: &Emulator) -> Vec<String> {
    emulator
        .audit_requests()
        .iter()
        .map(|r| r.path.clone())
        .collect()
}

#[test]
fn a_healthy_app_exits_0_and_only_reads() {
    let emulator = emulator(app(vec![exact(
        "github-production",
        "repo:octo-org@123456/octo-repo@456789:environment:production",
    )]));
    let outcome = audit(
        &emulator,
        &["--app-id", APP],
        &[("GITHUB_TOKEN", GITHUB_TOKEN)],
    );
    assert_eq!(
        outcome.code,
        Some(0),
        "{}\n{}",
        outcome.stdout,
        outcome.stderr
    );
    assert!(
        outcome
            .stdout
            .contains("| github-production | repo:octo-org@123456/octo-repo@456789:environment:production | ok | | |"),
        "{}",
        outcome.stdout
    );
    assert!(outcome.stdout.contains("0 errors, 0 warnings."));
    let seen = paths(&emulator);
    for expected in [
        format!("/v1.0/applications(appId='{APP}')/federatedIdentityCredentials"),
        format!("/beta/applications(appId='{APP}')/federatedIdentityCredentials"),
        "/repositories/456789".to_owned(),
        "/repos/octo-org/octo-repo/actions/oidc/customization/sub".to_owned(),
        "/repos/octo-org/octo-repo/environments/production".to_owned(),
    ] {
        assert!(seen.contains(&expected), "{expected} not in {seen:?}");
    }
    // The Graph token went to Graph, the GitHub token to GitHub only.
    for request in emulator.audit_requests() {
        let authorization = request.header("authorization").unwrap_or_default();
        if request.path.starts_with("/v1.0") || request.path.starts_with("/beta") {
            assert!(
                emulator
                    .issued_access_tokens()
                    .iter()
                    .any(|t| authorization == format!("Bearer {t}"))
            );
        } else {
            assert_eq!(authorization, format!("Bearer {GITHUB_TOKEN}"));
            assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
        }
    }
    // The exchange asked Entra for Graph.
    let scope = emulator.recorded(Hop::Entra)[0]
        .form_field("scope")
        .unwrap();
    assert_eq!(scope, "https://graph.microsoft.com/.default");
}

/// Every finding code in one app of 18 credentials read in pages of 5, with a declaration.
#[test]
fn every_finding_code_through_paged_graph_lists_exits_2() {
    let id = |context: &str| format!("repo:octo-org@123456/octo-repo@456789:{context}");
    let mut slash = exact("issuer-slash", &id("ref:refs/heads/slash"));
    slash.issuer = format!("{ISSUER}/");
    let mut audience = exact("usgov-audience", &id("ref:refs/heads/gov"));
    audience.audiences = vec!["api://AzureADTokenExchangeUSGov".to_owned()];
    let mut credentials = vec![
        exact("gone", "repo:octo-org/gone-repo:ref:refs/heads/main"),
        exact("renamed", "repo:octo-org/old-name:environment:production"),
        exact("no-environment", &id("environment:staging")),
        exact(
            "default-form-on-template",
            "repo:octo-org@123456/templated@222222:ref:refs/heads/main",
        ),
        slash,
        exact(
            "wrong-case",
            "repo:Octo-Org@123456/Octo-Repo@456789:environment:production",
        ),
        exact("mutable", "repo:octo-org/legacy:ref:refs/heads/main"),
        exact("pull-requests", &id("pull_request")),
        StoredCredential::flexible(
            "every-repo",
            ISSUER,
            "claims['sub'] matches 'repo:octo-org/*:ref:refs/heads/main'",
        ),
        exact("twin-a", &id("ref:refs/heads/main")),
        exact("twin-b", &id("ref:refs/heads/main")),
        audience,
        exact("drifted", &id("ref:refs/heads/dev")),
    ];
    for i in 1..=5 {
        credentials.push(exact(
            &format!("ok-{i}"),
            &id(&format!("ref:refs/tags/v{i}")),
        ));
    }
    assert_eq!(credentials.len(), 18);
    let mut directory = app(credentials.clone());
    directory.page_size = 5;
    let emulator = emulator(directory);
    // Declared: everything but "gone" (undeclared), "drifted" with another subject, plus one missing.
    let dir = tempfile::tempdir().unwrap();
    let declared = dir.path().join("fic.jsonl");
    let mut lines = String::new();
    for c in credentials.iter().filter(|c| c.name != "gone") {
        let subject = if c.name == "drifted" {
            Some(id("ref:refs/heads/develop"))
        } else {
            c.subject.clone()
        };
        let mut line = json!({"name": c.name, "issuer": c.issuer, "audiences": c.audiences});
        match (&subject, &c.expression) {
            (Some(s), _) => line["subject"] = json!(s),
            (None, Some(e)) => {
                line["claimsMatchingExpression"] = json!({"value": e, "languageVersion": 1})
            }
            _ => unreachable!(),
        }
        lines.push_str(&format!("{line}\n"));
    }
    lines.push_str(&format!(
        "{}\n",
        json!({"name": "missing", "issuer": ISSUER, "subject": id("environment:production"), "audiences": ["api://AzureADTokenExchange"]})
    ));
    std::fs::write(&declared, lines).unwrap();

    let outcome = audit(
        &emulator,
        &[
            "--app-id",
            APP,
            "--format",
            "json",
            "--declared",
            declared.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(
        outcome.code,
        Some(2),
        "{}\n{}",
        outcome.stdout,
        outcome.stderr
    );
    let report = json_of(&outcome);
    let found = codes(&report);
    let expect: &[(&str, &[&str])] = &[
        ("gone", &["repository-not-found", "undeclared"]),
        ("renamed", &["repository-renamed"]),
        ("no-environment", &["environment-not-found"]),
        ("default-form-on-template", &["subject-form-mismatch"]),
        ("issuer-slash", &["issuer-mismatch"]),
        ("wrong-case", &["case-mismatch"]),
        ("mutable", &["mutable-subject"]),
        ("pull-requests", &["pull-request-subject"]),
        ("every-repo", &["wildcard-owner"]),
        ("twin-a", &["duplicate"]),
        ("twin-b", &["duplicate"]),
        ("usgov-audience", &["unusual-audience"]),
        ("drifted", &["differs-from-declared"]),
        ("ok-1", &[]),
        ("", &["not-deployed", "capacity"]),
    ];
    for (name, want) in expect {
        assert_eq!(found[*name], set(want), "{name}: {}", outcome.stdout);
    }
    // JSON shape: every credential has the documented keys, severities as documented.
    let first = &report["credentials"][0];
    for key in [
        "name",
        "issuer",
        "subject",
        "expression",
        "audiences",
        "findings",
    ] {
        assert!(first.get(key).is_some(), "{key}");
    }
    assert_eq!(first["expression"], Value::Null);
    assert_eq!(first["findings"][0]["severity"], "error");
    let every = report["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "every-repo")
        .unwrap();
    assert_eq!(every["subject"], Value::Null);
    assert_eq!(every["findings"][0]["severity"], "warning");
    // Paging: 18 credentials in pages of 5 is 4 pages on each of v1.0 and beta.
    let seen = paths(&emulator);
    for version in ["v1.0", "beta"] {
        let pages = seen
            .iter()
            .filter(|p| p.starts_with(&format!("/{version}/applications")))
            .count();
        assert_eq!(pages, 4, "{version}: {seen:?}");
    }
    // 301 then the ID; 404 for the gone one; the organisation's template was read.
    for expected in [
        "/repos/octo-org/old-name",
        "/repositories/456789",
        "/repos/octo-org/gone-repo",
        "/orgs/octo-org/actions/oidc/customization/sub",
    ] {
        assert!(seen.iter().any(|p| p == expected), "{expected}: {seen:?}");
    }
    // Messages say what to do.
    let message = |name: &str| {
        report["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["findings"][0]["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(message("renamed").contains("octo-org/octo-repo"));
    assert!(message("gone").contains("delete this credential"));
    assert!(
        message("default-form-on-template").contains("--claim-keys repo,context,job_workflow_ref")
    );
    assert!(message("mutable").contains("repo:octo-org@123456/legacy@111111:ref:refs/heads/main"));
}

#[test]
fn the_text_plan_ends_with_the_reconciling_commands() {
    let emulator = emulator(app(vec![
        exact(
            "kept",
            "repo:octo-org@123456/octo-repo@456789:environment:production",
        ),
        exact(
            "stray",
            "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main",
        ),
    ]));
    let dir = tempfile::tempdir().unwrap();
    let declared = dir.path().join("fic.jsonl");
    // The generator writes the declaration.
    let generated = Command::new(BIN)
        .args([
            "federated-credential",
            "--repository",
            "octo-org/octo-repo",
            "--environment",
            "production",
            "--owner-id",
            "123456",
            "--repository-id",
            "456789",
        ])
        .env_clear()
        .output()
        .unwrap();
    assert!(generated.status.success());
    let text = String::from_utf8(generated.stdout).unwrap();
    // Two lines: the name-based one (not deployed) and the ID-based one (deployed as "kept").
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines[1]["name"] = json!("kept");
    std::fs::write(
        &declared,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    let outcome = audit(
        &emulator,
        &["--app-id", APP, "--declared", declared.to_str().unwrap()],
        &[],
    );
    assert_eq!(
        outcome.code,
        Some(2),
        "{}\n{}",
        outcome.stdout,
        outcome.stderr
    );
    let stdout = &outcome.stdout;
    assert!(stdout.contains("| stray |"), "{stdout}");
    assert!(stdout.contains("| warning | undeclared |"), "{stdout}");
    assert!(stdout.contains("| error | not-deployed |"), "{stdout}");
    let block = stdout
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap_or_else(|| panic!("no command block: {stdout}"));
    let commands: Vec<&str> = block.lines().collect();
    assert_eq!(commands.len(), 2, "{block}");
    assert_eq!(
        commands[0],
        format!(
            "az ad app federated-credential delete --id {APP} --federated-credential-id 'stray'"
        )
    );
    assert!(commands[1].starts_with(&format!(
        "az ad app federated-credential create --id {APP} --parameters '{{\"name\":\"github-octo-org-octo-repo-environment-production\""
    )));
    // The audit ran none of them.
    assert!(emulator.audit_requests().iter().all(|r| r.method == "GET"));
}

#[test]
fn graph_403_exits_1_naming_the_permission() {
    let mut directory = app(Vec::new());
    directory.forbid_graph = true;
    let emulator = emulator(directory);
    let outcome = audit(&emulator, &["--app-id", APP], &[]);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "");
    assert!(outcome.stderr.contains("(403)"), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("Application.Read.All"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("owner of the app registration"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn arm_403_exits_1_naming_the_reader_role() {
    let directory = Directory {
        identities: vec![(IDENTITY.to_owned(), Vec::new())],
        forbid_arm: true,
        ..Directory::default()
    };
    let emulator = emulator(directory);
    let outcome = audit(&emulator, &["--identity", IDENTITY], &[]);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("Azure Resource Manager"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("Reader role"), "{}", outcome.stderr);
}

#[test]
fn an_identity_is_read_through_arm_with_next_links() {
    let directory = Directory {
        identities: vec![(
            IDENTITY.to_owned(),
            vec![
                exact(
                    "prod",
                    "repo:octo-org@123456/octo-repo@456789:environment:production",
                ),
                exact("gone", "repo:octo-org@9/gone@10:ref:refs/heads/main"),
                exact("legacy", "repo:octo-org/legacy:ref:refs/heads/main"),
            ],
        )],
        page_size: 1,
        ..Directory::default()
    };
    let emulator = emulator(directory);
    let outcome = audit(
        &emulator,
        &["--identity", IDENTITY, "--format", "json"],
        &[],
    );
    assert_eq!(
        outcome.code,
        Some(2),
        "{}\n{}",
        outcome.stdout,
        outcome.stderr
    );
    let found = codes(&json_of(&outcome));
    assert_eq!(found["prod"], set(&[]));
    assert_eq!(found["gone"], set(&["repository-not-found"]));
    assert_eq!(found["legacy"], set(&["mutable-subject"]));
    let arm: Vec<_> = emulator
        .audit_requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/subscriptions/"))
        .collect();
    assert_eq!(arm.len(), 3, "one page per credential");
    assert!(
        arm[0]
            .query
            .as_deref()
            .unwrap()
            .contains("api-version=2025-01-31-preview")
    );
    assert!(arm[1].query.as_deref().unwrap().contains("skiptoken=1"));
    let scope = emulator.recorded(Hop::Entra)[0]
        .form_field("scope")
        .unwrap();
    assert_eq!(scope, "https://management.azure.com/.default");
}

#[test]
fn an_access_token_file_replaces_the_exchange() {
    let emulator = emulator(app(vec![exact(
        "github-production",
        "repo:octo-org@123456/octo-repo@456789:environment:production",
    )]));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("graph-token");
    // Another step mints the Graph token (as `az account get-access-token` would).
    let step = Step::new(&emulator);
    let mut token = step.command();
    token.args([
        "token",
        "--scope",
        "https://graph.microsoft.com/.default",
        "--client-id",
        &emulator.client_id(),
        "--tenant-id",
        &emulator.tenant_id(),
        "--authority-host",
        &emulator.authority_host(),
        "--output",
        file.to_str().unwrap(),
    ]);
    assert_eq!(step.run_command(token).code, Some(0));
    let exchanges = emulator.requests(Hop::Entra);
    let outcome = audit(
        &emulator,
        &[
            "--app-id",
            APP,
            "--access-token-file",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(
        outcome.code,
        Some(0),
        "{}\n{}",
        outcome.stdout,
        outcome.stderr
    );
    assert_eq!(
        emulator.requests(Hop::Entra),
        exchanges,
        "no second exchange"
    );
}

#[test]
fn a_ghe_com_issuer_is_checked_against_its_github() {
    let issuer = "https://token.actions.octocorp.ghe.com";
    let emulator = emulator(app(vec![
        StoredCredential::exact(
            "ghe-prod",
            issuer,
            "repo:octo-org@123456/octo-repo@456789:environment:production",
        ),
        StoredCredential::exact(
            "ghe-gone",
            issuer,
            "repo:octo-org/gone-repo:environment:production",
        ),
        StoredCredential::exact(
            "ghe-slash",
            &format!("{issuer}/"),
            "repo:octo-org@123456/octo-repo@456789:environment:production",
        ),
    ]));
    let base = emulator.base_url();
    let outcome = audit(
        &emulator,
        &[
            "--app-id",
            APP,
            "--format",
            "json",
            "--github-api-url",
            &base,
        ],
        &[],
    );
    assert_eq!(
        outcome.code,
        Some(2),
        "{}\n{}",
        outcome.stdout,
        outcome.stderr
    );
    let found = codes(&json_of(&outcome));
    assert_eq!(found["ghe-prod"], set(&[]));
    assert_eq!(found["ghe-gone"], set(&["repository-not-found"]));
    assert_eq!(found["ghe-slash"], set(&["issuer-mismatch"]));
    assert!(
        paths(&emulator)
            .iter()
            .any(|p| p == "/repos/octo-org/gone-repo")
    );
}

#[test]
fn inside_actions_server_text_cannot_run_workflow_commands() {
    let mut hostile = StoredCredential::exact(
        "hostile",
        "https://ghes.example.com/_services/token",
        "x\n::set-env name=A::b ##[stop-commands]zz | y",
    );
    hostile.audiences = vec!["::warning::aud".to_owned()];
    let emulator = emulator(app(vec![hostile]));
    for format in ["text", "json"] {
        let outcome = audit(
            &emulator,
            &["--app-id", APP, "--format", format],
            &[("GITHUB_ACTIONS", "true")],
        );
        // unusual-audience is a warning: exit 0.
        assert_eq!(
            outcome.code,
            Some(0),
            "{}\n{}",
            outcome.stdout,
            outcome.stderr
        );
        let log = support::RunnerLog::replay(&outcome.stdout, &outcome.stderr);
        assert!(
            log.processed.iter().all(|c| c.name == "add-mask"),
            "{:?}\n{}",
            log.processed,
            outcome.stdout
        );
    }
}

#[test]
fn bad_flags_are_refused_before_any_request() {
    let emulator = emulator(app(Vec::new()));
    for (args, says) in [
        (
            vec!["--app-id", "octo-deployer"],
            "--app-id \"octo-deployer\" is not a GUID",
        ),
        (vec!["--identity", "id-deploy"], "--identity \"id-deploy\""),
        (
            vec!["--app-id", APP, "--github-api-url", "http://api.github.com"],
            "--github-api-url",
        ),
        (
            vec!["--app-id", APP, "--declared", "/nonexistent/fic.jsonl"],
            "--declared",
        ),
        // A usage error is "could not run" (1), not "error findings" (2).
        (vec!["--app-id", APP, "--format", "yaml"], "--format"),
        (vec![], "--app-id"),
    ] {
        let outcome = audit(&emulator, &args, &[]);
        assert_eq!(outcome.code, Some(1), "{args:?}: {}", outcome.stderr);
        assert!(
            outcome.stderr.contains(says),
            "{args:?}: {}",
            outcome.stderr
        );
    }
    assert!(emulator.audit_requests().is_empty());
    assert_eq!(emulator.requests(Hop::Entra), 0);
}

#[test]
fn when_github_does_not_answer_the_audit_says_what_it_could_not_check() {
    let emulator = emulator(app(vec![exact(
        "legacy",
        "repo:octo-org/gone-repo:ref:refs/heads/main",
    )]));
    emulator.set_github_api(GitHubApi {
        rate_limited: true,
        ..github()
    });
    let outcome = audit(&emulator, &["--app-id", APP, "--format", "json"], &[]);
    // Without GitHub's answer only what needs no answer is found: a warning, exit 0, and a warning
    // on stderr that the rest is missing.
    assert_eq!(
        outcome.code,
        Some(0),
        "{}\n{}",
        outcome.stdout,
        outcome.stderr
    );
    assert_eq!(
        codes(&json_of(&outcome))["legacy"],
        set(&["mutable-subject"])
    );
    assert!(
        outcome.stderr.contains("warning: GitHub did not answer about the repository of credential \"legacy\" (HTTP 403: "),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("API rate limit exceeded"),
        "{}",
        outcome.stderr
    );
    let in_actions = audit(&emulator, &["--app-id", APP], &[("GITHUB_ACTIONS", "true")]);
    assert!(
        in_actions
            .stderr
            .lines()
            .any(|l| l.starts_with("::warning::GitHub did not answer")),
        "{}",
        in_actions.stderr
    );
}

/// The weekly workflow of docs/federated-credentials.md, run as the runner would: its `run:` steps
/// with `bash -e` and their `env:` after `${{ … }}` expansion. `docker` is a stand-in that hands
/// out the binary under test; the one change to the script is the endpoints (`--graph-endpoint`,
/// `--arm-endpoint`) pointed at the emulator.
fn run_documented_workflow(emulator: &Emulator, declared: &str) -> (Option<i32>, String, String) {
    use yaml_rust2::YamlLoader;
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/federated-credentials.md"
    ))
    .unwrap();
    let section = page
        .split("### A weekly audit in GitHub Actions")
        .nth(1)
        .unwrap();
    let yaml = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap();
    let docs = YamlLoader::load_from_str(yaml).unwrap();
    let workflow = &docs[0];
    assert!(workflow["on"]["schedule"][0]["cron"].as_str().is_some());
    assert_eq!(workflow["permissions"]["id-token"].as_str(), Some("write"));
    let job = workflow["jobs"]["audit"].clone();
    let work = tempfile::tempdir().unwrap();
    let root = work.path();
    std::fs::create_dir_all(root.join("repo/.github/azure")).unwrap();
    std::fs::write(root.join("repo/.github/azure/fic.jsonl"), declared).unwrap();
    let bin = root.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let docker = bin.join("docker");
    std::fs::write(
        &docker,
        format!(
            "#!/bin/sh\ncase \"$1\" in\n  create) echo c0ffee ;;\n  cp) [ \"$2\" = c0ffee:/azure-oidc-token ] && cp '{BIN}' \"$3\" ;;\n  rm) ;;\n  *) exit 1 ;;\nesac\n"
        ),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&docker).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&docker, permissions).unwrap();
    let ca = root.join("ca.pem");
    std::fs::write(&ca, emulator.ca_pem()).unwrap();
    let summary = root.join("summary.md");
    std::fs::write(&summary, "").unwrap();
    let runner_temp = root.join("runner-temp");
    std::fs::create_dir(&runner_temp).unwrap();
    let values = BTreeMap::from([
        ("vars.AUDIT_CLIENT_ID", emulator.client_id()),
        ("vars.AZURE_TENANT_ID", emulator.tenant_id()),
        ("vars.DEPLOY_APP_ID", APP.to_owned()),
        ("github.token", GITHUB_TOKEN.to_owned()),
    ]);
    let expand = |text: &str| {
        let mut out = text.to_owned();
        for (name, value) in &values {
            out = out.replace(&format!("${{{{ {name} }}}}"), value);
        }
        assert!(!out.contains("${{"), "unexpanded: {out}");
        out
    };
    let base = emulator.base_url();
    let mut last = (None, String::new(), String::new());
    for step in job["steps"].as_vec().unwrap() {
        let Some(script) = step["run"].as_str() else {
            assert!(
                step["uses"]
                    .as_str()
                    .unwrap()
                    .starts_with("actions/checkout@")
            );
            continue;
        };
        let script = expand(script).replace(
            "federated-credential audit",
            &format!("federated-credential audit --graph-endpoint {base} --arm-endpoint {base}"),
        );
        let mut command = Command::new("bash");
        command
            .args(["--noprofile", "--norc", "-e", "-c", &script])
            .current_dir(root.join("repo"))
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("HOME", root)
            .env("RUNNER_TEMP", &runner_temp)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("SSL_CERT_FILE", &ca)
            .env("GITHUB_API_URL", &base)
            .env("AZURE_AUTHORITY_HOST", emulator.authority_host())
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", emulator.request_url())
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", emulator.request_token());
        if let Some(env) = step["env"].as_hash() {
            for (k, v) in env {
                command.env(k.as_str().unwrap(), expand(v.as_str().unwrap()));
            }
        }
        let output = command.output().unwrap();
        last = (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        );
        if last.0 != Some(0) {
            break;
        }
    }
    let summary = std::fs::read_to_string(&summary).unwrap();
    let streams = support::Outcome {
        code: last.0,
        stdout: last.1.clone(),
        stderr: last.2.clone(),
        output_file: String::new(),
        env_file: String::new(),
        summary: summary.clone(),
        elapsed: std::time::Duration::ZERO,
    };
    support::assert_no_secret_in_streams(
        &emulator.secrets(),
        &support::id_tokens(emulator),
        &streams,
        false,
    );
    (last.0, summary, last.2)
}

#[test]
fn the_documented_weekly_workflow_fails_on_drift_with_the_table_in_the_summary() {
    let healthy = exact(
        "github-production",
        "repo:octo-org@123456/octo-repo@456789:environment:production",
    );
    let declared = format!(
        "{}\n",
        json!({"name": healthy.name, "issuer": ISSUER, "subject": healthy.subject, "audiences": healthy.audiences})
    );
    // In step with the declaration: the job passes and the summary holds the table.
    let emulator_ok = emulator(app(vec![healthy.clone()]));
    let (code, summary, stderr) = run_documented_workflow(&emulator_ok, &declared);
    assert_eq!(code, Some(0), "{summary}\n{stderr}");
    assert!(
        summary.contains("| github-production |") && summary.contains(" | ok | | |"),
        "{summary}"
    );
    // Drift (a credential nobody declared whose repository is gone): the job fails, the summary says why.
    let emulator_drift = emulator(app(vec![
        healthy,
        exact("forgotten", "repo:octo-org/gone-repo:ref:refs/heads/main"),
    ]));
    let (code, summary, stderr) = run_documented_workflow(&emulator_drift, &declared);
    assert_eq!(code, Some(2), "{summary}\n{stderr}");
    assert!(summary.contains("| forgotten |"), "{summary}");
    assert!(
        summary.contains("| error | repository-not-found |"),
        "{summary}"
    );
    assert!(
        summary.contains("az ad app federated-credential delete"),
        "{summary}"
    );
    // The audit's identity signed in with the job's OIDC token, for Graph.
    let scope = emulator_drift.recorded(Hop::Entra)[0]
        .form_field("scope")
        .unwrap();
    assert_eq!(scope, "https://graph.microsoft.com/.default");
    for request in emulator_drift.audit_requests() {
        assert_eq!(request.method, "GET");
    }
}

#[test]
fn an_exchange_failure_exits_1_with_the_exchange_hints() {
    let emulator = emulator(app(Vec::new()));
    let outcome = audit(
        &emulator,
        &["--app-id", APP],
        &[("AZURE_CLIENT_ID", "00000000-0000-4000-8000-00000000dead")],
    );
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "");
    assert!(outcome.stderr.contains("AADSTS"), "{}", outcome.stderr);
    assert!(
        emulator.audit_requests().is_empty(),
        "no read without a token"
    );
}

#[test]
fn an_unknown_app_or_a_token_for_another_service_exits_1_naming_it() {
    let emulator = emulator(app(Vec::new()));
    let other_app = "bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee";
    let outcome = audit(&emulator, &["--app-id", other_app], &[]);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains(&format!(
            "no app registration has application ID {other_app} in this tenant (404)"
        )),
        "{}",
        outcome.stderr
    );
    // An ARM token (the `token` command's default scope) given for an app: Graph says 401.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("arm-token");
    let step = Step::new(&emulator);
    let mut token = step.command();
    token.args([
        "token",
        "--client-id",
        &emulator.client_id(),
        "--tenant-id",
        &emulator.tenant_id(),
        "--authority-host",
        &emulator.authority_host(),
        "--output",
        file.to_str().unwrap(),
    ]);
    assert_eq!(step.run_command(token).code, Some(0));
    let outcome = audit(
        &emulator,
        &[
            "--app-id",
            APP,
            "--access-token-file",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("refused the access token (401)"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("--resource-type ms-graph"),
        "{}",
        outcome.stderr
    );
}
