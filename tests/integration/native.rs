//! The native action (`native/action.yml` + `native/install.sh`) and the release commit that pins it.
//!
//! - The composite declares the container action's inputs and outputs word for word, passes every
//!   input as the `INPUT_*` variable the container gets, and hands on every output of its run step.
//! - Run as the runner would run the composite (its step environment evaluated from the YAML, inside
//!   a hosted runner's job environment, its `run:` line through `bash --noprofile --norc -eo pipefail`), the installer downloads the real
//!   binary from a fake release on a local HTTPS server (CA generated at test time), checks it and runs
//!   it against the emulator: a later step sees the same outputs as after the container action.
//! - A wrong checksum, a 404, a cut or oversized download, a redirect to http://, an untrusted CA, a
//!   ref with no pinned checksum, `scopes`, an unknown runner, a shell that drops `INPUT_*` names:
//!   one `::error` line naming the asset or the cause, exit 1, and nothing run (the fake asset would
//!   leave a marker file; a control test shows that it does when it is allowed to run).
//! - `scripts/release-commit.sh --dry-run` pins the image and every checksum, changes nothing else,
//!   and refuses malformed input.
//!
//! Linux only: the installer's macOS and Windows branches are exercised only on those runners.

#![cfg(target_os = "linux")]

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use azure_oidc_emulator::{Config, Emulator, FileServer, Serve, sha256_hex};
use support::{BIN, Outcome, Step, parse_file_commands, total_requests};
use yaml_rust2::{Yaml, YamlLoader};

const ACTION: &str = include_str!("../../action.yml");
const NATIVE: &str = include_str!("../../native/action.yml");
const REPO: &str = env!("CARGO_MANIFEST_DIR");
/// Where the fake release lives on the file server, as on github.com.
/// (The tag is the package's version: release.yml refuses a tag that differs from Cargo.toml.)
pub(crate) const RELEASE_PATH: &str = concat!(
    "/octo-org/azure-oidc-token/releases/download/v",
    env!("CARGO_PKG_VERSION")
);
pub(crate) const PIN_PREFIX: &str = "AZURE_OIDC_TOKEN_SHA256_";

fn yaml(text: &str) -> Yaml {
    YamlLoader::load_from_str(text).unwrap().remove(0)
}

fn entries(map: &Yaml) -> Vec<(String, Yaml)> {
    map.as_hash()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.clone()))
        .collect()
}

/// The composite's one step.
fn run_step(native: &Yaml) -> Yaml {
    let steps = native["runs"]["steps"].as_vec().unwrap();
    assert_eq!(steps.len(), 1, "the native action has one step");
    steps[0].clone()
}

/// The runner's name for an input's variable: `INPUT_` + upper-cased name, spaces to `_`, hyphens kept.
fn input_var(name: &str) -> String {
    format!("INPUT_{}", name.replace(' ', "_").to_uppercase())
}

/// This machine's runner values and asset: (RUNNER_ARCH, asset name, pin variable).
pub(crate) fn platform() -> (&'static str, &'static str, String) {
    match std::env::consts::ARCH {
        "x86_64" => (
            "X64",
            "azure-oidc-token-linux-x64",
            format!("{PIN_PREFIX}LINUX_X64"),
        ),
        "aarch64" => (
            "ARM64",
            "azure-oidc-token-linux-arm64",
            format!("{PIN_PREFIX}LINUX_ARM64"),
        ),
        other => panic!("no native asset for {other}"),
    }
}

/// A fake release: `asset` redirects (as GitHub does) to an object served as `serve`.
pub(crate) fn release(asset: &str, serve: Serve) -> FileServer {
    FileServer::start(vec![
        (
            format!("{RELEASE_PATH}/{asset}"),
            Serve::Redirect(format!("/objects/{asset}")),
        ),
        (format!("/objects/{asset}"), serve),
    ])
    .unwrap()
}

/// The `with:` of a workflow step using either action: the emulator's tenant and app, plus `extra`.
pub(crate) fn with(emulator: &Emulator, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut with = BTreeMap::from([
        ("client-id".to_owned(), emulator.client_id()),
        ("tenant-id".to_owned(), emulator.tenant_id()),
        ("authority-host".to_owned(), emulator.authority_host()),
    ]);
    for (k, v) in extra {
        with.insert((*k).to_owned(), (*v).to_owned());
    }
    with
}

/// The value the runner gives input `name` of `action`: the `with:` value, else the default, else empty.
fn input_value(action: &Yaml, with: &BTreeMap<String, String>, name: &str) -> String {
    with.get(name).cloned().unwrap_or_else(|| {
        action["inputs"][name]["default"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    })
}

/// A step's base environment (runner files, the ID-token request, the emulator's CA) without inputs.
fn bare_step(emulator: &Emulator) -> Step<'_> {
    let mut step = Step::new(emulator);
    step.env.retain(|name, _| !name.starts_with("INPUT_"));
    step
}

