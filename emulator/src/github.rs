//! The GitHub side: the Actions ID-token endpoint and the issuer's discovery document and JWKS.

use serde_json::{Map, Value, json};

use crate::clock;
use crate::http::{Request, Response};
use crate::state::State;

/// GitHub's default `aud` when no `audience` is requested: the URL of the repository owner.
const DEFAULT_AUDIENCE: &str = "https://github.com/octo-org";

/// Which discovery document was asked for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Document {
    OpenIdConfiguration,
    Jwks,
}

fn error(status: u16, message: &str) -> Response {
    Response::json(status, &json!({ "message": message }))
}

/// `GET <request path>?audience=...` with `Authorization: Bearer <request token>` → `{"value": <jwt>}`.
pub(crate) fn id_token(state: &State, request: &Request) -> Response {
    let authorized = request
        .header("authorization")
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && token.trim() == state.request_token
        });
    if !authorized {
        return error(
            401,
            "Unauthorized: a valid 'Authorization: Bearer' request token is required.",
        )
        .with_header("WWW-Authenticate", "Bearer");
    }
    if request.method != "GET" {
        return error(405, "Method not allowed.").with_header("Allow", "GET");
    }
    let audience = request
        .query
        .as_deref()
        .and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "audience")
                .map(|(_, v)| v.into_owned())
        })
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| DEFAULT_AUDIENCE.to_owned());
    let token = mint(state, &audience, &Map::new());
    state.add_issued_id_token(&token);
    // `count` is extra on purpose: clients must ignore unknown fields.
    Response::json(200, &json!({ "value": token, "count": 1 }))
}

/// The claims GitHub puts in a push-to-main job's token, then `extra_claims`, then `overrides`
/// (a `null` value removes the claim); signed with the issuer's key.
pub(crate) fn mint(state: &State, audience: &str, overrides: &Map<String, Value>) -> String {
    let iat = clock::now() + state.id_token_clock_offset_secs;
    let claims = json!({
        "jti": uuid::Uuid::new_v4().hyphenated().to_string(),
        "sub": state.subject(),
        "aud": audience,
        "ref": "refs/heads/main",
        "sha": "8d3c5f3e2b4a1c0d9e8f7a6b5c4d3e2f1a0b9c8d",
        "repository": "octo-org/octo-repo",
        "repository_owner": "octo-org",
        "repository_owner_id": "285964",
        "run_id": "8732519042",
        "run_number": "42",
        "run_attempt": "1",
        "repository_visibility": "private",
        "repository_id": "1339936803",
        "actor_id": "583231",
        "actor": "octocat",
        "workflow": "Deploy",
        "head_ref": "",
        "base_ref": "",
        "event_name": "push",
        "ref_protected": "true",
        "ref_type": "branch",
        "workflow_ref": "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main",
        "workflow_sha": "8d3c5f3e2b4a1c0d9e8f7a6b5c4d3e2f1a0b9c8d",
        "job_workflow_ref": "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main",
        "job_workflow_sha": "8d3c5f3e2b4a1c0d9e8f7a6b5c4d3e2f1a0b9c8d",
        "runner_environment": "github-hosted",
        "iss": state.issuer,
        "nbf": iat - 300,
        "exp": iat.saturating_add(state.id_token_lifetime_secs),
        "iat": iat,
    });
    let Value::Object(mut claims) = claims else {
        return String::new();
    };
    for (name, value) in state.extra_claims.iter().chain(overrides) {
        if value.is_null() {
            claims.remove(name);
        } else {
            claims.insert(name.clone(), value.clone());
        }
    }
    state.keys.sign(&claims)
}

/// `GET <issuer path>/.well-known/openid-configuration` and `.../jwks`.
pub(crate) fn discovery(state: &State, request: &Request, document: Document) -> Response {
    if request.method != "GET" {
        return error(405, "Method not allowed.").with_header("Allow", "GET");
    }
    let body = match document {
        Document::Jwks => state.keys.jwks(),
        Document::OpenIdConfiguration => json!({
            "issuer": state.issuer,
            "jwks_uri": format!("{}/.well-known/jwks", state.issuer),
            "subject_types_supported": ["public", "pairwise"],
            "response_types_supported": ["id_token"],
            "claims_supported": [
                "sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha", "repository",
                "repository_id", "repository_owner", "repository_owner_id", "enterprise",
                "enterprise_id", "run_id", "run_number", "run_attempt", "actor", "actor_id",
                "workflow", "workflow_ref", "workflow_sha", "head_ref", "base_ref", "event_name",
                "ref_type", "ref_protected", "environment", "environment_node_id",
                "job_workflow_ref", "job_workflow_sha", "repository_visibility",
                "runner_environment", "issuer_scope"
            ],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid"],
        }),
    };
    Response::json(200, &body)
}
