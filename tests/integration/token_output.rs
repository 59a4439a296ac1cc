//! `azure-oidc-token token --output FILE`, as a Kubernetes pod or a GitLab job runs it: the token goes
//! to a file only its owner can read (0600), written atomically and byte for byte (no newline);
//! stdout and stderr carry no secret; a failed run leaves no file (and an old one untouched).

use crate::support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use azure_oidc_emulator::{Config, Emulator, Hop};
use serde_json::{Map, Value};
use support::{BIN, Outcome, Step, encodings, secrets, total_requests};

/// Runs `token --output <output>` like a pod with the workload identity webhook: the ID token in
/// `AZURE_FEDERATED_TOKEN_FILE`, the IDs in `AZURE_*`, nothing of GitHub Actions.
fn run(emulator: &Emulator, dir: &Path, output: &Path, extra: &[&str]) -> Outcome {
    let id_token = dir.join("azure-identity-token");
    let minted = emulator.mint_id_token("api://AzureADTokenExchange", Map::new());
    std::fs::write(&id_token, &minted).unwrap();
    let step = Step::new(emulator);
    let mut command = Command::new(BIN);
    command
        .arg("token")
        .arg("--output")
        .arg(output)
        .args(extra)
        .env_clear()
        .env("SSL_CERT_FILE", &step.env["SSL_CERT_FILE"])
        .env("AZURE_FEDERATED_TOKEN_FILE", &id_token)
        .env("AZURE_CLIENT_ID", emulator.client_id())
        .env("AZURE_TENANT_ID", emulator.tenant_id())
        .env("AZURE_AUTHORITY_HOST", emulator.authority_host());
    command.current_dir(step.dir.path().join("workspace"));
    for var in ["HOME", "TMPDIR"] {
        command.env(var, &step.env[var]);
    }
    let outcome = step.run_command(command);
    // Nothing secret on either stream: not the access token, not the ID token (minted, so among the
    // emulator's secrets), in any encoding; and nothing in any file under HOME, TMPDIR or the
    // working directory.
    let all = secrets(emulator);
    assert!(all.contains(&minted));
    support::assert_no_secret_on_disk(&all, step.dir.path(), &[]);
    for (stream, text) in [("stdout", &outcome.stdout), ("stderr", &outcome.stderr)] {
        for secret in &all {
            for form in encodings(secret) {
                assert!(!text.contains(&form), "a secret on {stream}: {text}");
            }
        }
    }
    outcome
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn out_dir(root: &Path) -> PathBuf {
    let dir = root.join("run");
    std::fs::create_dir(&dir).unwrap();
    dir
}

#[test]
fn writes_exactly_the_token_to_a_0600_file_and_prints_only_its_expiry() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = out_dir(root.path());
    let file = dir.join("token");
    let outcome = run(&emulator, root.path(), &file, &[]);
    assert_eq!(outcome.code, Some(0), "{outcome:#?}");
    assert_eq!(outcome.stderr, "");

    let issued = emulator.issued_access_tokens();
    assert_eq!(issued.len(), 1);
    // Byte for byte: no trailing newline.
    assert_eq!(std::fs::read(&file).unwrap(), issued[0].as_bytes());
    assert_eq!(mode(&file), 0o600);
    // No temporary file left next to it.
    assert_eq!(entries(&dir), ["token"]);

    // stdout: the JSON of `token` without the token.
    let json: Value = serde_json::from_str(outcome.stdout.trim_end()).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["expires_at", "expires_on", "token_type"]);
    assert_eq!(json["token_type"], "Bearer");
    assert!(json["expires_on"].as_u64().unwrap() > 1_700_000_000);
    assert!(json["expires_at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn replaces_an_existing_file_with_a_new_0600_one() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = out_dir(root.path());
    let file = dir.join("token");
    std::fs::write(&file, "an old token\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let outcome = run(&emulator, root.path(), &file, &[]);
    assert_eq!(outcome.code, Some(0), "{outcome:#?}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        emulator.issued_access_tokens()[0]
    );
    assert_eq!(mode(&file), 0o600, "the new file is not the old inode");
    assert_eq!(entries(&dir), ["token"]);
}

#[test]
fn a_failed_exchange_writes_no_file_and_leaves_an_old_one_untouched() {
    // An app Entra does not know: AADSTS700016.
    let emulator = Emulator::start(Config {
        apps: Vec::new(),
        ..Config::default()
    })
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = out_dir(root.path());
    let file = dir.join("token");
    let extra = ["--client-id", "11111111-2222-4333-8444-555555555555"];
    let outcome = run(&emulator, root.path(), &file, &extra);
    assert_eq!(outcome.code, Some(1), "{outcome:#?}");
    assert!(
        outcome.stderr.contains("AADSTS700016"),
        "{}",
        outcome.stderr
    );
    assert_eq!(outcome.stdout, "");
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));

    std::fs::write(&file, "kept").unwrap();
    let outcome = run(&emulator, root.path(), &file, &extra);
    assert_eq!(outcome.code, Some(1));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "kept");
    assert_eq!(entries(&dir), ["token"]);
}

