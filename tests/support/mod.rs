//! Test harness: spawns the real binary as a workflow step would, against the emulator.
//!
//! The environment is built per spawned process (`env_clear` first, so nothing from the developer's
//! shell or CI leaks in); the runner's file-command files are real files in a temp dir; and
//! [`parse_file_commands`] reads them back by the runner's own rules.

#![allow(dead_code, clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use azure_oidc_emulator::{Emulator, Hop};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_azure-oidc-token");

/// A step about to run: its environment and its files.
pub struct Step<'a> {
    pub emulator: &'a Emulator,
    pub dir: tempfile::TempDir,
    pub env: BTreeMap<String, String>,
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
        set("INPUT_CLIENT-ID", emulator.client_id());
        set("INPUT_TENANT-ID", emulator.tenant_id());
        set("INPUT_SUBSCRIPTION-ID", String::new());
        set("INPUT_ENVIRONMENT", "AzureCloud".to_owned());
        set("INPUT_AUDIENCE", String::new());
        set("INPUT_SCOPE", String::new());
        set("INPUT_AUTHORITY-HOST", emulator.authority_host());
        set("INPUT_EXPORT-ENV", String::new());
        set("INPUT_TIMEOUT-SECONDS", "60".to_owned());
        set("INPUT_SUMMARY", "true".to_owned());
        set("ACTIONS_ID_TOKEN_REQUEST_URL", emulator.request_url());
        set("ACTIONS_ID_TOKEN_REQUEST_TOKEN", emulator.request_token());
        set("SSL_CERT_FILE", ca.display().to_string());
        set("GITHUB_ACTIONS", "true".to_owned());
        set("CI", "true".to_owned());
        set("HOME", dir.path().display().to_string());
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

    /// Runs the binary with exactly this environment and collects everything it left.
    pub fn run(&self) -> Outcome {
        let started = Instant::now();
        let output = Command::new(BIN)
            .env_clear()
            .envs(&self.env)
            .output()
            .unwrap();
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
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            output_file: read("GITHUB_OUTPUT"),
            env_file: read("GITHUB_ENV"),
            summary: read("GITHUB_STEP_SUMMARY"),
            elapsed,
        }
    }

    /// Runs, then checks that no secret leaked (every scenario calls this).
    pub fn run_checked(&self) -> Outcome {
        let outcome = self.run();
        assert_no_secret_leaked(
            self.emulator,
            &outcome,
            self.env
                .get("INPUT_EXPORT-ENV")
                .is_some_and(|v| !v.is_empty()),
        );
        outcome
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

/// Reverses workflow-command data escaping, as the runner does.
pub fn unescape_data(data: &str) -> String {
    data.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%25", "%")
}

/// Every secret of the run: the request token, every ID token (= client assertion) and every access token.
pub fn secrets(emulator: &Emulator) -> Vec<String> {
    let mut all = vec![emulator.request_token()];
    all.extend(emulator.issued_id_tokens());
    all.extend(emulator.issued_access_tokens());
    all
}

fn encodings(secret: &str) -> Vec<String> {
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
/// `::add-mask::` line; the env file may hold the token only when `export-env` asked for it.
pub fn assert_no_secret_leaked(emulator: &Emulator, outcome: &Outcome, export_env: bool) {
    let secrets = secrets(emulator);
    assert!(!secrets[0].is_empty());
    for (stream, text) in [
        ("stdout", &outcome.stdout),
        ("stderr", &outcome.stderr),
        ("summary", &outcome.summary),
    ] {
        for line in text.lines() {
            for secret in &secrets {
                if line == format!("::add-mask::{secret}") {
                    continue;
                }
                for form in encodings(secret) {
                    assert!(!line.contains(&form), "a secret leaked on {stream}: {line}");
                }
            }
        }
    }
    if !export_env {
        for secret in &secrets {
            assert!(
                !outcome.env_file.contains(secret.as_str()),
                "a secret reached GITHUB_ENV without export-env"
            );
        }
    }
    // The request token is never anywhere, not even in the output file.
    assert!(!outcome.output_file.contains(&secrets[0]));
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

/// Parses a `GITHUB_OUTPUT`/`GITHUB_ENV` file by the runner's rules (`FileCommandManager.cs`,
/// Linux): empty lines skipped; `NAME=VALUE` or `NAME<<DELIM` by whichever of `=`/`<<` comes first;
/// a heredoc value runs to the first line exactly equal to the delimiter, lines joined by `\n`.
pub fn parse_file_commands(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut lines = text.split('\n').peekable();
    // A trailing newline leaves one empty last element; the runner skips empty lines anyway.
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let equals = line.find('=');
        let heredoc = line.find("<<");
        match (equals, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                let (name, value) = (&line[..e], &line[e + 1..]);
                if name.is_empty() {
                    return Err(format!("Invalid format '{line}'"));
                }
                pairs.push((name.to_owned(), value.to_owned()));
            }
            (_, Some(h)) => {
                let (name, delimiter) = (&line[..h], &line[h + 2..]);
                if name.is_empty() || delimiter.is_empty() {
                    return Err(format!(
                        "Invalid format '{line}'. Name must not be empty and delimiter must not be empty"
                    ));
                }
                let mut value_lines = Vec::new();
                let mut closed = false;
                for next in lines.by_ref() {
                    if next == delimiter {
                        closed = true;
                        break;
                    }
                    value_lines.push(next);
                }
                if !closed {
                    return Err(format!(
                        "Invalid value. Matching delimiter not found '{delimiter}'"
                    ));
                }
                pairs.push((name.to_owned(), value_lines.join("\n")));
            }
            _ => return Err(format!("Invalid format '{line}'")),
        }
    }
    Ok(pairs)
}

/// Request counts on every hop, for "no request was made" checks.
pub fn total_requests(emulator: &Emulator) -> usize {
    [Hop::GitHub, Hop::Entra, Hop::Discovery]
        .into_iter()
        .map(|hop| emulator.requests(hop))
        .sum()
}
