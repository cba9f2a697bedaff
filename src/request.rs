//! A validated CopyImage request and its API parameters.

use crate::error::UsageError;
use crate::model::{
    ClientToken, Description, Encryption, ImageId, ImageName, RegionId, ResourceGroupId, Rule, Tag,
    TagKey, TagValue, Tags,
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
    /// `DryRun=true`: the service checks everything and copies nothing.
    pub dry_run: bool,
}

impl CopyImageRequest {
    /// `--copy-tags`: adds the source image's tags. Tags already on the request (given with
    /// `--tag` or by the template) win; system tags (`acs:`, `aliyun`) are skipped; the result
    /// must still be at most 20 tags.
    pub fn add_source_tags(&mut self, source: &[(String, String)]) -> Result<(), UsageError> {
        let mut tags: Vec<Tag> = self.tags.iter().cloned().collect();
        for (key, value) in source {
            if key.starts_with("acs:") || key.starts_with("aliyun") {
                continue;
            }
            let shown = format!("{key}={value}");
            let invalid = |rule: Rule| UsageError::Invalid {
                flag: format!("--copy-tags (a tag of {})", self.image_id),
                value: shown.clone(),
                rule,
            };
            let key = TagKey::parse(key).map_err(invalid)?;
            if tags.iter().any(|t| *t.key() == key) {
                continue;
            }
            tags.push(Tag::new(key, TagValue::parse(value).map_err(invalid)?));
        }
        let count = tags.len();
        self.tags = Tags::new(tags).map_err(|(_, rule)| UsageError::Invalid {
            flag: "--copy-tags".into(),
            value: format!("{count} tags with the source image's"),
            rule,
        })?;
        Ok(())
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
        if self.dry_run {
            put("DryRun", "true");
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
    use crate::cli::Cli;
    use crate::plan::CopyPlan;
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
        CopyPlan::new(&cli(extra), None, None).map(|p| p.copies[0].request().clone())
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
            "invalid value 'key-1' for --kms-key-id: requires --encrypted (Encrypted true): a KMS key is used only to encrypt the copy"
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
            CopyPlan::new(&cli, None, None).unwrap_err().to_string()
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
        let plan = |c: &Cli, profile: Option<&str>| {
            CopyPlan::new(c, None, profile).map(|p| p.copies[0].request().clone())
        };
        let msg = plan(&c, None).unwrap_err().to_string();
        assert!(msg.starts_with("--source-region is required"), "{msg}");
        assert!(msg.contains("ALIBABA_CLOUD_REGION_ID"), "{msg}");
        c.source_region = Some("  ".into());
        assert!(plan(&c, None).is_err());
        let from_profile = plan(&c, Some("cn-beijing")).unwrap();
        assert_eq!(from_profile.source_region_id.as_str(), "cn-beijing");
        c.source_region = Some("cn-hangzhou".into());
        let flag_wins = plan(&c, Some("cn-beijing")).unwrap();
        assert_eq!(flag_wins.source_region_id.as_str(), "cn-hangzhou");
    }

    #[test]
    fn dry_run_sends_dry_run_true() {
        assert_eq!(
            request(&["--dry-run"]).unwrap().to_params()["DryRun"],
            "true"
        );
        assert!(!request(&[]).unwrap().to_params().contains_key("DryRun"));
    }

    #[test]
    fn source_tags_are_added_after_explicit_ones_without_system_tags() {
        let mut r = request(&["--tag", "env=prod"]).unwrap();
        let source = [
            ("env".to_owned(), "dev".to_owned()),
            ("acs:ecs:source".to_owned(), "x".to_owned()),
            ("aliyun-internal".to_owned(), "y".to_owned()),
            ("team".to_owned(), "web".to_owned()),
        ];
        r.add_source_tags(&source).unwrap();
        let tags: Vec<String> = r
            .tags
            .iter()
            .map(|t| format!("{}={}", t.key(), t.value()))
            .collect();
        assert_eq!(tags, ["env=prod", "team=web"]);

        let mut r = request(&["--tag", "a=1"]).unwrap();
        let many: Vec<(String, String)> =
            (0..20).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        let e = r.add_source_tags(&many).unwrap_err().to_string();
        assert!(
            e.contains("--copy-tags") && e.contains("at most 20 tags are allowed (got 21)"),
            "{e}"
        );
    }
}
