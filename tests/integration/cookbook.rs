//! The Backup cookbook, executed: each workflow in `examples/workflows/` runs step by step as the
//! runner would, against the emulator (GitHub's token endpoint, Entra, and its Azure Resource Manager
//! double for Recovery Services vaults). The action step is the real binary in action mode; each
//! `run:` step is written to a file and run with `bash --noprofile --norc -e FILE` (GitHub's default
//! shell: no pipefail), with the step's `env:` after `${{ … }}` expansion, `curl` trusting the test CA.
//!
//! Every scenario checks that no token (request token, ID token, access token) appears in any
//! step's stdout, stderr or outputs.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use azure_oidc_emulator::{Backup, Config, Emulator, StorageAccount};
use support::{Step, encodings, parse_file_commands, secrets};
use yaml_rust2::{Yaml, YamlLoader};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const SUBSCRIPTION: &str = "00000000-0000-4000-8000-0000000000bb";

/// One finished step.
#[derive(Debug)]
struct Ran {
    name: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    outputs: BTreeMap<String, String>,
}

impl Ran {
    fn errors(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with("::error"))
            .collect()
    }
}

/// The repository variables the workflows read (`vars.*`).
fn vars(emulator: &Emulator) -> BTreeMap<String, String> {
    let rg = |name: &str| format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}");
    BTreeMap::from([
        ("vars.AZURE_CLIENT_ID".into(), emulator.client_id()),
        ("vars.AZURE_TENANT_ID".into(), emulator.tenant_id()),
        ("vars.AZURE_SUBSCRIPTION_ID".into(), SUBSCRIPTION.into()),
        ("vars.BACKUP_RESOURCE_GROUP".into(), "rg-backup".into()),
        ("vars.BACKUP_VAULT".into(), "vault-prod".into()),
        ("vars.BACKUP_VAULT_DISKS".into(), "bvault-disks".into()),
        ("vars.DISK_BACKUP_INSTANCE".into(), "disk-data-bi".into()),
        (
            "vars.BACKUP_ITEM_PATH".into(),
            "backupFabrics/Azure/protectionContainers/iaasvmcontainer;iaasvmcontainerv2;rg-app;vm-app/protectedItems/vm;iaasvmcontainerv2;rg-app;vm-app".into(),
        ),
        (
            "vars.RESTORE_STAGING_ACCOUNT_ID".into(),
            format!(
                "{}/providers/Microsoft.Storage/storageAccounts/strestoredrill",
                rg("rg-restore")
            ),
        ),
        (
            "vars.RESTORE_TARGET_RESOURCE_GROUP_ID".into(),
            rg("rg-restore"),
        ),
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
/// `overrides` are added to every `run:` step's environment (as a job-level `env:` would).
fn run_workflow(emulator: &Emulator, file: &str, overrides: &[(&str, &str)]) -> Vec<Ran> {
    let path = Path::new(REPO).join("examples/workflows").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
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
    let job_env = env_of(job, &values);
    let work = tempfile::tempdir().unwrap();
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, emulator.ca_pem()).unwrap();
    let mut ran = Vec::new();
    for (index, step) in job["steps"].as_vec().unwrap().iter().enumerate() {
        let id = step["id"].as_str().map(str::to_owned);
        let name = step["name"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("step {index}"));
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
            let outcome = action.run_checked();
            outcome.assert_succeeded();
            Ran {
                name,
                code: outcome.code,
                outputs: outcome.outputs(),
                stdout: outcome.stdout,
                stderr: outcome.stderr,
            }
        } else {
            let script = step["run"].as_str().unwrap();
            let file_path = work.path().join(format!("step-{index}.sh"));
            std::fs::write(&file_path, script).unwrap();
            let output_file = work.path().join(format!("output-{index}"));
            std::fs::write(&output_file, "").unwrap();
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
                .env("CURL_CA_BUNDLE", &ca)
                .env("ARM_ENDPOINT", emulator.base_url())
                .env("POLL_SECONDS", "0");
            for (k, v) in overrides {
                command.env(k, v);
            }
            // A script that never ends fails the test with what it printed, instead of hanging it.
            let (status, stdout, stderr) =
                support::output_within(command, std::time::Duration::from_secs(120));
            let output = std::process::Output {
                status,
                stdout,
                stderr,
            };
            let outputs = parse_file_commands(&std::fs::read_to_string(&output_file).unwrap())
                .unwrap()
                .into_iter()
                .collect();
            Ran {
                name,
                code: output.status.code(),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
                outputs,
            }
        };
        if let Some(id) = id {
            for (k, v) in &result.outputs {
                values.insert(format!("steps.{id}.outputs.{k}"), v.clone());
            }
        }
        let failed = result.code != Some(0);
        ran.push(result);
        if failed {
            break;
        }
    }
    assert_no_token_printed(emulator, &ran);
    ran
}

