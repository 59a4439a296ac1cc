//! Load: many concurrent runs of the real binary against one emulator that throttles at random.
//!
//! [`RUNS`] processes, [`CONCURRENCY`] at a time, each with a [`BUDGET_SECS`] budget, share one
//! emulator whose two hops answer from a random script: mostly normal answers, with bursts of
//! `429` + `Retry-After: 1`, `503` and `500` (a fault is consumed by whichever request comes next,
//! as throttling hits whoever asks). Every run must end correctly within its budget (success with
//! complete outputs, or one `::error` line and nothing written), leak no secret (checked against
//! every token the emulator handed out to any run), and retry boundedly: per run at most
//! `MAX_ATTEMPTS` per hop, and the emulator's request counts must equal the attempts the runs
//! report, so there are no hidden retries.
//!
//! No libtest harness (`harness = false`): the figures are printed under plain `cargo test`.
//! `LOAD_SEED=<n>` replays a run's throttling script; `LOAD_RUNS=<n>` changes the number of runs.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test
#![allow(
    clippy::print_stdout,
    reason = "this harness's job is to print the load figures"
)]

#[allow(
    dead_code,
    unused_imports,
    reason = "this harness uses a part of the shared support"
)]
mod support;

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use azure_oidc_emulator::{Config, Emulator, Fault, Hop};
use support::{Outcome, Step, assert_no_secret_in_streams, assert_no_secret_on_disk, secrets};

/// The attempt cap per hop, as the specification states it (written here, not imported from the
/// code under test, so a changed cap fails this test instead of moving with it).
const MAX_ATTEMPTS: usize = 10;
const RUNS: usize = 200;
const CONCURRENCY: usize = 16;
const BUDGET_SECS: u64 = 20;
/// Process start-up and exit on top of the budget, with 16 processes on 2 cores.
const SLACK: Duration = Duration::from_secs(3);
/// Scripted answers per hop: more than the requests a run makes on average, times the runs.
const SCRIPT_PER_RUN: usize = 2;

/// xorshift64*: reproducible from the printed seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random throttling script for one hop: normal answers (a zero delay), and now and then a
/// burst of 1–6 throttling or server errors.
fn throttling_script(rng: &mut Rng, len: usize) -> (Vec<Fault>, usize) {
    let mut script = Vec::with_capacity(len);
    let mut faults = 0;
    while script.len() < len {
        match rng.below(100) {
            0..=7 => {
                let burst = 1 + rng.below(6) as usize;
                let fault = match rng.below(3) {
                    0 => Fault::status_retry_after(429, "1"),
                    1 => Fault::status(503),
                    _ => Fault::status(500),
                };
                script.extend(std::iter::repeat_n(fault, burst));
                faults += burst;
            }
            8..=17 => {
                script.push(Fault::status_retry_after(429, "1"));
                faults += 1;
            }
            _ => script.push(Fault::Delay(Duration::ZERO)),
        }
    }
    (script, faults)
}

/// What one run came to.
struct Run {
    outcome: Outcome,
    export_env: bool,
    github_attempts: usize,
    entra_attempts: usize,
}

/// Attempts a run made on a hop: the failed ones it reported as retried, plus the last one.
fn attempts(outcome: &Outcome, hop: &str, reached: bool) -> usize {
    let retries = outcome
        .stdout
        .lines()
        .filter(|l| l.starts_with(hop) && l.contains("; retrying in"))
        .count();
    retries + usize::from(reached)
}

