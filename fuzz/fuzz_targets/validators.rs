//! The input validators against reference predicates written from DESIGN.md's grammar
//! (`tests/support/grammar.rs`): they accept exactly the documented values, and never panic.
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/support/grammar.rs"]
mod grammar;

use azure_oidc_token::action::inputs::check_env_name;
use azure_oidc_token::exchange::settings::{
    is_domain_name, is_guid, parse_authority_host, parse_scope, quote,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|value: &str| {
    assert_eq!(is_guid(value), grammar::guid(value), "{value:?}");
    assert_eq!(is_domain_name(value), grammar::domain(value), "{value:?}");
    assert_eq!(check_env_name(value).is_ok(), grammar::env_name(value), "{value:?}");
    match parse_scope(value) {
        Ok(scope) => {
            assert!(scope.ends_with("/.default") && grammar::scope_chars(&scope));
        }
        Err(_) => assert!(!grammar::scope_chars(value), "{value:?}"),
    }
    if let Ok(url) = parse_authority_host(value) {
        assert_eq!(url.scheme(), "https");
        assert!(url.host_str().is_some_and(|h| !h.is_empty()));
        assert_eq!(url.path(), "/");
        assert!(url.query().is_none() && url.fragment().is_none());
        assert!(url.username().is_empty() && url.password().is_none());
        // Accepted only if the input had no path, query, fragment or user info of its own: a
        // parser that dropped them silently (and so called another endpoint) fails here.
        let trimmed = value.trim();
        assert!(trimmed.to_ascii_lowercase().starts_with("https://"), "{value:?}");
        let rest = &trimmed["https://".len()..];
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        assert!(!rest.contains(['/', '?', '#', '@', '\\']), "{value:?} accepted as {url}");
    }
    let quoted = quote(value);
    assert!(!quoted.contains(['\n', '\r']));
});