/// No token of the run in any step's streams (the action's own `::add-mask::` lines aside), and
/// none in a `run:` step's outputs; and each `run:` step's output, replayed through the runner's
/// command processing, runs no command but `::error` and `::warning` (server text never becomes a
/// workflow command) and leaves processing on.
fn assert_no_token_printed(emulator: &Emulator, ran: &[Ran]) {
    let secrets = secrets(emulator);
    for step in ran.iter().skip(1) {
        let log = support::RunnerLog::replay(&step.stdout, &step.stderr);
        for command in &log.processed {
            assert!(
                ["error", "warning"].contains(&command.name.as_str()),
                "the runner would run `{}` from step `{}`: {command:?}\nstdout:\n{}\nstderr:\n{}",
                command.name,
                step.name,
                step.stdout,
                step.stderr
            );
        }
        assert!(!log.stopped(), "step `{}` left commands stopped", step.name);
    }
    assert!(secrets.len() >= 2, "the run issued no token");
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
    for step in ran.iter().skip(1) {
        for value in step.outputs.values() {
            for secret in &secrets {
                assert!(
                    !value.contains(secret.as_str()),
                    "a token in the outputs of `{}`",
                    step.name
                );
            }
        }
    }
}

fn emulator_with(backup: Backup) -> Emulator {
    let emulator = Emulator::start(Config::default()).unwrap();
    emulator.set_backup(backup);
    emulator
}

/// The last step (the script), its exit status and the lines it printed.
fn script(ran: &[Ran]) -> &Ran {
    assert_eq!(ran.len(), 2, "the action step, then the script: {ran:#?}");
    ran.last().unwrap()
}

/// The ARM requests as `METHOD path-after-the-vault`.
fn arm_calls(emulator: &Emulator) -> Vec<String> {
    emulator
        .arm_requests()
        .iter()
        .map(|r| {
            let path = r
                .path
                .split_once("/vaults/vault-prod")
                .map(|(_, rest)| format!("{{vault}}{rest}"))
                .unwrap_or_else(|| r.path.clone());
            format!("{} {path}", r.method)
        })
        .collect()
}

/// The job ID that the async operation handed out (the one a script must follow).
fn job_id_from_operation(ran: &Ran) -> String {
    ran.outputs
        .get("job-id")
        .cloned()
        .unwrap_or_else(|| panic!("no job-id output: {ran:#?}"))
}

#[test]
fn backup_on_demand_follows_the_job_to_completed() {
    let emulator = emulator_with(Backup::default());
    let ran = run_workflow(&emulator, "backup-on-demand.yml", &[]);
    let step = script(&ran);
    assert_eq!(step.code, Some(0), "{step:#?}");
    let job = job_id_from_operation(step);
    assert!(
        step.stdout
            .contains(&format!("backup job {job}: Completed")),
        "{}",
        step.stdout
    );
    let calls = arm_calls(&emulator);
    assert!(calls[0].starts_with("POST {vault}/backupFabrics/Azure/protectionContainers/"));
    assert!(calls[0].ends_with("/backup"), "{calls:?}");
    // The async operation polled until Succeeded (1 InProgress + 1), then the job until Completed (2 + 1).
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.contains("/operationsStatus/"))
            .count(),
        2,
        "{calls:?}"
    );
    let job_polls = calls
        .iter()
        .filter(|c| c.ends_with(&format!("/backupJobs/{job}")))
        .count();
    assert_eq!(job_polls, 3, "{calls:?}");
    // The request body the trigger sent.
    let trigger = &emulator.arm_requests()[0];
    let body: serde_json::Value = serde_json::from_str(&trigger.body).unwrap();
    assert_eq!(body["properties"]["objectType"], "IaasVMBackupRequest");
    assert!(
        trigger
            .query
            .as_deref()
            .unwrap()
            .contains("api-version=2025-08-01")
    );
}

#[test]
fn backup_on_demand_fails_its_step_when_the_backup_job_fails() {
    // The async operation says Succeeded (the job was created) while the job ends Failed: a script
    // that stopped at the operation would pass here.
    let emulator = emulator_with(Backup {
        job_outcome: "Failed".into(),
        ..Backup::default()
    });
    let ran = run_workflow(&emulator, "backup-on-demand.yml", &[]);
    let step = script(&ran);
    assert_eq!(step.code, Some(1), "{step:#?}");
    let job = job_id_from_operation(step);
    let errors = step.errors();
    assert_eq!(errors.len(), 1, "{}", step.stdout);
    assert!(
        errors[0].contains(&format!(
            "backup job {job} ended Failed: UserErrorStorageAccountNotFound"
        )),
        "{}",
        errors[0]
    );
}

