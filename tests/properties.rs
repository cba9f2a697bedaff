//! Property tests: the validators and the signer take any string without panicking, and the
//! validators accept exactly what the rule table of the API allows. The rules are restated
//! here as a table of independent predicates, not by calling the code under test.

use copy_image::model::{
    ClientToken, Description, ImageId, ImageName, RegionId, Tag, TagKey, TagValue,
};
use copy_image::sign::percent_encode;
use copy_image::sign::v1::{canonicalized_query, signature, string_to_sign, Method, Params};
use proptest::prelude::*;

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn is_cjk(c: char) -> bool {
    let n = c as u32;
    [
        (0x3400, 0x4DBF),
        (0x4E00, 0x9FFF),
        (0xF900, 0xFAFF),
        (0x20000, 0x2FA1F),
        (0x30000, 0x323AF),
    ]
    .iter()
    .any(|&(lo, hi)| (lo..=hi).contains(&n))
}

fn starts_with_scheme(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.starts_with("http://") || l.starts_with("https://")
}

fn contains_scheme(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.contains("http://") || l.contains("https://")
}

fn reserved(s: &str) -> bool {
    s.starts_with("acs:") || s.starts_with("aliyun")
}

/// DestinationImageName, rule by rule.
fn name_ok(s: &str) -> bool {
    let rules: [&dyn Fn(&str) -> bool; 5] = [
        &|s| (2..=128).contains(&chars(s)),
        &|s| {
            s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || is_cjk(c))
        },
        &|s| {
            s.chars().all(|c| {
                c.is_ascii_alphanumeric() || is_cjk(c) || matches!(c, '.' | ':' | '_' | '-')
            })
        },
        &|s| !starts_with_scheme(s),
        &|s| !reserved(s),
    ];
    rules.iter().all(|r| r(s))
}

fn description_ok(s: &str) -> bool {
    (2..=256).contains(&chars(s)) && !starts_with_scheme(s)
}

fn tag_key_ok(s: &str) -> bool {
    (1..=128).contains(&chars(s)) && !contains_scheme(s) && !reserved(s)
}

fn tag_value_ok(s: &str) -> bool {
    chars(s) <= 128 && !contains_scheme(s) && !reserved(s)
}

fn image_id_ok(s: &str) -> bool {
    s.len() <= 64
        && s.strip_prefix("m-")
            .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn region_ok(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    s.len() <= 64
        && parts.len() >= 2
        && parts[0].len() >= 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..].iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn client_token_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// Strings that hit the interesting edges more often than uniform random text does.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z][a-zA-Z0-9.:_-]{0,130}",
        "(http://|https://|acs:|aliyun|HTTP://)?[a-z0-9 ]{0,10}",
        "[测试镜像a-z0-9._:\\- é😀]{0,140}",
        "m-[a-z0-9*]{0,70}",
        "[a-z]{1,4}(-[a-z0-9]{0,6}){0,3}",
        "[\\x00-\\x7f]{0,70}",
        // Lengths around the limits of 64, 128 and 256 characters.
        "[a-zA-Z][a-z0-9é中]{60,68}",
        "[a-zA-Z][a-z0-9é中]{124,132}",
        "[a-zA-Z][a-z0-9é中 ]{250,260}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn image_name_agrees_with_the_rule_table(s in text()) {
        prop_assert_eq!(ImageName::parse(&s).is_ok(), name_ok(&s), "{:?}", s);
    }

    #[test]
    fn description_agrees_with_the_rule_table(s in text()) {
        prop_assert_eq!(Description::parse(&s).is_ok(), description_ok(&s), "{:?}", s);
    }

    #[test]
    fn tag_key_and_value_agree_with_the_rule_table(s in text()) {
        prop_assert_eq!(TagKey::parse(&s).is_ok(), tag_key_ok(&s), "key {:?}", s);
        prop_assert_eq!(TagValue::parse(&s).is_ok(), tag_value_ok(&s), "value {:?}", s);
    }

    #[test]
    fn tag_form_splits_at_the_first_equals(k in text(), v in text()) {
        let parsed = Tag::parse(&format!("{k}={v}"));
        let expected = !k.contains('=') && tag_key_ok(&k) && tag_value_ok(&v);
        if !k.contains('=') {
            prop_assert_eq!(parsed.is_ok(), expected, "{:?}={:?}", k, v);
        }
        if let Ok(tag) = parsed {
            prop_assert_eq!(format!("{}={}", tag.key(), tag.value()), format!("{k}={v}"));
        }
    }

    #[test]
    fn ids_agree_with_the_rule_table(s in text()) {
        prop_assert_eq!(ImageId::parse(&s).is_ok(), image_id_ok(&s), "image {:?}", s);
        prop_assert_eq!(RegionId::parse(&s).is_ok(), region_ok(&s), "region {:?}", s);
        prop_assert_eq!(ClientToken::parse(&s).is_ok(), client_token_ok(&s), "token {:?}", s);
    }

    /// The encoding keeps exactly the unreserved set, escapes the rest as upper-case `%XY` of
    /// each UTF-8 byte, and decodes back to the input.
    #[test]
    fn percent_encoding_is_alibabas_and_reversible(s in any::<String>()) {
        let encoded = percent_encode(&s);
        let bytes = encoded.as_bytes();
        let mut decoded = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'%' {
                let hex = &encoded[i + 1..i + 3];
                prop_assert!(hex.bytes().all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(&h)), "{}", encoded);
                let value = u8::from_str_radix(hex, 16).unwrap();
                prop_assert!(!(value.is_ascii_alphanumeric() || b"-_.~".contains(&value)), "unreserved byte escaped in {}", encoded);
                decoded.push(value);
                i += 3;
            } else {
                prop_assert!(b.is_ascii_alphanumeric() || b"-_.~".contains(&b), "{:?} left raw in {}", b as char, encoded);
                decoded.push(b);
                i += 1;
            }
        }
        prop_assert_eq!(String::from_utf8(decoded).unwrap(), s);
    }

    /// Any parameters sign without panicking; the canonical string is sorted by key; the
    /// signature is Base64 of a 20-byte HMAC-SHA1 and changes with any value.
    #[test]
    fn signer_takes_any_parameters(
        params in prop::collection::btree_map("[A-Za-z0-9.]{1,12}", any::<String>(), 0..8),
        secret in any::<String>(),
    ) {
        let params: Params = params;
        let canonical = canonicalized_query(&params);
        let keys: Vec<&str> = canonical.split('&').filter(|p| !p.is_empty()).map(|p| p.split('=').next().unwrap()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        prop_assert_eq!(&keys, &sorted);
        let sig = signature(&secret, &string_to_sign(Method::Post, &canonical));
        prop_assert_eq!(sig.len(), 28);
        prop_assert!(sig.ends_with('='));
        let mut changed = params.clone();
        changed.insert("Z_extra".into(), "x".into()); // "_" is outside the key pattern
        let other = signature(&secret, &string_to_sign(Method::Post, &canonicalized_query(&changed)));
        prop_assert_ne!(sig, other);
    }
}
