//! The audit's reads, GET only, over the exchange's HTTPS client (its TLS, proxy, deadline and
//! retry rules):
//!
//! - Microsoft Graph: `GET /v1.0/applications(appId='{appId}')/federatedIdentityCredentials` and the
//!   same under `/beta` (only beta returns flexible credentials' `claimsMatchingExpression`),
//!   following `@odata.nextLink`
//!   (<https://learn.microsoft.com/graph/api/application-list-federatedidentitycredentials>,
//!   <https://learn.microsoft.com/graph/paging>, alternate key `appId`:
//!   <https://learn.microsoft.com/graph/api/application-get>).
//! - Azure Resource Manager: `GET {identity}/federatedIdentityCredentials?api-version=2025-01-31-preview`
//!   (the version that returns `claimsMatchingExpression`), following `nextLink`
//!   (<https://learn.microsoft.com/rest/api/managedidentity/federated-identity-credentials/list>).
//! - GitHub REST (<https://docs.github.com/rest>): `GET /repos/{owner}/{repo}` (301 for a renamed or
//!   transferred repository, its `Location` naming `/repositories/{id}`; 404 for one that is gone:
//!   <https://docs.github.com/rest/repos/repos#get-a-repository>,
//!   <https://docs.github.com/rest/using-the-rest-api/troubleshooting-the-rest-api>),
//!   `GET /repositories/{id}`, `GET /repos/{owner}/{repo}/environments/{name}`
//!   (<https://docs.github.com/rest/deployments/environments#get-an-environment>), and the OIDC
//!   subject customization of the repository and its organisation
//!   (<https://docs.github.com/rest/actions/oidc>). That reference documents `use_default` and
//!   `include_claim_keys`; which `repo` form a repository presents is read from the
//!   `sub_claim_prefix` and `use_immutable_subject` fields GitHub's answers carry since the move to
//!   ID-based subjects (<https://docs.github.com/en/actions/reference/security/oidc>), and is
//!   "unknown" when neither is there.
//!
//! A next-page link is followed only to the host it came from, so the bearer token never goes
//! elsewhere; a `Location` is never followed, only its repository ID is read.

use std::collections::HashMap;

use reqwest::header::{ACCEPT, LOCATION};
use reqwest::{StatusCode, Url};
use serde::Deserialize;

use crate::audit::classify::{self, RepoRef, issuer_kind, presented_form, repository_of};
use crate::audit::findings::{Deployed, GitHubFacts, Lookup, PresentedForm, Repository, Template};
use crate::audit::target::IdentityId;
use crate::exchange::host_of;
use crate::exchange::http::{self, Attempt, Deadline, HttpError, Response, excerpt};
use crate::secret::Secret;

/// The managed-identity API version the audit reads with.
pub const ARM_API_VERSION: &str = "2025-01-31-preview";

/// GitHub's REST API version header value.
pub const GITHUB_API_VERSION: &str = "2022-11-28";

/// At most this many pages of one list (Entra holds at most 20 credentials: a loop is a bug).
const MAX_PAGES: usize = 50;

/// Why the credentials could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No usable HTTP answer.
    #[error("{service} {host}: {error}")]
    Http {
        /// `Microsoft Graph`, `Azure Resource Manager`.
        service: &'static str,
        /// The host.
        host: String,
        /// What failed.
        error: HttpError,
    },
    /// 401: the token is invalid, expired, or for another resource.
    #[error("{service} {host} refused the access token (401){detail}")]
    Unauthorized {
        /// The service.
        service: &'static str,
        /// The host.
        host: String,
        /// A body excerpt.
        detail: String,
    },
    /// Graph 403: the caller may not read the app's credentials.
    #[error(
        "Microsoft Graph {host} denied reading the federated credentials of app {app_id} (403){detail}"
    )]
    GraphForbidden {
        /// The host.
        host: String,
        /// The app audited.
        app_id: String,
        /// A body excerpt.
        detail: String,
    },
    /// ARM 403: the caller has no read access to the identity.
    #[error(
        "Azure Resource Manager {host} denied reading the federated credentials of identity {identity} (403){detail}"
    )]
    ArmForbidden {
        /// The host.
        host: String,
        /// The identity's name.
        identity: String,
        /// A body excerpt.
        detail: String,
    },
    /// 404 for the app or identity itself.
    #[error("{service} {host}: {what} (404){detail}")]
    NotFound {
        /// The service.
        service: &'static str,
        /// The host.
        host: String,
        /// What was looked up.
        what: String,
        /// A body excerpt.
        detail: String,
    },
    /// Any other status.
    #[error("{service} {host} answered HTTP {status}{detail}")]
    Status {
        /// The service.
        service: &'static str,
        /// The host.
        host: String,
        /// The status.
        status: u16,
        /// A body excerpt.
        detail: String,
    },
    /// A 200 whose body is not the documented list.
    #[error("{service} {host} sent a list the audit cannot read: {problem}")]
    Body {
        /// The service.
        service: &'static str,
        /// The host.
        host: String,
        /// What is wrong.
        problem: String,
    },
    /// A next-page link to another host (the token is not sent there).
    #[error("{service} {host} sent a next-page link to another host ({other}); not followed")]
    ForeignLink {
        /// The service.
        service: &'static str,
        /// The host.
        host: String,
        /// The link's host.
        other: String,
    },
}