/// The step as the runner starts the container action: an `INPUT_*` variable for every input of
/// action.yml, defaults included.
pub(crate) fn container_step<'a>(
    emulator: &'a Emulator,
    with: &BTreeMap<String, String>,
) -> Step<'a> {
    let action = yaml(ACTION);
    let mut step = bare_step(emulator);
    for (name, _) in entries(&action["inputs"]) {
        let value = input_value(&action, with, &name);
        step.env.insert(input_var(&name), value);
    }
    step
}

/// The composite's run step as the runner runs it: the step's `env:` evaluated (`${{ inputs.x }}` from
/// `with`, defaults of native/action.yml), then `pins` over it (what a release commit writes), plus the
/// runner variables the installer reads. `ca` is the release server's CA, trusted through curl's own
/// CURL_CA_BUNDLE (a runner trusts github.com through the system store).
pub(crate) struct Composite<'a> {
    pub(crate) step: Step<'a>,
    run: String,
}

impl<'a> Composite<'a> {
    pub(crate) fn new(
        emulator: &'a Emulator,
        with: &BTreeMap<String, String>,
        pins: &[(&str, String)],
        ca: Option<&str>,
    ) -> Self {
        let native = yaml(NATIVE);
        let run_step = run_step(&native);
        let mut step = bare_step(emulator);
        for (name, value) in entries(&run_step["env"]) {
            let value = value.as_str().unwrap();
            let value = match value
                .strip_prefix("${{ inputs.")
                .and_then(|v| v.strip_suffix(" }}"))
            {
                Some(input) => input_value(&native, with, input),
                None => {
                    assert!(!value.contains("${{"), "unexpected expression: {value}");
                    value.to_owned()
                }
            };
            step.env.insert(name, value);
        }
        for (name, value) in pins {
            step.env.insert((*name).to_owned(), value.clone());
        }
        let (arch, _, _) = platform();
        let tmp = step.dir.path().join("tmp").display().to_string();
        step.env.insert("RUNNER_OS".into(), "Linux".into());
        step.env.insert("RUNNER_ARCH".into(), arch.into());
        step.env.insert("RUNNER_TEMP".into(), tmp);
        step.env
            .insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
        // Around the step, a hosted runner's job environment: > 70 KB, hyphenated INPUT_* names.
        for (name, value) in crate::installer::hosted_runner_env() {
            step.env.entry(name).or_insert(value);
        }
        if let Some(ca) = ca {
            let file = step.dir.path().join("release-ca.pem");
            std::fs::write(&file, ca).unwrap();
            step.env
                .insert("CURL_CA_BUNDLE".into(), file.display().to_string());
        }
        // The runner sets GITHUB_ACTION_PATH for a composite action's steps.
        let action_path = Path::new(REPO).join("native").display().to_string();
        step.env.insert("GITHUB_ACTION_PATH".into(), action_path);
        let run = run_step["run"].as_str().unwrap().to_owned();
        assert!(!run.contains("${{"), "an expression pasted into run: {run}");
        Self { step, run }
    }

    /// Writes `run:` to a script file and runs it the way the runner runs `shell: bash`.
    pub(crate) fn run(&self) -> Outcome {
        let script = self.step.dir.path().join("tmp").join("step.sh");
        std::fs::write(&script, &self.run).unwrap();
        let mut command = Command::new("bash");
        command
            .args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script)
            .env_clear()
            .envs(&self.step.env)
            .current_dir(self.step.dir.path().join("workspace"));
        let outcome = self.step.run_command(command);
        self.step.check(&outcome);
        outcome
    }
}

/// The outputs a later step sees after the composite: each declared output, mapped from the run step.
fn composite_outputs(step_outputs: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let native = yaml(NATIVE);
    let id = run_step(&native)["id"].as_str().unwrap().to_owned();
    entries(&native["outputs"])
        .into_iter()
        .map(|(name, output)| {
            let value = output["value"].as_str().unwrap();
            let source = value
                .strip_prefix(&format!("${{{{ steps.{id}.outputs."))
                .and_then(|v| v.strip_suffix(" }}"))
                .unwrap_or_else(|| panic!("output {name}: unexpected value {value}"));
            (name, step_outputs.get(source).cloned().unwrap_or_default())
        })
        .collect()
}

/// The binary under test as a release asset: debug info stripped (`strip`, from binutils, which the
/// Rust toolchain's linker needs anyway), since the unoptimised build is larger than the installer's
/// size cap; the code is the same.
pub(crate) fn stripped_binary() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("azure-oidc-token");
    let status = Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&copy)
        .arg(BIN)
        .status()
        .unwrap();
    assert!(status.success(), "strip --strip-debug {BIN}");
    std::fs::read(copy).unwrap()
}

/// A fake asset that proves whether it ran: it creates `marker`. Padded so half of it still holds the command.
fn marker_asset(marker: &Path) -> Vec<u8> {
    let mut script = format!("#!/bin/sh\ntouch '{}'\n", marker.display());
    script.push_str(&format!("# {}\n", "padding ".repeat(512)));
    script.into_bytes()
}