#[test]
fn backup_on_demand_fails_when_the_trigger_is_forbidden() {
    let emulator = emulator_with(Backup {
        forbid_triggers: true,
        ..Backup::default()
    });
    let ran = run_workflow(&emulator, "backup-on-demand.yml", &[]);
    let step = script(&ran);
    assert_eq!(step.code, Some(1), "{step:#?}");
    let errors = step.errors();
    assert_eq!(errors.len(), 1, "{}", step.stdout);
    assert!(
        errors[0].contains("backup trigger: POST https://127.0.0.1:"),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("answered HTTP 403 (AuthorizationFailed: The client"),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("give the identity Backup Operator on the vault"),
        "{}",
        errors[0]
    );
    assert!(
        !errors[0].contains("api-version"),
        "the URL's query is not printed: {}",
        errors[0]
    );
    assert_eq!(
        arm_calls(&emulator).len(),
        1,
        "nothing after the refused trigger"
    );
    assert!(!step.stdout.contains("backup job"), "{}", step.stdout);
}

#[test]
fn backup_on_demand_rides_out_throttled_polls() {
    let emulator = emulator_with(Backup {
        throttle_polls: 2,
        ..Backup::default()
    });
    let ran = run_workflow(&emulator, "backup-on-demand.yml", &[]);
    let step = script(&ran);
    assert_eq!(step.code, Some(0), "{step:#?}");
    let job = job_id_from_operation(step);
    assert!(
        step.stdout
            .contains(&format!("backup job {job}: Completed"))
    );
    // curl reported each 429 and retried (after ARM's Retry-After).
    assert_eq!(
        step.stderr.matches("error: 429").count(),
        2,
        "{}",
        step.stderr
    );
    // Two throttled polls on top of the 2 operation polls and 3 job polls.
    let calls = arm_calls(&emulator);
    assert_eq!(calls.len(), 1 + 2 + 2 + 3, "{calls:?}");
}

#[test]
fn backup_on_demand_gives_up_after_wait_minutes() {
    // The operation answers at once, so the deadline that trips is the job's (M15: a script with
    // no deadline on the job polls until the double's poll limit and fails differently).
    let emulator = emulator_with(Backup {
        operation_polls_in_progress: 0,
        job_polls_in_progress: 1000,
        ..Backup::default()
    });
    let ran = run_workflow(&emulator, "backup-on-demand.yml", &[("WAIT_MINUTES", "0")]);
    let step = script(&ran);
    assert_eq!(step.code, Some(1), "{step:#?}");
    let job = job_id_from_operation(step);
    let errors = step.errors();
    assert_eq!(errors.len(), 1, "{}", step.stdout);
    assert!(
        errors[0].contains(&format!(
            "backup job {job} was still InProgress after 0 minutes"
        )),
        "{}",
        errors[0]
    );
    let job_polls = arm_calls(&emulator)
        .iter()
        .filter(|c| c.contains("/backupJobs/"))
        .count();
    assert_eq!(job_polls, 1, "one poll, then the deadline");
}

#[test]
fn an_operation_that_ends_failed_or_canceled_fails_the_step_at_once() {
    // M4 / M5: an operation that ends Failed or Canceled is neither still running nor a success.
    for (workflow, what) in [
        ("backup-on-demand.yml", "backup trigger"),
        ("restore-drill.yml", "restore trigger"),
    ] {
        for (outcome, error) in [
            (
                "Failed",
                "UserErrorVmNotFound: The virtual machine to restore",
            ),
            ("Canceled", "OperationCanceled: The operation was canceled."),
        ] {
            let emulator = emulator_with(Backup {
                operation_outcome: outcome.into(),
                ..restore_backup()
            });
            let ran = run_workflow(&emulator, workflow, &[]);
            let step = script(&ran);
            assert_eq!(step.code, Some(1), "{workflow} {outcome}: {step:#?}");
            let errors = step.errors();
            assert_eq!(errors.len(), 1, "{}", step.stdout);
            assert!(
                errors[0].contains(&format!("{what}: the operation ended {outcome}: {error}")),
                "{workflow}: {}",
                errors[0]
            );
            let calls = arm_calls(&emulator);
            assert_eq!(
                calls
                    .iter()
                    .filter(|c| c.contains("/operationsStatus/"))
                    .count(),
                2,
                "one InProgress poll, then the end: {calls:?}"
            );
            assert!(
                !calls.iter().any(|c| c.contains("/backupJobs/")),
                "no job to follow: {calls:?}"
            );
        }
    }
}

#[test]
fn a_wait_minutes_that_is_not_a_number_is_refused_before_any_call() {
    // bash evaluates `$((…))` operands as expressions: `HOME[$(cmd)]` would run cmd.
    let marker = tempfile::tempdir().unwrap();
    let touched = marker.path().join("ran");
    let hostile = format!("HOME[$(touch {})]", touched.display());
    for (name, workflow) in [
        ("WAIT_MINUTES", "backup-on-demand.yml"),
        ("POLL_SECONDS", "restore-drill.yml"),
    ] {
        let emulator = emulator_with(restore_backup());
        let ran = run_workflow(&emulator, workflow, &[(name, &hostile)]);
        let step = script(&ran);
        assert_eq!(step.code, Some(1), "{step:#?}");
        assert!(
            step.errors()[0].contains(&format!("{name} must be a whole number")),
            "{}",
            step.stdout
        );
        assert!(!touched.exists(), "{name}: the value was evaluated as code");
        assert!(
            emulator.arm_requests().is_empty(),
            "no call before the check"
        );
    }
}

