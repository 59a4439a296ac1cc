//! The Microsoft clouds: each one's authority host, Resource Manager scope and token audience.

/// A Microsoft cloud, as `azure/login` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cloud {
    /// The public cloud.
    AzureCloud,
    /// Azure Government (Fairfax).
    AzureUSGovernment,
    /// Azure operated by 21Vianet (Mooncake).
    AzureChinaCloud,
}

impl Cloud {
    /// Parses the `environment` input, case-insensitively.
    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::AzureCloud,
            Self::AzureUSGovernment,
            Self::AzureChinaCloud,
        ]
        .into_iter()
        .find(|cloud| cloud.name().eq_ignore_ascii_case(value))
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Self::AzureCloud => "AzureCloud",
            Self::AzureUSGovernment => "AzureUSGovernment",
            Self::AzureChinaCloud => "AzureChinaCloud",
        }
    }

    /// Entra's authority host for this cloud.
    pub fn authority_host(self) -> &'static str {
        match self {
            Self::AzureCloud => "https://login.microsoftonline.com",
            Self::AzureUSGovernment => "https://login.microsoftonline.us",
            Self::AzureChinaCloud => "https://login.chinacloudapi.cn",
        }
    }

    /// The Azure Resource Manager scope for this cloud.
    pub fn arm_scope(self) -> &'static str {
        match self {
            Self::AzureCloud => "https://management.azure.com/.default",
            Self::AzureUSGovernment => "https://management.usgovcloudapi.net/.default",
            Self::AzureChinaCloud => "https://management.chinacloudapi.cn/.default",
        }
    }

    /// Microsoft Graph's root in this cloud
    /// (<https://learn.microsoft.com/graph/deployments#microsoft-graph-and-graph-explorer-service-root-endpoints>).
    pub fn graph_endpoint(self) -> &'static str {
        match self {
            Self::AzureCloud => "https://graph.microsoft.com",
            Self::AzureUSGovernment => "https://graph.microsoft.us",
            Self::AzureChinaCloud => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// Microsoft Graph's `.default` scope in this cloud.
    pub fn graph_scope(self) -> &'static str {
        match self {
            Self::AzureCloud => "https://graph.microsoft.com/.default",
            Self::AzureUSGovernment => "https://graph.microsoft.us/.default",
            Self::AzureChinaCloud => "https://microsoftgraph.chinacloudapi.cn/.default",
        }
    }

    /// Azure Resource Manager's root in this cloud.
    pub fn arm_endpoint(self) -> &'static str {
        match self {
            Self::AzureCloud => "https://management.azure.com",
            Self::AzureUSGovernment => "https://management.usgovcloudapi.net",
            Self::AzureChinaCloud => "https://management.chinacloudapi.cn",
        }
    }

    /// The audience a federated identity credential in this cloud expects.
    pub fn audience(self) -> &'static str {
        match self {
            Self::AzureCloud => "api://AzureADTokenExchange",
            Self::AzureUSGovernment => "api://AzureADTokenExchangeUSGov",
            Self::AzureChinaCloud => "api://AzureADTokenExchangeChina",
        }
    }
}