/// Asserts the installer failed cleanly: exit 1, exactly one `::error` line of this action, naming
/// `names`, nothing in the output files, and no request to GitHub or Entra (nothing ran).
pub(crate) fn assert_refused(outcome: &Outcome, emulator: &Emulator, names: &[&str]) -> String {
    let line = outcome.assert_failed();
    assert!(
        line.starts_with("native action: "),
        "the installer's error line: {line}"
    );
    for name in names {
        assert!(line.contains(name), "the error should name {name}: {line}");
    }
    assert_eq!(total_requests(emulator), 0, "nothing may have run: {line}");
    line
}

#[test]
fn native_action_declares_the_container_actions_inputs_and_outputs() {
    let action = yaml(ACTION);
    let native = yaml(NATIVE);
    let inputs = entries(&action["inputs"]);
    assert_eq!(
        inputs,
        entries(&native["inputs"]),
        "inputs (names, order, descriptions, required, defaults) must be the container action's"
    );
    let container_outputs = entries(&action["outputs"]);
    let native_outputs = entries(&native["outputs"]);
    assert_eq!(
        container_outputs.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        native_outputs.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        "output names"
    );
    assert_eq!(native["runs"]["using"].as_str(), Some("composite"));
    let step = run_step(&native);
    assert_eq!(
        step["shell"].as_str(),
        Some("bash"),
        "run steps need a shell"
    );
    let id = step["id"].as_str().unwrap();
    for ((name, container), (_, output)) in container_outputs.iter().zip(&native_outputs) {
        assert_eq!(
            container["description"], output["description"],
            "description of output {name}"
        );
        assert_eq!(
            output["value"].as_str(),
            Some(format!("${{{{ steps.{id}.outputs.{name} }}}}").as_str()),
            "output {name} must be the run step's output of the same name"
        );
    }

    // Every input, and nothing else, as the INPUT_* variable the container would get.
    let env = entries(&step["env"]);
    let passed: BTreeMap<&str, &str> = env
        .iter()
        .filter(|(name, _)| name.starts_with("INPUT_"))
        .map(|(name, value)| (name.as_str(), value.as_str().unwrap()))
        .collect();
    let expected: Vec<(String, String)> = inputs
        .iter()
        .map(|(name, _)| (input_var(name), format!("${{{{ inputs.{name} }}}}")))
        .collect();
    assert_eq!(
        passed.len(),
        expected.len(),
        "INPUT_* variables of the run step"
    );
    for (var, value) in &expected {
        assert_eq!(passed.get(var.as_str()), Some(&value.as_str()), "{var}");
    }

    // The pinned values: all placeholders (a branch) or all pinned (a release commit), and each asset
    // known to the installer and to the release commit.
    let pins: Vec<(&String, &str)> = env
        .iter()
        .filter(|(name, _)| name.starts_with("AZURE_OIDC_TOKEN_"))
        .map(|(name, value)| (name, value.as_str().unwrap()))
        .collect();
    assert_eq!(
        pins.len(),
        6,
        "the release URL and five checksums: {pins:?}"
    );
    let unreleased = pins.iter().filter(|(_, v)| *v == "unreleased").count();
    assert!(
        unreleased == pins.len() || unreleased == 0,
        "partly pinned: {pins:?}"
    );
    let installer = std::fs::read_to_string(Path::new(REPO).join("native/install.sh")).unwrap();
    let release_commit =
        std::fs::read_to_string(Path::new(REPO).join("scripts/release-commit.sh")).unwrap();
    for (name, _) in &pins {
        if let Some(key) = name.strip_prefix(PIN_PREFIX) {
            assert!(
                installer.contains(&format!("key={key} ")),
                "install.sh: {key}"
            );
            assert!(
                release_commit.contains(name.as_str()),
                "release-commit.sh: {name}"
            );
        }
    }
    assert!(
        step["run"]
            .as_str()
            .unwrap()
            .contains("\"$GITHUB_ACTION_PATH/install.sh\"")
    );
}