#[test]
fn a_missing_directory_fails_before_any_request() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("no-such-dir").join("token");
    let outcome = run(&emulator, root.path(), &file, &[]);
    assert_eq!(outcome.code, Some(1), "{outcome:#?}");
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", outcome.stderr);
    assert!(
        lines[0].starts_with("error: --output ")
            && lines[0].contains("does not exist: create it or choose another path"),
        "{}",
        lines[0]
    );
    assert_eq!(total_requests(&emulator), 0);
    assert_eq!(emulator.requests(Hop::Entra), 0);
    assert!(!file.exists());
}

#[test]
fn an_unwritable_directory_fails_naming_the_file_and_leaves_nothing() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = out_dir(root.path());
    // A directory named like the target: the rename fails after the temporary file was written.
    let file = dir.join("token");
    std::fs::create_dir(&file).unwrap();
    std::fs::write(file.join("occupied"), "x").unwrap();
    let outcome = run(&emulator, root.path(), &file, &[]);
    assert_eq!(outcome.code, Some(1), "{outcome:#?}");
    assert!(
        outcome.stderr.starts_with("error: --output ")
            && outcome.stderr.contains("cannot write the token file"),
        "{}",
        outcome.stderr
    );
    assert_eq!(outcome.stdout, "");
    assert_eq!(entries(&dir), ["token"], "the temporary file was removed");
    // The exchange did happen; its token is nowhere on disk.
    let token = emulator.issued_access_tokens().pop().unwrap();
    support::assert_no_secret_on_disk(&[token], root.path(), &[]);
}

#[test]
fn output_and_raw_are_exclusive() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("token");
    let outcome = run(&emulator, root.path(), &file, &["--raw"]);
    assert_eq!(outcome.code, Some(2), "{outcome:#?}");
    assert!(
        outcome.stderr.contains("cannot be used with"),
        "{}",
        outcome.stderr
    );
    assert_eq!(total_requests(&emulator), 0);
    assert!(!file.exists());
}

// ---------------------------------------------------------------------------------------------
// The writer itself, in-process (fast: what mutation testing runs on `src/token_file.rs`).

mod writer {
    use super::{entries, mode};

    use std::path::{Path, PathBuf};

    use azure_oidc_token::token_file::{TokenFileError, check, write};

    #[test]
    fn check_accepts_a_file_in_an_existing_directory_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        check(&dir.path().join("token")).expect("an existing directory");
        // A bare name is written in the working directory, which exists.
        check(Path::new("token")).expect("the working directory");
        let missing = dir.path().join("absent").join("token");
        match check(&missing) {
            Err(TokenFileError::NoDirectory { path, dir: parent }) => {
                assert_eq!(path, missing);
                assert_eq!(parent, dir.path().join("absent"));
            }
            other => panic!("expected NoDirectory, got {other:?}"),
        }
        // A file is no directory.
        let file = dir.path().join("file");
        std::fs::write(&file, "x").expect("write");
        assert!(matches!(
            check(&file.join("token")),
            Err(TokenFileError::NoDirectory { .. })
        ));
        for no_file in ["", "/", "a/.."] {
            match check(Path::new(no_file)) {
                Err(TokenFileError::NotAFile(path)) => assert_eq!(path, PathBuf::from(no_file)),
                other => panic!("{no_file:?}: expected NotAFile, got {other:?}"),
            }
        }
    }

    #[test]
    fn write_replaces_the_file_with_exactly_the_token_mode_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "old token, world-readable").expect("seed");
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .expect("chmod");
        write(&path, "header.payload.signature").expect("written");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "header.payload.signature"
        );
        assert_eq!(mode(&path), 0o600);
        assert_eq!(entries(dir.path()), ["token"], "no temporary file left");
    }

    #[test]
    fn a_failed_write_names_the_path_and_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("absent").join("token");
        match write(&missing, "t") {
            Err(TokenFileError::Write { path, .. }) => assert_eq!(path, missing),
            other => panic!("expected a write error, got {other:?}"),
        }
        // The rename fails (a directory is in the way): the temporary file is removed.
        let taken = dir.path().join("taken");
        std::fs::create_dir(&taken).expect("mkdir");
        std::fs::write(taken.join("inside"), "x").expect("write");
        let error = write(&taken, "secret-token").expect_err("a directory is in the way");
        assert!(
            error.to_string().starts_with(&format!(
                "--output {taken:?}: cannot write the token file ("
            )),
            "{error}"
        );
        assert_eq!(entries(dir.path()), ["taken"]);
        assert!(matches!(
            write(Path::new("/"), "t"),
            Err(TokenFileError::NotAFile(_))
        ));
    }
}