/// The HTTPS client and the run's deadline.
pub struct Reader<'a> {
    /// The exchange's client (no redirects, HTTPS only, proxy as configured).
    pub client: &'a reqwest::Client,
    /// The whole run's deadline.
    pub deadline: &'a Deadline,
}

enum Failure {
    Http(HttpError),
    Status(Response),
}

/// What an attempt saw, for the retry loop's final message (no body, no URL query).
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Http(error) => write!(f, "{error}"),
            Self::Status(response) => write!(f, "HTTP {}", response.status),
        }
    }
}

impl Reader<'_> {
    /// One GET, retried on 408/429/5xx and network trouble within the deadline; any final status
    /// is returned for the caller to judge.
    async fn get(
        &self,
        url: &Url,
        bearer: Option<&Secret>,
        github: bool,
    ) -> Result<Response, HttpError> {
        let result = http::retry(
            self.deadline,
            |_| async {
                let mut request = self.client.get(url.clone());
                if github {
                    request = request
                        .header(ACCEPT, "application/vnd.github+json")
                        .header("X-GitHub-Api-Version", GITHUB_API_VERSION);
                } else {
                    request = request.header(ACCEPT, "application/json");
                }
                if let Some(token) = bearer {
                    // bearer_auth marks the header sensitive.
                    request = request.bearer_auth(token.expose_secret());
                }
                match http::send(request, self.deadline).await {
                    Ok(response) if http::retryable_status(response.status) => {
                        let retry_after =
                            http::retry_after(&response.headers, std::time::SystemTime::now());
                        Attempt::Retry {
                            error: Failure::Status(response),
                            retry_after,
                        }
                    }
                    Ok(response) => Attempt::Done(Ok(response)),
                    Err(error) => match Attempt::<Response, HttpError>::from_transport(error) {
                        Attempt::Retry { error, retry_after } => Attempt::Retry {
                            error: Failure::Http(error),
                            retry_after,
                        },
                        Attempt::Done(result) => Attempt::Done(result.map_err(Failure::Http)),
                    },
                }
            },
            |_, _, _| {},
        )
        .await;
        match result {
            Ok(response) => Ok(response),
            Err(gave_up) => match gave_up.error {
                Failure::Status(response) => Ok(response),
                Failure::Http(error) => Err(error),
            },
        }
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

#[derive(Deserialize)]
struct GraphCredential {
    name: String,
    issuer: String,
    subject: Option<String>,
    #[serde(rename = "claimsMatchingExpression")]
    claims_matching_expression: Option<MatchingExpression>,
    audiences: Vec<String>,
}

#[derive(Deserialize)]
struct MatchingExpression {
    value: String,
}

#[derive(Deserialize)]
struct ArmCredential {
    name: String,
    properties: ArmProperties,
}

#[derive(Deserialize)]
struct ArmProperties {
    issuer: String,
    subject: Option<String>,
    #[serde(rename = "claimsMatchingExpression")]
    claims_matching_expression: Option<MatchingExpression>,
    audiences: Vec<String>,
}

/// Which list is read, for messages and the 403/404 wording.
#[derive(Clone, Copy)]
enum Service<'a> {
    Graph { app_id: &'a str },
    Arm { identity: &'a IdentityId },
}

impl Service<'_> {
    fn name(self) -> &'static str {
        match self {
            Service::Graph { .. } => "Microsoft Graph",
            Service::Arm { .. } => "Azure Resource Manager",
        }
    }
}

