//! The fault catalogue: each way the network, the servers, the disk or the clock can let a run down,
//! as a named case run against the real binary and the emulator, with what a user should see.
//!
//! For every fault the step fails or succeeds as a user would expect, within its budget (plus
//! [`SLACK`] for process start-up), with a clear message naming the hop and host, with nothing
//! partial in `GITHUB_OUTPUT` or `GITHUB_ENV`, and with no secret anywhere but there
//! (`Step::run_checked`). Every case runs with `RUNNER_DEBUG=1` (the most talkative mode, so the
//! strictest for leaks) and `export-env` set (so both output files are at stake).
//!
//! This binary has no libtest harness (`harness = false` in Cargo.toml) so that its totals are
//! printed under plain `cargo test`, which hides a passing libtest binary's output:
//!
//! ```text
//! cargo test --locked --test faults                  # the whole catalogue, with totals
//! cargo test --locked --test faults -- dns clock     # only the cases whose names contain a filter
//! cargo test --locked --test faults -- --list        # the names
//! ```
//!
//! Cases needing privileges or tools (a network namespace for DNS failure, `faketime` for the
//! runner's clock) are skipped with a reason on a developer machine and fail under `CI=true`,
//! where `.ci/run` installs what they need.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test
#![allow(
    clippy::print_stdout,
    reason = "this harness's job is to print the catalogue and its totals"
)]

#[allow(
    dead_code,
    unused_imports,
    reason = "this harness uses a part of the shared support"
)]
mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use azure_oidc_emulator::{Config, Emulator, Fault, Hop, entra_error_body};
use serde_json::Value;
use support::{Outcome, Step, assert_no_secret_in_streams, parse_file_commands, total_requests};

/// The attempt cap per hop, as the specification states it (not imported from the code under test).
const MAX_ATTEMPTS: usize = 10;
/// Process start-up, TLS set-up and exit on top of a budget, on a busy 2-core machine with
/// [`WORKERS`] cases at once (and other builds): measured start-to-exit overhead is well under
/// 0.5 s idle but reaches seconds under that load, so the margin is 5 s. The cases that check a
/// budget is enforced stall a hop for good, so without enforcement they would run to the
/// harness's process deadline (budget + 60 s), far past this margin.
const SLACK: Duration = Duration::from_millis(5000);
/// The variable `export-env` names in every case.
const EXPORTED: &str = "AZURE_ACCESS_TOKEN";
/// Cases run at once: most of them wait on timers and sockets, not on the CPU.
const WORKERS: usize = 4;

/// What a case came to, short of a failed assertion (a panic).
enum Verdict {
    Held,
    Skipped(String),
}
use Verdict::{Held, Skipped};

type Case = fn() -> Verdict;

/// The catalogue: name → case. Names say the fault and what is expected of it.
const CATALOGUE: &[(&str, Case)] = &[
    // Name resolution and connections
    ("dns_failure_names_the_host_and_hop", dns_failure),
    ("connection_refused_on_the_github_hop", refused_github),
    ("connection_refused_on_the_entra_hop", refused_entra),
    // TLS
    ("tls_untrusted_ca_fails_fast_with_a_hint", tls_untrusted_ca),
    ("tls_wrong_host_name_fails_fast", tls_wrong_host_name),
    // Broken connections and slow servers
    (
        "reset_before_any_response_is_retried",
        reset_before_response,
    ),
    ("reset_mid_body_is_retried_on_both_hops", reset_mid_body),
    ("reset_storm_fails_within_the_budget", reset_storm),
    ("slow_drip_within_the_budget_succeeds", drip_within_budget),
    ("slow_drip_beyond_the_budget_times_out", drip_beyond_budget),
    ("github_hang_times_out_naming_the_hop", github_hang),
    ("entra_hang_times_out_naming_the_hop", entra_hang),
    (
        "stalled_first_github_attempt_is_abandoned_and_retried",
        stalled_github_then_success,
    ),
    (
        "stalled_first_entra_attempt_is_abandoned_and_retried",
        stalled_entra_then_success,
    ),
    // Proxies and trust settings: configuration errors, failed fast
    ("proxy_407_fails_fast_naming_the_proxy", proxy_407),
    ("proxy_403_fails_fast_naming_the_proxy", proxy_403),
    ("refused_proxy_port_fails_fast", proxy_refused),
    (
        "unsupported_proxy_scheme_is_refused_before_any_request",
        proxy_socks,
    ),
    (
        "malformed_proxy_url_is_refused_before_any_request",
        proxy_malformed,
    ),
    ("no_proxy_star_bypasses_ip_literal_hosts", no_proxy_star),
    (
        "unreadable_ssl_cert_file_is_refused_before_any_request",
        unreadable_cert_file,
    ),
    ("ssl_cert_dir_with_ssl_cert_file_works", cert_dir_and_file),
    ("endless_ssl_cert_file_is_cut_at_the_cap", endless_cert_file),
    (
        "ssl_cert_file_fifo_is_abandoned_within_the_budget",
        fifo_cert_file,
    ),
    (
        "oversized_file_in_ssl_cert_dir_is_refused",
        oversized_cert_dir_file,
    ),
    // Server text
    (
        "legacy_command_in_a_github_retry_body_is_inert",
        legacy_command_github,
    ),
    (
        "legacy_command_in_an_entra_retry_body_is_inert",
        legacy_command_entra,
    ),
    ("empty_200_from_entra_is_retried", empty_200_then_success),
    // Throttling and server errors
    (
        "5xx_and_408_storm_without_retry_after_recovers",
        storm_5xx_recovers,
    ),
    (
        "503_storm_without_retry_after_ends_within_the_budget",
        storm_503_gives_up,
    ),
    ("429_storm_with_retry_after_recovers", storm_429_recovers),
    (
        "429_storm_with_retry_after_ends_within_the_budget",
        storm_429_gives_up,
    ),
    (
        "retry_after_beyond_the_budget_fails_at_once",
        retry_after_beyond_budget,
    ),
    (
        "retry_after_as_an_http_date_is_honoured",
        retry_after_http_date,
    ),
    // Tokens in time
    (
        "id_token_expiring_during_retries_is_fetched_afresh",
        id_token_expires,
    ),
    ("absurd_exp_claim_does_not_crash_the_retry", absurd_exp),
    (
        "runner_clock_hours_ahead_still_succeeds",
        runner_clock_ahead,
    ),
    (
        "runner_clock_hours_behind_still_succeeds",
        runner_clock_behind,
    ),
    (
        "token_clock_far_off_fails_with_the_clock_hint",
        token_clock_far_off,
    ),
    // Bodies
    ("oversized_github_body_is_refused", oversized_github),
    ("oversized_entra_body_is_refused", oversized_entra),
    (
        "non_utf8_github_token_body_is_a_clear_error",
        non_utf8_github,
    ),
    (
        "non_utf8_entra_error_body_is_reported_readably",
        non_utf8_entra_error,
    ),
    (
        "non_utf8_entra_token_body_is_a_clear_error",
        non_utf8_entra_success,
    ),
    (
        "html_instead_of_json_from_github_is_a_clear_error",
        html_from_github,
    ),
    (
        "html_instead_of_json_from_entra_is_a_clear_error",
        html_from_entra,
    ),
    ("non_jwt_id_token_is_a_clear_error", non_jwt_id_token),
    (
        "wrong_content_type_on_a_valid_token_is_tolerated",
        wrong_type_on_token,
    ),
    (
        "wrong_content_type_on_an_entra_error_still_shows_the_code",
        wrong_type_on_error,
    ),
    ("redirect_is_not_followed", redirect),
    // The runner's files
    (
        "unwritable_github_output_fails_with_nothing_written",
        unwritable_output,
    ),
    (
        "vanished_github_output_fails_with_nothing_written",
        vanished_output,
    ),
    (
        "full_disk_on_github_output_fails_with_nothing_written",
        full_disk_output,
    ),
    (
        "full_disk_on_github_env_rolls_back_github_output",
        full_disk_env,
    ),
    (
        "unwritable_step_summary_is_only_a_warning",
        unwritable_summary,
    ),
];

