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

    /// The audience a federated identity credential in this cloud expects.
    pub fn audience(self) -> &'static str {
        match self {
            Self::AzureCloud => "api://AzureADTokenExchange",
            Self::AzureUSGovernment => "api://AzureADTokenExchangeUSGov",
            Self::AzureChinaCloud => "api://AzureADTokenExchangeChina",
        }
    }
}
