//! Layer 1 tables: which values are credential-like, which parts of a
//! structured value are removed, and that a huge value builds in linear time.

use super::env::{is_credential_like, literals};
use super::*;
use test_case::test_case;

const SLACK: &str = "https://hooks.slack.com/services/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";
const AZURE: &str = "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy+/Q9k2Lw==;EndpointSuffix=core.windows.net";
const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\nMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n-----END PRIVATE KEY-----\n";

#[test_case("Zq8vW3xY5tU7rS9pQ1oN2mL4kJ6hG" ; "random token")]
#[test_case("3f9a1c0d2b8e7f6a5c4d3e2f1a0b9c8d" ; "hex key")]
#[test_case(SLACK ; "slack webhook")]
#[test_case(AZURE ; "azure connection string")]
#[test_case("postgresql://app:Xy7pQ2zR@db.internal:5432/app" ; "database url")]
#[test_case("{\"type\":\"service_account\",\"private_key_id\":\"8c1e2f\"}" ; "json document")]
#[test_case("dGhpcyBpcyBhIHNlY3JldCB2YWx1ZQ==" ; "base64 blob")]
fn credential_like(value: &str) {
    assert!(is_credential_like(value), "{value}");
}

#[test_case("/usr/local/bin:/usr/bin:/bin" ; "path list")]
#[test_case("/home/svc/.config" ; "path")]
#[test_case("en_US.UTF-8" ; "locale")]
#[test_case("xterm-256color" ; "terminal")]
#[test_case("production" ; "word")]
#[test_case("1.2.3" ; "version")]
#[test_case("true" ; "boolean")]
#[test_case("2026-12-04 17:34:05" ; "date")]
#[test_case("1234567890123456789" ; "long number")]
#[test_case("the quick brown fox jumps over" ; "words")]
#[test_case("aaaaaaaaaaaaaaaaaaaaaaaa" ; "low entropy")]
#[test_case("Gnome Terminal Session" ; "capitalised words")]
fn not_credential_like(value: &str) {
    assert!(!is_credential_like(value), "{value}");
}

fn has(name: &str, value: &str, piece: &str) -> bool {
    literals(name, value).iter().any(|l| l == piece)
}

#[test_case("DATABASE_URL", "postgresql://app:s3cr3tpw@db/app", "s3cr3tpw" ; "url password")]
#[test_case("DATABASE_URL", "postgresql://app:s3cr%2Ftpw@db/app", "s3cr/tpw" ; "url password decoded")]
#[test_case("NOTIFY_URL", SLACK, "Zq8vW3xY5tU7rS9pQ1oN2mL4" ; "webhook secret segment")]
#[test_case("NOTIFY_URL", SLACK, "https:\\/\\/hooks.slack.com\\/services\\/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" ; "json escaped slashes")]
#[test_case("HOOK", "https://x.io/cb?user=bob&token=abc123XYZ", "abc123XYZ" ; "query token")]
#[test_case("STORAGE_CONN", AZURE, "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy+/Q9k2Lw==" ; "account key")]
#[test_case("SB", "Endpoint=sb://x/;SharedAccessSignature=sv=1&sig=AbCd%2BeF123", "AbCd+eF123" ; "sas signature")]
#[test_case("DEPLOY_KEY", PEM, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj" ; "pem line")]
#[test_case("DEPLOY_KEY", PEM, "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\\nMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\\n-----END PRIVATE KEY-----\\n" ; "pem json escaped")]
#[test_case("GCP_SA_JSON", "{\"client_secret\":\"hunter22\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----\\n\"}", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" ; "json private key line")]
#[test_case("GCP_SA_JSON", "{\"client_secret\":\"hunter22\"}", "hunter22" ; "json client secret")]
#[test_case("MY_SERVICE_TOKEN", "plainpassword", "plainpassword" ; "secret name keeps the old rule")]
fn parts(name: &str, value: &str, piece: &str) {
    assert!(has(name, value, piece), "{:?}", literals(name, value));
}

