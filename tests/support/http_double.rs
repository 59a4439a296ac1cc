//! A scriptable plain-HTTP double on 127.0.0.1 for the shipped scripts and examples: it answers
//! from a list (a proxy's error page, a hostile `nextLink`, a redirect), records each request, and,
//! while the client waits for the answer, looks for the request's bearer token on every process's
//! command line (`/proc/PID/cmdline`, readable by any local user).

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// One answer: status, extra headers, body.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// `status` with a JSON (or any) body.
    pub fn new(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }

    /// A redirect to `location`.
    pub fn redirect(status: u16, location: &str) -> Self {
        Self {
            status,
            headers: vec![("Location".to_owned(), location.to_owned())],
            body: String::new(),
        }
    }
}

/// What the double saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Method and path (`GET /x?y`).
    pub request_line: String,
    /// The `Authorization` header's value, if any.
    pub authorization: Option<String>,
    /// Command lines (`/proc/PID/cmdline`, NULs as spaces) that held the bearer token while the
    /// request waited for its answer.
    pub token_on_command_lines: Vec<String>,
}

/// A running double.
pub struct HttpDouble {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl HttpDouble {
    /// Starts a double answering with `answers` in turn (the last one repeats).
    pub fn start(answers: Vec<Answer>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for (index, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let mut authorization = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("authorization")
                    {
                        authorization = Some(value.trim().to_owned());
                    }
                }
                let token = authorization
                    .as_deref()
                    .and_then(|a| a.strip_prefix("Bearer "))
                    .filter(|t| t.len() >= 8);
                let token_on_command_lines = token.map(command_lines_holding).unwrap_or_default();
                log.lock().unwrap().push(Seen {
                    request_line: request_line.trim().to_owned(),
                    authorization: authorization.clone(),
                    token_on_command_lines,
                });
                let answer = answers[index.min(answers.len() - 1)].clone();
                let mut head = format!(
                    "HTTP/1.1 {} Answer\r\nContent-Length: {}\r\nConnection: close\r\n",
                    answer.status,
                    answer.body.len()
                );
                if answer.body.starts_with('{') {
                    head.push_str("Content-Type: application/json\r\n");
                }
                for (name, value) in &answer.headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                let _ = stream.write_all(format!("{head}\r\n{}", answer.body).as_bytes());
            }
        });
        Self { url, seen }
    }

    /// The requests so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Every process command line that holds `token`.
pub fn command_lines_holding(token: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path().join("cmdline");
        if let Ok(bytes) = std::fs::read(&path) {
            let line = String::from_utf8_lossy(&bytes).replace('\0', " ");
            if line.contains(token) {
                found.push(line);
            }
        }
    }
    found
}
