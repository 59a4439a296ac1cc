//! Properties of every parser and writer, on generated inputs (proptest).
//!
//! - The `GITHUB_OUTPUT`/`GITHUB_ENV` writer: what the runner's rules read back equals what was
//!   written, or the writer refuses, and it refuses exactly the documented cases.
//! - The workflow-command escaper: the runner's unescaping gives the original back, and no escaped
//!   text holds a raw line break, so nothing a server says can start a command of its own.
//! - The parsers of untrusted input (the GitHub token response, the JWT claims, Entra's answers,
//!   `Retry-After`, the inputs): no panic on any input (`panic = "abort"` in release makes a panic
//!   a crash), and round trips where there is something to round-trip.
//! - The input validators accept exactly the grammar `docs/design.md` documents, checked against
//!   independent reference predicates written here.
//!
//! Case counts are kept modest (256–1024) so the file runs in seconds; `cargo fuzz` (see `fuzz/`)
//! explores the same functions for longer.

use crate::support;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use azure_oidc_token::action::inputs::{ActionConfig, check_env_name};
use azure_oidc_token::action::workflow::{
    self, escape_data, escape_property, format_file_command, format_file_commands,
};
use azure_oidc_token::clock::rfc3339;
use azure_oidc_token::clock::unix_now;
use azure_oidc_token::exchange::claims::{Audience, decode_claims, decode_payload};
use azure_oidc_token::exchange::entra::{EntraError, ErrorBody, parse_response};
use azure_oidc_token::exchange::http::excerpt;
use azure_oidc_token::exchange::http::{Attempt, BODY_LIMIT, Deadline, retry_after};
use azure_oidc_token::exchange::settings::{
    is_domain_name, is_guid, parse_authority_host, parse_scope,
};
use azure_oidc_token::exchange::source::github::parse_token_response;
use azure_oidc_token::secret::Secret;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use serde_json::{Value, json};
use support::{grammar, parse_command, parse_file_commands, unescape_data, unescape_property};

// ---------------------------------------------------------------------------------------------
// Generators

/// Pieces that stress the file-command and workflow-command formats.
const TRICKY: &[&str] = &[
    "",
    "a",
    "Z_9",
    " ",
    "=",
    "==",
    "<",
    "<<",
    "<<EOF",
    "EOF",
    "\n",
    "\r",
    "\r\n",
    "%",
    "%25",
    "%0A",
    "%0D",
    "%3A",
    "%2C",
    ":",
    "::",
    ",",
    "::add-mask::",
    "::error::",
    "::stop-commands::",
    "ghadelimiter_",
    "ghadelimiter_00000000-0000-4000-8000-000000000000",
    "é",
    "naïve ✓",
    "\u{200b}",
    "\u{feff}",
    "😀",
    "\0",
    "\t",
];

/// Strings built mostly from [`TRICKY`] pieces, sometimes fully arbitrary.
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(TRICKY), 0..8).prop_map(|p| p.concat()),
        1 => any::<String>(),
        1 => "[A-Za-z_][A-Za-z0-9_-]{0,16}",
    ]
}

/// `cases` cases; a failure prints its minimal input (add it as a unit test) instead of writing a
/// regressions file into the source tree.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// The file-command writer

