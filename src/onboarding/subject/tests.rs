//! Unit tests of `subject`: the subjects GitHub builds from `include_claim_keys` templates, key by
//! key, checked against the examples of GitHub's "OpenID Connect reference", section "Customizing
//! the subject claims for an organization or repository"
//! (<https://docs.github.com/en/actions/reference/security/oidc#customizing-the-subject-claims-for-an-organization-or-repository>),
//! and the same subjects read back by `explain` from a token carrying those claims.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::onboarding::credential::{GITHUB_ISSUER, Request, credentials};
use crate::onboarding::explain::{ExplainError, report_lines};
use crate::secret::Secret;

/// The docs' workflow ref (example "Requiring a reusable workflow").
const WORKFLOW: &str = "octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main";

fn octo(ids: bool) -> Repository {
    Repository {
        owner: "octo-org".to_owned(),
        name: "octo-repo".to_owned(),
        owner_id: ids.then_some(123_456),
        repository_id: ids.then_some(456_789),
    }
}

fn keys(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| (*k).to_owned()).collect()
}

fn claims(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The subject of `template` for octo-org/octo-repo (name-based form).
fn build(
    template: &[&str],
    entity: Option<&Entity>,
    workflow: Option<&str>,
    extra: &[(&str, &str)],
    ids: bool,
) -> Result<String, FicError> {
    let claims = claims(extra);
    let values = TemplateValues {
        entity,
        job_workflow_ref: workflow,
        claims: &claims,
    };
    templated_subject(&octo(ids), false, &keys(template), &values)
}

fn branch(name: &str) -> Entity {
    Entity::Branch(name.to_owned())
}

fn environment(name: &str) -> Entity {
    Entity::Environment(name.to_owned())
}

/// The flag a refusal names (`MissingClaim::fix`), or the error if it is another one.
fn refusal(result: Result<String, FicError>) -> String {
    match result {
        Err(FicError::MissingClaim { fix, .. }) => fix,
        other => panic!("expected a missing-claim refusal, got {other:?}"),
    }
}

/// A documented example: template, context, `--claim` values, owner, subject.
type Documented<'a> = (
    &'a [&'a str],
    Option<&'a Entity>,
    &'a [(&'a str, &'a str)],
    &'a str,
    &'a str,
);

#[test]
fn githubs_documented_templates_give_its_documented_subjects() {
    let prod = environment("prod");
    let cases: [Documented<'_>; 7] = [
        // "Allowing repository based on visibility and owner" (owner monalisa).
        (
            &["repository_owner", "repository_visibility"],
            None,
            &[("repository_visibility", "private")],
            "monalisa",
            "repository_owner:monalisa:repository_visibility:private",
        ),
        // "Allowing access to all repositories with a specific owner".
        (
            &["repository_owner"],
            None,
            &[],
            "monalisa",
            "repository_owner:monalisa",
        ),
        // "Requiring a reusable workflow".
        (
            &["job_workflow_ref"],
            None,
            &[],
            "octo-org",
            "job_workflow_ref:octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main",
        ),
        // "Requiring a reusable workflow and other claims".
        (
            &["repo", "context", "job_workflow_ref"],
            Some(&prod),
            &[],
            "octo-org",
            "repo:octo-org/octo-repo:environment:prod:job_workflow_ref:octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main",
        ),
        // "Granting access to a specific repository": `repo` is written repo:ORG-NAME/REPO-NAME.
        (&["repo"], None, &[], "octo-org", "repo:octo-org/octo-repo"),
        // "Filtering on a repository custom property".
        (
            &["repo_property_workspace_id"],
            None,
            &[("repo_property_workspace_id", "ws-abc123")],
            "octo-org",
            "repo_property_workspace_id:ws-abc123",
        ),
        // "Resetting organization template customizations": the default subject.
        (
            &["repo", "context"],
            Some(&prod),
            &[],
            "octo-org",
            "repo:octo-org/octo-repo:environment:prod",
        ),
    ];
    for (template, entity, extra, owner, expected) in cases {
        let repository = Repository {
            owner: owner.to_owned(),
            ..octo(false)
        };
        let claims = claims(extra);
        let values = TemplateValues {
            entity,
            job_workflow_ref: Some(WORKFLOW),
            claims: &claims,
        };
        assert_eq!(
            templated_subject(&repository, false, &keys(template), &values).as_deref(),
            Ok(expected),
            "{template:?}"
        );
    }
    // "Context value with `:`": environment production:eastus.
    assert_eq!(
        build(
            &["environment", "repository_owner"],
            Some(&environment("production:eastus")),
            None,
            &[],
            false
        )
        .as_deref(),
        Ok("environment:production%3Aeastus:repository_owner:octo-org")
    );
    // "Using system-generated GUIDs": repository_id, or repository_owner_id, alone.
    assert_eq!(
        build(&["repository_id"], None, None, &[], true).as_deref(),
        Ok("repository_id:456789")
    );
    assert_eq!(
        build(&["repository_owner_id"], None, None, &[], true).as_deref(),
        Ok("repository_owner_id:123456")
    );
}

