//! Unit tests of the classifier: every finding code from plain data, and the edges that decide
//! between them.
use super::*;
use crate::audit::findings::Severity;

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const AUDIENCE: &str = "api://AzureADTokenExchange";
const CONTEXT: Context<'static> = Context {
    audience: AUDIENCE,
    cloud: "AzureCloud",
};

fn exact(name: &str, subject: &str) -> Deployed {
    Deployed {
        name: name.to_owned(),
        issuer: ISSUER.to_owned(),
        subject: Some(subject.to_owned()),
        expression: None,
        audiences: vec![AUDIENCE.to_owned()],
    }
}

fn flexible(name: &str, expression: &str) -> Deployed {
    Deployed {
        name: name.to_owned(),
        issuer: ISSUER.to_owned(),
        subject: None,
        expression: Some(expression.to_owned()),
        audiences: vec![AUDIENCE.to_owned()],
    }
}

fn repository(full_name: &str, form: PresentedForm, template: Template) -> Repository {
    Repository {
        full_name: full_name.to_owned(),
        owner_id: 123_456,
        id: 456_789,
        template,
        form,
    }
}

fn found(repo: Repository, environment_exists: Option<bool>) -> GitHubFacts {
    GitHubFacts {
        lookup: Lookup::Found(repo),
        environment_exists,
        authenticated: true,
    }
}

fn id_repo() -> Repository {
    repository(
        "octo-org/octo-repo",
        PresentedForm::IdBased,
        Template::Default,
    )
}

fn codes(findings: &[Finding]) -> Vec<Code> {
    findings.iter().map(|f| f.code).collect()
}

#[test]
fn codes_and_severities_are_the_documented_ones() {
    let table: Vec<(&str, Severity)> = Code::ALL
        .iter()
        .map(|c| (c.as_str(), c.severity()))
        .collect();
    use Severity::{Error, Warning};
    assert_eq!(
        table,
        [
            ("repository-not-found", Error),
            ("repository-renamed", Error),
            ("environment-not-found", Error),
            ("subject-form-mismatch", Error),
            ("issuer-mismatch", Error),
            ("case-mismatch", Error),
            ("not-deployed", Error),
            ("differs-from-declared", Error),
            ("mutable-subject", Warning),
            ("pull-request-subject", Warning),
            ("wildcard-owner", Warning),
            ("duplicate", Warning),
            ("unusual-audience", Warning),
            ("undeclared", Warning),
            ("capacity", Warning),
        ]
    );
}

#[test]
fn issuers_are_github_near_github_or_other() {
    let github = |sub: Option<&str>| IssuerKind::GitHub {
        ghe_subdomain: sub.map(str::to_owned),
    };
    assert_eq!(issuer_kind(ISSUER), github(None));
    assert_eq!(issuer_kind(&format!("{ISSUER}/octo-inc")), github(None));
    assert_eq!(
        issuer_kind("https://token.actions.octocorp.ghe.com"),
        github(Some("octocorp"))
    );
    for near in [
        format!("{ISSUER}/"),
        "http://token.actions.githubusercontent.com".to_owned(),
        "https://Token.Actions.GitHubUserContent.com".to_owned(),
        "https://token.actions.octocorp.ghe.com/".to_owned(),
    ] {
        assert!(
            matches!(issuer_kind(&near), IssuerKind::NearGitHub { .. }),
            "{near}"
        );
    }
    assert_eq!(
        issuer_kind(&format!("{ISSUER}/")),
        IssuerKind::NearGitHub {
            canonical: ISSUER.to_owned()
        }
    );
    for other in [
        "https://ghes.example.com/_services/token",
        "https://oidc.prod-aks.azure.com/tenant/issuer",
        "https://token.actions.githubusercontent.com.evil.example",
        "https://token.actions..ghe.com",
    ] {
        assert_eq!(issuer_kind(other), IssuerKind::Other, "{other}");
    }
}

