//! The GitHub ID-token response parser and the error-body excerpt. No panic; a token is never
//! blank; an excerpt is one short line without control characters (it goes into messages).
#![no_main]

use azure_oidc_token::exchange::http::excerpt;
use azure_oidc_token::exchange::source::github::parse_token_response;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = parse_token_response(data) {
        assert!(!token.expose_secret().trim().is_empty());
    }
    let line = excerpt(data);
    assert!(line.chars().count() <= 162, "{line:?}");
    assert!(!line.chars().any(char::is_control), "{line:?}");
});