// ---------------------------------------------------------------------------------------------
// The harness

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(DNS_JAIL) {
        dns_jail(&args[1..]);
    }
    let filters = support::test_filters(&args);
    let chosen: Vec<&(&str, Case)> = CATALOGUE
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f)))
        // Like libtest: `--ignored` runs only ignored tests, and no fault is ignored.
        .filter(|_| !args.iter().any(|a| a == "--ignored"))
        .collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in &chosen {
            println!("{name}: test");
        }
        return;
    }
    println!("\nfault catalogue: {} faults", chosen.len());
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS.min(chosen.len()) {
            scope.spawn(|| {
                while let Some((name, case)) = chosen.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let start = Instant::now();
                    let verdict = catch_unwind(AssertUnwindSafe(case));
                    let elapsed = start.elapsed();
                    let line = match &verdict {
                        Ok(Held) => {
                            format!("fault {name} ... held ({:.1} s)", elapsed.as_secs_f64())
                        }
                        Ok(Skipped(why)) => format!("fault {name} ... skipped: {why}"),
                        Err(panic) => format!("fault {name} ... FAILED: {}", panic_text(panic)),
                    };
                    println!("{line}");
                    results
                        .lock()
                        .unwrap()
                        .push((*name, verdict.map_err(|_| ())));
                }
            });
        }
    });
    let results = results.into_inner().unwrap();
    let held = results
        .iter()
        .filter(|(_, v)| matches!(v, Ok(Held)))
        .count();
    let skipped = results
        .iter()
        .filter(|(_, v)| matches!(v, Ok(Skipped(_))))
        .count();
    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, v)| v.is_err())
        .map(|(name, _)| *name)
        .collect();
    println!(
        "\nfault catalogue totals: {} faults tried, {held} held, {} failed, {skipped} skipped, in {:.1} s",
        results.len(),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    for name in &failed {
        println!("    failed: {name}");
    }
    // The plain closing line CI reads.
    println!(
        "faults: {held} passed, {} failed, {skipped} skipped\n",
        failed.len()
    );
    if !failed.is_empty() {
        std::process::exit(1);
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panicked".to_owned());
    text.lines().next().unwrap_or_default().to_owned()
}

/// Under `CI=true` a case that cannot run is a failure: CI installs what every case needs.
fn skip(reason: &str) -> Verdict {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "cannot run under CI: {reason}"
    );
    Skipped(reason.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn emulator() -> Emulator {
    Emulator::start(Config::default()).unwrap()
}

fn emulator_with(change: impl FnOnce(&mut Config)) -> Emulator {
    let mut config = Config::default();
    change(&mut config);
    Emulator::start(config).unwrap()
}

/// A step in the catalogue's mode: debug logging on, the token exported too, a budget in seconds.
fn step(emulator: &Emulator, budget_secs: u64) -> Step<'_> {
    Step::new(emulator)
        .with("RUNNER_DEBUG", "1")
        .with("INPUT_EXPORT-ENV", EXPORTED)
        .with("INPUT_TIMEOUT-SECONDS", &budget_secs.to_string())
}

fn budget(step: &Step<'_>) -> Duration {
    Duration::from_secs(step.env["INPUT_TIMEOUT-SECONDS"].parse().unwrap())
}

/// The run ended within its budget (plus start-up slack).
fn assert_within_budget(step: &Step<'_>, outcome: &Outcome) {
    assert!(
        outcome.elapsed <= budget(step) + SLACK,
        "took {:?} on a {:?} budget",
        outcome.elapsed,
        budget(step)
    );
}

/// Failed as `docs/design.md` says (status 1, one `::error` line, nothing written), within the budget,
/// with a message containing every one of `parts`. Returns the message.
fn assert_failed_with(step: &Step<'_>, outcome: &Outcome, parts: &[&str]) -> String {
    let message = outcome.assert_failed();
    assert_within_budget(step, outcome);
    for part in parts {
        assert!(message.contains(part), "expected {part:?} in: {message}");
    }
    message
}

/// Succeeded with complete outputs: the latest access token in both files, by the runner's rules.
fn assert_succeeded_fully(step: &Step<'_>, outcome: &Outcome, token: &str) {
    outcome.assert_succeeded();
    assert_within_budget(step, outcome);
    let outputs = outcome.outputs();
    assert_eq!(outputs["access-token"], token);
    for name in [
        "token-type",
        "expires-on",
        "expires-at",
        "tenant-id",
        "client-id",
    ] {
        assert!(outputs.contains_key(name), "output {name} missing");
    }
    let env = parse_file_commands(&outcome.env_file).unwrap();
    assert_eq!(env, vec![(EXPORTED.to_owned(), token.to_owned())]);
}

fn last_access_token(emulator: &Emulator) -> String {
    emulator.issued_access_tokens().last().cloned().unwrap()
}

/// A loopback port nothing listens on: port 1 (tcpmux, privileged and unused), checked to refuse
/// here. Not a port bound and released, which another test's listener may take in between.
fn closed_port() -> u16 {
    let refused = std::net::TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, 1).into(),
        Duration::from_secs(2),
    );
    assert!(
        refused.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused),
        "127.0.0.1:1 must refuse connections for the refused-port cases"
    );
    1
}