#[test]
fn subjects_come_apart_by_key() {
    let parts =
        parse_subject("repo:octo-org@1/octo-repo@2:environment:Prod%3AEU").expect("test value");
    assert_eq!(parts.keys, ["repo", "environment"]);
    assert_eq!(
        parts.repo,
        Some(RepoRef {
            owner: "octo-org".to_owned(),
            name: "octo-repo".to_owned(),
            ids: Some((1, 2)),
        })
    );
    assert_eq!(parts.environment.as_deref(), Some("Prod:EU"));
    let pr = parse_subject("repo:o/r:pull_request").expect("test value");
    assert!(pr.pull_request);
    assert_eq!(pr.keys, ["repo", "pull_request"]);
    let custom = parse_subject(
        "repo:o/r:context:x:job_workflow_ref:o/r/.github/workflows/d.yml@refs/heads/main",
    );
    assert_eq!(
        custom.expect("test value").keys,
        ["repo", "context", "job_workflow_ref"]
    );
    assert!(parse_subject("repo:o/r:ref").is_none());
    assert!(parse_subject("repo:o@1/r:ref:refs/heads/main").is_none());
    assert!(fits_template(
        &default_template(),
        &parse_subject("repo:o/r:ref:refs/heads/main")
            .expect("test value")
            .keys
    ));
    assert!(!fits_template(
        &default_template(),
        &parse_subject("repository_owner:o:ref:refs/heads/main")
            .expect("test value")
            .keys
    ));
}

#[test]
fn a_healthy_credential_has_no_finding() {
    let credential = exact(
        "github-prod",
        "repo:octo-org@123456/octo-repo@456789:environment:production",
    );
    let facts = found(id_repo(), Some(true));
    assert_eq!(classify(&credential, Some(&facts), &CONTEXT), []);
}

#[test]
fn repository_not_found_says_the_name_can_be_claimed() {
    let credential = exact("old", "repo:octo-org/gone:ref:refs/heads/main");
    let facts = GitHubFacts {
        lookup: Lookup::NotFound,
        environment_exists: None,
        authenticated: false,
    };
    let findings = classify(&credential, Some(&facts), &CONTEXT);
    assert_eq!(codes(&findings), [Code::RepositoryNotFound]);
    assert!(findings[0].message.contains("anyone who creates"));
    assert!(findings[0].message.contains("delete this credential"));
    assert!(findings[0].message.contains("GITHUB_TOKEN"));
    let authenticated = GitHubFacts {
        authenticated: true,
        ..facts
    };
    let findings = classify(&credential, Some(&authenticated), &CONTEXT);
    assert!(!findings[0].message.contains("without GITHUB_TOKEN"));
    assert!(findings[0].message.contains("the GitHub token cannot read"));
}

#[test]
fn repository_renamed_by_redirect_or_by_id() {
    let credential = exact("old", "repo:octo-org/old-name:ref:refs/heads/main");
    let moved = GitHubFacts {
        lookup: Lookup::Moved {
            now: Some(repository(
                "octo-org/new-name",
                PresentedForm::IdBased,
                Template::Default,
            )),
        },
        environment_exists: None,
        authenticated: true,
    };
    let findings = classify(&credential, Some(&moved), &CONTEXT);
    assert_eq!(codes(&findings), [Code::RepositoryRenamed]);
    assert!(findings[0].message.contains("octo-org/new-name"));
    assert!(
        findings[0]
            .message
            .contains("--owner-id 123456 --repository-id 456789")
    );

    let by_id = exact(
        "id",
        "repo:octo-org@123456/old-name@456789:ref:refs/heads/main",
    );
    let findings = classify(&by_id, Some(&found(id_repo(), None)), &CONTEXT);
    assert_eq!(codes(&findings), [Code::RepositoryRenamed]);
    assert!(
        findings[0]
            .message
            .contains("repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main")
    );
}

#[test]
fn case_mismatch_when_only_letter_case_differs() {
    let credential = exact(
        "c",
        "repo:Octo-Org@123456/Octo-Repo@456789:ref:refs/heads/main",
    );
    let findings = classify(&credential, Some(&found(id_repo(), None)), &CONTEXT);
    assert_eq!(codes(&findings), [Code::CaseMismatch]);
    assert!(
        findings[0]
            .message
            .contains("\"repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main\"")
    );
}

#[test]
fn environment_not_found_only_when_github_says_so() {
    let credential = exact(
        "e",
        "repo:octo-org@123456/octo-repo@456789:environment:staging",
    );
    let missing = classify(&credential, Some(&found(id_repo(), Some(false))), &CONTEXT);
    assert_eq!(codes(&missing), [Code::EnvironmentNotFound]);
    assert!(missing[0].message.contains("\"staging\""));
    assert_eq!(
        classify(&credential, Some(&found(id_repo(), None)), &CONTEXT),
        []
    );
}

