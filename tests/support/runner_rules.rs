//! How the Actions runner reads what a step writes, modelled on its own code (Linux behaviour), so
//! tests and fuzz targets judge the action's writer and escaper by the reader that matters.
//!
//! - File commands (`GITHUB_OUTPUT`, `GITHUB_ENV`): `FileCommandManager.cs`, `EnvFileKeyValuePairs`.
//! - Workflow commands on stdout: `ActionCommand.cs`, `TryParseV2` with its unescaping, and the
//!   legacy `TryParse` (`##[name k=v;k2=v2]data`, found anywhere in a line) that the runner falls
//!   back to when `TryParseV2` fails.
//! - What the runner does with them: `ActionCommandManager.TryProcessCommand` (registered commands,
//!   `stop-commands` fences, `add-mask` feeding the secret masker): [`RunnerLog`].
//!
//! Sources: <https://github.com/actions/runner/blob/main/src/Runner.Common/ActionCommand.cs> and
//! <https://github.com/actions/runner/blob/main/src/Runner.Worker/ActionCommandManager.cs>.
//! Pure std, no dependencies: the fuzz crate includes this file with `#[path]`, so there is one model
//! of the runner, not two.

/// Parses a `GITHUB_OUTPUT`/`GITHUB_ENV` file by the runner's rules: empty lines skipped;
/// `NAME=VALUE` or `NAME<<DELIM` by whichever of `=`/`<<` comes first; a heredoc value runs to the
/// first line exactly equal to the delimiter, lines joined by `\n`. `Err` carries the runner's message.
pub fn parse_file_commands(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut lines = text.split('\n').peekable();
    // A trailing newline leaves one empty last element; the runner skips empty lines anyway.
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let equals = line.find('=');
        let heredoc = line.find("<<");
        match (equals, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                let (name, value) = (&line[..e], &line[e + 1..]);
                if name.is_empty() {
                    return Err(format!("Invalid format '{line}'"));
                }
                pairs.push((name.to_owned(), value.to_owned()));
            }
            (_, Some(h)) => {
                let (name, delimiter) = (&line[..h], &line[h + 2..]);
                if name.is_empty() || delimiter.is_empty() {
                    return Err(format!(
                        "Invalid format '{line}'. Name must not be empty and delimiter must not be empty"
                    ));
                }
                let mut value_lines = Vec::new();
                let mut closed = false;
                for next in lines.by_ref() {
                    if next == delimiter {
                        closed = true;
                        break;
                    }
                    value_lines.push(next);
                }
                if !closed {
                    return Err(format!(
                        "Invalid value. Matching delimiter not found '{delimiter}'"
                    ));
                }
                pairs.push((name.to_owned(), value_lines.join("\n")));
            }
            _ => return Err(format!("Invalid format '{line}'")),
        }
    }
    Ok(pairs)
}

/// Reverses workflow-command data escaping, as the runner does (`%0D`, `%0A`, then `%25`).
pub fn unescape_data(data: &str) -> String {
    data.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%25", "%")
}

/// Reverses workflow-command property escaping, as the runner does (`%0D`, `%0A`, `%3A`, `%2C`, then `%25`).
pub fn unescape_property(value: &str) -> String {
    value
        .replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
}

/// A workflow command as the runner reads it from one output line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// `error`, `add-mask`, …
    pub name: String,
    /// Properties, unescaped, in order (empty values are dropped, as the runner drops them).
    pub properties: Vec<(String, String)>,
    /// The data, unescaped.
    pub data: String,
}

/// Parses one stdout line as the runner's `TryParseV2` does, or `None` if it is not a command line.
/// (Whether the name is a registered command is left to the caller.)
pub fn parse_command(line: &str) -> Option<Command> {
    let message = line.trim_start();
    let rest = message.strip_prefix("::")?;
    let end = rest.find("::")?;
    let (info, data) = (&rest[..end], &rest[end + 2..]);
    let (name, properties) = match info.find(' ') {
        Some(space) => (&info[..space], Some(&info[space + 1..])),
        None => (info, None),
    };
    let mut parsed = Vec::new();
    if let Some(properties) = properties {
        for property in properties.trim().split(',').filter(|p| !p.is_empty()) {
            let pair: Vec<&str> = property
                .splitn(2, '=')
                .filter(|part| !part.is_empty())
                .collect();
            if let [key, value] = pair[..] {
                parsed.push((key.to_owned(), unescape_property(value)));
            }
        }
    }
    Some(Command {
        name: name.to_owned(),
        properties: parsed,
        data: unescape_data(data),
    })
}

