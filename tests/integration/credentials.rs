//! Federated credentials that cannot go wrong: `federated-credential` run as a process, each output
//! format checked against the schema it targets, and `explain --expression/--subject` run against
//! the emulator's HTTPS issuer.
//!
//! Schemas, as published (read 2026-11-30):
//! - Graph `federatedIdentityCredential` (beta adds `claimsMatchingExpression`, exclusive with
//!   `subject`): <https://learn.microsoft.com/graph/api/resources/federatedidentitycredential?view=graph-rest-beta>,
//!   <https://learn.microsoft.com/graph/api/resources/federatedidentityexpression?view=graph-rest-beta>
//!   (`value`, `languageVersion` = 1).
//! - Flexible credentials (preview; GitHub issuer `https://token.actions.githubusercontent.com`,
//!   claims `sub` and `job_workflow_ref`, operators `eq`, `matches`, `and`; `az rest` against Graph
//!   beta): <https://learn.microsoft.com/entra/workload-id/workload-identities-flexible-federated-identity-credentials>.
//! - `az identity federated-credential create` `--claims-matching-expression-value`,
//!   `--claims-matching-expression-version`, name pattern `^[a-zA-Z0-9]{1}[a-zA-Z0-9-_]{2,119}$`,
//!   API 2025-01-31-preview: Azure/azure-cli
//!   `src/azure-cli/azure/cli/command_modules/identity/aaz/latest/identity/federated_credential/_create.py`.
//! - Bicep `Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2025-01-31-preview`
//!   (`properties.claimsMatchingExpression.{value,languageVersion}`):
//!   <https://learn.microsoft.com/azure/templates/microsoft.managedidentity/userassignedidentities/federatedidentitycredentials>.
//! - Terraform azuread `azuread_application_federated_identity_credential` (`application_id`,
//!   `display_name`, `issuer`, `subject`, `audiences`) and
//!   `azuread_application_flexible_federated_identity_credential` (`application_id`,
//!   `display_name`, `issuer`, `claims_matching_expression`, `audience`):
//!   hashicorp/terraform-provider-azuread `docs/resources/application_*federated_identity_credential.md`.
//! - GitHub subjects (default, ID-based `repo:OWNER@ID/REPO@ID:…`, `include_claim_keys` templates,
//!   `:` as `%3A`): <https://docs.github.com/en/actions/reference/security/oidc>.

use crate::support;

use std::collections::BTreeSet;
use std::process::Command;

use azure_oidc_emulator::{Config, Emulator, Hop};
use serde_json::{Map, Value};
use support::{BIN, Step, assert_no_secret_in_streams, secrets};

