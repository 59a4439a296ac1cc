//! Entra's answers: any status, `Retry-After` and body give a token, a final error or a retry,
//! never a panic; the statuses the contract names (408, 429, 500, 502, 503, 504) and an empty 2xx
//! always retry, any other 2xx is final; errors can be put into words.
//!
//! Input layout: 2 bytes status (100 + n % 900), 1 byte `Retry-After` length, that many bytes of
//! `Retry-After`, then the body.
#![no_main]

use std::time::{Duration, SystemTime};

use azure_oidc_token::exchange::entra::parse_response;
use azure_oidc_token::exchange::entra::EntraError;
use azure_oidc_token::exchange::http::{Attempt, retry_after};
use libfuzzer_sys::fuzz_target;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let [a, b, n, rest @ ..] = data else {
        return;
    };
    let code = 100 + u16::from_le_bytes([*a, *b]) % 900;
    let status = StatusCode::from_u16(code).expect("100..=999 is a valid status");
    let (after, body) = rest.split_at(usize::from(*n).min(rest.len()));
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(after) {
        headers.insert(RETRY_AFTER, value);
    }
    let _ = retry_after(&headers, SystemTime::UNIX_EPOCH + Duration::from_secs(NOW as u64));
    let attempt = parse_response(status, &headers, body, NOW);
    match &attempt {
        Attempt::Done(Ok(token)) => {
            assert!(status.is_success());
            assert!(!token.token.expose_secret().trim().is_empty());
        }
        Attempt::Done(Err(error)) | Attempt::Retry { error, .. } => {
            let _ = error.to_string();
            if let Some(body) = error.body() {
                let _ = body.codes();
                let _ = body.summary();
            }
        }
    }
    // The contract's values, not the code's own classifier.
    if [408, 429, 500, 502, 503, 504].contains(&code) {
        assert!(matches!(attempt, Attempt::Retry { .. }), "{code}");
    }
    if status.is_success() {
        let empty = body.iter().all(u8::is_ascii_whitespace);
        assert_eq!(
            matches!(attempt, Attempt::Retry { error: EntraError::EmptySuccess, .. }),
            empty,
            "{code}"
        );
        assert!(empty || matches!(attempt, Attempt::Done(_)), "{code}");
    }
});
