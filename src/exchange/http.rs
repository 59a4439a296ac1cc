//! The HTTP client: HTTPS only, no redirects, capped bodies, a whole-run deadline, and retries.
//!
//! One `reqwest` client (rustls, system trust roots honouring `SSL_CERT_FILE`/`SSL_CERT_DIR`, the
//! proxy read and checked by [`crate::config::Network`]) serves both hops. Retry policy: connection
//! errors, timeouts, 408/429/500/502/503/504; exponential backoff with jitter from about 200 ms;
//! `Retry-After` honoured; never past the deadline. Each attempt is cut after a third of the budget
//! (at most 15 s), so one stalled connection is retried instead of spending the whole budget. A
//! proxy that refuses the tunnel and an untrusted certificate are configuration errors: not retried.

use std::error::Error as _;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use zeroize::Zeroizing;

/// Bodies larger than this are refused: no legitimate answer comes near it.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// At most this many attempts per hop, whatever the budget.
pub const MAX_ATTEMPTS: u32 = 10;

const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest one attempt may take, whatever the budget.
const MAX_ATTEMPT_TIME: Duration = Duration::from_secs(15);

/// The end of the whole run's time budget.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    at: Instant,
    budget: Duration,
}

impl Deadline {
    /// A deadline `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self {
            at: Instant::now() + budget,
            budget,
        }
    }

    /// Time left, zero once passed.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// The whole budget, for messages.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// How long one attempt may take: a third of the budget, at most 15 s.
    pub fn attempt_limit(&self) -> Duration {
        (self.budget / 3).min(MAX_ATTEMPT_TIME)
    }
}

/// A response read to the end (within [`BODY_LIMIT`]).
#[derive(Debug)]
pub struct Response {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body: it may hold a token, so it is zeroed on drop (and so is every smaller buffer it
    /// outgrew while being read).
    pub body: Zeroizing<Vec<u8>>,
}

/// A request that got no usable HTTP response.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Raise `timeout-seconds`, or check the endpoint's health and any proxy in between.
    #[error("no answer within the {}-second budget (timeout-seconds)", .0.as_secs())]
    Timeout(Duration),
    /// One attempt got no answer in time and was abandoned; retried while the budget lasts.
    #[error(
        "no answer within {:.1} s, the limit of one attempt (a third of the {}-second budget, timeout-seconds, and at most 15 s)",
        .limit.as_secs_f64(),
        .budget.as_secs()
    )]
    AttemptTimeout {
        /// The per-attempt limit that ran out.
        limit: Duration,
        /// The whole budget.
        budget: Duration,
    },
    /// The proxy would not open a tunnel (407, 403, refused, …): fix HTTPS_PROXY/ALL_PROXY or add the host to NO_PROXY.
    #[error("the proxy did not open a tunnel ({0})")]
    Proxy(String),
    /// The server's certificate is not trusted: on runners behind TLS inspection, point SSL_CERT_FILE at the proxy's CA bundle.
    #[error("TLS certificate not trusted ({0})")]
    Certificate(String),
    /// Network trouble; retried automatically while the budget lasts.
    #[error("connection failed ({0})")]
    Transport(String),
    /// The endpoint sent more than any real answer; check the URL.
    #[error("response body exceeds {} bytes", BODY_LIMIT)]
    BodyTooLarge,
    /// A bug in building the request.
    #[error("request could not be built ({0})")]
    Build(String),
}

impl HttpError {
    fn retryable(&self) -> bool {
        matches!(self, Self::Transport(_) | Self::AttemptTimeout { .. })
    }

    /// Whether the request ran out of time (the whole budget or one attempt's share of it).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_) | Self::AttemptTimeout { .. })
    }
}

/// Builds the one client used for both hops, with the proxy `network` names (if any).
pub fn client(
    user_agent: &str,
    network: &crate::exchange::network::Network,
) -> Result<reqwest::Client, HttpError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(user_agent)
        .redirect(reqwest::redirect::Policy::none())
        .https_only(true)
        .connect_timeout(CONNECT_TIMEOUT)
        // The proxy variables were read and checked once, with the rest of the configuration:
        // reqwest's own reading would ignore a malformed value and not bypass IPs for `NO_PROXY=*`.
        .no_proxy();
    if let Some(proxy) = &network.proxy {
        let proxy = reqwest::Proxy::https(proxy.url.as_str())
            .map_err(|e| HttpError::Build(describe(&e)))?
            .no_proxy(
                network
                    .no_proxy
                    .as_deref()
                    .and_then(reqwest::NoProxy::from_string),
            );
        builder = builder.proxy(proxy);
    }
    builder.build().map_err(|e| HttpError::Build(describe(&e)))
}