/// Reads every page of a list starting at `first`; `next` names the next-page field.
async fn pages(
    reader: &Reader<'_>,
    first: Url,
    token: &Secret,
    service: Service<'_>,
    next: &str,
) -> Result<Vec<serde_json::Value>, FetchError> {
    let host = host_of(&first);
    let mut items = Vec::new();
    let mut url = Some(first.clone());
    let mut count = 0;
    while let Some(current) = url.take() {
        count += 1;
        if count > MAX_PAGES {
            return Err(FetchError::Body {
                service: service.name(),
                host,
                problem: format!("more than {MAX_PAGES} pages"),
            });
        }
        let response = reader
            .get(&current, Some(token), false)
            .await
            .map_err(|error| FetchError::Http {
                service: service.name(),
                host: host.clone(),
                error,
            })?;
        let detail = excerpt(&response.body);
        match (response.status, service) {
            (StatusCode::OK, _) => {}
            (StatusCode::UNAUTHORIZED, _) => {
                return Err(FetchError::Unauthorized {
                    service: service.name(),
                    host,
                    detail,
                });
            }
            (StatusCode::FORBIDDEN, Service::Graph { app_id }) => {
                return Err(FetchError::GraphForbidden {
                    host,
                    app_id: app_id.to_owned(),
                    detail,
                });
            }
            (StatusCode::FORBIDDEN, Service::Arm { identity }) => {
                return Err(FetchError::ArmForbidden {
                    host,
                    identity: identity.name.clone(),
                    detail,
                });
            }
            (StatusCode::NOT_FOUND, _) => {
                let what = match service {
                    Service::Graph { app_id } => {
                        format!("no app registration has application ID {app_id} in this tenant")
                    }
                    Service::Arm { identity } => {
                        format!("identity {} was not found", identity.path())
                    }
                };
                return Err(FetchError::NotFound {
                    service: service.name(),
                    host,
                    what,
                    detail,
                });
            }
            (status, _) => {
                return Err(FetchError::Status {
                    service: service.name(),
                    host,
                    status: status.as_u16(),
                    detail,
                });
            }
        }
        let body: serde_json::Value =
            serde_json::from_slice(&response.body).map_err(|e| FetchError::Body {
                service: service.name(),
                host: host.clone(),
                problem: e.to_string(),
            })?;
        let Some(value) = body.get("value").and_then(|v| v.as_array()) else {
            return Err(FetchError::Body {
                service: service.name(),
                host,
                problem: "no \"value\" array".to_owned(),
            });
        };
        items.extend(value.iter().cloned());
        if let Some(link) = body.get(next).and_then(|v| v.as_str()) {
            let link = Url::parse(link).map_err(|e| FetchError::Body {
                service: service.name(),
                host: host.clone(),
                problem: format!("{next} is not a URL ({e})"),
            })?;
            if !same_origin(&link, &first) {
                return Err(FetchError::ForeignLink {
                    service: service.name(),
                    host,
                    other: host_of(&link),
                });
            }
            url = Some(link);
        }
    }
    Ok(items)
}

fn parse_items<T: for<'de> Deserialize<'de>>(
    items: Vec<serde_json::Value>,
    service: &'static str,
    host: &str,
) -> Result<Vec<T>, FetchError> {
    items
        .into_iter()
        .map(|item| {
            serde_json::from_value(item).map_err(|e| FetchError::Body {
                service,
                host: host.to_owned(),
                problem: e.to_string(),
            })
        })
        .collect()
}

/// `root` (a service's root URL) joined with `path` (which starts with `/`).
pub fn under(root: &Url, path: &str) -> Result<Url, String> {
    Url::parse(&format!("{}{path}", root.as_str().trim_end_matches('/')))
        .map_err(|e| format!("cannot build the request URL: {e}"))
}