const CLIENT_ID: &str = "11111111-2222-4333-8444-555555555555";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `azure-oidc-token ARGS` with an empty environment.
fn offline(args: &[&str]) -> Run {
    let output = Command::new(BIN).args(args).env_clear().output().unwrap();
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// `federated-credential --repository octo-org/octo-repo EXTRA…`, which must succeed.
fn generate(extra: &[&str]) -> Run {
    let mut args = vec!["federated-credential", "--repository", "octo-org/octo-repo"];
    args.extend(extra);
    let run = offline(&args);
    assert_eq!(run.code, Some(0), "{args:?}\n{}{}", run.stdout, run.stderr);
    run
}

/// A failed run: status 1, nothing on stdout, one `error:` line on stderr naming `flag`.
fn refused(args: &[&str], flag: &str) -> String {
    let run = offline(args);
    assert_eq!(run.code, Some(1), "{args:?}\n{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "", "nothing half-generated: {args:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {}", run.stderr);
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(flag),
        "the error names {flag}: {}",
        lines[0]
    );
    lines[0].to_owned()
}

fn json_lines(text: &str) -> Vec<Map<String, Value>> {
    text.lines()
        .map(|line| match serde_json::from_str(line).unwrap() {
            Value::Object(map) => map,
            other => panic!("not one object per line: {other}"),
        })
        .collect()
}

fn keys(map: &Map<String, Value>) -> BTreeSet<&str> {
    map.keys().map(String::as_str).collect()
}

// ---------------------------------------------------------------------------------------------
// generator defects

#[test]
fn names_outside_entras_rule_are_refused_naming_the_flag() {
    for bad in ["x", "has space", "_abc", &"n".repeat(121)] {
        let line = refused(
            &[
                "federated-credential",
                "--repository",
                "o/r",
                "--branch",
                "main",
                "--name",
                bad,
            ],
            "--name",
        );
        assert!(line.contains("3 to 120"), "{line}");
    }
    // The ID-based credential is named NAME-id: that must fit too.
    refused(
        &[
            "federated-credential",
            "--repository",
            "o/r",
            "--branch",
            "main",
            "--owner-id",
            "1",
            "--repository-id",
            "2",
            "--name",
            &"n".repeat(118),
        ],
        "--name",
    );
    let ok = generate(&["--branch", "main", "--name", &"n".repeat(120)]);
    assert_eq!(json_lines(&ok.stdout)[0]["name"], "n".repeat(120));
}

#[test]
fn derived_names_of_a_long_repository_stay_distinct_and_valid() {
    let repository = format!("octo-org/{}", "a".repeat(100));
    let run = |branch: &str, format: &str| {
        let output = offline(&[
            "federated-credential",
            "--repository",
            &repository,
            "--branch",
            branch,
            "--format",
            format,
        ]);
        assert_eq!(output.code, Some(0), "{}", output.stderr);
        output.stdout
    };
    let names: Vec<String> = ["release/2025", "release/2026"]
        .iter()
        .map(|b| {
            json_lines(&run(b, "json"))[0]["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_ne!(
        names[0], names[1],
        "the second create would fail with a duplicate name"
    );
    for name in &names {
        assert!(properties::entra_name_rule(name), "{name}");
    }
    // Terraform labels and Bicep symbols derive from the names, so they differ too.
    let label = |text: &str, prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap()
            .split_whitespace()
            .nth(2)
            .unwrap()
            .to_owned()
    };
    assert_ne!(
        label(&run("release/2025", "terraform"), "resource "),
        label(&run("release/2026", "terraform"), "resource ")
    );
    let bicep = |b: &str| {
        run(b, "bicep")
            .lines()
            .filter(|l| l.starts_with("resource ") && l.contains("federatedIdentityCredentials"))
            .map(|l| l.split_whitespace().nth(1).unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_ne!(bicep("release/2025"), bicep("release/2026"));
}

#[test]
fn full_refs_are_normalised_as_people_paste_them() {
    let branch = generate(&["--branch", "refs/heads/main"]);
    assert_eq!(
        json_lines(&branch.stdout)[0]["subject"],
        "repo:octo-org/octo-repo:ref:refs/heads/main"
    );
    let tag = generate(&["--tag", "refs/tags/v1.2.3"]);
    assert_eq!(
        json_lines(&tag.stdout)[0]["subject"],
        "repo:octo-org/octo-repo:ref:refs/tags/v1.2.3"
    );
    let crossed = refused(
        &[
            "federated-credential",
            "--repository",
            "o/r",
            "--branch",
            "refs/tags/v1",
        ],
        "--branch",
    );
    assert!(crossed.contains("use --tag v1"), "{crossed}");
    refused(
        &[
            "federated-credential",
            "--repository",
            "o/r",
            "--tag",
            "refs/heads/main",
        ],
        "--tag",
    );
}

/// The documented way to create several credentials, run as written with a stand-in `az` that
/// records its arguments: every call must get exactly one credential object.
#[test]
fn two_credentials_work_with_the_documented_az_loop() {
    let dir = tempfile::tempdir().unwrap();
    let run = generate(&[
        "--environment",
        "prod",
        "--owner-id",
        "123456",
        "--repository-id",
        "456789",
    ]);
    assert!(
        run.stderr.contains("one JSON object per line"),
        "{}",
        run.stderr
    );
    std::fs::write(dir.path().join("fic.jsonl"), &run.stdout).unwrap();

    let help = offline(&["federated-credential", "--help"]).stdout;
    let documented = help
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("while IFS= read -r fic;"))
        .unwrap_or_else(|| panic!("--help shows the loop:\n{help}"))
        .to_owned();

    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let calls = dir.path().join("calls");
    std::fs::create_dir(&calls).unwrap();
    let az = bin.join("az");
    std::fs::write(
        &az,
        "#!/bin/sh\nn=$(ls \"$CALLS\" | wc -l)\nprintf '%s\\n' \"$@\" > \"$CALLS/$n\"\n",
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&az).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&az, permissions).unwrap();

    let status = Command::new("bash")
        .args(["-e", "-c", &documented])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("CALLS", &calls)
        .env("APP_ID", CLIENT_ID)
        .status()
        .unwrap();
    assert!(status.success());
    let mut recorded: Vec<Vec<String>> = std::fs::read_dir(&calls)
        .unwrap()
        .map(|e| {
            std::fs::read_to_string(e.unwrap().path())
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect()
        })
        .collect();
    recorded.sort();
    assert_eq!(recorded.len(), 2, "one az call per credential");
    let mut subjects = Vec::new();
    for args in &recorded {
        assert_eq!(args[..4], ["ad", "app", "federated-credential", "create"]);
        assert_eq!(args[4..6], ["--id", CLIENT_ID]);
        assert_eq!(args[6], "--parameters");
        let body: Map<String, Value> = serde_json::from_str(&args[7]).unwrap();
        // The Graph v1.0 fields `az ad app federated-credential create` sends.
        assert_eq!(
            keys(&body),
            BTreeSet::from(["audiences", "issuer", "name", "subject"])
        );
        subjects.push(body["subject"].as_str().unwrap().to_owned());
    }
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "repo:octo-org/octo-repo:environment:prod",
            "repo:octo-org@123456/octo-repo@456789:environment:prod"
        ]
    );
}

#[test]
fn bicep_chains_credentials_on_one_identity() {
    let bicep = generate(&[
        "--environment",
        "prod",
        "--owner-id",
        "1",
        "--repository-id",
        "2",
        "--format",
        "bicep",
    ])
    .stdout;
    // Deployable as written: the identity is a parameter (`--parameters identityName=...`).
    assert!(
        bicep.contains("param identityName string\n\nresource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {\n  name: identityName\n}\n"),
        "{bicep}"
    );
    let blocks: Vec<&str> = bicep
        .split("\nresource ")
        .filter(|b| b.contains("/federatedIdentityCredentials@"))
        .collect();
    assert_eq!(blocks.len(), 2, "{bicep}");
    let first_symbol = blocks[0].split_whitespace().next().unwrap();
    assert!(
        blocks[0].starts_with(&format!(
            "{first_symbol} 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {{"
        )),
        "{bicep}"
    );
    assert!(!blocks[0].contains("dependsOn"), "{bicep}");
    assert!(
        blocks[1].contains(&format!("  dependsOn: [\n    {first_symbol}\n  ]\n")),
        "the second waits for the first (Entra answers 409 to concurrent writes):\n{bicep}"
    );
    for block in &blocks {
        for property in ["parent: identity", "issuer: ", "subject: ", "audiences: ["] {
            assert!(block.contains(property), "{property} in {block}");
        }
    }
}

#[test]
fn ghes_issuers_never_get_id_based_or_flexible_credentials() {
    let ghes = "https://ghes.example.com/_services/token";
    let ids = refused(
        &[
            "federated-credential",
            "--repository",
            "o/r",
            "--branch",
            "main",
            "--issuer",
            ghes,
            "--owner-id",
            "1",
            "--repository-id",
            "2",
        ],
        "--owner-id",
    );
    assert!(ids.contains("GitHub Enterprise Server"), "{ids}");
    let wildcard = refused(
        &[
            "federated-credential",
            "--repository",
            "o/r",
            "--branch",
            "a*",
            "--issuer",
            ghes,
        ],
        "--issuer https://token.actions.githubusercontent.com",
    );
    assert!(wildcard.contains("flexible"), "{wildcard}");
    // An enterprise (GHEC) issuer issues ID-based subjects.
    let ghec = generate(&[
        "--branch",
        "main",
        "--issuer",
        "https://token.actions.githubusercontent.com/octo-inc",
        "--owner-id",
        "1",
        "--repository-id",
        "2",
    ]);
    assert_eq!(json_lines(&ghec.stdout).len(), 2);
}

// ---------------------------------------------------------------------------------------------
// flexible credentials in every format

const FLEXIBLE: &str = "claims['sub'] matches 'repo:octo-org/octo-repo:ref:refs/heads/release/*'";

#[test]
fn a_wildcard_branch_is_a_flexible_credential_in_every_format() {
    // JSON: the Graph beta body, `subject` absent (exclusive with the expression).
    let json = generate(&["--branch", "release/*"]);
    let body = &json_lines(&json.stdout)[0];
    assert_eq!(
        keys(body),
        BTreeSet::from(["audiences", "claimsMatchingExpression", "issuer", "name"])
    );
    assert_eq!(
        body["claimsMatchingExpression"],
        serde_json::json!({"value": FLEXIBLE, "languageVersion": 1})
    );
    for said in [
        "preview",
        "issuer https://token.actions.githubusercontent.com only",
        "claims sub and job_workflow_ref",
        "eq and matches",
        "2025-01-31-preview",
    ] {
        assert!(json.stderr.contains(said), "{said}: {}", json.stderr);
    }

    // az: Graph beta through az rest for an app, the preview flags for a managed identity.
    let az = generate(&[
        "--branch",
        "release/*",
        "--format",
        "az",
        "--client-id",
        CLIENT_ID,
    ])
    .stdout;
    assert!(
        az.contains(&format!(
            "az rest --method POST --url \"https://graph.microsoft.com/beta/applications/$(az ad app show --id {CLIENT_ID} --query id --output tsv)/federatedIdentityCredentials\""
        )),
        "{az}"
    );
    assert!(az.contains(" --body '{\"name\":"), "{az}");
    assert!(
        az.contains(
            "--claims-matching-expression-value 'claims['\\''sub'\\''] matches '\\''repo:octo-org/octo-repo:ref:refs/heads/release/*'\\''' --claims-matching-expression-version 1"
        ),
        "{az}"
    );
    assert!(!az.contains("--subject"), "{az}");
    assert!(
        !az.contains("az ad app federated-credential create"),
        "{az}"
    );

    // Bicep: the preview API version, the expression object, no subject.
    let bicep = generate(&["--branch", "release/*", "--format", "bicep"]).stdout;
    assert!(
        bicep.contains(
            "'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2025-01-31-preview'"
        ),
        "{bicep}"
    );
    assert!(
        bicep.contains(
            "    claimsMatchingExpression: {\n      value: 'claims[\\'sub\\'] matches \\'repo:octo-org/octo-repo:ref:refs/heads/release/*\\''\n      languageVersion: 1\n    }\n"
        ),
        "{bicep}"
    );
    assert!(!bicep.contains("subject:"), "{bicep}");

    // Terraform: azuread's flexible resource and its argument names (audience is singular).
    let terraform = generate(&["--branch", "release/*", "--format", "terraform"]).stdout;
    assert!(
        terraform
            .contains("resource \"azuread_application_flexible_federated_identity_credential\""),
        "{terraform}"
    );
    let arguments: BTreeSet<&str> = terraform
        .lines()
        .filter_map(|l| {
            l.strip_prefix("  ")?
                .split_once(" = ")
                .map(|(k, _)| k.trim())
        })
        .collect();
    assert_eq!(
        arguments,
        BTreeSet::from([
            "application_id",
            "audience",
            "claims_matching_expression",
            "display_name",
            "issuer"
        ])
    );
    assert!(terraform.contains(&format!("claims_matching_expression = \"{FLEXIBLE}\"")));
}

/// The `az` commands for a flexible credential, run by a shell as printed, with a stand-in `az`:
/// the quoting survives and each command gets exactly the expression.
#[test]
fn the_flexible_az_commands_run_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let calls = dir.path().join("calls");
    std::fs::create_dir(&calls).unwrap();
    let az = bin.join("az");
    std::fs::write(
        &az,
        "#!/bin/sh\nn=$(ls \"$CALLS\" | wc -l)\nprintf '%s\\n' \"$@\" > \"$CALLS/$n\"\n[ \"$1 $2 $3\" = 'ad app show' ] && echo 0b1ec7-1d\nexit 0\n",
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&az).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&az, permissions).unwrap();
    let script = generate(&[
        "--branch",
        "release/*",
        "--format",
        "az",
        "--client-id",
        CLIENT_ID,
    ])
    .stdout;
    let status = Command::new("bash")
        .args(["-e", "-c", &script])
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("CALLS", &calls)
        .env("IDENTITY_NAME", "id-deployer")
        .env("RESOURCE_GROUP", "rg-deploy")
        .status()
        .unwrap();
    assert!(status.success());
    let mut recorded: Vec<(usize, Vec<String>)> = std::fs::read_dir(&calls)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_str().unwrap().parse().unwrap(),
                std::fs::read_to_string(e.path())
                    .unwrap()
                    .lines()
                    .map(str::to_owned)
                    .collect(),
            )
        })
        .collect();
    recorded.sort();
    let calls: Vec<Vec<String>> = recorded.into_iter().map(|(_, args)| args).collect();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(calls[0][..4], ["ad", "app", "show", "--id"]);
    let rest = &calls[1];
    assert_eq!(rest[..4], ["rest", "--method", "POST", "--url"]);
    assert_eq!(
        rest[4],
        "https://graph.microsoft.com/beta/applications/0b1ec7-1d/federatedIdentityCredentials"
    );
    let body_at = rest.iter().position(|a| a == "--body").unwrap() + 1;
    let body: Map<String, Value> = serde_json::from_str(&rest[body_at]).unwrap();
    assert_eq!(body["claimsMatchingExpression"]["value"], FLEXIBLE);
    let identity = &calls[2];
    assert_eq!(
        identity[..3],
        ["identity", "federated-credential", "create"]
    );
    let value_at = identity
        .iter()
        .position(|a| a == "--claims-matching-expression-value")
        .unwrap()
        + 1;
    assert_eq!(identity[value_at], FLEXIBLE);
    let version_at = identity
        .iter()
        .position(|a| a == "--claims-matching-expression-version")
        .unwrap()
        + 1;
    assert_eq!(identity[version_at], "1");
}

