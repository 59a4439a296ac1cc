//! Unit tests of `entra`.
use reqwest::header::{HeaderValue, RETRY_AFTER};

use super::*;

const ERROR_700213: &str = r#"{"error":"invalid_client","error_description":"AADSTS700213: No matching federated identity record found for presented assertion subject 'repo:o/r:ref:refs/heads/dev'. Please note that matching is done using a case-sensitive comparison.\r\nTrace ID: 11111111-0000-0000-0000-000000000000\r\nCorrelation ID: 22222222-0000-0000-0000-000000000000\r\nTimestamp: 2026-11-23 09:41:07Z","error_codes":[700213],"timestamp":"2026-11-23 09:41:07Z","trace_id":"11111111-0000-0000-0000-000000000000","correlation_id":"22222222-0000-0000-0000-000000000000","error_uri":"https://login.microsoftonline.com/error?code=700213"}"#;

fn parse(status: u16, body: &str) -> Attempt<AccessToken, EntraError> {
    parse_response(
        StatusCode::from_u16(status).expect("status"),
        &HeaderMap::new(),
        body.as_bytes(),
        1_000,
    )
}

#[test]
fn endpoint_is_tenant_path_on_the_authority() {
    let authority = reqwest::Url::parse("https://login.microsoftonline.com/").expect("url");
    assert_eq!(
        token_endpoint(&authority, "contoso.onmicrosoft.com").as_str(),
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
}

#[test]
fn success_uses_expires_in_from_send_time() {
    let Attempt::Done(Ok(token)) = parse(
        200,
        r#"{"token_type":"Bearer","expires_in":4479,"access_token":"a.b.c"}"#,
    ) else {
        panic!("expected a token");
    };
    assert_eq!(token.expires_on, 5_479);
    assert_eq!(token.token.expose_secret(), "a.b.c");
    let Attempt::Done(Ok(token)) = parse(200, r#"{"expires_in":"3599","access_token":"x"}"#) else {
        panic!("expected a token");
    };
    assert_eq!(token.expires_on, 4_599);
}

#[test]
fn success_without_access_token_is_an_error() {
    assert!(matches!(
        parse(200, r#"{"expires_in":3599}"#),
        Attempt::Done(Err(EntraError::Malformed(_)))
    ));
    assert!(matches!(
        parse(200, r#"{"expires_in":3599,"access_token":""}"#),
        Attempt::Done(Err(EntraError::Malformed(_)))
    ));
    assert!(matches!(
        parse(200, "<html>"),
        Attempt::Done(Err(EntraError::Malformed(_)))
    ));
    assert!(matches!(
        parse(200, r#"{"access_token":"opaque"}"#),
        Attempt::Done(Err(EntraError::Malformed(_)))
    ));
}

#[test]
fn error_body_is_parsed_and_final() {
    let Attempt::Done(Err(error)) = parse(401, ERROR_700213) else {
        panic!("expected a final error");
    };
    let body = error.body().expect("body");
    assert_eq!(body.codes(), vec![700213]);
    assert_eq!(
        body.trace_id.as_deref(),
        Some("11111111-0000-0000-0000-000000000000")
    );
    let text = error.to_string();
    assert!(
        text.starts_with("HTTP 401 invalid_client: AADSTS700213: No matching"),
        "{text}"
    );
    assert!(!text.contains("Trace ID"), "{text}");
}

#[test]
fn an_empty_200_is_retried() {
    assert!(matches!(
        parse(200, ""),
        Attempt::Retry {
            error: EntraError::EmptySuccess,
            ..
        }
    ));
    assert!(matches!(
        parse(200, " \r\n"),
        Attempt::Retry {
            error: EntraError::EmptySuccess,
            ..
        }
    ));
}

#[test]
fn a_huge_description_is_cut_for_the_log() {
    let body = format!(
        r#"{{"error":"invalid_request","error_description":"AADSTS90002: {}","error_codes":[90002]}}"#,
        "x".repeat(900_000)
    );
    let Attempt::Done(Err(error)) = parse(400, &body) else {
        panic!("expected a final error");
    };
    let text = error.to_string();
    assert!(text.len() < 400, "{} characters", text.len());
    assert!(text.ends_with('…'), "{text}");
}

#[test]
fn codes_fall_back_to_the_description() {
    let body = ErrorBody {
        error_description: Some("AADSTS90002: Tenant 'x' not found.".to_owned()),
        ..ErrorBody::default()
    };
    assert_eq!(body.codes(), vec![90002]);
}

#[test]
fn throttling_and_server_errors_are_retried_with_retry_after() {
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
    let attempt = parse_response(
        StatusCode::TOO_MANY_REQUESTS,
        &headers,
        b"Too Many Requests",
        0,
    );
    let Attempt::Retry { error, retry_after } = attempt else {
        panic!("expected a retry");
    };
    assert_eq!(retry_after, Some(std::time::Duration::from_secs(3)));
    assert!(matches!(error, EntraError::NotJson { status: 429, .. }));
    assert!(matches!(parse(503, "{}"), Attempt::Retry { .. }));
    assert!(matches!(
        parse(
            400,
            r#"{"error":"temporarily_unavailable","error_codes":[90024]}"#
        ),
        Attempt::Retry { .. }
    ));
    assert!(matches!(
        parse(400, "nope"),
        Attempt::Done(Err(EntraError::NotJson { .. }))
    ));
}

#[test]
fn every_field_of_an_error_body_is_cut_and_cleaned() {
    let huge = "e".repeat(900_000);
    let body = serde_json::json!({
        "error": huge,
        "error_description": "AADSTS700213: bad \u{1b}]0;pwned\u{7}\u{1b}[31mred\u{0}\u{202e}txt\r\nTrace ID: x",
        "error_codes": (0..10_000).collect::<Vec<u64>>(),
        "trace_id": format!("\u{1b}[2J{}", "t".repeat(500_000)),
        "correlation_id": "c\u{0}\u{1b}]8;;http://x\u{7}d",
        "timestamp": "\u{9b}31m",
    })
    .to_string();
    let Attempt::Done(Err(error)) = parse(400, &body) else {
        panic!("expected a final error");
    };
    let shown = error.to_string();
    assert!(shown.chars().count() < 1_000, "{} characters", shown.len());
    let body = error.body().expect("an Entra body");
    for field in [
        &body.error,
        &body.trace_id,
        &body.correlation_id,
        &body.timestamp,
    ] {
        let field = field.as_deref().expect("kept");
        assert!(
            field.chars().count() <= SERVER_TEXT_LIMIT + 1,
            "{}",
            field.len()
        );
        assert!(!field.chars().any(char::is_control), "{field:?}");
    }
    assert_eq!(body.correlation_id.as_deref(), Some("c]8;;http://xd"));
    let summary = body.summary().expect("summary");
    assert_eq!(summary, "AADSTS700213: bad ]0;pwned[31mredtxt");
    // With no description, the codes are quoted: a few, not ten thousand.
    let mut no_description = body.clone();
    no_description.error_description = None;
    let error = EntraError::Rejected {
        status: 400,
        body: Box::new(no_description),
    };
    assert!(
        error.to_string().len() < 1_000,
        "{}",
        error.to_string().len()
    );
}

#[test]
fn server_text_folds_whitespace_and_cuts_with_an_ellipsis() {
    assert_eq!(server_text("  a\r\n\tb  "), "a b");
    assert_eq!(server_text("\u{0}\u{1b}"), "");
    let cut = server_text(&"é".repeat(SERVER_TEXT_LIMIT + 5));
    assert_eq!(cut.chars().count(), SERVER_TEXT_LIMIT + 1);
    assert!(cut.ends_with('…'));
    assert_eq!(
        server_text(&"x".repeat(SERVER_TEXT_LIMIT)).len(),
        SERVER_TEXT_LIMIT
    );
}