fn bytes_fault(status: u16, content_type: &str, body: &[u8]) -> Fault {
    Fault::Bytes {
        status,
        content_type: content_type.to_owned(),
        body: body.to_vec(),
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// Whether `program args…` runs and exits 0.
fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

// ---------------------------------------------------------------------------------------------
// Name resolution and connections

/// Argument that makes this binary the DNS-failure case's wrapper (see [`dns_jail`]).
const DNS_JAIL: &str = "--dns-jail";

/// DNS failure without a query leaving the machine: the binary runs in a new network namespace
/// (only a downed loopback: no packet can leave) and mount namespace, where /etc/resolv.conf names
/// a loopback resolver and nsswitch uses files and DNS only, for a host in the reserved `.invalid`
/// TLD. This test binary is the wrapper (`unshare … -- faults --dns-jail DIR BIN`), because a shell
/// would drop the runner's `INPUT_CLIENT-ID`-style variables, whose names are not shell names.
fn dns_failure() -> Verdict {
    if !runs("unshare", &["--net", "--mount", "--", "true"]) {
        return skip(
            "cannot create network and mount namespaces (needs root and util-linux unshare)",
        );
    }
    let emulator = emulator();
    let host = "token.azure-oidc-token.invalid";
    let step = step(&emulator, 3).with(
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        &format!("https://{host}/idtoken?api-version=2.0"),
    );
    let dir = step.dir.path().join("etc");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
    std::fs::write(dir.join("nsswitch.conf"), "hosts: files dns\n").unwrap();
    let myself = std::env::current_exe().unwrap();
    let command = step.command_with(&[
        "unshare",
        "--net",
        "--mount",
        "--",
        myself.to_str().unwrap(),
        DNS_JAIL,
        dir.to_str().unwrap(),
    ]);
    let outcome = step.run_command(command);
    step.check(&outcome);
    let message = assert_failed_with(
        &step,
        &outcome,
        &["GitHub ID token endpoint", host, "dns error"],
    );
    assert!(message.contains("attempts"), "retried: {message}");
    assert_eq!(total_requests(&emulator), 0);
    Held
}

/// Inside the namespaces: bind the prepared resolver files over /etc's, hide any nscd socket, and
/// become the binary with the environment unchanged.
fn dns_jail(args: &[String]) -> ! {
    use std::os::unix::process::CommandExt as _;
    let [dir, binary] = args else {
        panic!("usage: {DNS_JAIL} DIR BINARY");
    };
    for file in ["resolv.conf", "nsswitch.conf"] {
        let target = format!("/etc/{file}");
        if std::path::Path::new(&target).exists() {
            let source = format!("{dir}/{file}");
            assert!(
                runs("mount", &["--bind", &source, &target]),
                "bind {target}"
            );
        }
    }
    if std::path::Path::new("/run/nscd").is_dir() {
        assert!(
            runs("mount", &["-t", "tmpfs", "none", "/run/nscd"]),
            "hide nscd"
        );
    }
    let error = Command::new(binary).exec();
    panic!("cannot run {binary}: {error}");
}

fn refused_github() -> Verdict {
    let emulator = emulator();
    let port = closed_port();
    let step = step(&emulator, 2).with(
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        &format!("https://127.0.0.1:{port}/idtoken?api-version=2.0"),
    );
    let outcome = step.run_checked();
    assert_failed_with(
        &step,
        &outcome,
        &[
            &format!("GitHub ID token endpoint 127.0.0.1:{port}"),
            "refused",
        ],
    );
    assert_eq!(total_requests(&emulator), 0);
    Held
}

fn refused_entra() -> Verdict {
    let emulator = emulator();
    let port = closed_port();
    let step =
        step(&emulator, 2).with("INPUT_AUTHORITY-HOST", &format!("https://127.0.0.1:{port}"));
    let outcome = step.run_checked();
    assert_failed_with(
        &step,
        &outcome,
        &[
            &format!("Entra ID token endpoint 127.0.0.1:{port}"),
            "refused",
        ],
    );
    assert_eq!(emulator.requests(Hop::GitHub), 1);
    Held
}

// ---------------------------------------------------------------------------------------------
// TLS

fn tls_untrusted_ca() -> Verdict {
    let emulator = emulator();
    let stranger = self::emulator();
    let step = step(&emulator, 10);
    let other_ca = step.dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, stranger.ca_pem()).unwrap();
    let step = step.with("SSL_CERT_FILE", other_ca.to_str().unwrap());
    let outcome = step.run_checked();
    assert_failed_with(
        &step,
        &outcome,
        &["GitHub ID token endpoint", "certificate"],
    );
    assert!(
        outcome.stdout.contains("SSL_CERT_FILE"),
        "{}",
        outcome.stdout
    );
    assert!(outcome.elapsed < Duration::from_secs(5), "not retried");
    assert_eq!(total_requests(&emulator), 0);
    Held
}

/// The server's certificate names `localhost`/`127.0.0.1`; the step reaches it as `127.0.0.2`.
fn tls_wrong_host_name() -> Verdict {
    let emulator = emulator_with(|c| {
        c.bind = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 0);
    });
    let step = step(&emulator, 10);
    let outcome = step.run_checked();
    assert_failed_with(
        &step,
        &outcome,
        &[
            "GitHub ID token endpoint 127.0.0.2",
            "certificate",
            "not valid for name",
        ],
    );
    assert!(outcome.elapsed < Duration::from_secs(5), "not retried");
    assert_eq!(total_requests(&emulator), 0);
    Held
}

// ---------------------------------------------------------------------------------------------
// Broken connections and slow servers