#[test]
fn composite_and_container_give_later_steps_the_same_outputs() {
    // One emulator per run, so that each run's checks see only the tokens handed to it.
    let (for_container, for_native) = (
        Emulator::start(Config::default()).unwrap(),
        Emulator::start(Config::default()).unwrap(),
    );
    let (_, asset, pin_var) = platform();
    let binary = stripped_binary();
    let server = release(asset, Serve::File(binary.clone()));
    let extra = [
        ("subscription-id", "33333333-4444-4555-8666-777777777777"),
        ("export-env", "AZURE_TOKEN"),
        ("export-sdk-env", "true"),
    ];

    // As the container action: the binary with the runner's INPUT_* environment.
    let container_step = container_step(&for_container, &with(&for_container, &extra));
    let container = container_step.run_checked();
    container.assert_succeeded();

    // As the composite: the installer fetches the same binary from the release and runs it.
    let pins = [
        (
            "AZURE_OIDC_TOKEN_RELEASE_URL",
            format!("{}{RELEASE_PATH}", server.base_url()),
        ),
        (pin_var.as_str(), sha256_hex(&binary)),
    ];
    let composite = Composite::new(
        &for_native,
        &with(&for_native, &extra),
        &pins,
        Some(server.ca_pem()),
    );
    let native = composite.run();
    native.assert_succeeded();
    assert!(
        native.stdout.contains(&format!(
            "{asset}, SHA-256 {} verified",
            sha256_hex(&binary)
        )),
        "{}",
        native.stdout
    );
    assert_eq!(
        server.requests(),
        [
            format!("{RELEASE_PATH}/{asset}"),
            format!("/objects/{asset}")
        ],
        "the asset for this runner, through the release's redirect"
    );

    // What a later step sees: after the container, every output the binary wrote; after the
    // composite, its declared outputs. A name missing from one side reads as empty.
    let seen_after_container = container.outputs();
    let seen_after_native = composite_outputs(&native.outputs());
    let declared: BTreeSet<&String> = seen_after_native.keys().collect();
    for name in seen_after_container.keys() {
        assert!(
            declared.contains(name),
            "the container sets output {name}, which the composite does not hand on"
        );
    }
    let issued = [
        for_container.issued_access_tokens(),
        for_native.issued_access_tokens(),
    ];
    assert_eq!(
        [issued[0].len(), issued[1].len()],
        [1, 1],
        "one exchange per run"
    );
    assert_eq!(seen_after_container["access-token"], issued[0][0]);
    assert_eq!(seen_after_native["access-token"], issued[1][0]);
    let expires =
        |outputs: &BTreeMap<String, String>| -> i64 { outputs["expires-on"].parse().unwrap() };
    assert!(
        (expires(&seen_after_container) - expires(&seen_after_native)).abs() <= 30,
        "expires-on of two runs seconds apart"
    );
    for name in declared {
        if ["access-token", "expires-on", "expires-at"].contains(&name.as_str()) {
            continue;
        }
        assert_eq!(
            seen_after_container
                .get(name)
                .map(String::as_str)
                .unwrap_or_default(),
            seen_after_native[name],
            "output {name}"
        );
    }
    assert_eq!(seen_after_native["token-type"], "Bearer");
    assert_eq!(
        seen_after_native["subscription-id"],
        "33333333-4444-4555-8666-777777777777"
    );
    assert!(!seen_after_native["principal-id"].is_empty());

    // The environment later steps get (export-env, export-sdk-env) is the same too.
    let env_of = |outcome: &Outcome| -> BTreeMap<String, String> {
        parse_file_commands(&outcome.env_file)
            .unwrap()
            .into_iter()
            .collect()
    };
    let (container_env, native_env) = (env_of(&container), env_of(&native));
    assert_eq!(
        container_env.keys().collect::<Vec<_>>(),
        native_env.keys().collect::<Vec<_>>()
    );
    assert!(container_env.contains_key("ARM_USE_OIDC"));
    // Where the runs differ by design: each run's own token and its own emulator's address.
    assert_eq!(container_env["AZURE_TOKEN"], issued[0][0]);
    assert_eq!(native_env["AZURE_TOKEN"], issued[1][0]);
    assert_eq!(
        container_env["AZURE_AUTHORITY_HOST"],
        for_container.authority_host()
    );
    assert_eq!(
        native_env["AZURE_AUTHORITY_HOST"],
        for_native.authority_host()
    );
    for (name, value) in &container_env {
        if !["AZURE_TOKEN", "AZURE_AUTHORITY_HOST"].contains(&name.as_str()) {
            assert_eq!(&native_env[name], value, "{name} in GITHUB_ENV");
        }
    }
}

#[test]
fn installer_runs_a_verified_asset_and_its_marker_proves_it() {
    // The control for the refusals below: the marker asset, allowed to run, leaves its marker.
    let (outcome, ran, asset, _emulator) =
        install(|marker| (Serve::File(marker_asset(marker)), None));
    assert_eq!(
        outcome.code,
        Some(0),
        "{}{}",
        outcome.stdout,
        outcome.stderr
    );
    assert!(outcome.stdout.contains(&format!("{asset}, SHA-256 ")));
    assert!(ran, "the verified asset ran");
}

/// Runs the composite with the asset served as `serve` returns (and pinned to the checksum it
/// returns, by default that of the whole marker asset); returns the outcome, whether the fake asset
/// ran, the asset's name and the emulator (which no request may have reached).
fn install(
    serve: impl FnOnce(&Path) -> (Serve, Option<String>),
) -> (Outcome, bool, String, Emulator) {
    let emulator = Emulator::start(Config::default()).unwrap();
    let (_, asset, pin_var) = platform();
    let markers = tempfile::tempdir().unwrap();
    let marker = markers.path().join("ran");
    let (served, pin) = serve(&marker);
    let pin = pin.unwrap_or_else(|| sha256_hex(&marker_asset(&marker)));
    let server = release(asset, served);
    let pins = [
        (
            "AZURE_OIDC_TOKEN_RELEASE_URL",
            format!("{}{RELEASE_PATH}", server.base_url()),
        ),
        (pin_var.as_str(), pin),
    ];
    let outcome = Composite::new(
        &emulator,
        &with(&emulator, &[]),
        &pins,
        Some(server.ca_pem()),
    )
    .run();
    let ran = marker.exists();
    (outcome, ran, asset.to_owned(), emulator)
}