#[test]
fn the_default_template_is_the_default_subject_for_every_context() {
    let entities = [
        environment("Production:V1"),
        Entity::PullRequest,
        branch("demo-branch"),
        Entity::Tag("demo-tag".to_owned()),
    ];
    for entity in &entities {
        for id_based in [false, true] {
            let none = BTreeMap::new();
            let values = TemplateValues {
                entity: Some(entity),
                job_workflow_ref: None,
                claims: &none,
            };
            assert_eq!(
                templated_subject(&octo(true), id_based, &keys(&["repo", "context"]), &values).ok(),
                subject(&octo(true), entity, id_based),
                "{entity:?}, id-based {id_based}"
            );
        }
    }
    // The docs' examples of the default subject, the immutable form among them.
    assert_eq!(
        subject(&octo(false), &environment("Production:V1"), false).as_deref(),
        Some("repo:octo-org/octo-repo:environment:Production%3AV1")
    );
    assert_eq!(
        subject(&octo(true), &branch("main"), true).as_deref(),
        Some("repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main")
    );
}

#[test]
fn each_key_alone() {
    let main = branch("main");
    let tag = Entity::Tag("v1.2.3".to_owned());
    let prod = environment("prod");
    let cases: [(&str, Option<&Entity>, &str); 14] = [
        ("repo", None, "repo:octo-org/octo-repo"),
        ("context", Some(&main), "ref:refs/heads/main"),
        ("context", Some(&tag), "ref:refs/tags/v1.2.3"),
        ("context", Some(&prod), "environment:prod"),
        ("context", Some(&Entity::PullRequest), "pull_request"),
        ("repository", None, "repository:octo-org/octo-repo"),
        ("repository_owner", None, "repository_owner:octo-org"),
        ("repository_owner_id", None, "repository_owner_id:123456"),
        ("repository_id", None, "repository_id:456789"),
        ("environment", Some(&prod), "environment:prod"),
        ("ref", Some(&main), "ref:refs/heads/main"),
        ("ref", Some(&tag), "ref:refs/tags/v1.2.3"),
        ("ref_type", Some(&main), "ref_type:branch"),
        ("ref_type", Some(&tag), "ref_type:tag"),
    ];
    for (key, entity, expected) in cases {
        assert_eq!(
            build(&[key], entity, None, &[], true).as_deref(),
            Ok(expected),
            "{key} for {entity:?}"
        );
    }
    assert_eq!(
        build(&["job_workflow_ref"], None, Some(WORKFLOW), &[], false).as_deref(),
        Ok("job_workflow_ref:octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main")
    );
    // Any other claim (and a repo_property_*) takes its value from --claim.
    for key in [
        "repository_visibility",
        "actor",
        "workflow",
        "repo_property_team",
    ] {
        assert_eq!(
            build(&[key], None, None, &[(key, "x")], false),
            Ok(format!("{key}:x"))
        );
    }
}

