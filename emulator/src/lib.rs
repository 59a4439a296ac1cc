//! A local HTTPS emulator of the two servers `azure-oidc-token` talks to: the GitHub Actions OIDC
//! ID-token endpoint (with its discovery document and JWKS) and the Microsoft Entra ID v2.0 token
//! endpoint, answering by their real rules and error bodies, with scriptable faults. It also doubles
//! the services later steps and the audit call: ARM (`arm`, `services`), Key Vault, Microsoft Graph,
//! and for `federated-credential audit` the Graph/ARM credential lists ([`Directory`]) and GitHub's
//! REST API ([`GitHubApi`]).
//!
//! Both servers share one HTTPS listener on `127.0.0.1` (ephemeral port) whose certificate is issued by a
//! CA generated at start-up ([`Emulator::ca_pem`]). `GET /_emulator/stats` on the same listener answers
//! `{"<hop>": {"requests": n, "ok": n}, ...}` (see [`Hop::name`]), for processes outside the test
//! (the benchmark) to check that each client really completed the exchange; it is not counted. The emulator runs on its own thread with its own
//! tokio runtime, so it works the same from sync tests, async tests and spawned processes.
//!
//! Why a small hand-written HTTP/1.1 server over `tokio-rustls` instead of hyper: the faults need
//! control of the raw byte stream (drop the connection without a response, announce a body and cut
//! it short, drip bytes, hang), which a full HTTP stack deliberately hides; the requests themselves
//! are tiny and `Content-Length`-framed, so the wire layer is a page of code.
//!
//! ```no_run
//! use azure_oidc_emulator::{Config, Emulator, Fault, Hop};
//! let emulator = Emulator::start(Config::default())?;
//! emulator.script(Hop::Entra, vec![Fault::status_retry_after(429, "1")]);
//! // point ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN, AZURE_AUTHORITY_HOST and SSL_CERT_FILE at it ...
//! # Ok::<(), std::io::Error>(())
//! ```

mod arm;
mod backup_vault;
mod clock;
mod directory;
mod entra;
mod faults;
mod files;
mod github;
mod github_api;
mod http;
mod jwt;
mod server;
mod services;
mod state;
mod tls;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Map, Value};

pub use directory::{Directory, StoredCredential};
pub use entra::entra_error_body;
pub use faults::{Fault, SCRIPTED_CORRELATION_ID, SCRIPTED_TRACE_ID};
pub use files::{FileServer, Serve, sha256_hex};
pub use github_api::{GitHubApi, GitHubRepository};
pub use services::Services;

use state::State;

/// A federated identity credential's `issuer` written as this placeholder is replaced by the
/// emulator's issuer URL at start (the URL contains the port, known only after binding).
/// Any occurrence inside a longer string is replaced too (e.g. `"{issuer}/"` for a trailing-slash test).
pub const ISSUER_PLACEHOLDER: &str = "{issuer}";

/// The audience Entra expects in the public cloud.
const DEFAULT_FIC_AUDIENCE: &str = "api://AzureADTokenExchange";
const DEFAULT_SUBJECT: &str = "repo:octo-org/octo-repo:ref:refs/heads/main";