#[test]
fn backup_script_fails_on_a_token_arm_refuses_without_printing_it() {
    let emulator = emulator_with(Backup::default());
    // A token Entra never issued (it looks like one: three base64url parts).
    let forged =
        "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIn0.c2lnbmF0dXJl";
    let ran = run_workflow(&emulator, "backup-on-demand.yml", &[("TOKEN", forged)]);
    let step = script(&ran);
    assert_eq!(step.code, Some(1), "{step:#?}");
    let errors = step.errors();
    assert!(
        errors[0].contains("HTTP 401 (InvalidAuthenticationToken: The access token is invalid.)"),
        "{}",
        errors[0]
    );
    assert!(errors[0].contains("pass this job's fresh access-token output in TOKEN"));
    for text in [&step.stdout, &step.stderr] {
        assert!(!text.contains(forged), "the token was printed");
    }
}

fn restore_backup() -> Backup {
    // A region no script could have hard-coded by accident.
    Backup {
        location: "norwayeast".into(),
        storage_accounts: vec![StorageAccount {
            name: "strestoredrill".into(),
            location: "norwayeast".into(),
            sku: "Standard_LRS".into(),
        }],
        ..Backup::default()
    }
}

#[test]
fn restore_drill_restores_the_newest_point_in_the_vaults_region_and_waits_for_the_job() {
    let emulator = emulator_with(restore_backup());
    let ran = run_workflow(&emulator, "restore-drill.yml", &[]);
    let step = script(&ran);
    assert_eq!(step.code, Some(0), "{step:#?}");
    let job = job_id_from_operation(step);
    assert!(
        step.stdout
            .contains(&format!("restore job {job}: Completed")),
        "{}",
        step.stdout
    );
    let restore = emulator
        .arm_requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    // The newest of the three recovery points (they are listed out of order).
    assert!(
        restore
            .path
            .ends_with("/recoveryPoints/71897210437791/restore"),
        "{}",
        restore.path
    );
    let body: serde_json::Value = serde_json::from_str(&restore.body).unwrap();
    let p = &body["properties"];
    assert_eq!(p["objectType"], "IaasVMRestoreRequest");
    assert_eq!(p["recoveryType"], "RestoreDisks");
    assert_eq!(p["region"], "norwayeast");
    assert_eq!(p["recoveryPointId"], "71897210437791");
    assert!(
        p["sourceResourceId"]
            .as_str()
            .unwrap()
            .ends_with("/virtualMachines/vm-app")
    );
    assert!(
        p["targetResourceGroupId"]
            .as_str()
            .unwrap()
            .ends_with("/resourceGroups/rg-restore")
    );
    let calls = arm_calls(&emulator);
    let job_polls = calls
        .iter()
        .filter(|c| c.ends_with(&format!("/backupJobs/{job}")))
        .count();
    assert_eq!(job_polls, 3, "{calls:?}");
    // The proof: the two disks the restore made were found (a list of two pages, before and after),
    // checked, reported, and deleted, each deletion followed to its end.
    for disk in ["vm-app-", "-osdisk", "-datadisk-0"] {
        assert!(
            step.stdout.contains("restored disk ") && step.stdout.contains(disk),
            "{}",
            step.stdout
        );
    }
    assert_eq!(
        step.outputs.get("restored-disks").map(String::as_str),
        Some("2")
    );
    let deletes: Vec<&String> = calls.iter().filter(|c| c.starts_with("DELETE ")).collect();
    assert_eq!(deletes.len(), 2, "{calls:?}");
    assert!(
        deletes
            .iter()
            .all(|c| c.contains("/resourceGroups/rg-restore/providers/Microsoft.Compute/disks/")),
        "{deletes:?}"
    );
    assert_eq!(
        calls.iter().filter(|c| c.contains("/operations/")).count(),
        4,
        "each deletion followed: InProgress, Succeeded: {calls:?}"
    );
    assert!(emulator.disks().is_empty(), "{:?}", emulator.disks());
    assert!(
        step.stdout.contains(
            "restore drill passed: 2 disks restored from 71897210437791, checked and deleted"
        ),
        "{}",
        step.stdout
    );
}

#[test]
fn restore_drill_reads_every_page_of_recovery_points() {
    // One point per page, the newest on the last page.
    let mut backup = restore_backup();
    backup.recovery_points_page_size = 1;
    backup.recovery_points.sort_by(|a, b| a.1.cmp(&b.1));
    let newest = backup.recovery_points.last().unwrap().0.clone();
    let emulator = emulator_with(backup);
    let ran = run_workflow(&emulator, "restore-drill.yml", &[]);
    let step = script(&ran);
    assert_eq!(step.code, Some(0), "{step:#?}");
    let calls = arm_calls(&emulator);
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.ends_with("/recoveryPoints"))
            .count(),
        3,
        "{calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("POST ")
                && c.contains(&format!("/recoveryPoints/{newest}/restore"))),
        "{calls:?}"
    );
}

