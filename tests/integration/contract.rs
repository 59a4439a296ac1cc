//! Contract items that had no test of their own: each test below fails if its one item of the
//! contract is broken (the body cap without `Content-Length`, the 900023 hint, `expires-at` equal to
//! `expires-on`, no URL query in GitHub-hop messages, no `principal-id` for an opaque token, the
//! `User-Agent`, no redirect followed on the GitHub hop, an unknown `kid` in `explain`, the access
//! token masked before it is written to `GITHUB_OUTPUT`, the harness reading action.yml's defaults).

use crate::support;

use std::process::Command;

use azure_oidc_emulator::{Config, Emulator, Fault, Hop};
use base64::Engine as _;
use serde_json::{Map, Value};
use support::{BIN, Step, total_requests};

fn emulator() -> Emulator {
    Emulator::start(Config::default()).unwrap()
}

/// The emulator's host and port as messages name the endpoint.
fn host(emulator: &Emulator) -> String {
    emulator.base_url().replace("https://", "")
}

// ---------------------------------------------------------------------------------------------
// Response bodies are capped at 1 MiB, also when no Content-Length announces the size

fn chunked_oversized(hop: Hop, endpoint: &str) {
    let emulator = emulator();
    emulator.script(hop, vec![Fault::OversizedChunked(2 * 1024 * 1024)]);
    let outcome = Step::new(&emulator).run_checked();
    let message = outcome.assert_failed();
    assert!(
        message.contains(endpoint) && message.contains("exceeds 1048576 bytes"),
        "{message}"
    );
    assert_eq!(emulator.requests(hop), 1, "a capped body is not retried");
}

#[test]
fn chunked_github_body_over_the_cap_is_refused() {
    chunked_oversized(Hop::GitHub, "GitHub ID token endpoint");
}

#[test]
fn chunked_entra_body_over_the_cap_is_refused() {
    chunked_oversized(Hop::Entra, "Entra ID token endpoint");
}

/// A body of exactly 1 MiB is within the cap, announced or not: the GitHub hop reads it whole and
/// then refuses its `value` as no JWT (not as too large). Pins the cap's boundary.
fn exactly_at_the_cap(fault: Fault) {
    let emulator = emulator();
    emulator.script(Hop::GitHub, vec![fault]);
    let outcome = Step::new(&emulator).run_checked();
    let message = outcome.assert_failed();
    assert!(message.contains("is not a JWT"), "{message}");
    assert!(!message.contains("exceeds"), "{message}");
}

#[test]
fn a_body_of_exactly_one_mebibyte_is_read_whole() {
    exactly_at_the_cap(Fault::Oversized(1024 * 1024));
}

#[test]
fn a_chunked_body_of_exactly_one_mebibyte_is_read_whole() {
    exactly_at_the_cap(Fault::OversizedChunked(1024 * 1024));
}

// ---------------------------------------------------------------------------------------------
// Hints

#[test]
fn malformed_tenant_900023_hint_names_tenant_id() {
    let emulator = emulator();
    emulator.script(
        Hop::Entra,
        vec![Fault::entra_error(400, "invalid_request", &[900_023], "AADSTS900023: Specified tenant identifier 'contoso' is neither a valid DNS name, nor a valid external domain.")],
    );
    let outcome = Step::new(&emulator).run_checked();
    let message = outcome.assert_failed();
    assert!(message.contains("AADSTS900023"), "{message}");
    // A plain hint line of ours (not the fenced server text) that says which input to fix.
    let after_error: Vec<&str> = outcome
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("::error"))
        .skip(1)
        .collect();
    assert!(
        after_error
            .iter()
            .any(|l| !l.starts_with("::") && l.contains("tenant-id") && l.contains("GUID")),
        "no tenant-id hint after the error:\n{}",
        outcome.stdout
    );
}

// ---------------------------------------------------------------------------------------------
// Outputs

/// Unix seconds of an RFC 3339 UTC timestamp `YYYY-MM-DDTHH:MM:SSZ` (days-from-civil, no crate).
fn unix_of_rfc3339(value: &str) -> i64 {
    assert_eq!(value.len(), 20, "{value}");
    assert!(
        value.ends_with('Z') && value.as_bytes()[10] == b'T',
        "{value}"
    );
    let n = |range: std::ops::Range<usize>| -> i64 { value[range].parse().unwrap() };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let (hh, mm, ss) = (n(11..13), n(14..16), n(17..19));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + hh * 3600 + mm * 60 + ss
}

