//! The `azure-oidc-token` binary: with no arguments it runs the action (as `action.yml` starts it).

use std::io::Write;
use std::process::ExitCode;

const HELP: &str = "\
azure-oidc-token: exchange the GitHub Actions OIDC token for a short-lived Azure access token.

Usage:
  azure-oidc-token            run as a GitHub Action step (inputs from INPUT_* variables)
  azure-oidc-token --version  print the version
  azure-oidc-token --help     print this help

Inputs, outputs and errors: see README.md.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut stdout = std::io::stdout().lock();
    match args.first().map(String::as_str) {
        None => azure_oidc_token::app::run_action(&|name| std::env::var(name).ok(), &mut stdout),
        Some("--version" | "-V") => {
            let _ = writeln!(stdout, "azure-oidc-token {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("--help" | "-h") => {
            let _ = stdout.write_all(HELP.as_bytes());
            ExitCode::SUCCESS
        }
        Some(other) => {
            let _ = writeln!(
                std::io::stderr(),
                "azure-oidc-token: unknown argument {other:?}; see --help"
            );
            ExitCode::from(2)
        }
    }
}
