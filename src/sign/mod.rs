//! Request signing. Pure functions: the time, the nonce and the credentials are inputs.

pub mod v1;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but the unreserved set `A-Z a-z 0-9 - _ . ~` is escaped as `%XY` (upper-case hex
/// of each UTF-8 byte): a space is `%20`, `*` is `%2A`, `~` stays. This is Alibaba Cloud's rule
/// for both signature versions, and it is not form encoding.
const ALIBABA_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes `s` the way Alibaba Cloud's signers do.
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, ALIBABA_ESCAPED).to_string()
}

#[cfg(test)]
mod tests {
    use super::percent_encode;

    #[test]
    fn unreserved_characters_stay() {
        let unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";
        assert_eq!(percent_encode(unreserved), unreserved);
    }

    #[test]
    fn reserved_characters_are_escaped_in_upper_case_hex() {
        let cases = [
            (" ", "%20"),
            ("*", "%2A"),
            ("/", "%2F"),
            (":", "%3A"),
            (",", "%2C"),
            ("+", "%2B"),
            ("=", "%3D"),
            ("&", "%26"),
            ("%", "%25"),
            ("\"", "%22"),
            ("é", "%C3%A9"),
            ("中", "%E4%B8%AD"),
            ("😀", "%F0%9F%98%80"),
        ];
        for (input, expected) in cases {
            assert_eq!(percent_encode(input), expected, "{input:?}");
        }
    }
}