/// Issue 18, section 6: a flexible credential written for a managed identity carries a warning in
/// every format that writes one (before the fix: the `az identity` command and the Bicep resource
/// came with no word that Entra does not support them there).
#[test]
fn flexible_credentials_for_managed_identities_carry_a_warning() {
    const WARNING: &str = "warning: Microsoft Entra does not support flexible federated credentials on managed identities yet";
    let az = generate(&["--branch", "release/*", "--format", "az"]).stdout;
    let lines: Vec<&str> = az.lines().collect();
    let identity = lines
        .iter()
        .position(|l| l.starts_with("az identity federated-credential create"))
        .unwrap();
    assert!(
        lines[identity - 1].starts_with(&format!("# {WARNING}")),
        "{az}"
    );
    assert!(lines[identity - 1].contains("2025-05-31-preview"), "{az}");
    let bicep = generate(&["--branch", "release/*", "--format", "bicep"]).stdout;
    assert!(bicep.contains(&format!("// {WARNING}")), "{bicep}");
    let json = generate(&["--branch", "release/*"]);
    assert!(json.stderr.contains(WARNING), "{}", json.stderr);
    // Exact credentials are supported on identities: no warning.
    for format in ["az", "bicep", "json"] {
        let run = generate(&["--branch", "release", "--format", format]);
        assert!(
            !run.stdout.contains(WARNING) && !run.stderr.contains(WARNING),
            "{format}"
        );
    }
}

