//! Who may talk to the server, decided before any handler runs.
//!
//! - A bind address other than loopback needs a token ([`check_bind`]).
//! - With a token, every request but `/healthz` (and `/metrics` when
//!   opened) must present it: `Authorization: Bearer TOKEN`, or the session
//!   cookie the dashboard's login form sets (a derivation of the token, never
//!   the token itself). Both are compared in constant time ([`Token::matches`]).
//! - On loopback the `Host` header must name loopback (a DNS-rebinding page
//!   cannot reach the API), and a write whose `Origin` is another site is
//!   refused (a page in the operator's browser cannot cancel jobs).

use std::net::SocketAddr;
use std::path::Path;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq;

use crate::problem::Problem;
use crate::state::AppState;

/// The session cookie the login form sets.
pub const COOKIE: &str = "agentlane_session";

/// Shortest token accepted: 16 bytes (`openssl rand -hex 16` gives 32).
pub const MIN_TOKEN_BYTES: usize = 16;

/// The API token. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
    session: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

/// Why a token could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenError {
    /// The file could not be read.
    #[error("cannot read the token file {path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// Others may read the file.
    #[error(
        "the token file {path} may be read by other users (mode {mode:o}): run `chmod 600 {path}`"
    )]
    TooOpen {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// Too short to resist guessing.
    #[error("the token from {source_name} is {len} bytes; use at least {MIN_TOKEN_BYTES} (e.g. `openssl rand -hex 32`)")]
    TooShort {
        /// Where it came from.
        source_name: String,
        /// Its length.
        len: usize,
    },
}

impl Token {
    /// A token from its text (surrounding whitespace removed).
    pub fn new(text: &str, source_name: &str) -> Result<Token, TokenError> {
        let t = text.trim();
        if t.len() < MIN_TOKEN_BYTES {
            return Err(TokenError::TooShort {
                source_name: source_name.to_string(),
                len: t.len(),
            });
        }
        let digest = *blake3::hash(t.as_bytes()).as_bytes();
        let session = blake3::derive_key("agentlane serve session cookie v1", t.as_bytes());
        Ok(Token {
            digest,
            session: hex(&session),
        })
    }