#[test]
fn restore_drill_fails_when_the_restored_disks_are_missing_or_unusable() {
    for (restored, state, expected) in [
        (
            Some(0),
            "Succeeded",
            "holds 0 restored disks where the recovery point has 2",
        ),
        (
            Some(1),
            "Succeeded",
            "holds 1 restored disks where the recovery point has 2",
        ),
        (None, "Failed", "restored disks not usable: vm-app-"),
    ] {
        let emulator = emulator_with(Backup {
            restored_disks: restored,
            restored_disk_state: state.into(),
            ..restore_backup()
        });
        let ran = run_workflow(&emulator, "restore-drill.yml", &[]);
        let step = script(&ran);
        assert_eq!(step.code, Some(1), "{expected}: {step:#?}");
        let errors = step.errors();
        assert_eq!(errors.len(), 1, "{}", step.stdout);
        assert!(errors[0].contains(expected), "{}", errors[0]);
        assert!(
            emulator.disks().is_empty(),
            "what the restore left is deleted: {:?}",
            emulator.disks()
        );
    }
}

#[test]
fn restore_drill_needs_a_target_resource_group_of_its_own() {
    let other = format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-restore/providers/Microsoft.Compute/disks/someone-elses"
    );
    let emulator = emulator_with(Backup {
        existing_disks: vec![other.clone()],
        ..restore_backup()
    });
    let ran = run_workflow(&emulator, "restore-drill.yml", &[]);
    let step = script(&ran);
    assert_eq!(step.code, Some(1), "{step:#?}");
    assert!(
        step.errors()[0].contains("it already holds disks (someone-elses)"),
        "{}",
        step.stdout
    );
    assert!(emulator.arm_requests().iter().all(|r| r.method == "GET"));
    assert_eq!(
        emulator.disks(),
        vec![other],
        "nothing of anyone else's deleted"
    );
}

#[test]
fn a_job_starting_post_is_never_sent_twice() {
    // The trigger starts the job but its answer is lost (502): sending it again would start a
    // second restore (or meet 409 "operation in progress"), so the step fails and says where to look.
    for (workflow, what) in [
        ("backup-on-demand.yml", "backup trigger"),
        ("restore-drill.yml", "restore trigger"),
    ] {
        let emulator = emulator_with(Backup {
            trigger_answers_502: true,
            ..restore_backup()
        });
        let ran = run_workflow(&emulator, workflow, &[]);
        let step = script(&ran);
        assert_eq!(step.code, Some(1), "{step:#?}");
        let errors = step.errors();
        assert!(
            errors[0].contains(&format!("{what}: POST"))
                && errors[0].contains("answered HTTP 502")
                && errors[0].contains("not sent again, because it may have started a job"),
            "{}",
            errors[0]
        );
        let posts = emulator
            .arm_requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count();
        assert_eq!(posts, 1, "{workflow}");
    }
}

#[test]
fn a_throttled_trigger_is_sent_again_after_retry_after() {
    // 429 is the one failure that proves nothing started, so the trigger may go again.
    let emulator = emulator_with(Backup {
        throttle_triggers: 1,
        ..Backup::default()
    });
    let ran = run_workflow(&emulator, "backup-on-demand.yml", &[]);
    let step = script(&ran);
    assert_eq!(step.code, Some(0), "{step:#?}");
    assert!(
        step.stdout.contains(
            "backup trigger: ARM throttled the request (HTTP 429); sending it again in 1 s"
        ),
        "{}",
        step.stdout
    );
    let posts = emulator
        .arm_requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 2);
}

#[test]
fn an_api_version_the_provider_does_not_have_fails_with_arms_answer() {
    // M12: a Storage api-version that Microsoft.Storage does not serve.
    let emulator = emulator_with(restore_backup());
    let ran = run_workflow(
        &emulator,
        "restore-drill.yml",
        &[("STORAGE_API_VERSION", "2099-01-01")],
    );
    let step = script(&ran);
    assert_eq!(step.code, Some(1), "{step:#?}");
    let error = step.errors()[0];
    assert!(
        error.contains("staging storage account: GET")
            && error.contains("answered HTTP 400 (NoRegisteredProviderFound: No registered resource provider found for location 'norwayeast' and API version '2099-01-01' for type 'storageAccounts'. The supported api-versions are '2023-01-01, 2023-05-01'"),
        "{error}"
    );
    assert!(emulator.arm_requests().iter().all(|r| r.method == "GET"));
}