fn reset_before_response() -> Verdict {
    let emulator = emulator();
    emulator.script(Hop::GitHub, vec![Fault::Reset]);
    emulator.script(Hop::Entra, vec![Fault::Reset]);
    let step = step(&emulator, 20);
    let outcome = step.run_checked();
    assert_succeeded_fully(&step, &outcome, &last_access_token(&emulator));
    assert_eq!(emulator.requests(Hop::GitHub), 2);
    assert_eq!(emulator.requests(Hop::Entra), 2);
    assert!(outcome.stdout.contains("retrying"), "{}", outcome.stdout);
    Held
}

fn reset_mid_body() -> Verdict {
    let emulator = emulator();
    emulator.script(Hop::GitHub, vec![Fault::ResetMidBody]);
    emulator.script(Hop::Entra, vec![Fault::ResetMidBody]);
    let step = step(&emulator, 20);
    let outcome = step.run_checked();
    assert_succeeded_fully(&step, &outcome, &last_access_token(&emulator));
    assert_eq!(emulator.requests(Hop::GitHub), 2);
    assert_eq!(emulator.requests(Hop::Entra), 2);
    Held
}

fn reset_storm() -> Verdict {
    let emulator = emulator();
    emulator.script(Hop::Entra, (0..50).map(|_| Fault::Reset).collect());
    let step = step(&emulator, 3);
    let outcome = step.run_checked();
    // Whichever ends the run (a last reset, or the budget running out on a busy machine), the
    // message says what the attempts saw: "connection failed (… reset …)".
    let message = assert_failed_with(
        &step,
        &outcome,
        &["Entra ID token endpoint", "connection", "attempts"],
    );
    assert!(message.contains("reset"), "{message}");
    let attempts = emulator.requests(Hop::Entra);
    assert!((2..=MAX_ATTEMPTS).contains(&attempts), "{attempts}");
    Held
}

fn drip_within_budget() -> Verdict {
    let emulator = emulator();
    let drip = Fault::Drip {
        chunk: 64,
        every: Duration::from_millis(5),
    };
    emulator.script(Hop::GitHub, vec![drip.clone()]);
    emulator.script(Hop::Entra, vec![drip]);
    let step = step(&emulator, 20);
    let outcome = step.run_checked();
    assert_succeeded_fully(&step, &outcome, &last_access_token(&emulator));
    assert_eq!(emulator.requests(Hop::Entra), 1);
    Held
}

fn drip_beyond_budget() -> Verdict {
    let emulator = emulator();
    // Every attempt drips: each is cut at its share of the budget and retried until none is left.
    emulator.script(
        Hop::Entra,
        (0..20)
            .map(|_| Fault::Drip {
                chunk: 1,
                every: Duration::from_millis(100),
            })
            .collect(),
    );
    let step = step(&emulator, 2);
    let outcome = step.run_checked();
    assert_failed_with(
        &step,
        &outcome,
        &["Entra ID token endpoint", "2-second budget"],
    );
    Held
}

fn github_hang() -> Verdict {
    let emulator = emulator();
    emulator.script(Hop::GitHub, (0..20).map(|_| Fault::Hang).collect());
    let step = step(&emulator, 1);
    let outcome = step.run_checked();
    assert_failed_with(
        &step,
        &outcome,
        &["GitHub ID token endpoint", "1-second budget"],
    );
    assert_eq!(emulator.requests(Hop::Entra), 0);
    Held
}

fn entra_hang() -> Verdict {
    let emulator = emulator();
    emulator.script(Hop::Entra, (0..20).map(|_| Fault::Hang).collect());
    let step = step(&emulator, 2);
    let outcome = step.run_checked();
    assert_failed_with(
        &step,
        &outcome,
        &["Entra ID token endpoint", "2-second budget"],
    );
    assert!(
        outcome.stdout.contains("timeout-seconds"),
        "{}",
        outcome.stdout
    );
    Held
}

// ---------------------------------------------------------------------------------------------
// Throttling and server errors

fn storm_5xx_recovers() -> Verdict {
    let emulator = emulator();
    emulator.script(Hop::GitHub, vec![Fault::status(503), Fault::status(502)]);
    emulator.script(
        Hop::Entra,
        vec![
            Fault::status(500),
            Fault::status(504),
            Fault::status(408),
            Fault::status(503),
        ],
    );
    let step = step(&emulator, 30);
    let outcome = step.run_checked();
    assert_succeeded_fully(&step, &outcome, &last_access_token(&emulator));
    assert_eq!(emulator.requests(Hop::GitHub), 3);
    assert_eq!(emulator.requests(Hop::Entra), 5);
    assert_eq!(outcome.stdout.matches("retrying in").count(), 6);
    Held
}

fn storm_503_gives_up() -> Verdict {
    let emulator = emulator();
    emulator.script(Hop::GitHub, (0..50).map(|_| Fault::status(503)).collect());
    let step = step(&emulator, 3);
    let outcome = step.run_checked();
    assert_failed_with(
        &step,
        &outcome,
        &["GitHub ID token endpoint", "HTTP 503", "attempts"],
    );
    let attempts = emulator.requests(Hop::GitHub);
    assert!((2..=MAX_ATTEMPTS).contains(&attempts), "{attempts}");
    assert_eq!(emulator.requests(Hop::Entra), 0);
    Held
}

fn storm_429_recovers() -> Verdict {
    let emulator = emulator();
    emulator.script(
        Hop::Entra,
        vec![
            Fault::status_retry_after(429, "1"),
            Fault::status_retry_after(429, "1"),
            Fault::status_retry_after(503, "1"),
        ],
    );
    let step = step(&emulator, 20);
    let outcome = step.run_checked();
    assert_succeeded_fully(&step, &outcome, &last_access_token(&emulator));
    assert_eq!(emulator.requests(Hop::Entra), 4);
    assert!(
        outcome.elapsed >= Duration::from_secs(3),
        "Retry-After honoured: {:?}",
        outcome.elapsed
    );
    Held
}

fn storm_429_gives_up() -> Verdict {
    let emulator = emulator();
    emulator.script(
        Hop::Entra,
        (0..50)
            .map(|_| Fault::status_retry_after(429, "1"))
            .collect(),
    );
    let step = step(&emulator, 4);
    let outcome = step.run_checked();
    assert_failed_with(&step, &outcome, &["Entra ID token endpoint", "HTTP 429"]);
    let attempts = emulator.requests(Hop::Entra);
    // One attempt per second at most: Retry-After is a floor under the backoff.
    assert!((2..=5).contains(&attempts), "{attempts}");
    assert!(outcome.stdout.contains("throttling"), "{}", outcome.stdout);
    Held
}