/// How the emulator behaves; start from [`Config::default`] and change what a test needs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The tenant GUID; default `00000000-0000-4000-8000-0000000000aa`.
    pub tenant_id: String,
    /// Verified domains, accepted in the token URL like the GUID; default `["contoso.onmicrosoft.com"]`.
    pub tenant_domains: Vec<String>,
    /// App registrations / managed identities of the tenant; default one [`App::default`].
    pub apps: Vec<App>,
    /// `sub` of issued ID tokens; default `repo:octo-org/octo-repo:ref:refs/heads/main`.
    pub subject: String,
    /// Appended to the issuer origin, e.g. `/octo-inc` for a GHEC enterprise slug; default empty.
    pub issuer_path: String,
    /// Merged over the claims of issued ID tokens; a `null` value removes that claim.
    pub extra_claims: Map<String, Value>,
    /// `exp - iat` of issued ID tokens; default 300 s. `nbf` is `iat - 300`, like GitHub's.
    pub id_token_lifetime: Duration,
    /// Added to `iat`/`nbf`/`exp` of issued ID tokens to simulate clock skew; default 0.
    pub id_token_clock_offset_secs: i64,
    /// `expires_in` (and `ext_expires_in`) of issued access tokens; default 4479.
    pub access_token_lifetime_secs: u64,
    /// Extra DNS names on the server certificate (it always covers `localhost`, `127.0.0.1` and `::1`).
    pub host_names: Vec<String>,
    /// Where to listen; default `127.0.0.1:0`.
    pub bind: SocketAddr,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            tenant_id: "00000000-0000-4000-8000-0000000000aa".to_owned(),
            tenant_domains: vec!["contoso.onmicrosoft.com".to_owned()],
            apps: vec![App::default()],
            subject: DEFAULT_SUBJECT.to_owned(),
            issuer_path: String::new(),
            extra_claims: Map::new(),
            id_token_lifetime: Duration::from_secs(300),
            id_token_clock_offset_secs: 0,
            access_token_lifetime_secs: 4479,
            host_names: Vec::new(),
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
        }
    }
}

/// An app registration (or user-assigned managed identity) in the emulated tenant.
#[derive(Clone, Debug)]
pub struct App {
    /// Application (client) ID, sent as `client_id`.
    pub client_id: String,
    /// Object ID of the service principal: the `oid` of issued access tokens.
    pub object_id: String,
    /// Display name, quoted in some AADSTS messages.
    pub display_name: String,
    /// Its federated identity credentials (none → AADSTS70025).
    pub federated_credentials: Vec<FederatedCredential>,
    /// Simulates a credential that is still propagating: every exchange fails with AADSTS70021.
    pub propagating: bool,
}

impl Default for App {
    fn default() -> App {
        App {
            client_id: "11111111-2222-4333-8444-555555555555".to_owned(),
            object_id: "99999999-8888-4777-8666-555555555555".to_owned(),
            display_name: "octo-deployer".to_owned(),
            federated_credentials: vec![FederatedCredential {
                name: "github-main".to_owned(),
                issuer: ISSUER_PLACEHOLDER.to_owned(),
                subject: DEFAULT_SUBJECT.to_owned(),
                audiences: vec![DEFAULT_FIC_AUDIENCE.to_owned()],
            }],
            propagating: false,
        }
    }
}

/// A federated identity credential: matched exactly and case-sensitively against the assertion.
#[derive(Clone, Debug)]
pub struct FederatedCredential {
    /// Its name (informational).
    pub name: String,
    /// Must equal the assertion's `iss`; [`ISSUER_PLACEHOLDER`] is replaced by the emulator's issuer.
    pub issuer: String,
    /// Must equal the assertion's `sub`.
    pub subject: String,
    /// One of these must be in the assertion's `aud`.
    pub audiences: Vec<String>,
}