/// Sends one request and reads the body, within the attempt's share of the deadline and [`BODY_LIMIT`].
pub async fn send(request: RequestBuilder, deadline: &Deadline) -> Result<Response, HttpError> {
    let remaining = deadline.remaining();
    if remaining.is_zero() {
        return Err(HttpError::Timeout(deadline.budget()));
    }
    let limit = deadline.attempt_limit().min(remaining);
    let ran_out = || {
        if limit >= remaining {
            HttpError::Timeout(deadline.budget())
        } else {
            HttpError::AttemptTimeout {
                limit,
                budget: deadline.budget(),
            }
        }
    };
    let classify = |error: &reqwest::Error| {
        if error.is_timeout() {
            ran_out()
        } else {
            classify(error)
        }
    };
    let exchange = async {
        let mut response = request
            .timeout(limit)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        if response
            .content_length()
            .is_some_and(|len| len > BODY_LIMIT as u64)
        {
            return Err(HttpError::BodyTooLarge);
        }
        let announced = response.content_length().unwrap_or(0);
        let mut body = Zeroizing::new(Vec::with_capacity(
            usize::try_from(announced)
                .unwrap_or(BODY_LIMIT)
                .min(BODY_LIMIT),
        ));
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e))? {
            let needed = body.len() + chunk.len();
            if needed > BODY_LIMIT {
                return Err(HttpError::BodyTooLarge);
            }
            if needed > body.capacity() {
                // Grow by hand: a reallocation would free the old buffer without zeroing it.
                let mut bigger = Zeroizing::new(Vec::with_capacity(
                    needed.max(2 * body.capacity()).min(BODY_LIMIT),
                ));
                bigger.extend_from_slice(&body);
                body = bigger;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    };
    tokio::time::timeout(limit, exchange)
        .await
        .unwrap_or_else(|_| Err(ran_out()))
}

fn classify(error: &reqwest::Error) -> HttpError {
    let text = describe(error);
    if error.is_builder() {
        HttpError::Build(text)
    } else if text.contains("tunnel error") {
        // Every proxied HTTPS request goes through a CONNECT tunnel: its failures (407, 403,
        // a refused proxy port) are the proxy's, and retrying will not change its mind.
        HttpError::Proxy(text)
    } else if text.contains("certificate") || text.contains("UnknownIssuer") {
        HttpError::Certificate(text)
    } else {
        HttpError::Transport(text)
    }
}

/// The error and its causes, without the URL (which may carry a query).
fn describe(error: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p: &String| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        parts.push(if error.is_timeout() {
            "timed out".to_owned()
        } else {
            "request failed".to_owned()
        });
    }
    parts.join(": ")
}

/// The host of a `Location` header, never its path or query; server text, so through
/// [`server_text`] (a host name can be as long as the header).
pub fn location_host(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| reqwest::Url::parse(value).ok())
        .and_then(|url| url.host_str().map(server_text))
        .unwrap_or_else(|| "another location".to_owned())
}

/// The most characters of server text quoted in one log line.
pub const SERVER_TEXT_LIMIT: usize = 300;

/// Server text made fit for a log line; every piece of a server's answer (any field, any hop, retry
/// lines and hints included) goes through here before it reaches a message. Runs of whitespace become
/// one space (one line), every other control character is dropped (NUL, ESC and with it terminal
/// escape and OSC sequences, C1 controls, bidirectional overrides), and the text is cut to
/// [`SERVER_TEXT_LIMIT`] characters, with `…` where it was cut. Workflow-command neutralisation is
/// the log's job ([`crate::action::workflow::neutralize`]): this only bounds and cleans.
pub fn server_text(text: &str) -> String {
    let mut cleaned = String::new();
    let mut kept = 0;
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            pending_space = kept > 0;
            continue;
        }
        if c.is_control() || is_bidi_control(c) {
            continue;
        }
        if kept == SERVER_TEXT_LIMIT {
            cleaned.push('…');
            return cleaned;
        }
        if pending_space {
            cleaned.push(' ');
            pending_space = false;
        }
        cleaned.push(c);
        kept += 1;
    }
    cleaned
}