fn retry_after_beyond_budget() -> Verdict {
    let emulator = emulator();
    emulator.script(Hop::Entra, vec![Fault::status_retry_after(429, "120")]);
    let step = step(&emulator, 10);
    let outcome = step.run_checked();
    assert_failed_with(&step, &outcome, &["429", "retry after 120 s"]);
    assert!(
        outcome.elapsed < Duration::from_secs(5),
        "{:?}",
        outcome.elapsed
    );
    assert_eq!(emulator.requests(Hop::Entra), 1);
    assert!(outcome.stdout.contains("throttling"), "{}", outcome.stdout);
    Held
}

fn retry_after_http_date() -> Verdict {
    let emulator = emulator();
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3));
    emulator.script(Hop::Entra, vec![Fault::status_retry_after(503, &at)]);
    let step = step(&emulator, 20);
    let outcome = step.run_checked();
    assert_succeeded_fully(&step, &outcome, &last_access_token(&emulator));
    // The date has one-second resolution, so 2–3 s were left when it was written; without it the
    // backoff would have waited about 0.2 s.
    assert!(
        outcome.elapsed >= Duration::from_millis(1500),
        "{:?}",
        outcome.elapsed
    );
    Held
}

// ---------------------------------------------------------------------------------------------
// Tokens in time

fn id_token_expires() -> Verdict {
    // Lifetime 45 s is inside the 60 s refresh margin: the retry must present a fresh token.
    let emulator = emulator_with(|c| c.id_token_lifetime = Duration::from_secs(45));
    emulator.script(Hop::Entra, vec![Fault::status(503)]);
    let step = step(&emulator, 20);
    let outcome = step.run_checked();
    assert_succeeded_fully(&step, &outcome, &last_access_token(&emulator));
    assert_eq!(emulator.requests(Hop::GitHub), 2);
    let entra = emulator.recorded(Hop::Entra);
    let assertions: Vec<_> = entra
        .iter()
        .map(|r| r.form_field("client_assertion"))
        .collect();
    assert_ne!(assertions[0], assertions[1]);
    assert_eq!(assertions[1], emulator.issued_id_tokens().last().cloned());
    let request_ids: Vec<_> = entra
        .iter()
        .map(|r| r.header("client-request-id").map(str::to_owned))
        .collect();
    assert_ne!(
        request_ids[0], request_ids[1],
        "a fresh client-request-id per attempt"
    );
    Held
}

/// An `exp` at the edge of the integer range must not overflow the expiry arithmetic on a retry.
fn absurd_exp() -> Verdict {
    let emulator = emulator_with(|c| {
        c.extra_claims
            .insert("exp".to_owned(), Value::from(i64::MIN));
    });
    emulator.script(Hop::Entra, vec![Fault::status(503)]);
    let step = step(&emulator, 10);
    let outcome = step.run_checked();
    // Not a crash, and one deterministic answer: the token looks expired, so the retry fetches a
    // fresh one (as expired) and Entra refuses it for its time range, a configuration error.
    assert_failed_with(&step, &outcome, &["AADSTS700024"]);
    assert_eq!(
        emulator.requests(Hop::Entra),
        2,
        "the 503, then the refusal"
    );
    assert_eq!(
        emulator.requests(Hop::GitHub),
        2,
        "a fresh token for the retry"
    );
    Held
}

/// The runner's own clock hours off: GitHub and Entra judge tokens by their clocks, so the step
/// still works. `faketime` shifts the binary's clock only (the emulator keeps the real one).
fn runner_clock(offset: &str) -> Verdict {
    if !runs("faketime", &["-f", "+0s", "true"]) {
        return skip("faketime is not installed (Debian package faketime)");
    }
    let emulator = emulator();
    emulator.script(Hop::Entra, vec![Fault::status(503)]);
    let step = step(&emulator, 20);
    let command = step.command_with(&["faketime", "-f", offset]);
    let outcome = step.run_command(command);
    step.check(&outcome);
    assert_succeeded_fully(&step, &outcome, &last_access_token(&emulator));
    // The GitHub token is fetched afresh at most once more (its exp looks near when the clock runs ahead).
    assert!(emulator.requests(Hop::GitHub) <= 2);
    assert_eq!(emulator.requests(Hop::Entra), 2);
    // expires-on is on the runner's clock, which is what later steps on this runner compare it with.
    let expires_on: i64 = outcome.outputs()["expires-on"].parse().unwrap();
    let shift: i64 = match offset {
        "+5h" => 5 * 3600,
        "-5h" => -5 * 3600,
        _ => 0,
    };
    let expected = unix_now() + shift + 4479;
    assert!(
        (expected - 60..=expected + 5).contains(&expires_on),
        "{expires_on} vs {expected}"
    );
    Held
}

fn runner_clock_ahead() -> Verdict {
    runner_clock("+5h")
}

fn runner_clock_behind() -> Verdict {
    runner_clock("-5h")
}

/// The token's times are an hour off for Entra: AADSTS700024, with the clock hint, not retried.
fn token_clock_far_off() -> Verdict {
    let emulator = emulator_with(|c| c.id_token_clock_offset_secs = -3600);
    let step = step(&emulator, 10);
    let outcome = step.run_checked();
    assert_failed_with(
        &step,
        &outcome,
        &["AADSTS700024", "trace_id", "correlation_id"],
    );
    assert!(outcome.stdout.contains("clock"), "{}", outcome.stdout);
    assert_eq!(emulator.requests(Hop::Entra), 1);
    Held
}

// ---------------------------------------------------------------------------------------------
// Bodies

fn oversized_github() -> Verdict {
    let emulator = emulator();
    emulator.script(Hop::GitHub, vec![Fault::Oversized(2 * 1024 * 1024)]);
    let step = step(&emulator, 10);
    let outcome = step.run_checked();
    assert_failed_with(
        &step,
        &outcome,
        &["GitHub ID token endpoint", "exceeds 1048576 bytes"],
    );
    assert_eq!(emulator.requests(Hop::GitHub), 1);
    Held
}