    /// A token from a file only its owner may read.
    pub fn from_file(path: &Path) -> Result<Token, TokenError> {
        let shown = path.display().to_string();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(path).map_err(|e| TokenError::Unreadable {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(TokenError::TooOpen { path: shown, mode });
            }
        }
        let text = std::fs::read_to_string(path).map_err(|e| TokenError::Unreadable {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        Token::new(&text, &shown)
    }

    /// Whether `presented` is the token, in time independent of where they differ
    /// (and of the presented length: both sides are hashed first).
    pub fn matches(&self, presented: &[u8]) -> bool {
        let d = blake3::hash(trim_ascii(presented));
        bool::from(d.as_bytes().ct_eq(&self.digest))
    }

    /// Whether `cookie` is this token's session cookie value.
    pub fn matches_session(&self, cookie: &str) -> bool {
        cookie.len() == self.session.len()
            && bool::from(cookie.as_bytes().ct_eq(self.session.as_bytes()))
    }

    /// The session cookie's value for this token.
    pub fn session_value(&self) -> &str {
        &self.session
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why the server refuses to start on an address.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("refusing to listen on {addr} without a token: anyone who can reach it could read every job and cancel them; give --token-file FILE (or AGENTLANE_TOKEN), or listen on 127.0.0.1")]
pub struct BindRefused {
    /// The address asked for.
    pub addr: SocketAddr,
}

/// Loopback needs no token; any other address does.
pub fn check_bind(addr: SocketAddr, token: Option<&Token>) -> Result<(), BindRefused> {
    if addr.ip().is_loopback() || token.is_some() {
        Ok(())
    } else {
        Err(BindRefused { addr })
    }
}

/// What the server's access rules need to know.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The token, when one is configured.
    pub token: Option<Token>,
    /// Serve `/metrics` without the token.
    pub open_metrics: bool,
    /// The server listens on loopback only (the Host header is checked).
    pub loopback: bool,
}

/// How a path is guarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// Never needs the token.
    Open,
    /// `/metrics`.
    Metrics,
    /// A page of the dashboard: without a session, the login form.
    Page,
    /// The API: without the token, 401.
    Api,
}

fn guard_of(path: &str) -> Guard {
    if path == "/healthz" || path == "/login" || path.starts_with("/assets/") {
        Guard::Open
    } else if path == "/metrics" {
        Guard::Metrics
    } else if path.starts_with("/api/") {
        Guard::Api
    } else {
        Guard::Page
    }
}

/// Whether a Host header names loopback (`localhost`, `127.x`, `[::1]`, any port).
pub fn host_is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The host part of an Origin (`http://127.0.0.1:7878` → `127.0.0.1:7878`).
fn origin_authority(origin: &str) -> Option<&str> {
    let rest = origin.split_once("://")?.1;
    Some(rest.split('/').next().unwrap_or(rest))
}

fn presented_token(headers: &HeaderMap) -> Option<&[u8]> {
    let v = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = v.split_at(v.iter().position(|c| *c == b' ')?);
    scheme.eq_ignore_ascii_case(b"bearer").then_some(&rest[1..])
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// Whether these headers carry the token (bearer or session cookie).
pub fn authorised(token: &Token, headers: &HeaderMap) -> bool {
    presented_token(headers).is_some_and(|t| token.matches(t))
        || session_cookie(headers).is_some_and(|c| token.matches_session(c))
}

/// The middleware: every request passes here first.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let access = &state.access;
    let headers = req.headers();
    if access.loopback {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !host.is_empty() && !host_is_loopback(host) {
            return Problem::forbidden(
                "foreign_host",
                format!("this server listens on loopback and answers only to localhost, not to Host {host:?}; open it as http://127.0.0.1:PORT"),
            )
            .into_response();
        }
    }
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if writes {
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            if origin_authority(origin) != Some(host) {
                return Problem::forbidden(
                    "cross_site",
                    format!("a write from the page {origin:?} to {host:?} was refused: writes come from this server's own pages or from a client that sends no Origin"),
                )
                .into_response();
            }
        }
    }
    let kind = guard_of(req.uri().path());
    let Some(token) = &access.token else {
        return next.run(req).await;
    };
    let needs = match kind {
        Guard::Open => false,
        Guard::Metrics => !access.open_metrics,
        Guard::Page | Guard::Api => true,
    };
    if !needs || authorised(token, headers) {
        return next.run(req).await;
    }
    match kind {
        Guard::Page if *req.method() == Method::GET => {
            let back = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let encoded: String = back
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"/-_.".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            Redirect::to(&format!("/login?next={encoded}")).into_response()
        }
        _ => {
            let why = if headers.contains_key(header::AUTHORIZATION) {
                "the token presented is not this server's token"
            } else {
                "no token was presented: send `Authorization: Bearer TOKEN` (the token in the server's --token-file or AGENTLANE_TOKEN)"
            };
            let mut r = Problem::unauthorized(why).into_response();
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                "Bearer realm=\"agentlane\"".parse().expect("static header"),
            );
            debug_assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_itself_only() {
        let t = Token::new("0123456789abcdef0123", "test").unwrap();
        assert!(t.matches(b"0123456789abcdef0123"));
        assert!(t.matches(b" 0123456789abcdef0123\n"));
        assert!(!t.matches(b"0123456789abcdef012"));
        assert!(!t.matches(b"0123456789abcdef01234"));
        assert!(!t.matches(b""));
        assert!(t.matches_session(t.session_value()));
        assert!(!t.matches_session("0123456789abcdef0123"));
        assert!(!format!("{t:?}").contains("0123"));
    }

    #[test]
    fn a_short_token_is_refused() {
        assert!(matches!(
            Token::new("short", "env"),
            Err(TokenError::TooShort { len: 5, .. })
        ));
    }

    #[test]
    fn only_loopback_binds_without_a_token() {
        let t = Token::new("0123456789abcdef0123", "test").unwrap();
        assert!(check_bind("127.0.0.1:7878".parse().unwrap(), None).is_ok());
        assert!(check_bind("[::1]:7878".parse().unwrap(), None).is_ok());
        assert!(check_bind("0.0.0.0:7878".parse().unwrap(), None).is_err());
        assert!(check_bind("192.168.1.4:7878".parse().unwrap(), None).is_err());
        assert!(check_bind("0.0.0.0:7878".parse().unwrap(), Some(&t)).is_ok());
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        for h in [
            "localhost",
            "localhost:7878",
            "127.0.0.1:1",
            "127.0.0.2",
            "[::1]:80",
            "LOCALHOST",
        ] {
            assert!(host_is_loopback(h), "{h}");
        }
        for h in [
            "evil.example:7878",
            "10.0.0.1",
            "localhost.evil.example",
            "[::2]:80",
            "127.0.0.1.nip.io",
        ] {
            assert!(!host_is_loopback(h), "{h}");
        }
    }

    #[test]
    fn guards_by_path() {
        assert_eq!(guard_of("/healthz"), Guard::Open);
        assert_eq!(guard_of("/metrics"), Guard::Metrics);
        assert_eq!(guard_of("/api/v1/jobs"), Guard::Api);
        assert_eq!(guard_of("/"), Guard::Page);
        assert_eq!(guard_of("/jobs/x"), Guard::Page);
    }
}
