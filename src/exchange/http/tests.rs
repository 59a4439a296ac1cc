//! Unit tests of `http`.
use reqwest::header::HeaderValue;

use super::*;

#[test]
fn parses_retry_after_seconds_and_dates() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
    assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
    let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
    headers.insert(RETRY_AFTER, HeaderValue::from_str(&later).expect("header"));
    assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
    headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
    assert_eq!(retry_after(&headers, now), None);
}

#[test]
fn backoff_grows_with_jitter_and_caps() {
    let first = backoff(1);
    assert!(
        first >= Duration::from_millis(160) && first <= Duration::from_millis(240),
        "{first:?}"
    );
    let third = backoff(3);
    assert!(
        third >= Duration::from_millis(640) && third <= Duration::from_millis(960),
        "{third:?}"
    );
    assert!(backoff(30) <= Duration::from_secs(12));
}

#[test]
fn excerpt_is_one_short_line() {
    assert_eq!(excerpt(b""), "");
    assert_eq!(
        excerpt(b"bad\r\ngateway\n::error::x"),
        ": bad gateway ::error::x"
    );
    assert_eq!(excerpt(&[b'x'; 500]).len(), 162);
}

#[test]
fn retryable_statuses() {
    for code in [408, 429, 500, 502, 503, 504] {
        assert!(retryable_status(
            StatusCode::from_u16(code).expect("status")
        ));
    }
    for code in [400, 401, 403, 404, 501] {
        assert!(!retryable_status(
            StatusCode::from_u16(code).expect("status")
        ));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn retry_stops_at_the_attempt_cap() {
    let deadline = Deadline::after(Duration::from_secs(600));
    let mut waits = 0;
    tokio::time::pause();
    let result: Result<(), GaveUp<&str>> = retry(
        &deadline,
        |_| async {
            Attempt::Retry {
                error: "503",
                retry_after: None,
            }
        },
        |_, _, _| waits += 1,
    )
    .await;
    let gave_up = result.expect_err("gives up");
    assert_eq!(gave_up.attempts, MAX_ATTEMPTS);
    assert_eq!(waits, MAX_ATTEMPTS - 1);
}

#[tokio::test(flavor = "current_thread")]
async fn retry_after_beyond_the_budget_fails_at_once() {
    let deadline = Deadline::after(Duration::from_secs(5));
    let result: Result<(), GaveUp<&str>> = retry(
        &deadline,
        |_| async {
            Attempt::Retry {
                error: "429",
                retry_after: Some(Duration::from_secs(60)),
            }
        },
        |_, _, _| {},
    )
    .await;
    let gave_up = result.expect_err("gives up");
    assert_eq!(gave_up.attempts, 1);
    assert_eq!(
        gave_up.retry_after_beyond_budget,
        Some(Duration::from_secs(60))
    );
}

/// Resets, then the budget runs out on the last attempt: the final error is the timeout, and what
/// the attempts before it saw is kept, whichever comes last.
#[tokio::test(flavor = "current_thread")]
async fn giving_up_keeps_what_the_earlier_attempts_saw() {
    tokio::time::pause();
    let deadline = Deadline::after(Duration::from_secs(600));
    let result: Result<(), GaveUp<&str>> = retry(
        &deadline,
        |number| async move {
            match number {
                1..=4 => Attempt::Retry {
                    error: "connection failed (connection reset by peer)",
                    retry_after: None,
                },
                _ => Attempt::Done(Err("no answer within the 3-second budget")),
            }
        },
        |_, _, _| {},
    )
    .await;
    let gave_up = result.expect_err("gives up");
    assert_eq!(gave_up.attempts, 5);
    assert_eq!(gave_up.error, "no answer within the 3-second budget");
    assert_eq!(
        gave_up.earlier.as_deref(),
        Some("connection failed (connection reset by peer)")
    );
    // The same failure every time: nothing more to say.
    let result: Result<(), GaveUp<&str>> = retry(
        &deadline,
        |_| async {
            Attempt::Retry {
                error: "reset",
                retry_after: None,
            }
        },
        |_, _, _| {},
    )
    .await;
    assert_eq!(result.expect_err("gives up").earlier, None);
}

#[test]
fn a_redirect_host_is_server_text_too() {
    let mut headers = HeaderMap::new();
    let long = format!("https://{}.example/x?secret=1", "a".repeat(5_000));
    headers.insert(
        LOCATION,
        reqwest::header::HeaderValue::from_str(&long).expect("header"),
    );
    let host = location_host(&headers);
    assert!(
        host.chars().count() <= SERVER_TEXT_LIMIT + 1,
        "{}",
        host.len()
    );
    assert!(!host.contains("secret"));
}
