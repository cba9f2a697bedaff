//! Validated values of a CopyImage request.
//!
//! Each type has private fields and one checked constructor, so a value that breaks a rule of
//! the API cannot be built and the network layer never sees one. The rules come from the ROS
//! resource `ALIYUN::ECS::CopyImage` and the current CopyImage API reference; lengths count
//! Unicode scalar values (what the service calls characters), never bytes.
//!
//! A constructor returns the broken rule as a sentence; the caller adds the flag and the value.

use std::fmt;

/// The rule a value broke, phrased to follow "must" or to stand alone after a colon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule(pub String);

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn rule(text: impl Into<String>) -> Rule {
    Rule(text.into())
}

fn char_count(s: &str) -> usize {
    s.chars().count()
}

fn starts_with_ignore_ascii_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn contains_url_scheme(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    lower.contains("http://") || lower.contains("https://")
}

fn starts_with_url_scheme(s: &str) -> bool {
    starts_with_ignore_ascii_case(s, "http://") || starts_with_ignore_ascii_case(s, "https://")
}

/// Prefixes the service reserves for its own names and tags (documented in lower case).
fn reserved_prefix(s: &str) -> Option<&'static str> {
    ["acs:", "aliyun"].into_iter().find(|p| s.starts_with(p))
}

/// A Chinese character, as the API's "letters (incl. Chinese)" means it: the CJK Unified
/// Ideographs blocks and their extensions and compatibility blocks.
fn is_chinese(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FA1F}'
        | '\u{30000}'..='\u{323AF}')
}

fn is_name_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || is_chinese(c)
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Rule;
            fn from_str(s: &str) -> Result<Self, Rule> {
                Self::parse(s)
            }
        }
    };
}

/// The id of a custom image: `m-` followed by letters and digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageId(String);
string_newtype!(ImageId);

impl ImageId {
    const MAX_CHARS: usize = 64;

    pub fn parse(s: &str) -> Result<Self, Rule> {
        let rest = s.strip_prefix("m-").ok_or_else(|| {
            rule("must be a custom image id: 'm-' followed by letters and digits (e.g. m-bp1h46wfpjsjastc0001)")
        })?;
        if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(rule(
                "must be a custom image id: 'm-' followed by letters and digits only (e.g. m-bp1h46wfpjsjastc0001)",
            ));
        }
        if s.len() > Self::MAX_CHARS {
            return Err(rule(format!(
                "must be at most {} characters long (got {})",
                Self::MAX_CHARS,
                s.len()
            )));
        }
        Ok(Self(s.to_owned()))
    }
}

/// A region id such as `cn-shanghai`, `ap-southeast-1`, `cn-wuhan-lr` or
/// `cn-shanghai-finance-1`: lower-case letters, digits and hyphens in `<area>-<name>[-<more>]`
/// form. A well-formed id the tool has never heard of is accepted (regions are added over
/// time) and left to the service to judge.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionId(String);
string_newtype!(RegionId);

impl RegionId {
    const MAX_CHARS: usize = 64;

    pub fn parse(s: &str) -> Result<Self, Rule> {
        const FORM: &str = "must be a region id: lower-case letters, digits and hyphens in \
                            <area>-<name>[-<more>] form (e.g. cn-shanghai, ap-southeast-1)";
        let mut parts = s.split('-');
        let area_ok = parts
            .next()
            .is_some_and(|a| a.len() >= 2 && a.chars().all(|c| c.is_ascii_lowercase()));
        let rest: Vec<&str> = parts.collect();
        let rest_ok = !rest.is_empty()
            && rest.iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            });
        if !area_ok || !rest_ok {
            return Err(rule(FORM));
        }
        if s.len() > Self::MAX_CHARS {
            return Err(rule(format!(
                "must be at most {} characters long (got {})",
                Self::MAX_CHARS,
                s.len()
            )));
        }
        Ok(Self(s.to_owned()))
    }
}

/// `DestinationImageName`: 2–128 characters, starting with a letter (a Chinese character
/// counts), made of letters (incl. Chinese), digits, `.`, `:`, `_` and `-`, and not starting
/// with `http://`, `https://`, `acs:` or `aliyun`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName(String);
string_newtype!(ImageName);