#[test_case("PATH", "/usr/bin:Zq8vW3xY5tU7rS9pQ1oN2mL4kJ6hG" ; "allowed name")]
#[test_case("LC_ALL", "Zq8vW3xY5tU7rS9pQ1oN2mL4kJ6hG" ; "allowed prefix")]
#[test_case("TERM", "xterm-256color" ; "harmless")]
#[test_case("LS_COLORS", "rs=0:di=01;34:ln=01;36:mh=00:pi=40;33:so=01;35:do=01;35" ; "ls colours")]
#[test_case("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus" ; "dbus address")]
#[test_case("APP_MODE", "production" ; "plain word")]
#[test_case("CONFIG_DIR", "/home/svc/.config" ; "path value")]
#[test_case("GREETING", "https://example.com/docs/index.html" ; "plain url")]
fn nothing_removed(name: &str, value: &str) {
    assert_eq!(literals(name, value), Vec::<String>::new());
}

#[test]
fn each_printed_piece_is_labelled_with_its_variable() {
    let r = Redactor::new(&Secrets::from_env([
        ("DATABASE_URL", "postgresql://app:Pw4xQ9zL@db/app"),
        ("NOTIFY_URL", SLACK),
    ]));
    assert_eq!(r.redact("pw Pw4xQ9zL"), "pw [REDACTED:DATABASE_URL]");
    assert_eq!(
        r.redact(&format!("post {SLACK} ok")),
        "post [REDACTED:NOTIFY_URL] ok"
    );
    let escaped = serde_json::to_string(SLACK).unwrap();
    assert_eq!(r.redact(&escaped), "\"[REDACTED:NOTIFY_URL]\"");
}

fn random_value(len: usize, lines: usize) -> String {
    let mut seed = 0x2545_f491_4f6c_dd1du64 ^ len as u64;
    (0..len)
        .map(|i| {
            if lines > 0 && i % lines == lines - 1 {
                return '\n';
            }
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                [(seed % 64) as usize] as char
        })
        .collect()
}

#[test]
fn a_long_value_printed_whole_or_line_by_line_is_removed() {
    let value = random_value(200_000, 65);
    let r = Redactor::new(&Secrets::from_env([("BUNDLE", value.as_str())]));
    let whole = format!("start {value} end");
    assert_eq!(r.redact(&whole), "start [REDACTED:BUNDLE] end");
    let mut out = Vec::new();
    let mut s = StreamRedactor::new(&r);
    for line in value.lines().take(500) {
        s.push(format!("> {line}\n").as_bytes(), &mut |b| {
            out.extend_from_slice(b)
        });
    }
    s.finish(&mut |b| out.extend_from_slice(b));
    let text = String::from_utf8(out).unwrap();
    // (The newline printed after each line is the value's own: it goes too.)
    assert_eq!(
        text.matches("> [REDACTED:BUNDLE]").count(),
        500,
        "{}",
        &text[..300]
    );
    assert!(!text.contains(&value[..12]) && !text.contains(&value[65 * 499..65 * 499 + 12]));
}

#[test]
fn set_up_is_linear_in_the_size_of_a_huge_value() {
    // Before: a 30 KB value took 2 s and a 3 MB one over 10 minutes.
    let value = random_value(3_000_000, 0);
    let r = Redactor::new(&Secrets::from_env([("BLOB", value.as_str())]));
    // Not a timing: the automaton holds anchors, not the value, so its size
    // (and its build, linear in it) stays a small multiple of the anchors'
    // bytes (5.4 MB here); the whole 3 MB value as one literal holds far more.
    let anchor_bytes = super::MAX_ANCHORS * super::ANCHOR_LEN;
    let held = r.exact.as_ref().map_or(0, |ac| ac.memory_usage());
    assert!(held < 32 * anchor_bytes, "automaton of {held} bytes");
    assert_eq!(r.redact(&value[1000..9000]), "[REDACTED:BLOB]");
}