#[test]
fn installer_runs_nothing_when_the_checksum_differs() {
    // An altered asset: the served bytes are not the pinned ones.
    let (outcome, ran, asset, emulator) = install(|marker| {
        let mut altered = marker_asset(marker);
        altered.extend_from_slice(b"# one more line\n");
        (Serve::File(altered), None)
    });
    let line = assert_refused(
        &outcome,
        &emulator,
        &[&asset, "checksum mismatch", "not run"],
    );
    assert!(!ran, "an asset that failed its checksum ran: {line}");

    // A pin that matches nothing (a replaced release asset looks like this).
    let (outcome, ran, asset, emulator) =
        install(|marker| (Serve::File(marker_asset(marker)), Some("ab".repeat(32))));
    assert_refused(
        &outcome,
        &emulator,
        &[&asset, "checksum mismatch", &"ab".repeat(32)],
    );
    assert!(!ran);
}

#[test]
fn installer_runs_nothing_when_the_asset_is_missing() {
    let (outcome, ran, asset, emulator) = install(|_| {
        // The release redirects to an object that is not there.
        (Serve::Redirect("/objects/gone".to_owned()), None)
    });
    let line = assert_refused(&outcome, &emulator, &[&asset, "HTTP 404", "release tag"]);
    assert!(!ran, "{line}");
}

#[test]
fn installer_runs_nothing_when_the_download_is_cut_short() {
    // Content-Length announces the whole asset; the connection closes halfway.
    let (outcome, ran, asset, emulator) = install(|marker| {
        let whole = marker_asset(marker);
        let half = whole[..whole.len() / 2].to_vec();
        assert!(String::from_utf8_lossy(&half).contains("touch"));
        (
            Serve::Truncated {
                bytes: half,
                announced: whole.len(),
            },
            None,
        )
    });
    let line = assert_refused(&outcome, &emulator, &[&asset, "cut short"]);
    assert!(!ran, "{line}");

    // A shorter file served as if complete: caught by the checksum.
    let (outcome, ran, asset, emulator) = install(|marker| {
        let whole = marker_asset(marker);
        (Serve::File(whole[..whole.len() / 2].to_vec()), None)
    });
    assert_refused(&outcome, &emulator, &[&asset, "checksum mismatch"]);
    assert!(!ran);
}

#[test]
fn installer_runs_nothing_larger_than_its_cap() {
    // 33 MiB, over the 32 MiB cap: refused from the announced length, before the body is read.
    let (outcome, ran, asset, emulator) =
        install(|_| (Serve::File(vec![b'#'; 33 * 1024 * 1024]), None));
    let line = assert_refused(&outcome, &emulator, &[&asset, "larger than 33554432 bytes"]);
    assert!(!ran, "{line}");
}

#[test]
fn installer_follows_no_redirect_to_http() {
    let (outcome, ran, asset, emulator) = install(|marker| {
        let _ = marker;
        (
            Serve::Redirect("http://127.0.0.1:9/objects/asset".to_owned()),
            None,
        )
    });
    let line = assert_refused(&outcome, &emulator, &[&asset, "a redirect left https://"]);
    assert!(!ran, "{line}");
}

#[test]
fn installer_downloads_nothing_from_an_unreleased_ref() {
    // native/action.yml as committed on a branch: placeholders (set here explicitly, so that the test
    // means the same on a release commit's tree).
    let emulator = Emulator::start(Config::default()).unwrap();
    let (_, asset, _) = platform();
    let server = release(asset, Serve::File(b"#!/bin/sh\nexit 0\n".to_vec()));
    let pinned: Vec<String> = entries(&run_step(&yaml(NATIVE))["env"])
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| name.starts_with("AZURE_OIDC_TOKEN_"))
        .collect();
    let placeholders: Vec<(&str, String)> = pinned
        .iter()
        .map(|name| (name.as_str(), "unreleased".to_owned()))
        .collect();
    assert_eq!(placeholders.len(), 6);
    let composite = Composite::new(
        &emulator,
        &with(&emulator, &[]),
        &placeholders,
        Some(server.ca_pem()),
    );
    let outcome = composite.run();
    assert_refused(&outcome, &emulator, &["not a release", "release tag"]);
    assert!(server.requests().is_empty(), "nothing may be downloaded");
}

