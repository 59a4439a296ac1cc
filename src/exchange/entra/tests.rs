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
