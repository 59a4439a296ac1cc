//! The flexible-credential expression parser and the wildcard matcher. No panic; what parses
//! prints back as the same text; a comparand without wildcards matches only itself.
#![no_main]

use azure_oidc_token::onboarding::expression::{has_wildcard, parse, wildcard_match};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(expression) = parse(text) {
        assert_eq!(expression.to_string(), text);
    }
    let (pattern, value) = text.split_once('\n').unwrap_or((text, ""));
    let matched = wildcard_match(pattern, value);
    if !has_wildcard(pattern) {
        assert_eq!(matched, pattern == value);
    }
    if pattern == value {
        assert!(matched);
    }
});
