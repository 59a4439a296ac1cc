//! The network settings of a run, read once from the environment and checked before any request:
//! the HTTPS proxy (`HTTPS_PROXY`/`ALL_PROXY`, `NO_PROXY`) and the CA settings (`SSL_CERT_FILE`,
//! `SSL_CERT_DIR`) that rustls reads itself.

use std::path::Path;
use std::time::Duration;

use reqwest::Url;

use super::http::Deadline;
use super::invalid::{ConfigError, quote};
use super::source::file::read_bounded;

/// The most one CA bundle (`SSL_CERT_FILE`, or a file in `SSL_CERT_DIR`) may hold: a full public
/// bundle is about 220 KiB.
pub const CA_FILE_LIMIT: usize = 1024 * 1024;

/// The HTTPS proxy of a run, read once from the environment and checked before any request.
#[derive(Debug, Default)]
pub struct Network {
    /// The proxy for HTTPS requests, if one is set.
    pub proxy: Option<ProxySetting>,
    /// `NO_PROXY`/`no_proxy`, unless it is `*` (then there is no proxy at all).
    pub no_proxy: Option<String>,
}

/// A proxy URL and the variable that set it.
pub struct ProxySetting {
    /// `HTTPS_PROXY`, `https_proxy`, `ALL_PROXY` or `all_proxy`.
    pub variable: &'static str,
    /// The proxy, `http://` or `https://`; it may carry credentials, so it is never printed whole.
    pub url: Url,
}

impl std::fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxySetting")
            .field("variable", &self.variable)
            .field("host", &self.host())
            .finish_non_exhaustive()
    }
}

impl ProxySetting {
    /// `host:port` of the proxy, for messages (never its credentials).
    pub fn host(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }
}

impl Network {
    /// Reads `HTTPS_PROXY`/`https_proxy`/`ALL_PROXY`/`all_proxy` (first set wins, as reqwest and
    /// curl read them for HTTPS), `NO_PROXY`/`no_proxy`, and checks `SSL_CERT_FILE`/`SSL_CERT_DIR`
    /// within `budget` (timeout-seconds).
    pub fn from_lookup(
        get: &dyn Fn(&str) -> Option<String>,
        budget: Duration,
    ) -> Result<Self, ConfigError> {
        check_trust_settings(get, &Deadline::after(budget))?;
        let no_proxy = ["NO_PROXY", "no_proxy"].into_iter().find_map(get);
        if no_proxy.as_deref().is_some_and(|list| list.trim() == "*") {
            // `*` bypasses every host, IP literals included (reqwest's matcher skips IPs for `*`).
            return Ok(Self::default());
        }
        let proxy = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
            .into_iter()
            .find_map(|variable| get(variable).map(|value| (variable, value)))
            .map(|(variable, value)| parse_proxy(variable, &value))
            .transpose()?;
        Ok(Self { proxy, no_proxy })
    }
}

/// Parses a proxy variable's value: `http://` or `https://` (a bare `host:port` means `http://`).
pub fn parse_proxy(variable: &'static str, value: &str) -> Result<ProxySetting, ConfigError> {
    let with_scheme = if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    // The value may hold a password: messages never quote it.
    let url = Url::parse(&with_scheme).map_err(|error| ConfigError::Runner {
        variable,
        problem: format!(
            "is not a valid proxy URL ({error}): use http://HOST:PORT (or http://USER:PASSWORD@HOST:PORT), or unset it"
        ),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::Runner {
            variable,
            problem: format!(
                "uses the {}:// scheme, which this action does not support: use an http:// or https:// proxy, or list the hosts in NO_PROXY",
                url.scheme()
            ),
        });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::Runner {
            variable,
            problem: "names no proxy host: use http://HOST:PORT, or unset it".to_owned(),
        });
    }
    Ok(ProxySetting { variable, url })
}

/// `SSL_CERT_FILE` must be a readable file of PEM certificates and each `SSL_CERT_DIR` entry a
/// readable directory: otherwise every TLS handshake would fail later with a less helpful error.
/// Each file is read as token files are: at most [`CA_FILE_LIMIT`], within the budget, so that
/// `/dev/zero` or a FIFO is refused here, before rustls' own reading of the same files.
fn check_trust_settings(
    get: &dyn Fn(&str) -> Option<String>,
    deadline: &Deadline,
) -> Result<(), ConfigError> {
    if let Some(file) = get("SSL_CERT_FILE") {
        let problem = match read_ca_file(Path::new(&file), deadline) {
            Err(problem) => Some(problem),
            Ok(bytes)
                if !bytes
                    .windows(27)
                    .any(|w| w == b"-----BEGIN CERTIFICATE-----") =>
            {
                Some("holds no PEM certificate".to_owned())
            }
            Ok(_) => None,
        };
        if let Some(problem) = problem {
            return Err(ConfigError::Runner {
                variable: "SSL_CERT_FILE",
                problem: format!(
                    "is {}, which {problem}: point it at a PEM bundle of CA certificates (e.g. your TLS-inspecting proxy's CA), or unset it to use the system's",
                    quote(&file)
                ),
            });
        }
    }
    if let Some(dirs) = get("SSL_CERT_DIR") {
        for dir in std::env::split_paths(&dirs).filter(|d| !d.as_os_str().is_empty()) {
            let invalid = |problem: String| ConfigError::Runner {
                variable: "SSL_CERT_DIR",
                problem: format!(
                    "names {}, {problem}: point it at directories of CA certificates, or unset it",
                    quote(&dir.display().to_string())
                ),
            };
            let entries = std::fs::read_dir(&dir).map_err(|error| {
                invalid(format!("which cannot be read as a directory ({error})"))
            })?;
            // The files rustls-native-certs will read: every regular file, symbolic links followed.
            for entry in entries.flatten() {
                let path = entry.path();
                if std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                    read_ca_file(&path, deadline).map_err(|problem| {
                        invalid(format!(
                            "whose file {} {problem}",
                            quote(&path.display().to_string())
                        ))
                    })?;
                }
            }
        }
    }
    Ok(())
}

/// A CA file's bytes, or what is wrong with it (for a message).
fn read_ca_file(path: &Path, deadline: &Deadline) -> Result<Vec<u8>, String> {
    match read_bounded(path, CA_FILE_LIMIT, deadline) {
        Err(error) => Err(format!("cannot be read ({error})")),
        Ok(bytes) if bytes.len() > CA_FILE_LIMIT => {
            Err("is larger than 1 MiB, more than any CA bundle".to_owned())
        }
        Ok(bytes) => Ok(bytes.to_vec()),
    }
}
