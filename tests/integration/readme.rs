//! The examples are real: every YAML snippet of the README and docs/, and every workflow in
//! examples/workflows/, parses, and every use of this action names only inputs and outputs that
//! `action.yml` declares (plus the `<name>-…` outputs its `scopes` create).

use std::collections::BTreeSet;

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

/// The fenced ```yaml blocks of the README and of every page under `docs/`, and every workflow
/// under `examples/workflows/` (whole).
fn yaml_blocks() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![README.to_owned()];
    let mut blocks = Vec::new();
    let mut dirs = vec![root.join("docs"), root.join("examples/workflows")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let text = || std::fs::read_to_string(&path).unwrap();
            match path.extension().and_then(|e| e.to_str()) {
                _ if path.is_dir() => dirs.push(path.clone()),
                Some("md") => pages.push(text()),
                Some("yml" | "yaml") => blocks.push(text()),
                _ => {}
            }
        }
    }
    for page in &pages {
        blocks.extend(markdown_yaml_blocks(page));
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
            let bare = unquoted(line).replace("||", "");
            assert!(
                !bare.contains('|') || script.contains("pipefail"),
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