/// An app registration's federated credentials: Graph beta's list (flexible ones included), plus
/// any that only v1.0 lists.
pub async fn graph_credentials(
    reader: &Reader<'_>,
    graph: &Url,
    app_id: &str,
    token: &Secret,
) -> Result<Vec<Deployed>, FetchError> {
    let host = host_of(graph);
    let url = |version: &str| {
        under(
            graph,
            &format!("/{version}/applications(appId='{app_id}')/federatedIdentityCredentials"),
        )
        .map_err(|e| FetchError::Body {
            service: "Microsoft Graph",
            host: host.clone(),
            problem: e,
        })
    };
    let service = Service::Graph { app_id };
    let v1: Vec<GraphCredential> = parse_items(
        pages(reader, url("v1.0")?, token, service, "@odata.nextLink").await?,
        "Microsoft Graph",
        &host,
    )?;
    let beta: Vec<GraphCredential> = parse_items(
        pages(reader, url("beta")?, token, service, "@odata.nextLink").await?,
        "Microsoft Graph",
        &host,
    )?;
    let mut all: Vec<Deployed> = beta.into_iter().map(from_graph).collect();
    for credential in v1 {
        if !all.iter().any(|c| c.name == credential.name) {
            all.push(from_graph(credential));
        }
    }
    Ok(all)
}

fn from_graph(c: GraphCredential) -> Deployed {
    Deployed {
        name: c.name,
        issuer: c.issuer,
        subject: c.subject.filter(|s| !s.is_empty()),
        expression: c.claims_matching_expression.map(|e| e.value),
        audiences: c.audiences,
    }
}

/// A user-assigned identity's federated credentials.
pub async fn arm_credentials(
    reader: &Reader<'_>,
    arm: &Url,
    identity: &IdentityId,
    token: &Secret,
) -> Result<Vec<Deployed>, FetchError> {
    let host = host_of(arm);
    let mut url = under(
        arm,
        &format!("{}/federatedIdentityCredentials", identity.path()),
    )
    .map_err(|e| FetchError::Body {
        service: "Azure Resource Manager",
        host: host.clone(),
        problem: e,
    })?;
    url.query_pairs_mut()
        .append_pair("api-version", ARM_API_VERSION);
    let items: Vec<ArmCredential> = parse_items(
        pages(reader, url, token, Service::Arm { identity }, "nextLink").await?,
        "Azure Resource Manager",
        &host,
    )?;
    Ok(items
        .into_iter()
        .map(|c| Deployed {
            name: c.name,
            issuer: c.properties.issuer,
            subject: c.properties.subject.filter(|s| !s.is_empty()),
            expression: c.properties.claims_matching_expression.map(|e| e.value),
            audiences: c.properties.audiences,
        })
        .collect())
}

/// Where the audit asks GitHub about repositories.
pub struct GitHubApi<'a> {
    /// The reader.
    pub reader: &'a Reader<'a>,
    /// `--github-api-url` or `$GITHUB_API_URL`, for every issuer; without it, api.github.com for
    /// github.com issuers and `api.SUBDOMAIN.ghe.com` for GHE.com ones.
    pub root: Option<&'a Url>,
    /// `$GITHUB_TOKEN`, if set.
    pub token: Option<&'a Secret>,
}

#[derive(Deserialize)]
struct RepoBody {
    id: u64,
    full_name: String,
    owner: OwnerBody,
}

#[derive(Deserialize)]
struct OwnerBody {
    id: u64,
}

#[derive(Deserialize)]
struct CustomizationBody {
    use_default: Option<bool>,
    include_claim_keys: Option<Vec<String>>,
    use_immutable_subject: Option<bool>,
    sub_claim_prefix: Option<String>,
}

/// A repository answer before its template is read.
enum RepoAnswer {
    Found(RepoBody),
    Moved(Option<u64>),
    NotFound,
    Unknown(String),
}

