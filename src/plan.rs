//! What to copy where: the command line, merged over a ROS template's properties, validated
//! into one [`CopyImageRequest`] per destination region. Every refusal is exit 2, before
//! anything is sent, and names where the value came from (a flag, or a template property).

use std::collections::BTreeMap;

use crate::cli::{Cli, IfExists};
use crate::error::UsageError;
use crate::model::{
    ClientToken, Description, Encryption, ImageId, ImageName, KmsKeyId, RegionId, ResourceGroupId,
    Rule, Tag, TagKey, TagValue, Tags,
};
use crate::request::CopyImageRequest;
use crate::template::CopyProperties;

/// One destination of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedCopy {
    /// Copy with this request.
    Copy(CopyImageRequest),
    /// The destination is the source region and the template allows it
    /// (`AllowCopyInSameRegion`): the source image is the result, nothing is copied.
    KeepSource(CopyImageRequest),
}

impl PlannedCopy {
    pub fn request(&self) -> &CopyImageRequest {
        match self {
            PlannedCopy::Copy(r) | PlannedCopy::KeepSource(r) => r,
        }
    }

    pub fn request_mut(&mut self) -> &mut CopyImageRequest {
        match self {
            PlannedCopy::Copy(r) | PlannedCopy::KeepSource(r) => r,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyPlan {
    /// In the order the destinations were given.
    pub copies: Vec<PlannedCopy>,
    /// `--copy-tags`: add the source image's tags (read from the service before copying).
    pub copy_tags: bool,
    pub if_exists: IfExists,
    pub dry_run: bool,
}

/// A value and where it came from, for messages.
struct Given {
    value: String,
    from: String,
}

fn given(
    cli: Option<&str>,
    flag: &str,
    template: Option<&str>,
    property: &str,
    t: Option<&CopyProperties>,
) -> Option<Given> {
    cli.filter(|v| !v.trim().is_empty())
        .map(|v| Given {
            value: v.to_owned(),
            from: flag.to_owned(),
        })
        .or_else(|| {
            template.map(|v| Given {
                value: v.to_owned(),
                from: format!("{property} (from {})", t.map_or("", |t| t.origin.as_str())),
            })
        })
}

fn invalid(from: &str, value: &str, rule: Rule) -> UsageError {
    UsageError::Invalid {
        flag: from.to_owned(),
        value: value.to_owned(),
        rule,
    }
}

fn check<T>(g: &Given, parser: fn(&str) -> Result<T, Rule>) -> Result<T, UsageError> {
    parser(&g.value).map_err(|rule| invalid(&g.from, &g.value, rule))
}

fn check_opt<T>(
    g: Option<Given>,
    parser: fn(&str) -> Result<T, Rule>,
) -> Result<Option<T>, UsageError> {
    g.map(|g| check(&g, parser)).transpose()
}

impl CopyPlan {
    /// `template`: the properties of `--template`/`--properties`, if given; `profile_region`:
    /// the source region of the aliyun CLI profile in use, the last resort.
    pub fn new(
        cli: &Cli,
        template: Option<&CopyProperties>,
        profile_region: Option<&str>,
    ) -> Result<Self, UsageError> {
        let t = template;
        let image = given(
            cli.image_id.as_deref(),
            "--image-id",
            t.and_then(|t| t.image_id.as_deref()),
            "ImageId",
            t,
        )
        .ok_or(UsageError::Missing {
            flag: "--image-id",
            hint: "give --image-id, or ImageId in the template",
        })?;
        let image_id = check(&image, ImageId::parse)?;

        let source = given(
            cli.source_region.as_deref(),
            "--source-region",
            t.and_then(|t| t.source_region_id.as_deref()),
            "SourceRegionId",
            t,
        )
        .or_else(|| {
            profile_region.map(|r| Given {
                value: r.to_owned(),
                from: "region_id of the aliyun CLI profile".to_owned(),
            })
        })
        .ok_or(UsageError::Missing {
            flag: "--source-region",
            hint: "give --source-region (alias --region), set ALIBABA_CLOUD_REGION_ID, or set region_id \
                   in the aliyun CLI profile, to the region the image is in",
        })?;
        let source_region_id = check(&source, RegionId::parse)?;

        let destinations = destinations(cli, t)?;
        let allow_same_region = t.and_then(|t| t.allow_copy_in_same_region).unwrap_or(false);

        let name = check_opt(
            given(
                cli.destination_image_name.as_deref(),
                "--destination-image-name",
                t.and_then(|t| t.destination_image_name.as_deref()),
                "DestinationImageName",
                t,
            ),
            ImageName::parse,
        )?;
        let description = check_opt(
            given(
                cli.destination_description.as_deref(),
                "--destination-description",
                t.and_then(|t| t.destination_description.as_deref()),
                "DestinationDescription",
                t,
            ),
            Description::parse,
        )?;
        let resource_group = check_opt(
            given(
                cli.resource_group_id.as_deref(),
                "--resource-group-id",
                t.and_then(|t| t.resource_group_id.as_deref()),
                "ResourceGroupId",
                t,
            ),
            ResourceGroupId::parse,
        )?;
        let tags = tags(cli, t)?;
        let keys = kms_keys(cli, t, &destinations)?;
        let encrypted = match (cli.encrypted, cli.no_encrypted) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => t.and_then(|t| t.encrypted),
        };
        if cli.if_exists == IfExists::Reuse && name.is_none() {
            return Err(UsageError::Missing {
                flag: "--destination-image-name",
                hint: "--if-exists reuse finds the existing copy by its name",
            });
        }

        let mut copies = Vec::new();
        for (region, given_region) in destinations {
            let encryption = match (encrypted, keys.for_region(&region)) {
                (Some(true), key) => Encryption::Enabled {
                    kms_key_id: key.map(|(k, _)| k.clone()),
                },
                (encrypted, Some((key, from))) => {
                    let why = if encrypted == Some(false) {
                        "not allowed with --no-encrypted (Encrypted false): a KMS key encrypts the copy"
                    } else {
                        "requires --encrypted (Encrypted true): a KMS key is used only to encrypt the copy"
                    };
                    return Err(invalid(from, key.as_str(), Rule(why.into())));
                }
                (Some(false), None) => Encryption::Disabled,
                (None, None) => Encryption::Unspecified,
            };
            let client_token = match &cli.client_token {
                None => None,
                Some(token) if keys.destinations == 1 => Some(check(
                    &Given {
                        value: token.clone(),
                        from: "--client-token".into(),
                    },
                    ClientToken::parse,
                )?),
                // Each copy needs its own token: the given one, suffixed with the region.
                Some(token) => Some(check(
                    &Given {
                        value: format!("{token}-{region}"),
                        from: "--client-token (with the region appended, one per destination)"
                            .into(),
                    },
                    ClientToken::parse,
                )?),
            };
            let request = CopyImageRequest {
                source_region_id: source_region_id.clone(),
                image_id: image_id.clone(),
                destination_region_id: region.clone(),
                destination_image_name: name.clone(),
                destination_description: description.clone(),
                encryption,
                tags: tags.clone(),
                resource_group_id: resource_group.clone(),
                client_token,
                dry_run: cli.dry_run,
            };
            if region == source_region_id {
                if !allow_same_region {
                    return Err(invalid(
                        &given_region.from,
                        &given_region.value,
                        Rule(format!(
                            "must differ from the source region ({source_region_id}): CopyImage copies between regions"
                        )),
                    ));
                }
                copies.push(PlannedCopy::KeepSource(request));
            } else {
                copies.push(PlannedCopy::Copy(request));
            }
        }
        Ok(Self {
            copies,
            copy_tags: cli.copy_tags,
            if_exists: cli.if_exists,
            dry_run: cli.dry_run,
        })
    }
}

/// The destination regions: every `--destination-region` (repeated or comma-separated), else
/// the template's `DestinationRegionId`. No region twice.
fn destinations(
    cli: &Cli,
    t: Option<&CopyProperties>,
) -> Result<Vec<(RegionId, Given)>, UsageError> {
    let given: Vec<Given> = if cli.destination_region.is_empty() {
        t.and_then(|t| t.destination_region_id.as_deref())
            .map(|r| Given {
                value: r.to_owned(),
                from: format!(
                    "DestinationRegionId (from {})",
                    t.map_or("", |t| t.origin.as_str())
                ),
            })
            .into_iter()
            .collect()
    } else {
        cli.destination_region
            .iter()
            .map(|r| Given {
                value: r.trim().to_owned(),
                from: "--destination-region".into(),
            })
            .collect()
    };
    if given.is_empty() {
        return Err(UsageError::Missing {
            flag: "--destination-region",
            hint: "give --destination-region, or DestinationRegionId in the template",
        });
    }
    let mut regions: Vec<(RegionId, Given)> = Vec::new();
    for g in given {
        let region = check(&g, RegionId::parse)?;
        if regions.iter().any(|(r, _)| *r == region) {
            return Err(invalid(&g.from, &g.value, Rule("is given twice".into())));
        }
        regions.push((region, g));
    }
    Ok(regions)
}

/// The template's tags, then `--tag`s; a `--tag` with a key the template has replaces its value.
fn tags(cli: &Cli, t: Option<&CopyProperties>) -> Result<Tags, UsageError> {
    let mut tags: Vec<(Tag, String)> = Vec::new();
    if let Some(t) = t {
        for (key, value) in t.tags.iter().flatten() {
            let from = format!("Tag (from {})", t.origin);
            let shown = format!("{key}={value}");
            let key = TagKey::parse(key).map_err(|rule| invalid(&from, &shown, rule))?;
            let value = TagValue::parse(value).map_err(|rule| invalid(&from, &shown, rule))?;
            tags.push((Tag::new(key, value), shown));
        }
    }
    let from_template = tags.len();
    for text in &cli.tags {
        let tag = Tag::parse(text).map_err(|rule| invalid("--tag", text, rule))?;
        match tags[..from_template]
            .iter()
            .position(|(t, _)| t.key() == tag.key())
        {
            Some(i) => tags[i] = (tag, text.to_string()),
            None => tags.push((tag, text.to_string())),
        }
    }
    let shown: Vec<String> = tags.iter().map(|(_, s)| s.clone()).collect();
    Tags::new(tags.into_iter().map(|(t, _)| t).collect()).map_err(|(at, rule)| {
        invalid(
            if at < from_template { "Tag" } else { "--tag" },
            &shown[at],
            rule,
        )
    })
}

/// `--kms-key-id`: `REGION=KEY` for one destination, or a bare `KEY` for all of them; else the
/// template's `KMSKeyId`.
struct KmsKeys {
    all: Option<(KmsKeyId, String)>,
    per_region: BTreeMap<RegionId, (KmsKeyId, String)>,
    destinations: usize,
}

impl KmsKeys {
    fn for_region(&self, region: &RegionId) -> Option<&(KmsKeyId, String)> {
        self.per_region.get(region).or(self.all.as_ref())
    }
}

fn kms_keys(
    cli: &Cli,
    t: Option<&CopyProperties>,
    destinations: &[(RegionId, Given)],
) -> Result<KmsKeys, UsageError> {
    let mut keys = KmsKeys {
        all: None,
        per_region: BTreeMap::new(),
        destinations: destinations.len(),
    };
    for text in &cli.kms_key_id {
        let flag = "--kms-key-id";
        let per_region = text
            .split_once('=')
            .and_then(|(r, k)| RegionId::parse(r.trim()).ok().map(|r| (r, k)));
        match per_region {
            Some((region, key)) => {
                if !destinations.iter().any(|(d, _)| *d == region) {
                    return Err(invalid(
                        flag,
                        text,
                        Rule(format!("{region} is not a destination region")),
                    ));
                }
                let key = KmsKeyId::parse(key.trim()).map_err(|rule| invalid(flag, text, rule))?;
                if keys
                    .per_region
                    .insert(region, (key, flag.to_owned()))
                    .is_some()
                {
                    return Err(invalid(
                        flag,
                        text,
                        Rule("gives a second key for the same region".into()),
                    ));
                }
            }
            None => {
                let key = KmsKeyId::parse(text).map_err(|rule| invalid(flag, text, rule))?;
                if keys.all.replace((key, flag.to_owned())).is_some() {
                    return Err(invalid(
                        flag,
                        text,
                        Rule("a key for every region is already given; use REGION=KEY for one region".into()),
                    ));
                }
            }
        }
    }
    if cli.kms_key_id.is_empty() {
        if let Some(t) = t {
            if let Some(key) = &t.kms_key_id {
                let from = format!("KMSKeyId (from {})", t.origin);
                keys.all = Some((
                    KmsKeyId::parse(key).map_err(|rule| invalid(&from, key, rule))?,
                    from,
                ));
            }
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(args: &[&str]) -> Cli {
        let base = [
            "copy-image",
            "--image-id",
            "m-bp1src",
            "--source-region",
            "cn-hangzhou",
        ];
        Cli::try_parse_from(base.iter().chain(args)).expect("parses")
    }

    fn plan(args: &[&str]) -> Result<CopyPlan, UsageError> {
        CopyPlan::new(&cli(args), None, None)
    }

    fn regions(p: &CopyPlan) -> Vec<String> {
        p.copies
            .iter()
            .map(|c| c.request().destination_region_id.to_string())
            .collect()
    }

    #[test]
    fn destinations_repeated_and_comma_separated_keep_their_order() {
        let p = plan(&[
            "--destination-region",
            "cn-shanghai,cn-beijing",
            "--destination-region",
            "ap-southeast-1",
        ])
        .unwrap();
        assert_eq!(regions(&p), ["cn-shanghai", "cn-beijing", "ap-southeast-1"]);
        assert!(p.copies.iter().all(|c| matches!(c, PlannedCopy::Copy(_))));
        let e = plan(&["--destination-region", "cn-shanghai,cn-shanghai"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "invalid value 'cn-shanghai' for --destination-region: is given twice"
        );
        let e = plan(&["--destination-region", "cn-shanghai,"])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("invalid value '' for --destination-region"),
            "{e}"
        );
    }

    #[test]
    fn kms_keys_per_region_and_for_all() {
        let p = plan(&[
            "--destination-region",
            "cn-shanghai,cn-beijing,ap-southeast-1",
            "--encrypted",
            "--kms-key-id",
            "cn-beijing=key-bj",
            "--kms-key-id",
            "key-all",
        ])
        .unwrap();
        let key = |i: usize| match &p.copies[i].request().encryption {
            Encryption::Enabled { kms_key_id } => kms_key_id.as_ref().map(|k| k.to_string()),
            other => panic!("{other:?}"),
        };
        assert_eq!(key(0).as_deref(), Some("key-all"));
        assert_eq!(key(1).as_deref(), Some("key-bj"));
        assert_eq!(key(2).as_deref(), Some("key-all"));
        let e = plan(&[
            "--destination-region",
            "cn-shanghai",
            "--encrypted",
            "--kms-key-id",
            "cn-beijing=k",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("cn-beijing is not a destination region"), "{e}");
        let e = plan(&[
            "--destination-region",
            "cn-shanghai",
            "--kms-key-id",
            "cn-shanghai=k",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("requires --encrypted"), "{e}");
        let e = plan(&[
            "--destination-region",
            "cn-shanghai",
            "--encrypted",
            "--kms-key-id",
            "a",
            "--kms-key-id",
            "b",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("already given"), "{e}");
    }

    #[test]
    fn a_client_token_gets_the_region_appended_for_several_destinations() {
        let p = plan(&[
            "--destination-region",
            "cn-shanghai",
            "--client-token",
            "run-7",
        ])
        .unwrap();
        assert_eq!(
            p.copies[0]
                .request()
                .client_token
                .as_ref()
                .unwrap()
                .as_str(),
            "run-7"
        );
        let p = plan(&[
            "--destination-region",
            "cn-shanghai,cn-beijing",
            "--client-token",
            "run-7",
        ])
        .unwrap();
        let tokens: Vec<_> = p
            .copies
            .iter()
            .map(|c| c.request().client_token.clone().unwrap().to_string())
            .collect();
        assert_eq!(tokens, ["run-7-cn-shanghai", "run-7-cn-beijing"]);
        let long = "x".repeat(60);
        let e = plan(&[
            "--destination-region",
            "cn-shanghai,cn-beijing",
            "--client-token",
            &long,
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("with the region appended") && e.contains("at most 64"),
            "{e}"
        );
    }

    #[test]
    fn reuse_needs_a_name() {
        let e = plan(&[
            "--destination-region",
            "cn-shanghai",
            "--if-exists",
            "reuse",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("--destination-image-name is required"), "{e}");
        assert!(plan(&[
            "--destination-region",
            "cn-shanghai",
            "--if-exists",
            "reuse",
            "--destination-image-name",
            "ab"
        ])
        .is_ok());
    }

    fn template() -> CopyProperties {
        CopyProperties {
            origin: "resource 'CopyImage' of t.yaml".into(),
            image_id: Some("m-tpl1".into()),
            source_region_id: Some("cn-beijing".into()),
            destination_region_id: Some("cn-shanghai".into()),
            destination_image_name: Some("from-template".into()),
            destination_description: None,
            encrypted: Some(true),
            kms_key_id: Some("tpl-key".into()),
            tags: Some(vec![
                ("env".into(), "dev".into()),
                ("team".into(), "web".into()),
            ]),
            resource_group_id: None,
            allow_copy_in_same_region: None,
        }
    }

    #[test]
    fn template_values_with_flags_overriding_them() {
        let bare = Cli::try_parse_from(["copy-image", "--template", "t.yaml"]).unwrap();
        let p = CopyPlan::new(&bare, Some(&template()), None).unwrap();
        let r = p.copies[0].request();
        assert_eq!(r.image_id.as_str(), "m-tpl1");
        assert_eq!(r.source_region_id.as_str(), "cn-beijing");
        assert_eq!(r.destination_region_id.as_str(), "cn-shanghai");
        assert_eq!(
            r.destination_image_name.as_ref().unwrap().as_str(),
            "from-template"
        );
        let flags = Cli::try_parse_from([
            "copy-image",
            "--template",
            "t.yaml",
            "--destination-image-name",
            "from-flag",
            "--tag",
            "env=prod",
            "--tag",
            "extra",
            "--destination-region",
            "eu-central-1",
        ])
        .unwrap();
        let p = CopyPlan::new(&flags, Some(&template()), None).unwrap();
        let r = p.copies[0].request();
        assert_eq!(
            r.destination_image_name.as_ref().unwrap().as_str(),
            "from-flag"
        );
        assert_eq!(r.destination_region_id.as_str(), "eu-central-1");
        let tags: Vec<String> = r
            .tags
            .iter()
            .map(|t| format!("{}={}", t.key(), t.value()))
            .collect();
        assert_eq!(tags, ["env=prod", "team=web", "extra="]);
    }

    #[test]
    fn template_errors_name_the_property_and_its_origin() {
        let bare = Cli::try_parse_from(["copy-image", "--template", "t.yaml"]).unwrap();
        let mut t = template();
        t.destination_image_name = Some("1bad".into());
        let e = CopyPlan::new(&bare, Some(&t), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("invalid value '1bad' for DestinationImageName (from resource 'CopyImage' of t.yaml): must start with a letter"),
            "{e}"
        );
        let mut t = template();
        t.image_id = None;
        let e = CopyPlan::new(&bare, Some(&t), None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--image-id is required"), "{e}");
        let mut t = template();
        t.encrypted = None;
        let e = CopyPlan::new(&bare, Some(&t), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("for KMSKeyId (from resource 'CopyImage' of t.yaml): requires --encrypted"),
            "{e}"
        );
    }

    #[test]
    fn same_region_is_kept_only_when_the_template_allows_it() {
        let bare = Cli::try_parse_from(["copy-image", "--template", "t.yaml"]).unwrap();
        let mut t = template();
        t.destination_region_id = Some("cn-beijing".into());
        let e = CopyPlan::new(&bare, Some(&t), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("must differ from the source region"), "{e}");
        t.allow_copy_in_same_region = Some(true);
        let p = CopyPlan::new(&bare, Some(&t), None).unwrap();
        assert!(matches!(p.copies[0], PlannedCopy::KeepSource(_)));
    }

    #[test]
    fn the_profile_region_is_the_last_resort() {
        let c = Cli::try_parse_from([
            "copy-image",
            "--image-id",
            "m-1",
            "--destination-region",
            "cn-shanghai",
        ])
        .unwrap();
        let p = CopyPlan::new(&c, None, Some("cn-beijing")).unwrap();
        assert_eq!(
            p.copies[0].request().source_region_id.as_str(),
            "cn-beijing"
        );
        let e = CopyPlan::new(&c, None, None).unwrap_err().to_string();
        assert!(e.starts_with("--source-region is required"), "{e}");
    }
}