proptest! {
    #![proptest_config(config(1024))]

    /// What the runner reads back equals what was written, or the writer refuses, exactly in the
    /// documented cases.
    #[test]
    fn file_command_round_trips_or_refuses(name in tricky_string(), value in tricky_string()) {
        match format_file_command(&name, &value) {
            Ok(text) => {
                prop_assert!(!grammar::file_command_refused(&name, &value), "accepted {name:?} = {value:?}");
                prop_assert!(!text.contains('\r'));
                prop_assert!(text.ends_with('\n'));
                prop_assert_eq!(parse_file_commands(&text), Ok(vec![(name, value)]));
            }
            Err(_) => prop_assert!(grammar::file_command_refused(&name, &value), "refused {name:?} = {value:?}"),
        }
    }

    /// Several pairs appended after an earlier step's lines: all of them read back, in order, and
    /// the earlier lines are untouched.
    #[test]
    fn appended_pairs_read_back_after_earlier_lines(
        pairs in prop::collection::vec((tricky_string(), tricky_string()), 0..6),
        earlier in prop::sample::select(&["", "earlier=1\n", "x<<EOF\na\nEOF\n", "\n\n"][..]),
    ) {
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        match format_file_commands(refs.iter().copied()) {
            Ok(text) => {
                prop_assert!(!pairs.iter().any(|(n, v)| grammar::file_command_refused(n, v)));
                let file = format!("{earlier}{}", text.expose_secret());
                let mut expected = parse_file_commands(earlier).unwrap();
                expected.extend(pairs.iter().cloned());
                prop_assert_eq!(parse_file_commands(&file), Ok(expected));
            }
            Err(_) => prop_assert!(pairs.iter().any(|(n, v)| grammar::file_command_refused(n, v))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The workflow-command escaper

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn escaped_data_round_trips_and_is_one_line(value in tricky_string()) {
        let escaped = escape_data(&value);
        prop_assert!(!escaped.contains(['\r', '\n']));
        prop_assert_eq!(unescape_data(&escaped), value);
    }

    #[test]
    fn escaped_properties_round_trip_without_separators(value in tricky_string()) {
        let escaped = escape_property(&value);
        prop_assert!(!escaped.contains(['\r', '\n', ':', ',']));
        prop_assert_eq!(unescape_property(&escaped), value);
    }

    /// The one `::error` line: the runner reads exactly our title and message back, whatever the
    /// message (server text included) contains.
    #[test]
    fn error_line_reads_back_as_one_error_command(
        message in tricky_string(),
        title in "[A-Za-z0-9:,%=.-][A-Za-z0-9 :,%=.-]{0,20}[A-Za-z0-9:,%=.-]",
    ) {
        let mut out = Vec::new();
        workflow::error(&mut out, &title, &message).unwrap();
        let line = String::from_utf8(out).unwrap();
        prop_assert_eq!(line.matches('\n').count(), 1);
        prop_assert!(!line.contains('\r'));
        let command = parse_command(line.trim_end_matches('\n')).unwrap();
        prop_assert_eq!(command.name, "error");
        prop_assert_eq!(command.properties, vec![("title".to_owned(), title)]);
        prop_assert_eq!(command.data, message);
    }

    /// `::add-mask::` registers exactly the secret, on one line, whatever it contains.
    #[test]
    fn mask_line_registers_exactly_the_secret(secret in tricky_string()) {
        let mut out = Vec::new();
        workflow::add_mask(&mut out, &Secret::new(secret.clone())).unwrap();
        let line = String::from_utf8(out).unwrap();
        prop_assert_eq!(line.matches('\n').count(), 1);
        prop_assert!(!line.contains('\r'));
        let command = parse_command(line.trim_end_matches('\n')).unwrap();
        prop_assert_eq!(command.name, "add-mask");
        prop_assert_eq!(command.data, secret);
    }

    /// Text written inert sits between a random `::stop-commands::` token and its end marker,
    /// and none of it can end the fence early.
    #[test]
    fn inert_text_is_fenced(lines in prop::collection::vec(tricky_string(), 1..6)) {
        let mut out = Vec::new();
        workflow::write_inert(&mut out, &lines).unwrap();
        let text = String::from_utf8(out).unwrap();
        let written: Vec<&str> = text.lines().collect();
        let token = written[0].strip_prefix("::stop-commands::").unwrap();
        prop_assert!(token.len() > 6, "the runner masks only tokens longer than 6 characters");
        let end = format!("::{token}::");
        prop_assert_eq!(written.last().copied(), Some(end.as_str()));
        prop_assert!(!written[1..written.len() - 1].iter().any(|l| l.trim() == end));
    }
}

// ---------------------------------------------------------------------------------------------
// Parsers of what the servers send

fn jwt_with_payload(payload: &[u8]) -> String {
    format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
        URL_SAFE_NO_PAD.encode(payload)
    )
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn decode_claims_never_panics(token in any::<String>()) {
        let _ = decode_claims(&token);
    }

    #[test]
    fn decode_claims_never_panics_on_any_payload(payload in any::<Vec<u8>>()) {
        let _ = decode_claims(&jwt_with_payload(&payload));
    }

    #[test]
    fn claims_round_trip(
        iss in any::<String>(),
        sub in any::<String>(),
        aud in prop::collection::vec(any::<String>(), 0..3),
        exp in any::<i64>(),
        padded in any::<bool>(),
    ) {
        let audience = match aud.len() {
            0 => json!(null),
            1 => json!(aud[0]),
            _ => json!(aud),
        };
        let payload = json!({"iss": iss, "sub": sub, "aud": audience, "exp": exp, "other": [1, {"x": null}]});
        let mut token = jwt_with_payload(payload.to_string().as_bytes());
        if padded {
            token = token.replacen(".c2ln", "==.c2ln", 1);
        }
        let claims = decode_claims(&token).unwrap();
        prop_assert_eq!(claims.iss.as_deref(), Some(iss.as_str()));
        prop_assert_eq!(claims.sub.as_deref(), Some(sub.as_str()));
        prop_assert_eq!(claims.exp, Some(exp));
        let expected = match aud.len() {
            0 => Audience::None,
            1 => Audience::One(aud[0].clone()),
            _ => Audience::Many(aud.clone()),
        };
        prop_assert_eq!(claims.aud, expected);
    }

    /// Every claim, as `explain` lists them: the whole payload object comes back, key for key.
    #[test]
    fn payload_round_trips_every_claim(
        claims in prop::collection::btree_map("[a-z_]{1,12}", any::<String>(), 0..6),
        number in any::<i64>(),
    ) {
        let mut payload: serde_json::Map<String, Value> =
            claims.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        payload.insert("n".to_owned(), json!(number));
        let token = jwt_with_payload(Value::Object(payload.clone()).to_string().as_bytes());
        prop_assert_eq!(decode_payload(&token).unwrap(), payload);
        // Not a JWT, or a payload that is no object: an error, not an empty claim set.
        prop_assert!(decode_payload("a.b").is_err());
        prop_assert!(decode_payload(&jwt_with_payload(b"[1]")).is_err());
    }

    #[test]
    fn github_token_response_never_panics(body in any::<Vec<u8>>()) {
        let _ = parse_token_response(&body);
    }

    #[test]
    fn github_token_response_round_trips(value in any::<String>(), extra in any::<String>()) {
        let body = json!({"count": 1, "value": value, "extra": extra}).to_string();
        match parse_token_response(body.as_bytes()) {
            Ok(token) => prop_assert_eq!(token.expose_secret(), value.as_str()),
            Err(_) => prop_assert!(value.trim().is_empty()),
        }
    }

    #[test]
    fn excerpt_is_one_short_printable_line(body in any::<Vec<u8>>()) {
        let text = excerpt(&body);
        prop_assert!(text.chars().count() <= 162);
        prop_assert!(!text.chars().any(char::is_control));
    }

    /// Any status, `Retry-After` and body: a decision, never a panic, and the right kind of decision.
    #[test]
    fn entra_answers_are_classified_without_panicking(
        status in 100u16..=999,
        after in prop::option::of(any::<Vec<u8>>()),
        body in prop_oneof![any::<Vec<u8>>(), tricky_string().prop_map(String::into_bytes)],
        sent_at in any::<i64>(),
    ) {
        let status = StatusCode::from_u16(status).unwrap();
        let mut headers = HeaderMap::new();
        if let Some(value) = after.and_then(|a| HeaderValue::from_bytes(&a).ok()) {
            headers.insert(RETRY_AFTER, value);
        }
        let attempt = parse_response(status, &headers, &body, sent_at);
        // Whatever the error, it can be put into words (the message goes through escape_data).
        match &attempt {
            Attempt::Done(Ok(token)) => {
                prop_assert!(status.is_success());
                prop_assert!(!token.token.expose_secret().trim().is_empty());
            }
            Attempt::Done(Err(error)) | Attempt::Retry { error, .. } => {
                let _ = error.to_string();
                let _ = error.body().map(ErrorBody::codes);
            }
        }
        // The contract's rules, written out here rather than asked of the code under test: a 2xx
        // is final unless its body is empty (Entra has answered so under load: retried like a
        // 503); 3xx is a final redirect error; 408, 429, 500, 502, 503 and 504 are retried.
        let empty = body.iter().all(u8::is_ascii_whitespace);
        if status.is_success() && empty {
            prop_assert!(matches!(attempt, Attempt::Retry { error: EntraError::EmptySuccess, .. }), "{status}");
        } else if status.is_success() {
            prop_assert!(matches!(attempt, Attempt::Done(_)));
        } else if status.is_redirection() {
            prop_assert!(matches!(attempt, Attempt::Done(Err(EntraError::Redirect { .. }))), "{status}");
        } else if [408, 429, 500, 502, 503, 504].contains(&status.as_u16()) {
            prop_assert!(matches!(attempt, Attempt::Retry { .. }), "{status}");
        }
    }

    /// An error answer keeps its status; an Entra error body (an `error` or `error_codes`) is read
    /// as one and its codes named even without a description; any other JSON is not.
    #[test]
    fn entra_errors_keep_status_kind_and_codes(
        status in 400u16..=599,
        code in 1u64..=99_999_999,
        with_error in any::<bool>(),
        other_key in "[a-z]{1,8}",
    ) {
        let status_code = StatusCode::from_u16(status).unwrap();
        let error_of = |body: &Value| match parse_response(status_code, &HeaderMap::new(), body.to_string().as_bytes(), 0) {
            Attempt::Done(Err(error)) | Attempt::Retry { error, .. } => Ok(error),
            Attempt::Done(Ok(_)) => Err(TestCaseError::fail("an error status gave a token")),
        };
        let body = if with_error {
            json!({"error": "invalid_client", "error_codes": [code]})
        } else {
            json!({"error_codes": [code]})
        };
        let error = error_of(&body)?;
        prop_assert_eq!(error.status(), Some(status));
        prop_assert!(error.body().is_some(), "an Entra error body: {}", body);
        prop_assert!(error.to_string().contains(&format!("AADSTS{code}")), "{}", error);
        // JSON that is no Entra error body is shown as an excerpt, not taken for Entra's verdict.
        let error = error_of(&json!({ other_key: 1 }))?;
        prop_assert!(error.body().is_none(), "{}", error);
        prop_assert_eq!(error.status(), Some(status));
    }

    /// An `expires_in` that is missing, zero or negative is no lifetime: the token's own `exp`
    /// is used, and a token without one is refused (never a token that has already expired).
    #[test]
    fn entra_success_without_a_usable_expires_in_uses_the_token_exp(
        expires_in in prop_oneof![Just(None), Just(Some(0)), (-100_000i64..0).prop_map(Some)],
        exp in 1_700_000_000i64..=4_000_000_000,
        sent_at in 0i64..=4_000_000_000,
    ) {
        let jwt = jwt_with_payload(json!({"exp": exp, "oid": "x"}).to_string().as_bytes());
        let mut body = json!({"token_type": "Bearer", "access_token": jwt});
        if let Some(seconds) = expires_in {
            body["expires_in"] = json!(seconds);
        }
        let attempt = parse_response(StatusCode::OK, &HeaderMap::new(), body.to_string().as_bytes(), sent_at);
        let Attempt::Done(Ok(issued)) = attempt else {
            return Err(TestCaseError::fail("a token with an exp claim was refused"));
        };
        prop_assert_eq!(issued.expires_on, exp);
        body["access_token"] = json!("opaque-token");
        let attempt = parse_response(StatusCode::OK, &HeaderMap::new(), body.to_string().as_bytes(), sent_at);
        prop_assert!(matches!(attempt, Attempt::Done(Err(EntraError::Malformed(_)))));
    }

    #[test]
    fn entra_success_round_trips(
        token in "[A-Za-z0-9._~+/=-]{1,200}",
        expires_in in 1i64..=1_000_000,
        as_string in any::<bool>(),
        sent_at in 0i64..=4_000_000_000,
    ) {
        let expires = if as_string { json!(expires_in.to_string()) } else { json!(expires_in) };
        let body = json!({"token_type": "Bearer", "expires_in": expires, "ext_expires_in": 1, "access_token": token});
        let Attempt::Done(Ok(issued)) =
            parse_response(StatusCode::OK, &HeaderMap::new(), body.to_string().as_bytes(), sent_at)
        else {
            return Err(TestCaseError::fail("a well-formed success was refused"));
        };
        prop_assert_eq!(issued.token.expose_secret(), token.as_str());
        prop_assert_eq!(issued.expires_on, sent_at + expires_in);
    }

    #[test]
    fn entra_error_codes_round_trip(
        codes in prop::collection::vec(1u64..=99_999_999, 1..4),
        in_description in any::<bool>(),
        status in prop::sample::select(&[400u16, 401, 403, 404][..]),
    ) {
        let description: Vec<String> = codes.iter().map(|c| format!("AADSTS{c}: text.")).collect();
        let body = if in_description {
            json!({"error": "invalid_request", "error_description": description.join(" ")})
        } else {
            json!({"error": "invalid_client", "error_codes": codes, "error_description": "x\r\nTrace ID: t"})
        };
        let attempt = parse_response(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.to_string().as_bytes(),
            0,
        );
        let Attempt::Done(Err(error)) = attempt else {
            return Err(TestCaseError::fail("a configuration error must be final"));
        };
        prop_assert_eq!(error.body().unwrap().codes(), codes);
    }

    #[test]
    fn retry_after_never_panics(value in any::<Vec<u8>>(), now in any::<u32>()) {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            headers.insert(RETRY_AFTER, value);
        }
        let _ = retry_after(&headers, UNIX_EPOCH + Duration::from_secs(u64::from(now)));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates(seconds in any::<u64>(), ahead in 0u64..=86_400) {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&seconds.to_string()).unwrap());
        prop_assert_eq!(retry_after(&headers, SystemTime::now()), Some(Duration::from_secs(seconds)));
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let date = httpdate::fmt_http_date(now + Duration::from_secs(ahead));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        prop_assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(ahead)));
    }

    #[test]
    fn rfc3339_never_panics_and_agrees_with_http_dates(unix in any::<i64>(), sane in 0i64..=253_402_300_799) {
        let _ = rfc3339(unix);
        let text = rfc3339(sane);
        prop_assert_eq!(text.len(), 20);
        let http = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(sane.unsigned_abs()));
        // "Sun, 06 Nov 1994 08:49:37 GMT" against "1994-11-06T08:49:37Z"
        let parts: Vec<&str> = http.split(' ').collect();
        prop_assert_eq!(&text[8..10], parts[1]);
        prop_assert_eq!(&text[0..4], parts[3]);
        prop_assert_eq!(&text[11..19], parts[4]);
    }

    #[test]
    fn secret_debug_never_shows_the_value(value in "[A-Za-z0-9._-]{4,64}") {
        let secret = Secret::new(value.clone());
        let shown = format!("{secret:?} {:?} {:#?}", Some(&secret), vec![&secret]);
        prop_assert!(!shown.contains(&value), "{shown}");
    }
}