#[test]
fn installer_refuses_what_the_composite_cannot_do() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let (_, asset, pin_var) = platform();
    let server = release(asset, Serve::File(b"#!/bin/sh\nexit 0\n".to_vec()));
    let pins = [
        (
            "AZURE_OIDC_TOKEN_RELEASE_URL",
            format!("{}{RELEASE_PATH}", server.base_url()),
        ),
        (pin_var.as_str(), "cd".repeat(32)),
    ];
    // `scopes`: outputs named at run time, which a composite cannot declare.
    let with_scopes = with(
        &emulator,
        &[("scopes", "graph=https://graph.microsoft.com")],
    );
    let outcome = Composite::new(&emulator, &with_scopes, &pins, Some(server.ca_pem())).run();
    assert_refused(&outcome, &emulator, &["scopes", "one step per resource"]);

    // A runner no asset is built for.
    let mut composite = Composite::new(
        &emulator,
        &with(&emulator, &[]),
        &pins,
        Some(server.ca_pem()),
    );
    composite
        .step
        .env
        .insert("RUNNER_ARCH".into(), "X86".into());
    let outcome = composite.run();
    assert_refused(
        &outcome,
        &emulator,
        &["RUNNER_ARCH=X86", "container action"],
    );

    // A shell that drops INPUT_CLIENT-ID-style names (dash does) between the runner and the
    // installer: refused, instead of running the binary without its inputs.
    let composite = Composite::new(
        &emulator,
        &with(&emulator, &[]),
        &pins,
        Some(server.ca_pem()),
    );
    let mut command = Command::new("dash");
    command
        .arg("-c")
        .arg(format!(
            "exec bash '{}'",
            Path::new(REPO).join("native/install.sh").display()
        ))
        .env_clear()
        .envs(&composite.step.env);
    let outcome = composite.step.run_command(command);
    composite.step.check(&outcome);
    assert_refused(
        &outcome,
        &emulator,
        &["did not reach the installer", "shell: bash"],
    );
    assert!(server.requests().is_empty(), "nothing may be downloaded");
}

// ---- the release commit -------------------------------------------------------------------------

const ASSETS: [&str; 5] = [
    "azure-oidc-token-linux-x64",
    "azure-oidc-token-linux-arm64",
    "azure-oidc-token-macos-x64",
    "azure-oidc-token-macos-arm64",
    "azure-oidc-token-windows-x64.exe",
];

struct ReleaseCommit {
    dir: tempfile::TempDir,
    args: Vec<String>,
}

impl ReleaseCommit {
    /// A copy of action.yml and native/action.yml, and valid fake inputs.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("native")).unwrap();
        std::fs::write(root.join("action.yml"), ACTION).unwrap();
        std::fs::write(root.join("native/action.yml"), NATIVE).unwrap();
        let sums: String = ASSETS
            .iter()
            .map(|a| format!("{}  {a}\n", sha256_hex(a.as_bytes())))
            .chain([format!("{}  {}.cdx.json\n", sha256_hex(b"sbom"), ASSETS[0])])
            .collect();
        std::fs::write(dir.path().join("SHA256SUMS"), sums).unwrap();
        let path = |p: &str| dir.path().join(p).display().to_string();
        let args = [
            "--dry-run",
            "--root",
            &path("root"),
            "--out",
            &path("out"),
            "--tag",
            "v1.2.3",
            "--image",
            "ghcr.io/octo-org/azure-oidc-token",
            "--digest",
            &format!("sha256:{}", sha256_hex(b"index")),
            "--release-url",
            "https://github.com/octo-org/azure-oidc-token/releases/download/v1.2.3",
            "--checksums",
            &path("SHA256SUMS"),
        ]
        .map(str::to_owned)
        .to_vec();
        Self { dir, args }
    }

    fn set(&mut self, flag: &str, value: &str) {
        let i = self.args.iter().position(|a| a == flag).unwrap();
        self.args[i + 1] = value.to_owned();
    }

    fn run(&self) -> std::process::Output {
        Command::new("bash")
            .arg(Path::new(REPO).join("scripts/release-commit.sh"))
            .args(&self.args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .unwrap()
    }

    fn out(&self, file: &str) -> PathBuf {
        self.dir.path().join("out").join(file)
    }
}

/// The lines of `before` and `after` that differ (same line count required).
fn changed_lines(before: &str, after: &str) -> Vec<(String, String)> {
    let (b, a): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    assert_eq!(b.len(), a.len(), "line count changed");
    assert_eq!(before.ends_with('\n'), after.ends_with('\n'));
    b.iter()
        .zip(&a)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| ((*x).to_owned(), (*y).to_owned()))
        .collect()
}

