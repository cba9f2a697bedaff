//! The command line as typed. Values stay strings here; `Settings::new` (with `CopyPlan::new`) turns
//! them into validated types, so every rule lives in one place and reports the flag, the value
//! and the rule in the same words.

use clap::{Parser, ValueEnum};

pub use crate::progress::ColorChoice;
pub use crate::sign::SignatureVersion;

pub const REGION_ENV: &str = "ALIBABA_CLOUD_REGION_ID";
pub const ENDPOINT_ENV: &str = "ALIBABA_CLOUD_ECS_ENDPOINT";

const AFTER_HELP: &str = "\
Examples:
  # Copy to Shanghai and keep the new id
  IMAGE=$(copy-image --region cn-hangzhou --image-id m-bp1h46wfpjsjastc0001 \\
          --destination-region cn-shanghai)

  # In CI: copy, then wait (progress on stderr) until the copy is Available
  IMAGE=$(copy-image --region cn-hangzhou --image-id m-bp1h46wfpjsjastc0001 \\
          --destination-region cn-shanghai --wait --timeout 90m)

  # Fan out to three regions; one line per copy: REGION, a tab, IMAGE-ID
  copy-image --region cn-hangzhou --image-id m-bp1h46wfpjsjastc0001 \\
    --destination-region cn-shanghai,cn-beijing,ap-southeast-1 --wait

  # Name, describe, encrypt and tag the copy; print JSON
  copy-image --region cn-hangzhou --image-id m-bp1h46wfpjsjastc0001 \\
    --destination-region cn-shanghai --destination-image-name web-2024.06 \\
    --destination-description 'web tier, June build' --encrypted \\
    --tag team=web --tag env=prod --output json

Credentials are found where the official tools look, in their order: ALIBABA_CLOUD_ACCESS_KEY_ID
and ALIBABA_CLOUD_ACCESS_KEY_SECRET (+ ALIBABA_CLOUD_SECURITY_TOKEN), OIDC (ALIBABA_CLOUD_ROLE_ARN,
ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE), ~/.aliyun/config.json,
~/.alibabacloud/credentials, the ECS instance RAM role, ALIBABA_CLOUD_CREDENTIALS_URI.

With several destinations the exit code is the most severe one: 1, 6, 4, 3, 5, 7, 130, 2.

Exit codes:
  0  the copy was started (with --wait: is Available); its ImageId is on stdout
  1  unexpected internal error
  2  usage or validation error (nothing was sent)
  3  no usable credentials found locally
  4  the API rejected the request (stderr shows Code, Message and RequestId)
  5  the service was unreachable or failing (network, TLS, 5xx, throttling)
  6  --wait: the copy failed (CreateFailed, UnAvailable) or vanished
  7  --wait: --timeout passed; the copy goes on unless --cancel-on-timeout
  130  --wait: interrupted (Ctrl-C); the copy goes on unless --cancel-on-interrupt";

/// `--if-exists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IfExists {
    /// Copy as usual; a name already in use is an error naming the existing image
    Fail,
    /// Print (and --wait for) the existing image of that name instead of copying again
    Reuse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// The new ImageId alone (one REGION, tab, IMAGE-ID line per copy for several destinations)
    Text,
    /// One JSON object with ImageId, RequestId, SourceRegionId and DestinationRegionId (an
    /// array of them for several destinations)
    Json,
}

