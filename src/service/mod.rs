//! `azure-oidc-token serve`: a token service on loopback speaking the App Service managed-identity
//! protocol, so that every Azure tool of later steps (azure-identity's `ManagedIdentityCredential`
//! and `DefaultAzureCredential`, MSAL's `ManagedIdentityClient`, `az login --identity`) gets tokens
//! with no code change and no secret on disk, for as long as the job runs. It uses the exchange
//! (a fresh GitHub ID token for every exchange); the exchange knows nothing of it.
//!
//! - [`protocol`]: the requests and answers, as pure functions.
//! - [`allow`]: which resources are served.
//! - [`cache`]: tokens per resource, one exchange at a time per resource.
//! - [`tokens`]: a request's answer (cache or exchange) and the failures rendered.
//! - [`server`]: the HTTP server, loopback only, until SIGTERM / SIGINT.
//! - [`handoff`]: `IDENTITY_ENDPOINT` / `IDENTITY_HEADER` to the env file, masked first.
//!
//! The contract is the "Token service" section of `docs/design.md`.

pub mod allow;
pub mod cache;
pub mod handoff;
pub mod protocol;
pub mod server;
pub mod tokens;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use crate::commands::Console;
use crate::error::AppError;
use crate::exchange::settings::{ConfigError, ExchangeConfig, quote};

use allow::AllowList;
use tokens::Tokens;

/// Everything `serve` needs, validated before anything listens.
#[derive(Debug)]
pub struct ServeConfig {
    /// The exchange (identity, ID-token source, budget per exchange, network).
    pub exchange: ExchangeConfig,
    /// The resources served.
    pub allow: AllowList,
    /// Where to append `IDENTITY_ENDPOINT` / `IDENTITY_HEADER`.
    pub env_file: PathBuf,
    /// The loopback address to listen on.
    pub listen: SocketAddr,
}

impl ServeConfig {
    /// Validates the serve-only options; `exchange` carries the identity options of `token`
    /// (`--scope`, if given, is served too).
    pub fn new(
        exchange: ExchangeConfig,
        allow_scopes: &[String],
        scope_given: bool,
        env_file: Option<PathBuf>,
        listen: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut scopes = allow_scopes.to_vec();
        if scope_given {
            scopes.push(exchange.scope.clone());
        }
        let allow = AllowList::new(exchange.cloud, &scopes)?;
        let env_file = env_file
            .or_else(|| {
                env("GITHUB_ENV")
                    .filter(|v| !v.trim().is_empty())
                    .map(PathBuf::from)
            })
            .ok_or_else(|| ConfigError::Invalid {
                input: "env-file",
                problem: "is not given and GITHUB_ENV is not set: name the file that should receive IDENTITY_ENDPOINT and IDENTITY_HEADER (--env-file FILE)".to_owned(),
            })?;
        Ok(Self {
            exchange,
            allow,
            env_file,
            listen: parse_listen(listen)?,
        })
    }
}

/// `--listen`: a loopback address and port (port 0: any free port).
pub fn parse_listen(value: &str) -> Result<SocketAddr, ConfigError> {
    let invalid = |problem: &str| ConfigError::Invalid {
        input: "listen",
        problem: format!("is {}: {problem}", quote(value)),
    };
    let address: SocketAddr = value.parse().map_err(|_| {
        invalid("use ADDRESS:PORT, e.g. 127.0.0.1:0 (port 0 picks a free port) or [::1]:0")
    })?;
    if !address.ip().is_loopback() {
        return Err(invalid(
            "the token service listens on loopback only (127.0.0.0/8 or ::1): anything else would hand tokens to other machines",
        ));
    }
    Ok(address)
}