fn oversized_entra() -> Verdict {
    let emulator = emulator();
    emulator.script(Hop::Entra, vec![Fault::Oversized(2 * 1024 * 1024)]);
    let step = step(&emulator, 10);
    let outcome = step.run_checked();
    assert_failed_with(
        &step,
        &outcome,
        &["Entra ID token endpoint", "exceeds 1048576 bytes"],
    );
    assert_eq!(emulator.requests(Hop::Entra), 1);
    Held
}

fn non_utf8_github() -> Verdict {
    let emulator = emulator();
    emulator.script(
        Hop::GitHub,
        vec![bytes_fault(
            200,
            "application/json",
            b"{\"value\":\"\xff\xfe\xfd\"}",
        )],
    );
    let step = step(&emulator, 10);
    let outcome = step.run_checked();
    assert_failed_with(
        &step,
        &outcome,
        &["GitHub ID token endpoint", "without an ID token"],
    );
    assert_eq!(emulator.requests(Hop::Entra), 0);
    Held
}

/// A Latin-1 error page from a proxy: a readable (lossy) excerpt, never raw bytes or a panic.
fn non_utf8_entra_error() -> Verdict {
    let emulator = emulator();
    emulator.script(
        Hop::Entra,
        vec![bytes_fault(
            400,
            "text/plain; charset=iso-8859-1",
            b"Requ\xeate refus\xe9e par le proxy\r\n::error::x",
        )],
    );
    let step = step(&emulator, 10);
    let outcome = step.run_checked();
    let message = assert_failed_with(
        &step,
        &outcome,
        &[
            "Entra ID token endpoint",
            "HTTP 400",
            "not Entra's error JSON",
            "refus",
        ],
    );
    assert!(
        !message.contains('\r') && !message.contains('\n'),
        "{message}"
    );
    assert!(
        outcome.stdout.contains("authority-host"),
        "{}",
        outcome.stdout
    );
    Held
}

fn non_utf8_entra_success() -> Verdict {
    let emulator = emulator();
    emulator.script(
        Hop::Entra,
        vec![bytes_fault(
            200,
            "application/json",
            b"{\"access_token\":\"\xc3\x28\",\"expires_in\":3599}",
        )],
    );
    let step = step(&emulator, 10);
    let outcome = step.run_checked();
    assert_failed_with(
        &step,
        &outcome,
        &[
            "Entra ID token endpoint",
            "HTTP 200 without a JSON token response",
        ],
    );
    Held
}

fn html_from_github() -> Verdict {
    let emulator = emulator();
    emulator.script(Hop::GitHub, vec![Fault::NonJson]);
    let step = step(&emulator, 10);
    let outcome = step.run_checked();
    assert_failed_with(
        &step,
        &outcome,
        &["GitHub ID token endpoint", "without an ID token"],
    );
    assert_eq!(emulator.requests(Hop::Entra), 0);
    Held
}

fn html_from_entra() -> Verdict {
    let emulator = emulator();
    emulator.script(Hop::Entra, vec![Fault::NonJson]);
    let step = step(&emulator, 10);
    let outcome = step.run_checked();
    assert_failed_with(
        &step,
        &outcome,
        &[
            "Entra ID token endpoint",
            "HTTP 200 without a JSON token response",
        ],
    );
    assert!(
        outcome.stdout.contains("authority-host"),
        "{}",
        outcome.stdout
    );
    Held
}

fn non_jwt_id_token() -> Verdict {
    let emulator = emulator();
    emulator.script(
        Hop::GitHub,
        vec![Fault::Status {
            status: 200,
            retry_after: None,
            body: r#"{"value":"not-a-jwt"}"#.to_owned(),
            content_type: "application/json".to_owned(),
        }],
    );
    let step = step(&emulator, 10);
    let outcome = step.run_checked();
    assert_failed_with(&step, &outcome, &["not a JWT"]);
    assert_eq!(emulator.requests(Hop::Entra), 0);
    Held
}

/// The body decides, not the label: a well-formed token response labelled `text/plain` is used
/// (a proxy relabelling answers is no reason to fail a deployment), and it is still kept secret.
fn wrong_type_on_token() -> Verdict {
    let emulator = emulator();
    let token = format!("opaque-{}", uuid_like());
    let body = format!(r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"{token}"}}"#);
    emulator.script(
        Hop::Entra,
        vec![Fault::Status {
            status: 200,
            retry_after: None,
            body,
            content_type: "text/plain".to_owned(),
        }],
    );
    let step = step(&emulator, 10);
    let outcome = step.run_checked();
    let mut secrets = support::secrets(&emulator);
    secrets.push(token.clone());
    assert_no_secret_in_streams(&secrets, &emulator.issued_id_tokens(), &outcome, true);
    support::assert_no_secret_on_disk(&secrets, step.dir.path(), &step.allowed_files());
    assert_succeeded_fully(&step, &outcome, &token);
    assert!(outcome.stdout.contains(&format!("::add-mask::{token}")));
    Held
}

fn wrong_type_on_error() -> Verdict {
    let emulator = emulator();
    let body = entra_error_body(
        "invalid_client",
        &[700_016],
        "AADSTS700016: Application not found in the directory.",
        "0a0a0a0a-0000-4000-8000-000000000001",
        "0b0b0b0b-0000-4000-8000-000000000002",
    );
    emulator.script(
        Hop::Entra,
        vec![Fault::Status {
            status: 400,
            retry_after: None,
            body,
            content_type: "text/html; charset=utf-8".to_owned(),
        }],
    );
    let step = step(&emulator, 10);
    let outcome = step.run_checked();
    assert_failed_with(
        &step,
        &outcome,
        &["AADSTS700016", "0a0a0a0a-0000-4000-8000-000000000001"],
    );
    Held
}

fn redirect() -> Verdict {
    let emulator = emulator();
    let elsewhere = format!("{}/elsewhere/oauth2/v2.0/token?code=1", emulator.base_url());
    emulator.script(Hop::Entra, vec![Fault::Redirect(elsewhere)]);
    let step = step(&emulator, 10);
    let outcome = step.run_checked();
    let message = assert_failed_with(&step, &outcome, &["redirect"]);
    assert!(
        !message.contains("code=1"),
        "no full URL with query: {message}"
    );
    assert_eq!(emulator.requests(Hop::Entra), 1);
    Held
}