#[test]
fn release_commit_pins_the_image_and_every_checksum_and_nothing_else() {
    let commit = ReleaseCommit::new();
    let output = commit.run();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let digest = format!("sha256:{}", sha256_hex(b"index"));

    let action = std::fs::read_to_string(commit.out("action.yml")).unwrap();
    assert_eq!(
        changed_lines(ACTION, &action),
        [(
            "  image: Dockerfile".to_owned(),
            format!("  image: docker://ghcr.io/octo-org/azure-oidc-token@{digest}")
        )]
    );
    // Still a valid container action, now pointing at the image by digest.
    assert_eq!(
        yaml(&action)["runs"]["image"].as_str(),
        Some(format!("docker://ghcr.io/octo-org/azure-oidc-token@{digest}").as_str())
    );

    let native = std::fs::read_to_string(commit.out("native/action.yml")).unwrap();
    let changed = changed_lines(NATIVE, &native);
    assert_eq!(changed.len(), 6, "{changed:?}");
    let env = entries(&run_step(&yaml(&native))["env"]);
    let value = |name: &str| {
        env.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(
        value("AZURE_OIDC_TOKEN_RELEASE_URL"),
        "https://github.com/octo-org/azure-oidc-token/releases/download/v1.2.3"
    );
    let keys = [
        "LINUX_X64",
        "LINUX_ARM64",
        "MACOS_X64",
        "MACOS_ARM64",
        "WINDOWS_X64",
    ];
    for (asset, key) in ASSETS.iter().zip(keys) {
        assert_eq!(
            value(&format!("{PIN_PREFIX}{key}")),
            sha256_hex(asset.as_bytes()),
            "{asset}"
        );
    }
    assert!(!native.contains(": unreleased"));
    // The originals are untouched by a dry run.
    let root = commit.dir.path().join("root");
    assert_eq!(
        std::fs::read_to_string(root.join("action.yml")).unwrap(),
        ACTION
    );
    assert_eq!(
        std::fs::read_to_string(root.join("native/action.yml")).unwrap(),
        NATIVE
    );
}

/// A change that makes the release commit's input malformed.
type Change = Box<dyn Fn(&mut ReleaseCommit)>;

#[test]
fn release_commit_refuses_malformed_inputs() {
    let sums = |f: &dyn Fn(&str) -> String| -> String {
        ASSETS.iter().map(|a| f(a)).collect::<Vec<_>>().concat()
    };
    let ok = |a: &str| format!("{}  {a}\n", sha256_hex(a.as_bytes()));
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "short digest",
            Box::new(|c| c.set("--digest", "sha256:abc")),
            "--digest",
        ),
        (
            "upper-case digest",
            Box::new(|c| c.set("--digest", &format!("sha256:{}", "AB".repeat(32)))),
            "--digest",
        ),
        ("tag", Box::new(|c| c.set("--tag", "1.2.3")), "--tag"),
        (
            "image with a tag",
            Box::new(|c| c.set("--image", "ghcr.io/octo-org/azure-oidc-token:latest")),
            "--image",
        ),
        (
            "release URL of another tag",
            Box::new(|c| {
                c.set(
                    "--release-url",
                    "https://github.com/octo-org/azure-oidc-token/releases/download/v9.9.9",
                )
            }),
            "--release-url",
        ),
        (
            "http release URL",
            Box::new(|c| {
                c.set(
                    "--release-url",
                    "http://github.com/octo-org/azure-oidc-token/releases/download/v1.2.3",
                )
            }),
            "--release-url",
        ),
        (
            "missing asset",
            Box::new(move |c| {
                let text = sums(&|a: &str| {
                    if a.ends_with(".exe") {
                        String::new()
                    } else {
                        ok(a)
                    }
                });
                std::fs::write(c.dir.path().join("SHA256SUMS"), text).unwrap();
            }),
            "azure-oidc-token-windows-x64.exe",
        ),
        (
            "duplicate asset",
            Box::new(move |c| {
                let text = sums(&ok) + &ok(ASSETS[0]);
                std::fs::write(c.dir.path().join("SHA256SUMS"), text).unwrap();
            }),
            "twice",
        ),
        (
            "malformed checksum line",
            Box::new(move |c| {
                let text = sums(&ok) + "deadbeef  azure-oidc-token-extra\n";
                std::fs::write(c.dir.path().join("SHA256SUMS"), text).unwrap();
            }),
            "line 6",
        ),
        (
            "already a release commit",
            Box::new(|c| {
                let pinned = ACTION.replace(
                    "  image: Dockerfile",
                    "  image: docker://ghcr.io/o/r@sha256:00",
                );
                std::fs::write(c.dir.path().join("root/action.yml"), pinned).unwrap();
            }),
            "image: Dockerfile",
        ),
        (
            "a checksum already pinned",
            Box::new(|c| {
                let pinned = NATIVE.replacen(
                    "AZURE_OIDC_TOKEN_SHA256_MACOS_X64: unreleased",
                    "AZURE_OIDC_TOKEN_SHA256_MACOS_X64: 00",
                    1,
                );
                std::fs::write(c.dir.path().join("root/native/action.yml"), pinned).unwrap();
            }),
            "AZURE_OIDC_TOKEN_SHA256_MACOS_X64",
        ),
    ];
    for (case, change, named) in cases {
        let mut commit = ReleaseCommit::new();
        change(&mut commit);
        let output = commit.run();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{case}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{case}: one line: {stderr}");
        assert!(
            lines[0].starts_with("release-commit: ") && lines[0].contains(named),
            "{case}: {stderr}"
        );
        assert!(
            !commit.out("action.yml").exists() && !commit.out("native/action.yml").exists(),
            "{case}: nothing may be written"
        );
    }
}