#[test]
fn subject_form_mismatch_for_a_custom_template() {
    let custom = Template::Custom(vec![
        "repo".to_owned(),
        "context".to_owned(),
        "job_workflow_ref".to_owned(),
    ]);
    let credential = exact(
        "t",
        "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main",
    );
    let facts = found(
        repository("octo-org/octo-repo", PresentedForm::IdBased, custom.clone()),
        None,
    );
    let findings = classify(&credential, Some(&facts), &CONTEXT);
    assert_eq!(codes(&findings), [Code::SubjectFormMismatch]);
    assert!(
        findings[0]
            .message
            .contains("--claim-keys repo,context,job_workflow_ref")
    );
    // A credential written for that template fits it.
    let fitting = exact(
        "t2",
        "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main:job_workflow_ref:octo-org/octo-repo/.github/workflows/d.yml@refs/heads/main",
    );
    assert_eq!(classify(&fitting, Some(&facts), &CONTEXT), []);
    // And a templated credential on a repository with the default template does not.
    let on_default = found(id_repo(), None);
    assert_eq!(
        codes(&classify(&fitting, Some(&on_default), &CONTEXT)),
        [Code::SubjectFormMismatch]
    );
}

#[test]
fn subject_form_mismatch_between_name_and_id_forms() {
    let name_based = exact("n", "repo:octo-org/octo-repo:ref:refs/heads/main");
    let findings = classify(&name_based, Some(&found(id_repo(), None)), &CONTEXT);
    assert_eq!(
        codes(&findings),
        [Code::SubjectFormMismatch, Code::MutableSubject]
    );
    assert!(
        findings[0]
            .message
            .contains("repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main")
    );
    let id_based = exact(
        "i",
        "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main",
    );
    let name_form = repository(
        "octo-org/octo-repo",
        PresentedForm::NameBased,
        Template::Default,
    );
    let findings = classify(&id_based, Some(&found(name_form, None)), &CONTEXT);
    assert_eq!(codes(&findings), [Code::SubjectFormMismatch]);
    assert!(
        findings[0]
            .message
            .contains("\"repo:octo-org/octo-repo:ref:refs/heads/main\"")
    );
    // Unknown form: no guess.
    let unknown = repository(
        "octo-org/octo-repo",
        PresentedForm::Unknown,
        Template::Default,
    );
    assert_eq!(
        classify(&id_based, Some(&found(unknown, None)), &CONTEXT),
        []
    );
}

#[test]
fn mutable_subject_says_how_to_move_and_what_is_unknown() {
    let credential = exact("m", "repo:octo-org/octo-repo:environment:production");
    let unknown = repository(
        "octo-org/octo-repo",
        PresentedForm::Unknown,
        Template::Default,
    );
    let findings = classify(&credential, Some(&found(unknown, Some(true))), &CONTEXT);
    assert_eq!(codes(&findings), [Code::MutableSubject]);
    let message = &findings[0].message;
    assert!(message.contains("repo:octo-org@123456/octo-repo@456789:environment:production"));
    assert!(
        message.contains("--environment 'production' --owner-id 123456 --repository-id 456789")
    );
    assert!(message.contains("unknown"));
    assert!(message.contains("without an outage"));
    let branch = exact("b", "repo:octo-org/octo-repo:ref:refs/heads/main");
    let found_branch = found(
        repository(
            "octo-org/octo-repo",
            PresentedForm::NameBased,
            Template::Default,
        ),
        None,
    );
    let findings = classify(&branch, Some(&found_branch), &CONTEXT);
    assert!(
        findings[0]
            .message
            .contains("--branch 'main' --owner-id 123456")
    );
    let tag = exact("t", "repo:octo-org/octo-repo:ref:refs/tags/v1");
    let findings = classify(&tag, Some(&found_branch), &CONTEXT);
    assert!(findings[0].message.contains("--tag 'v1' --owner-id 123456"));
    // On a customised template the command names its keys.
    let keys = vec![
        "repo".to_owned(),
        "context".to_owned(),
        "job_workflow_ref".to_owned(),
    ];
    let templated = exact(
        "j",
        "repo:octo-org/octo-repo:ref:refs/heads/main:job_workflow_ref:o/r/.github/workflows/d.yml@refs/heads/main",
    );
    let custom = found(
        repository(
            "octo-org/octo-repo",
            PresentedForm::NameBased,
            Template::Custom(keys),
        ),
        None,
    );
    let findings = classify(&templated, Some(&custom), &CONTEXT);
    assert_eq!(codes(&findings), [Code::MutableSubject]);
    assert!(
        findings[0].message.contains(
            "--branch 'main' --claim-keys repo,context,job_workflow_ref … --owner-id 123456"
        ),
        "{}",
        findings[0].message
    );
    // Without GitHub's answer the advice still stands, with the IDs to look up.
    let findings = classify(&credential, None, &CONTEXT);
    assert_eq!(codes(&findings), [Code::MutableSubject]);
    assert!(
        findings[0]
            .message
            .contains("gh api repos/octo-org/octo-repo")
    );
}

