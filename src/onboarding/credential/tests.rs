//! Unit tests of the credential generator, its subjects and its output formats.
use super::*;
use crate::onboarding::name::*;
use crate::onboarding::render::*;
use crate::onboarding::subject::*;

fn repo(ids: bool) -> Repository {
    Repository {
        owner: "octo-org".to_owned(),
        name: "octo-repo".to_owned(),
        owner_id: ids.then_some(123_456),
        repository_id: ids.then_some(456_789),
    }
}

fn request(entity: Entity) -> Request {
    Request {
        repository: "octo-org/octo-repo".to_owned(),
        entity: Some(entity),
        issuer: GITHUB_ISSUER.to_owned(),
        audience: "api://AzureADTokenExchange".to_owned(),
        ..Request::default()
    }
}

#[test]
fn subjects_in_both_forms() {
    let branch = Entity::Branch("main".to_owned());
    assert_eq!(
        subject(&repo(false), &branch, false).as_deref(),
        Some("repo:octo-org/octo-repo:ref:refs/heads/main")
    );
    assert_eq!(
        subject(&repo(true), &branch, true).as_deref(),
        Some("repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main")
    );
    assert_eq!(subject(&repo(false), &branch, true), None);
    assert_eq!(
        subject(
            &repo(false),
            &Entity::Environment("Production:V1".to_owned()),
            false
        )
        .as_deref(),
        Some("repo:octo-org/octo-repo:environment:Production%3AV1")
    );
    assert_eq!(
        subject(&repo(false), &Entity::PullRequest, false).as_deref(),
        Some("repo:octo-org/octo-repo:pull_request")
    );
    assert_eq!(
        subject(&repo(false), &Entity::Tag("v1.2.3".to_owned()), false).as_deref(),
        Some("repo:octo-org/octo-repo:ref:refs/tags/v1.2.3")
    );
}

#[test]
fn names_follow_entras_rule() {
    for good in ["abc", "a-_", "0ab", &"x".repeat(120)] {
        assert!(valid_name(good), "{good}");
    }
    for bad in [
        "x",
        "ab",
        "has space",
        "_abc",
        "-abc",
        "ab.c",
        "é12",
        &"x".repeat(121),
    ] {
        assert!(!valid_name(bad), "{bad}");
    }
}

#[test]
fn credential_names_are_valid() {
    assert_eq!(
        credential_name("repo:octo-org/octo-repo:ref:refs/heads/main"),
        "github-octo-org-octo-repo-ref-refs-heads-main"
    );
    assert_eq!(
        credential_name("repo:a@1/b@2:environment:Prod%3AV1"),
        "github-a-1-b-2-environment-Prod-3AV1"
    );
    let long = credential_name(&"x".repeat(500));
    assert!(long.len() <= 120 && long.starts_with("github-"));
    assert!(valid_name(&long), "{long}");
    assert_eq!(credential_name(""), "github");
}

#[test]
fn shortened_names_stay_distinct() {
    let repo = format!("repo:octo-org/{}", "a".repeat(100));
    let names: Vec<String> = ["release/2025", "release/2026"]
        .iter()
        .map(|b| credential_name(&format!("{repo}:ref:refs/heads/{b}")))
        .collect();
    assert_ne!(names[0], names[1]);
    for name in &names {
        assert_eq!(name.len(), 120, "{name}");
        assert!(valid_name(name), "{name}");
    }
    // Deterministic: the same subject always gets the same name.
    assert_eq!(
        names[0],
        credential_name(&format!("{repo}:ref:refs/heads/release/2025"))
    );
    // FNV-1a 32 test vectors (draft-eastlake-fnv): "" and "a".
    assert_eq!(fnv1a(""), 0x811c_9dc5);
    assert_eq!(fnv1a("a"), 0xe40c_292c);
}

#[test]
fn full_refs_are_normalised_and_crossed_refs_refused() {
    assert_eq!(
        normalise_entity(Entity::Branch("refs/heads/main".to_owned())),
        Ok(Entity::Branch("main".to_owned()))
    );
    assert_eq!(
        normalise_entity(Entity::Tag("refs/tags/v1".to_owned())),
        Ok(Entity::Tag("v1".to_owned()))
    );
    let crossed =
        normalise_entity(Entity::Branch("refs/tags/v1".to_owned())).expect_err("a tag ref");
    assert!(crossed.to_string().contains("use --tag v1"), "{crossed}");
    assert!(normalise_entity(Entity::Branch("refs/heads/".to_owned())).is_err());
    assert!(normalise_entity(Entity::Branch("refs/pull/1/merge".to_owned())).is_err());
}