fn uuid_like() -> String {
    format!(
        "{:032x}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

// ---------------------------------------------------------------------------------------------
// The runner's files

/// The run failed on writing its outputs, leaving the other files as they were.
fn assert_output_failure(step: &Step<'_>, outcome: &Outcome, variable: &str) {
    assert_eq!(outcome.code, Some(1), "{}", outcome.stdout);
    let errors = outcome.error_lines();
    assert_eq!(errors.len(), 1, "{}", outcome.stdout);
    assert!(errors[0].contains(variable), "{}", errors[0]);
    assert!(
        outcome.stdout.contains("Nothing was written"),
        "{}",
        outcome.stdout
    );
    assert_within_budget(step, outcome);
}

fn unwritable_output() -> Verdict {
    let emulator = emulator();
    let step = step(&emulator, 10);
    let dir = step.dir.path().join("not-a-file");
    std::fs::create_dir(&dir).unwrap();
    let step = step.with("GITHUB_OUTPUT", dir.to_str().unwrap());
    let outcome = step.run_checked();
    assert_output_failure(&step, &outcome, "GITHUB_OUTPUT");
    assert_eq!(outcome.env_file, "");
    Held
}

fn vanished_output() -> Verdict {
    let emulator = emulator();
    let step = step(&emulator, 10);
    let gone = step.dir.path().join("gone").join("set_output");
    let step = step.with("GITHUB_OUTPUT", gone.to_str().unwrap());
    let outcome = step.run_checked();
    assert_output_failure(&step, &outcome, "GITHUB_OUTPUT");
    assert_eq!(outcome.env_file, "");
    assert!(!gone.exists());
    Held
}

fn full_disk_output() -> Verdict {
    let emulator = emulator();
    let step = step(&emulator, 10).with("GITHUB_OUTPUT", "/dev/full");
    let outcome = step.run_checked();
    assert_output_failure(&step, &outcome, "GITHUB_OUTPUT");
    assert_eq!(outcome.env_file, "");
    Held
}

fn full_disk_env() -> Verdict {
    let emulator = emulator();
    let step = step(&emulator, 10).with("GITHUB_ENV", "/dev/full");
    std::fs::write(step.path("GITHUB_OUTPUT"), "earlier=1\n").unwrap();
    let outcome = step.run_checked();
    assert_output_failure(&step, &outcome, "GITHUB_ENV");
    assert_eq!(
        outcome.output_file, "earlier=1\n",
        "GITHUB_OUTPUT was rolled back"
    );
    Held
}

fn unwritable_summary() -> Verdict {
    let emulator = emulator();
    let step = step(&emulator, 10).with("GITHUB_STEP_SUMMARY", "/dev/full");
    let outcome = step.run_checked();
    assert_succeeded_fully(&step, &outcome, &last_access_token(&emulator));
    assert!(outcome.stdout.contains("::warning::"), "{}", outcome.stdout);
    Held
}

// ---------------------------------------------------------------------------------------------
// Stalled attempts

/// One attempt may take a third of the budget: a first attempt that never answers is abandoned
/// and the second one succeeds, well within the budget.
fn stalled_then_success(hop: Hop) -> Verdict {
    let emulator = emulator();
    emulator.script(hop, vec![Fault::Hang]);
    let step = step(&emulator, 6);
    let outcome = step.run_checked();
    assert_succeeded_fully(&step, &outcome, &last_access_token(&emulator));
    assert_eq!(
        emulator.requests(hop),
        2,
        "one abandoned attempt, one answered"
    );
    // Abandoned after about a third of the 6-second budget, not at its end.
    assert!(
        outcome.elapsed >= Duration::from_millis(1900) && outcome.elapsed < Duration::from_secs(5),
        "took {:?}",
        outcome.elapsed
    );
    assert!(
        outcome.stdout.contains("the limit of one attempt"),
        "{}",
        outcome.stdout
    );
    Held
}

fn stalled_github_then_success() -> Verdict {
    stalled_then_success(Hop::GitHub)
}

fn stalled_entra_then_success() -> Verdict {
    stalled_then_success(Hop::Entra)
}

// ---------------------------------------------------------------------------------------------
// Proxies and trust settings

/// A loopback "proxy" that answers every CONNECT with `reply` and counts the connections.
fn fake_proxy(reply: &'static str) -> (u16, std::sync::Arc<AtomicUsize>) {
    use std::io::{BufRead as _, BufReader, Write as _};
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            seen.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            // Read the CONNECT request head, then answer.
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                if line == "\r\n" {
                    break;
                }
                line.clear();
            }
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    (port, count)
}

fn proxy_refuses(reply: &'static str, expected: &str) -> Verdict {
    let emulator = emulator();
    let (port, connections) = fake_proxy(reply);
    let step = step(&emulator, 30).with(
        "HTTPS_PROXY",
        &format!("http://user:s3cret@127.0.0.1:{port}"),
    );
    let outcome = step.run_checked();
    let message = assert_failed_with(
        &step,
        &outcome,
        &["GitHub ID token endpoint", "proxy", expected],
    );
    assert!(
        !outcome.stdout.contains("s3cret"),
        "the proxy password was printed"
    );
    assert!(
        outcome
            .stdout
            .contains(&format!("127.0.0.1:{port} (set by HTTPS_PROXY)")),
        "the hint names the proxy and its variable:\n{}",
        outcome.stdout
    );
    assert!(
        outcome.elapsed < Duration::from_secs(5),
        "retried: {message}"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 1, "not retried");
    assert_eq!(total_requests(&emulator), 0);
    Held
}

fn proxy_407() -> Verdict {
    proxy_refuses(
        "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 0\r\n\r\n",
        "proxy authorization required",
    )
}

fn proxy_403() -> Verdict {
    proxy_refuses(
        "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
        "unsuccessful",
    )
}

fn proxy_refused() -> Verdict {
    let emulator = emulator();
    let port = closed_port();
    let step = step(&emulator, 30).with("HTTPS_PROXY", &format!("127.0.0.1:{port}"));
    let outcome = step.run_checked();
    assert_failed_with(&step, &outcome, &["GitHub ID token endpoint", "proxy"]);
    assert!(outcome.elapsed < Duration::from_secs(5), "retried");
    assert!(outcome.stdout.contains("NO_PROXY"), "{}", outcome.stdout);
    Held
}

/// A configuration error read before any request: one line naming `variable`, nothing sent.
fn refused_before_any_request(step: &Step<'_>, variable: &str, parts: &[&str]) {
    let outcome = step.run_checked();
    let message = outcome.assert_failed();
    assert!(message.starts_with(variable), "{message}");
    for part in parts {
        assert!(message.contains(part), "expected {part:?} in: {message}");
    }
    assert_eq!(total_requests(step.emulator), 0);
    assert!(outcome.elapsed < Duration::from_secs(3));
}

fn proxy_socks() -> Verdict {
    let emulator = emulator();
    let step = step(&emulator, 30).with("ALL_PROXY", "socks5://127.0.0.1:1080");
    refused_before_any_request(&step, "ALL_PROXY", &["socks5://", "http://"]);
    Held
}

fn proxy_malformed() -> Verdict {
    let emulator = emulator();
    let step = step(&emulator, 30).with("https_proxy", "http://[bad");
    refused_before_any_request(
        &step,
        "https_proxy",
        &["not a valid proxy URL", "http://HOST:PORT"],
    );
    Held
}

/// `NO_PROXY=*` bypasses every host, the emulator's `127.0.0.1` included: the (refused) proxy
/// is never tried.
fn no_proxy_star() -> Verdict {
    let emulator = emulator();
    let step = step(&emulator, 10)
        .with(
            "HTTPS_PROXY",
            &format!("http://127.0.0.1:{}", closed_port()),
        )
        .with("NO_PROXY", "*");
    let outcome = step.run_checked();
    assert_succeeded_fully(&step, &outcome, &last_access_token(&emulator));
    Held
}

fn unreadable_cert_file() -> Verdict {
    let emulator = emulator();
    let step = step(&emulator, 30);
    let missing = step.dir.path().join("no-such-bundle.pem");
    let step = step.with("SSL_CERT_FILE", missing.to_str().unwrap());
    refused_before_any_request(&step, "SSL_CERT_FILE", &["cannot be read", "PEM bundle"]);
    Held
}

/// `SSL_CERT_FILE` or `SSL_CERT_DIR` replaces the system's CA store (rustls-native-certs' rule);
/// with `SSL_CERT_FILE` beside it, both are trusted.
fn cert_dir_and_file() -> Verdict {
    let emulator = emulator();
    let step = step(&emulator, 10);
    let dir = step.dir.path().join("certs");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("other.pem"), self::emulator().ca_pem()).unwrap();
    let step = step.with("SSL_CERT_DIR", dir.to_str().unwrap());
    let outcome = step.run_checked();
    assert_succeeded_fully(&step, &outcome, &last_access_token(&emulator));
    // And a directory that cannot be read is named before any request.
    let emulator = self::emulator();
    let step = self::step(&emulator, 10);
    let missing = step.dir.path().join("missing-certs");
    let step = step.with("SSL_CERT_DIR", missing.to_str().unwrap());
    refused_before_any_request(&step, "SSL_CERT_DIR", &["cannot be read as a directory"]);
    Held
}