#[test]
fn rfc3339_reference_is_right() {
    assert_eq!(unix_of_rfc3339("1970-01-01T00:00:00Z"), 0);
    assert_eq!(unix_of_rfc3339("2026-11-23T09:41:07Z"), 1_795_426_867);
    assert_eq!(unix_of_rfc3339("2000-02-29T23:59:59Z"), 951_868_799);
}

#[test]
fn expires_at_is_the_same_instant_as_expires_on() {
    let emulator = emulator();
    let outcome = Step::new(&emulator)
        .with(
            "INPUT_SCOPES",
            "graph=https://graph.microsoft.com\nvault=https://vault.azure.net",
        )
        .run_checked();
    outcome.assert_succeeded();
    let outputs = outcome.outputs();
    let on: i64 = outputs["expires-on"].parse().unwrap();
    let at = &outputs["expires-at"];
    assert_eq!(
        unix_of_rfc3339(at),
        on,
        "expires-at {at} vs expires-on {on}"
    );
    // The named scopes report expires-on only; where an expires-at exists, it is the same instant.
    for name in ["graph", "vault"] {
        let on: i64 = outputs[&format!("{name}-expires-on")].parse().unwrap();
        if let Some(at) = outputs.get(&format!("{name}-expires-at")) {
            assert_eq!(unix_of_rfc3339(at), on, "{name}-expires-at {at} vs {on}");
        }
    }
}

#[test]
fn principal_id_is_absent_for_an_opaque_access_token() {
    let emulator = emulator();
    let opaque = format!("opaque-{}", "q".repeat(40));
    emulator.add_secret(&opaque);
    emulator.script(
        Hop::Entra,
        vec![Fault::Status {
            status: 200,
            retry_after: None,
            body: format!(
                r#"{{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"{opaque}"}}"#
            ),
            content_type: "application/json; charset=utf-8".to_owned(),
        }],
    );
    let outcome = Step::new(&emulator).run_checked();
    outcome.assert_succeeded();
    let outputs = outcome.outputs();
    assert_eq!(outputs["access-token"], opaque);
    assert!(
        !outputs.contains_key("principal-id"),
        "a token that is no JWT has no oid to report: {outputs:?}"
    );
    assert!(
        outcome.stdout.contains(&format!("::add-mask::{opaque}\n")),
        "the opaque token is masked too"
    );
}

// ---------------------------------------------------------------------------------------------
// The wire

#[test]
fn both_hops_send_the_versioned_user_agent() {
    let emulator = emulator();
    Step::new(&emulator).run_checked().assert_succeeded();
    let expected = format!("azure-oidc-token/{}", env!("CARGO_PKG_VERSION"));
    for hop in [Hop::GitHub, Hop::Entra] {
        let recorded = emulator.recorded(hop);
        assert_eq!(
            recorded[0].header("user-agent"),
            Some(expected.as_str()),
            "{hop:?}"
        );
    }
}

#[test]
fn redirect_on_the_github_hop_is_not_followed() {
    let emulator = emulator();
    let elsewhere = format!(
        "{}/_apis/elsewhere/idtoken?api-version=2.0&code=1",
        emulator.base_url()
    );
    emulator.script(Hop::GitHub, vec![Fault::Redirect(elsewhere)]);
    let outcome = Step::new(&emulator).run_checked();
    let message = outcome.assert_failed();
    assert!(message.contains("GitHub ID token endpoint"), "{message}");
    assert!(message.contains("redirect"), "{message}");
    assert!(!message.contains("code=1"), "no URL query: {message}");
    assert_eq!(
        emulator.requests(Hop::GitHub),
        1,
        "one request, not followed"
    );
    assert_eq!(total_requests(&emulator), 1, "nothing else was asked");
}