/// Copy an Alibaba Cloud ECS custom image to another region and print the new ImageId.
///
/// The request is validated before anything is sent, signed with credentials found where the
/// official Alibaba Cloud tools keep them, and sent to the ECS endpoint of the source region. Only the new ImageId goes to
/// stdout, so `IMAGE=$(copy-image ...)` works; messages go to stderr.
#[derive(Debug, Clone, Parser)]
#[command(name = "copy-image", version, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    /// The custom image to copy (m-...)
    #[arg(
        long,
        value_name = "ID",
        required_unless_present_any = ["template", "properties", "completions", "man"]
    )]
    pub image_id: Option<String>,

    /// The region to copy the image to (e.g. cn-shanghai); repeat it or separate regions with
    /// commas to copy to several at once
    #[arg(
        long,
        value_name = "REGION",
        value_delimiter = ',',
        required_unless_present_any = ["template", "properties", "completions", "man"]
    )]
    pub destination_region: Vec<String>,

    /// The region the source image is in (required here or in the environment)
    #[arg(long, visible_alias = "region", value_name = "REGION", env = REGION_ENV, hide_env_values = true)]
    pub source_region: Option<String>,

    /// Name of the copy: 2-128 characters, starting with a letter; letters (incl. Chinese),
    /// digits, '.', ':', '_' and '-'
    #[arg(long, value_name = "NAME")]
    pub destination_image_name: Option<String>,

    /// Description of the copy: 2-256 characters, not starting with http:// or https://
    #[arg(long, value_name = "TEXT")]
    pub destination_description: Option<String>,

    /// Encrypt the copy (omit both --encrypted and --no-encrypted to leave it to the service)
    #[arg(long, conflicts_with = "no_encrypted")]
    pub encrypted: bool,

    /// Do not encrypt the copy
    #[arg(long)]
    pub no_encrypted: bool,

    /// KMS key that encrypts the copy (requires --encrypted); REGION=KEY gives a key for one
    /// destination region; repeatable
    #[arg(long, value_name = "[REGION=]ID")]
    pub kms_key_id: Vec<String>,

    /// Tag the copy; repeat for more (at most 20). KEY= or KEY alone gives an empty value
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,

    /// Resource group of the copy (default: the account's default resource group)
    #[arg(long, value_name = "ID")]
    pub resource_group_id: Option<String>,

    /// Add the source image's own tags to the copy (a --tag with the same key wins; system tags
    /// are skipped)
    #[arg(long)]
    pub copy_tags: bool,

    /// When an image of yours with the same --destination-image-name already exists in a
    /// destination region: fail, or reuse it instead of copying again
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = IfExists::Fail)]
    pub if_exists: IfExists,

    /// Only check credentials, permissions and parameters (CopyImage with DryRun=true); nothing
    /// is copied and nothing is printed on stdout
    #[arg(long, conflicts_with = "wait")]
    pub dry_run: bool,

    /// Run the ALIYUN::ECS::CopyImage resource of a ROS template (JSON or YAML); flags given
    /// too override its properties
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "properties",
        help_heading = "Template"
    )]
    pub template: Option<std::path::PathBuf>,

    /// A template parameter; repeatable
    #[arg(
        long = "parameter",
        value_name = "KEY=VALUE",
        requires = "template",
        help_heading = "Template"
    )]
    pub parameters: Vec<String>,

    /// The logical id of the CopyImage resource to run, when the template has several
    #[arg(
        long,
        value_name = "LOGICAL_ID",
        requires = "template",
        help_heading = "Template"
    )]
    pub resource: Option<String>,

    /// A bare ALIYUN::ECS::CopyImage Properties object (JSON or YAML) instead of flags
    #[arg(long, value_name = "FILE", help_heading = "Template")]
    pub properties: Option<std::path::PathBuf>,

    /// Profile of ~/.aliyun/config.json or section of ~/.alibabacloud/credentials to take the
    /// credentials (and the source region) from; put before the environment's credentials
    /// [default: $ALIBABA_CLOUD_PROFILE, else the config's current profile]
    #[arg(long, value_name = "NAME", help_heading = "Connection")]
    pub profile: Option<String>,

    /// Idempotency token (at most 64 ASCII characters): a re-run with the same token and
    /// parameters returns the copy already started instead of starting another [default: a new
    /// random token per copy]
    #[arg(long, value_name = "TOKEN", help_heading = "Connection")]
    pub client_token: Option<String>,

    /// Attempts per API call, the first included; transient failures (network, 5xx,
    /// throttling) are retried with backoff
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20), help_heading = "Connection")]
    pub max_attempts: u32,

    /// Time allowed to connect to the endpoint (e.g. 500ms, 10s)
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10s",
        help_heading = "Connection"
    )]
    pub connect_timeout: String,

    /// Time allowed for the answer to each request, once connected
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "30s",
        help_heading = "Connection"
    )]
    pub read_timeout: String,

    /// ECS endpoint for every call, instead of https://ecs.<region>.aliyuncs.com (http:// only
    /// for loopback hosts)
    #[arg(long, value_name = "URL", env = ENDPOINT_ENV, hide_env_values = true, help_heading = "Connection")]
    pub endpoint: Option<String>,

    /// Wait until the copy is Available, showing its progress on stderr (the ImageId is printed
    /// first, at once)
    #[arg(long, help_heading = "Waiting")]
    pub wait: bool,

    /// Give up waiting after this long (exit 7); the copy goes on unless --cancel-on-timeout
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "2h",
        requires = "wait",
        help_heading = "Waiting"
    )]
    pub timeout: String,

    /// First interval between progress checks; later ones adapt to the copy (at most 60s)
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "5s",
        requires = "wait",
        help_heading = "Waiting"
    )]
    pub poll_interval: String,

    /// Cancel the copy (CancelCopyImage) when --timeout passes
    #[arg(long, requires = "wait", help_heading = "Waiting")]
    pub cancel_on_timeout: bool,

    /// Cancel the copy (CancelCopyImage) on Ctrl-C while waiting
    #[arg(long, requires = "wait", help_heading = "Waiting")]
    pub cancel_on_interrupt: bool,

    /// Request signature for ECS calls: v1 (HMAC-SHA1, the default, as the aliyun CLI signs) or
    /// v3 (ACS3-HMAC-SHA256, as the newest SDKs sign)
    #[arg(long, value_enum, value_name = "VERSION", default_value_t = SignatureVersion::V1, help_heading = "Connection")]
    pub signature_version: SignatureVersion,

    /// Output format
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = OutputFormat::Text, help_heading = "Output")]
    pub output: OutputFormat,

    /// Show each attempt on stderr; -vv also shows the request parameters (credentials masked)
    #[arg(short, long, action = clap::ArgAction::Count, conflicts_with = "quiet", help_heading = "Output")]
    pub verbose: u8,

    /// Print nothing but the result and errors
    #[arg(short, long, help_heading = "Output")]
    pub quiet: bool,

    /// Print a completion script for SHELL on stdout, e.g. `copy-image --completions bash >
    /// /etc/bash_completion.d/copy-image`
    #[arg(
        long,
        value_enum,
        value_name = "SHELL",
        exclusive = true,
        help_heading = "Shell"
    )]
    pub completions: Option<clap_complete::Shell>,

    /// Print the man page (roff) on stdout, e.g. `copy-image --man > copy-image.1`
    #[arg(long, exclusive = true, help_heading = "Shell")]
    pub man: bool,

    /// Colors on stderr (auto: on a terminal, unless NO_COLOR is set)
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto, help_heading = "Output")]
    pub color: ColorChoice,
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn encrypted_flags_conflict() {
        let r = Cli::try_parse_from_for_test(&["--encrypted", "--no-encrypted"]);
        assert_eq!(
            r.unwrap_err().kind(),
            clap::error::ErrorKind::ArgumentConflict
        );
    }

    #[test]
    fn tags_keep_command_line_order() {
        let cli = Cli::try_parse_from_for_test(&["--tag", "z=1", "--tag", "a=2"]).unwrap();
        assert_eq!(cli.tags, ["z=1", "a=2"]);
    }

    #[test]
    fn region_alias() {
        let cli = Cli::try_parse_from_for_test(&["--region", "cn-beijing"]).unwrap();
        assert_eq!(cli.source_region.as_deref(), Some("cn-beijing"));
    }

    impl Cli {
        fn try_parse_from_for_test(extra: &[&str]) -> Result<Cli, clap::Error> {
            use clap::Parser;
            let base = [
                "copy-image",
                "--image-id",
                "m-x1",
                "--destination-region",
                "cn-shanghai",
            ];
            Cli::try_parse_from(base.iter().chain(extra))
        }
    }
}
