//! The shipped image, run the way the GitHub runner runs a container action
//! (`shared/reference/github-actions.md` §3). What the `Dockerfile`'s builder stage would do, done
//! here without its base image: take the files its `COPY` gets from the build context, run its one
//! `RUN` (`scripts/build-static.sh`) on them into a directory, then build the real `runtime` stage
//! with `--build-context builder=DIR` (nothing is pulled). The image is started with
//! `--workdir /github/workspace`, the runner's mounts, every variable passed as `-e NAME` with its value
//! in podman's own environment, against the emulator reached by host name through `/etc/hosts`.
//!
//! The scenarios assert what the native tests assert (outputs, masking, failure), through the same
//! helpers. Without podman the tests pass with a `skipped:` line, except under `CI=true`, where a
//! skip is a failure (`.ci/run` installs podman and runc).
//!
//! To compare the container's end-to-end time with the native binary's:
//! `cargo test --test integration -- container:: --ignored --nocapture`.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use azure_oidc_emulator::{Config, Emulator, Hop};
use support::{Outcome, Step, total_requests};

/// The host name the container reaches the emulator by (a DNS name on its certificate).
const HOST: &str = "emulator.test";
const IMAGE: &str = "localhost/azure-oidc-token:container-test";
const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// What this sandbox needs of podman (rootful, no systemd, no overlay); kept here, not in user docs.
const PODMAN_GLOBAL: &[&str] = &[
    "--runtime",
    "runc",
    "--cgroup-manager",
    "cgroupfs",
    "--events-backend",
    "file",
    "--storage-driver",
    "vfs",
];
const RUN_LIMITS: &[&str] = &[
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

/// The process environment podman itself needs; everything else it gets is the step's.
const PODMAN_OWN_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "USER",
    "LOGNAME",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "CONTAINERS_CONF",
    "CONTAINERS_STORAGE_CONF",
    "CONTAINERS_REGISTRIES_CONF",
];

fn podman() -> Command {
    let mut command = Command::new("podman");
    command.args(PODMAN_GLOBAL);
    command
}

fn installed(program: &str, version_flag: &str) -> bool {
    Command::new(program)
        .arg(version_flag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `true` when the container tests can run; otherwise says why and passes, or fails under `CI=true`.
fn container_tests_can_run() -> bool {
    let missing = if !installed("podman", "--version") {
        "podman not installed"
    } else if !installed("runc", "--version") {
        "runc not installed (podman runs with --runtime runc)"
    } else {
        return true;
    };
    // Once per run; fails under CI=true, where the container contract test must run.
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        support::skip(
            "the container contract tests, tests/integration/container.rs",
            missing,
        )
    });
    false
}

fn run(command: &mut Command, what: &str) -> Output {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Builds the static binary and the `runtime` stage once per test run; returns the image name.
fn image() -> &'static str {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        std::panic::catch_unwind(build_image).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "building the image panicked".to_owned())
        })
    });
    if let Err(e) = built {
        panic!("{e}");
    }
    IMAGE
}

/// Where the static build is laid out for `--build-context builder=` (kept, for the measurement).
fn builder_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("container-builder")
}

/// The one instruction of the Dockerfile's builder stage that builds: the script, with DIR=/.
const BUILDER_RUN: &str = "RUN bash /build/scripts/build-static.sh /";

/// The builder stage's `COPY` lines, after checking that the stage builds by [`BUILDER_RUN`] alone.
fn builder_stage_copies() -> Vec<String> {
    let dockerfile = std::fs::read_to_string(Path::new(REPO).join("Dockerfile")).unwrap();
    let mut lines = dockerfile.lines().map(str::trim);
    assert!(
        lines
            .by_ref()
            .any(|l| l.starts_with("FROM ") && l.ends_with(" AS builder")),
        "the Dockerfile has no stage named builder"
    );
    let stage: Vec<&str> = lines.take_while(|l| !l.starts_with("FROM ")).collect();
    let runs: Vec<&str> = stage
        .iter()
        .copied()
        .filter(|l| l.starts_with("RUN "))
        .collect();
    assert_eq!(
        runs,
        [BUILDER_RUN],
        "the builder stage must build with scripts/build-static.sh only, as this test does"
    );
    let copies: Vec<String> = stage
        .iter()
        .filter(|l| l.starts_with("COPY "))
        .map(|l| (*l).to_owned())
        .collect();
    assert!(!copies.is_empty() && copies.iter().all(|c| !c.contains("--from")));
    copies
}