/// Issue 18, section 6: the `az rest` URL of a flexible credential is the cloud's Graph (before the
/// fix: `https://graph.microsoft.com/beta` in every cloud).
#[test]
fn flexible_az_rest_goes_to_the_clouds_graph() {
    for (cloud, graph) in [
        ("AzureCloud", "https://graph.microsoft.com/beta/"),
        ("AzureUSGovernment", "https://graph.microsoft.us/beta/"),
        (
            "AzureChinaCloud",
            "https://microsoftgraph.chinacloudapi.cn/beta/",
        ),
    ] {
        let az = generate(&[
            "--branch",
            "release/*",
            "--format",
            "az",
            "--environment-cloud",
            cloud,
        ])
        .stdout;
        assert!(
            az.contains(&format!(
                "az rest --method POST --url \"{graph}applications/"
            )),
            "{cloud}: {az}"
        );
        assert_eq!(
            az.matches("graph.microsoft.com").count(),
            usize::from(cloud == "AzureCloud"),
            "{cloud}: {az}"
        );
    }
}

/// Issue 18, section 6: the reusable-workflows template (repository_owner_id, job_workflow_ref)
/// takes `--owner-id` alone (before the fix: clap demanded `--repository-id`, exit 2); a template
/// with `repo` still needs both IDs and says so.
#[test]
fn owner_id_alone_serves_a_template_without_repo() {
    let run = generate(&[
        "--claim-keys",
        "repository_owner_id,job_workflow_ref",
        "--owner-id",
        "123456",
        "--job-workflow-ref",
        "octo-org/deploy/.github/workflows/deploy.yml@refs/heads/main",
    ]);
    let lines = json_lines(&run.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0]["subject"],
        "repository_owner_id:123456:job_workflow_ref:octo-org/deploy/.github/workflows/deploy.yml@refs/heads/main"
    );
    let error = refused(
        &[
            "federated-credential",
            "--repository",
            "octo-org/octo-repo",
            "--branch",
            "main",
            "--owner-id",
            "123456",
        ],
        "--repository-id",
    );
    assert!(
        error.contains("--owner-id without --repository-id"),
        "{error}"
    );
    refused(
        &[
            "federated-credential",
            "--repository",
            "octo-org/octo-repo",
            "--branch",
            "main",
            "--repository-id",
            "456789",
        ],
        "--owner-id",
    );
}