/// Characters that reorder how a terminal shows the text around them (Trojan Source, CVE-2021-42574).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A short excerpt of an error body for a message: [`server_text`], at most 160 characters,
/// prefixed by `: `.
pub fn excerpt(body: &[u8]) -> String {
    let line: String = server_text(&String::from_utf8_lossy(body))
        .chars()
        .take(160)
        .collect();
    if line.is_empty() {
        String::new()
    } else {
        format!(": {line}")
    }
}

/// Whether an HTTP status is worth another attempt.
pub fn retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// Parses `Retry-After` as delay-seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// What one attempt came to.
#[derive(Debug)]
pub enum Attempt<T, E> {
    /// Finished, successfully or not, with nothing to gain from another try.
    Done(Result<T, E>),
    /// Failed in a way another try may fix, after at least `retry_after` if the server said so.
    Retry {
        /// The failure, reported if no try is left.
        error: E,
        /// The server's `Retry-After`.
        retry_after: Option<Duration>,
    },
}

impl<T> Attempt<T, HttpError> {
    /// Classifies a transport-level result: transport failures retry, the rest are final.
    pub fn from_transport(error: HttpError) -> Self {
        if error.retryable() {
            Self::Retry {
                error,
                retry_after: None,
            }
        } else {
            Self::Done(Err(error))
        }
    }
}

/// Why the retries stopped without success.
#[derive(Debug)]
pub struct GaveUp<E> {
    /// The last failure.
    pub error: E,
    /// Attempts made.
    pub attempts: u32,
    /// The server asked to wait longer than the budget left.
    pub retry_after_beyond_budget: Option<Duration>,
    /// What the attempts before the last one failed with, when the last one failed otherwise
    /// (typically: connections reset, then the budget ran out): the message keeps what they saw
    /// whichever of the two comes last.
    pub earlier: Option<String>,
}

/// Runs `attempt` until it is done, the attempts are used up or the deadline would pass.
///
/// `on_retry(error, attempt_number, wait)` is told before each wait, for the log.
pub async fn retry<T, E, F, Fut>(
    deadline: &Deadline,
    mut attempt: F,
    mut on_retry: impl FnMut(&E, u32, Duration),
) -> Result<T, GaveUp<E>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Attempt<T, E>>,
    E: std::fmt::Display,
{
    let mut number = 1;
    // The failure of the previous attempt, as text, for the final message.
    let mut previous: Option<String> = None;
    let earlier =
        |previous: Option<String>, last: &E| previous.filter(|text| *text != last.to_string());
    loop {
        match attempt(number).await {
            Attempt::Done(Ok(value)) => return Ok(value),
            Attempt::Done(Err(error)) => {
                return Err(GaveUp {
                    earlier: earlier(previous, &error),
                    error,
                    attempts: number,
                    retry_after_beyond_budget: None,
                });
            }
            Attempt::Retry { error, retry_after } => {
                let wait = backoff(number).max(retry_after.unwrap_or(Duration::ZERO));
                let remaining = deadline.remaining();
                if number >= MAX_ATTEMPTS || wait >= remaining {
                    return Err(GaveUp {
                        earlier: earlier(previous, &error),
                        error,
                        attempts: number,
                        retry_after_beyond_budget: retry_after.filter(|after| *after >= remaining),
                    });
                }
                on_retry(&error, number, wait);
                previous = Some(error.to_string());
                tokio::time::sleep(wait).await;
                number += 1;
            }
        }
    }
}

/// Exponential backoff with ±20 % jitter: about 200 ms, 400 ms, 800 ms … capped at 10 s.
pub fn backoff(attempt: u32) -> Duration {
    let base = FIRST_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let random = (uuid::Uuid::new_v4().as_u128() % 401) as u32; // 0..=400 → factor 0.8..=1.2
    base.mul_f64(f64::from(800 + random) / 1000.0)
}

#[cfg(test)]
mod tests;
