//! Scripted faults: what a hop does instead of (or before) answering normally, down to the bytes on the wire.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use crate::Hop;
use crate::http::Response;

/// `trace_id` of the bodies [`Fault::entra_error`] scripts.
pub const SCRIPTED_TRACE_ID: &str = "0a0a0a0a-0000-4000-8000-000000000001";
/// `correlation_id` of the bodies [`Fault::entra_error`] scripts.
pub const SCRIPTED_CORRELATION_ID: &str = "0b0b0b0b-0000-4000-8000-000000000002";

/// Misbehaviour for one request, queued with [`Emulator::script`](crate::Emulator::script).
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer this instead of the real handler.
    Status {
        /// HTTP status code.
        status: u16,
        /// `Retry-After` header value, if any (seconds or an HTTP date).
        retry_after: Option<String>,
        /// Response body.
        body: String,
        /// `Content-Type` (omitted when empty).
        content_type: String,
    },
    /// Answer this instead of the real handler, with a body that need not be UTF-8 (e.g. Latin-1 or
    /// binary garbage from a proxy).
    Bytes {
        /// HTTP status code.
        status: u16,
        /// `Content-Type` (omitted when empty).
        content_type: String,
        /// Response body, sent as is.
        body: Vec<u8>,
    },
    /// Wait, then answer normally.
    Delay(Duration),
    /// Never answer; the connection stays open until the client gives up or the emulator is dropped.
    Hang,
    /// Close the TCP connection (with a RST) without any response.
    Reset,
    /// Send the status line and headers announcing a large body, part of the body, then close.
    ResetMidBody,
    /// The real answer, written `chunk` bytes at a time with a pause of `every` after each chunk.
    Drip {
        /// Bytes per write (0 is treated as 1).
        chunk: usize,
        /// Pause after each write.
        every: Duration,
    },
    /// `200` with a JSON-looking body of exactly this many bytes (`{"value":"aaa…"}` on the GitHub hop,
    /// `{"access_token":"aaa…"}` on the Entra hop, `{"keys":"aaa…"}` on discovery, `{"token_endpoint":"aaa…"}`
    /// on tenant discovery).
    Oversized(usize),
    /// Like [`Oversized`](Fault::Oversized), but without `Content-Length`: the body is sent with
    /// `Transfer-Encoding: chunked`, so a client can only cap it while reading, not from the header.
    OversizedChunked(usize),
    /// `200` `text/html` `<html>oops</html>`.
    NonJson,
    /// `302` with this `Location`.
    Redirect(String),
}

impl Fault {
    /// `status` with a small plain-text body and no `Retry-After`.
    pub fn status(code: u16) -> Fault {
        Fault::Status {
            status: code,
            retry_after: None,
            body: format!("emulated status {code}"),
            content_type: "text/plain; charset=utf-8".to_owned(),
        }
    }

    /// `status` with Entra's JSON error body (`error`, the AADSTS `codes`, `description`), whose
    /// trace and correlation IDs are [`SCRIPTED_TRACE_ID`] and [`SCRIPTED_CORRELATION_ID`].
    pub fn entra_error(status: u16, error: &str, codes: &[u64], description: &str) -> Fault {
        Fault::Status {
            status,
            retry_after: None,
            body: crate::entra_error_body(
                error,
                codes,
                description,
                SCRIPTED_TRACE_ID,
                SCRIPTED_CORRELATION_ID,
            ),
            content_type: "application/json; charset=utf-8".to_owned(),
        }
    }

    /// `status` with a `Retry-After` header (seconds, e.g. `"1"`, or an HTTP date).
    pub fn status_retry_after(code: u16, retry_after: &str) -> Fault {
        Fault::Status {
            status: code,
            retry_after: Some(retry_after.to_owned()),
            body: format!("emulated status {code}"),
            content_type: "text/plain; charset=utf-8".to_owned(),
        }
    }
}

/// What the connection does after a request was dealt with.
pub(crate) enum Next {
    /// Serve the next request if the client keeps the connection alive.
    Continue,
    /// The response is complete and the client asked to close: close cleanly.
    Close,
    /// Drop the connection now, without a TLS close_notify.
    Drop,
    /// Drop the connection with a TCP RST.
    Reset,
}