#[test]
fn the_id_based_repo_segment_carries_both_ids_whatever_the_template() {
    let none = BTreeMap::new();
    let main = branch("main");
    let values = TemplateValues {
        entity: Some(&main),
        job_workflow_ref: Some(WORKFLOW),
        claims: &none,
    };
    assert_eq!(
        templated_subject(
            &octo(true),
            true,
            &keys(&["job_workflow_ref", "repo"]),
            &values
        )
        .as_deref(),
        Ok(
            "job_workflow_ref:octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main:repo:octo-org@123456/octo-repo@456789"
        )
    );
    // Keys other than `repo` are unchanged by the form.
    for key in ["repository", "repository_owner", "context"] {
        assert_eq!(
            templated_subject(&octo(true), true, &keys(&[key]), &values),
            templated_subject(&octo(true), false, &keys(&[key]), &values),
            "{key}"
        );
    }
    // Without the IDs there is no ID-based `repo` segment: the refusal names both flags.
    for repository in [
        Repository {
            owner_id: None,
            ..octo(true)
        },
        Repository {
            repository_id: None,
            ..octo(true)
        },
    ] {
        assert_eq!(
            templated_subject(&repository, true, &keys(&["repo"]), &values),
            Err(FicError::MissingClaim {
                key: "repo".to_owned(),
                fix: "--owner-id and --repository-id".to_owned()
            })
        );
    }
}

#[test]
fn keys_combine_in_the_templates_order() {
    let prod = environment("prod");
    let forward = build(
        &["repository_owner", "environment", "repo", "repository_id"],
        Some(&prod),
        None,
        &[],
        true,
    );
    assert_eq!(
        forward.as_deref(),
        Ok(
            "repository_owner:octo-org:environment:prod:repo:octo-org/octo-repo:repository_id:456789"
        )
    );
    let backward = build(
        &["repository_id", "repo", "environment", "repository_owner"],
        Some(&prod),
        None,
        &[],
        true,
    );
    assert_eq!(
        backward.as_deref(),
        Ok(
            "repository_id:456789:repo:octo-org/octo-repo:environment:prod:repository_owner:octo-org"
        )
    );
    assert_eq!(build(&[], None, None, &[], false).as_deref(), Ok(""));
}

#[test]
fn colons_in_values_are_escaped_and_nothing_else_is() {
    let env = environment("prod:west us/2@a%3Ab");
    assert_eq!(
        build(&["environment"], Some(&env), None, &[], false).as_deref(),
        Ok("environment:prod%3Awest us/2@a%3Ab")
    );
    assert_eq!(
        build(&["context"], Some(&env), None, &[], false).as_deref(),
        Ok("environment:prod%3Awest us/2@a%3Ab")
    );
    assert_eq!(
        build(
            &["job_workflow_ref"],
            None,
            Some("o/r/.github/workflows/w.yml@a:b"),
            &[],
            false
        )
        .as_deref(),
        Ok("job_workflow_ref:o/r/.github/workflows/w.yml@a%3Ab")
    );
    assert_eq!(
        build(
            &["repo_property_regions"],
            None,
            None,
            &[("repo_property_regions", "us:east,eu:west")],
            false
        )
        .as_deref(),
        Ok("repo_property_regions:us%3Aeast,eu%3Awest")
    );
    let tag = Entity::Tag("a:b".to_owned());
    assert_eq!(
        build(&["ref", "context"], Some(&tag), None, &[], false).as_deref(),
        Ok("ref:refs/tags/a%3Ab:ref:refs/tags/a%3Ab")
    );
    assert_eq!(escape_value("a:b::c"), "a%3Ab%3A%3Ac");
    assert_eq!(escape_value("no colon"), "no colon");
}

#[test]
fn a_claim_given_wins_over_the_derived_value() {
    assert_eq!(
        build(
            &["repository_owner", "ref"],
            Some(&branch("main")),
            None,
            &[
                ("repository_owner", "other:org"),
                ("ref", "refs/pull/7/merge")
            ],
            false
        )
        .as_deref(),
        Ok("repository_owner:other%3Aorg:ref:refs/pull/7/merge")
    );
}