impl ImageName {
    pub const MIN_CHARS: usize = 2;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(s: &str) -> Result<Self, Rule> {
        let n = char_count(s);
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&n) {
            return Err(rule(format!(
                "must be {} to {} characters long (got {n})",
                Self::MIN_CHARS,
                Self::MAX_CHARS
            )));
        }
        if starts_with_url_scheme(s) {
            return Err(rule("must not start with http:// or https://"));
        }
        if let Some(prefix) = reserved_prefix(s) {
            return Err(rule(format!(
                "must not start with '{prefix}' (reserved by Alibaba Cloud)"
            )));
        }
        if !s.chars().next().is_some_and(is_name_letter) {
            return Err(rule(
                "must start with a letter (A-Z, a-z or a Chinese character)",
            ));
        }
        if let Some(bad) = s
            .chars()
            .find(|&c| !(is_name_letter(c) || c.is_ascii_digit() || ".:_-".contains(c)))
        {
            return Err(rule(format!(
                "may contain only letters (incl. Chinese), digits, '.', ':', '_' and '-' (found {:?})",
                bad
            )));
        }
        Ok(Self(s.to_owned()))
    }
}

/// `DestinationDescription`: 2–256 characters, not starting with `http://` or `https://`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);
string_newtype!(Description);

impl Description {
    pub const MIN_CHARS: usize = 2;
    pub const MAX_CHARS: usize = 256;

    pub fn parse(s: &str) -> Result<Self, Rule> {
        let n = char_count(s);
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&n) {
            return Err(rule(format!(
                "must be {} to {} characters long (got {n})",
                Self::MIN_CHARS,
                Self::MAX_CHARS
            )));
        }
        if starts_with_url_scheme(s) {
            return Err(rule("must not start with http:// or https://"));
        }
        Ok(Self(s.to_owned()))
    }
}

/// A tag key: 1–128 characters, no `http://`/`https://`, not starting with `acs:`/`aliyun`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagKey(String);
string_newtype!(TagKey);

impl TagKey {
    pub const MAX_CHARS: usize = 128;

    pub fn parse(s: &str) -> Result<Self, Rule> {
        let n = char_count(s);
        if n == 0 {
            return Err(rule("the tag key must not be empty"));
        }
        if n > Self::MAX_CHARS {
            return Err(rule(format!(
                "the tag key must be at most {} characters long (got {n})",
                Self::MAX_CHARS
            )));
        }
        check_tag_text(s, "key")?;
        Ok(Self(s.to_owned()))
    }
}

/// A tag value: 0–128 characters, no `http://`/`https://`, not starting with `acs:`/`aliyun`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagValue(String);
string_newtype!(TagValue);

impl TagValue {
    pub const MAX_CHARS: usize = 128;

    pub fn parse(s: &str) -> Result<Self, Rule> {
        let n = char_count(s);
        if n > Self::MAX_CHARS {
            return Err(rule(format!(
                "the tag value must be at most {} characters long (got {n})",
                Self::MAX_CHARS
            )));
        }
        check_tag_text(s, "value")?;
        Ok(Self(s.to_owned()))
    }
}

fn check_tag_text(s: &str, what: &str) -> Result<(), Rule> {
    if contains_url_scheme(s) {
        return Err(rule(format!(
            "the tag {what} must not contain http:// or https://"
        )));
    }
    if let Some(prefix) = reserved_prefix(s) {
        return Err(rule(format!(
            "the tag {what} must not start with '{prefix}' (reserved by Alibaba Cloud)"
        )));
    }
    Ok(())
}

/// One tag. `KEY=VALUE`; `KEY=` and a bare `KEY` both mean an empty value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    key: TagKey,
    value: TagValue,
}

impl Tag {
    pub fn new(key: TagKey, value: TagValue) -> Self {
        Self { key, value }
    }

    /// Parses the `--tag` form: split at the first `=`.
    pub fn parse(s: &str) -> Result<Self, Rule> {
        let (key, value) = s.split_once('=').unwrap_or((s, ""));
        Ok(Self::new(TagKey::parse(key)?, TagValue::parse(value)?))
    }

    pub fn key(&self) -> &TagKey {
        &self.key
    }

    pub fn value(&self) -> &TagValue {
        &self.value
    }
}

/// The tags of the copy, in the user's order (so `Tag.N` numbering is stable): at most 20,
/// keys unique.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(Vec<Tag>);

impl Tags {
    pub const MAX: usize = 20;

