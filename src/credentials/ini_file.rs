//! The shared credentials file of the official Credentials libraries
//! (`~/.alibabacloud/credentials`, `credentials.ini`, or `ALIBABA_CLOUD_CREDENTIALS_FILE`).
//!
//! ```ini
//! [default]
//! type = access_key              # access_key | sts | ecs_ram_role | ram_role_arn | oidc_role_arn
//! access_key_id = LTAI...
//! access_key_secret = ...
//! ```

use ini::Ini;

use super::chain::{instance_role, shown, sts_endpoint, Found, Lookup, Plan, RoleSession};
use super::names::*;
use super::{Credentials, CredentialsError};

/// The plan of section `[section]`; `Ok(None)` when the file or the section does not exist.
pub(super) fn from_credentials_file(
    lookup: Lookup,
    section: &str,
    tried: &mut Vec<String>,
) -> Result<Option<Found>, CredentialsError> {
    let Some(path) = lookup.credentials_file_path() else {
        tried.push(format!("the shared credentials file: {HOME} is not set"));
        return Ok(None);
    };
    let shown_path = shown(&path, lookup);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tried.push(format!(
                "the shared credentials file {shown_path}: no such file"
            ));
            return Ok(None);
        }
        Err(e) => {
            return Err(CredentialsError::broken(
                shown_path,
                format!("cannot be read: {e}"),
            ))
        }
    };
    let ini = Ini::load_from_str(&text).map_err(|e| {
        CredentialsError::broken(&shown_path, format!("is not a valid INI file: {e}"))
    })?;
    let Some(props) = ini.section(Some(section)) else {
        tried.push(format!(
            "the shared credentials file {shown_path}: no [{section}] section"
        ));
        return Ok(None);
    };
    let get = |key: &str| props.get(key).map(str::trim).filter(|v| !v.is_empty());
    let source = format!("[{section}] in {shown_path}");
    let broken = |problem: String| CredentialsError::broken(source.clone(), problem);
    let need =
        |key: &'static str| get(key).ok_or_else(|| broken(format!("{key} is missing or empty")));
    let kind = need("type")?;
    let plan = match kind {
        "access_key" => Plan::Static(Credentials::new(need("access_key_id")?, need("access_key_secret")?, None)),
        "sts" => Plan::Static(Credentials::new(
            need("access_key_id")?,
            need("access_key_secret")?,
            Some(need("security_token")?.to_owned()),
        )),
        "ram_role_arn" => {
            let mut role = RoleSession::new(need("role_arn")?, get("role_session_name"), None);
            role.policy = get("policy").map(str::to_owned);
            role.external_id = get("external_id").map(str::to_owned);
            Plan::AssumeRole {
                base: Box::new(Plan::Static(Credentials::new(
                    need("access_key_id")?,
                    need("access_key_secret")?,
                    None,
                ))),
                role,
                sts: sts_endpoint(lookup, get("sts_endpoint"), get("sts_region"))?,
            }
        }
        "oidc_role_arn" => Plan::Oidc {
            role: RoleSession::new(need("role_arn")?, get("role_session_name"), None),
            provider_arn: need("oidc_provider_arn")?.to_owned(),
            token_file: need("oidc_token_file_path")?.into(),
            sts: sts_endpoint(lookup, get("sts_endpoint"), get("sts_region"))?,
        },
        "ecs_ram_role" => instance_role(lookup, get("role_name"), &source, "ecs_ram_role")?,
        other => {
            return Err(broken(format!(
                "type '{other}' is not supported (supported: access_key, sts, ram_role_arn, oidc_role_arn, ecs_ram_role)"
            )))
        }
    };
    Ok(Some(Found {
        plan,
        source: format!("{source} ({kind})"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;
    use std::path::PathBuf;

    fn with_file(
        text: &str,
        section: &str,
        extra: &[(&str, &str)],
    ) -> (Result<Option<Found>, CredentialsError>, Vec<String>) {
        let path: PathBuf =
            std::env::temp_dir().join(format!("copy-image-ini-{}", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, text).unwrap();
        let mut vars = vec![(CREDENTIALS_FILE.to_owned(), path.display().to_string())];
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let env: Env = vars.into_iter().collect();
        let mut tried = Vec::new();
        let r = from_credentials_file(
            Lookup {
                env: &env,
                profile_flag: None,
            },
            section,
            &mut tried,
        );
        let _ = std::fs::remove_file(&path);
        (r, tried)
    }

    const FILE: &str = "\
[default]
type = access_key          # the default profile
access_key_id = AKID
access_key_secret = SECRET

[sts]
type = sts
access_key_id = STS.ID
access_key_secret = S
security_token = TOKEN

[role]
type = ram_role_arn
access_key_id = AKID
access_key_secret = SECRET
role_arn = acs:ram::1:role/r
role_session_name = sess
policy = {\"Version\":\"1\"}

[oidc]
type = oidc_role_arn
role_arn = acs:ram::1:role/o
oidc_provider_arn = acs:ram::1:oidc-provider/p
oidc_token_file_path = /var/token

[ecs]
type = ecs_ram_role
role_name = EcsRole

[odd]
type = rsa_key_pair

[empty]
type = access_key
access_key_id =
";

    fn plan(section: &str) -> Plan {
        with_file(FILE, section, &[])
            .0
            .unwrap()
            .expect("found")
            .plan
    }

    #[test]
    fn types() {
        assert_eq!(
            plan("default"),
            Plan::Static(Credentials::new("AKID", "SECRET", None))
        );
        assert_eq!(
            plan("sts"),
            Plan::Static(Credentials::new("STS.ID", "S", Some("TOKEN".into())))
        );
        let Plan::AssumeRole { role, sts, .. } = plan("role") else {
            panic!()
        };
        assert_eq!(role.session_name, "sess");
        assert_eq!(role.policy.as_deref(), Some("{\"Version\":\"1\"}"));
        assert_eq!(sts.as_str(), "https://sts.aliyuncs.com");
        let Plan::Oidc { token_file, .. } = plan("oidc") else {
            panic!()
        };
        assert_eq!(token_file, PathBuf::from("/var/token"));
        assert!(
            matches!(plan("ecs"), Plan::Metadata { role_name: Some(ref r), probe: false, .. } if r == "EcsRole")
        );
    }

    #[test]
    fn broken_sections_say_which_and_why() {
        let err = with_file(FILE, "odd", &[]).0.unwrap_err().to_string();
        assert!(
            err.contains("[odd] in") && err.contains("type 'rsa_key_pair' is not supported"),
            "{err}"
        );
        let err = with_file(FILE, "empty", &[]).0.unwrap_err().to_string();
        assert!(err.contains("access_key_id is missing or empty"), "{err}");
        let err = with_file(FILE, "ecs", &[(ECS_METADATA_DISABLED, "true")])
            .0
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ecs_ram_role needs the ECS metadata service"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_section_or_file_is_not_configured() {
        let (r, tried) = with_file(FILE, "nope", &[]);
        assert_eq!(r.unwrap(), None);
        assert!(tried[0].contains("no [nope] section"), "{tried:?}");
        let env: Env = [(CREDENTIALS_FILE, "/nonexistent/copy-image/credentials")]
            .into_iter()
            .collect();
        let mut tried = Vec::new();
        assert_eq!(
            from_credentials_file(
                Lookup {
                    env: &env,
                    profile_flag: None
                },
                "default",
                &mut tried
            )
            .unwrap(),
            None
        );
        assert!(tried[0].contains("no such file"), "{tried:?}");
    }

    #[test]
    fn malformed_ini_stops_the_chain() {
        let err = with_file("[default\ntype = access_key\n", "default", &[])
            .0
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a valid INI file"), "{err}");
    }
}
