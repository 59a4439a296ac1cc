//! The hand-off to clients: the `IDENTITY_HEADER` secret, and the lines appended to the env file
//! (`$GITHUB_ENV` by default) once the service listens, in the runner's file-command format. Inside
//! GitHub Actions the secret is masked (`::add-mask::` on stdout) before it is written anywhere.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use crate::action::workflow::{self, FileCommandError};
use crate::secret::Secret;

use super::protocol::PATH;

/// A fresh `IDENTITY_HEADER`: 256 random bits (two v4 UUIDs' worth of the OS's randomness), hex.
pub fn new_secret() -> Secret {
    Secret::new(format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    ))
}

/// `IDENTITY_ENDPOINT` for a listener at `address`: `http://127.0.0.1:PORT/msi/token`.
pub fn endpoint(address: SocketAddr) -> String {
    format!("http://{address}{PATH}")
}

/// The env-file text: `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`, what every tested client reads
/// (azure-identity, MSAL and the Azure CLI through MSAL pick the App Service source when both are set).
pub fn env_lines(endpoint: &str, secret: &Secret) -> Result<Secret, FileCommandError> {
    workflow::format_file_commands([
        ("IDENTITY_ENDPOINT", endpoint),
        ("IDENTITY_HEADER", secret.expose_secret()),
    ])
}

/// Masks the secret (when a runner reads `stdout`), then appends the env lines to `path` in one write.
pub fn hand_off(
    path: &Path,
    endpoint: &str,
    secret: &Secret,
    mask: bool,
    stdout: &mut impl Write,
) -> std::io::Result<()> {
    if mask {
        workflow::add_mask(stdout, secret)?;
    }
    let lines = env_lines(endpoint, secret).map_err(std::io::Error::other)?;
    workflow::append_all(path, &lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_and_fresh() {
        let (a, b) = (new_secret(), new_secret());
        assert_eq!(a.len(), 64);
        assert!(a.expose_secret().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn masks_before_writing_and_appends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("env");
        std::fs::write(&path, "EARLIER=1\n").expect("write");
        let secret = Secret::new("s3cr3t".to_owned());
        let mut stdout = Vec::new();
        hand_off(
            &path,
            "http://127.0.0.1:1/msi/token",
            &secret,
            true,
            &mut stdout,
        )
        .expect("ok");
        assert_eq!(String::from_utf8_lossy(&stdout), "::add-mask::s3cr3t\n");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.starts_with("EARLIER=1\nIDENTITY_ENDPOINT<<ghadelimiter_"),
            "{text}"
        );
        assert!(text.contains("\nhttp://127.0.0.1:1/msi/token\n"), "{text}");
        assert!(text.contains("IDENTITY_HEADER<<ghadelimiter_"), "{text}");
        assert!(text.contains("\ns3cr3t\n"), "{text}");
    }

    #[test]
    fn endpoint_brackets_ipv6() {
        let v6: SocketAddr = "[::1]:8080".parse().expect("addr");
        assert_eq!(endpoint(v6), "http://[::1]:8080/msi/token");
    }
}
