//! Inputs any client controls, thrown at the guard's parsers: they never
//! panic, never let a wrong token in, and the login form never sends a
//! browser off this server.

use axum::http::{header, HeaderMap, HeaderValue};
use proptest::prelude::*;

use crate::auth::{authorised, host_is_loopback, Token, COOKIE};
use crate::server::local_path;

const T: &str = "0123456789abcdef-the-real-token";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_authorization_headers_never_panic_and_never_pass(raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        let token = Token::new(T, "test").unwrap();
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(&raw) {
            h.insert(header::AUTHORIZATION, v.clone());
            h.insert(header::COOKIE, v);
        }
        let trimmed = String::from_utf8_lossy(&raw);
        let is_it = trimmed.trim().eq_ignore_ascii_case(&format!("bearer {T}"))
            || trimmed.split(';').any(|kv| kv.trim() == format!("{COOKIE}={}", token.session_value()));
        if !is_it {
            prop_assert!(!authorised(&token, &h));
        }
    }

    #[test]
    fn a_token_with_one_byte_changed_never_passes(i in 0usize..T.len(), b in any::<u8>()) {
        let token = Token::new(T, "test").unwrap();
        let mut t = T.as_bytes().to_vec();
        prop_assume!(t[i] != b && !b.is_ascii_whitespace());
        t[i] = b;
        prop_assert!(!token.matches(&t));
    }

    #[test]
    fn hosts_never_panic_and_only_loopback_names_pass(host in "\\PC{0,60}") {
        let ok = host_is_loopback(&host);
        if ok {
            let lower = host.to_ascii_lowercase();
            prop_assert!(lower.starts_with("localhost") || lower.starts_with("127.") || lower.starts_with("[::1]") || lower.starts_with("::1") || lower.starts_with("[::ffff:127.") || lower.starts_with("0:0:0:0:0:0:0:1") || lower.starts_with("[0:0:0:0:0:0:0:1]"), "{}", host);
        }
    }

    #[test]
    fn the_login_form_never_returns_through_a_smuggled_double_slash(pre in "[\t\n\r ]{0,3}", mid in "[\t\n\r]{1,3}", host in "[a-z]{1,10}") {
        let next = format!("{pre}/{mid}/{host}.example/");
        prop_assert_eq!(local_path(Some(&next)), "/");
    }

    #[test]
    fn the_login_form_only_returns_to_this_server(next in "\\PC{0,80}") {
        let p = local_path(Some(&next));
        prop_assert!(p.starts_with('/') && !p.starts_with("//") && !p.contains('\\'), "{}", p);
        // Browsers drop tabs and newlines from a URL: "/\t/evil" would be "//evil".
        prop_assert!(!p.chars().any(|c| c.is_control() || c.is_whitespace()), "{:?}", p);
    }
}