#[test]
fn pull_request_subjects_exact_and_flexible() {
    let credential = exact("pr", "repo:octo-org@123456/octo-repo@456789:pull_request");
    let findings = classify(&credential, Some(&found(id_repo(), None)), &CONTEXT);
    assert_eq!(codes(&findings), [Code::PullRequestSubject]);
    let pattern = flexible(
        "prs",
        "claims['sub'] matches 'repo:octo-org/octo-*:pull_request'",
    );
    assert_eq!(
        codes(&classify(&pattern, None, &CONTEXT)),
        [Code::WildcardOwner, Code::PullRequestSubject]
    );
}

#[test]
fn wildcard_owner_for_patterns_over_repositories() {
    for wide in [
        "claims['sub'] matches 'repo:octo-org/*:ref:refs/heads/main'",
        "claims['sub'] matches 'repo:*/octo-repo:ref:refs/heads/main'",
        "claims['sub'] matches '*:environment:production'",
        "claims['job_workflow_ref'] eq 'o/r/.github/workflows/d.yml@refs/heads/main' and claims['sub'] matches 'repo:octo-org/*'",
    ] {
        let findings = classify(&flexible("w", wide), None, &CONTEXT);
        assert_eq!(codes(&findings), [Code::WildcardOwner], "{wide}");
    }
    let message = &classify(
        &flexible("w", "claims['sub'] matches 'repo:octo-org/*'"),
        None,
        &CONTEXT,
    )[0]
    .message;
    assert!(message.contains("every repository of octo-org"));
    let narrow = flexible(
        "n",
        "claims['sub'] matches 'repo:octo-org/octo-repo:ref:refs/heads/release/*'",
    );
    assert_eq!(classify(&narrow, None, &CONTEXT), []);
}

#[test]
fn issuer_mismatch_names_the_exact_issuer() {
    let mut credential = exact("i", "repo:octo-org@1/octo-repo@2:ref:refs/heads/main");
    credential.issuer = format!("{ISSUER}/");
    let findings = classify(&credential, None, &CONTEXT);
    assert_eq!(codes(&findings), [Code::IssuerMismatch]);
    assert!(
        findings[0]
            .message
            .contains(&format!("set the issuer to \"{ISSUER}\""))
    );
    // Another issuer is not GitHub's business.
    credential.issuer = "https://ghes.example.com/_services/token".to_owned();
    credential.subject = Some("repo:octo-org/octo-repo:ref:refs/heads/main".to_owned());
    assert_eq!(classify(&credential, None, &CONTEXT), []);
}

#[test]
fn unusual_audience_per_cloud() {
    let mut credential = exact("a", "repo:octo-org@1/octo-repo@2:ref:refs/heads/main");
    credential.audiences = vec!["api://AzureADTokenExchangeUSGov".to_owned()];
    assert_eq!(
        codes(&classify(&credential, None, &CONTEXT)),
        [Code::UnusualAudience]
    );
    let usgov = Context {
        audience: "api://AzureADTokenExchangeUSGov",
        cloud: "AzureUSGovernment",
    };
    assert_eq!(classify(&credential, None, &usgov), []);
}

#[test]
fn duplicates_point_at_each_other() {
    let a = exact("a", "repo:o@1/r@2:ref:refs/heads/main");
    let mut b = a.clone();
    b.name = "b".to_owned();
    let c = exact("c", "repo:o@1/r@2:ref:refs/heads/dev");
    let found = duplicates(&[a, b, c]);
    assert_eq!(codes(&found[0]), [Code::Duplicate]);
    assert!(found[0][0].message.contains("\"b\""));
    assert!(found[1][0].message.contains("\"a\""));
    assert!(found[2].is_empty());
}