/// How the Azure Resource Manager double answers Azure Backup calls (Recovery Services vaults, Backup
/// vaults, the staging storage account and managed disks, under `/subscriptions/…` on the emulator's
/// listener); set with [`Emulator::set_backup`].
#[derive(Clone, Debug)]
pub struct Backup {
    /// The vault's region (`location`); default `swedencentral`.
    pub location: String,
    /// The protected VM's ARM ID (`sourceResourceId` of every protected item).
    pub source_vm: String,
    /// Recovery points of every protected item: `(name, recoveryPointTime)`.
    pub recovery_points: Vec<(String, String)>,
    /// Storage accounts a restore may stage to (readable with `GET`).
    pub storage_accounts: Vec<StorageAccount>,
    /// How many polls of an `Azure-AsyncOperation` URL answer `InProgress` before `Succeeded`; default 1.
    pub operation_polls_in_progress: u32,
    /// How many polls of a started job answer `InProgress` before [`job_outcome`](Self::job_outcome); default 2.
    pub job_polls_in_progress: u32,
    /// The final `properties.status` of every job: `Completed` (default), `CompletedWithWarnings`,
    /// `Failed` or `Cancelled`. The async operation says `Succeeded` whatever this is, as ARM does.
    pub job_outcome: String,
    /// Backup and restore triggers answer 403 `AuthorizationFailed`.
    pub forbid_triggers: bool,
    /// The first this-many polls (async-operation or job GETs) answer 429 with `Retry-After: 1`.
    pub throttle_polls: u32,
    /// How a trigger's async operation ends: `Succeeded` (default), `Failed` or `Canceled` (with
    /// `error`, and no job to follow).
    pub operation_outcome: String,
    /// How a Backup vault's `validateRestore` operation ends; empty (default): as
    /// [`operation_outcome`](Self::operation_outcome).
    pub validate_outcome: String,
    /// Recovery points per page of a list; the rest through `nextLink`. Default 2.
    pub recovery_points_page_size: usize,
    /// Disks in each VM recovery point (`numberOfDisksIncludedInBackup`); default 2.
    pub disks_in_backup: u32,
    /// Disks a completed restore creates; default `None`: all of the recovery point's (VM), one (disk).
    pub restored_disks: Option<u32>,
    /// The `provisioningState` of restored disks; default `Succeeded`.
    pub restored_disk_state: String,
    /// ARM IDs of managed disks that exist before anything runs.
    pub existing_disks: Vec<String>,
    /// Disks per page of a disk list; default 1 (every list of two or more disks is paged).
    pub disks_page_size: usize,
    /// A trigger starts its job but answers 502, as when the answer is lost: resending it meets 409.
    pub trigger_answers_502: bool,
    /// The first this-many triggers (job-starting POSTs) answer 429 with `Retry-After: 1` and start
    /// nothing.
    pub throttle_triggers: u32,
    /// The most polls one operation or job answers; after that, 400 `DoublePollLimit`. Default 10.
    pub poll_limit: u32,
    /// Every ARM answer waits this long first (a slow ARM); default none.
    pub delay: std::time::Duration,
    /// The managed disk a Backup vault's backup instance protects.
    pub source_disk: String,
}

impl Default for Backup {
    fn default() -> Backup {
        Backup {
            location: "swedencentral".to_owned(),
            source_vm: "/subscriptions/00000000-0000-4000-8000-0000000000bb/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-app".to_owned(),
            recovery_points: vec![
                ("71833495366412".to_owned(), "2026-11-28T22:05:11.4630000Z".to_owned()),
                ("71897210437791".to_owned(), "2026-11-29T22:04:52.1050000Z".to_owned()),
                ("71750001111222".to_owned(), "2026-11-27T22:06:03.9800000Z".to_owned()),
            ],
            storage_accounts: vec![StorageAccount {
                name: "strestoredrill".to_owned(),
                location: "swedencentral".to_owned(),
                sku: "Standard_LRS".to_owned(),
            }],
            operation_polls_in_progress: 1,
            job_polls_in_progress: 2,
            job_outcome: "Completed".to_owned(),
            forbid_triggers: false,
            throttle_polls: 0,
            operation_outcome: "Succeeded".to_owned(),
            validate_outcome: String::new(),
            recovery_points_page_size: 2,
            disks_in_backup: 2,
            restored_disks: None,
            restored_disk_state: "Succeeded".to_owned(),
            existing_disks: Vec::new(),
            disks_page_size: 1,
            trigger_answers_502: false,
            throttle_triggers: 0,
            poll_limit: 10,
            delay: std::time::Duration::ZERO,
            source_disk: "/subscriptions/00000000-0000-4000-8000-0000000000bb/resourceGroups/rg-app/providers/Microsoft.Compute/disks/disk-data".to_owned(),
        }
    }
}

/// A storage account known to the ARM double.
#[derive(Clone, Debug)]
pub struct StorageAccount {
    /// Its name (the last segment of its ARM ID).
    pub name: String,
    /// Its region.
    pub location: String,
    /// Its SKU, e.g. `Standard_LRS`, `Standard_ZRS`.
    pub sku: String,
}

