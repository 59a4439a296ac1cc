//! `federated-credential audit`: which of the federated credentials already in Entra are dead,
//! dangerous or drifted. It reads (GET only) an app registration's credentials through Microsoft
//! Graph or a user-assigned identity's through Azure Resource Manager, asks GitHub's REST API about
//! each subject's repository, and reports [`findings`] in a table or as JSON; with a declaration it
//! also prints the [`plan`] that would reconcile the two. It never writes anywhere.
//!
//! The room, one job per file: [`target`] (what is audited), [`fetch`] (the reads), [`classify`]
//! (pure judgement), [`plan`] (declared versus deployed), [`render`] (output). It uses the
//! exchange (HTTPS client, deadline, retries, and the token when no `--access-token-file` is
//! given) and onboarding (subjects, expressions, the generator's JSON lines); neither uses it.
//! The user-facing contract is `docs/federated-credentials.md`, section "Audit".

pub mod classify;
pub mod fetch;
pub mod findings;
pub mod plan;
pub mod render;
pub mod target;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use reqwest::Url;

use crate::commands::Console;
use crate::error::AppError;
use crate::exchange::cloud::Cloud;
use crate::exchange::http::{self, Deadline};
use crate::exchange::network::Network;
use crate::exchange::settings::ExchangeConfig;
use crate::exchange::{Session, USER_AGENT};
use crate::report::Log;
use crate::secret::Secret;
use findings::{Deployed, Finding, GitHubFacts, Severity};
use target::Target;