#[test]
fn a_key_without_a_value_names_the_flag_that_gives_it() {
    let prod = environment("prod");
    let main = branch("main");
    let pull = Entity::PullRequest;
    let cases: [(&str, Option<&Entity>, &str); 14] = [
        ("repository_owner_id", None, "--owner-id"),
        ("repository_id", None, "--repository-id"),
        (
            "environment",
            None,
            "--environment NAME (GitHub then requires the job to use an environment)",
        ),
        (
            "environment",
            Some(&main),
            "--claim environment=NAME (--environment, --branch, --tag and --pull-request exclude each other); GitHub then requires the job to use an environment",
        ),
        (
            "environment",
            Some(&pull),
            "--claim environment=NAME (--environment, --branch, --tag and --pull-request exclude each other); GitHub then requires the job to use an environment",
        ),
        ("ref", None, "--branch or --tag"),
        ("ref_type", None, "--branch or --tag"),
        (
            "ref",
            Some(&prod),
            "--claim ref=REF, e.g. ref=refs/heads/main (--environment, --branch, --tag and --pull-request exclude each other)",
        ),
        (
            "ref",
            Some(&pull),
            "--claim ref=REF, e.g. ref=refs/heads/main (--environment, --branch, --tag and --pull-request exclude each other)",
        ),
        (
            "ref_type",
            Some(&prod),
            "--claim ref_type=branch or ref_type=tag (--environment, --branch, --tag and --pull-request exclude each other)",
        ),
        (
            "job_workflow_ref",
            None,
            "--job-workflow-ref OWNER/REPO/.github/workflows/FILE.yml@REF",
        ),
        (
            "repository_visibility",
            None,
            "--claim repository_visibility=VALUE",
        ),
        (
            "repo_property_team",
            Some(&main),
            "--claim repo_property_team=VALUE",
        ),
        ("actor", None, "--claim actor=VALUE"),
    ];
    for (key, entity, fix) in cases {
        let error = build(&["repo", key], entity, None, &[], false).expect_err(key);
        assert_eq!(
            error,
            FicError::MissingClaim {
                key: key.to_owned(),
                fix: fix.to_owned()
            },
            "{key} for {entity:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("--claim-keys includes {key}, so the subject needs its value: {fix}")
        );
    }
    // `context` without a context flag: the refusal lists the four.
    assert_eq!(
        build(&["repo", "context"], None, None, &[], false),
        Err(FicError::NoEntity)
    );
    // The refusal comes whatever the position of the key.
    assert_eq!(
        refusal(build(&["repository_id", "repo"], None, None, &[], false)),
        "--repository-id"
    );
}

#[test]
fn the_generator_refuses_with_the_same_flags() {
    // Through `credentials`, as `federated-credential` calls it: the refusal names a flag that
    // combines with the ones given.
    let request = |entity: Entity, template: &[&str]| Request {
        repository: "octo-org/octo-repo".to_owned(),
        entity: Some(entity),
        issuer: GITHUB_ISSUER.to_owned(),
        audience: "api://AzureADTokenExchange".to_owned(),
        claim_keys: Some(keys(template)),
        ..Request::default()
    };
    let mut with_ref = request(environment("prod"), &["environment", "ref"]);
    let error = credentials(&with_ref).expect_err("no ref");
    assert!(error.to_string().contains("--claim ref=REF"), "{error}");
    with_ref.claims = vec!["ref=refs/heads/main".to_owned()];
    assert_eq!(
        credentials(&with_ref).expect("ok")[0].subject.as_deref(),
        Some("environment:prod:ref:refs/heads/main")
    );
}

// ---------------------------------------------------------------------------------------------
// A token carrying the claims: the subject GitHub would put in it, and what `explain` shows.

/// What a GitHub token carries about the run (the claims a template can name).
#[derive(Clone, Debug)]
struct Run {
    owner: String,
    name: String,
    owner_id: u64,
    repository_id: u64,
    environment: Option<String>,
    /// Branch (`true`) or tag, and its name; a `pull_request` run when `pull_request` is set.
    ref_is_branch: bool,
    ref_name: String,
    pull_request: bool,
    job_workflow_ref: String,
    visibility: String,
    property: String,
}

