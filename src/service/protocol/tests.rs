use super::*;

const CLIENT: &str = "11111111-2222-4333-8444-555555555555";

fn secret() -> Secret {
    Secret::new("0123456789abcdef".to_owned())
}

fn parts<'a>(query: &'a str, headers: Vec<&'a [u8]>) -> RequestParts<'a> {
    RequestParts {
        peer_is_loopback: true,
        method: "GET",
        path: PATH,
        query: Some(query),
        secret_headers: headers,
    }
}

fn arm_only(resource: &str) -> bool {
    crate::service::allow::normalize(resource) == "https://management.azure.com"
}

const GOOD: &[u8] = b"0123456789abcdef";

#[test]
fn accepts_the_app_service_request() {
    let query = "api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com%2F";
    assert_eq!(
        check(&parts(query, vec![GOOD]), &secret(), CLIENT, arm_only),
        Ok(TokenQuery {
            resource: "https://management.azure.com/".to_owned()
        })
    );
    // client_id naming this identity, in any letter case, is fine.
    let with_id = format!("{query}&client_id={}", CLIENT.to_uppercase());
    assert!(check(&parts(&with_id, vec![GOOD]), &secret(), CLIENT, arm_only).is_ok());
}

#[test]
fn refuses_without_the_right_header_before_reading_the_query() {
    let query = "api-version=1999&resource=x";
    assert_eq!(
        check(&parts(query, vec![]), &secret(), CLIENT, arm_only),
        Err(Refusal::MissingSecret)
    );
    for wrong in [
        &b"0123456789abcdeF"[..],
        b"0123456789abcde",
        b"",
        b"0123456789abcdef0",
    ] {
        assert_eq!(
            check(&parts(query, vec![wrong]), &secret(), CLIENT, arm_only),
            Err(Refusal::WrongSecret),
            "{wrong:?}"
        );
    }
    // Sent twice, even if one is right.
    assert_eq!(
        check(&parts(query, vec![GOOD, b"x"]), &secret(), CLIENT, arm_only),
        Err(Refusal::WrongSecret)
    );
    assert_eq!(Refusal::WrongSecret.status(), 401);
}

#[test]
fn refuses_other_peers_methods_and_paths_first() {
    let mut request = parts("", vec![GOOD]);
    request.peer_is_loopback = false;
    assert_eq!(
        check(&request, &secret(), CLIENT, arm_only),
        Err(Refusal::NotLoopback)
    );
    let mut request = parts("", vec![GOOD]);
    request.method = "POST";
    let refusal = check(&request, &secret(), CLIENT, arm_only).expect_err("POST");
    assert_eq!(
        (refusal.status(), refusal),
        (405, Refusal::Method("POST".to_owned()))
    );
    let mut request = parts("", vec![GOOD]);
    request.path = "/metadata/identity/oauth2/token";
    assert_eq!(
        check(&request, &secret(), CLIENT, arm_only),
        Err(Refusal::NotFound)
    );
}

#[test]
fn refuses_bad_parameters() {
    let case = |query: &str| check(&parts(query, vec![GOOD]), &secret(), CLIENT, arm_only);
    assert_eq!(
        case("resource=https://management.azure.com/"),
        Err(Refusal::ApiVersion("(none)".to_owned()))
    );
    assert_eq!(
        case("api-version=2017-09-01&resource=https://management.azure.com/"),
        Err(Refusal::ApiVersion("2017-09-01".to_owned()))
    );
    assert_eq!(case("api-version=2019-08-01"), Err(Refusal::NoResource));
    assert_eq!(
        case("api-version=2019-08-01&resource="),
        Err(Refusal::NoResource)
    );
    assert_eq!(
        case("api-version=2019-08-01&resource=a&resource=https://management.azure.com/"),
        Err(Refusal::Duplicate("resource".to_owned()))
    );
    let other = case(
        "api-version=2019-08-01&resource=https://management.azure.com/&client_id=00000000-0000-0000-0000-000000000000",
    )
    .expect_err("another identity");
    assert!(
        matches!(other, Refusal::OtherIdentity { ref parameter, .. } if parameter == "client_id")
    );
    assert!(other.to_string().contains(CLIENT), "{other}");
    for parameter in ["principal_id", "object_id", "mi_res_id", "msi_res_id"] {
        let refusal = case(&format!(
            "api-version=2019-08-01&resource=https://management.azure.com/&{parameter}=x"
        ))
        .expect_err(parameter);
        assert_eq!(refusal.status(), 400);
        assert!(
            refusal.to_string().starts_with(&format!("{parameter}=x")),
            "{refusal}"
        );
    }
    let off_list =
        case("api-version=2019-08-01&resource=https://vault.azure.net").expect_err("not allowed");
    assert_eq!(off_list.status(), 403);
    assert!(
        off_list
            .to_string()
            .contains("--allow-scope https://vault.azure.net"),
        "{off_list}"
    );
}

#[test]
fn answers_as_app_service_does() {
    let body = token_json(
        &Secret::new("tok".to_owned()),
        1_795_426_867,
        "https://management.azure.com/",
        CLIENT,
    );
    let json: serde_json::Value = serde_json::from_str(body.expose_secret()).expect("json");
    assert_eq!(
        json,
        serde_json::json!({
            "access_token": "tok",
            "expires_on": "1795426867",
            "resource": "https://management.azure.com/",
            "token_type": "Bearer",
            "client_id": CLIENT,
        })
    );
    let error: serde_json::Value =
        serde_json::from_str(&error_json(403, "access_denied", "no")).expect("json");
    assert_eq!(error["statusCode"], 403);
    assert_eq!(error["message"], "no");
    assert_eq!(error["error_description"], "no");
    assert!(error.get("access_token").is_none());
}

#[test]
fn control_characters_sent_by_a_client_are_not_echoed() {
    let refusal = check(
        &parts(
            "api-version=2019-08-01&resource=a%0A%3A%3Aerror%3A%3Ax",
            vec![GOOD],
        ),
        &secret(),
        CLIENT,
        arm_only,
    )
    .expect_err("not allowed");
    assert!(!refusal.to_string().contains('\n'), "{refusal}");
}

#[test]
fn each_refusal_has_the_status_and_oauth_code_a_client_sees() {
    let other = Refusal::OtherIdentity {
        parameter: "client_id".to_owned(),
        value: "x".to_owned(),
        client_id: CLIENT.to_owned(),
    };
    let not_allowed = Refusal::NotAllowed {
        resource: "https://vault.azure.net".to_owned(),
    };
    let cases = [
        (Refusal::NotLoopback, 403, "access_denied"),
        (not_allowed, 403, "access_denied"),
        (Refusal::MissingSecret, 401, "unauthorized_client"),
        (Refusal::WrongSecret, 401, "unauthorized_client"),
        (Refusal::Method("POST".to_owned()), 405, "invalid_request"),
        (Refusal::NotFound, 404, "invalid_request"),
        (Refusal::ApiVersion("1".to_owned()), 400, "invalid_request"),
        (
            Refusal::Duplicate("resource".to_owned()),
            400,
            "invalid_request",
        ),
        (Refusal::NoResource, 400, "invalid_request"),
        (other, 400, "invalid_request"),
    ];
    for (refusal, status, code) in cases {
        assert_eq!(
            (refusal.status(), refusal.code()),
            (status, code),
            "{refusal}"
        );
    }
}