#[test]
fn server_text_never_becomes_a_workflow_command() {
    // A job status holding a line break, a workflow command and a legacy `##[` command: the
    // harness replays the step through the runner model (run_workflow) and fails on any command
    // other than the script's own ::error / ::warning.
    let hostile = "Weird\n::set-env name=LD_PRELOAD::/tmp/x.so\n##[warning]boom\u{1b}]8;;";
    let emulator = emulator_with(Backup {
        job_outcome: hostile.into(),
        ..restore_backup()
    });
    let ran = run_workflow(&emulator, "restore-drill.yml", &[]);
    let step = script(&ran);
    assert_eq!(step.code, Some(1), "{step:#?}");
    let errors = step.errors();
    assert_eq!(errors.len(), 1, "{}", step.stdout);
    assert!(
        errors[0].contains("unknown status 'Weird ::set-env"),
        "{}",
        errors[0]
    );
    assert!(!step.stdout.contains("##[warning]"), "{}", step.stdout);
    assert!(!step.stdout.contains('\u{1b}'), "{}", step.stdout);
}

#[test]
fn the_token_is_never_on_a_command_line() {
    // A slow ARM keeps each curl alive for a while; meanwhile every process's /proc/PID/cmdline is
    // read, again and again. None may hold a token (any local user can read them).
    let emulator = emulator_with(Backup {
        delay: std::time::Duration::from_millis(250),
        ..restore_backup()
    });
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scanner = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = std::collections::BTreeSet::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                    if let Ok(bytes) = std::fs::read(entry.path().join("cmdline"))
                        && !bytes.is_empty()
                    {
                        seen.insert(String::from_utf8_lossy(&bytes).replace('\0', " "));
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            seen
        })
    };
    let ran = run_workflow(&emulator, "restore-drill.yml", &[]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = scanner.join().unwrap();
    assert_eq!(script(&ran).code, Some(0), "{ran:#?}");
    let base = emulator.base_url();
    let curls: Vec<&String> = seen
        .iter()
        .filter(|c| c.starts_with("curl ") && c.contains(&base))
        .collect();
    assert!(
        curls.len() >= 5,
        "the scan saw too few of the script's curl processes to prove anything: {curls:?}"
    );
    for secret in secrets(&emulator) {
        for cmdline in &seen {
            assert!(
                !cmdline.contains(&secret),
                "a token on a command line: {cmdline}"
            );
        }
    }
    assert!(curls.iter().all(|c| c.contains("--header @")), "{curls:?}");
}

/// The Backup vault (Microsoft.DataProtection) drill for a managed disk: validate, restore, follow
/// the job, find the new disk, check it, delete it.
#[test]
fn disk_restore_drill_restores_checks_and_deletes_the_disk() {
    let emulator = emulator_with(restore_backup());
    let ran = run_workflow(&emulator, "disk-restore-drill.yml", &[]);
    let step = script(&ran);
    assert_eq!(step.code, Some(0), "{step:#?}");
    let job = job_id_from_operation(step);
    assert!(
        step.stdout
            .contains(&format!("restore job {job}: Completed")),
        "{}",
        step.stdout
    );
    let requests = emulator.arm_requests();
    let posts: Vec<_> = requests.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts.len(), 2, "validateRestore, then restore");
    assert!(
        posts[0]
            .path
            .ends_with("/backupInstances/disk-data-bi/validateRestore")
    );
    assert!(
        posts[1]
            .path
            .ends_with("/backupInstances/disk-data-bi/restore")
    );
    let body: serde_json::Value = serde_json::from_str(&posts[1].body).unwrap();
    let validated: serde_json::Value = serde_json::from_str(&posts[0].body).unwrap();
    assert_eq!(
        validated["restoreRequestObject"], body,
        "the same request validated"
    );
    assert_eq!(
        body["objectType"],
        "AzureBackupRecoveryPointBasedRestoreRequest"
    );
    assert_eq!(
        body["recoveryPointId"], "71897210437791",
        "the newest point"
    );
    let target = body["restoreTargetInfo"]["datasourceInfo"]["resourceID"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        target.contains(
            "/resourceGroups/rg-restore/providers/Microsoft.Compute/disks/disk-data-drill-"
        ),
        "{target}"
    );
    assert!(
        requests
            .iter()
            .filter(|r| r.path.contains("Microsoft.DataProtection"))
            .all(|r| r
                .query
                .as_deref()
                .unwrap()
                .contains("api-version=2024-04-01")),
        "every Backup vault call with the Backup vault api-version"
    );
    let calls = arm_calls(&emulator);
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.ends_with("/recoveryPoints"))
            .count(),
        2,
        "two pages of recovery points: {calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("DELETE ") && target.ends_with(c.rsplit('/').next().unwrap())),
        "{calls:?}"
    );
    assert!(emulator.disks().is_empty(), "{:?}", emulator.disks());
    assert!(
        step.stdout
            .contains("disk restore drill passed: disk-data-drill-"),
        "{}",
        step.stdout
    );
}