/// `SSL_CERT_FILE=/dev/zero` is read up to the 1 MiB cap, not until memory runs out.
fn endless_cert_file() -> Verdict {
    let emulator = emulator();
    let step = step(&emulator, 30).with("SSL_CERT_FILE", "/dev/zero");
    refused_before_any_request(&step, "SSL_CERT_FILE", &["/dev/zero", "larger than 1 MiB"]);
    Held
}

/// A FIFO nobody writes to is given up when the budget runs out, not waited on for ever.
fn fifo_cert_file() -> Verdict {
    let emulator = emulator();
    let step = step(&emulator, 2);
    let fifo = step.dir.path().join("bundle.pem");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo");
    let step = step.with("SSL_CERT_FILE", fifo.to_str().unwrap());
    let outcome = step.run_checked();
    let message = outcome.assert_failed();
    assert!(message.starts_with("SSL_CERT_FILE"), "{message}");
    assert!(
        message.contains("not read within the 2-second budget"),
        "{message}"
    );
    assert_eq!(total_requests(&emulator), 0);
    assert!(
        outcome.elapsed < Duration::from_secs(2) + SLACK,
        "{:?}",
        outcome.elapsed
    );
    Held
}

/// Each file of `SSL_CERT_DIR` is capped like `SSL_CERT_FILE`, and the message names the file.
fn oversized_cert_dir_file() -> Verdict {
    let emulator = emulator();
    let step = step(&emulator, 30);
    let dir = step.dir.path().join("certs");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("ok.pem"), emulator.ca_pem()).unwrap();
    std::fs::write(dir.join("huge.pem"), vec![b'A'; 1024 * 1024 + 1]).unwrap();
    let step = step.with("SSL_CERT_DIR", dir.to_str().unwrap());
    refused_before_any_request(&step, "SSL_CERT_DIR", &["huge.pem", "larger than 1 MiB"]);
    Held
}

// ---------------------------------------------------------------------------------------------
// Server text

/// A retryable answer whose body holds a legacy `##[stop-commands]` command: the run succeeds and
/// the runner, replayed line by line with both parsers, keeps processing commands and shows no
/// token (`run_checked` replays every case's output that way).
fn legacy_command_in_retry_body(hop: Hop) -> Verdict {
    let emulator = emulator();
    emulator.script(
        hop,
        vec![Fault::Status {
            status: 503,
            retry_after: None,
            body: "down ##[stop-commands]pwned".to_owned(),
            content_type: "text/plain".to_owned(),
        }],
    );
    let step = step(&emulator, 10);
    let outcome = step.run_checked();
    assert_succeeded_fully(&step, &outcome, &last_access_token(&emulator));
    assert!(
        outcome.stdout.contains("stop-commands]pwned"),
        "{}",
        outcome.stdout
    );
    assert!(!support::RunnerLog::replay(&outcome.stdout, &outcome.stderr).stopped());
    Held
}

fn legacy_command_github() -> Verdict {
    legacy_command_in_retry_body(Hop::GitHub)
}

fn legacy_command_entra() -> Verdict {
    legacy_command_in_retry_body(Hop::Entra)
}

fn empty_200_then_success() -> Verdict {
    let emulator = emulator();
    emulator.script(Hop::Entra, vec![bytes_fault(200, "application/json", b"")]);
    let step = step(&emulator, 10);
    let outcome = step.run_checked();
    assert_succeeded_fully(&step, &outcome, &last_access_token(&emulator));
    assert_eq!(emulator.requests(Hop::Entra), 2);
    assert!(
        outcome.stdout.contains("HTTP 200 with an empty body"),
        "{}",
        outcome.stdout
    );
    Held
}
