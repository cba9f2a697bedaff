//! Every environment variable and file the credential chain reads, in one place. The names
//! are those of the official Alibaba Cloud tools (Credentials libraries, aliyun CLI,
//! Terraform), so nothing new has to be configured.

pub const ACCESS_KEY_ID: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
pub const ACCESS_KEY_SECRET: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
pub const SECURITY_TOKEN: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";
/// Terraform's older names.
pub const LEGACY_ACCESS_KEY: &str = "ALICLOUD_ACCESS_KEY";
pub const LEGACY_SECRET_KEY: &str = "ALICLOUD_SECRET_KEY";
pub const LEGACY_SECURITY_TOKEN: &str = "ALICLOUD_SECURITY_TOKEN";

pub const ROLE_ARN: &str = "ALIBABA_CLOUD_ROLE_ARN";
pub const OIDC_PROVIDER_ARN: &str = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN";
pub const OIDC_TOKEN_FILE: &str = "ALIBABA_CLOUD_OIDC_TOKEN_FILE";
pub const ROLE_SESSION_NAME: &str = "ALIBABA_CLOUD_ROLE_SESSION_NAME";

pub const PROFILE: &str = "ALIBABA_CLOUD_PROFILE";
/// Where the aliyun CLI's config.json is, instead of `~/.aliyun/config.json`.
pub const CONFIG_FILE: &str = "ALIBABA_CLOUD_CONFIG_FILE";
pub const CLI_PROFILE_DISABLED: &str = "ALIBABA_CLOUD_CLI_PROFILE_DISABLED";
pub const CREDENTIALS_FILE: &str = "ALIBABA_CLOUD_CREDENTIALS_FILE";

pub const ECS_METADATA: &str = "ALIBABA_CLOUD_ECS_METADATA";
pub const ECS_METADATA_DISABLED: &str = "ALIBABA_CLOUD_ECS_METADATA_DISABLED";
pub const IMDSV1_DISABLED: &str = "ALIBABA_CLOUD_IMDSV1_DISABLED";
pub const ECS_METADATA_ENDPOINT: &str = "ALIBABA_CLOUD_ECS_METADATA_ENDPOINT";

pub const CREDENTIALS_URI: &str = "ALIBABA_CLOUD_CREDENTIALS_URI";

pub const STS_REGION: &str = "ALIBABA_CLOUD_STS_REGION";
pub const STS_ENDPOINT: &str = "ALIBABA_CLOUD_STS_ENDPOINT";
pub const VPC_ENDPOINT_ENABLED: &str = "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED";

pub const HOME: &str = "HOME";
/// `~/.aliyun/config.json`, below the home directory.
pub const CLI_CONFIG_PATH: &str = ".aliyun/config.json";
/// The shared credentials file: the Go library's name first, then the Python library's.
pub const CREDENTIALS_PATHS: [&str; 2] =
    [".alibabacloud/credentials", ".alibabacloud/credentials.ini"];

/// The metadata service of every ECS instance.
pub const METADATA_BASE: &str = "http://100.100.100.200";
pub const STS_VERSION: &str = "2015-04-01";
pub const DEFAULT_STS_HOST: &str = "sts.aliyuncs.com";
/// Seconds a role session lasts unless configured (the official libraries' default).
pub const DEFAULT_DURATION_SECONDS: u32 = 3600;