#[test]
fn wildcards_make_flexible_credentials() {
    let made = credentials(&request(Entity::Branch("release/*".to_owned()))).expect("ok");
    assert_eq!(made.len(), 1);
    assert_eq!(
        made[0].subject, None,
        "subject and expression are exclusive"
    );
    assert_eq!(
        made[0].expression(),
        Some("claims['sub'] matches 'repo:octo-org/octo-repo:ref:refs/heads/release/*'")
    );
    assert!(valid_name(&made[0].name));
    let exact = credentials(&request(Entity::Branch("release".to_owned()))).expect("ok");
    assert_ne!(made[0].name, exact[0].name);
    let json: serde_json::Value = serde_json::from_str(&made[0].to_json()).expect("json");
    assert_eq!(json["claimsMatchingExpression"]["languageVersion"], 1);
    assert!(json.get("subject").is_none());
}

#[test]
fn flexible_credentials_need_github_coms_issuer() {
    let mut ghes = request(Entity::Branch("a*".to_owned()));
    ghes.issuer = "https://ghes.example/_services/token".to_owned();
    assert!(matches!(
        credentials(&ghes),
        Err(FicError::FlexibleIssuer { .. })
    ));
    let mut ghec = request(Entity::Branch("a*".to_owned()));
    ghec.issuer = format!("{GITHUB_ISSUER}/octo-inc");
    assert!(matches!(
        credentials(&ghec),
        Err(FicError::FlexibleIssuer { .. })
    ));
}

#[test]
fn id_subjects_are_refused_for_ghes() {
    let mut ghes = request(Entity::Branch("main".to_owned()));
    ghes.issuer = "https://ghes.example/_services/token".to_owned();
    ghes.owner_id = Some(1);
    ghes.repository_id = Some(2);
    assert!(matches!(credentials(&ghes), Err(FicError::IdsNotIssued(_))));
    ghes.issuer = format!("{GITHUB_ISSUER}/octo-inc");
    assert_eq!(credentials(&ghes).expect("GHEC issues them").len(), 2);
    ghes.issuer = "https://token.actions.octocorp.ghe.com".to_owned();
    assert_eq!(credentials(&ghes).expect("GHE.com issues them").len(), 2);
}

#[test]
fn claim_key_templates_follow_githubs_order_and_format() {
    let mut custom = request(Entity::Environment("prod".to_owned()));
    custom.claim_keys = Some(vec![
        "repo".to_owned(),
        "context".to_owned(),
        "job_workflow_ref".to_owned(),
    ]);
    custom.job_workflow_ref =
        Some("octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main".to_owned());
    // GitHub's example for this template, verbatim.
    assert_eq!(
        credentials(&custom).expect("ok")[0].subject.as_deref(),
        Some(
            "repo:octo-org/octo-repo:environment:prod:job_workflow_ref:octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main"
        )
    );
    let mut owner = request(Entity::Environment("production:eastus".to_owned()));
    owner.claim_keys = Some(vec![
        "environment".to_owned(),
        "repository_owner".to_owned(),
    ]);
    assert_eq!(
        credentials(&owner).expect("ok")[0].subject.as_deref(),
        Some("environment:production%3Aeastus:repository_owner:octo-org")
    );
    let mut property = request(Entity::Branch("main".to_owned()));
    property.claim_keys = Some(vec![
        "repo_property_workspace_id".to_owned(),
        "repo".to_owned(),
    ]);
    assert!(matches!(
        credentials(&property),
        Err(FicError::MissingClaim { .. })
    ));
    property.claims = vec!["repo_property_workspace_id=ws:42".to_owned()];
    assert_eq!(
        credentials(&property).expect("ok")[0].subject.as_deref(),
        Some("repo_property_workspace_id:ws%3A42:repo:octo-org/octo-repo")
    );
    property.claims = vec!["actor=octocat".to_owned()];
    assert!(matches!(credentials(&property), Err(FicError::Claim(..))));
}

