//! A double of the GitHub REST API calls `federated-credential audit` makes, answering by GitHub's
//! REST reference (<https://docs.github.com/rest>):
//!
//! - `GET /repos/{owner}/{repo}` (Get a repository,
//!   <https://docs.github.com/rest/repos/repos#get-a-repository>): 200 with `id`, `name`,
//!   `full_name`, `owner {login, id, type}`; owner and name are not case-sensitive and the answer
//!   spells them GitHub's way. A renamed or transferred repository answers **301** with `Location:
//!   {api}/repositories/{id}` and `{"message":"Moved Permanently","url",...}`
//!   (<https://docs.github.com/rest/using-the-rest-api/troubleshooting-the-rest-api>, "HTTP
//!   redirects" in <https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api>);
//!   an unknown one answers 404 `{"message":"Not Found","documentation_url",...}`.
//! - `GET /repositories/{id}`: the same repository body by numeric ID, 404 if none.
//! - `GET /repos/{owner}/{repo}/environments` (`{"total_count","environments":[...]}`) and
//!   `GET /repos/{owner}/{repo}/environments/{name}` (200 or 404)
//!   (<https://docs.github.com/rest/deployments/environments>).
//! - `GET /repos/{owner}/{repo}/actions/oidc/customization/sub` and
//!   `GET /orgs/{org}/actions/oidc/customization/sub` (<https://docs.github.com/rest/actions/oidc>):
//!   the repository's answer is [`GitHubRepository::customization`] as configured (the reference
//!   documents `use_default` and `include_claim_keys`; GitHub's answers also carry
//!   `use_immutable_subject` and `sub_claim_prefix` since ID-based subjects,
//!   <https://docs.github.com/en/actions/reference/security/oidc>, so tests set them or leave them
//!   out); an organisation without a template answers 404.
//!
//! Simplifications: no authentication is required (a public repository), though `Authorization`
//! is recorded; one page of environments. Set with `Emulator::set_github_api`.

use serde_json::{Value, json};

use crate::Recorded;
use crate::http::{Request, Response};
use crate::state::State;

/// A repository the double knows.
#[derive(Clone, Debug)]
pub struct GitHubRepository {
    /// Owner login, GitHub's spelling.
    pub owner: String,
    /// Owner's numeric ID.
    pub owner_id: u64,
    /// Repository name, GitHub's spelling.
    pub name: String,
    /// Repository's numeric ID.
    pub id: u64,
    /// Its environments.
    pub environments: Vec<String>,
    /// The body of its OIDC subject customization; default `{"use_default": true}`.
    pub customization: Value,
}

impl GitHubRepository {
    /// A repository with no environments and the default subject template.
    pub fn new(owner: &str, owner_id: u64, name: &str, id: u64) -> GitHubRepository {
        GitHubRepository {
            owner: owner.to_owned(),
            owner_id,
            name: name.to_owned(),
            id,
            environments: Vec::new(),
            customization: json!({ "use_default": true }),
        }
    }

    fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// What the double knows; start from [`GitHubApi::default`] (nothing).
#[derive(Clone, Debug, Default)]
pub struct GitHubApi {
    /// Repositories.
    pub repositories: Vec<GitHubRepository>,
    /// Former names: `(OWNER/OLD-NAME, repository ID)`, answered with 301.
    pub renamed: Vec<(String, u64)>,
    /// Organisation templates: `(org, include_claim_keys)`.
    pub org_templates: Vec<(String, Vec<String>)>,
    /// Every request answers 403 with GitHub's primary rate-limit body
    /// (<https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api>).
    pub rate_limited: bool,
}

enum Route {
    Repo(String, String),
    ById(String),
    Environments(String, String),
    Environment(String, String, String),
    RepoCustomization(String, String),
    OrgCustomization(String),
}

fn route(path: &str) -> Option<Route> {
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    Some(match s.as_slice() {
        ["repos", o, r] => Route::Repo((*o).to_owned(), (*r).to_owned()),
        ["repositories", id] => Route::ById((*id).to_owned()),
        ["repos", o, r, "environments"] => Route::Environments((*o).to_owned(), (*r).to_owned()),
        ["repos", o, r, "environments", name] => {
            Route::Environment((*o).to_owned(), (*r).to_owned(), (*name).to_owned())
        }
        ["repos", o, r, "actions", "oidc", "customization", "sub"] => {
            Route::RepoCustomization((*o).to_owned(), (*r).to_owned())
        }
        ["orgs", org, "actions", "oidc", "customization", "sub"] => {
            Route::OrgCustomization((*org).to_owned())
        }
        _ => return None,
    })
}

/// Whether this double serves `path`.
pub(crate) fn serves(path: &str) -> bool {
    route(path).is_some()
}

fn not_found(documentation: &str) -> Response {
    Response::json(
        404,
        &json!({
            "message": "Not Found",
            "documentation_url": format!("https://docs.github.com/rest/{documentation}"),
            "status": "404",
        }),
    )
}

fn repo_body(state: &State, repo: &GitHubRepository) -> Value {
    json!({
        "id": repo.id,
        "name": repo.name,
        "full_name": repo.full_name(),
        "private": false,
        "owner": {
            "login": repo.owner,
            "id": repo.owner_id,
            "type": "Organization",
        },
        "html_url": format!("https://github.com/{}", repo.full_name()),
        "url": format!("{}/repos/{}", state.base_url, repo.full_name()),
    })
}

/// Answers one request for a path [`serves`] accepts.
pub(crate) fn handle(state: &State, request: &Request, recorded: Recorded) -> Response {
    let github = {
        let mut doubles = crate::directory::lock(&state.doubles);
        doubles.recorded.push(recorded);
        doubles.github.clone()
    };
    let Some(route) = route(&request.path) else {
        return not_found("");
    };
    if request.method != "GET" {
        return not_found("");
    }
    if github.rate_limited {
        return Response::json(
            403,
            &json!({
                "message": "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)",
                "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
            }),
        )
        .with_header("x-ratelimit-remaining", "0");
    }
    let find = |owner: &str, name: &str| {
        let wanted = format!("{owner}/{name}");
        github
            .repositories
            .iter()
            .find(|r| r.full_name().eq_ignore_ascii_case(&wanted))
    };
    match route {
        Route::Repo(owner, name) => {
            if let Some(repo) = find(&owner, &name) {
                return Response::json(200, &repo_body(state, repo));
            }
            let wanted = format!("{owner}/{name}");
            match github
                .renamed
                .iter()
                .find(|(old, _)| old.eq_ignore_ascii_case(&wanted))
            {
                Some((_, id)) => {
                    let url = format!("{}/repositories/{id}", state.base_url);
                    Response::json(
                        301,
                        &json!({
                            "message": "Moved Permanently",
                            "url": url,
                            "documentation_url": "https://docs.github.com/v3/#http-redirects",
                        }),
                    )
                    .with_header("Location", url)
                }
                None => not_found("repos/repos#get-a-repository"),
            }
        }
        Route::ById(id) => match github.repositories.iter().find(|r| r.id.to_string() == id) {
            Some(repo) => Response::json(200, &repo_body(state, repo)),
            None => not_found("repos/repos#get-a-repository"),
        },
        Route::Environments(owner, name) => match find(&owner, &name) {
            Some(repo) => Response::json(
                200,
                &json!({
                    "total_count": repo.environments.len(),
                    "environments": repo.environments.iter().enumerate().map(|(i, e)| json!({
                        "id": 161_088_068 + i,
                        "name": e,
                        "url": format!("{}/repos/{}/environments/{e}", state.base_url, repo.full_name()),
                    })).collect::<Vec<_>>(),
                }),
            ),
            None => not_found("deployments/environments#list-environments"),
        },
        Route::Environment(owner, name, environment) => {
            match find(&owner, &name).and_then(|repo| {
                repo.environments
                    .iter()
                    .position(|e| e.eq_ignore_ascii_case(&environment))
                    .map(|i| (repo, i))
            }) {
                Some((repo, i)) => Response::json(
                    200,
                    &json!({
                        "id": 161_088_068 + i,
                        "name": repo.environments[i],
                        "protection_rules": [],
                    }),
                ),
                None => not_found("deployments/environments#get-an-environment"),
            }
        }
        Route::RepoCustomization(owner, name) => match find(&owner, &name) {
            Some(repo) => Response::json(200, &repo.customization),
            None => not_found("actions/oidc"),
        },
        Route::OrgCustomization(org) => match github
            .org_templates
            .iter()
            .find(|(o, _)| o.eq_ignore_ascii_case(&org))
        {
            Some((_, keys)) => Response::json(200, &json!({ "include_claim_keys": keys })),
            None => not_found("actions/oidc"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{Route, route, serves};

    #[test]
    fn routes_follow_githubs_paths() {
        assert!(matches!(route("/repos/o/r"), Some(Route::Repo(o, r)) if o == "o" && r == "r"));
        assert!(matches!(route("/repositories/42"), Some(Route::ById(id)) if id == "42"));
        assert!(matches!(
            route("/repos/o/r/environments/Prod%20EU"),
            Some(Route::Environment(_, _, e)) if e == "Prod EU"
        ));
        assert!(matches!(
            route("/orgs/o/actions/oidc/customization/sub"),
            Some(Route::OrgCustomization(o)) if o == "o"
        ));
        for other in [
            "/repos/o",
            "/subscriptions/s/resourcegroups",
            "/v1.0/servicePrincipals",
        ] {
            assert!(!serves(other), "{other}");
        }
    }
}