#[test]
fn capacity_from_eighteen() {
    assert_eq!(capacity(17, "app registration x"), None);
    let finding = capacity(18, "app registration x").expect("test value");
    assert_eq!(finding.code, Code::Capacity);
    assert!(finding.message.contains("18 of the 20"));
}

#[test]
fn presented_form_trusts_the_prefix_then_the_flag_else_unknown() {
    assert_eq!(
        presented_form(Some("repo:o@1/r@2"), Some(false)),
        PresentedForm::IdBased
    );
    assert_eq!(
        presented_form(Some("repo:o/r"), None),
        PresentedForm::NameBased
    );
    assert_eq!(presented_form(None, Some(true)), PresentedForm::IdBased);
    assert_eq!(presented_form(None, Some(false)), PresentedForm::NameBased);
    assert_eq!(presented_form(None, None), PresentedForm::Unknown);
}

#[test]
fn repository_of_only_for_github_issuers() {
    let credential = exact("r", "repo:octo-org/octo-repo:environment:prod");
    let (repo, environment) = repository_of(&credential).expect("test value");
    assert_eq!(repo.full_name(), "octo-org/octo-repo");
    assert_eq!(environment.as_deref(), Some("prod"));
    let mut other = credential.clone();
    other.issuer = "https://ghes.example.com/_services/token".to_owned();
    assert_eq!(repository_of(&other), None);
}

// The edges below were found by mutation testing (docs/mutation-testing.md, "The trust audit"):
// each pins a decision the tests above left open.

/// A name-based credential on `issuer`, audited without GitHub's answer: a GitHub issuer gets
/// `mutable-subject`, another issuer nothing (its subjects are not GitHub's).
fn audited_under(issuer: &str) -> Vec<Code> {
    let mut credential = exact("i", "repo:octo-org/octo-repo:ref:refs/heads/main");
    credential.issuer = issuer.to_owned();
    codes(&classify(&credential, None, &CONTEXT))
}

#[test]
fn an_enterprise_issuer_path_is_one_slug_of_letters_digits_and_dashes() {
    // https://docs.github.com/en/enterprise-cloud@latest/actions/reference/security/oidc
    // (the enterprise's unique issuer URL: `https://token.actions.githubusercontent.com/SLUG`).
    assert_eq!(
        audited_under(&format!("{ISSUER}/octo-inc2")),
        [Code::MutableSubject]
    );
    for other in [
        format!("{ISSUER}/octo.inc"),
        format!("{ISSUER}/octo_inc"),
        format!("{ISSUER}/octo/inc"),
    ] {
        assert_eq!(issuer_kind(&other), IssuerKind::Other, "{other}");
        assert_eq!(audited_under(&other), [], "{other}");
        let mut credential = exact("i", "repo:octo-org/octo-repo:ref:refs/heads/main");
        credential.issuer = other.clone();
        assert_eq!(repository_of(&credential), None, "{other}");
    }
}

#[test]
fn a_ghe_com_subdomain_takes_lowercase_letters_digits_and_dashes() {
    assert_eq!(
        issuer_kind("https://token.actions.octo-corp2.ghe.com"),
        IssuerKind::GitHub {
            ghe_subdomain: Some("octo-corp2".to_owned())
        }
    );
    assert_eq!(
        audited_under("https://token.actions.octo-corp2.ghe.com"),
        [Code::MutableSubject]
    );
    for other in [
        "https://token.actions.octo_corp.ghe.com",
        "https://token.actions.octo.corp.ghe.com",
    ] {
        assert_eq!(issuer_kind(other), IssuerKind::Other, "{other}");
        assert_eq!(audited_under(other), [], "{other}");
    }
    // Upper case is a letter case away: issuer-mismatch, with the lowercase issuer to set.
    let upper = "https://token.actions.Octo-Corp.ghe.com";
    assert_eq!(
        audited_under(upper),
        [Code::IssuerMismatch, Code::MutableSubject]
    );
}

#[test]
fn a_repo_segment_needs_an_owner_and_one_name() {
    // GitHub writes `repo:OWNER/REPO`; anything else names no repository GitHub could be asked
    // about, so no repository finding (and no `gh api repos//…` advice) comes from it.
    for subject in [
        "repo:/octo-repo:ref:refs/heads/main",
        "repo:octo-org/:ref:refs/heads/main",
        "repo:octo-org/octo-repo/extra:ref:refs/heads/main",
    ] {
        assert_eq!(parse_subject(subject), None, "{subject}");
        let credential = exact("s", subject);
        assert_eq!(repository_of(&credential), None, "{subject}");
        assert_eq!(classify(&credential, None, &CONTEXT), [], "{subject}");
    }
}

