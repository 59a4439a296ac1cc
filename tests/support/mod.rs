//! Test harness: spawns the real binary as a workflow step would, against the emulator.
//!
//! The environment is built per spawned process (`env_clear` first, so nothing from the developer's
//! shell or CI leaks in); the runner's file-command files are real files in a temp dir; and
//! [`parse_file_commands`] reads them back by the runner's own rules.

#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

pub mod grammar;
pub mod http_double;
mod runner_rules;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use azure_oidc_emulator::{Emulator, Hop};

pub use runner_rules::{
    RunnerLog, parse_command, parse_file_commands, parse_legacy_command, unescape_data,
    unescape_property,
};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_azure-oidc-token");

/// A step about to run: its environment and its files.
pub struct Step<'a> {
    pub emulator: &'a Emulator,
    pub dir: tempfile::TempDir,
    pub env: BTreeMap<String, String>,
}

/// action.yml's inputs and their defaults (`""` where it declares none), in file order.
pub fn action_inputs() -> Vec<(String, String)> {
    use yaml_rust2::{Yaml, YamlLoader};
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/action.yml")).unwrap();
    let docs = YamlLoader::load_from_str(&text).unwrap();
    let Yaml::Hash(inputs) = &docs[0]["inputs"] else {
        panic!("action.yml has no inputs mapping");
    };
    inputs
        .iter()
        .map(|(name, spec)| {
            let default = match &spec["default"] {
                Yaml::String(s) | Yaml::Real(s) => s.clone(),
                Yaml::Integer(i) => i.to_string(),
                Yaml::Boolean(b) => b.to_string(),
                Yaml::BadValue | Yaml::Null => String::new(),
                other => panic!("unexpected default {other:?}"),
            };
            (name.as_str().unwrap().to_owned(), default)
        })
        .collect()
}

