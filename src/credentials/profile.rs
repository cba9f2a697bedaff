//! Steps 3 and 4 of the chain: a profile of the aliyun CLI's `~/.aliyun/config.json`, then a
//! section of the shared credentials file `~/.alibabacloud/credentials`.
//!
//! The profile is the one named by `--profile`, else `ALIBABA_CLOUD_PROFILE`, else the
//! config.json's `current` (and `default` in the credentials file). A profile asked for by name
//! must exist in one of the two files.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;

use super::chain::{instance_role, shown, sts_endpoint, Found, Lookup, Plan, RoleSession};
use super::names::*;
use super::{ini_file, Credentials, CredentialsError};

/// config.json as the aliyun CLI writes it; unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CliConfig {
    current: String,
    profiles: Vec<CliProfile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CliProfile {
    name: String,
    mode: String,
    access_key_id: String,
    access_key_secret: String,
    sts_token: String,
    sts_region: String,
    sts_endpoint: String,
    ram_role_name: String,
    ram_role_arn: String,
    ram_session_name: String,
    external_id: String,
    policy: String,
    source_profile: String,
    /// A number in files the CLI writes; a string is accepted too.
    expired_seconds: Value,
    region_id: String,
    oidc_provider_arn: String,
    oidc_token_file: String,
    credentials_uri: String,
}

/// The parsed config.json and where it is.
struct ConfigFile {
    path: String,
    config: CliConfig,
}

/// Reads config.json: `Ok(None)` when it does not exist or is disabled.
fn read_config(
    lookup: Lookup,
    tried: &mut Vec<String>,
) -> Result<Option<ConfigFile>, CredentialsError> {
    if lookup.is_true(CLI_PROFILE_DISABLED) {
        tried.push(format!(
            "the aliyun CLI config: disabled by {CLI_PROFILE_DISABLED}"
        ));
        return Ok(None);
    }
    let Some(path) = lookup.cli_config_path() else {
        tried.push(format!("the aliyun CLI config: {HOME} is not set"));
        return Ok(None);
    };
    let shown_path = shown(&path, lookup);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tried.push(format!("the aliyun CLI config {shown_path}: no such file"));
            return Ok(None);
        }
        Err(e) => {
            return Err(CredentialsError::broken(
                shown_path,
                format!("cannot be read: {e}"),
            ))
        }
    };
    let config: CliConfig = serde_json::from_str(&text)
        .map_err(|e| CredentialsError::broken(&shown_path, format!("is not valid JSON: {e}")))?;
    Ok(Some(ConfigFile {
        path: shown_path,
        config,
    }))
}

/// Steps 3 and 4.
pub(super) fn from_profiles(
    lookup: Lookup,
    tried: &mut Vec<String>,
) -> Result<Option<Found>, CredentialsError> {
    let named = lookup.named_profile();
    let config = read_config(lookup, tried)?;
    if let Some(file) = &config {
        let name = named
            .map(|(n, _)| n.to_owned())
            .unwrap_or_else(|| file.config.current.clone());
        if name.trim().is_empty() {
            tried.push(format!(
                "the aliyun CLI config {}: no current profile",
                file.path
            ));
        } else if let Some(profile) = find_profile(&file.config, &name) {
            return profile_plan(lookup, file, profile, &mut HashSet::new()).map(Some);
        } else if named.is_none() {
            return Err(CredentialsError::broken(
                format!("{} (profile '{name}', its 'current')", file.path),
                "the profile does not exist",
            ));
        } else {
            tried.push(format!(
                "the aliyun CLI config {}: no profile '{name}'",
                file.path
            ));
        }
    }

    let section = named.map_or("default", |(n, _)| n);
    let from_file = ini_file::from_credentials_file(lookup, section, tried)?;
    if from_file.is_none() {
        if let Some((name, how)) = named {
            let config_path = config.as_ref().map(|c| c.path.clone()).unwrap_or_else(|| {
                lookup
                    .cli_config_path()
                    .map(|p| shown(&p, lookup))
                    .unwrap_or_default()
            });
            let ini_path = lookup
                .credentials_file_path()
                .map(|p| shown(&p, lookup))
                .unwrap_or_default();
            return Err(CredentialsError::broken(
                format!("profile '{name}' (from {how})"),
                format!("there is no such profile in {config_path} nor a [{name}] section in {ini_path}"),
            ));
        }
    }
    Ok(from_file)
}