/// Reverses the legacy syntax's escaping, in the runner's order (`%3B`, `%0D`, `%0A`, `%5D`, `%25`).
pub fn unescape_legacy(value: &str) -> String {
    value
        .replace("%3B", ";")
        .replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%5D", "]")
        .replace("%25", "%")
}

/// Parses one line as the runner's legacy `TryParse` does: `##[` **anywhere** in the line, the
/// command info up to the next `]` (name up to the first space, then `;`-separated `k=v`
/// properties), the data after it. `None` if there is no `##[…]`. Registration is the caller's.
pub fn parse_legacy_command(line: &str) -> Option<Command> {
    let prefix = line.find("##[")?;
    let info_start = prefix + 3;
    let end = info_start + line[info_start..].find(']')?;
    let info = &line[info_start..end];
    let (name, properties) = match info.find(' ') {
        Some(space) => (&info[..space], Some(&info[space + 1..])),
        None => (info, None),
    };
    let mut parsed = Vec::new();
    if let Some(properties) = properties {
        for property in properties.split(';').filter(|p| !p.is_empty()) {
            let pair: Vec<&str> = property
                .splitn(2, '=')
                .filter(|part| !part.is_empty())
                .collect();
            if let [key, value] = pair[..] {
                parsed.push((key.to_owned(), unescape_legacy(value)));
            }
        }
    }
    Some(Command {
        name: name.to_owned(),
        properties: parsed,
        data: unescape_legacy(&line[end + 1..]),
    })
}

/// The commands a runner registers (`ActionCommandManager` and its extensions), lower-case.
pub const REGISTERED_COMMANDS: &[&str] = &[
    "stop-commands",
    "add-mask",
    "debug",
    "notice",
    "warning",
    "error",
    "group",
    "endgroup",
    "echo",
    "add-matcher",
    "remove-matcher",
    "set-output",
    "save-state",
    "set-env",
    "add-path",
];

/// One step's log as the runner processes it, line by line: which commands ran, which values the
/// secret masker holds, and what is shown in the log (with every masked value as `***`).
#[derive(Debug, Default)]
pub struct RunnerLog {
    stop_token: Option<String>,
    masks: Vec<String>,
    /// Every command that was processed (stop and resume included), in order.
    pub processed: Vec<Command>,
    /// The log lines as shown, masked.
    pub shown: Vec<String>,
}

impl RunnerLog {
    /// Processes `stdout` then `stderr` of one step.
    pub fn replay(stdout: &str, stderr: &str) -> Self {
        let mut log = Self::default();
        for line in stdout.lines().chain(stderr.lines()) {
            log.process(line);
        }
        log
    }

    fn registered(&self, name: &str) -> bool {
        REGISTERED_COMMANDS
            .iter()
            .any(|c| c.eq_ignore_ascii_case(name))
            || self
                .stop_token
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(name))
    }

    /// Processes one line as `TryProcessCommand` does, then shows what the runner would show.
    pub fn process(&mut self, line: &str) {
        let command = parse_command(line)
            .filter(|c| self.registered(&c.name))
            .or_else(|| parse_legacy_command(line).filter(|c| self.registered(&c.name)));
        let Some(command) = command else {
            self.show(line);
            return;
        };
        if let Some(token) = &self.stop_token {
            if command.name.eq_ignore_ascii_case(token) {
                self.stop_token = None;
                self.show(line);
                self.processed.push(command);
            } else {
                // While stopped, a command is not processed: the line is logged as it is.
                self.show(line);
            }
            return;
        }
        match command.name.to_ascii_lowercase().as_str() {
            "stop-commands" => {
                self.show(line);
                self.stop_token = Some(command.data.clone());
            }
            // An empty value only earns a warning from the runner.
            "add-mask" if !command.data.trim().is_empty() => {
                self.masks.push(command.data.clone());
                self.masks.extend(
                    command
                        .data
                        .split(['\r', '\n'])
                        .map(str::trim)
                        .filter(|part| !part.is_empty())
                        .map(str::to_owned),
                );
            }
            "debug" => self.show(&format!("##[debug]{}", command.data)),
            "error" | "warning" | "notice" => {
                self.show(&format!("##[{}]{}", command.name, command.data));
            }
            _ => {}
        }
        self.processed.push(command);
    }

    fn show(&mut self, line: &str) {
        let mut shown = line.to_owned();
        for mask in &self.masks {
            shown = shown.replace(mask.as_str(), "***");
        }
        self.shown.push(shown);
    }

    /// Whether command processing is stopped at the end (a fence left open).
    pub fn stopped(&self) -> bool {
        self.stop_token.is_some()
    }

    /// The values the masker holds.
    pub fn masks(&self) -> &[String] {
        &self.masks
    }
}
