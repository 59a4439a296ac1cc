//! A minimal HTTP/1.1 wire layer: reading one request off a stream and serialising a response.
//!
//! Requests need `Content-Length` framing (what every client of the emulator sends); responses always
//! carry `Content-Length`. Anything malformed becomes an error response, never a panic.

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt as _};

use crate::clock;

/// Largest request head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// One parsed request.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// The raw (still percent-encoded) path of the request target.
    pub(crate) path: String,
    /// The raw query string, without `?`.
    pub(crate) query: Option<String>,
    /// Header names lower-cased, in arrival order.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// Whether the connection may serve another request after this one.
    pub(crate) keep_alive: bool,
}

impl Request {
    /// The first header named `name` (lower-case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A complete response; serialised with `Content-Length`.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// A response with a body of the given content type.
    pub(crate) fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        let mut headers = Vec::new();
        if !content_type.is_empty() {
            headers.push(("Content-Type".to_owned(), content_type.to_owned()));
        }
        Response {
            status,
            headers,
            body: body.into(),
        }
    }

    /// A JSON response.
    pub(crate) fn json(status: u16, body: &Value) -> Response {
        Response::new(
            status,
            "application/json; charset=utf-8",
            body.to_string().into_bytes(),
        )
    }

    /// Adds a header.
    pub(crate) fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Status line and headers, announcing `content_length` body bytes.
    pub(crate) fn head_bytes(&self, content_length: usize, keep_alive: bool) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        head.push_str(&format!("Date: {}\r\n", clock::http_date(clock::now())));
        head.push_str(&format!("Content-Length: {content_length}\r\n"));
        head.push_str(if keep_alive {
            "Connection: keep-alive\r\n"
        } else {
            "Connection: close\r\n"
        });
        for (name, value) in &self.headers {
            // Header values come from the emulator or test scripts; strip line breaks to keep framing sane.
            let value: String = value.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        head.into_bytes()
    }

    /// The whole response on the wire.
    pub(crate) fn to_bytes(&self, keep_alive: bool) -> Vec<u8> {
        let mut bytes = self.head_bytes(self.body.len(), keep_alive);
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// Reason phrase for the status codes the emulator uses (others get a generic one).
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Why no request could be read.
pub(crate) enum ReadError {
    /// The peer went away or the stream failed: just close.
    Closed,
    /// The bytes were not an acceptable request: answer this, then close.
    Bad(Response),
}

fn bad(status: u16, message: &str) -> ReadError {
    ReadError::Bad(Response::new(
        status,
        "text/plain; charset=utf-8",
        message.as_bytes(),
    ))
}

/// Reads one request from `stream`; `buf` carries bytes already read past the previous request.
/// `Ok(None)` is a clean end of stream between requests.
pub(crate) async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Result<Option<Request>, ReadError> {
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        // Tolerate stray CRLFs between requests (RFC 9112 §2.2).
        let leading = buf
            .iter()
            .take_while(|b| **b == b'\r' || **b == b'\n')
            .count();
        buf.drain(..leading);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD {
            return Err(bad(431, "request head too large"));
        }
        match stream.read(&mut chunk).await {
            Ok(0) if buf.is_empty() => return Ok(None),
            Ok(0) | Err(_) => return Err(ReadError::Closed),
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    };
    let head = String::from_utf8_lossy(buf.get(..head_end).unwrap_or_default()).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(400, "malformed request line"));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad(400, "malformed method"));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(bad(400, "unsupported HTTP version")),
    };
    // Origin form; an absolute form (proxy style) is reduced to its path.
    let target = match target.find("://").filter(|_| !target.starts_with('/')) {
        Some(scheme_end) => {
            let rest = target.get(scheme_end + 3..).unwrap_or_default();
            rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/")
        }
        None => target,
    };
    if !target.starts_with('/') {
        return Err(bad(400, "malformed request target"));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (target.to_owned(), None),
    };
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad(400, "malformed header line"));
        };
        if name.is_empty() || name.contains(' ') || name.contains('\t') {
            return Err(bad(400, "malformed header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let header = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    if header("transfer-encoding").is_some() {
        return Err(bad(
            501,
            "Transfer-Encoding is not supported; send Content-Length",
        ));
    }
    let content_length = match header("content-length") {
        None => 0,
        Some(v) => match v.parse::<usize>() {
            Ok(n) => n,
            Err(_) => return Err(bad(400, "malformed Content-Length")),
        },
    };
    if content_length > MAX_BODY {
        return Err(bad(413, "request body too large"));
    }
    let connection = header("connection")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let keep_alive = if http10 {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    let body_start = head_end + 4;
    while buf.len() < body_start + content_length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(ReadError::Closed),
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
    let body = buf
        .get(body_start..body_start + content_length)
        .unwrap_or_default()
        .to_vec();
    buf.drain(..body_start + content_length);
    Ok(Some(Request {
        method: method.to_owned(),
        path,
        query,
        headers,
        body,
        keep_alive,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(raw: &[u8]) -> Result<Option<Request>, ReadError> {
        let mut stream = raw;
        let mut buf = Vec::new();
        read_request(&mut stream, &mut buf).await
    }

    #[tokio::test]
    async fn parses_requests_and_rejects_garbage() {
        let raw = b"POST /t/oauth2/v2.0/token?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nX-Y: z \r\n\r\nabcGET / HTTP/1.1\r\n\r\n";
        let mut stream = &raw[..];
        let mut buf = Vec::new();
        let Ok(Some(first)) = read_request(&mut stream, &mut buf).await else {
            panic!("first request");
        };
        assert_eq!(first.method, "POST");
        assert_eq!(first.path, "/t/oauth2/v2.0/token");
        assert_eq!(first.query.as_deref(), Some("x=1"));
        assert_eq!(first.header("x-y"), Some("z"));
        assert_eq!(first.body, b"abc");
        assert!(first.keep_alive);
        let Ok(Some(second)) = read_request(&mut stream, &mut buf).await else {
            panic!("second request");
        };
        assert_eq!(second.path, "/");
        assert!(matches!(
            read_request(&mut stream, &mut buf).await,
            Ok(None)
        ));

        let Ok(Some(unencoded)) = parse(b"GET /p?audience=api://X HTTP/1.1\r\n\r\n").await else {
            panic!("unencoded query");
        };
        assert_eq!(unencoded.path, "/p");
        assert_eq!(unencoded.query.as_deref(), Some("audience=api://X"));
        let Ok(Some(absolute)) = parse(b"GET https://h:1/p?q HTTP/1.0\r\n\r\n").await else {
            panic!("absolute form");
        };
        assert_eq!(absolute.path, "/p");
        assert!(!absolute.keep_alive);

        for garbage in [
            &b"\x00\x01\x02 \r\n\r\n"[..],
            b"GET / HTTP/2\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert!(matches!(parse(garbage).await, Err(ReadError::Bad(_))));
        }
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\n").await,
            Err(ReadError::Closed)
        ));
    }
}