#[test]
fn context_stands_only_for_environment_ref_or_pull_request() {
    // A `job_workflow_ref` where GitHub's default template has `context`: never issued.
    let credential = exact(
        "j",
        "repo:octo-org@123456/octo-repo@456789:job_workflow_ref:octo-org/octo-repo/.github/workflows/d.yml@refs/heads/main",
    );
    let findings = classify(&credential, Some(&found(id_repo(), None)), &CONTEXT);
    assert_eq!(codes(&findings), [Code::SubjectFormMismatch]);
    // And a `ref` where a customised template wants `job_workflow_ref`.
    let keys = vec!["repo".to_owned(), "job_workflow_ref".to_owned()];
    let custom = found(
        repository(
            "octo-org/octo-repo",
            PresentedForm::IdBased,
            Template::Custom(keys),
        ),
        None,
    );
    let branch = exact(
        "b",
        "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main",
    );
    assert_eq!(
        codes(&classify(&branch, Some(&custom), &CONTEXT)),
        [Code::SubjectFormMismatch]
    );
}

#[test]
fn subject_form_mismatch_names_the_template_it_compared_with() {
    let templated = exact(
        "t",
        "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main:job_workflow_ref:octo-org/octo-repo/.github/workflows/d.yml@refs/heads/main",
    );
    let findings = classify(&templated, Some(&found(id_repo(), None)), &CONTEXT);
    assert_eq!(codes(&findings), [Code::SubjectFormMismatch]);
    let message = &findings[0].message;
    assert!(
        message.contains("uses GitHub's default subject template (repo, context), so its tokens never carry a subject of the form repo,ref,job_workflow_ref"),
        "{message}"
    );
    assert!(!message.contains("--claim-keys"), "{message}");

    let keys = vec![
        "repo".to_owned(),
        "context".to_owned(),
        "job_workflow_ref".to_owned(),
    ];
    let custom = found(
        repository(
            "octo-org/octo-repo",
            PresentedForm::IdBased,
            Template::Custom(keys),
        ),
        None,
    );
    let plain = exact(
        "p",
        "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main",
    );
    let findings = classify(&plain, Some(&custom), &CONTEXT);
    let message = &findings[0].message;
    assert!(
        message.contains("uses the customised subject template repo,context,job_workflow_ref, so its tokens never carry a subject of the form repo,ref"),
        "{message}"
    );
    assert!(!message.contains("default"), "{message}");
}

#[test]
fn a_template_of_repo_alone_still_has_the_id_form_checked() {
    // `include_claim_keys: ["repo"]`: the subject is the repo segment alone, in the form the
    // repository presents.
    let only_repo = found(
        repository(
            "octo-org/octo-repo",
            PresentedForm::IdBased,
            Template::Custom(vec!["repo".to_owned()]),
        ),
        None,
    );
    let credential = exact("r", "repo:octo-org/octo-repo");
    let findings = classify(&credential, Some(&only_repo), &CONTEXT);
    assert_eq!(
        codes(&findings),
        [Code::SubjectFormMismatch, Code::MutableSubject]
    );
    assert!(
        findings[0]
            .message
            .contains("add a credential with subject \"repo:octo-org@123456/octo-repo@456789\""),
        "{}",
        findings[0].message
    );
}

#[test]
fn wildcard_owner_finds_the_repo_segment_after_other_keys() {
    // A customised template may list keys before `repo` (GitHub keeps the template's order).
    let wide = flexible(
        "w",
        "claims['sub'] matches 'repository_owner:octo-org:repo:octo-org/*:ref:refs/heads/main'",
    );
    let findings = classify(&wide, None, &CONTEXT);
    assert_eq!(codes(&findings), [Code::WildcardOwner]);
    assert!(
        findings[0]
            .message
            .contains("matches every repository of octo-org whose name fits the pattern"),
        "{}",
        findings[0].message
    );
    let narrow = flexible(
        "n",
        "claims['sub'] matches 'repository_owner:octo-org:repo:octo-org/octo-repo:ref:refs/heads/*'",
    );
    assert_eq!(classify(&narrow, None, &CONTEXT), []);
}
