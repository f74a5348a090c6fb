//! Browser-origin safety: which requests a browser may have sent on
//! another site's behalf, and which `Host` this server answers to.
//!
//! A page on any site can make its visitor's browser POST to
//! `http://127.0.0.1:8080`. Browsers send such a request without asking
//! first only when its body is form data or `text/plain`, and they always
//! say where it came from in `Origin`. So every POST must be
//! `application/json` (which a cross-site page cannot send without a CORS
//! preflight this server never grants), and an `Origin` other than the
//! server's own (or one allowed by configuration) is refused.
//!
//! DNS rebinding points a name the attacker controls at 127.0.0.1, making
//! the browser treat this server as the attacker's site. The request still
//! carries the attacker's name in `Host`: on a loopback connection (the
//! target of such attacks) only loopback names are accepted, unless a list
//! of allowed hosts is configured.

use std::net::SocketAddr;

use axum::http::{HeaderMap, Method, header};

use super::error::AppError;
use crate::error::excerpt;

/// The local address a connection arrived on, put in each request's
/// extensions by [`serve`](super::serve).
#[derive(Debug, Clone, Copy)]
pub struct LocalAddr(pub SocketAddr);

/// What the server accepts from browsers.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    /// Origins (`https://dash.example.com`) besides the server's own that
    /// may send state-changing requests: for a deployment behind a proxy
    /// or a page served elsewhere.
    pub allowed_origins: Vec<String>,
    /// `Host` values (`dash.example.com` or `dash.example.com:8080`) the
    /// server answers to. Empty: any, except that a connection to a
    /// loopback address accepts only loopback names.
    pub allowed_hosts: Vec<String>,
}

impl OriginPolicy {
    /// Checks one request's method, headers and local address.
    pub(crate) fn check(
        &self,
        method: &Method,
        headers: &HeaderMap,
        local: Option<LocalAddr>,
        has_body: bool,
    ) -> Result<(), AppError> {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        if let Some(host) = host {
            self.check_host(host, local)?;
        }
        if method == Method::GET || method == Method::HEAD {
            return Ok(());
        }
        if has_body && !is_json(headers) {
            return Err(AppError::UnsupportedMediaType(
                "send the body as `Content-Type: application/json`".to_owned(),
            ));
        }
        if headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() == b"cross-site")
        {
            return Err(AppError::Forbidden(
                "a cross-site request may not change this server's state".to_owned(),
            ));
        }
        match headers.get(header::ORIGIN).map(|v| v.to_str()) {
            // Not a browser (curl, scripts): nothing to guard against.
            None => Ok(()),
            Some(Ok(origin)) if self.allows_origin(origin, host) => Ok(()),
            Some(origin) => Err(AppError::Forbidden(format!(
                "requests from origin `{}` may not change this server's state; \
                 allow it with --allow-origin",
                excerpt(origin.unwrap_or("(not text)"))
            ))),
        }
    }

    fn allows_origin(&self, origin: &str, host: Option<&str>) -> bool {
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        let same_site =
            matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h));
        same_site
            || self
                .allowed_origins
                .iter()
                .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }

    fn check_host(&self, host: &str, local: Option<LocalAddr>) -> Result<(), AppError> {
        let allowed = if self.allowed_hosts.is_empty() {
            !local.is_some_and(|LocalAddr(addr)| addr.ip().is_loopback()) || is_loopback_name(host)
        } else {
            self.allowed_hosts.iter().any(|allowed| {
                // An entry without a port allows the name on any port.
                allowed.eq_ignore_ascii_case(host)
                    || (hostname(allowed) == allowed.as_str()
                        && allowed.eq_ignore_ascii_case(hostname(host)))
            })
        };
        if allowed {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "this server does not answer to the host name `{}`; allow it with --allow-host",
                excerpt(host)
            )))
        }
    }
}

/// `host:port` without the port (IPv6 literals keep their brackets).
fn hostname(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

fn is_loopback_name(host: &str) -> bool {
    let name = hostname(host);
    name.eq_ignore_ascii_case("localhost")
        || name.eq_ignore_ascii_case("[::1]")
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    const LOOPBACK: Option<LocalAddr> = Some(LocalAddr(SocketAddr::new(
        std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        8080,
    )));

    #[test]
    fn cross_site_writes_are_refused() {
        let policy = OriginPolicy::default();
        let post = Method::POST;
        let json = ("content-type", "application/json");
        let host = ("host", "127.0.0.1:8080");
        let ok =
            |h: &[(&'static str, &'static str)]| policy.check(&post, &headers(h), LOOPBACK, true);
        assert!(ok(&[json, host]).is_ok(), "curl sends no Origin");
        assert!(ok(&[json, host, ("origin", "http://127.0.0.1:8080")]).is_ok());
        assert!(matches!(
            ok(&[("content-type", "text/plain"), host]),
            Err(AppError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            ok(&[json, host, ("origin", "https://evil.example")]),
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            ok(&[json, host, ("origin", "null")]),
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            ok(&[json, host, ("sec-fetch-site", "cross-site")]),
            Err(AppError::Forbidden(_))
        ));
        let allowing = OriginPolicy {
            allowed_origins: vec!["https://dash.example.com/".to_owned()],
            ..OriginPolicy::default()
        };
        let from_dash = headers(&[json, host, ("origin", "https://dash.example.com")]);
        assert!(allowing.check(&post, &from_dash, LOOPBACK, true).is_ok());
    }

    #[test]
    fn rebound_names_are_refused_on_loopback() {
        let policy = OriginPolicy::default();
        let get = Method::GET;
        let check = |host: &'static str, local| {
            policy.check(&get, &headers(&[("host", host)]), local, false)
        };
        for host in [
            "127.0.0.1:8080",
            "localhost:8080",
            "[::1]:8080",
            "LOCALHOST",
            "127.0.0.2",
        ] {
            assert!(check(host, LOOPBACK).is_ok(), "{host}");
        }
        assert!(matches!(
            check("evil.example:8080", LOOPBACK),
            Err(AppError::Forbidden(_))
        ));
        let public = Some(LocalAddr("10.1.2.3:8080".parse().unwrap()));
        assert!(
            check("dash.example.com", public).is_ok(),
            "no list: any name off loopback"
        );
        let listed = OriginPolicy {
            allowed_hosts: vec!["dash.example.com".to_owned(), "[::1]".to_owned()],
            ..OriginPolicy::default()
        };
        let check =
            |host: &'static str| listed.check(&get, &headers(&[("host", host)]), public, false);
        assert!(check("dash.example.com:8080").is_ok());
        assert!(
            check("[::1]:8080").is_ok(),
            "a bracketed address without a port"
        );
        assert!(matches!(
            check("other.example.com"),
            Err(AppError::Forbidden(_))
        ));
    }
}
