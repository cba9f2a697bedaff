//! A validated CopyImage request and its API parameters.

use crate::cli::Cli;
use crate::error::UsageError;
use crate::model::{
    ClientToken, Description, Encryption, ImageId, ImageName, KmsKeyId, RegionId, ResourceGroupId,
    Rule, Tag, Tags,
};
use crate::sign::v1::Params;

/// Everything a CopyImage call needs, every value already checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyImageRequest {
    pub source_region_id: RegionId,
    pub image_id: ImageId,
    pub destination_region_id: RegionId,
    pub destination_image_name: Option<ImageName>,
    pub destination_description: Option<Description>,
    pub encryption: Encryption,
    pub tags: Tags,
    pub resource_group_id: Option<ResourceGroupId>,
    /// Given by the user, or set once per logical copy before the first attempt, so that every
    /// retry of the copy carries the same token.
    pub client_token: Option<ClientToken>,
}

fn invalid(flag: &'static str, value: &str, rule: Rule) -> UsageError {
    UsageError::Invalid {
        flag,
        value: value.to_owned(),
        rule,
    }
}

fn parse<T>(
    flag: &'static str,
    value: &str,
    parser: fn(&str) -> Result<T, Rule>,
) -> Result<T, UsageError> {
    parser(value).map_err(|rule| invalid(flag, value, rule))
}

fn parse_opt<T>(
    flag: &'static str,
    value: Option<&str>,
    parser: fn(&str) -> Result<T, Rule>,
) -> Result<Option<T>, UsageError> {
    value.map(|v| parse(flag, v, parser)).transpose()
}

impl TryFrom<&Cli> for CopyImageRequest {
    type Error = UsageError;

    fn try_from(cli: &Cli) -> Result<Self, UsageError> {
        Self::new(cli, None)
    }
}

impl CopyImageRequest {
    /// The request the command line describes; `profile_region` is the source region when
    /// neither `--source-region` nor `ALIBABA_CLOUD_REGION_ID` gives one.
    pub fn new(cli: &Cli, profile_region: Option<&str>) -> Result<Self, UsageError> {
        let image_id = parse("--image-id", &cli.image_id, ImageId::parse)?;
        let source = cli
            .source_region
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .or(profile_region)
            .ok_or(UsageError::Missing {
                flag: "--source-region",
                hint: "give --source-region (alias --region), set ALIBABA_CLOUD_REGION_ID, or set region_id \
                       in the aliyun CLI profile, to the region the image is in",
            })?;
        let source_region_id = parse("--source-region", source, RegionId::parse)?;
        let destination_region_id = parse(
            "--destination-region",
            &cli.destination_region,
            RegionId::parse,
        )?;
        if destination_region_id == source_region_id {
            return Err(invalid(
                "--destination-region",
                &cli.destination_region,
                Rule(format!(
                    "must differ from the source region ({source_region_id}): CopyImage copies between regions"
                )),
            ));
        }

        let encryption = match (cli.encrypted, cli.no_encrypted, cli.kms_key_id.as_deref()) {
            (true, _, key) => Encryption::Enabled {
                kms_key_id: parse_opt("--kms-key-id", key, KmsKeyId::parse)?,
            },
            (false, no, Some(key)) => {
                let why = if no {
                    "not allowed with --no-encrypted: a KMS key encrypts the copy"
                } else {
                    "requires --encrypted: a KMS key is used only to encrypt the copy"
                };
                return Err(invalid("--kms-key-id", key, Rule(why.into())));
            }
            (false, true, None) => Encryption::Disabled,
            (false, false, None) => Encryption::Unspecified,
        };

        let tags = cli
            .tags
            .iter()
            .map(|t| parse("--tag", t, Tag::parse))
            .collect::<Result<Vec<_>, _>>()?;
        let tags = Tags::new(tags).map_err(|(at, rule)| invalid("--tag", &cli.tags[at], rule))?;

        Ok(Self {
            source_region_id,
            image_id,
            destination_region_id,
            destination_image_name: parse_opt(
                "--destination-image-name",
                cli.destination_image_name.as_deref(),
                ImageName::parse,
            )?,
            destination_description: parse_opt(
                "--destination-description",
                cli.destination_description.as_deref(),
                Description::parse,
            )?,
            encryption,
            tags,
            resource_group_id: parse_opt(
                "--resource-group-id",
                cli.resource_group_id.as_deref(),
                ResourceGroupId::parse,
            )?,
            client_token: parse_opt(
                "--client-token",
                cli.client_token.as_deref(),
                ClientToken::parse,
            )?,
        })
    }

    /// Gives the copy a ClientToken if the user did not: one per logical copy, reused by every
    /// attempt, so a retry after a lost answer cannot start a second copy.
    pub fn ensure_client_token(&mut self) -> &ClientToken {
        self.client_token.get_or_insert_with(ClientToken::generate)
    }

