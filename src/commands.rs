//! The commands beyond the step: `token` (the exchange for other CI systems and Kubernetes) and
//! `explain` (the diagnosis from a terminal). Output on stdout, errors and progress on stderr;
//! inside GitHub Actions every secret is masked too.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::action::workflow;
use crate::clock::rfc3339;
use crate::error::AppError;
use crate::exchange::cloud::Cloud;
use crate::exchange::settings::ExchangeConfig;
use crate::exchange::{Session, SourceConfig};
use crate::onboarding::diagnosis::HintContext;
use crate::onboarding::{self, matching};
use crate::report::{ErrorStyle, Log, fail};

/// The async runtime of one run: one thread, timers and I/O (two sequential requests need no more).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Where a command writes: its result on stdout, progress and errors on stderr. Inside GitHub
/// Actions (`in_actions`) a runner reads both: secrets are masked there first and errors are
/// workflow commands.
pub struct Console<'a, O: Write, E: Write> {
    /// The result.
    pub stdout: &'a mut O,
    /// Progress and errors.
    pub stderr: &'a mut E,
    /// Whether a GitHub runner reads the output.
    pub in_actions: bool,
}

impl<O: Write, E: Write> Console<'_, O, E> {
    /// How errors are rendered here.
    pub fn style(&self) -> ErrorStyle {
        ErrorStyle::for_commands(self.in_actions)
    }

    /// Reports `error` on stderr and returns exit status 1.
    pub fn fail(&mut self, error: &AppError, context: Option<&HintContext<'_>>) -> ExitCode {
        let style = self.style();
        fail(self.stderr, error, context, style)
    }

    /// Runs `work` in a session (the ID token from `source`) on a one-thread runtime, logging to
    /// stderr.
    fn in_session<T>(
        &mut self,
        source: &SourceConfig,
        debug: bool,
        work: impl AsyncFnOnce(&Session<'_>) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let runtime = runtime().map_err(AppError::Runtime)?;
        let log = Log::new(&mut *self.stderr, self.in_actions, debug);
        runtime.block_on(async {
            let session = Session::start(source, &log).await?;
            work(&session).await
        })
    }
}

/// `azure-oidc-token token`: prints `{"access_token","token_type","expires_on","expires_at"}`, the
/// bare token with `raw`, or, with `output`, writes the token to that file (0600) and prints the
/// JSON without it.
pub fn run_token(
    config: &ExchangeConfig,
    raw: bool,
    output: Option<&Path>,
    console: &mut Console<'_, impl Write, impl Write>,
) -> ExitCode {
    let result = console.in_session(
        &config.source,
        config.debug,
        async |session: &Session<'_>| Ok(session.exchange(config, &config.scope).await?),
    );
    let token = match result {
        Ok(token) => token,
        Err(error) => return console.fail(&error, Some(&config.hint_context())),
    };
    if console.in_actions {
        let _ = workflow::add_mask(console.stderr, &token.token);
    }
    if let Some(path) = output
        && let Err(error) = crate::token_file::write(path, token.token.expose_secret())
    {
        return console.fail(&AppError::from(error), None);
    }
    let stdout = &mut *console.stdout;
    let printed = if output.is_some() {
        // The token went to the file; stdout (often a log) gets only what is not secret.
        let json = serde_json::json!({
            "token_type": "Bearer",
            "expires_on": token.expires_on,
            "expires_at": rfc3339(token.expires_on),
        });
        writeln!(stdout, "{json}")
    } else if raw {
        writeln!(stdout, "{}", token.token.expose_secret())
    } else {
        let json = serde_json::json!({
            "access_token": token.token.expose_secret(),
            "token_type": "Bearer",
            "expires_on": token.expires_on,
            "expires_at": rfc3339(token.expires_on),
        });
        writeln!(stdout, "{json}")
    };
    match printed.and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => console.fail(&AppError::Stdout(error), None),
    }
}

/// What `explain` needs: where the ID token comes from and for which audience, the cloud, the
/// client ID if one was given (for the printed `az` command), and a credential to check.
#[derive(Debug)]
pub struct ExplainConfig {
    /// The ID token's source, audience, budget and network.
    pub source: SourceConfig,
    /// The cloud (for the hints).
    pub cloud: Cloud,
    /// The client ID, if one was given.
    pub client_id: Option<String>,
    /// `--subject` / `--expression`.
    pub check: matching::Check,
}

impl ExplainConfig {
    fn hint_context(&self) -> HintContext<'_> {
        HintContext {
            client_id: self.client_id.as_deref(),
            cloud: self.cloud,
            audience: &self.source.audience,
            scope: None,
            authority_host: None,
            network: &self.source.network,
        }
    }
}

/// `azure-oidc-token explain`: the diagnosis on stdout; exit 1 if the issuer check or the given
/// credential fails.
pub fn run_explain(
    config: &ExplainConfig,
    console: &mut Console<'_, impl Write, impl Write>,
) -> ExitCode {
    let result = console.in_session(&config.source, false, async |session: &Session<'_>| {
        onboarding::diagnose(
            session,
            &config.source.id_token.origin(),
            &config.source.audience,
            config.client_id.as_deref(),
            &config.check,
        )
        .await
    });
    let diagnosis = match result {
        Ok(diagnosis) => diagnosis,
        Err(error) => return console.fail(&error, Some(&config.hint_context())),
    };
    let stdout = &mut *console.stdout;
    if console.in_actions {
        // Claims and issuer text are not ours: fence them so the runner runs none of it.
        let _ = workflow::write_inert(stdout, &diagnosis.lines);
    } else {
        for line in &diagnosis.lines {
            let _ = writeln!(stdout, "{line}");
        }
    }
    let _ = stdout.flush();
    match diagnosis.verdict {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => console.fail(&error, Some(&config.hint_context())),
    }
}