#[test]
fn a_separate_workflow_ref_is_matched_by_its_own_condition() {
    let mut any_ref = request(Entity::Environment("prod".to_owned()));
    any_ref.job_workflow_ref = Some("octo-org/deploy/.github/workflows/d.yml@*".to_owned());
    let made = credentials(&any_ref).expect("ok");
    assert_eq!(
        made[0].expression(),
        Some(
            "claims['sub'] eq 'repo:octo-org/octo-repo:environment:prod' and claims['job_workflow_ref'] matches 'octo-org/deploy/.github/workflows/d.yml@*'"
        )
    );
}

#[test]
fn json_keeps_entra_field_order() {
    let credential = Credential::new(
        GITHUB_ISSUER,
        "repo:o/r:pull_request",
        "api://AzureADTokenExchange",
    );
    assert_eq!(
        credential.to_json(),
        r#"{"name":"github-o-r-pull_request","issuer":"https://token.actions.githubusercontent.com","subject":"repo:o/r:pull_request","audiences":["api://AzureADTokenExchange"]}"#
    );
}

#[test]
fn renders_every_format() {
    let credential = Credential::new(
        GITHUB_ISSUER,
        "repo:o/r:environment:it's",
        "api://AzureADTokenExchange",
    );
    let az = render(
        std::slice::from_ref(&credential),
        Format::Az,
        Some("app"),
        crate::exchange::cloud::Cloud::AzureCloud,
    );
    assert!(az.contains("--id app --parameters '{\"name\""), "{az}");
    assert!(az.contains("it'\\''s"), "{az}");
    let bicep = render(
        std::slice::from_ref(&credential),
        Format::Bicep,
        None,
        crate::exchange::cloud::Cloud::AzureCloud,
    );
    assert!(
        bicep.contains("resource githubOREnvironmentItS 'Microsoft.ManagedIdentity"),
        "{bicep}"
    );
    assert!(
        bicep.contains("subject: 'repo:o/r:environment:it\\'s'"),
        "{bicep}"
    );
    let terraform = render(
        std::slice::from_ref(&credential),
        Format::Terraform,
        None,
        crate::exchange::cloud::Cloud::AzureCloud,
    );
    assert!(terraform.contains("resource \"azuread_application_federated_identity_credential\" \"github_o_r_environment_it_s\""), "{terraform}");
    let json = render(
        &[credential.clone(), credential],
        Format::Json,
        None,
        crate::exchange::cloud::Cloud::AzureCloud,
    );
    assert_eq!(json.lines().count(), 2, "one object per line: {json}");
}

#[test]
fn identifiers_start_with_a_letter() {
    assert_eq!(identifier("1abc", false), "fic1abc");
    assert_eq!(identifier("1a-b", true), "fic_1a_b");
}

#[test]
fn subject_forms_are_told_apart() {
    let id = "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main";
    let name = "repo:octo-org/octo-repo:ref:refs/heads/main";
    assert_eq!(subject_form(id), Some(SubjectForm::IdBased));
    assert_eq!(subject_form(name), Some(SubjectForm::NameBased));
    assert_eq!(
        subject_form("environment:prod:repo:o@1/r@2:x"),
        Some(SubjectForm::IdBased)
    );
    assert_eq!(subject_form("repository_owner:octo-org"), None);
    assert_eq!(name_based(id).as_deref(), Some(name));
    assert!(form_mismatch(id, name).is_some_and(|w| w.contains("renamed or transferred")));
    assert!(form_mismatch(name, "repo:octo-org/octo-repo:ref:refs/heads/*").is_none());
    assert!(presented_form_note(id).is_some_and(|n| n.contains(name)));
    assert!(presented_form_note(name).is_some_and(|n| n.contains("ID-based form")));
}

#[test]
fn the_several_credentials_note_only_for_json_with_more_than_one() {
    let one = credentials(&request(Entity::Branch("main".to_owned()))).expect("one");
    assert_eq!(one.len(), 1);
    let two = credentials(&Request {
        owner_id: Some(123_456),
        repository_id: Some(456_789),
        ..request(Entity::Branch("main".to_owned()))
    })
    .expect("two");
    assert_eq!(two.len(), 2);
    let several = |notes: Vec<String>| notes.iter().any(|n| n.contains("one JSON object per line"));
    assert!(!several(notes(&one, Format::Json)));
    assert!(several(notes(&two, Format::Json)));
    assert!(!several(notes(&two, Format::Az)));
}