#[test]
fn exact_credentials_keep_their_schemas() {
    let terraform = generate(&["--tag", "v1", "--format", "terraform"]).stdout;
    assert!(terraform.contains("resource \"azuread_application_federated_identity_credential\""));
    let arguments: BTreeSet<&str> = terraform
        .lines()
        .filter_map(|l| {
            l.strip_prefix("  ")?
                .split_once(" = ")
                .map(|(k, _)| k.trim())
        })
        .collect();
    assert_eq!(
        arguments,
        BTreeSet::from([
            "application_id",
            "audiences",
            "display_name",
            "issuer",
            "subject"
        ])
    );
    let az = generate(&["--tag", "v1", "--format", "az"]).stdout;
    assert!(az.contains("az ad app federated-credential create --id \"$APP_ID\" --parameters '{"));
    assert!(az.contains(
        "az identity federated-credential create --name 'github-octo-org-octo-repo-ref-refs-tags-v1' --identity-name \"$IDENTITY_NAME\" --resource-group \"$RESOURCE_GROUP\" --issuer 'https://token.actions.githubusercontent.com' --subject 'repo:octo-org/octo-repo:ref:refs/tags/v1' --audiences 'api://AzureADTokenExchange'"
    ), "{az}");
}

#[test]
fn a_reusable_workflow_at_any_ref_is_matched_on_its_own_claim() {
    let run = generate(&[
        "--environment",
        "prod",
        "--job-workflow-ref",
        "octo-org/deploy/.github/workflows/deploy.yml@*",
    ]);
    assert_eq!(
        json_lines(&run.stdout)[0]["claimsMatchingExpression"]["value"],
        "claims['sub'] eq 'repo:octo-org/octo-repo:environment:prod' and claims['job_workflow_ref'] matches 'octo-org/deploy/.github/workflows/deploy.yml@*'"
    );
}