    /// On error, also returns the index of the first tag that breaks the rule.
    pub fn new(tags: Vec<Tag>) -> Result<Self, (usize, Rule)> {
        if tags.len() > Self::MAX {
            return Err((
                Self::MAX,
                rule(format!(
                    "at most {} tags are allowed (got {})",
                    Self::MAX,
                    tags.len()
                )),
            ));
        }
        for (i, tag) in tags.iter().enumerate() {
            if tags[..i].iter().any(|t| t.key == tag.key) {
                return Err((
                    i,
                    rule(format!(
                        "tag keys must be unique ('{}' is given twice)",
                        tag.key
                    )),
                ));
            }
        }
        Ok(Self(tags))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Tag> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// A printable, non-empty identifier with no white space: used for the ids the tool passes
/// through without knowing their exact form (KMS key ids may be UUIDs, aliases or ARNs).
fn opaque_id(s: &str, max: usize) -> Result<(), Rule> {
    if s.is_empty() {
        return Err(rule("must not be empty"));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(rule("must not contain white space or control characters"));
    }
    let n = char_count(s);
    if n > max {
        return Err(rule(format!(
            "must be at most {max} characters long (got {n})"
        )));
    }
    Ok(())
}

/// `KMSKeyId`: the KMS key that encrypts the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsKeyId(String);
string_newtype!(KmsKeyId);

impl KmsKeyId {
    pub fn parse(s: &str) -> Result<Self, Rule> {
        opaque_id(s, 256)?;
        Ok(Self(s.to_owned()))
    }
}

/// `ResourceGroupId` of the copy (e.g. `rg-acfmxazb4ph6aiy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceGroupId(String);
string_newtype!(ResourceGroupId);

impl ResourceGroupId {
    pub fn parse(s: &str) -> Result<Self, Rule> {
        opaque_id(s, 128)?;
        Ok(Self(s.to_owned()))
    }
}

/// `ClientToken`: makes CopyImage idempotent. The same token with the same parameters returns
/// the copy already started instead of starting another. At most 64 ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientToken(String);
string_newtype!(ClientToken);

impl ClientToken {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(s: &str) -> Result<Self, Rule> {
        if s.is_empty() {
            return Err(rule("must not be empty"));
        }
        if !s.chars().all(|c| c.is_ascii_graphic()) {
            return Err(rule(
                "may contain only printable ASCII characters, without spaces",
            ));
        }
        if s.len() > Self::MAX_CHARS {
            return Err(rule(format!(
                "must be at most {} characters long (got {})",
                Self::MAX_CHARS,
                s.len()
            )));
        }
        Ok(Self(s.to_owned()))
    }

    /// A new random token (a UUID, 36 characters).
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().hyphenated().to_string())
    }
}

/// The longest duration any flag takes: longer ones are typos, and would overflow clocks.
const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

/// A positive duration in human form: `500ms`, `5s`, `90m`, `2h`, `1h 30m`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, Rule> {
    let d = humantime::parse_duration(s.trim()).map_err(|e| {
        rule(format!(
            "must be a duration such as 500ms, 30s, 90m or 2h ({e})"
        ))
    })?;
    if d.is_zero() {
        return Err(rule("must be greater than zero"));
    }
    if d > MAX_DURATION {
        return Err(rule("must be at most 365 days"));
    }
    Ok(d)
}