fn build_image() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let (context, builder) = (tmp.join("container-context"), builder_dir());
    for dir in [&context, &builder] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
    // 1. Exactly the files the builder stage gets: its COPY lines over the real build context
    //    (.dockerignore applied), written out by podman. Timestamps are kept, so cargo reuses its
    //    previous build when nothing changed.
    let containerfile = tmp.join("Containerfile.builder-context");
    std::fs::write(
        &containerfile,
        format!("FROM scratch\n{}\n", builder_stage_copies().join("\n")),
    )
    .unwrap();
    let context_image = format!("{IMAGE}-context");
    run(
        podman()
            .args([
                "build",
                "--layers=false",
                "--tag",
                &context_image,
                "--output",
            ])
            .arg(format!("type=local,dest={}", context.display()))
            .arg("--file")
            .arg(&containerfile)
            .arg(REPO),
        "podman build (the builder stage's sources)",
    );
    remove_image(&context_image);
    // 2. The builder stage's recipe on those files, into DIR instead of /. Its own target dir:
    //    static RUSTFLAGS would invalidate the normal build, and the outer cargo holds that dir's lock.
    run(
        Command::new("bash")
            .arg(context.join("build/scripts/build-static.sh"))
            .arg(&builder)
            .env("CARGO_TARGET_DIR", Path::new(REPO).join("target/static"))
            .env_remove("RUSTFLAGS"),
        "scripts/build-static.sh",
    );
    // 3. The real runtime stage, its builder stage replaced by DIR: nothing is pulled.
    let previous = image_id(IMAGE);
    run(
        podman()
            .args(["build", "--layers=false", "--build-context"])
            .arg(format!("builder={}", builder.display()))
            .args(["--target", "runtime", "--tag", IMAGE, "--file"])
            .arg(Path::new(REPO).join("Dockerfile"))
            .arg(REPO),
        "podman build --target runtime",
    );
    // The previous run's image, now untagged, would pile up in the store.
    if let Some(previous) = previous.filter(|id| image_id(IMAGE).as_ref() != Some(id)) {
        remove_image(&previous);
    }
}

