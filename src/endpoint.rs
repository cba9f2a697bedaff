//! Where ECS calls go.
//!
//! Every call goes to the regional endpoint of the region it acts on,
//! `https://ecs.<region>.aliyuncs.com` (the current ECS endpoint list documents this form for
//! every public region): CopyImage to the source region, calls about the copy to the
//! destination region. `--endpoint` replaces it for every call.

use std::fmt;

use reqwest::Url;

use crate::model::{RegionId, Rule};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `scheme://host[:port]`, without a trailing slash.
    base: String,
}

impl Endpoint {
    pub fn for_region(region: &RegionId) -> Self {
        Self {
            base: format!("https://ecs.{region}.aliyuncs.com"),
        }
    }

    /// Parses a user-given endpoint: `https://` anywhere, `http://` only for a loopback host
    /// (127.0.0.0/8, ::1, localhost), as the credentials would otherwise cross a network
    /// unencrypted. A bare host name means `https://`.
    pub fn parse_override(s: &str) -> Result<Self, Rule> {
        let with_scheme = if s.contains("://") {
            s.to_owned()
        } else {
            format!("https://{s}")
        };
        let url = Url::parse(&with_scheme).map_err(|e| {
            Rule(format!(
                "must be a URL such as https://ecs.cn-hangzhou.aliyuncs.com ({e})"
            ))
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Rule("must not contain a user name or password".into()));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(Rule(
                "must be a scheme, host and optional port only, with no path, query or fragment"
                    .into(),
            ));
        }
        let host = url.host().ok_or_else(|| Rule("must name a host".into()))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&host) => {}
            "http" => {
                return Err(Rule(
                    "http:// is allowed only for loopback hosts (127.0.0.0/8, ::1, localhost); use https://"
                        .into(),
                ))
            }
            other => return Err(Rule(format!("must use https:// (not {other}://)"))),
        }
        let mut base = format!("{}://{}", url.scheme(), host);
        if let Some(port) = url.port() {
            base.push_str(&format!(":{port}"));
        }
        Ok(Self { base })
    }

    /// The URL of a request whose query string is already encoded, as signed.
    pub fn url_with_query(&self, query: &str) -> String {
        format!("{}/?{query}", self.base)
    }

    pub fn as_str(&self) -> &str {
        &self.base
    }

    /// `host[:port]`, as the `Host` header carries it.
    pub fn host(&self) -> &str {
        self.base
            .split_once("://")
            .map_or(self.base.as_str(), |(_, host)| host)
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regional_endpoint() {
        let r = RegionId::parse("cn-shanghai").unwrap();
        assert_eq!(
            Endpoint::for_region(&r).as_str(),
            "https://ecs.cn-shanghai.aliyuncs.com"
        );
        let r = RegionId::parse("cn-hangzhou").unwrap();
        assert_eq!(
            Endpoint::for_region(&r).as_str(),
            "https://ecs.cn-hangzhou.aliyuncs.com"
        );
    }

    #[test]
    fn overrides_accepted() {
        let cases = [
            (
                "https://ecs-vpc.cn-hangzhou.aliyuncs.com",
                "https://ecs-vpc.cn-hangzhou.aliyuncs.com",
            ),
            (
                "https://ecs.cn-hangzhou.aliyuncs.com/",
                "https://ecs.cn-hangzhou.aliyuncs.com",
            ),
            (
                "ecs.cn-hangzhou.aliyuncs.com",
                "https://ecs.cn-hangzhou.aliyuncs.com",
            ),
            ("https://10.0.0.1:8443", "https://10.0.0.1:8443"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://127.1.2.3:1", "http://127.1.2.3:1"),
            ("http://localhost:9000", "http://localhost:9000"),
            ("http://[::1]:9000", "http://[::1]:9000"),
        ];
        for (input, base) in cases {
            assert_eq!(
                Endpoint::parse_override(input).unwrap().as_str(),
                base,
                "{input}"
            );
        }
    }

    #[test]
    fn host_as_sent() {
        let e = Endpoint::parse_override("http://127.0.0.1:8080").unwrap();
        assert_eq!(e.host(), "127.0.0.1:8080");
        let r = RegionId::parse("cn-shanghai").unwrap();
        assert_eq!(
            Endpoint::for_region(&r).host(),
            "ecs.cn-shanghai.aliyuncs.com"
        );
    }

    #[test]
    fn plain_http_refused_off_loopback() {
        for input in [
            "http://ecs.cn-hangzhou.aliyuncs.com",
            "http://10.0.0.1",
            "http://192.168.1.1:80",
            "http://localhost.example.com",
        ] {
            let rule = Endpoint::parse_override(input).unwrap_err().0;
            assert!(rule.contains("only for loopback"), "{input}: {rule}");
        }
    }

    #[test]
    fn malformed_overrides_refused() {
        let cases = [
            ("ftp://x.example.com", "must use https://"),
            ("https://user:pw@x.example.com", "user name or password"),
            ("https://x.example.com/path", "no path"),
            ("https://x.example.com/?a=b", "no path, query"),
            ("https://", "must be a URL"),
            ("", "must be a URL"),
        ];
        for (input, expected) in cases {
            let rule = Endpoint::parse_override(input).unwrap_err().0;
            assert!(rule.contains(expected), "{input}: {rule}");
        }
    }

    #[test]
    fn url_keeps_the_signed_query_verbatim() {
        let e = Endpoint::parse_override("http://127.0.0.1:1").unwrap();
        let q = "A=%20%2A~&Signature=ab%2B%3D";
        assert_eq!(e.url_with_query(q), format!("http://127.0.0.1:1/?{q}"));
        // reqwest's URL parser must not re-encode what was signed.
        let parsed = Url::parse(&e.url_with_query(q)).unwrap();
        assert_eq!(parsed.query(), Some(q));
    }
}