#[test]
fn disk_restore_drill_fails_unless_the_restore_is_proven() {
    let cases: Vec<(Backup, &str)> = vec![
        (
            Backup {
                job_outcome: "Failed".into(),
                ..restore_backup()
            },
            "ended Failed: UserErrorDiskRestoreFailed The vault's managed identity lacks Disk Restore Operator",
        ),
        (
            Backup {
                job_outcome: "Cancelled".into(),
                ..restore_backup()
            },
            "ended Cancelled",
        ),
        (
            Backup {
                restored_disks: Some(0),
                ..restore_backup()
            },
            "Completed, but the restored disk disk-data-drill-",
        ),
        (
            Backup {
                restored_disk_state: "Failed".into(),
                ..restore_backup()
            },
            "is not usable (64 GiB, Failed, norwayeast) (deleted)",
        ),
        (
            Backup {
                job_outcome: "CompletedWithWarnings".into(),
                ..restore_backup()
            },
            "CompletedWithWarnings fails the drill",
        ),
        (
            Backup {
                operation_outcome: "Failed".into(),
                ..restore_backup()
            },
            "validate restore: the operation ended Failed: UserErrorVmNotFound",
        ),
        (
            Backup {
                validate_outcome: "Failed".into(),
                ..restore_backup()
            },
            "validate restore: the operation ended Failed",
        ),
    ];
    for (backup, expected) in cases {
        let emulator = emulator_with(backup);
        let ran = run_workflow(&emulator, "disk-restore-drill.yml", &[]);
        let step = script(&ran);
        assert_eq!(step.code, Some(1), "{expected}: {step:#?}");
        let errors = step.errors();
        assert_eq!(errors.len(), 1, "{}", step.stdout);
        assert!(errors[0].contains(expected), "{expected}: {}", errors[0]);
        assert!(
            emulator.disks().is_empty(),
            "{expected}: {:?}",
            emulator.disks()
        );
    }
    // A failed validation starts nothing.
    let emulator = emulator_with(Backup {
        validate_outcome: "Failed".into(),
        ..restore_backup()
    });
    run_workflow(&emulator, "disk-restore-drill.yml", &[]);
    assert_eq!(
        emulator
            .arm_requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count(),
        1
    );
}

#[test]
fn disk_restore_drill_gives_up_after_wait_minutes() {
    let emulator = emulator_with(Backup {
        operation_polls_in_progress: 0,
        job_polls_in_progress: 1000,
        ..restore_backup()
    });
    let ran = run_workflow(
        &emulator,
        "disk-restore-drill.yml",
        &[("WAIT_MINUTES", "0")],
    );
    let step = script(&ran);
    assert_eq!(step.code, Some(1), "{step:#?}");
    let job = job_id_from_operation(step);
    assert!(
        step.errors()[0].contains(&format!(
            "restore job {job} was still InProgress after 0 minutes"
        )),
        "{}",
        step.stdout
    );
}

/// The acceptance line of the cookbook: the drill's step fails when the restore job fails.
#[test]
fn restore_drill_fails_its_step_when_the_restore_job_fails() {
    for outcome in ["Failed", "Cancelled"] {
        let emulator = emulator_with(Backup {
            job_outcome: outcome.into(),
            ..restore_backup()
        });
        let ran = run_workflow(&emulator, "restore-drill.yml", &[]);
        let step = script(&ran);
        assert_eq!(step.code, Some(1), "{outcome}: {step:#?}");
        let job = job_id_from_operation(step);
        let errors = step.errors();
        assert_eq!(errors.len(), 1, "{}", step.stdout);
        assert!(
            errors[0].contains(&format!("restore job {job} ended {outcome}")),
            "{}",
            errors[0]
        );
        assert!(!step.stdout.contains("Completed"), "{}", step.stdout);
    }
}

#[test]
fn restore_drill_fails_on_completed_with_warnings_after_cleaning_up() {
    // A drill proves a restore; a restore with warnings did not do all it was asked.
    let emulator = emulator_with(Backup {
        job_outcome: "CompletedWithWarnings".into(),
        ..restore_backup()
    });
    let ran = run_workflow(&emulator, "restore-drill.yml", &[]);
    let step = script(&ran);
    assert_eq!(step.code, Some(1), "{step:#?}");
    let errors = step.errors();
    assert_eq!(errors.len(), 1, "{}", step.stdout);
    assert!(
        errors[0].contains("CompletedWithWarnings fails the drill")
            && errors[0].contains("UserErrorSomeDisksNotRestored"),
        "{}",
        errors[0]
    );
    assert!(
        emulator.disks().is_empty(),
        "the restored disks are deleted"
    );
}

#[test]
fn backup_on_demand_passes_completed_with_warnings_with_a_warning() {
    let emulator = emulator_with(Backup {
        job_outcome: "CompletedWithWarnings".into(),
        ..Backup::default()
    });
    let ran = run_workflow(&emulator, "backup-on-demand.yml", &[]);
    let step = script(&ran);
    assert_eq!(step.code, Some(0), "{step:#?}");
    assert!(
        step.stdout.lines().any(|l| l.starts_with("::warning")
            && l.contains("CompletedWithWarnings: UserErrorSomeDisksNotRestored")),
        "{}",
        step.stdout
    );
}

