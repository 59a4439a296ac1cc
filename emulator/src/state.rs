//! State shared by the public handle and the server: the resolved configuration, the per-hop fault
//! queues and request logs, and the tokens handed out.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::{Map, Value};

use crate::arm::ArmState;
use crate::faults::Fault;
use crate::jwt::Keys;
use crate::services::ServicesState;
use crate::{App, Config, Hop, ISSUER_PLACEHOLDER, Recorded};

/// Locks a mutex, ignoring poisoning (a panicked test must not wedge the server).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One hop's scripted faults and request log.
#[derive(Default)]
pub(crate) struct HopLog {
    pub(crate) faults: VecDeque<Fault>,
    pub(crate) recorded: Vec<Recorded>,
    /// Requests the real handler answered with `200`.
    pub(crate) successes: usize,
}

/// Everything the handlers need, immutable apart from the mutex-guarded parts.
pub(crate) struct State {
    pub(crate) base_url: String,
    pub(crate) issuer: String,
    pub(crate) issuer_path: String,
    pub(crate) request_path: String,
    pub(crate) request_token: String,
    pub(crate) tenant_id: String,
    pub(crate) tenant_domains: Vec<String>,
    /// Apps with [`ISSUER_PLACEHOLDER`] already replaced.
    pub(crate) apps: Vec<App>,
    pub(crate) extra_claims: Map<String, Value>,
    pub(crate) id_token_lifetime_secs: i64,
    pub(crate) id_token_clock_offset_secs: i64,
    pub(crate) access_token_lifetime_secs: u64,
    pub(crate) keys: &'static Keys,
    /// The Azure Resource Manager double's configuration, operations and jobs.
    pub(crate) arm: Mutex<ArmState>,
    /// The doubles of the other services the cookbook calls (ARM reads, Key Vault, Graph).
    pub(crate) services: Mutex<ServicesState>,
    /// The audit's doubles (Graph/ARM credential lists, GitHub REST) and their request log.
    pub(crate) doubles: Mutex<crate::directory::DoublesState>,
    subject: Mutex<String>,
    hops: [Mutex<HopLog>; 4],
    issued_id: Mutex<Vec<String>>,
    issued_access: Mutex<Vec<String>>,
    /// `(client_assertion, access token)` of every exchange that succeeded, in order.
    exchanges: Mutex<Vec<(String, String)>>,
    /// ID tokens minted for tests (`Emulator::mint_id_token`).
    minted: Mutex<Vec<String>>,
    extra_secrets: Mutex<Vec<String>>,
}

impl State {
    pub(crate) fn new(config: Config, base_url: String, keys: &'static Keys) -> State {
        let issuer = format!("{base_url}{}", config.issuer_path);
        let apps = config
            .apps
            .into_iter()
            .map(|mut app| {
                for fic in &mut app.federated_credentials {
                    fic.issuer = fic.issuer.replace(ISSUER_PLACEHOLDER, &issuer);
                }
                app
            })
            .collect();
        let guid = || uuid::Uuid::new_v4().hyphenated().to_string();
        State {
            request_path: format!(
                "/_apis/distributedtask/hubs/Actions/plans/{}/jobs/{}/idtoken",
                guid(),
                guid()
            ),
            request_token: format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ),
            issuer_path: config.issuer_path,
            base_url,
            issuer,
            tenant_id: config.tenant_id,
            tenant_domains: config.tenant_domains,
            apps,
            extra_claims: config.extra_claims,
            id_token_lifetime_secs: i64::try_from(config.id_token_lifetime.as_secs())
                .unwrap_or(i64::MAX / 2),
            id_token_clock_offset_secs: config.id_token_clock_offset_secs,
            access_token_lifetime_secs: config.access_token_lifetime_secs,
            keys,
            arm: Mutex::default(),
            services: Mutex::default(),
            doubles: Mutex::default(),
            subject: Mutex::new(config.subject),
            hops: Default::default(),
            issued_id: Mutex::default(),
            issued_access: Mutex::default(),
            exchanges: Mutex::default(),
            minted: Mutex::default(),
            extra_secrets: Mutex::default(),
        }
    }

    /// The log and fault queue of `hop`, locked.
    pub(crate) fn hop(&self, hop: Hop) -> MutexGuard<'_, HopLog> {
        let index = match hop {
            Hop::GitHub => 0,
            Hop::Entra => 1,
            Hop::Discovery => 2,
            Hop::TenantDiscovery => 3,
        };
        lock(&self.hops[index])
    }

    /// Records a request on `hop` and takes the next scripted fault, atomically.
    pub(crate) fn arrive(&self, hop: Hop, recorded: Recorded) -> Option<Fault> {
        let mut log = self.hop(hop);
        log.recorded.push(recorded);
        log.faults.pop_front()
    }

    /// Counts a `200` from the real handler of `hop`.
    pub(crate) fn succeeded(&self, hop: Hop) {
        self.hop(hop).successes += 1;
    }

    /// The stats document of `GET /_emulator/stats`.
    pub(crate) fn stats(&self) -> Value {
        let hops = Hop::ALL.iter().map(|&hop| {
            let log = self.hop(hop);
            let counts = serde_json::json!({ "requests": log.recorded.len(), "ok": log.successes });
            (hop.name().to_owned(), counts)
        });
        Value::Object(hops.collect())
    }

    pub(crate) fn subject(&self) -> String {
        lock(&self.subject).clone()
    }

    pub(crate) fn set_subject(&self, subject: &str) {
        *lock(&self.subject) = subject.to_owned();
    }

    pub(crate) fn add_issued_id_token(&self, token: &str) {
        lock(&self.issued_id).push(token.to_owned());
    }

    pub(crate) fn add_issued_access_token(&self, token: &str, assertion: &str) {
        lock(&self.issued_access).push(token.to_owned());
        lock(&self.exchanges).push((assertion.to_owned(), token.to_owned()));
    }

    pub(crate) fn exchanges(&self) -> Vec<(String, String)> {
        lock(&self.exchanges).clone()
    }

    pub(crate) fn add_minted(&self, token: &str) {
        lock(&self.minted).push(token.to_owned());
    }

    pub(crate) fn add_secret(&self, secret: &str) {
        lock(&self.extra_secrets).push(secret.to_owned());
    }

    pub(crate) fn extra_secrets(&self) -> Vec<String> {
        lock(&self.extra_secrets).clone()
    }

    pub(crate) fn minted(&self) -> Vec<String> {
        lock(&self.minted).clone()
    }

    pub(crate) fn issued_id_tokens(&self) -> Vec<String> {
        lock(&self.issued_id).clone()
    }

    pub(crate) fn issued_access_tokens(&self) -> Vec<String> {
        lock(&self.issued_access).clone()
    }
}