/// Whether the copy is encrypted. `Unspecified` sends nothing (the service's default, which
/// its own sources disagree about, applies). A KMS key exists only inside `Enabled`, so a key
/// without encryption cannot be expressed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Encryption {
    #[default]
    Unspecified,
    Disabled,
    Enabled {
        kms_key_id: Option<KmsKeyId>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused<T: std::fmt::Debug>(r: Result<T, Rule>) -> String {
        r.expect_err("value should be refused").0
    }

    #[test]
    fn image_id_accepts_m_dash_alphanumerics() {
        for ok in ["m-bp1h46wfpjsjastc0001", "m-uf6abcdefghijklmn001", "m-A1"] {
            assert_eq!(ImageId::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn image_id_refuses_other_forms() {
        for bad in [
            "",
            "m-",
            "bp1h46wfpjsjastc",
            "M-bp1",
            "m_bp1",
            "m-bp1h46wfpjsjastc****",
            "m-bp1 x",
            "m-bp1-x",
            "ubuntu_22_04_x64_20G_alibase_20240130.vhd",
        ] {
            assert!(
                refused(ImageId::parse(bad)).contains("'m-' followed by letters and digits"),
                "{bad:?}"
            );
        }
        let long = format!("m-{}", "a".repeat(63));
        assert!(refused(ImageId::parse(&long)).contains("at most 64"));
    }

    #[test]
    fn region_id_accepts_documented_shapes() {
        for ok in [
            "cn-shanghai",
            "ap-southeast-1",
            "rus-west-1",
            "cn-wuhan-lr",
            "cn-shanghai-finance-1",
            "cn-north-2-gov-1",
            "xx-notyetlaunched-9",
        ] {
            assert_eq!(RegionId::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn region_id_refuses_malformed() {
        for bad in [
            "",
            "cn",
            "shanghai",
            "CN-Shanghai",
            "cn_shanghai",
            "cn-",
            "-cn-shanghai",
            "cn--shanghai",
            "c-shanghai",
            "1n-shanghai",
            "cn-shanghai ",
            "ecs.cn-shanghai.aliyuncs.com",
        ] {
            assert!(
                refused(RegionId::parse(bad)).contains("<area>-<name>"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn image_name_length_counts_characters_not_bytes() {
        assert!(ImageName::parse("ab").is_ok());
        assert!(refused(ImageName::parse("a")).contains("2 to 128 characters long (got 1)"));
        assert!(refused(ImageName::parse("")).contains("(got 0)"));
        let max = format!("a{}", "镜".repeat(127));
        assert_eq!(max.chars().count(), 128);
        assert!(max.len() > 128, "the test needs a name longer in bytes");
        assert!(ImageName::parse(&max).is_ok());
        let over = format!("a{}", "b".repeat(128));
        assert!(refused(ImageName::parse(&over)).contains("(got 129)"));
    }

    #[test]
    fn image_name_first_character_must_be_a_letter() {
        assert!(ImageName::parse("Finance").is_ok());
        assert!(ImageName::parse("测试镜像").is_ok());
        for bad in ["1abc", "-abc", "_abc", ".abc", ":abc", "éabc"] {
            assert!(
                refused(ImageName::parse(bad)).contains("must start with a letter"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn image_name_allowed_characters() {
        assert!(ImageName::parse("测试镜像.v1:prod_copy-2").is_ok());
        for bad in ["my image", "a/b", "a*b", "a~b", "a+b", "abc😀", "naïve"] {
            assert!(
                refused(ImageName::parse(bad)).contains("may contain only"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn image_name_reserved_prefixes() {
        assert!(refused(ImageName::parse("aliyun-copy")).contains("'aliyun'"));
        assert!(refused(ImageName::parse("acs:copy")).contains("'acs:'"));
        assert!(refused(ImageName::parse("http://x")).contains("http://"));
        assert!(refused(ImageName::parse("HTTPS://x")).contains("http://"));
        // Only the documented prefixes are reserved.
        assert!(ImageName::parse("Aliyun-copy").is_ok());
        assert!(ImageName::parse("my-aliyun-copy").is_ok());
    }

    #[test]
    fn description_rules() {
        assert!(Description::parse("ok").is_ok());
        assert!(Description::parse("copied by * ~ + / & = % 中文 😀").is_ok());
        assert!(Description::parse("see http://example.com").is_ok());
        assert!(refused(Description::parse("x")).contains("2 to 256 characters long (got 1)"));
        assert!(Description::parse(&"é".repeat(256)).is_ok());
        assert!(refused(Description::parse(&"é".repeat(257))).contains("(got 257)"));
        assert!(refused(Description::parse("http://example.com")).contains("http://"));
        assert!(refused(Description::parse("https://example.com")).contains("https://"));
    }

    #[test]
    fn tag_parsing_forms() {
        let t = Tag::parse("env=prod").unwrap();
        assert_eq!((t.key().as_str(), t.value().as_str()), ("env", "prod"));
        let t = Tag::parse("env=").unwrap();
        assert_eq!((t.key().as_str(), t.value().as_str()), ("env", ""));
        let t = Tag::parse("env").unwrap();
        assert_eq!((t.key().as_str(), t.value().as_str()), ("env", ""));
        let t = Tag::parse("expr=a=b").unwrap();
        assert_eq!((t.key().as_str(), t.value().as_str()), ("expr", "a=b"));
    }

    #[test]
    fn tag_key_rules() {
        assert!(refused(Tag::parse("=v")).contains("must not be empty"));
        assert!(TagKey::parse(&"键".repeat(128)).is_ok());
        assert!(refused(TagKey::parse(&"k".repeat(129))).contains("(got 129)"));
        assert!(refused(TagKey::parse("acs:env")).contains("'acs:'"));
        assert!(refused(TagKey::parse("aliyun-env")).contains("'aliyun'"));
        assert!(refused(TagKey::parse("see-http://x")).contains("http://"));
        assert!(refused(TagKey::parse("see-https://x")).contains("https://"));
    }

    #[test]
    fn tag_value_rules() {
        assert!(TagValue::parse("").is_ok());
        assert!(TagValue::parse(&"值".repeat(128)).is_ok());
        assert!(refused(TagValue::parse(&"v".repeat(129))).contains("(got 129)"));
        assert!(refused(TagValue::parse("acs:x")).contains("'acs:'"));
        assert!(refused(TagValue::parse("aliyun")).contains("'aliyun'"));
        assert!(refused(TagValue::parse("go to https://x")).contains("https://"));
    }

    #[test]
    fn tags_count_and_uniqueness() {
        let tags = |n: usize| {
            (0..n)
                .map(|i| Tag::parse(&format!("k{i}=v")).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(Tags::new(tags(20)).unwrap().len(), 20);
        let (at, why) = Tags::new(tags(21)).unwrap_err();
        assert_eq!(at, 20);
        assert_eq!(why.0, "at most 20 tags are allowed (got 21)");
        let dup = vec![
            Tag::parse("a=1").unwrap(),
            Tag::parse("b=1").unwrap(),
            Tag::parse("a=2").unwrap(),
        ];
        let (at, why) = Tags::new(dup).unwrap_err();
        assert_eq!(at, 2);
        assert!(why.0.contains("'a' is given twice"), "{why}");
    }

    #[test]
    fn tags_keep_the_users_order() {
        let input = ["z=1", "a=2", "m=3"];
        let tags = Tags::new(input.iter().map(|s| Tag::parse(s).unwrap()).collect()).unwrap();
        let keys: Vec<_> = tags.iter().map(|t| t.key().as_str()).collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn client_token_rules() {
        assert!(ClientToken::parse("123e4567-e89b-12d3-a456-426655440000").is_ok());
        assert!(ClientToken::parse(&"a".repeat(64)).is_ok());
        assert!(refused(ClientToken::parse(&"a".repeat(65))).contains("at most 64"));
        assert!(refused(ClientToken::parse("")).contains("must not be empty"));
        assert!(refused(ClientToken::parse("a b")).contains("printable ASCII"));
        assert!(refused(ClientToken::parse("令牌")).contains("printable ASCII"));
        let generated = ClientToken::generate();
        assert_eq!(generated.as_str().len(), 36);
        assert!(ClientToken::parse(generated.as_str()).is_ok());
        assert_ne!(generated, ClientToken::generate());
    }

    #[test]
    fn durations_in_human_form() {
        use std::time::Duration;
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("90m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert!(refused(parse_duration("0s")).contains("greater than zero"));
        assert!(refused(parse_duration("5")).contains("such as 500ms"));
        assert!(refused(parse_duration("soon")).contains("such as 500ms"));
        assert!(refused(parse_duration("-5s")).contains("such as 500ms"));
        assert_eq!(
            parse_duration("365days").unwrap(),
            Duration::from_secs(365 * 86400)
        );
        assert!(refused(parse_duration("366days")).contains("at most 365 days"));
        assert!(refused(parse_duration("99999999999years")).contains("at most 365 days"));
    }

    #[test]
    fn opaque_ids() {
        assert!(KmsKeyId::parse("0e478b7a-4262-4802-b8cb-00d3fb40****").is_ok());
        assert!(KmsKeyId::parse("alias/my-key").is_ok());
        assert!(refused(KmsKeyId::parse("")).contains("must not be empty"));
        assert!(refused(KmsKeyId::parse("a b")).contains("white space"));
        assert!(ResourceGroupId::parse("rg-acfmxazb4ph6aiy").is_ok());
        assert!(refused(ResourceGroupId::parse("rg-\t1")).contains("white space"));
    }
}