impl Run {
    fn claims(&self) -> Map<String, Value> {
        let git_ref = if self.pull_request {
            "refs/pull/7/merge".to_owned()
        } else if self.ref_is_branch {
            format!("refs/heads/{}", self.ref_name)
        } else {
            format!("refs/tags/{}", self.ref_name)
        };
        let mut claims = Map::new();
        for (key, value) in [
            ("repository", format!("{}/{}", self.owner, self.name)),
            ("repository_owner", self.owner.clone()),
            ("repository_owner_id", self.owner_id.to_string()),
            ("repository_id", self.repository_id.to_string()),
            ("ref", git_ref),
            (
                "ref_type",
                if self.ref_is_branch || self.pull_request {
                    "branch"
                } else {
                    "tag"
                }
                .to_owned(),
            ),
            (
                "event_name",
                if self.pull_request {
                    "pull_request"
                } else {
                    "push"
                }
                .to_owned(),
            ),
            ("job_workflow_ref", self.job_workflow_ref.clone()),
            ("repository_visibility", self.visibility.clone()),
            ("repo_property_workspace_id", self.property.clone()),
        ] {
            claims.insert(key.to_owned(), Value::from(value));
        }
        if let Some(environment) = &self.environment {
            claims.insert("environment".to_owned(), Value::from(environment.clone()));
        }
        claims
    }

    /// The subject GitHub issues for `template`, written from the docs' rules over the token's
    /// claims (not from the generator): `key:value` in the template's order, `:` in values as
    /// `%3A`; `repo` as `repo:OWNER/REPO` (with the IDs in the ID-based form); `context` as the
    /// default subject's tail: the environment when the job has one, else `pull_request` for that
    /// event, else `ref:REF`.
    fn github_subject(&self, template: &[String], id_based: bool) -> String {
        let claims = self.claims();
        let escape = |v: &str| v.replace(':', "%3A");
        let claim = |key: &str| claims.get(key).and_then(Value::as_str).map(escape);
        template
            .iter()
            .map(|key| match key.as_str() {
                "repo" if id_based => format!(
                    "repo:{}@{}/{}@{}",
                    self.owner, self.owner_id, self.name, self.repository_id
                ),
                "repo" => format!("repo:{}/{}", self.owner, self.name),
                "context" => match (&self.environment, self.pull_request) {
                    (Some(environment), _) => format!("environment:{}", escape(environment)),
                    (None, true) => "pull_request".to_owned(),
                    (None, false) => format!("ref:{}", claim("ref").unwrap_or_default()),
                },
                other => format!("{other}:{}", claim(other).unwrap_or_default()),
            })
            .collect::<Vec<_>>()
            .join(":")
    }

    /// The flags a user reads off the token's claims: one context flag, the IDs, the workflow,
    /// and `--claim` for a templated value no flag gives.
    fn request(&self, template: &[String]) -> Request {
        let entity = match (&self.environment, self.pull_request) {
            (Some(environment), _) => Entity::Environment(environment.clone()),
            (None, true) => Entity::PullRequest,
            (None, false) if self.ref_is_branch => Entity::Branch(self.ref_name.clone()),
            (None, false) => Entity::Tag(self.ref_name.clone()),
        };
        let derivable = |key: &str| match key {
            "environment" => self.environment.is_some(),
            "ref" | "ref_type" => self.environment.is_none() && !self.pull_request,
            "repository_visibility" | "repo_property_workspace_id" => false,
            _ => true,
        };
        let claims = self.claims();
        Request {
            repository: format!("{}/{}", self.owner, self.name),
            owner_id: Some(self.owner_id),
            repository_id: Some(self.repository_id),
            entity: Some(entity),
            issuer: GITHUB_ISSUER.to_owned(),
            audience: "api://AzureADTokenExchange".to_owned(),
            name: None,
            claim_keys: Some(template.to_vec()),
            claims: template
                .iter()
                .filter(|key| !derivable(key))
                .map(|key| {
                    format!(
                        "{key}={}",
                        claims[key.as_str()].as_str().unwrap_or_default()
                    )
                })
                .collect(),
            // Outside the template, the workflow would be matched on its own (a flexible credential).
            job_workflow_ref: template
                .iter()
                .any(|key| key == "job_workflow_ref")
                .then(|| self.job_workflow_ref.clone()),
        }
    }
}

/// An unsigned JWT with these claims (explain's report reads claims without verifying them).
fn unsigned_token(claims: &Map<String, Value>) -> Secret {
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    Secret::new(format!(
        "{}.{}.c2ln",
        part(&json!({"alg": "RS256", "typ": "JWT", "kid": "k"})),
        part(&Value::Object(claims.clone()))
    ))
}