fn image_id(name: &str) -> Option<String> {
    let output = podman()
        .args(["image", "inspect", "--format", "{{.Id}}", name])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Best effort: an image still in use (another test run's container) stays.
fn remove_image(name: &str) {
    let _ = podman()
        .args(["rmi", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A step run as a container: the runner's directory layout on the host, mounted where the runner
/// mounts it, and the step's environment translated the way the runner translates host paths.
struct ContainerStep<'a> {
    emulator: &'a Emulator,
    /// Host side of `RUNNER_TEMP` (mounted at /github/runner_temp); holds the other mounted dirs.
    _temp: tempfile::TempDir,
    mounts: Vec<(PathBuf, &'static str)>,
    /// Host paths of GITHUB_OUTPUT, GITHUB_ENV and GITHUB_STEP_SUMMARY.
    files: [PathBuf; 3],
    env: BTreeMap<String, String>,
}

impl<'a> ContainerStep<'a> {
    fn new(emulator: &'a Emulator) -> Self {
        let temp = tempfile::tempdir().unwrap();
        let mounts = vec![
            (temp.path().to_owned(), "/github/runner_temp"),
            (temp.path().join("_github_home"), "/github/home"),
            (temp.path().join("_github_workflow"), "/github/workflow"),
            (
                temp.path().join("_runner_file_commands"),
                "/github/file_commands",
            ),
            (temp.path().join("workspace"), "/github/workspace"),
        ];
        for (host, _) in &mounts[1..] {
            std::fs::create_dir(host).unwrap();
        }
        // The inputs and variables a native step gets, then the runner's container-side values.
        let native = Step::new(emulator);
        let mut env = native.env.clone();
        // A self-hosted runner behind TLS inspection: the CA bundle sits in a mounted directory.
        std::fs::write(temp.path().join("ca.pem"), emulator.ca_pem()).unwrap();
        env.insert(
            "SSL_CERT_FILE".to_owned(),
            "/github/runner_temp/ca.pem".to_owned(),
        );
        // The runner creates each file empty, with a new GUID per step, before the step starts.
        let guid = uuid::Uuid::new_v4();
        let commands = &mounts[3].0;
        let mut files = Vec::new();
        for (var, prefix) in [
            ("GITHUB_OUTPUT", "set_output"),
            ("GITHUB_ENV", "set_env"),
            ("GITHUB_STEP_SUMMARY", "step_summary"),
            ("GITHUB_STATE", "save_state"),
            ("GITHUB_PATH", "add_path"),
        ] {
            let name = format!("{prefix}_{guid}");
            std::fs::write(commands.join(&name), "").unwrap();
            files.push(commands.join(&name));
            env.insert(var.to_owned(), format!("/github/file_commands/{name}"));
        }
        for (var, value) in [
            ("GITHUB_WORKSPACE", "/github/workspace"),
            ("RUNNER_TEMP", "/github/runner_temp"),
            ("HOME", "/github/home"),
        ] {
            env.insert(var.to_owned(), value.to_owned());
        }
        // The emulator by host name, as a real endpoint would be; its certificate carries that name.
        let by_name = format!("https://{HOST}:{}", emulator.port());
        for var in ["ACTIONS_ID_TOKEN_REQUEST_URL", "INPUT_AUTHORITY-HOST"] {
            let value = env[var].replace(&emulator.base_url(), &by_name);
            assert!(value.starts_with(&by_name), "{var}={value}");
            env.insert(var.to_owned(), value);
        }
        // Anything else still pointing into the native step's directory is not mounted: drop it.
        env.retain(|_, value| !value.starts_with(&*native.dir.path().to_string_lossy()));
        Self {
            emulator,
            _temp: temp,
            mounts,
            files: [files[0].clone(), files[1].clone(), files[2].clone()],
            env,
        }
    }

    fn without(mut self, name: &str) -> Self {
        self.env.remove(name);
        self
    }

    /// The `podman run` line the runner would issue (`DockerCommandManager.DockerRun`): each variable
    /// by name only, its value in podman's environment, so no value ever appears on a command line.
    /// Like the runner, it spells out the fixed, non-secret ones.
    fn command(&self) -> Command {
        const LITERAL: [&str; 3] = ["HOME", "GITHUB_ACTIONS", "CI"];
        let mut command = podman();
        command.args(["run", "--rm", "--workdir", "/github/workspace"]);
        command.args(RUN_LIMITS);
        command.args(["--network", "host", "--add-host"]);
        command.arg(format!("{HOST}:127.0.0.1"));
        for (host, container) in &self.mounts {
            command
                .arg("-v")
                .arg(format!("{}:{container}", host.display()));
        }
        command.env_clear();
        // podman's own environment (HOME included: rootless podman keeps its storage under it).
        for name in PODMAN_OWN_ENV {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        for (name, value) in &self.env {
            if LITERAL.contains(&name.as_str()) {
                command.arg("-e").arg(format!("{name}={value}"));
            } else {
                command.args(["-e", name]);
                command.env(name, value);
            }
        }
        command.arg(image());
        command
    }

    fn run(&self) -> Outcome {
        let started = Instant::now();
        let output = self.command().output().unwrap();
        let elapsed = started.elapsed();
        let read = |path: &Path| std::fs::read_to_string(path).unwrap();
        Outcome {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            output_file: read(&self.files[0]),
            env_file: read(&self.files[1]),
            summary: read(&self.files[2]),
            elapsed,
        }
    }

    fn run_checked(&self) -> Outcome {
        let outcome = self.run();
        support::assert_no_secret_leaked(self.emulator, &outcome, false);
        outcome
    }
}

fn emulator() -> Emulator {
    Emulator::start(Config {
        host_names: vec![HOST.to_owned()],
        ..Config::default()
    })
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The scenarios: the same outcomes as the native binary's

#[test]
fn container_step_outputs_a_working_token() {
    if !container_tests_can_run() {
        return;
    }
    let emulator = emulator();
    let outcome = ContainerStep::new(&emulator).run_checked();
    outcome.assert_succeeded();

    let outputs = outcome.outputs();
    let issued = emulator.issued_access_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(outputs["access-token"], issued[0]);
    assert_eq!(outputs["token-type"], "Bearer");
    assert_eq!(outputs["tenant-id"], emulator.tenant_id());
    assert_eq!(outputs["client-id"], emulator.client_id());
    assert!(outputs["expires-on"].parse::<i64>().is_ok());
    assert!(
        outcome
            .stdout
            .contains("sub=\"repo:octo-org/octo-repo:ref:refs/heads/main\"")
    );
    // Root in the container appended to the runner's files: the summary too, without the token.
    assert!(outcome.summary.contains(&emulator.tenant_id()));
    assert_eq!(outcome.env_file, "");
    // Both hops were reached by name, through the mounted CA bundle.
    assert_eq!(emulator.requests(Hop::GitHub), 1);
    assert_eq!(emulator.requests(Hop::Entra), 1);
    let entra = &emulator.recorded(Hop::Entra)[0];
    assert_eq!(
        entra.header("host"),
        Some(format!("{HOST}:{}", emulator.port()).as_str())
    );
}

#[test]
fn container_step_fails_on_an_entra_error_with_its_code() {
    if !container_tests_can_run() {
        return;
    }
    let emulator = emulator();
    emulator.set_subject("repo:octo-org/octo-repo:environment:production");
    let outcome = ContainerStep::new(&emulator).run_checked();
    let message = outcome.assert_failed();
    assert!(message.contains("AADSTS700213"), "{message}");
    assert!(message.contains("trace_id "), "{message}");
    assert!(message.contains("correlation_id "), "{message}");
    assert!(message.contains(HOST), "names the endpoint: {message}");
    assert!(
        outcome
            .stdout
            .contains("Presented subject:  \"repo:octo-org/octo-repo:environment:production\""),
        "{}",
        outcome.stdout
    );
    assert_eq!(emulator.requests(Hop::Entra), 1, "not retried");
}

#[test]
fn container_step_without_id_token_permission_says_how_to_fix_it() {
    if !container_tests_can_run() {
        return;
    }
    let emulator = emulator();
    let outcome = ContainerStep::new(&emulator)
        .without("ACTIONS_ID_TOKEN_REQUEST_URL")
        .without("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .run_checked();
    let message = outcome.assert_failed();
    assert!(message.contains("id-token: write"), "{message}");
    assert!(message.contains("fork"), "{message}");
    assert_eq!(total_requests(&emulator), 0);
}

// ---------------------------------------------------------------------------------------------
// Measurement, not a timed test: run by hand (see the module docs)

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[test]
#[ignore = "a measurement: cargo test --test integration -- container:: --ignored --nocapture"]
fn measure_container_against_native() {
    if !container_tests_can_run() {
        return;
    }
    const RUNS: usize = 9;
    let emulator = emulator();
    let image = image();
    // The very binary the image holds, run natively: the difference is the container's cost.
    let binary = builder_dir().join("out/azure-oidc-token");
    let (mut container, mut native, mut start) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let outcome = ContainerStep::new(&emulator).run();
        outcome.assert_succeeded();
        container.push(outcome.elapsed);

        let step = Step::new(&emulator);
        let started = Instant::now();
        let status = Command::new(&binary)
            .env_clear()
            .envs(&step.env)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        native.push(started.elapsed());
        assert!(status.success());

        let started = Instant::now();
        let mut version = podman();
        version
            .args(["run", "--rm", "--network", "host"])
            .args(RUN_LIMITS)
            .args([image, "--version"]);
        run(&mut version, "podman run --version");
        start.push(started.elapsed());
    }
    let size = run(
        podman().args(["image", "inspect", "--format", "{{.Size}}", image]),
        "podman image inspect",
    );
    let binary_size = std::fs::metadata(&binary).unwrap().len();
    #[allow(clippy::print_stderr)] // the measurement is the point of this test
    {
        eprintln!(
            "image {image}: {} bytes (podman image inspect); static binary {binary_size} bytes",
            String::from_utf8_lossy(&size.stdout).trim()
        );
        eprintln!(
            "medians of {RUNS} against the emulator: container step {:?} (podman run --rm, end to end), \
             same binary native {:?}, container start alone {:?} (podman run --rm --network host IMAGE --version)",
            median(container),
            median(native),
            median(start)
        );
    }
}