fn find_profile<'c>(config: &'c CliConfig, name: &str) -> Option<&'c CliProfile> {
    config.profiles.iter().find(|p| p.name == name)
}

/// The region of the profile in use, for the source region when none is given.
pub fn region(lookup: Lookup) -> Result<Option<String>, CredentialsError> {
    let Some(file) = read_config(lookup, &mut Vec::new())? else {
        return Ok(None);
    };
    let name = lookup
        .named_profile()
        .map(|(n, _)| n.to_owned())
        .unwrap_or_else(|| file.config.current.clone());
    Ok(find_profile(&file.config, &name)
        .map(|p| p.region_id.trim().to_owned())
        .filter(|r| !r.is_empty()))
}

fn nonblank(s: &str) -> Option<&str> {
    Some(s.trim()).filter(|s| !s.is_empty())
}

/// The plan of one profile; `seen` guards ChainableRamRoleArn against cycles.
fn profile_plan(
    lookup: Lookup,
    file: &ConfigFile,
    profile: &CliProfile,
    seen: &mut HashSet<String>,
) -> Result<Found, CredentialsError> {
    let source = format!(
        "profile '{}' ({}) in {}",
        profile.name, profile.mode, file.path
    );
    let broken = |problem: String| CredentialsError::broken(source.clone(), problem);
    let need = |field: &'static str, value: &str| -> Result<String, CredentialsError> {
        nonblank(value)
            .map(str::to_owned)
            .ok_or_else(|| broken(format!("{field} is missing or empty")))
    };
    if !seen.insert(profile.name.clone()) {
        return Err(broken("its source_profile chain loops back to it".into()));
    }
    let access_key = || -> Result<Credentials, CredentialsError> {
        Ok(Credentials::new(
            need("access_key_id", &profile.access_key_id)?,
            need("access_key_secret", &profile.access_key_secret)?,
            None,
        ))
    };
    let role = || -> Result<RoleSession, CredentialsError> {
        let mut role = RoleSession::new(
            &need("ram_role_arn", &profile.ram_role_arn)?,
            nonblank(&profile.ram_session_name),
            expired_seconds(&profile.expired_seconds).map_err(&broken)?,
        );
        role.external_id = nonblank(&profile.external_id).map(str::to_owned);
        role.policy = nonblank(&profile.policy).map(str::to_owned);
        Ok(role)
    };
    let sts = || {
        sts_endpoint(
            lookup,
            nonblank(&profile.sts_endpoint),
            nonblank(&profile.sts_region),
        )
    };

    let plan = match profile.mode.trim().to_ascii_lowercase().as_str() {
        "ak" => Plan::Static(access_key()?),
        "ststoken" => {
            let mut c = access_key()?;
            c.security_token = Some(super::Secret::new(need("sts_token", &profile.sts_token)?));
            Plan::Static(c)
        }
        "ramrolearn" => Plan::AssumeRole {
            base: Box::new(Plan::Static(access_key()?)),
            role: role()?,
            sts: sts()?,
        },
        "chainableramrolearn" => {
            let source_name = need("source_profile", &profile.source_profile)?;
            let base = find_profile(&file.config, &source_name).ok_or_else(|| {
                broken(format!("its source_profile '{source_name}' does not exist"))
            })?;
            Plan::AssumeRole {
                base: Box::new(profile_plan(lookup, file, base, seen)?.plan),
                role: role()?,
                sts: sts()?,
            }
        }
        "ecsramrole" => instance_role(
            lookup,
            nonblank(&profile.ram_role_name),
            &source,
            "EcsRamRole",
        )?,
        "oidc" => Plan::Oidc {
            role: role()?,
            provider_arn: need("oidc_provider_arn", &profile.oidc_provider_arn)?,
            token_file: need("oidc_token_file", &profile.oidc_token_file)?.into(),
            sts: sts()?,
        },
        "credentialsuri" => Plan::Uri {
            url: super::chain::checked_url(
                &need("credentials_uri", &profile.credentials_uri)?,
                &source,
            )?,
        },
        "" => return Err(broken("it has no mode".into())),
        _ => {
            return Err(broken(format!(
                "mode '{}' is not supported by copy-image (supported: AK, StsToken, RamRoleArn, \
                 ChainableRamRoleArn, EcsRamRole, OIDC, CredentialsURI)",
                profile.mode
            )))
        }
    };
    Ok(Found { plan, source })
}