/// Runs the service until SIGTERM / SIGINT: exit 0 then; 1 if it cannot start.
pub fn run(config: ServeConfig, console: &mut Console<'_, impl Write, impl Write>) -> ExitCode {
    let runtime = match crate::commands::runtime() {
        Ok(runtime) => runtime,
        Err(error) => return console.fail(&AppError::Runtime(error), None),
    };
    let started = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let stop = server::stop_signal()?;
        Ok::<_, std::io::Error>((listener, stop))
    });
    let (listener, stop) = match started {
        Ok(started) => started,
        Err(error) => return console.fail(&serve_error("listen", config.listen, &error), None),
    };
    let address = match listener.local_addr() {
        Ok(address) => address,
        Err(error) => return console.fail(&serve_error("listen", config.listen, &error), None),
    };
    let endpoint = handoff::endpoint(address);
    let secret = handoff::new_secret();
    if let Err(error) = handoff::hand_off(
        &config.env_file,
        &endpoint,
        &secret,
        console.in_actions,
        console.stdout,
    ) {
        return console.fail(
            &AppError::Config(ConfigError::Invalid {
                input: "env-file",
                problem: format!(
                    "{} cannot be appended to ({error}): check the path and its permissions",
                    quote(&config.env_file.display().to_string())
                ),
            }),
            None,
        );
    }
    let _ = console.stdout.flush();
    server::log(&format!(
        "listening on {endpoint} (pid {}) for client {} (resources: {}); IDENTITY_ENDPOINT and IDENTITY_HEADER appended to {}",
        std::process::id(),
        config.exchange.client_id,
        config.allow.resources().join(", "),
        config.env_file.display()
    ));
    let tokens = Rc::new(Tokens::new(
        config.exchange,
        config.allow,
        secret,
        console.in_actions,
    ));
    let local = tokio::task::LocalSet::new();
    match runtime.block_on(local.run_until(server::serve(listener, tokens, stop))) {
        Ok(stopped) => {
            server::log(&format!("stopped ({})", stopped.name()));
            ExitCode::SUCCESS
        }
        Err(error) => console.fail(&serve_error("signal", config.listen, &error), None),
    }
}

fn serve_error(input: &'static str, listen: SocketAddr, error: &std::io::Error) -> AppError {
    AppError::Config(ConfigError::Invalid {
        input,
        problem: format!("cannot serve on {listen}: {error}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(scope: Option<&str>) -> ExchangeConfig {
        let env = |name: &str| match name {
            "AZURE_CLIENT_ID" => Some("11111111-2222-4333-8444-555555555555".to_owned()),
            "AZURE_TENANT_ID" => Some("contoso.onmicrosoft.com".to_owned()),
            _ => None,
        };
        ExchangeConfig::new(
            crate::exchange::settings::ExchangeInputs {
                scope: scope.map(str::to_owned),
                environment: Some("AzureUSGovernment".to_owned()),
                ..Default::default()
            },
            || {
                Ok(crate::exchange::source::IdTokenSource::File {
                    path: "/dev/null".into(),
                    origin: "--id-token-file",
                })
            },
            &env,
        )
        .expect("valid")
    }

    #[test]
    fn serves_the_clouds_arm_the_scope_and_the_allowed_scopes() {
        let github_env = |name: &str| (name == "GITHUB_ENV").then(|| "/runner/env".to_owned());
        let config = ServeConfig::new(
            exchange(Some("https://vault.usgovcloudapi.net")),
            &["api://my-api/.default".to_owned()],
            true,
            None,
            "127.0.0.1:0",
            &github_env,
        )
        .expect("valid");
        assert_eq!(config.env_file, PathBuf::from("/runner/env"));
        for resource in [
            "https://management.usgovcloudapi.net/",
            "https://management.core.usgovcloudapi.net/",
            "https://vault.usgovcloudapi.net",
            "api://my-api",
        ] {
            assert!(config.allow.allows(resource), "{resource}");
        }
        assert!(!config.allow.allows("https://management.azure.com/"));
        // Without --scope, the exchange's default scope (ARM) adds nothing; --env-file wins.
        let config = ServeConfig::new(
            exchange(None),
            &[],
            false,
            Some(PathBuf::from("/elsewhere")),
            "[::1]:0",
            &github_env,
        )
        .expect("valid");
        assert_eq!(config.env_file, PathBuf::from("/elsewhere"));
        assert_eq!(config.allow.resources().len(), 2);
    }

    #[test]
    fn listens_on_loopback_only() {
        assert_eq!(
            parse_listen("127.0.0.1:0").expect("loopback"),
            "127.0.0.1:0".parse::<SocketAddr>().expect("addr")
        );
        assert!(parse_listen("127.0.0.53:8080").is_ok());
        assert!(parse_listen("[::1]:0").is_ok());
        for refused in [
            "0.0.0.0:0",
            "[::]:0",
            "10.0.0.1:80",
            "localhost:0",
            "127.0.0.1",
        ] {
            let error = parse_listen(refused).expect_err(refused);
            assert!(error.to_string().contains("listen"), "{error}");
        }
    }
}