/// How long past its budget a spawned process may run before the harness kills it and fails the
/// test: a hang becomes a failure with the output so far, not a stuck suite.
/// `TEST_PROCESS_GRACE_SECS` overrides it (e.g. under a debugger).
pub fn process_grace() -> Duration {
    Duration::from_secs(
        std::env::var("TEST_PROCESS_GRACE_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60),
    )
}

/// Runs `command` to its end with stdin closed, or kills it at `deadline` and panics with what it
/// printed so far. Returns the status and both streams.
pub fn output_within(
    mut command: Command,
    deadline: Duration,
) -> (std::process::ExitStatus, Vec<u8>, Vec<u8>) {
    use std::io::Read as _;
    use std::os::unix::process::CommandExt as _;
    use std::process::Stdio;
    use std::sync::mpsc;
    // Its own process group, so that a wrapper's children (strace's tracee, faketime's) go too.
    let mut child = command
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {command:?}: {e}"));
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        let (send, receive) = mpsc::channel();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            let _ = send.send(bytes);
        });
        receive
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, stdout.recv().unwrap(), stderr.recv().unwrap());
        }
        if started.elapsed() > deadline {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.kill();
            let _ = child.wait();
            let so_far = |pipe: &mpsc::Receiver<Vec<u8>>| {
                let bytes = pipe
                    .recv_timeout(Duration::from_secs(5))
                    .unwrap_or_default();
                String::from_utf8_lossy(&bytes).into_owned()
            };
            panic!(
                "the process ran past its {deadline:?} deadline and was killed: {command:?}\nstdout so far:\n{}\nstderr so far:\n{}",
                so_far(&stdout),
                so_far(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a finished step left behind.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub output_file: String,
    pub env_file: String,
    pub summary: String,
    pub elapsed: Duration,
}

impl<'a> Step<'a> {
    /// A step with the inputs and runner variables a real runner would pass (action.yml defaults included).
    pub fn new(emulator: &'a Emulator) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, emulator.ca_pem()).unwrap();
        let commands = dir.path().join("file_commands");
        std::fs::create_dir(&commands).unwrap();
        let mut env = BTreeMap::new();
        let mut set = |k: &str, v: String| {
            env.insert(k.to_owned(), v);
        };
        // The runner creates each file empty before the step starts.
        for (var, file) in [
            ("GITHUB_OUTPUT", "set_output_6b1f"),
            ("GITHUB_ENV", "set_env_6b1f"),
            ("GITHUB_STEP_SUMMARY", "step_summary_6b1f"),
        ] {
            let path = commands.join(file);
            std::fs::write(&path, "").unwrap();
            set(var, path.display().to_string());
        }
        // Every input action.yml declares, with its default (the runner passes each one to a
        // container action, empty when it has no default): read from action.yml, not copied.
        for (name, default) in action_inputs() {
            set(&format!("INPUT_{}", name.to_uppercase()), default);
        }
        // What a workflow against the emulator sets.
        set("INPUT_CLIENT-ID", emulator.client_id());
        set("INPUT_TENANT-ID", emulator.tenant_id());
        set("INPUT_AUTHORITY-HOST", emulator.authority_host());
        set("ACTIONS_ID_TOKEN_REQUEST_URL", emulator.request_url());
        set("ACTIONS_ID_TOKEN_REQUEST_TOKEN", emulator.request_token());
        set("SSL_CERT_FILE", ca.display().to_string());
        set("GITHUB_ACTIONS", "true".to_owned());
        set("CI", "true".to_owned());
        set("HOME", dir.path().display().to_string());
        // The working directory and TMPDIR live in the step's directory too, so that anything the
        // binary might write relative to them is inside the tree `assert_no_secret_on_disk` scans.
        for sub in ["workspace", "tmp"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        set("TMPDIR", dir.path().join("tmp").display().to_string());
        Self { emulator, dir, env }
    }

    /// Sets (or overrides) one variable.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.env.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Removes one variable.
    pub fn without(mut self, name: &str) -> Self {
        self.env.remove(name);
        self
    }

    pub fn path(&self, var: &str) -> PathBuf {
        PathBuf::from(&self.env[var])
    }

    /// The command that runs the binary with exactly this environment, in the step's workspace.
    pub fn command(&self) -> Command {
        self.command_with(&[])
    }

    /// Like [`command`](Self::command), with `wrapper` (e.g. `["faketime", "+5h"]`) in front of the binary.
    pub fn command_with(&self, wrapper: &[&str]) -> Command {
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(BIN);
                command
            }
            None => Command::new(BIN),
        };
        command
            .env_clear()
            .envs(&self.env)
            .current_dir(self.dir.path().join("workspace"));
        if !wrapper.is_empty() {
            // The wrapper itself may need to be found on PATH (the binary never does).
            command.env("PATH", std::env::var("PATH").unwrap_or_default());
        }
        command
    }

    /// Runs the binary with exactly this environment and collects everything it left.
    pub fn run(&self) -> Outcome {
        self.run_command(self.command())
    }

    /// Runs `command` (built by [`command_with`](Self::command_with)) and collects everything it left.
    pub fn run_command(&self, command: Command) -> Outcome {
        let started = Instant::now();
        // The step's budget plus a grace period: past it the binary is hung, not slow.
        let budget = self
            .env
            .get("INPUT_TIMEOUT-SECONDS")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(60);
        let (status, stdout, stderr) =
            output_within(command, Duration::from_secs(budget) + process_grace());
        let elapsed = started.elapsed();
        let read = |var: &str| {
            self.env
                .get(var)
                // Only regular files: a test may point a variable at /dev/full, which reads forever.
                .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
                .and_then(|p| std::fs::read_to_string(p).ok())
                .unwrap_or_default()
        };
        Outcome {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            output_file: read("GITHUB_OUTPUT"),
            env_file: read("GITHUB_ENV"),
            summary: read("GITHUB_STEP_SUMMARY"),
            elapsed,
        }
    }

    /// Runs, then checks that no secret leaked (every scenario calls this).
    pub fn run_checked(&self) -> Outcome {
        let outcome = self.run();
        self.check(&outcome);
        outcome
    }

    /// Whether `export-env` is set, i.e. whether `GITHUB_ENV` may hold the token.
    pub fn exports_env(&self) -> bool {
        self.env
            .get("INPUT_EXPORT-ENV")
            .is_some_and(|v| !v.trim().is_empty())
    }

    /// The leak checks of [`run_checked`](Self::run_checked), for an outcome of this step.
    pub fn check(&self, outcome: &Outcome) {
        assert_no_secret_leaked(self.emulator, outcome, self.exports_env());
        assert_no_secret_on_disk(
            &secrets(self.emulator),
            self.dir.path(),
            &self.allowed_files(),
        );
    }

    /// The files that may hold a token: `GITHUB_OUTPUT`, and `GITHUB_ENV` with `export-env`.
    pub fn allowed_files(&self) -> Vec<PathBuf> {
        let mut allowed = vec![self.path("GITHUB_OUTPUT")];
        if self.exports_env() {
            allowed.extend(self.env.get("GITHUB_ENV").map(PathBuf::from));
        }
        allowed
    }
}

impl Outcome {
    /// The step outputs, parsed by the runner's rules.
    pub fn outputs(&self) -> BTreeMap<String, String> {
        parse_file_commands(&self.output_file)
            .unwrap()
            .into_iter()
            .collect()
    }

    /// The `::error` lines.
    pub fn error_lines(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .chain(self.stderr.lines())
            .filter(|l| l.trim_start().starts_with("::error"))
            .collect()
    }

    /// Asserts the step failed the way DESIGN.md says: status 1, one `::error` line with the
    /// action's title, nothing written to the output files. Returns the error line.
    pub fn assert_failed(&self) -> String {
        assert_eq!(
            self.code,
            Some(1),
            "exit status; stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        let errors = self.error_lines();
        assert_eq!(
            errors.len(),
            1,
            "exactly one ::error line expected:\n{}",
            self.stdout
        );
        assert!(
            errors[0].starts_with("::error title=azure-oidc-token::"),
            "{}",
            errors[0]
        );
        assert_eq!(
            self.output_file, "",
            "nothing may be written to GITHUB_OUTPUT on failure"
        );
        assert_eq!(
            self.env_file, "",
            "nothing may be written to GITHUB_ENV on failure"
        );
        unescape_data(
            errors[0]
                .split_once("::")
                .unwrap()
                .1
                .split_once("::")
                .unwrap()
                .1,
        )
    }

    pub fn assert_succeeded(&self) {
        assert_eq!(
            self.code,
            Some(0),
            "exit status; stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        assert!(self.error_lines().is_empty(), "{}", self.stdout);
    }
}

/// Every secret that exists in the test: the request token (first), every ID token handed out or
/// minted (= client assertions), every token a test registered, and every access token.
pub fn secrets(emulator: &Emulator) -> Vec<String> {
    emulator.secrets()
}

/// Every ID token of the test, handed out by the GitHub endpoint or minted by the test: none may
/// ever reach `GITHUB_OUTPUT`.
pub fn id_tokens(emulator: &Emulator) -> Vec<String> {
    let mut all = emulator.issued_id_tokens();
    all.extend(emulator.minted_tokens());
    all
}

/// A secret and the forms it could leak in: base64 (standard and URL-safe), URL-encoded, and its tail.
pub fn encodings(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    let mut forms = vec![secret.to_owned()];
    forms.push(base64::engine::general_purpose::STANDARD.encode(secret));
    forms.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret));
    let encoded: String = form_urlencoded_byte(secret);
    if encoded != secret {
        forms.push(encoded);
    }
    // A partial echo (say, an excerpt of a body) would show a tail: check the last 40 characters too.
    if secret.len() > 60 {
        forms.push(secret[secret.len() - 40..].to_owned());
    }
    forms
}

fn form_urlencoded_byte(value: &str) -> String {
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

/// No secret (nor its base64/URL-encoded form) in stdout, stderr or the summary, except on its own
/// `::add-mask::` line; the env file may hold the token only when `export-env` asked for it; every
/// ID token handed out was masked before its claims were logged, every access token before the
/// line that reports it. (Files on disk: [`assert_no_secret_on_disk`].)
pub fn assert_no_secret_leaked(emulator: &Emulator, outcome: &Outcome, export_env: bool) {
    let secrets = secrets(emulator);
    assert!(!secrets[0].is_empty());
    assert_no_secret_in_streams(&secrets, &id_tokens(emulator), outcome, export_env);
    // Every ID token handed out was masked, the first one before its claims were logged.
    let lines: Vec<&str> = outcome.stdout.lines().collect();
    for (index, token) in emulator.issued_id_tokens().iter().enumerate() {
        let mask = lines
            .iter()
            .position(|l| *l == format!("::add-mask::{token}"));
        let mask = mask.expect("an ID token was not masked");
        if index == 0
            && let Some(claims_line) = lines.iter().position(|l| l.starts_with("GitHub ID token:"))
        {
            assert!(
                mask < claims_line,
                "the ID token mask came after the claims line"
            );
        }
    }
    // The access token is masked before any other line about it.
    for token in emulator.issued_access_tokens() {
        if outcome.output_file.contains(&token) {
            let mask = lines
                .iter()
                .position(|l| *l == format!("::add-mask::{token}"));
            let mask = mask.expect("an access token reached the outputs without being masked");
            let after = lines
                .iter()
                .position(|l| l.starts_with("Azure access token for"));
            assert!(
                after.is_none_or(|a| mask < a),
                "the access token mask came late"
            );
        }
    }
}

/// The scan behind [`assert_no_secret_leaked`], for any list of secrets (e.g. every token a shared
/// emulator handed out to many runs): no secret, in any encoded form, on any line of stdout, stderr
/// or the summary other than its own `::add-mask::` line; none in `GITHUB_ENV` unless `export_env`;
/// neither the request token nor any ID token (`id_tokens`, the client assertions) in `GITHUB_OUTPUT`.
pub fn assert_no_secret_in_streams(
    secrets: &[String],
    id_tokens: &[String],
    outcome: &Outcome,
    export_env: bool,
) {
    let forms: Vec<(&String, Vec<String>)> = secrets.iter().map(|s| (s, encodings(s))).collect();
    for (stream, text) in [
        ("stdout", &outcome.stdout),
        ("stderr", &outcome.stderr),
        ("summary", &outcome.summary),
    ] {
        for line in text.lines() {
            let masked = line.strip_prefix("::add-mask::");
            for (secret, encoded) in &forms {
                if masked == Some(secret.as_str()) {
                    continue;
                }
                for form in encoded {
                    assert!(!line.contains(form), "a secret leaked on {stream}: {line}");
                }
            }
        }
    }
    assert_runner_shows_no_secret(secrets, outcome);
    if !export_env {
        for (_, encoded) in &forms {
            for form in encoded {
                assert!(
                    !outcome.env_file.contains(form.as_str()),
                    "a secret reached GITHUB_ENV without export-env"
                );
            }
        }
    }
    // The request token and the ID tokens are never written anywhere, not even to the output file.
    for (secret, encoded) in &forms {
        let request_token = Some(*secret) == secrets.first();
        if request_token || id_tokens.contains(secret) {
            for form in encoded {
                assert!(
                    !outcome.output_file.contains(form.as_str()),
                    "the request token or an ID token reached GITHUB_OUTPUT"
                );
            }
        }
    }
}

/// Replays the step's output through the runner's command processing ([`RunnerLog`]: both command
/// parsers, `stop-commands` fences, the masker) and checks what the runner would do with it: no
/// secret is shown in the log, only the commands this action writes ran (no `set-output`, `set-env`,
/// `add-path`, …), every fence was closed by the token that opened it, and processing is not left
/// stopped (a stopped runner would print a later `::add-mask::` line, token and all).
pub fn assert_runner_shows_no_secret(secrets: &[String], outcome: &Outcome) {
    let log = RunnerLog::replay(&outcome.stdout, &outcome.stderr);
    for line in &log.shown {
        for secret in secrets {
            assert!(
                !line.contains(secret.as_str()),
                "the runner would show a secret in the log: {line}\nstdout:\n{}",
                outcome.stdout
            );
        }
    }
    let mut open_fence: Option<String> = None;
    for command in &log.processed {
        let name = command.name.to_ascii_lowercase();
        if let Some(token) = open_fence.take() {
            assert!(
                name.eq_ignore_ascii_case(&token),
                "a command ran inside a fence: {command:?}"
            );
            continue;
        }
        match name.as_str() {
            "stop-commands" => {
                assert!(
                    command.data.starts_with("inert") && command.data.len() > 20,
                    "a stop-commands fence not opened by this action: {command:?}\nstdout:\n{}",
                    outcome.stdout
                );
                open_fence = Some(command.data.clone());
            }
            "add-mask" | "debug" | "error" | "warning" => {}
            _ => panic!(
                "the runner would run a command this action never writes: {command:?}\nstdout:\n{}",
                outcome.stdout
            ),
        }
    }
    assert!(
        !log.stopped() && open_fence.is_none(),
        "command processing is left stopped at the end of the step:\n{}",
        outcome.stdout
    );
}

/// No secret, in any encoded form, in any file under `root` (recursively) other than `allowed`:
/// the step's directory holds the runner's files, `HOME`, `TMPDIR` and the working directory, so
/// this is "nothing but `GITHUB_OUTPUT` (and `GITHUB_ENV` with `export-env`) holds a token".
pub fn assert_no_secret_on_disk(secrets: &[String], root: &Path, allowed: &[PathBuf]) {
    let forms: Vec<String> = secrets.iter().flat_map(|s| encodings(s)).collect();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() && !allowed.contains(&path) {
                let bytes = std::fs::read(&path).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                for form in &forms {
                    assert!(
                        !text.contains(form.as_str()),
                        "a secret was written to {}",
                        path.display()
                    );
                }
            }
        }
    }
}