impl GitHubApi<'_> {
    fn url(root: &Url, segments: &[&str]) -> Url {
        let mut url = root.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    async fn repository(&self, root: &Url, segments: &[&str]) -> RepoAnswer {
        let url = Self::url(root, segments);
        let response = match self.reader.get(&url, self.token, true).await {
            Ok(response) => response,
            Err(error) => return RepoAnswer::Unknown(error.to_string()),
        };
        match response.status.as_u16() {
            200 => match serde_json::from_slice::<RepoBody>(&response.body) {
                Ok(body) => RepoAnswer::Found(body),
                Err(e) => RepoAnswer::Unknown(format!("unreadable repository: {e}")),
            },
            301 | 307 | 308 => {
                let id = response
                    .headers
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| Url::parse(v).ok())
                    .and_then(|location| {
                        let mut segments: Vec<String> =
                            location.path_segments()?.map(str::to_owned).collect();
                        let id = segments.pop()?.parse::<u64>().ok()?;
                        (segments.pop()? == "repositories").then_some(id)
                    });
                RepoAnswer::Moved(id)
            }
            404 => RepoAnswer::NotFound,
            status => RepoAnswer::Unknown(format!("HTTP {status}{}", excerpt(&response.body))),
        }
    }

    async fn template(&self, root: &Url, full_name: &str) -> (Template, PresentedForm) {
        let Some((owner, name)) = full_name.split_once('/') else {
            return (Template::Unknown, PresentedForm::Unknown);
        };
        let url = Self::url(
            root,
            &[
                "repos",
                owner,
                name,
                "actions",
                "oidc",
                "customization",
                "sub",
            ],
        );
        let Ok(response) = self.reader.get(&url, self.token, true).await else {
            return (Template::Unknown, PresentedForm::Unknown);
        };
        let body = (response.status == StatusCode::OK)
            .then(|| serde_json::from_slice::<CustomizationBody>(&response.body).ok())
            .flatten();
        let Some(body) = body else {
            return (Template::Unknown, PresentedForm::Unknown);
        };
        let form = presented_form(body.sub_claim_prefix.as_deref(), body.use_immutable_subject);
        let template = match (body.use_default, body.include_claim_keys) {
            (Some(true), _) => Template::Default,
            (Some(false), Some(keys)) if !keys.is_empty() => custom(keys),
            // Opted in to the organisation's template without keys of its own.
            (Some(false), _) => self.org_template(root, owner).await,
            (None, _) => Template::Unknown,
        };
        (template, form)
    }

    async fn org_template(&self, root: &Url, org: &str) -> Template {
        let url = Self::url(
            root,
            &["orgs", org, "actions", "oidc", "customization", "sub"],
        );
        let Ok(response) = self.reader.get(&url, self.token, true).await else {
            return Template::Unknown;
        };
        match response.status.as_u16() {
            200 => serde_json::from_slice::<CustomizationBody>(&response.body)
                .ok()
                .and_then(|b| b.include_claim_keys)
                .map_or(Template::Unknown, custom),
            // A user account has no organisation template: GitHub's default applies.
            404 => Template::Default,
            _ => Template::Unknown,
        }
    }

    async fn environment_exists(
        &self,
        root: &Url,
        full_name: &str,
        environment: &str,
    ) -> Option<bool> {
        let (owner, name) = full_name.split_once('/')?;
        let url = Self::url(root, &["repos", owner, name, "environments", environment]);
        let response = self.reader.get(&url, self.token, true).await.ok()?;
        match response.status.as_u16() {
            200 => Some(true),
            404 => Some(false),
            _ => None,
        }
    }

    async fn resolve(&self, root: &Url, answer: RepoAnswer) -> Lookup {
        match answer {
            RepoAnswer::Found(body) => {
                let (template, form) = self.template(root, &body.full_name).await;
                Lookup::Found(Repository {
                    full_name: body.full_name,
                    owner_id: body.owner.id,
                    id: body.id,
                    template,
                    form,
                })
            }
            RepoAnswer::Moved(id) => {
                let now = match id {
                    Some(id) => match self
                        .repository(root, &["repositories", &id.to_string()])
                        .await
                    {
                        RepoAnswer::Found(body) => {
                            let (template, form) = self.template(root, &body.full_name).await;
                            Some(Repository {
                                full_name: body.full_name,
                                owner_id: body.owner.id,
                                id: body.id,
                                template,
                                form,
                            })
                        }
                        _ => None,
                    },
                    None => None,
                };
                Lookup::Moved { now }
            }
            RepoAnswer::NotFound => Lookup::NotFound,
            RepoAnswer::Unknown(reason) => Lookup::Unknown(reason),
        }
    }

    /// What GitHub says about each credential's repository (`None` where the issuer is not
    /// GitHub's or the subject names no repository), asking once per repository and environment.
    pub async fn facts(&self, credentials: &[Deployed]) -> Vec<Option<GitHubFacts>> {
        let mut lookups: HashMap<String, Lookup> = HashMap::new();
        let mut environments: HashMap<String, Option<bool>> = HashMap::new();
        let mut out = Vec::with_capacity(credentials.len());
        for credential in credentials {
            let (Some((repo, environment)), Some(root)) = (
                repository_of(credential),
                github_root(self.root, &credential.issuer),
            ) else {
                out.push(None);
                continue;
            };
            let key = format!("{root} {}", segment(&repo));
            let lookup = match lookups.get(&key) {
                Some(lookup) => lookup.clone(),
                None => {
                    let answer = match repo.ids {
                        Some((_, id)) => {
                            self.repository(&root, &["repositories", &id.to_string()])
                                .await
                        }
                        None => {
                            self.repository(&root, &["repos", &repo.owner, &repo.name])
                                .await
                        }
                    };
                    let lookup = self.resolve(&root, answer).await;
                    lookups.insert(key, lookup.clone());
                    lookup
                }
            };
            let environment_exists = match (&lookup, environment) {
                (Lookup::Found(found), Some(environment)) => {
                    let key = format!("{root} {} {environment}", found.full_name);
                    match environments.get(&key) {
                        Some(known) => *known,
                        None => {
                            let known = self
                                .environment_exists(&root, &found.full_name, &environment)
                                .await;
                            environments.insert(key, known);
                            known
                        }
                    }
                }
                _ => None,
            };
            out.push(Some(GitHubFacts {
                lookup,
                environment_exists,
                authenticated: self.token.is_some(),
            }));
        }
        out
    }
}

