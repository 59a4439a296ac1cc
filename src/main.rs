//! The `azure-oidc-token` binary: with no arguments it runs the action (as `action.yml` starts it);
//! commands serve local and non-GitHub use (see `--help`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    azure_oidc_token::cli::main_with(
        args,
        &|name| match std::env::var(name) {
            Ok(value) => Ok(Some(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(azure_oidc_token::cli::NotUnicode),
        },
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}