#[test]
fn installer_runs_nothing_from_an_untrusted_server() {
    // The release server's CA is not trusted (not given to curl): no download, nothing run.
    let emulator = Emulator::start(Config::default()).unwrap();
    let (_, asset, pin_var) = platform();
    let markers = tempfile::tempdir().unwrap();
    let marker = markers.path().join("ran");
    let bytes = marker_asset(&marker);
    let server = release(asset, Serve::File(bytes.clone()));
    let pins = [
        (
            "AZURE_OIDC_TOKEN_RELEASE_URL",
            format!("{}{RELEASE_PATH}", server.base_url()),
        ),
        (pin_var.as_str(), sha256_hex(&bytes)),
    ];
    let outcome = Composite::new(&emulator, &with(&emulator, &[]), &pins, None).run();
    assert_refused(&outcome, &emulator, &[asset, "not trusted", "trust store"]);
    assert!(!marker.exists());
    assert!(
        server.requests().is_empty(),
        "no request over an untrusted connection"
    );
}

/// `token-service: true`: after the exchange the composite's script starts `serve` detached, the
/// step ends (it does not wait for the service), the header is masked in the step's log before it
/// is written to GITHUB_ENV, and a later step with only those two variables gets tokens, for
/// Resource Manager and for the scopes of `token-service-scopes`. SIGTERM then stops the service.
#[test]
fn native_token_service_outlives_its_step_and_serves_later_steps() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let (_, asset, pin_var) = platform();
    let binary = stripped_binary();
    let server = release(asset, Serve::File(binary.clone()));
    let pins = [
        (
            "AZURE_OIDC_TOKEN_RELEASE_URL",
            format!("{}{RELEASE_PATH}", server.base_url()),
        ),
        (pin_var.as_str(), sha256_hex(&binary)),
    ];
    let extra = [
        ("token-service", "true"),
        (
            "token-service-scopes",
            "https://vault.azure.net/.default,\n https://storage.azure.com ",
        ),
    ];
    let composite = Composite::new(
        &emulator,
        &with(&emulator, &extra),
        &pins,
        Some(server.ca_pem()),
    );
    let native = composite.run();
    native.assert_succeeded();
    let env = parse_file_commands(&native.env_file).unwrap();
    let value = |name: &str| {
        env.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name} not in GITHUB_ENV: {env:?}"))
    };
    let (endpoint, header) = (value("IDENTITY_ENDPOINT"), value("IDENTITY_HEADER"));
    let mask = native
        .stdout
        .lines()
        .position(|l| l == format!("::add-mask::{header}"))
        .expect("the header is masked in the step's log");
    assert!(
        native
            .stdout
            .lines()
            .skip(mask + 1)
            .all(|l| !l.contains(&header)),
        "{}",
        native.stdout
    );
    // Its pid file, its log, and no env file with the header left behind.
    let tmp = composite.step.dir.path().join("tmp");
    let service_dir = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("azure-oidc-token-service.")
        })
        .expect("the service's directory under RUNNER_TEMP");
    let pid = std::fs::read_to_string(service_dir.join("serve.pid")).unwrap();
    let pid = pid.trim().to_owned();
    assert!(!service_dir.join("env").exists());
    let stop = || {
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    };
    let address = endpoint
        .strip_prefix("http://")
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let get = |resource: &str| {
            crate::service::request(
                &address,
                "GET",
                &format!(
                    "/msi/token?api-version=2019-08-01&resource={}",
                    crate::service::encode(resource)
                ),
                &format!("X-IDENTITY-HEADER: {header}\r\n"),
            )
        };
        for resource in [
            "https://management.core.windows.net/",
            "https://vault.azure.net",
            "https://storage.azure.com/",
        ] {
            let (status, body) = get(resource);
            assert_eq!(status, 200, "{resource}: {body}");
            let token = body["access_token"].as_str().unwrap();
            assert!(emulator.issued_access_tokens().iter().any(|t| t == token));
        }
        let (status, _) = get("https://graph.microsoft.com/");
        assert_eq!(status, 403);
    }));
    stop();
    let log = std::fs::read_to_string(service_dir.join("serve.log")).unwrap();
    if let Err(panic) = result {
        panic!("{panic:?}\nservice log:\n{log}");
    }
    // Nothing secret in the service's log on disk.
    let mut secrets = support::secrets(&emulator);
    secrets.push(header.clone());
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "{log}");
    }
}

/// The container action cannot keep a process after its step: `token-service: true` fails at
/// once, before any request, pointing to the native action.
#[test]
fn container_action_refuses_token_service_at_once() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let step = container_step(&emulator, &with(&emulator, &[("token-service", "true")]));
    let outcome = step.run();
    let error = outcome.assert_failed();
    assert!(error.contains("token-service"), "{error}");
    assert!(error.contains("native action"), "{error}");
    assert_eq!(total_requests(&emulator), 0);
    assert!(outcome.output_file.is_empty() && outcome.env_file.is_empty());
    // A value that is not true/false is refused the same way as every other boolean input.
    let step = container_step(&emulator, &with(&emulator, &[("token-service", "yes")]));
    let error = step.run().assert_failed();
    assert!(error.contains("token-service"), "{error}");
}