/// Serves one request on `stream`: applies `fault` (if any) around `normal`, the real handler.
pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    hop: Hop,
    fault: Option<Fault>,
    keep_alive: bool,
    normal: impl FnOnce() -> Response,
) -> Next {
    let response = match fault {
        None => normal(),
        Some(Fault::Status {
            status,
            retry_after,
            body,
            content_type,
        }) => {
            let response = Response::new(status, &content_type, body.into_bytes());
            match retry_after {
                Some(value) => response.with_header("Retry-After", value),
                None => response,
            }
        }
        Some(Fault::Bytes {
            status,
            content_type,
            body,
        }) => Response::new(status, &content_type, body),
        Some(Fault::Delay(duration)) => {
            tokio::time::sleep(duration).await;
            normal()
        }
        Some(Fault::Hang) => {
            // Swallow whatever arrives until the client closes; the emulator's Drop aborts this task.
            let mut sink = [0u8; 4096];
            while let Ok(n) = stream.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
            return Next::Drop;
        }
        Some(Fault::Reset) => return Next::Reset,
        Some(Fault::ResetMidBody) => {
            let partial: &[u8] = match hop {
                Hop::GitHub => br#"{"value":"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJ"#,
                Hop::Entra => br#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0eX"#,
                Hop::Discovery => br#"{"keys":[{"kty":"RSA","#,
                Hop::TenantDiscovery => br#"{"token_endpoint":"https://"#,
            };
            let head = Response::new(200, "application/json; charset=utf-8", Vec::new())
                .head_bytes(64 * 1024, true);
            let _ = write_flush(stream, &head).await;
            let _ = write_flush(stream, partial).await;
            return Next::Drop;
        }
        Some(Fault::Drip { chunk, every }) => {
            let bytes = normal().to_bytes(keep_alive);
            for piece in bytes.chunks(chunk.max(1)) {
                if write_flush(stream, piece).await.is_err() {
                    return Next::Drop;
                }
                tokio::time::sleep(every).await;
            }
            return if keep_alive {
                Next::Continue
            } else {
                Next::Close
            };
        }
        Some(Fault::Oversized(size)) => return oversized(stream, hop, size, keep_alive).await,
        Some(Fault::OversizedChunked(size)) => return oversized_chunked(stream, hop, size).await,
        Some(Fault::NonJson) => Response::new(200, "text/html; charset=utf-8", "<html>oops</html>"),
        Some(Fault::Redirect(location)) => {
            Response::new(302, "", Vec::new()).with_header("Location", location)
        }
    };
    if write_flush(stream, &response.to_bytes(keep_alive))
        .await
        .is_err()
    {
        return Next::Drop;
    }
    if keep_alive {
        Next::Continue
    } else {
        Next::Close
    }
}

/// Streams a `200` JSON-looking body of exactly `size` bytes without building it in memory.
async fn oversized<S: AsyncWrite + Unpin>(
    stream: &mut S,
    hop: Hop,
    size: usize,
    keep_alive: bool,
) -> Next {
    let prefix: &[u8] = match hop {
        Hop::GitHub => br#"{"value":""#,
        Hop::Entra => br#"{"access_token":""#,
        Hop::Discovery => br#"{"keys":""#,
        Hop::TenantDiscovery => br#"{"token_endpoint":""#,
    };
    let suffix: &[u8] = br#""}"#;
    let head = Response::new(200, "application/json; charset=utf-8", Vec::new())
        .head_bytes(size, keep_alive);
    if write_flush(stream, &head).await.is_err() {
        return Next::Drop;
    }
    // Tiny sizes: just a prefix of the framing, still exactly `size` bytes.
    let framing = prefix.len() + suffix.len();
    let (prefix, fill, suffix) = if size >= framing {
        (prefix, size - framing, suffix)
    } else {
        (
            prefix.get(..size.min(prefix.len())).unwrap_or_default(),
            0,
            &b""[..],
        )
    };
    if stream.write_all(prefix).await.is_err() {
        return Next::Drop;
    }
    let block = [b'a'; 16 * 1024];
    let mut left = fill;
    while left > 0 {
        let n = left.min(block.len());
        if stream
            .write_all(block.get(..n).unwrap_or_default())
            .await
            .is_err()
        {
            // The client stopped reading (e.g. it caps bodies): fine.
            return Next::Drop;
        }
        left -= n;
    }
    if write_flush(stream, suffix).await.is_err() {
        return Next::Drop;
    }
    if keep_alive {
        Next::Continue
    } else {
        Next::Close
    }
}

/// A `200` JSON-looking body of `size` bytes (at least its framing), chunked, no `Content-Length`;
/// the connection is closed afterwards.
async fn oversized_chunked<S: AsyncWrite + Unpin>(stream: &mut S, hop: Hop, size: usize) -> Next {
    let prefix: &[u8] = match hop {
        Hop::GitHub => br#"{"value":""#,
        Hop::Entra => br#"{"access_token":""#,
        Hop::Discovery => br#"{"keys":""#,
        Hop::TenantDiscovery => br#"{"token_endpoint":""#,
    };
    let head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    let chunk = |bytes: &[u8]| {
        let mut framed = format!("{:x}\r\n", bytes.len()).into_bytes();
        framed.extend_from_slice(bytes);
        framed.extend_from_slice(b"\r\n");
        framed
    };
    if write_flush(stream, head).await.is_err()
        || write_flush(stream, &chunk(prefix)).await.is_err()
    {
        return Next::Drop;
    }
    let block = chunk(&[b'a'; 16 * 1024]);
    let mut left = size.saturating_sub(prefix.len() + 2);
    while left > 0 {
        let n = left.min(16 * 1024);
        let piece = if n == 16 * 1024 {
            block.clone()
        } else {
            chunk(&vec![b'a'; n])
        };
        if stream.write_all(&piece).await.is_err() {
            // The client stopped reading (it caps bodies): fine.
            return Next::Drop;
        }
        left -= n;
    }
    if write_flush(stream, &chunk(br#""}"#)).await.is_err()
        || write_flush(stream, b"0\r\n\r\n").await.is_err()
    {
        return Next::Drop;
    }
    Next::Close
}

async fn write_flush<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}