/// GitHub-hop failures name the host, never the request URL with its query (which carries the
/// run's plan and job IDs) or the path.
#[test]
fn github_hop_messages_carry_no_url_query() {
    for (fault, part) in [
        (Fault::status(404), "HTTP 404"),
        (Fault::status(401), "HTTP 401"),
        (Fault::NonJson, "JSON"),
    ] {
        let emulator = emulator();
        emulator.script(Hop::GitHub, vec![fault]);
        let outcome = Step::new(&emulator).run_checked();
        let message = outcome.assert_failed();
        assert!(message.contains(&host(&emulator)), "{message}");
        assert!(message.contains(part), "{message}");
        let request_url = emulator.request_url();
        let path = request_url
            .trim_start_matches(&emulator.base_url())
            .split('?')
            .next()
            .unwrap();
        for line in outcome.stdout.lines().chain(outcome.stderr.lines()) {
            assert!(
                !line.contains("api-version") && !line.contains("audience="),
                "a URL query in the log: {line}"
            );
            assert!(!line.contains(path), "the request path in the log: {line}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// explain

/// `token` with its header's `kid` replaced (the signature no longer matters: the key is looked up first).
fn with_kid(token: &str, kid: &str) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (header, rest) = token.split_once('.').unwrap();
    let mut header: Map<String, Value> =
        serde_json::from_slice(&engine.decode(header).unwrap()).unwrap();
    header.insert("kid".to_owned(), Value::from(kid));
    format!(
        "{}.{rest}",
        engine.encode(serde_json::to_vec(&header).unwrap())
    )
}

#[test]
fn explain_names_an_unknown_kid() {
    let emulator = emulator();
    let minted = emulator.mint_id_token("api://AzureADTokenExchange", Map::new());
    let tampered = with_kid(&minted, "kid-nobody-published");
    emulator.add_secret(&tampered);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, &tampered).unwrap();
    let step = Step::new(&emulator);
    let mut command = Command::new(BIN);
    command
        .args(["explain", "--id-token-file", file.to_str().unwrap()])
        .env_clear()
        .env("SSL_CERT_FILE", &step.env["SSL_CERT_FILE"]);
    let outcome = step.run_command(command);
    let all = format!("{}{}", outcome.stdout, outcome.stderr);
    assert_eq!(outcome.code, Some(1), "{all}");
    assert!(
        all.contains("no RSA key with kid kid-nobody-published"),
        "{all}"
    );
    assert_eq!(emulator.requests(Hop::Discovery), 2, "discovery and JWKS");
    let mut secrets = support::secrets(&emulator);
    secrets.retain(|s| !s.is_empty());
    for secret in &secrets {
        for form in support::encodings(secret) {
            assert!(!all.contains(&form), "explain printed a token:\n{all}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Masking order, proven on the system calls

/// The `::add-mask::` line of the access token reaches stdout (a `write` to fd 1) before any byte
/// is written to `GITHUB_OUTPUT`: the runner registers the mask before a later step could echo the
/// output. Traced with strace; a mask printed only after the output file was written fails here.
#[test]
fn access_token_is_masked_before_github_output_is_written() {
    if Command::new("strace").arg("-V").output().is_err() {
        support::skip(
            "access_token_is_masked_before_github_output_is_written",
            "strace is not installed (Debian package strace)",
        );
        return;
    }
    let emulator = emulator();
    let step = Step::new(&emulator);
    let traces = tempfile::tempdir().unwrap();
    let log = traces.path().join("strace.log");
    let command = step.command_with(&[
        "strace",
        "-f",
        "-qq",
        "-s",
        "65536",
        "-o",
        log.to_str().unwrap(),
        "-e",
        "trace=open,openat,openat2,write,writev,pwrite64,pwritev,pwritev2",
    ]);
    let outcome = step.run_command(command);
    step.check(&outcome);
    outcome.assert_succeeded();
    let token = &emulator.issued_access_tokens()[0];
    let output_path = &step.env["GITHUB_OUTPUT"];
    let trace = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<&str> = trace
        .lines()
        .map(|line| {
            line.split_once(' ')
                .map_or(line, |(_, rest)| rest.trim_start())
        })
        .collect();
    // The file descriptors GITHUB_OUTPUT was opened as ("= <fd>" at the end of the call).
    let mut output_fds = Vec::new();
    let mut first_output_write = None;
    let mut mask_write = None;
    // stdout as written so far: the mask line may go out in several writes; it counts once its
    // line end is written.
    let mut stdout = String::new();
    let wanted = format!("::add-mask::{token}\n");
    for (index, call) in calls.iter().enumerate() {
        let name = call.split('(').next().unwrap_or_default();
        if name.starts_with("open") && call.contains(&format!("\"{output_path}\"")) {
            let fd = call.rsplit("= ").next().unwrap().trim();
            output_fds.push(fd.split(' ').next().unwrap().to_owned());
        }
        let fd = call
            .split_once('(')
            .map(|(_, args)| args.split(',').next().unwrap_or_default().trim());
        if name == "write" && fd == Some("1") {
            stdout.push_str(&strace_string(call));
            if mask_write.is_none() && stdout.contains(&wanted) {
                mask_write = Some(index);
            }
        }
        if (name.starts_with("write") || name.starts_with("pwrite"))
            && fd.is_some_and(|fd| output_fds.iter().any(|o| o == fd))
            && first_output_write.is_none()
        {
            first_output_write = Some(index);
        }
    }
    let mask_write = mask_write.unwrap_or_else(|| {
        panic!("the access token's mask line never reached stdout; stdout in the trace:\n{stdout}")
    });
    let first_output_write = first_output_write.unwrap_or_else(|| {
        panic!("no write to GITHUB_OUTPUT (fds {output_fds:?}) in the trace:\n{trace}")
    });
    assert!(
        mask_write < first_output_write,
        "the access token reached GITHUB_OUTPUT (call {first_output_write}) before its mask reached stdout (call {mask_write})"
    );
}

/// The buffer of a traced `write(fd, "...", n)`, unescaped (strace's C escapes).
fn strace_string(call: &str) -> String {
    let start = call.find('"').unwrap() + 1;
    let end = call.rfind("\", ").unwrap();
    let mut bytes = Vec::new();
    let mut chars = call[start..end].chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('n') => bytes.push(b'\n'),
            Some('t') => bytes.push(b'\t'),
            Some('r') => bytes.push(b'\r'),
            Some(digit @ '0'..='7') => {
                let mut value = digit.to_digit(8).unwrap();
                for _ in 0..2 {
                    match chars.peek() {
                        Some(d @ '0'..='7') => {
                            value = value * 8 + d.to_digit(8).unwrap();
                            chars.next();
                        }
                        _ => break,
                    }
                }
                bytes.push(value as u8);
            }
            Some(other) => bytes.push(other as u8),
            None => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

// ---------------------------------------------------------------------------------------------
// The harness itself

/// `Step::new` passes every input action.yml declares, with action.yml's default: the scenarios run
/// with what a workflow that sets nothing gets, not with a hand-copied list.
#[test]
fn step_passes_every_input_with_its_action_yml_default() {
    let emulator = emulator();
    let step = Step::new(&emulator);
    let inputs = support::action_inputs();
    for name in [
        "scopes",
        "export-sdk-env",
        "explain",
        "timeout-seconds",
        "summary",
    ] {
        assert!(
            inputs.iter().any(|(n, _)| n == name),
            "action.yml lacks {name}"
        );
    }
    let overridden = ["client-id", "tenant-id", "authority-host"];
    for (name, default) in &inputs {
        let var = format!("INPUT_{}", name.to_uppercase());
        let value = step
            .env
            .get(&var)
            .unwrap_or_else(|| panic!("{var} not set"));
        if !overridden.contains(&name.as_str()) {
            assert_eq!(value, default, "{var}");
        }
    }
}

/// A process that never ends fails its test with the output so far, within its deadline, instead
/// of hanging the suite (the harness's per-process deadline).
#[test]
fn a_hung_process_fails_the_test_instead_of_hanging() {
    let mut command = Command::new("sh");
    command.args(["-c", "echo partial-output; exec sleep 600"]);
    let started = std::time::Instant::now();
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        support::output_within(command, std::time::Duration::from_secs(1))
    }))
    .expect_err("a hung process must fail the test");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("deadline"), "{text}");
    assert!(text.contains("partial-output"), "the output so far: {text}");
}
