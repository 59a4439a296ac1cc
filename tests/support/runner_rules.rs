//! How the Actions runner reads what a step writes, modelled on its own code (Linux behaviour), so
//! tests and fuzz targets judge the action's writer and escaper by the reader that matters.
//!
//! - File commands (`GITHUB_OUTPUT`, `GITHUB_ENV`): `FileCommandManager.cs`, `EnvFileKeyValuePairs`.
//! - Workflow commands on stdout: `ActionCommand.cs`, `TryParseV2` with its unescaping.
//!
//! Facts: `reference/github-actions.md` §4. Pure std, no dependencies: the fuzz crate includes this
//! file with `#[path]`, so there is one model of the runner, not two.

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