/// The GitHub REST root for a credential's issuer: `explicit` (`--github-api-url`,
/// `$GITHUB_API_URL`) for every issuer; without it `https://api.github.com` for github.com issuers and
/// `https://api.SUBDOMAIN.ghe.com` for GHE.com ones
/// (GitHub names `api.SUBDOMAIN.ghe.com` as the API host of GHE.com:
/// <https://docs.github.com/en/enterprise-cloud@latest/graphql/guides/managing-enterprise-accounts>);
/// `None` for other issuers.
pub fn github_root(explicit: Option<&Url>, issuer: &str) -> Option<Url> {
    let kind = match issuer_kind(issuer) {
        classify::IssuerKind::NearGitHub { canonical } => issuer_kind(&canonical),
        kind => kind,
    };
    let classify::IssuerKind::GitHub { ghe_subdomain } = kind else {
        return None;
    };
    if let Some(root) = explicit {
        return Some(root.clone());
    }
    Url::parse(&match ghe_subdomain {
        Some(sub) => format!("https://api.{sub}.ghe.com"),
        None => "https://api.github.com".to_owned(),
    })
    .ok()
}

fn custom(keys: Vec<String>) -> Template {
    if keys == classify::default_template() {
        Template::Default
    } else {
        Template::Custom(keys)
    }
}

fn segment(repo: &RepoRef) -> String {
    match repo.ids {
        Some((o, r)) => format!("{}@{o}/{}@{r}", repo.owner, repo.name),
        None => repo.full_name(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_github_issuer_has_its_rest_root() {
        let root = |explicit: Option<&Url>, issuer: &str| {
            github_root(explicit, issuer).map(|u| u.to_string())
        };
        assert_eq!(
            root(None, "https://token.actions.githubusercontent.com").as_deref(),
            Some("https://api.github.com/")
        );
        assert_eq!(
            root(None, "https://token.actions.octocorp.ghe.com").as_deref(),
            Some("https://api.octocorp.ghe.com/")
        );
        assert_eq!(
            root(None, "https://token.actions.octocorp.ghe.com/").as_deref(),
            Some("https://api.octocorp.ghe.com/")
        );
        let ghes = Url::parse("https://ghes.example.com/api/v3").expect("url");
        assert_eq!(
            root(
                Some(&ghes),
                "https://token.actions.githubusercontent.com/octo-inc"
            )
            .as_deref(),
            Some("https://ghes.example.com/api/v3")
        );
        assert_eq!(root(Some(&ghes), "https://kubernetes.example.com"), None);
    }

    #[test]
    fn next_links_stay_on_their_origin() {
        let url = |s: &str| Url::parse(s).expect("url");
        let first = url("https://graph.microsoft.com/v1.0/x");
        assert!(same_origin(
            &url("https://graph.microsoft.com/v1.0/x?$skiptoken=1"),
            &first
        ));
        assert!(same_origin(
            &url("https://graph.microsoft.com:443/beta/y"),
            &first
        ));
        assert!(!same_origin(
            &url("https://graph.evil.example/v1.0/x"),
            &first
        ));
        assert!(!same_origin(
            &url("https://graph.microsoft.com:8443/v1.0/x"),
            &first
        ));
        assert!(!same_origin(
            &url("http://graph.microsoft.com/v1.0/x"),
            &first
        ));
        assert_eq!(
            under(&url("https://h/api/v3/"), "/repos")
                .expect("url")
                .as_str(),
            "https://h/api/v3/repos"
        );
    }
}
