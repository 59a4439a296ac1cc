//! Runs an emulator until stdin closes, printing the environment a client needs as `export` lines,
//! for trying the action (or curl) by hand: `cargo run -p azure-oidc-emulator --example serve`.

use std::io::{Read as _, Write as _};

use azure_oidc_emulator::{Config, Emulator};

fn main() -> std::io::Result<()> {
    let emulator = Emulator::start(Config::default())?;
    let ca = std::env::temp_dir().join(format!("azure-oidc-emulator-{}.pem", emulator.port()));
    std::fs::write(&ca, emulator.ca_pem())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "export SSL_CERT_FILE='{}'", ca.display())?;
    writeln!(
        out,
        "export ACTIONS_ID_TOKEN_REQUEST_URL='{}'",
        emulator.request_url()
    )?;
    writeln!(
        out,
        "export ACTIONS_ID_TOKEN_REQUEST_TOKEN='{}'",
        emulator.request_token()
    )?;
    writeln!(
        out,
        "export AZURE_AUTHORITY_HOST='{}'",
        emulator.authority_host()
    )?;
    writeln!(out, "export AZURE_TENANT_ID='{}'", emulator.tenant_id())?;
    writeln!(out, "export AZURE_CLIENT_ID='{}'", emulator.client_id())?;
    // The ARM double for the Backup cookbook's scripts (examples/workflows/scripts).
    writeln!(out, "export ARM_ENDPOINT='{}'", emulator.base_url())?;
    // Per-hop request and success counts (JSON), e.g. for the benchmark's completion check.
    writeln!(
        out,
        "export AZURE_OIDC_EMULATOR_STATS_URL='{}/_emulator/stats'",
        emulator.base_url()
    )?;
    writeln!(out, "# serving until stdin closes (Ctrl-D)")?;
    out.flush()?;
    drop(out);
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    std::fs::remove_file(&ca)
}