/// The name filters among a test binary's arguments, skipping libtest's flags and their values
/// (for the harness-less binaries, which accept what `cargo test -- …` passes).
#[allow(
    dead_code,
    reason = "for the harness-less binaries (faults, load); libtest filters the integration suites"
)]
pub fn test_filters(args: &[String]) -> Vec<&str> {
    const TAKES_VALUE: &[&str] = &[
        "--test-threads",
        "--skip",
        "--color",
        "--format",
        "--logfile",
        "-Z",
    ];
    let mut filters = Vec::new();
    let mut skip_next = false;
    for arg in args {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        if TAKES_VALUE.contains(&arg.as_str()) {
            skip_next = true;
        } else if !arg.starts_with('-') {
            filters.push(arg.as_str());
        }
    }
    filters
}

/// Request counts on every hop, for "no request was made" checks.
pub fn total_requests(emulator: &Emulator) -> usize {
    [Hop::GitHub, Hop::Entra, Hop::Discovery]
        .into_iter()
        .map(|hop| emulator.requests(hop))
        .sum()
}

/// A check that cannot run here (a tool is missing): under `CI=true` (as `.ci/run` sets) that is a
/// failure; elsewhere the skip is written to the process's stderr handle directly, past libtest's
/// capture (which hides a passing test's `eprintln!`), so it shows in plain `cargo test` output.
pub fn skip(test: &str, reason: &str) {
    use std::io::Write as _;
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "{test} cannot run under CI=true: {reason} (.ci/run installs everything the suite needs)"
    );
    let _ = writeln!(std::io::stderr(), "skipped: {reason} ({test})");
}