/// Why the audit cannot run (exit 1); findings are not errors.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// `--app-id` / `--identity` is unusable.
    #[error(transparent)]
    Target(#[from] target::TargetError),
    /// The declaration is not the generator's JSON lines.
    #[error(transparent)]
    Declared(#[from] plan::DeclaredError),
    /// A file given on the command line cannot be used.
    #[error("{flag} {path}: {problem}")]
    File {
        /// `--declared` or `--access-token-file`.
        flag: &'static str,
        /// The path.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// An endpoint flag is not an https:// root URL.
    #[error("{flag} {value:?}: {problem}")]
    Endpoint {
        /// The flag.
        flag: &'static str,
        /// What was given.
        value: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// Reading the credentials failed.
    #[error(transparent)]
    Fetch(#[from] fetch::FetchError),
}

/// Output formats of the audit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// A Markdown table for a terminal or a job summary.
    Text,
    /// One JSON document.
    Json,
}

/// Where the Graph or ARM access token comes from.
#[derive(Debug)]
pub enum AccessToken {
    /// Read from `--access-token-file` before any request.
    File(Secret),
    /// Minted by the same exchange as `token`, for the target's service.
    Exchange(Box<ExchangeConfig>),
}

/// Everything one audit needs, validated before any request.
#[derive(Debug)]
pub struct AuditConfig {
    /// What is audited.
    pub target: Target,
    /// The cloud (default endpoints, the expected audience).
    pub cloud: Cloud,
    /// Microsoft Graph's root, without a version.
    pub graph: Url,
    /// Azure Resource Manager's root.
    pub arm: Url,
    /// GitHub's REST root for every issuer, if given (`--github-api-url`, `$GITHUB_API_URL`).
    pub github_api: Option<Url>,
    /// `$GITHUB_TOKEN`.
    pub github_token: Option<Secret>,
    /// The Graph/ARM token.
    pub access_token: AccessToken,
    /// The declaration, if `--declared`.
    pub declared: Option<Vec<Deployed>>,
    /// Output format.
    pub format: OutputFormat,
    /// Budget for the whole audit.
    pub timeout: Duration,
    /// Proxy settings.
    pub network: Network,
}

/// An `https://` root URL for `flag` (no query or fragment).
pub fn parse_endpoint(flag: &'static str, value: &str) -> Result<Url, AuditError> {
    let bad = |problem| AuditError::Endpoint {
        flag,
        value: value.to_owned(),
        problem,
    };
    let url = Url::parse(value.trim()).map_err(|_| bad("not a URL"))?;
    if url.scheme() != "https" {
        return Err(bad("use an https:// URL"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(bad(
            "give the root URL only, without query, fragment or credentials",
        ));
    }
    Ok(url)
}

/// One credential and its findings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessed {
    /// As Entra holds it.
    pub credential: Deployed,
    /// What is wrong with it.
    pub findings: Vec<Finding>,
}

/// The audit's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// How the target is named.
    pub target: String,
    /// Every credential in Entra, in the service's order.
    pub credentials: Vec<Assessed>,
    /// Findings about no credential in Entra (`not-deployed`, `capacity`).
    pub findings: Vec<Finding>,
    /// With a declaration: the commands that would reconcile.
    pub commands: Vec<String>,
    /// What the audit could not check (GitHub did not answer), for stderr: the findings that need
    /// it are missing, so a clean table is not the whole truth.
    pub notes: Vec<String>,
}

impl Report {
    /// `(errors, warnings)`.
    pub fn totals(&self) -> (usize, usize) {
        let all = self
            .credentials
            .iter()
            .flat_map(|a| &a.findings)
            .chain(&self.findings);
        all.fold((0, 0), |(e, w), f| match f.code.severity() {
            Severity::Error => (e + 1, w),
            Severity::Warning => (e, w + 1),
        })
    }

    /// Exit status: 2 with at least one error finding, else 0.
    pub fn exit_code(&self) -> ExitCode {
        if self.totals().0 > 0 {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// The pure assembly: every credential's findings, duplicates, capacity and the plan.
pub fn assess(
    target: &Target,
    cloud: Cloud,
    graph: &str,
    deployed: Vec<Deployed>,
    facts: &[Option<GitHubFacts>],
    declared: Option<&[Deployed]>,
) -> Report {
    let context = classify::Context {
        audience: cloud.audience(),
        cloud: cloud.name(),
    };
    let duplicates = classify::duplicates(&deployed);
    let plan = declared.map(|declared| plan::compare(declared, &deployed, target, graph));
    let mut credentials = Vec::with_capacity(deployed.len());
    for (i, credential) in deployed.into_iter().enumerate() {
        let mut findings =
            classify::classify(&credential, facts.get(i).and_then(Option::as_ref), &context);
        findings.extend(duplicates[i].iter().cloned());
        if let Some(plan) = &plan {
            findings.extend(plan.per_credential[i].iter().cloned());
        }
        findings.sort_by_key(|f| (f.code.severity(), f.code));
        credentials.push(Assessed {
            credential,
            findings,
        });
    }
    let mut notes: Vec<String> = Vec::new();
    for (credential, facts) in credentials.iter().zip(facts) {
        if let Some(GitHubFacts {
            lookup: findings::Lookup::Unknown(reason),
            ..
        }) = facts
        {
            let note = format!(
                "GitHub did not answer about the repository of credential {:?} ({reason}): its repository, environment and subject-form findings are missing",
                credential.credential.name
            );
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
    }
    let mut top: Vec<Finding> = plan.as_ref().map(|p| p.top.clone()).unwrap_or_default();
    top.extend(classify::capacity(credentials.len(), &target.describe()));
    Report {
        target: target.describe(),
        credentials,
        findings: top,
        commands: plan.map(|p| p.commands).unwrap_or_default(),
        notes,
    }
}

/// Reads, judges, prints. Exit 0 (no error finding), 2 (at least one), 1 (could not audit).
pub fn run_audit(
    config: &AuditConfig,
    console: &mut Console<'_, impl Write, impl Write>,
) -> ExitCode {
    let in_actions = console.in_actions;
    let result = {
        let runtime = match crate::commands::runtime() {
            Ok(runtime) => runtime,
            Err(error) => return console.fail(&AppError::Runtime(error), None),
        };
        let log = Log::new(&mut *console.stderr, in_actions, false);
        runtime.block_on(audit(config, &log))
    };
    let report = match result {
        Ok(report) => report,
        Err(error) => {
            // An exchange failure gets the same hints as `token` (AADSTS diagnosis, network).
            let context = match &config.access_token {
                AccessToken::Exchange(exchange) => Some(exchange.hint_context()),
                AccessToken::File(_) => None,
            };
            return console.fail(&error, context.as_ref());
        }
    };
    for note in &report.notes {
        let _ = if in_actions {
            crate::action::workflow::warning(console.stderr, &note.replace("##[", "## ["))
        } else {
            crate::action::workflow::plain(console.stderr, &format!("warning: {note}"))
        };
    }
    let stdout = &mut *console.stdout;
    let written = match config.format {
        OutputFormat::Text => render::text(&report, stdout),
        OutputFormat::Json => {
            let mut buffer = Vec::new();
            render::json(&report, &mut buffer)
                .map(|()| {
                    // Server text inside JSON strings: keep the runner's legacy `##[` parser off it.
                    String::from_utf8_lossy(&buffer).replace("##[", "##\\u005b")
                })
                .and_then(|text| stdout.write_all(text.as_bytes()))
        }
    };
    match written.and_then(|()| stdout.flush()) {
        Ok(()) => report.exit_code(),
        Err(error) => console.fail(&AppError::Stdout(error), None),
    }
}

async fn audit<W: Write>(config: &AuditConfig, log: &Log<'_, W>) -> Result<Report, AppError> {
    let session;
    let minted;
    let (client, deadline, token): (reqwest::Client, Deadline, &Secret) = match &config.access_token
    {
        AccessToken::File(token) => {
            log.mask(token);
            let client = http::client(USER_AGENT, &config.network)
                .map_err(crate::exchange::ExchangeError::Client)?;
            (client, Deadline::after(config.timeout), token)
        }
        AccessToken::Exchange(exchange) => {
            session = Session::start(&exchange.source, log).await?;
            minted = session.exchange(exchange, &exchange.scope).await?;
            log.mask(&minted.token);
            (session.client().clone(), *session.deadline(), &minted.token)
        }
    };
    let reader = fetch::Reader {
        client: &client,
        deadline: &deadline,
    };
    let deployed = match &config.target {
        Target::App { app_id } => {
            fetch::graph_credentials(&reader, &config.graph, app_id, token).await
        }
        Target::Identity(identity) => {
            fetch::arm_credentials(&reader, &config.arm, identity, token).await
        }
    }
    .map_err(AuditError::from)?;
    let github = fetch::GitHubApi {
        reader: &reader,
        root: config.github_api.as_ref(),
        token: config.github_token.as_ref(),
    };
    let facts = github.facts(&deployed).await;
    Ok(assess(
        &config.target,
        config.cloud,
        config.graph.as_str().trim_end_matches('/'),
        deployed,
        &facts,
        config.declared.as_deref(),
    ))
}