/// Which emulated endpoint a request hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hop {
    /// The Actions ID-token endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`).
    GitHub,
    /// Entra's `/{tenant}/oauth2/v2.0/token`.
    Entra,
    /// The issuer's `/.well-known/openid-configuration` and `/.well-known/jwks`.
    Discovery,
    /// Entra's tenant discovery document, `/{tenant}/v2.0/.well-known/openid-configuration`
    /// (fetched by MSAL-based SDKs before the token request).
    TenantDiscovery,
}

impl Hop {
    /// Every hop, in the order of the stats document.
    pub const ALL: [Hop; 4] = [
        Hop::GitHub,
        Hop::Entra,
        Hop::Discovery,
        Hop::TenantDiscovery,
    ];

    /// The hop's key in the stats document (`GET /_emulator/stats`).
    pub fn name(self) -> &'static str {
        match self {
            Hop::GitHub => "github",
            Hop::Entra => "entra",
            Hop::Discovery => "discovery",
            Hop::TenantDiscovery => "tenant_discovery",
        }
    }
}

/// A request as the emulator received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The raw (percent-encoded) path.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// All headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body, as UTF-8 (lossy).
    pub body: String,
}

impl Recorded {
    /// The first header named `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first form field or query parameter `name` of a form body (percent-decoded).
    pub fn form_field(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.body.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// A running emulator. Dropping it stops the server and closes every connection (hanging ones too).
pub struct Emulator {
    state: Arc<State>,
    ca_pem: String,
    port: u16,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.state.base_url)
            .field("issuer", &self.state.issuer)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Generates the CA and certificate, binds the listener and starts serving; returns once
    /// connections are accepted. The first start in a process also generates the RSA signing key.
    pub fn start(config: Config) -> std::io::Result<Emulator> {
        let keys = jwt::keys()?;
        let std_listener = std::net::TcpListener::bind(config.bind)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let tls = tls::generate(&config.host_names, addr.ip())?;
        let host = match addr.ip() {
            ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let base_url = format!("https://{host}:{}", addr.port());
        let state = Arc::new(State::new(config, base_url, keys));

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener)?
        };
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel();
        let server_state = Arc::clone(&state);
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config);
        let thread = std::thread::Builder::new()
            .name(format!("azure-oidc-emulator-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(server::run(listener, acceptor, server_state, shutdown_rx));
                // Dropping the runtime here cancels every connection task still running.
            })?;
        Ok(Emulator {
            state,
            ca_pem: tls.ca_pem,
            port: addr.port(),
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// PEM of the CA that issued the server certificate (write it to a file for `SSL_CERT_FILE`).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    /// The ID-token issuer: [`base_url`](Self::base_url) + `issuer_path`.
    pub fn issuer(&self) -> String {
        self.state.issuer.clone()
    }

    /// The Entra authority host (the token endpoint is `<authority>/<tenant>/oauth2/v2.0/token`).
    pub fn authority_host(&self) -> String {
        self.state.base_url.clone()
    }

    /// The value for `ACTIONS_ID_TOKEN_REQUEST_URL` (it already carries `?api-version=2.0`).
    pub fn request_url(&self) -> String {
        format!(
            "{}{}?api-version=2.0",
            self.state.base_url, self.state.request_path
        )
    }

    /// The value for `ACTIONS_ID_TOKEN_REQUEST_TOKEN`: the bearer the request URL demands.
    pub fn request_token(&self) -> String {
        self.state.request_token.clone()
    }

    /// The tenant GUID.
    pub fn tenant_id(&self) -> String {
        self.state.tenant_id.clone()
    }

    /// The first app's client ID (empty if the config has no apps).
    pub fn client_id(&self) -> String {
        self.state
            .apps
            .first()
            .map(|a| a.client_id.clone())
            .unwrap_or_default()
    }

    /// Queues faults for the next requests on `hop`, one per request in order; afterwards the hop behaves normally.
    pub fn script(&self, hop: Hop, faults: Vec<Fault>) {
        self.state.hop(hop).faults.extend(faults);
    }

    /// How many requests reached `hop` (faulted ones included).
    pub fn requests(&self, hop: Hop) -> usize {
        self.state.hop(hop).recorded.len()
    }

    /// How many requests on `hop` the real handler answered with `200` (scripted faults excluded):
    /// the count of completed exchanges a benchmark checks.
    pub fn successes(&self, hop: Hop) -> usize {
        self.state.hop(hop).successes
    }

    /// Every request that reached `hop`, in order.
    pub fn recorded(&self, hop: Hop) -> Vec<Recorded> {
        self.state.hop(hop).recorded.clone()
    }

    /// Every ID token the GitHub endpoint handed out, in order.
    pub fn issued_id_tokens(&self) -> Vec<String> {
        self.state.issued_id_tokens()
    }

    /// Every access token the Entra endpoint handed out, in order.
    pub fn issued_access_tokens(&self) -> Vec<String> {
        self.state.issued_access_tokens()
    }

    /// An ID token signed like the issuer's, for `audience`, with `overrides` merged over its claims
    /// (a `null` value removes the claim). Not recorded as issued by the GitHub endpoint, but
    /// recorded as a secret: see [`secrets`](Self::secrets).
    pub fn mint_id_token(&self, audience: &str, overrides: Map<String, Value>) -> String {
        let token = github::mint(&self.state, audience, &overrides);
        self.state.add_minted(&token);
        token
    }

    /// Records `secret` (a token a test built itself) so that [`secrets`](Self::secrets) lists it.
    pub fn add_secret(&self, secret: &str) {
        self.state.add_secret(secret);
    }

    /// Every secret that exists in a test using this emulator: the request token, every ID token
    /// handed out or minted, every access token, and every secret a test added.
    pub fn secrets(&self) -> Vec<String> {
        let mut all = vec![self.request_token()];
        all.extend(self.issued_id_tokens());
        all.extend(self.state.minted());
        all.extend(self.state.extra_secrets());
        all.extend(self.issued_access_tokens());
        all
    }

    /// Every ID token minted by [`mint_id_token`](Self::mint_id_token), in order.
    pub fn minted_tokens(&self) -> Vec<String> {
        self.state.minted()
    }

    /// Every successful exchange: the assertion presented and the access token handed out for it.
    pub fn exchanges(&self) -> Vec<(String, String)> {
        self.state.exchanges()
    }

    /// The access token handed out for `assertion`, if one was.
    pub fn access_token_for(&self, assertion: &str) -> Option<String> {
        self.state
            .exchanges()
            .into_iter()
            .find(|(a, _)| a == assertion)
            .map(|(_, token)| token)
    }

    /// Sets how the Azure Resource Manager double answers Azure Backup calls; until called, it
    /// answers as [`Backup::default`]. Its ARM endpoint is [`base_url`](Self::base_url).
    pub fn set_backup(&self, backup: Backup) {
        arm::configure(&self.state.arm, backup);
    }

    /// Every request the ARM double received, in order.
    pub fn arm_requests(&self) -> Vec<Recorded> {
        arm::recorded(&self.state.arm)
    }

    /// The ARM IDs of the managed disks the ARM double holds now (restored ones included).
    pub fn disks(&self) -> Vec<String> {
        arm::disks(&self.state.arm)
    }

    /// Sets how the doubles of the other services the cookbook calls answer (ARM resource-group and
    /// vault lists, Key Vault secrets, Microsoft Graph service principals); until called, they
    /// answer as [`Services::default`]. Their endpoint is [`base_url`](Self::base_url).
    pub fn set_services(&self, services: Services) {
        services::configure(&self.state.services, services);
    }

    /// Every request those doubles received, in order.
    pub fn service_requests(&self) -> Vec<Recorded> {
        services::recorded(&self.state.services)
    }

    /// Changes the `sub` of ID tokens issued from now on.
    pub fn set_subject(&self, subject: &str) {
        self.state.set_subject(subject);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // The receiver is gone only if the server already stopped.
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic on the server thread has already been reported by the panic hook.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests;