/// The `subject` of the credential `explain` proposes for `token`.
fn explained_subject(token: &Secret) -> String {
    let unchecked = Err(ExplainError::IssuerNotHttps("not checked here".to_owned()));
    let lines = report_lines(token, "a test", None, None, &unchecked, 0).expect("a JWT");
    let json: String = lines
        .iter()
        .skip_while(|line| !line.starts_with("  {"))
        .take_while(|line| !line.starts_with("  }"))
        .chain(std::iter::once(&"}".to_owned()))
        .map(String::as_str)
        .collect();
    let credential: Value = serde_json::from_str(&json).expect("the credential as JSON");
    credential["subject"]
        .as_str()
        .expect("a subject")
        .to_owned()
}

fn documented_run() -> Run {
    Run {
        owner: "octo-org".to_owned(),
        name: "octo-repo".to_owned(),
        owner_id: 123_456,
        repository_id: 456_789,
        environment: Some("prod".to_owned()),
        ref_is_branch: true,
        ref_name: "main".to_owned(),
        pull_request: false,
        job_workflow_ref: WORKFLOW.to_owned(),
        visibility: "private".to_owned(),
        property: "ws-abc123".to_owned(),
    }
}

/// A token's claims give flags, the flags give credentials, and one of them has the token's
/// subject; `explain` proposes a credential with that same subject.
fn assert_round_trip(run: &Run, template: &[String], id_based: bool) {
    let sub = run.github_subject(template, id_based);
    let mut claims = run.claims();
    claims.insert("sub".to_owned(), Value::from(sub.clone()));
    claims.insert("iss".to_owned(), Value::from(GITHUB_ISSUER));
    claims.insert("aud".to_owned(), Value::from("api://AzureADTokenExchange"));
    let generated: Vec<String> = credentials(&run.request(template))
        .unwrap_or_else(|error| panic!("{template:?} for {run:?}: {error}"))
        .into_iter()
        .filter_map(|credential| credential.subject)
        .collect();
    // The name-based credential first; the ID-based one only when the template has `repo`.
    let index = usize::from(id_based && template.iter().any(|k| k == "repo"));
    assert_eq!(
        generated.get(index),
        Some(&sub),
        "{template:?}: {generated:?}"
    );
    assert_eq!(explained_subject(&unsigned_token(&claims)), sub);
}

#[test]
fn explain_shows_the_documented_subjects_for_tokens_carrying_their_claims() {
    let run = documented_run();
    assert_round_trip(&run, &keys(&["repo", "context", "job_workflow_ref"]), false);
    assert_eq!(
        run.github_subject(&keys(&["repo", "context", "job_workflow_ref"]), false),
        "repo:octo-org/octo-repo:environment:prod:job_workflow_ref:octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main"
    );
    let eastus = Run {
        environment: Some("production:eastus".to_owned()),
        ..run.clone()
    };
    assert_round_trip(&eastus, &keys(&["environment", "repository_owner"]), false);
    assert_eq!(
        eastus.github_subject(&keys(&["environment", "repository_owner"]), false),
        "environment:production%3Aeastus:repository_owner:octo-org"
    );
    for template in [
        &["repository_owner", "repository_visibility"][..],
        &["repository_owner"],
        &["job_workflow_ref"],
        &["repo"],
        &["repository_id"],
        &["repository_owner_id"],
        &["repo_property_workspace_id"],
        &["repo", "context"],
    ] {
        for id_based in [false, true] {
            assert_round_trip(&run, &keys(template), id_based);
        }
    }
    let on_a_tag = Run {
        environment: None,
        ref_is_branch: false,
        ref_name: "v1.2.3".to_owned(),
        ..run.clone()
    };
    assert_round_trip(&on_a_tag, &keys(&["repo", "ref", "ref_type"]), true);
    assert_eq!(
        on_a_tag.github_subject(&keys(&["repo", "ref", "ref_type"]), true),
        "repo:octo-org@123456/octo-repo@456789:ref:refs/tags/v1.2.3:ref_type:tag"
    );
}

