//! What is audited: an app registration (by application ID, through Microsoft Graph) or a
//! user-assigned managed identity (by its ARM resource ID), checked before any request.

use crate::exchange::settings::is_guid;

/// The holder of the federated credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An app registration, by its application (client) ID.
    App {
        /// The GUID.
        app_id: String,
    },
    /// A user-assigned managed identity.
    Identity(IdentityId),
}

/// The parts of `/subscriptions/S/resourceGroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/NAME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityId {
    /// The subscription ID.
    pub subscription: String,
    /// The resource group.
    pub resource_group: String,
    /// The identity's name.
    pub name: String,
}

impl IdentityId {
    /// The canonical resource ID (ARM paths are case-insensitive; this is the documented spelling).
    pub fn path(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}",
            self.subscription, self.resource_group, self.name
        )
    }
}

/// Why `--app-id` / `--identity` is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// The application ID is a GUID (the app registration's "Application (client) ID").
    #[error("--app-id {0:?} is not a GUID: give the app registration's Application (client) ID")]
    AppId(String),
    /// The identity is given by its full resource ID.
    #[error(
        "--identity {0:?} is not a user-assigned identity's resource ID: give /subscriptions/SUBSCRIPTION/resourceGroups/GROUP/providers/Microsoft.ManagedIdentity/userAssignedIdentities/NAME (az identity show --query id)"
    )]
    Identity(String),
}

/// `--app-id`.
pub fn parse_app_id(value: &str) -> Result<Target, TargetError> {
    let value = value.trim();
    if is_guid(value) {
        Ok(Target::App {
            app_id: value.to_ascii_lowercase(),
        })
    } else {
        Err(TargetError::AppId(value.to_owned()))
    }
}

/// `--identity`: a user-assigned identity's resource ID (segment names case-insensitive, as ARM's).
pub fn parse_identity(value: &str) -> Result<Target, TargetError> {
    let bad = || TargetError::Identity(value.to_owned());
    let segments: Vec<&str> = value.trim().trim_end_matches('/').split('/').collect();
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let safe = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.()".contains(c))
    };
    match segments.as_slice() {
        [
            "",
            subs,
            subscription,
            rgs,
            group,
            providers,
            namespace,
            kind,
            name,
        ] if eq(subs, "subscriptions")
            && eq(rgs, "resourceGroups")
            && eq(providers, "providers")
            && eq(namespace, "Microsoft.ManagedIdentity")
            && eq(kind, "userAssignedIdentities")
            && is_guid(subscription)
            && safe(group)
            && safe(name) =>
        {
            Ok(Target::Identity(IdentityId {
                subscription: (*subscription).to_owned(),
                resource_group: (*group).to_owned(),
                name: (*name).to_owned(),
            }))
        }
        _ => Err(bad()),
    }
}

impl Target {
    /// How messages name it.
    pub fn describe(&self) -> String {
        match self {
            Target::App { app_id } => format!("app registration {app_id}"),
            Target::Identity(id) => format!("managed identity {}", id.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_resource_ids_are_parsed_case_insensitively() {
        let id = "/subscriptions/00000000-0000-4000-8000-0000000000bb/resourcegroups/rg-id/providers/microsoft.managedidentity/userAssignedIdentities/id-deploy";
        assert_eq!(
            parse_identity(id),
            Ok(Target::Identity(IdentityId {
                subscription: "00000000-0000-4000-8000-0000000000bb".to_owned(),
                resource_group: "rg-id".to_owned(),
                name: "id-deploy".to_owned(),
            }))
        );
        for bad in [
            "id-deploy",
            "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a",
            "/subscriptions/00000000-0000-4000-8000-0000000000bb/resourceGroups/rg/providers/Microsoft.Web/sites/a",
            "/subscriptions/00000000-0000-4000-8000-0000000000bb/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a?x=1",
        ] {
            assert!(parse_identity(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn app_ids_are_guids() {
        assert!(parse_app_id("11111111-2222-4333-8444-555555555555").is_ok());
        assert_eq!(
            parse_app_id("octo-deployer"),
            Err(TargetError::AppId("octo-deployer".to_owned()))
        );
    }
}
