//! The allow-list: which resources the service mints tokens for. Azure Resource Manager is served by
//! default under both of its resource URIs (`https://management.azure.com/` and the older
//! `https://management.core.windows.net/`, which the Azure CLI asks for), in the chosen cloud's form;
//! every other resource only if `--allow-scope` names it.

use crate::exchange::cloud::Cloud;
use crate::exchange::settings::{ConfigError, check_token_chars};

/// Resource Manager's two resource URIs in `cloud`: the one SDKs use and the one `az` uses.
pub fn arm_resources(cloud: Cloud) -> [&'static str; 2] {
    match cloud {
        Cloud::AzureCloud => [
            "https://management.azure.com/",
            "https://management.core.windows.net/",
        ],
        Cloud::AzureUSGovernment => [
            "https://management.usgovcloudapi.net/",
            "https://management.core.usgovcloudapi.net/",
        ],
        Cloud::AzureChinaCloud => [
            "https://management.chinacloudapi.cn/",
            "https://management.core.chinacloudapi.cn/",
        ],
    }
}

/// The resources served, compared as [`normalize`] has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    resources: Vec<String>,
}

impl AllowList {
    /// The cloud's Resource Manager plus each of `scopes` (`--allow-scope`; a scope's `/.default`
    /// is dropped, a bare resource URI taken as it is).
    pub fn new(cloud: Cloud, scopes: &[String]) -> Result<Self, ConfigError> {
        let mut resources: Vec<String> = arm_resources(cloud).map(normalize).to_vec();
        for scope in scopes {
            check_token_chars(
                "allow-scope",
                scope,
                "one resource URI or scope such as https://vault.azure.net/.default (repeat the option for several)",
            )?;
            if scope.is_empty() {
                continue;
            }
            let resource = normalize(scope);
            if !resources.contains(&resource) {
                resources.push(resource);
            }
        }
        Ok(Self { resources })
    }

    /// Whether `resource` (as a client sends it) is served.
    pub fn allows(&self, resource: &str) -> bool {
        self.resources.contains(&normalize(resource))
    }

    /// The resources served, for the start-up line.
    pub fn resources(&self) -> &[String] {
        &self.resources
    }
}

/// A resource or scope as compared: `/.default` dropped, trailing slashes dropped, ASCII
/// lower-cased (clients send `https://management.azure.com` or `https://management.azure.com/`
/// for one resource, and Entra compares resource URIs case-insensitively).
pub fn normalize(resource: &str) -> String {
    let resource = resource.trim();
    let resource = resource.strip_suffix("/.default").unwrap_or(resource);
    resource.trim_end_matches('/').to_ascii_lowercase()
}

/// The scope requested from Entra for `resource`, as MSAL derives it: the resource as sent plus
/// `/.default` (`https://management.core.windows.net/` → `https://management.core.windows.net//.default`,
/// the documented form for resources whose URI ends in a slash).
pub fn scope_for(resource: &str) -> String {
    format!("{resource}/.default")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_arm_under_both_uris_in_each_cloud() {
        let public = AllowList::new(Cloud::AzureCloud, &[]).expect("valid");
        for resource in [
            "https://management.azure.com/",
            "https://management.azure.com",
            "https://management.core.windows.net/",
            "HTTPS://Management.Azure.com/",
        ] {
            assert!(public.allows(resource), "{resource}");
        }
        assert!(!public.allows("https://vault.azure.net"));
        assert!(!public.allows("https://management.usgovcloudapi.net/"));
        let gov = AllowList::new(Cloud::AzureUSGovernment, &[]).expect("valid");
        assert!(gov.allows("https://management.core.usgovcloudapi.net/"));
        assert!(gov.allows("https://management.usgovcloudapi.net"));
        assert!(!gov.allows("https://management.azure.com/"));
        let china = AllowList::new(Cloud::AzureChinaCloud, &[]).expect("valid");
        assert!(china.allows("https://management.core.chinacloudapi.cn/"));
        assert!(!china.allows("https://management.core.windows.net/"));
    }

    #[test]
    fn an_allowed_scope_serves_its_resource_and_nothing_else() {
        let list = AllowList::new(
            Cloud::AzureCloud,
            &[
                "https://vault.azure.net/.default".to_owned(),
                "api://my-api".to_owned(),
            ],
        )
        .expect("valid");
        assert!(list.allows("https://vault.azure.net"));
        assert!(list.allows("https://vault.azure.net/"));
        assert!(list.allows("api://my-api"));
        assert!(!list.allows("https://vault.azure.net.evil.example"));
        assert!(!list.allows("https://storage.azure.com/"));
        assert!(!list.allows("api://my-api/other"));
    }

    #[test]
    fn refuses_a_scope_with_spaces() {
        let error = AllowList::new(Cloud::AzureCloud, &["a b".to_owned()]).expect_err("spaces");
        assert!(error.to_string().contains("allow-scope"), "{error}");
    }

    #[test]
    fn scope_keeps_the_resource_as_sent() {
        assert_eq!(
            scope_for("https://management.core.windows.net/"),
            "https://management.core.windows.net//.default"
        );
        assert_eq!(
            scope_for("https://management.azure.com"),
            "https://management.azure.com/.default"
        );
    }
}