fn check_run(emulator: &Emulator, step: &Step<'_>, outcome: &Outcome) {
    assert!(
        outcome.elapsed <= Duration::from_secs(BUDGET_SECS) + SLACK,
        "took {:?}",
        outcome.elapsed
    );
    match outcome.code {
        Some(0) => {
            outcome.assert_succeeded();
            let outputs = outcome.outputs();
            // This run's token: the one the emulator handed out for an ID token this run fetched
            // (and masked), not any run's. Several runs share the emulator, so "some issued
            // token" would accept another run's output.
            let own_id_tokens: Vec<&str> = outcome
                .stdout
                .lines()
                .filter_map(|l| l.strip_prefix("::add-mask::"))
                .filter(|t| emulator.issued_id_tokens().iter().any(|i| i == t))
                .collect();
            assert!(
                !own_id_tokens.is_empty(),
                "the run masked no ID token of its own"
            );
            let exchanged: Vec<String> = own_id_tokens
                .iter()
                .filter_map(|t| emulator.access_token_for(t))
                .collect();
            assert!(
                exchanged.contains(&outputs["access-token"]),
                "the run output a token not issued for its own ID token"
            );
            assert!(outputs.contains_key("expires-on"));
            if step.exports_env() {
                let env = support::parse_file_commands(&outcome.env_file).unwrap();
                assert_eq!(env.len(), 1);
                assert_eq!(env[0].1, outputs["access-token"]);
            }
        }
        _ => {
            // Throttled out within the budget: the expected failure.
            let message = outcome.assert_failed();
            assert!(
                ["HTTP 429", "HTTP 503", "HTTP 500"]
                    .iter()
                    .any(|s| message.contains(s)),
                "{message}"
            );
        }
    }
    // Its own tokens are issued by now: nothing of them (or anyone's) on disk but the outputs.
    assert_no_secret_on_disk(&secrets(emulator), step.dir.path(), &step.allowed_files());
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Like libtest: `--list` names the one test, `--ignored` (only ignored tests) and a filter that
    // does not match `load` run nothing.
    if args.iter().any(|a| a == "--list") {
        println!("load: test");
        return;
    }
    let filters = support::test_filters(&args);
    if args.iter().any(|a| a == "--ignored")
        || !(filters.is_empty() || filters.iter().any(|f| "load".contains(f)))
    {
        return;
    }
    let runs: usize = std::env::var("LOAD_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(RUNS);
    let seed: u64 = std::env::var("LOAD_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
        | 1;
    println!(
        "\nload: {runs} runs, {CONCURRENCY} at a time, {BUDGET_SECS} s budget each, seed {seed} (LOAD_SEED to replay)"
    );
    let mut rng = Rng(seed);
    let emulator = Emulator::start(Config::default()).unwrap();
    let (github_script, github_faults) = throttling_script(&mut rng, runs * SCRIPT_PER_RUN);
    let (entra_script, entra_faults) = throttling_script(&mut rng, runs * SCRIPT_PER_RUN);
    emulator.script(Hop::GitHub, github_script);
    emulator.script(Hop::Entra, entra_script);
    // Half the runs log with RUNNER_DEBUG=1, half export the token to GITHUB_ENV too.
    let modes: Vec<(bool, bool)> = (0..runs)
        .map(|_| (rng.below(2) == 0, rng.below(2) == 0))
        .collect();

    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let finished: Mutex<Vec<Run>> = Mutex::new(Vec::new());
    let broken: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..CONCURRENCY {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&(debug, export)) = modes.get(index) else {
                        break;
                    };
                    let mut step = Step::new(&emulator)
                        .with("INPUT_TIMEOUT-SECONDS", &BUDGET_SECS.to_string());
                    if debug {
                        step = step.with("RUNNER_DEBUG", "1");
                    }
                    if export {
                        step = step.with("INPUT_EXPORT-ENV", "AZURE_ACCESS_TOKEN");
                    }
                    let outcome = step.run();
                    match catch_unwind(AssertUnwindSafe(|| check_run(&emulator, &step, &outcome))) {
                        Ok(()) => {
                            let succeeded = outcome.code == Some(0);
                            let entra_reached = succeeded
                                || outcome
                                    .error_lines()
                                    .first()
                                    .is_some_and(|l| l.contains("::Entra ID token endpoint"));
                            finished.lock().unwrap().push(Run {
                                github_attempts: attempts(
                                    &outcome,
                                    "GitHub ID token endpoint",
                                    true,
                                ),
                                entra_attempts: attempts(
                                    &outcome,
                                    "Entra ID token endpoint",
                                    entra_reached,
                                ),
                                outcome,
                                export_env: export,
                            });
                        }
                        Err(_) => broken.lock().unwrap().push(format!(
                            "run {index}: status {:?}, {:?}\n{}",
                            outcome.code, outcome.elapsed, outcome.stdout
                        )),
                    }
                }
            });
        }
    });
    let wall = started.elapsed();
    let finished = finished.into_inner().unwrap();
    let mut broken = broken.into_inner().unwrap();

    // Now that every token is known: no run shows any run's secret outside its mask lines.
    let all_secrets = secrets(&emulator);
    let id_tokens = emulator.issued_id_tokens();
    let mut leaked = 0;
    for (index, run) in finished.iter().enumerate() {
        if catch_unwind(AssertUnwindSafe(|| {
            assert_no_secret_in_streams(&all_secrets, &id_tokens, &run.outcome, run.export_env);
        }))
        .is_err()
        {
            leaked += 1;
            broken.push(format!("finished run {index}: a secret leaked"));
        }
    }
    let held = finished.len() - leaked;

    let succeeded = finished
        .iter()
        .filter(|r| r.outcome.code == Some(0))
        .count();
    let failed_as_expected = finished.len() - succeeded;
    let mut durations: Vec<Duration> = finished.iter().map(|r| r.outcome.elapsed).collect();
    durations.sort();
    let percentile = |p: usize| {
        durations
            .get((durations.len() * p / 100).min(durations.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let reported = |f: fn(&Run) -> usize| finished.iter().map(f).sum::<usize>();
    let max_of = |f: fn(&Run) -> usize| finished.iter().map(f).max().unwrap_or(0);
    let (github_requests, entra_requests) = (
        emulator.requests(Hop::GitHub),
        emulator.requests(Hop::Entra),
    );
    let (github_reported, entra_reported) = (
        reported(|r| r.github_attempts),
        reported(|r| r.entra_attempts),
    );
    let (github_max, entra_max) = (max_of(|r| r.github_attempts), max_of(|r| r.entra_attempts));
    let mut histogram: BTreeMap<usize, usize> = BTreeMap::new();
    for run in &finished {
        *histogram
            .entry(run.github_attempts + run.entra_attempts)
            .or_default() += 1;
    }

    println!(
        "load: {} runs ended: {succeeded} succeeded, {failed_as_expected} failed as expected (throttled out), {} broken; wall {:.1} s",
        finished.len() + broken.len(),
        broken.len(),
        wall.as_secs_f64()
    );
    println!(
        "load: run duration p50 {:.2} s, p95 {:.2} s, max {:.2} s (budget {BUDGET_SECS} s)",
        percentile(50).as_secs_f64(),
        percentile(95).as_secs_f64(),
        durations.last().copied().unwrap_or_default().as_secs_f64()
    );
    println!(
        "load: GitHub hop {github_requests} requests ({} retries, max {github_max} attempts in a run); Entra hop {entra_requests} requests ({} retries, max {entra_max} attempts in a run); cap {MAX_ATTEMPTS} per hop",
        github_requests.saturating_sub(finished.len()),
        entra_requests.saturating_sub(finished.iter().filter(|r| r.entra_attempts > 0).count()),
    );
    println!(
        "load: faults scripted: GitHub {github_faults}, Entra {entra_faults}; requests per run (both hops): {}",
        histogram
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect::<Vec<_>>()
            .join(" ")
    );

    for problem in &broken {
        println!("load: BROKEN: {problem}");
    }
    let mut problems = Vec::new();
    if github_requests != github_reported || entra_requests != entra_reported {
        problems.push(format!(
            "request counts differ from the attempts the runs reported: GitHub {github_requests} vs {github_reported}, Entra {entra_requests} vs {entra_reported}"
        ));
    }
    let cap = MAX_ATTEMPTS;
    if github_max > cap || entra_max > cap {
        problems.push(format!(
            "a run exceeded {cap} attempts on a hop (GitHub {github_max}, Entra {entra_max})"
        ));
    }
    if entra_requests > finished.len() * cap || github_requests > finished.len() * cap {
        problems.push("total requests exceed runs × MAX_ATTEMPTS".to_owned());
    }
    for problem in &problems {
        println!("load: PROBLEM: {problem}");
    }
    println!(
        "load totals: {runs} runs tried, {held} held; bounded-retry invariants {}",
        if problems.is_empty() {
            "held"
        } else {
            "BROKEN"
        }
    );
    // The plain closing line CI reads.
    println!("load: {held} passed, {} failed\n", runs - held);
    if held != runs || !problems.is_empty() {
        std::process::exit(1);
    }
}