    /// The API parameters, named and flattened as the official SDKs send them: `Encrypted` as
    /// `true`/`false`, tags as `Tag.N.Key`/`Tag.N.Value` numbered from 1 in the user's order.
    pub fn to_params(&self) -> Params {
        let mut p = Params::new();
        let mut put = |k: &str, v: &str| {
            p.insert(k.to_owned(), v.to_owned());
        };
        put("RegionId", self.source_region_id.as_str());
        put("ImageId", self.image_id.as_str());
        put("DestinationRegionId", self.destination_region_id.as_str());
        if let Some(name) = &self.destination_image_name {
            put("DestinationImageName", name.as_str());
        }
        if let Some(description) = &self.destination_description {
            put("DestinationDescription", description.as_str());
        }
        match &self.encryption {
            Encryption::Unspecified => {}
            Encryption::Disabled => put("Encrypted", "false"),
            Encryption::Enabled { kms_key_id } => {
                put("Encrypted", "true");
                if let Some(key) = kms_key_id {
                    put("KMSKeyId", key.as_str());
                }
            }
        }
        if let Some(group) = &self.resource_group_id {
            put("ResourceGroupId", group.as_str());
        }
        if let Some(token) = &self.client_token {
            put("ClientToken", token.as_str());
        }
        for (i, tag) in self.tags.iter().enumerate() {
            let n = i + 1;
            put(&format!("Tag.{n}.Key"), tag.key().as_str());
            put(&format!("Tag.{n}.Value"), tag.value().as_str());
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(extra: &[&str]) -> Cli {
        let base = [
            "copy-image",
            "--image-id",
            "m-bp1h46wfpjsjastc0001",
            "--destination-region",
            "cn-shanghai",
            "--source-region",
            "cn-hangzhou",
        ];
        Cli::try_parse_from(base.iter().chain(extra)).expect("parses")
    }

    fn request(extra: &[&str]) -> Result<CopyImageRequest, UsageError> {
        CopyImageRequest::try_from(&cli(extra))
    }

    fn params(extra: &[&str]) -> Vec<(String, String)> {
        request(extra).unwrap().to_params().into_iter().collect()
    }

    fn refused(extra: &[&str]) -> String {
        request(extra).expect_err("should be refused").to_string()
    }

    #[test]
    fn minimal_request_sends_the_three_required_parameters() {
        let p = params(&[]);
        let expected = [
            ("DestinationRegionId", "cn-shanghai"),
            ("ImageId", "m-bp1h46wfpjsjastc0001"),
            ("RegionId", "cn-hangzhou"),
        ];
        assert_eq!(
            p,
            expected.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec()
        );
    }

    #[test]
    fn every_property_is_named_as_the_api_names_it() {
        let p = request(&[
            "--destination-image-name",
            "copy-1",
            "--destination-description",
            "a copy",
            "--encrypted",
            "--kms-key-id",
            "key-1",
            "--resource-group-id",
            "rg-1",
            "--client-token",
            "ci-run-42",
            "--tag",
            "z=1",
            "--tag",
            "a",
        ])
        .unwrap()
        .to_params();
        let get = |k: &str| p.get(k).map(String::as_str);
        assert_eq!(get("DestinationImageName"), Some("copy-1"));
        assert_eq!(get("DestinationDescription"), Some("a copy"));
        assert_eq!(get("Encrypted"), Some("true"));
        assert_eq!(get("KMSKeyId"), Some("key-1"));
        assert_eq!(get("ResourceGroupId"), Some("rg-1"));
        assert_eq!(get("Tag.1.Key"), Some("z"));
        assert_eq!(get("Tag.1.Value"), Some("1"));
        assert_eq!(get("Tag.2.Key"), Some("a"));
        assert_eq!(get("Tag.2.Value"), Some(""));
        assert_eq!(get("ClientToken"), Some("ci-run-42"));
        assert_eq!(p.len(), 13);
    }

    #[test]
    fn encrypted_is_tri_state() {
        let get = |extra: &[&str]| {
            request(extra)
                .unwrap()
                .to_params()
                .get("Encrypted")
                .cloned()
        };
        assert_eq!(get(&[]), None);
        assert_eq!(get(&["--encrypted"]).as_deref(), Some("true"));
        assert_eq!(get(&["--no-encrypted"]).as_deref(), Some("false"));
    }

    #[test]
    fn kms_key_needs_encryption() {
        let msg = refused(&["--kms-key-id", "key-1"]);
        assert_eq!(
            msg,
            "invalid value 'key-1' for --kms-key-id: requires --encrypted: a KMS key is used only to encrypt the copy"
        );
        let msg = refused(&["--no-encrypted", "--kms-key-id", "key-1"]);
        assert!(msg.contains("not allowed with --no-encrypted"), "{msg}");
        assert!(request(&["--encrypted", "--kms-key-id", "key-1"]).is_ok());
    }

    #[test]
    fn twenty_tags_are_numbered_in_order() {
        let args: Vec<String> = (1..=20)
            .flat_map(|i| ["--tag".to_owned(), format!("k{i}=v{i}")])
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let p = request(&args).unwrap().to_params();
        for i in 1..=20 {
            assert_eq!(p[&format!("Tag.{i}.Key")], format!("k{i}"));
            assert_eq!(p[&format!("Tag.{i}.Value")], format!("v{i}"));
        }
    }

    #[test]
    fn too_many_tags_name_the_first_extra_one() {
        let args: Vec<String> = (1..=21)
            .flat_map(|i| ["--tag".to_owned(), format!("k{i}=v")])
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(
            refused(&args),
            "invalid value 'k21=v' for --tag: at most 20 tags are allowed (got 21)"
        );
    }

    #[test]
    fn duplicate_tag_keys_are_refused() {
        let msg = refused(&["--tag", "env=a", "--tag", "env=b"]);
        assert_eq!(
            msg,
            "invalid value 'env=b' for --tag: tag keys must be unique ('env' is given twice)"
        );
    }

    #[test]
    fn each_flag_names_itself_in_its_error() {
        let cases: [(&[&str], &str); 7] = [
            (
                &["--destination-image-name", "1x"],
                "for --destination-image-name: must start with a letter",
            ),
            (
                &["--destination-description", "x"],
                "for --destination-description: must be 2 to 256",
            ),
            (
                &["--tag", "acs:x=1"],
                "for --tag: the tag key must not start with 'acs:'",
            ),
            (
                &["--tag", "k=https://x"],
                "for --tag: the tag value must not contain",
            ),
            (
                &["--resource-group-id", "rg 1"],
                "for --resource-group-id: must not contain white space",
            ),
            (
                &["--encrypted", "--kms-key-id", ""],
                "for --kms-key-id: must not be empty",
            ),
            (
                &["--destination-image-name", "aliyun-x"],
                "must not start with 'aliyun'",
            ),
        ];
        for (args, expected) in cases {
            let msg = refused(args);
            assert!(msg.contains(expected), "{args:?}: {msg}");
        }
    }

    #[test]
    fn image_and_region_errors() {
        let with = |image: &str, dest: &str, source: &str| {
            let cli = Cli::try_parse_from([
                "copy-image",
                "--image-id",
                image,
                "--destination-region",
                dest,
                "--source-region",
                source,
            ])
            .unwrap();
            CopyImageRequest::try_from(&cli).unwrap_err().to_string()
        };
        assert!(with("img-1", "cn-shanghai", "cn-hangzhou")
            .starts_with("invalid value 'img-1' for --image-id:"));
        assert!(with("m-1", "Shanghai", "cn-hangzhou")
            .starts_with("invalid value 'Shanghai' for --destination-region:"));
        assert!(with("m-1", "cn-shanghai", "hangzhou")
            .starts_with("invalid value 'hangzhou' for --source-region:"));
        let same = with("m-1", "cn-hangzhou", "cn-hangzhou");
        assert!(
            same.contains("must differ from the source region (cn-hangzhou)"),
            "{same}"
        );
    }

    #[test]
    fn client_token_is_kept_or_generated_once() {
        let mut given = request(&["--client-token", "ci-run-42"]).unwrap();
        assert_eq!(given.ensure_client_token().as_str(), "ci-run-42");
        let mut generated = request(&[]).unwrap();
        assert!(!generated.to_params().contains_key("ClientToken"));
        let first = generated.ensure_client_token().clone();
        assert_eq!(
            generated.ensure_client_token(),
            &first,
            "set once, then kept"
        );
        assert_eq!(generated.to_params()["ClientToken"], first.as_str());
        let msg = refused(&["--client-token", "has space"]);
        assert!(
            msg.starts_with("invalid value 'has space' for --client-token:"),
            "{msg}"
        );
    }

    #[test]
    fn missing_source_region_says_how_to_give_it() {
        let mut c = cli(&[]);
        c.source_region = None;
        let msg = CopyImageRequest::try_from(&c).unwrap_err().to_string();
        assert!(msg.starts_with("--source-region is required"), "{msg}");
        assert!(msg.contains("ALIBABA_CLOUD_REGION_ID"), "{msg}");
        c.source_region = Some("  ".into());
        assert!(CopyImageRequest::try_from(&c).is_err());
        let from_profile = CopyImageRequest::new(&c, Some("cn-beijing")).unwrap();
        assert_eq!(from_profile.source_region_id.as_str(), "cn-beijing");
        c.source_region = Some("cn-hangzhou".into());
        let flag_wins = CopyImageRequest::new(&c, Some("cn-beijing")).unwrap();
        assert_eq!(flag_wins.source_region_id.as_str(), "cn-hangzhou");
    }
}