// ---------------------------------------------------------------------------------------------
// subjects from include_claim_keys templates

#[test]
fn claim_key_templates_build_the_subject_github_issues() {
    // GitHub's own example for ["repo", "context", "job_workflow_ref"].
    let run = generate(&[
        "--environment",
        "prod",
        "--claim-keys",
        "repo,context,job_workflow_ref",
        "--job-workflow-ref",
        "octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main",
        "--owner-id",
        "123456",
        "--repository-id",
        "456789",
    ]);
    let subjects: Vec<Value> = json_lines(&run.stdout)
        .into_iter()
        .map(|c| c["subject"].clone())
        .collect();
    assert_eq!(
        subjects,
        [
            "repo:octo-org/octo-repo:environment:prod:job_workflow_ref:octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main",
            "repo:octo-org@123456/octo-repo@456789:environment:prod:job_workflow_ref:octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main"
        ]
    );
    // Order is the template's; a custom property's value comes from --claim; `:` becomes %3A.
    let property = generate(&[
        "--claim-keys",
        "repository_owner,repo_property_workspace_id",
        "--claim",
        "repo_property_workspace_id=ws:42",
    ]);
    assert_eq!(
        json_lines(&property.stdout)[0]["subject"],
        "repository_owner:octo-org:repo_property_workspace_id:ws%3A42"
    );
    let missing = refused(
        &[
            "federated-credential",
            "--repository",
            "o/r",
            "--claim-keys",
            "repo,repo_property_team",
        ],
        "--claim repo_property_team=VALUE",
    );
    assert!(
        missing.contains("--claim-keys includes repo_property_team"),
        "{missing}"
    );
    refused(
        &[
            "federated-credential",
            "--repository",
            "o/r",
            "--claim-keys",
            "repo,context",
        ],
        "--environment NAME",
    );
    refused(
        &[
            "federated-credential",
            "--repository",
            "o/r",
            "--branch",
            "main",
            "--claim-keys",
            "repo,bad-key",
        ],
        "--claim-keys",
    );
}

// ---------------------------------------------------------------------------------------------
// explain --expression / --subject, against the emulator

fn explain(emulator: &Emulator, token: &str, extra: &[&str]) -> support::Outcome {
    let step = Step::new(emulator);
    let mut args = vec!["explain", "--id-token-env", "T"];
    args.extend(extra);
    let mut command = Command::new(BIN);
    command
        .args(&args)
        .env_clear()
        .env("SSL_CERT_FILE", &step.env["SSL_CERT_FILE"])
        .env("T", token);
    command.current_dir(step.dir.path().join("workspace"));
    for var in ["HOME", "TMPDIR"] {
        command.env(var, &step.env[var]);
    }
    let outcome = step.run_command(command);
    // Every token of the test (the one explained was minted, so it is among them): none on either
    // stream, none in any file the run could have written.
    assert_no_secret_in_streams(
        &secrets(emulator),
        &support::id_tokens(emulator),
        &outcome,
        false,
    );
    support::assert_no_secret_on_disk(&secrets(emulator), step.dir.path(), &[]);
    outcome
}