/// Every key the generator supports, plus the ones only `--claim` gives.
const TEMPLATE_KEYS: [&str; 12] = [
    "repo",
    "context",
    "repository",
    "repository_owner",
    "repository_owner_id",
    "repository_id",
    "environment",
    "ref",
    "ref_type",
    "job_workflow_ref",
    "repository_visibility",
    "repo_property_workspace_id",
];

fn run_strategy() -> impl Strategy<Value = Run> {
    let name = "[a-z0-9][a-z0-9-]{0,8}";
    // Environment names and workflow refs may hold `:`; git refs may not.
    let free = "[a-zA-Z0-9:/@. _-]{1,12}";
    (
        (name, name, 1..u64::MAX, 1..u64::MAX),
        (
            proptest::option::of(free),
            any::<bool>(),
            // At most one `/`: never a pasted `refs/heads/...` or `refs/tags/...`.
            "[a-z0-9][a-z0-9._-]{0,6}(/[a-z0-9._-]{1,4})?",
            any::<bool>(),
        ),
        (free, prop_oneof!["public", "private", "internal"], free),
    )
        .prop_map(
            |(
                (owner, name, owner_id, repository_id),
                (environment, ref_is_branch, ref_name, pull_request),
                (workflow, visibility, property),
            )| Run {
                owner,
                name,
                owner_id,
                repository_id,
                environment,
                ref_is_branch,
                ref_name,
                pull_request,
                job_workflow_ref: format!("o/r/.github/workflows/{workflow}"),
                visibility,
                property,
            },
        )
}

/// GitHub requires an environment when the template names `environment`: such a run has one.
fn fit(mut run: Run, template: &[String]) -> Run {
    if template.iter().any(|key| key == "environment") && run.environment.is_none() {
        run.environment = Some("production:eastus".to_owned());
    }
    run
}

fn template_strategy() -> impl Strategy<Value = Vec<String>> {
    proptest::sample::subsequence(TEMPLATE_KEYS.to_vec(), 1..=TEMPLATE_KEYS.len())
        .prop_shuffle()
        .prop_map(|keys| keys.into_iter().map(str::to_owned).collect())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Any template (keys in any order) over any run: the generator gives GitHub's subject, and
    /// `explain` shows it for a token carrying those claims.
    #[test]
    fn any_template_round_trips_through_explain(
        run in run_strategy(),
        template in template_strategy(),
        id_based in any::<bool>(),
    ) {
        assert_round_trip(&fit(run, &template), &template, id_based);
    }

    /// A template's subject is its keys' subjects, each on its own, joined by `:` in order.
    #[test]
    fn a_template_is_its_keys_joined_in_order(
        run in run_strategy(),
        template in template_strategy(),
    ) {
        let run = fit(run, &template);
        let request = run.request(&template);
        let single = |key: &String| {
            credentials(&run.request(std::slice::from_ref(key))).expect("one key")[0].subject.clone().expect("exact")
        };
        let joined = template.iter().map(single).collect::<Vec<_>>().join(":");
        let whole = credentials(&request).expect("the template")[0].subject.clone();
        prop_assert_eq!(whole, Some(joined));
    }
}