/// `expired_seconds`: absent or 0 means the default; STS takes 900 to 43200.
fn expired_seconds(v: &Value) -> Result<Option<u32>, String> {
    let n = match v {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_u64(),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(0) => Ok(None),
        Some(n @ 900..=43200) => Ok(Some(n as u32)),
        _ => Err(format!(
            "expired_seconds must be a number from 900 to 43200 (got {v})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::chain::{find, Candidates};
    use crate::env::Env;
    use std::path::PathBuf;

    /// A fake home directory with the given files; removed when dropped.
    struct Home(PathBuf);

    impl Home {
        fn new(files: &[(&str, &str)]) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("copy-image-test-{}", uuid::Uuid::new_v4().simple()));
            for (path, text) in files {
                let p = dir.join(path);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, text).unwrap();
            }
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn env(&self, vars: &[(&str, &str)]) -> Env {
            let mut all: Vec<(String, String)> = vec![
                (HOME.into(), self.0.display().to_string()),
                (ECS_METADATA_DISABLED.into(), "true".into()),
            ];
            all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            all.into_iter().collect()
        }
    }

    impl Drop for Home {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const CONFIG: &str = r#"{
      "current": "ak",
      "profiles": [
        {"name": "ak", "mode": "AK", "access_key_id": "AKID", "access_key_secret": "AKSECRET", "region_id": "cn-beijing"},
        {"name": "sts", "mode": "StsToken", "access_key_id": "STS.ID", "access_key_secret": "S", "sts_token": "T"},
        {"name": "role", "mode": "RamRoleArn", "access_key_id": "AKID", "access_key_secret": "AKSECRET",
         "ram_role_arn": "acs:ram::1:role/r", "ram_session_name": "sess", "expired_seconds": 900, "sts_region": "cn-shanghai"},
        {"name": "chain", "mode": "ChainableRamRoleArn", "source_profile": "role", "ram_role_arn": "acs:ram::1:role/second"},
        {"name": "loop1", "mode": "ChainableRamRoleArn", "source_profile": "loop2", "ram_role_arn": "acs:ram::1:role/x"},
        {"name": "loop2", "mode": "ChainableRamRoleArn", "source_profile": "loop1", "ram_role_arn": "acs:ram::1:role/x"},
        {"name": "ecs", "mode": "EcsRamRole", "ram_role_name": "my-ecs-role"},
        {"name": "oidc", "mode": "OIDC", "ram_role_arn": "acs:ram::1:role/o", "oidc_provider_arn": "acs:ram::1:oidc-provider/p", "oidc_token_file": "/t"},
        {"name": "uri", "mode": "CredentialsURI", "credentials_uri": "http://localhost:1/c"},
        {"name": "sso", "mode": "CloudSSO"},
        {"name": "nokey", "mode": "AK", "access_key_id": "AKID"},
        {"name": "badsecs", "mode": "RamRoleArn", "access_key_id": "a", "access_key_secret": "b", "ram_role_arn": "r", "expired_seconds": 60}
      ]
    }"#;

    fn find_with(
        home: &Home,
        vars: &[(&str, &str)],
        flag: Option<&str>,
    ) -> Result<Candidates, CredentialsError> {
        let env = home.env(vars);
        find(Lookup {
            env: &env,
            profile_flag: flag,
        })
    }

    fn plan(home: &Home, profile: &str) -> Result<Plan, CredentialsError> {
        let c = find_with(home, &[(PROFILE, profile)], None)?;
        Ok(c.sources.into_iter().next().expect("a source").plan)
    }

    #[test]
    fn current_profile_is_used_by_default() {
        let home = Home::new(&[(CLI_CONFIG_PATH, CONFIG)]);
        let c = find_with(&home, &[], None).unwrap();
        assert_eq!(
            c.sources[0].plan,
            Plan::Static(Credentials::new("AKID", "AKSECRET", None))
        );
        assert_eq!(
            c.sources[0].source,
            "profile 'ak' (AK) in ~/.aliyun/config.json"
        );
    }

    #[test]
    fn modes() {
        let home = Home::new(&[(CLI_CONFIG_PATH, CONFIG)]);
        assert_eq!(
            plan(&home, "sts").unwrap(),
            Plan::Static(Credentials::new("STS.ID", "S", Some("T".into())))
        );
        let Plan::AssumeRole { base, role, sts } = plan(&home, "role").unwrap() else {
            panic!()
        };
        assert_eq!(
            *base,
            Plan::Static(Credentials::new("AKID", "AKSECRET", None))
        );
        assert_eq!(
            (
                role.role_arn.as_str(),
                role.session_name.as_str(),
                role.duration_seconds
            ),
            ("acs:ram::1:role/r", "sess", 900)
        );
        assert_eq!(sts.as_str(), "https://sts.cn-shanghai.aliyuncs.com");
        let Plan::AssumeRole { base, role, .. } = plan(&home, "chain").unwrap() else {
            panic!()
        };
        assert!(
            matches!(*base, Plan::AssumeRole { .. }),
            "chained through 'role'"
        );
        assert_eq!(role.role_arn, "acs:ram::1:role/second");
        assert!(role.session_name.starts_with("copy-image-"));
        let ecs = find_with(
            &home,
            &[(PROFILE, "ecs"), (ECS_METADATA_DISABLED, "false")],
            None,
        )
        .unwrap();
        assert_eq!(
            ecs.sources[0].plan,
            Plan::Metadata {
                base_url: METADATA_BASE.into(),
                role_name: Some("my-ecs-role".into()),
                imdsv1_disabled: false,
                probe: false
            }
        );
        assert!(matches!(plan(&home, "oidc").unwrap(), Plan::Oidc { .. }));
        assert_eq!(
            plan(&home, "uri").unwrap(),
            Plan::Uri {
                url: "http://localhost:1/c".into()
            }
        );
    }

    #[test]
    fn ecs_ram_role_mode_needs_the_metadata_service() {
        // Home::env disables the metadata service.
        let home = Home::new(&[(CLI_CONFIG_PATH, CONFIG)]);
        let err = plan(&home, "ecs").unwrap_err().to_string();
        assert!(
            err.contains("EcsRamRole needs the ECS metadata service"),
            "{err}"
        );
    }

    #[test]
    fn broken_profiles_name_file_profile_and_problem() {
        let home = Home::new(&[(CLI_CONFIG_PATH, CONFIG)]);
        let cases = [
            ("sso", "mode 'CloudSSO' is not supported"),
            ("nokey", "access_key_secret is missing or empty"),
            (
                "badsecs",
                "expired_seconds must be a number from 900 to 43200 (got 60)",
            ),
            ("loop1", "loops back"),
        ];
        for (profile, expected) in cases {
            let err = plan(&home, profile).unwrap_err().to_string();
            assert!(
                err.contains(&format!("profile '{profile}'")) || profile == "loop1",
                "{err}"
            );
            assert!(err.contains("~/.aliyun/config.json"), "{err}");
            assert!(err.contains(expected), "{profile}: {err}");
        }
    }

    #[test]
    fn malformed_json_stops_the_chain() {
        let home = Home::new(&[(CLI_CONFIG_PATH, "{\"current\": \"ak\", ")]);
        let err = find_with(&home, &[], None).unwrap_err().to_string();
        assert!(
            err.starts_with("credentials from ~/.aliyun/config.json: is not valid JSON"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_current_profile_stops_the_chain() {
        let home = Home::new(&[(CLI_CONFIG_PATH, r#"{"current": "gone", "profiles": []}"#)]);
        let err = find_with(&home, &[], None).unwrap_err().to_string();
        assert!(
            err.contains("profile 'gone', its 'current'") && err.contains("does not exist"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_config_is_not_configured() {
        let home = Home::new(&[(CLI_CONFIG_PATH, r#"{"current": "", "profiles": []}"#)]);
        let c = find_with(&home, &[], None).unwrap();
        assert!(c.sources.is_empty());
        assert!(
            c.tried.iter().any(|t| t.contains("no current profile")),
            "{c:?}"
        );
    }

    #[test]
    fn a_named_profile_may_live_in_the_credentials_file() {
        let home = Home::new(&[
            (CLI_CONFIG_PATH, CONFIG),
            (
                ".alibabacloud/credentials",
                "[ci]\ntype = access_key\naccess_key_id = INI\naccess_key_secret = S\n",
            ),
        ]);
        let c = find_with(&home, &[(PROFILE, "ci")], None).unwrap();
        assert_eq!(
            c.sources[0].plan,
            Plan::Static(Credentials::new("INI", "S", None))
        );
        assert!(
            c.tried.iter().any(|t| t.contains("no profile 'ci'")),
            "{c:?}"
        );
    }

    #[test]
    fn a_named_profile_that_exists_nowhere_stops_the_chain() {
        let home = Home::new(&[(CLI_CONFIG_PATH, CONFIG)]);
        let err = find_with(&home, &[], Some("nope")).unwrap_err().to_string();
        assert!(err.contains("profile 'nope' (from --profile)"), "{err}");
        assert!(
            err.contains(
                "~/.aliyun/config.json nor a [nope] section in ~/.alibabacloud/credentials"
            ),
            "{err}"
        );
        let home = Home::new(&[]);
        let err = find_with(&home, &[(PROFILE, "nope")], None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("(from ALIBABA_CLOUD_PROFILE)"), "{err}");
    }

    #[test]
    fn the_profile_flag_beats_the_environment_but_the_variable_does_not() {
        let home = Home::new(&[(CLI_CONFIG_PATH, CONFIG)]);
        let keys = [(ACCESS_KEY_ID, "ENVID"), (ACCESS_KEY_SECRET, "ENVSECRET")];
        let c = find_with(&home, &keys, Some("sts")).unwrap();
        assert!(c.sources[0].source.starts_with("profile 'sts'"), "{c:?}");
        let mut vars = keys.to_vec();
        vars.push((PROFILE, "sts"));
        let c = find_with(&home, &vars, None).unwrap();
        assert!(c.sources[0].source.starts_with("the environment"), "{c:?}");
    }

    #[test]
    fn config_file_can_be_moved_or_disabled() {
        let home = Home::new(&[("elsewhere.json", CONFIG)]);
        let path = home.0.join("elsewhere.json").display().to_string();
        let c = find_with(&home, &[(CONFIG_FILE, &path)], None).unwrap();
        assert!(matches!(c.sources[0].plan, Plan::Static(_)));
        let home = Home::new(&[(CLI_CONFIG_PATH, CONFIG)]);
        let c = find_with(&home, &[(CLI_PROFILE_DISABLED, "true")], None).unwrap();
        assert!(c.sources.is_empty(), "{c:?}");
    }

    #[test]
    fn region_of_the_profile() {
        let home = Home::new(&[(CLI_CONFIG_PATH, CONFIG)]);
        let env = home.env(&[]);
        let lookup = Lookup {
            env: &env,
            profile_flag: None,
        };
        assert_eq!(region(lookup).unwrap().as_deref(), Some("cn-beijing"));
        let lookup = Lookup {
            env: &env,
            profile_flag: Some("sts"),
        };
        assert_eq!(region(lookup).unwrap(), None);
        let none = Home::new(&[]);
        let env = none.env(&[]);
        assert_eq!(
            region(Lookup {
                env: &env,
                profile_flag: None
            })
            .unwrap(),
            None
        );
    }

    #[test]
    fn expired_seconds_forms() {
        assert_eq!(expired_seconds(&Value::Null), Ok(None));
        assert_eq!(expired_seconds(&serde_json::json!(0)), Ok(None));
        assert_eq!(expired_seconds(&serde_json::json!(3600)), Ok(Some(3600)));
        assert_eq!(expired_seconds(&serde_json::json!("1200")), Ok(Some(1200)));
        assert!(expired_seconds(&serde_json::json!(100000)).is_err());
        assert!(expired_seconds(&serde_json::json!([1])).is_err());
    }
}