fn token_for(emulator: &Emulator, sub: &str) -> String {
    emulator.mint_id_token(
        "api://AzureADTokenExchange",
        Map::from_iter([("sub".to_owned(), Value::from(sub))]),
    )
}

#[test]
fn explain_evaluates_the_generated_flexible_expression_against_a_token() {
    let emulator = Emulator::start(Config::default()).unwrap();
    // The expression the generator wrote, not one typed here.
    let expression = json_lines(&generate(&["--branch", "release/*"]).stdout)[0]
        ["claimsMatchingExpression"]["value"]
        .as_str()
        .unwrap()
        .to_owned();

    // The emulator's issuer is not github.com's, so Entra would not evaluate the expression.
    let release = token_for(
        &emulator,
        "repo:octo-org/octo-repo:ref:refs/heads/release/7",
    );
    let outcome = explain(&emulator, &release, &["--expression", &expression]);
    assert_eq!(
        outcome.code,
        Some(1),
        "{}{}",
        outcome.stdout,
        outcome.stderr
    );
    assert!(
        outcome.stdout.contains(
            "claims['sub'] is \"repo:octo-org/octo-repo:ref:refs/heads/release/7\": holds"
        ),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("this token's issuer is"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stderr.contains("--expression does not match"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn explain_says_which_condition_does_not_hold() {
    let emulator = Emulator::start(Config::default()).unwrap();
    // (A token with github.com's issuer would send explain to the real issuer: not from a test.)
    let main = token_for(&emulator, "repo:octo-org/octo-repo:ref:refs/heads/main");
    let outcome = explain(&emulator, &main, &["--expression", FLEXIBLE]);
    assert_eq!(outcome.code, Some(1));
    assert!(
        outcome.stdout.contains(
            "claims['sub'] is \"repo:octo-org/octo-repo:ref:refs/heads/main\": does NOT hold"
        ),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stdout
            .contains("result: the expression does NOT match this token")
    );
    assert!(
        outcome.stdout.contains("signature  RS256 with kid"),
        "the issuer check still ran"
    );
}

#[test]
fn explain_refuses_a_malformed_expression_before_any_request() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let token = token_for(&emulator, "repo:octo-org/octo-repo:ref:refs/heads/main");
    for (expression, said) in [
        (
            "claims['sub'] startswith 'repo:'",
            "operator \"startswith\"",
        ),
        ("claims['aud'] eq 'x'", "claim \"aud\""),
        (
            "claims['sub'] eq 'a' or claims['sub'] eq 'b'",
            "operator \"or\"",
        ),
        (
            "claims['sub'] matches repo:*",
            "at character 23: expected a comparand in single quotes",
        ),
    ] {
        let outcome = explain(&emulator, &token, &["--expression", expression]);
        assert_eq!(outcome.code, Some(1), "{expression}");
        let first = outcome.stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("error: --expression: ") && first.contains(said),
            "{expression}: {}",
            outcome.stderr
        );
        assert_eq!(outcome.stdout, "");
    }
    assert_eq!(
        emulator.requests(Hop::Discovery),
        0,
        "refused before any request"
    );
}

#[test]
fn explain_subject_warns_when_the_forms_differ() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let id_based = token_for(
        &emulator,
        "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main",
    );
    let outcome = explain(
        &emulator,
        &id_based,
        &["--subject", "repo:octo-org/octo-repo:ref:refs/heads/main"],
    );
    assert_eq!(
        outcome.code,
        Some(1),
        "{}{}",
        outcome.stdout,
        outcome.stderr
    );
    assert!(
        outcome.stdout.contains("warning: the token presents the ID-based (repo:OWNER@ID/REPO@ID:...) subject form, the credential has the name-based"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("renamed or transferred"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stderr.contains("--subject does not match"),
        "{}",
        outcome.stderr
    );

    let same = explain(
        &emulator,
        &id_based,
        &[
            "--subject",
            "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main",
        ],
    );
    assert_eq!(same.code, Some(0), "{}{}", same.stdout, same.stderr);
    assert!(same.stdout.contains("matches the token's sub"));
    assert!(!same.stdout.contains("warning:"));
}

#[test]
fn subject_mismatch_700213_names_the_presented_form() {
    // The repository was renamed: it now presents the ID-based subject, while the credential
    // (the emulator's default) still has the name-based one.
    let emulator = Emulator::start(Config {
        subject: "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main".to_owned(),
        ..Config::default()
    })
    .unwrap();
    let outcome = Step::new(&emulator).run_checked();
    let error = outcome.assert_failed();
    assert!(error.contains("AADSTS700213"), "{error}");
    assert!(
        outcome.stdout.contains(
            "This token presents the ID-based subject form; a credential with the name-based form \"repo:octo-org/octo-repo:ref:refs/heads/main\" does not match it."
        ),
        "{}",
        outcome.stdout
    );
    assert!(outcome.stdout.contains("renamed or transferred"));
}

#[test]
fn the_explain_input_says_which_subject_form_the_job_presents() {
    let emulator = Emulator::start(Config {
        subject: "repo:octo-org@123456/octo-repo@456789:environment:prod".to_owned(),
        ..Config::default()
    })
    .unwrap();
    let outcome = Step::new(&emulator)
        .with("INPUT_EXPLAIN", "true")
        .run_checked();
    outcome.assert_succeeded();
    for text in [&outcome.stdout, &outcome.summary] {
        assert!(
            text.contains(
                "This token presents the ID-based subject form; a credential with the name-based form \"repo:octo-org/octo-repo:environment:prod\" does not match it."
            ),
            "{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// the docs show real output

#[test]
fn the_docs_flexible_example_is_what_the_generator_prints() {
    const DOCS: &str = include_str!("../../docs/federated-credentials.md");
    let printed = generate(&["--branch", "release/*"]).stdout;
    assert!(
        DOCS.contains(&format!("```json\n{printed}```")),
        "docs/federated-credentials.md shows:\n{printed}"
    );
    // The documented loop is the one --help prints.
    let help = offline(&["federated-credential", "--help"]).stdout;
    let documented = DOCS
        .lines()
        .find(|l| l.starts_with("while IFS= read -r fic;"))
        .unwrap();
    assert!(help.contains(documented), "{documented}");
}

// ---------------------------------------------------------------------------------------------
// properties of names, expressions and wildcards

mod properties {
    use azure_oidc_token::onboarding::expression::{self, Condition, Expression, Operator};
    use azure_oidc_token::onboarding::name::{credential_name, valid_name};
    use proptest::prelude::*;

    /// Entra's rule for a credential name, written from its documentation (not asked of the code
    /// under test): `^[a-zA-Z0-9]{1}[a-zA-Z0-9-_]{2,119}$`.
    pub(super) fn entra_name_rule(name: &str) -> bool {
        let mut chars = name.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && (3..=120).contains(&name.len())
    }

    /// A plain recursive reading of `matches`, to compare the iterative matcher with.
    fn reference(pattern: &[char], value: &[char]) -> bool {
        match pattern.split_first() {
            None => value.is_empty(),
            Some(('*', rest)) => (0..=value.len()).any(|i| reference(rest, &value[i..])),
            Some(('?', rest)) => !value.is_empty() && reference(rest, &value[1..]),
            Some((c, rest)) => value.first() == Some(c) && reference(rest, &value[1..]),
        }
    }

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn derived_names_are_always_valid_and_stable(subject in "\\PC{0,300}") {
            let name = credential_name(&subject);
            prop_assert!(entra_name_rule(&name), "{name:?} from {subject:?}");
            prop_assert_eq!(name, credential_name(&subject));
        }

        /// The name validator behind `--name` is exactly Entra's rule.
        #[test]
        fn name_validator_is_entras_rule(name in prop_oneof![
            "[a-zA-Z0-9_.-]{0,3}",
            "[a-zA-Z0-9_-]{1,125}",
            "\\PC{0,20}",
        ]) {
            prop_assert_eq!(valid_name(&name), entra_name_rule(&name), "{:?}", name);
        }

        #[test]
        fn wildcard_matching_agrees_with_its_definition(
            pattern in "[ab*?]{0,8}",
            value in "[ab]{0,8}",
        ) {
            let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
            prop_assert_eq!(expression::wildcard_match(&pattern, &value), reference(&p, &v));
        }

        #[test]
        fn expressions_print_as_they_parse(
            conditions in prop::collection::vec(
                (prop::bool::ANY, prop::bool::ANY, "[a-z0-9:/@.*?_-]{1,20}"),
                1..4,
            ),
        ) {
            let expression = Expression {
                conditions: conditions
                    .into_iter()
                    .map(|(sub, matches, comparand)| Condition {
                        claim: if sub { "sub" } else { "job_workflow_ref" }.to_owned(),
                        operator: if matches { Operator::Matches } else { Operator::Eq },
                        comparand,
                    })
                    .collect(),
            };
            prop_assert_eq!(expression::parse(&expression.to_string()), Ok(expression));
        }

        #[test]
        fn the_parser_never_panics(text in "\\PC{0,80}") {
            if let Ok(parsed) = expression::parse(&text) {
                prop_assert_eq!(parsed.to_string(), text);
            }
        }
    }
}
