//! The docs hold: every YAML snippet of the README and docs/, and every workflow in
//! examples/workflows/, parses, and every use of this action names only inputs and outputs that
//! `action.yml` declares (plus the `<name>-…` outputs its `scopes` create); every relative link
//! between the README, docs/ and the other top-level pages reaches a file and, with `#…`, a heading
//! of it; every input or output the docs name exists; the README lists all of them and stays short.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

const README: &str = include_str!("../../README.md");
const ACTION: &str = include_str!("../../action.yml");

fn keys(map: &Yaml) -> BTreeSet<String> {
    map.as_hash()
        .map(|hash| {
            hash.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn action() -> (BTreeSet<String>, BTreeSet<String>) {
    let docs = YamlLoader::load_from_str(ACTION).unwrap();
    (keys(&docs[0]["inputs"]), keys(&docs[0]["outputs"]))
}

/// Every file under `dir` (recursively) whose extension is one of `extensions`, sorted.
fn files_under(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.contains(&e))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The fenced ```yaml blocks of the README and of every page under `docs/`, and every workflow
/// under `examples/workflows/` (whole).
fn yaml_blocks() -> Vec<String> {
    let read = |path: PathBuf| std::fs::read_to_string(path).unwrap();
    let mut blocks: Vec<String> = files_under(&root().join("examples/workflows"), &["yml", "yaml"])
        .into_iter()
        .map(read)
        .collect();
    let pages = std::iter::once(README.to_owned()).chain(
        files_under(&root().join("docs"), &["md"])
            .into_iter()
            .map(read),
    );
    for page in pages {
        blocks.extend(markdown_yaml_blocks(&page));
    }
    blocks
}

/// The fenced ```yaml blocks of one Markdown page.
fn markdown_yaml_blocks(page: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in page.lines() {
        match &mut current {
            None if line.trim_start().starts_with("```yaml") => current = Some(String::new()),
            Some(block) if line.trim_start().starts_with("```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    assert!(current.is_none(), "an unclosed ```yaml block");
    blocks
}

/// Every step (a mapping with `uses:`) anywhere in `node`.
fn steps<'a>(node: &'a Yaml, found: &mut Vec<&'a Yaml>) {
    match node {
        Yaml::Hash(hash) => {
            if node["uses"].as_str().is_some() {
                found.push(node);
            }
            for value in hash.values() {
                steps(value, found);
            }
        }
        Yaml::Array(items) => items.iter().for_each(|item| steps(item, found)),
        _ => {}
    }
}

#[test]
fn action_yml_declares_the_contract() {
    let (inputs, outputs) = action();
    for input in [
        "client-id",
        "tenant-id",
        "subscription-id",
        "environment",
        "audience",
        "scope",
        "authority-host",
        "export-env",
        "timeout-seconds",
        "summary",
        "scopes",
        "export-sdk-env",
        "explain",
    ] {
        assert!(inputs.contains(input), "action.yml lacks input {input}");
    }
    for output in [
        "access-token",
        "token-type",
        "expires-on",
        "expires-at",
        "tenant-id",
        "client-id",
        "subscription-id",
        "principal-id",
    ] {
        assert!(outputs.contains(output), "action.yml lacks output {output}");
    }
    let docs = YamlLoader::load_from_str(ACTION).unwrap();
    // Derived at run time, so a sovereign cloud never inherits the public cloud's values.
    for derived in ["audience", "scope", "authority-host"] {
        assert!(
            docs[0]["inputs"][derived]["default"].is_badvalue(),
            "{derived} must have no default"
        );
    }
}

#[test]
fn readme_snippets_parse_and_use_only_real_inputs_and_outputs() {
    let (inputs, outputs) = action();
    let blocks = yaml_blocks();
    assert!(
        blocks.len() >= 10,
        "expected the cookbook's snippets, found {}",
        blocks.len()
    );
    let mut uses_checked = 0;
    for block in &blocks {
        let docs = YamlLoader::load_from_str(block)
            .unwrap_or_else(|e| panic!("README YAML does not parse: {e}\n{block}"));
        let mut found = Vec::new();
        for doc in &docs {
            steps(doc, &mut found);
        }
        for step in found {
            let uses = step["uses"].as_str().unwrap();
            if !uses.contains("azure-oidc-token@") {
                continue;
            }
            uses_checked += 1;
            let with = keys(&step["with"]);
            for name in &with {
                assert!(
                    inputs.contains(name),
                    "README uses unknown input `{name}`:\n{block}"
                );
            }
            let Some(id) = step["id"].as_str() else {
                continue;
            };
            // Outputs this step can have: action.yml's, plus <name>-access-token/-expires-on per `scopes` line.
            let mut known = outputs.clone();
            if let Some(scopes) = step["with"]["scopes"].as_str() {
                for line in scopes.lines().filter(|l| l.contains('=')) {
                    let name = line.split('=').next().unwrap().trim();
                    known.insert(format!("{name}-access-token"));
                    known.insert(format!("{name}-expires-on"));
                }
            }
            let prefix = format!("steps.{id}.outputs.");
            for (at, _) in block.match_indices(&prefix) {
                let rest = &block[at + prefix.len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                assert!(
                    known.contains(&name),
                    "README reads unknown output `{name}` of step `{id}`:\n{block}"
                );
            }
        }
    }
    assert!(
        uses_checked >= 10,
        "only {uses_checked} uses of the action were checked"
    );
}

/// Every `run:` script of the examples (README, docs/, examples/workflows/).
fn run_scripts() -> Vec<String> {
    fn walk(node: &Yaml, found: &mut Vec<String>) {
        match node {
            Yaml::Hash(hash) => {
                for (key, value) in hash {
                    match (key.as_str(), value.as_str()) {
                        (Some("run"), Some(script)) => found.push(script.to_owned()),
                        _ => walk(value, found),
                    }
                }
            }
            Yaml::Array(items) => items.iter().for_each(|item| walk(item, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for block in yaml_blocks() {
        for doc in YamlLoader::load_from_str(&block).unwrap() {
            walk(&doc, &mut found);
        }
    }
    found
}

/// `line` without its quoted parts (a `|` inside a jq filter is not a pipe).
fn unquoted(line: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// GitHub runs `run:` with `bash -e` and no pipefail: a `curl` whose failure is hidden in a pipe, or
/// that does not fail on an HTTP error, lets the step pass when Azure said no.
#[test]
fn every_curl_in_a_run_step_fails_the_step_when_azure_says_no() {
    let scripts = run_scripts();
    let mut curls = 0;
    for script in &scripts {
        let joined = script.replace("\\\n", " ");
        for line in joined.lines().filter(|l| l.contains("curl ")) {
            curls += 1;
            assert!(
                line.contains("--fail-with-body") || line.contains("--fail "),
                "a curl that does not fail on HTTP errors: {line}"
            );
            // A pipe *into* curl (`printf … | curl -H @-`, the header on stdin) keeps curl's status
            // as the pipe's; a pipe after it hides it.
            let bare = unquoted(line).replace("||", "");
            let after_curl = bare.split_once("curl ").map_or("", |(_, after)| after);
            assert!(
                !after_curl.contains('|') || script.contains("pipefail"),
                "a curl in a pipe hides its failure under bash -e: {line}"
            );
            assert!(
                !line.trim_start().starts_with("local "),
                "`local x=$(curl …)` hides the failure: {line}"
            );
        }
    }
    assert!(curls >= 5, "only {curls} curl calls found in run: steps");
}

/// A token on a command line is readable by every local process in `/proc/PID/cmdline` for as long
/// as the command runs: every snippet, example and script we ship hands curl its `Authorization`
/// header on stdin (`-H @-`) or from a file, never as an argument.
#[test]
fn no_shipped_snippet_puts_a_token_on_a_command_line() {
    let mut texts: Vec<(PathBuf, String)> = pages();
    for path in files_under(&root().join("examples/workflows"), &["yml", "sh"]) {
        let text = std::fs::read_to_string(&path).unwrap();
        texts.push((path, text));
    }
    let mut checked = 0;
    for (path, text) in &texts {
        for line in text.lines() {
            let line = line.trim();
            if !(line.contains("curl") || line.contains("--header") || line.contains("-H ")) {
                continue;
            }
            checked += 1;
            for form in [
                "-H \"Authorization",
                "--header \"Authorization",
                "-H 'Authorization",
                "--header 'Authorization",
            ] {
                assert!(
                    !line.contains(form),
                    "{}: a token on curl's command line: {line}",
                    path.display()
                );
            }
        }
    }
    assert!(checked >= 5, "only {checked} curl lines found");
}

/// The README may not grow back into a manual: details go to docs/.
const README_MAX_LINES: usize = 260;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Markdown pages the docs checks cover: README.md, SECURITY.md, DEPENDENCIES.md and every
/// `.md` under docs/, as (path, text).
fn pages() -> Vec<(PathBuf, String)> {
    let mut paths: Vec<PathBuf> = ["README.md", "SECURITY.md", "DEPENDENCIES.md"]
        .iter()
        .map(|name| root().join(name))
        .collect();
    paths.extend(files_under(&root().join("docs"), &["md"]));
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect()
}

/// `text` without its fenced code blocks (their lines become empty, so line numbers stay) and
/// without inline code spans on the remaining lines when `drop_code_spans`.
fn prose(text: &str, drop_code_spans: bool) -> Vec<String> {
    let mut fenced = false;
    text.lines()
        .map(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                return String::new();
            }
            if fenced {
                return String::new();
            }
            if !drop_code_spans {
                return line.to_owned();
            }
            line.split('`')
                .enumerate()
                .filter(|(i, _)| i % 2 == 0)
                .map(|(_, part)| part)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// GitHub's heading anchor: lower case; letters, digits, `-` and `_` kept; spaces to `-`; everything
/// else dropped. Links in the heading count by their text.
fn slug(heading: &str) -> String {
    let mut text = String::new();
    let mut chars = heading.chars().peekable();
    // `[text](target)` → `text`
    while let Some(c) = chars.next() {
        if c == ']' && chars.peek() == Some(&'(') {
            for c in chars.by_ref() {
                if c == ')' {
                    break;
                }
            }
        } else {
            text.push(c);
        }
    }
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a page's headings (outside code blocks), with GitHub's `-1`, `-2`… for repeats.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in prose(text, false) {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(&line[hashes..]);
        let mut anchor = base.clone();
        let mut n = 0;
        while found.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        found.insert(anchor);
    }
    found
}

/// The targets of the inline links `[text](target)` in a page's prose (not in code).
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose(text, true) {
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            targets.push(after[..end].trim().to_owned());
            rest = &after[end..];
        }
    }
    targets
}

/// Every broken relative link of `pages`, as "page: target (why)".
fn broken_links(pages: &[(PathBuf, String)]) -> Vec<String> {
    let mut broken = Vec::new();
    for (page, text) in pages {
        let shown = page
            .strip_prefix(root())
            .unwrap_or(page)
            .display()
            .to_string();
        for target in link_targets(text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((file, anchor)) => (file, Some(anchor)),
                None => (target.as_str(), None),
            };
            let path = if file.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(file)
            };
            if !path.exists() {
                broken.push(format!("{shown}: {target} (no such file)"));
                continue;
            }
            let Some(anchor) = anchor else { continue };
            if path.extension().is_none_or(|e| e != "md") {
                continue; // anchors into code files are line numbers: not checked
            }
            let text = std::fs::read_to_string(&path).unwrap();
            if !anchors(&text).contains(anchor) {
                broken.push(format!("{shown}: {target} (no heading with that anchor)"));
            }
        }
    }
    broken
}

#[test]
fn slugs_follow_githubs_rules() {
    assert_eq!(slug(" AADSTS700213"), "aadsts700213");
    assert_eq!(
        slug(" No ID token: `id-token: write`"),
        "no-id-token-id-token-write"
    );
    assert_eq!(
        slug(" Customised subject templates (`include_claim_keys`)"),
        "customised-subject-templates-include_claim_keys"
    );
    assert_eq!(slug(" HTTP 429 (throttling)"), "http-429-throttling");
    assert_eq!(slug(" See [the docs](x.md) now"), "see-the-docs-now");
    let repeated = anchors("# A\n## Notes\n```sh\n# not a heading\n```\n## Notes\n");
    assert_eq!(
        repeated,
        BTreeSet::from(["a".to_owned(), "notes".to_owned(), "notes-1".to_owned()])
    );
}

#[test]
fn the_link_check_catches_a_missing_file_and_a_missing_anchor() {
    let page = root().join("docs/example.md");
    let pages = vec![(
        page,
        "[ok](troubleshooting.md#aadsts700213) [gone](nowhere.md) [bad](troubleshooting.md#aadsts1) `[code](x.md)`\n"
            .to_owned(),
    )];
    let broken = broken_links(&pages);
    assert_eq!(broken.len(), 2, "{broken:?}");
    assert!(
        broken[0].contains("nowhere.md (no such file)"),
        "{broken:?}"
    );
    assert!(broken[1].contains("#aadsts1 (no heading"), "{broken:?}");
}

#[test]
fn every_relative_link_reaches_a_file_and_heading() {
    let pages = pages();
    assert!(pages.len() >= 20, "only {} pages found", pages.len());
    let links: usize = pages.iter().map(|(_, t)| link_targets(t).len()).sum();
    assert!(links >= 100, "only {links} links found");
    let broken = broken_links(&pages);
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// Each `AADSTS` code the binary knows has its own section, so a printed
/// `docs/troubleshooting.md#aadsts<code>` always lands on it; and every such link in the source
/// resolves.
#[test]
fn every_aadsts_code_and_troubleshooting_link_in_the_source_has_a_section() {
    let page = std::fs::read_to_string(root().join("docs/troubleshooting.md")).unwrap();
    let anchors = anchors(&page);
    let sources: String = files_under(&root().join("src"), &["rs"])
        .into_iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect();
    let mut wanted = BTreeSet::new();
    for (at, _) in sources.match_indices("AADSTS") {
        let digits: String = sources[at + 6..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if !digits.is_empty() {
            wanted.insert(format!("aadsts{digits}"));
        }
    }
    for (at, _) in sources.match_indices("troubleshooting.md#") {
        let rest = &sources[at + "troubleshooting.md#".len()..];
        let anchor: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        // `#aadsts{code}` is filled in at run time from the codes above, which are all checked.
        if !rest[anchor.len()..].starts_with('{') {
            wanted.insert(anchor);
        }
    }
    // The codes the diagnosis handles, whether or not the source spells them out as text.
    for code in [
        70021, 700211, 700212, 700213, 7002137, 7002138, 70025, 700016, 90002, 900023, 700024,
        700222, 7000215, 7000218, 70011, 700022, 1002012, 500011,
    ] {
        wanted.insert(format!("aadsts{code}"));
    }
    let missing: Vec<&String> = wanted.iter().filter(|a| !anchors.contains(*a)).collect();
    assert!(
        missing.is_empty(),
        "docs/troubleshooting.md lacks a section for: {missing:?}"
    );
}

/// The names a page gives as inputs or outputs of this action: the first column of a table
/// headed `Input`/`Output`, and `` `name` input ``, `` input `name` `` (likewise output) in prose.
fn named_inputs_and_outputs(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut inputs, mut outputs) = (BTreeSet::new(), BTreeSet::new());
    let mut table: Option<bool> = None; // Some(true): an inputs table, Some(false): outputs
    for line in prose(text, false) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if line.trim_start().starts_with('|') && cells.len() > 2 {
            match (table, cells[1]) {
                (_, "Input") => table = Some(true),
                (_, "Output") => table = Some(false),
                (Some(kind), cell) if cell.starts_with('`') => {
                    let name = cell.trim_matches('`').to_owned();
                    if kind {
                        inputs.insert(name);
                    } else {
                        outputs.insert(name);
                    }
                }
                _ => {}
            }
        } else {
            table = None;
        }
        let parts: Vec<&str> = line.split('`').collect();
        // Odd parts are code spans: look at the words just before and after each.
        for i in (1..parts.len()).step_by(2) {
            let name = parts[i];
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-' || c == '<' || c == '>')
            {
                continue;
            }
            let before = parts[i - 1].trim_end();
            let after = parts.get(i + 1).map_or("", |p| p.trim_start());
            let word_after = after
                .split(|c: char| !c.is_alphabetic())
                .next()
                .unwrap_or("");
            let is = |word: &str| {
                before.ends_with(&format!(" {word}")) || before == word || word_after == word
            };
            if is("input") || (word_after == "inputs") {
                inputs.insert(name.to_owned());
            } else if is("output") || word_after == "outputs" {
                outputs.insert(name.to_owned());
            }
        }
    }
    (inputs, outputs)
}

#[test]
fn every_input_and_output_the_docs_name_exists() {
    let (inputs, outputs) = action();
    let scoped = |name: &str| {
        name.starts_with("<name>-") && outputs.contains(&name.replacen("<name>-", "", 1))
    };
    let mut unknown = Vec::new();
    let mut named = 0;
    for (page, text) in pages() {
        let shown = page
            .strip_prefix(root())
            .unwrap_or(&page)
            .display()
            .to_string();
        let (named_inputs, named_outputs) = named_inputs_and_outputs(&text);
        named += named_inputs.len() + named_outputs.len();
        for name in named_inputs.iter().filter(|n| !inputs.contains(*n)) {
            unknown.push(format!("{shown}: input `{name}`"));
        }
        for name in named_outputs
            .iter()
            .filter(|n| !outputs.contains(*n) && !scoped(n))
        {
            unknown.push(format!("{shown}: output `{name}`"));
        }
    }
    assert!(
        named >= 25,
        "only {named} names found: is the scan still working?"
    );
    assert!(
        unknown.is_empty(),
        "the docs name what action.yml does not declare:\n{}",
        unknown.join("\n")
    );
}

#[test]
fn the_readme_tables_list_exactly_the_inputs_and_outputs_of_action_yml() {
    let (inputs, outputs) = action();
    let (listed_inputs, listed_outputs) = named_inputs_and_outputs(README);
    let listed_outputs: BTreeSet<String> = listed_outputs
        .into_iter()
        .filter(|n| !n.starts_with("<name>-"))
        .collect();
    assert_eq!(listed_inputs, inputs, "README's Inputs table vs action.yml");
    assert_eq!(
        listed_outputs, outputs,
        "README's Outputs table vs action.yml"
    );
}

#[test]
fn the_readme_stays_short_and_keeps_the_two_commands_in_their_own_section() {
    let lines = README.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines (at most {README_MAX_LINES}): move details to docs/"
    );
    // An action user reads what it does and the quick start first; the development commands (CI
    // runs the test command from here) have a section of their own.
    let quick_start = README.find("\n## Quick start").unwrap();
    let development = README.find("\n## Development\n").unwrap();
    let demo = README.find("cargo run --example demo").unwrap();
    let test = README.find("cargo test --locked").unwrap();
    assert!(
        quick_start < development && development < demo && demo < test,
        "the quick start comes first; the two commands are in ## Development, demo first"
    );
    let after = &README[development + 1..];
    let section_end = after[3..].find("\n## ").map_or(after.len(), |i| i + 3);
    assert!(
        after[..section_end].contains("cargo test --locked"),
        "the test command is inside ## Development"
    );
}