// ---------------------------------------------------------------------------------------------
// Input validators: exactly the documented grammar

fn guid_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
        "[0-9A-Fa-g-]{30,40}",
        "\\{?[0-9a-f]{8}-?[0-9a-f]{4}-[0-9a-f]{4}-?[0-9a-f]{4}-[0-9a-f]{12}\\}?",
        any::<String>(),
    ]
}

fn domain_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9-]{1,20}(\\.[A-Za-z0-9-]{1,20}){0,6}",
        "[A-Za-z0-9.-]{0,140}",
        "[A-Za-z0-9-]{60,70}\\.[A-Za-z0-9-]{60,70}",
        "[a-z.]{0,8}[ _@/:é\u{0}\n][a-z.]{0,8}",
        any::<String>(),
    ]
}

fn env_name_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z_][A-Za-z0-9_]{0,20}",
        "(GITHUB_|RUNNER_|github_|Runner_|NODE_OPTIONS|node_options)[A-Za-z0-9_]{0,5}",
        "(ACTIONS_|actions_|LD_|ld_|DYLD_|PATH|path|BASH_ENV|ENV|env|JAVA_TOOL_OPTIONS|PYTHONPATH|PythonStartup|PERL5OPT|RUBYOPT)[A-Za-z0-9_]{0,3}",
        "[A-Za-z0-9_ =.-]{0,12}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn guid_validator_accepts_exactly_8_4_4_4_12_hex(value in guid_like()) {
        prop_assert_eq!(is_guid(&value), grammar::guid(&value), "{:?}", value);
    }

    #[test]
    fn domain_validator_accepts_exactly_dotted_labels(value in domain_like()) {
        prop_assert_eq!(is_domain_name(&value), grammar::domain(&value), "{:?}", value);
    }

    #[test]
    fn env_name_validator_accepts_exactly_the_documented_names(value in env_name_like()) {
        prop_assert_eq!(check_env_name(&value).is_ok(), grammar::env_name(&value), "{:?}", value);
    }

    /// Accepted authority hosts are `https://host[:port]` and nothing more.
    #[test]
    fn authority_host_is_https_host_only(
        value in prop_oneof![
            "(https|HTTPS|http|ftp)://[a-z0-9.-]{1,20}(:[0-9]{1,5})?/?",
            "https://[a-z0-9.-]{1,10}[/?#@ ][a-z0-9=/]{0,8}",
            "https://\\[::1\\](:[0-9]{1,5})?",
            any::<String>(),
        ],
    ) {
        if let Ok(url) = parse_authority_host(&value) {
            prop_assert_eq!(url.scheme(), "https");
            prop_assert!(url.host_str().is_some_and(|h| !h.is_empty()));
            prop_assert_eq!(url.path(), "/");
            prop_assert!(url.query().is_none() && url.fragment().is_none());
            prop_assert!(url.username().is_empty() && url.password().is_none());
            prop_assert!(value.to_ascii_lowercase().starts_with("https://"));
            // Accepted only if the input itself had no path, query, fragment or user info: a
            // parser that silently dropped them (and so called another endpoint) must fail here.
            let rest = &value.trim()["https://".len()..];
            let rest = rest.strip_suffix('/').unwrap_or(rest);
            prop_assert!(!rest.contains(['/', '?', '#', '@', '\\']), "accepted {:?} as {}", value, url);
        }
    }

    /// A path, query or fragment after a well-formed host is refused, never dropped.
    #[test]
    fn authority_host_with_a_path_or_query_is_refused(
        host in "[a-z]([a-z0-9-]{0,10}[a-z0-9])?(\\.[a-z][a-z0-9]{0,9}){0,3}",
        port in prop::option::of(1u16..),
        tail in prop_oneof![
            "/[a-z0-9]{1,8}(/[a-z0-9]{0,8})?",
            "/?\\?[a-z]{1,5}=[a-z0-9]{0,5}",
            "/?#[a-z]{0,5}",
        ],
    ) {
        let value = format!(
            "https://{host}{}{tail}",
            port.map(|p| format!(":{p}")).unwrap_or_default()
        );
        let parsed = parse_authority_host(&value);
        prop_assert!(parsed.is_err(), "{:?} accepted as {:?}", value, parsed.map(|u| u.to_string()));
    }

    #[test]
    fn well_formed_authority_hosts_are_accepted(
        // Starting with a letter: the URL parser rightly reads all-numeric hosts as IPv4 (`0` is 0.0.0.0).
        host in "[a-z]([a-z0-9-]{0,10}[a-z0-9])?(\\.[a-z][a-z0-9]{0,9}){0,3}",
        port in prop::option::of(1u16..),
        slash in any::<bool>(),
    ) {
        // `xn--` labels are punycode, which the URL parser decodes and may rightly refuse.
        prop_assume!(!host.split('.').any(|label| label.starts_with("xn--")));
        let value = format!(
            "https://{host}{}{}",
            port.map(|p| format!(":{p}")).unwrap_or_default(),
            if slash { "/" } else { "" }
        );
        let url = parse_authority_host(&value).unwrap();
        prop_assert_eq!(url.host_str(), Some(host.as_str()));
    }

    #[test]
    fn scope_is_one_token_ending_in_default(value in any::<String>()) {
        match parse_scope(&value) {
            Ok(scope) => {
                prop_assert!(scope.ends_with("/.default"));
                prop_assert!(!scope.chars().any(|c| c.is_whitespace() || c.is_control()));
                prop_assert_eq!(parse_scope(&scope).unwrap(), scope);
            }
            Err(_) => prop_assert!(!grammar::scope_chars(&value)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The whole input set

const KEYS: &[(&str, &[&str])] = &[
    (
        "INPUT_CLIENT-ID",
        &["11111111-2222-4333-8444-555555555555", "my-app"],
    ),
    (
        "INPUT_TENANT-ID",
        &[
            "00000000-0000-4000-8000-0000000000aa",
            "contoso.onmicrosoft.com",
        ],
    ),
    ("AZURE_CLIENT_ID", &["aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"]),
    ("AZURE_TENANT_ID", &["contoso.onmicrosoft.com"]),
    (
        "INPUT_SUBSCRIPTION-ID",
        &["aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "prod"],
    ),
    (
        "INPUT_ENVIRONMENT",
        &["AzureCloud", "azureusgovernment", "AzureChinaCloud", "Mars"],
    ),
    ("INPUT_AUDIENCE", &["api://custom", "a b"]),
    (
        "INPUT_SCOPE",
        &[
            "https://vault.azure.net",
            "https://graph.microsoft.com/.default",
        ],
    ),
    (
        "INPUT_SCOPES",
        &[
            "graph=https://graph.microsoft.com\nvault=https://vault.azure.net",
            "x",
        ],
    ),
    (
        "INPUT_AUTHORITY-HOST",
        &["https://127.0.0.1:8443", "http://login.microsoftonline.com"],
    ),
    (
        "AZURE_AUTHORITY_HOST",
        &["https://login.microsoftonline.us/"],
    ),
    ("INPUT_EXPORT-ENV", &["ARM_ACCESS_TOKEN", "GITHUB_TOKEN"]),
    ("INPUT_EXPORT-SDK-ENV", &["true", "false"]),
    ("INPUT_EXPLAIN", &["false", "true"]),
    (
        "INPUT_TIMEOUT-SECONDS",
        &["60", "1", "600", "0", "601", "-1"],
    ),
    ("INPUT_SUMMARY", &["true", "FALSE", "maybe"]),
    (
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        &[
            "https://127.0.0.1:1/idtoken?api-version=2.0",
            "http://x/",
            "::",
        ],
    ),
    ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", &["request-token"]),
    ("GITHUB_OUTPUT", &["/tmp/out"]),
    ("GITHUB_ENV", &["/tmp/env"]),
    ("GITHUB_STEP_SUMMARY", &["/tmp/summary"]),
    ("RUNNER_DEBUG", &["1", "0"]),
];

/// An environment where each known variable is unset, one of its sample values, or arbitrary text.
fn environment() -> impl Strategy<Value = BTreeMap<String, String>> {
    let entries: Vec<_> = KEYS
        .iter()
        .map(|(key, samples)| {
            prop_oneof![
                2 => Just(None),
                4 => prop::sample::select(*samples).prop_map(|s| Some(s.to_owned())),
                1 => any::<String>().prop_map(Some),
                1 => prop::sample::select(*samples).prop_map(|s| Some(format!("  {s}\n"))),
            ]
            .prop_map(move |value| value.map(|v| ((*key).to_owned(), v)))
        })
        .collect();
    entries.prop_map(|entries| entries.into_iter().flatten().collect())
}

proptest! {
    #![proptest_config(config(512))]

    /// Any environment: a config or an error naming the problem, never a panic; an accepted config
    /// holds only validated values.
    #[test]
    fn config_from_any_environment_is_valid_or_refused(env in environment()) {
        let lookup = |name: &str| env.get(name).cloned();
        match ActionConfig::from_lookup(&lookup) {
            Ok(config) => {
                let exchange = &config.exchange;
                prop_assert!(is_guid(&exchange.client_id));
                prop_assert!(is_guid(&exchange.tenant_id) || is_domain_name(&exchange.tenant_id));
                prop_assert!((1..=600).contains(&exchange.source.timeout.as_secs()));
                prop_assert_eq!(exchange.authority_host.scheme(), "https");
                if let Some(name) = &config.export_env {
                    prop_assert!(grammar::env_name(name));
                }
            }
            Err(error) => {
                // The message names the input (or runner variable) it is about, one of this
                // environment's: `input `x`` / `--x` for an input, the variable's name otherwise.
                let message = error.to_string();
                let named: Vec<&str> = KEYS
                    .iter()
                    .map(|(key, _)| *key)
                    .filter(|key| {
                        message.contains(key)
                            || key.strip_prefix("INPUT_").is_some_and(|input| {
                                message.contains(&format!("`{}`", input.to_ascii_lowercase()))
                            })
                    })
                    .collect();
                prop_assert!(!named.is_empty(), "names no input: {}", message);
            }
        }
    }
}

/// The clock the expiry arithmetic reads is the system's, in Unix seconds.
#[test]
fn unix_now_is_the_system_clock() {
    let system = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((system - 5..=system + 5).contains(&unix_now()));
}

/// DESIGN.md: response bodies are capped at 1 MiB (the fault catalogue checks the behaviour; this
/// pins the figure for the fast tests that mutation testing runs).
#[test]
fn body_cap_is_one_mebibyte() {
    assert_eq!(BODY_LIMIT, 1_048_576);
}

proptest! {
    #![proptest_config(config(256))]

    /// DESIGN.md: each attempt may take at most a third of the budget and at most 15 s; the
    /// budget itself is kept for the messages, and the time left never exceeds it.
    #[test]
    fn one_attempt_gets_a_third_of_the_budget_at_most_15_s(millis in 1u64..=600_000) {
        let budget = Duration::from_millis(millis);
        let deadline = Deadline::after(budget);
        prop_assert_eq!(deadline.budget(), budget);
        prop_assert_eq!(deadline.attempt_limit(), (budget / 3).min(Duration::from_secs(15)));
        prop_assert!(deadline.remaining() <= budget);
    }
}

/// A timeout (of the whole budget or of one attempt) is reported as one; nothing else is.
#[test]
fn only_timeouts_are_timeouts() {
    use azure_oidc_token::exchange::http::HttpError;
    let budget = Duration::from_secs(9);
    assert!(HttpError::Timeout(budget).is_timeout());
    assert!(
        HttpError::AttemptTimeout {
            limit: Duration::from_secs(3),
            budget
        }
        .is_timeout()
    );
    for other in [
        HttpError::Transport("reset".to_owned()),
        HttpError::Proxy("407".to_owned()),
        HttpError::Certificate("unknown issuer".to_owned()),
        HttpError::BodyTooLarge,
        HttpError::Build("x".to_owned()),
    ] {
        assert!(!other.is_timeout(), "{other}");
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// The log writers write their line: `::debug::` and `::warning::` read back as that command
    /// with the message, a plain line as one line that is no command at all.
    #[test]
    fn log_writers_write_their_line(message in tricky_string()) {
        let mut out = Vec::new();
        workflow::debug(&mut out, &message).unwrap();
        workflow::warning(&mut out, &message).unwrap();
        workflow::plain(&mut out, &message).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        prop_assert_eq!(lines.len(), 3, "{:?}", text);
        let debug = support::parse_command(lines[0]).unwrap();
        prop_assert_eq!(debug.name.as_str(), "debug");
        prop_assert_eq!(&debug.data, &message);
        let warning = support::parse_command(lines[1]).unwrap();
        prop_assert_eq!(warning.name.as_str(), "warning");
        prop_assert_eq!(&warning.data, &message);
        prop_assert!(support::parse_command(lines[2]).is_none());
        // The plain line keeps the message's words (line breaks folded).
        let first_word = message.split_whitespace().find(|w| !w.contains("##[") && !w.starts_with(':'));
        if let Some(word) = first_word {
            prop_assert!(lines[2].contains(word), "{:?} lost {:?}", lines[2], word);
        }
    }
}