#[test]
fn restore_drill_fails_when_the_trigger_is_forbidden() {
    let emulator = emulator_with(Backup {
        forbid_triggers: true,
        ..restore_backup()
    });
    let ran = run_workflow(&emulator, "restore-drill.yml", &[]);
    let step = script(&ran);
    assert_eq!(step.code, Some(1), "{step:#?}");
    let errors = step.errors();
    assert!(errors[0].contains("restore trigger: POST"), "{}", errors[0]);
    assert!(
        errors[0].contains("HTTP 403 (AuthorizationFailed"),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("Virtual Machine Contributor on the source VM"),
        "{}",
        errors[0]
    );
}

#[test]
fn restore_drill_rides_out_throttled_polls() {
    let emulator = emulator_with(Backup {
        throttle_polls: 1,
        ..restore_backup()
    });
    let ran = run_workflow(&emulator, "restore-drill.yml", &[]);
    let step = script(&ran);
    assert_eq!(step.code, Some(0), "{step:#?}");
    assert_eq!(
        step.stderr.matches("error: 429").count(),
        1,
        "{}",
        step.stderr
    );
    assert_eq!(
        arm_calls(&emulator)
            .iter()
            .filter(|c| c.contains("/operationsStatus/"))
            .count(),
        3,
        "one throttled operation poll, then two answered"
    );
}

#[test]
fn restore_drill_checks_the_staging_account_before_restoring() {
    for (location, sku, expected) in [
        (
            "westeurope",
            "Standard_LRS",
            "it is in 'westeurope' but the vault is in 'norwayeast'",
        ),
        (
            "norwayeast",
            "Standard_ZRS",
            "its SKU Standard_ZRS is zone-redundant",
        ),
    ] {
        let emulator = emulator_with(Backup {
            storage_accounts: vec![StorageAccount {
                name: "strestoredrill".into(),
                location: location.into(),
                sku: sku.into(),
            }],
            ..restore_backup()
        });
        let ran = run_workflow(&emulator, "restore-drill.yml", &[]);
        let step = script(&ran);
        assert_eq!(step.code, Some(1), "{step:#?}");
        assert!(step.errors()[0].contains(expected), "{}", step.stdout);
        assert!(
            emulator.arm_requests().iter().all(|r| r.method == "GET"),
            "no restore may start"
        );
    }
}

#[test]
fn restore_drill_fails_on_a_missing_staging_account_or_no_recovery_point() {
    let emulator = emulator_with(Backup {
        storage_accounts: Vec::new(),
        ..restore_backup()
    });
    let ran = run_workflow(&emulator, "restore-drill.yml", &[]);
    let step = script(&ran);
    assert_eq!(step.code, Some(1), "{step:#?}");
    let errors = step.errors();
    assert!(
        errors[0].contains("staging storage account: GET https://127.0.0.1:")
            && errors[0].contains("answered HTTP 404 (ResourceNotFound:"),
        "{}",
        errors[0]
    );

    let emulator = emulator_with(Backup {
        recovery_points: Vec::new(),
        ..restore_backup()
    });
    let ran = run_workflow(&emulator, "restore-drill.yml", &[]);
    let step = script(&ran);
    assert_eq!(step.code, Some(1), "{step:#?}");
    assert!(
        step.errors()[0].contains("recovery points: the item has none yet: run a backup first"),
        "{}",
        step.stdout
    );
    assert!(emulator.arm_requests().iter().all(|r| r.method == "GET"));
}

#[test]
fn backup_script_names_an_unreachable_arm_endpoint() {
    let emulator = emulator_with(Backup::default());
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("https://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let ran = run_workflow(
        &emulator,
        "backup-on-demand.yml",
        &[("ARM_ENDPOINT", &endpoint)],
    );
    let step = script(&ran);
    assert_eq!(step.code, Some(1), "{step:#?}");
    assert!(
        step.errors()[0].contains(
            "failed before any HTTP answer (see curl's message above): check ARM_ENDPOINT"
        ),
        "{}",
        step.stdout
    );
    assert!(step.stderr.contains("curl: (7)"), "{}", step.stderr);
}

/// The scripts the workflows call exist where the workflows say, are executable, and the docs
/// include them.
#[test]
fn the_cookbook_page_shows_the_tested_files() {
    let page =
        std::fs::read_to_string(Path::new(REPO).join("docs/cookbook/azure-backup.md")).unwrap();
    for file in [
        "examples/workflows/backup-on-demand.yml",
        "examples/workflows/restore-drill.yml",
        "examples/workflows/scripts/azure-backup.sh",
        "examples/workflows/scripts/backup-now.sh",
        "examples/workflows/scripts/restore-drill.sh",
        "examples/workflows/disk-restore-drill.yml",
        "examples/workflows/scripts/disk-restore-drill.sh",
    ] {
        let path: PathBuf = Path::new(REPO).join(file);
        assert!(path.is_file(), "{file} is missing");
        assert!(
            page.contains(file),
            "docs/cookbook/azure-backup.md does not link {file}"
        );
    }
}