#[test]
fn subject_forms_read_the_repo_segment_wherever_it_is() {
    assert_eq!(
        subject_form("repository_owner:o:repo:o@1/r@2"),
        Some(SubjectForm::IdBased)
    );
    assert_eq!(
        subject_form("environment:prod:repo:o/r"),
        Some(SubjectForm::NameBased)
    );
    // `repo` inside another key's name or value is no repo segment.
    assert_eq!(subject_form("xrepo:o/r"), None);
    assert_eq!(subject_form("repo:just-a-name:ref:refs/heads/a/b"), None);
    assert_eq!(
        name_based("job_workflow_ref:o/w@refs/heads/main:repo:o@1/r@2:environment:prod").as_deref(),
        Some("job_workflow_ref:o/w@refs/heads/main:repo:o/r:environment:prod")
    );
    assert_eq!(name_based("repo:no-slash"), None);
    assert_eq!(name_based("repository_owner:o"), None);
    assert_eq!(
        form_mismatch("repo:o@1/r@2:pull_request", "repo:o/r:pull_request").as_deref(),
        Some(
            "warning: the token presents the ID-based (repo:OWNER@ID/REPO@ID:...) subject form, the credential has the name-based (repo:OWNER/REPO:...) form; they never match. GitHub switches a repository to the ID-based form when it is created, renamed or transferred after 15 July 2026, or when it opts in; until then it presents the name-based form."
        )
    );
    assert!(
        form_mismatch("repo:o/r:pull_request", "repo:o@1/r@2:pull_request")
            .is_some_and(|w| w.contains("presents the name-based (repo:OWNER/REPO:...) subject form, the credential has the ID-based"))
    );
    assert_eq!(form_mismatch("repo:o/r:x", "repo:o/r:y"), None);
    assert_eq!(form_mismatch("repository_owner:o", "repo:o@1/r@2:y"), None);
    assert_eq!(form_mismatch("repo:o@1/r@2:x", "repository_owner:o"), None);
    assert_eq!(
        presented_form_note("repo:o@1/r@2:pull_request").as_deref(),
        Some(
            "This token presents the ID-based subject form; a credential with the name-based form \"repo:o/r:pull_request\" does not match it. GitHub switches a repository to the ID-based form when it is created, renamed or transferred after 15 July 2026, or when it opts in; until then it presents the name-based form."
        )
    );
    assert_eq!(presented_form_note("repository_owner:o"), None);
}

#[test]
fn pasted_refs_are_normalised_and_the_wrong_kind_refused() {
    assert_eq!(
        normalise_entity(Entity::Tag("refs/tags/v1".to_owned())),
        Ok(Entity::Tag("v1".to_owned()))
    );
    assert_eq!(
        normalise_entity(Entity::Tag("v1".to_owned())),
        Ok(Entity::Tag("v1".to_owned()))
    );
    assert_eq!(normalise_entity(branch("main")), Ok(branch("main")));
    assert_eq!(
        normalise_entity(environment("refs/heads/x")),
        Ok(environment("refs/heads/x"))
    );
    assert_eq!(
        normalise_entity(Entity::PullRequest),
        Ok(Entity::PullRequest)
    );
    assert_eq!(
        normalise_entity(Entity::Tag("refs/heads/main".to_owned())),
        Err(FicError::Ref {
            flag: "--tag",
            value: "refs/heads/main".to_owned(),
            fix: "that is not a --tag ref; use --branch main".to_owned()
        })
    );
    assert_eq!(
        normalise_entity(Entity::Tag("refs/pull/3/merge".to_owned())),
        Err(FicError::Ref {
            flag: "--tag",
            value: "refs/pull/3/merge".to_owned(),
            fix: "pull request runs present ...:pull_request; use --pull-request".to_owned()
        })
    );
    assert_eq!(
        normalise_entity(Entity::Tag("refs/tags/".to_owned())),
        Err(FicError::Ref {
            flag: "--tag",
            value: "refs/tags/".to_owned(),
            fix: "give the name after refs/tags/".to_owned()
        })
    );
}

#[test]
fn the_flag_a_refusal_names_combines_with_the_context_flag_given() {
    let run = |args: &[&str]| {
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let args = args.iter().map(|a| (*a).to_owned()).collect();
        crate::cli::main_with(args, &|_| Ok(None), &mut stdout, &mut stderr);
        (
            String::from_utf8(stdout).expect("utf-8"),
            String::from_utf8(stderr).expect("utf-8"),
        )
    };
    let base = [
        "federated-credential",
        "--repository",
        "octo-org/octo-repo",
        "--environment",
        "prod",
        "--claim-keys",
        "environment,ref",
    ];
    // The context flags exclude each other, so `--branch` (what the refusal used to name) cannot
    // give an environment job's ref.
    let (_, stderr) = run(&[&base[..], &["--branch", "main"]].concat());
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    let (_, stderr) = run(&base);
    assert!(stderr.contains("--claim ref=REF"), "{stderr}");
    let (stdout, stderr) = run(&[&base[..], &["--claim", "ref=refs/heads/main"]].concat());
    assert!(
        stdout.contains(r#""subject":"environment:prod:ref:refs/heads/main""#),
        "{stdout}{stderr}"
    );
}
