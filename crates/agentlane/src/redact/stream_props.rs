//! Properties of the stream redactor over random secrets, surrounding bytes
//! and chunkings: no 12-byte window of a secret survives, and for input
//! holding no secret the stream gives exactly the one-shot redaction.

use proptest::prelude::*;

use super::*;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-";

/// A random credential: one line of 16..48 bytes, or (PEM-like) 2..5 lines of 16..64.
fn secret() -> impl Strategy<Value = String> {
    let line = |min: usize, max: usize| {
        proptest::collection::vec(proptest::sample::select(ALNUM), min..max)
            .prop_map(|b| String::from_utf8(b).unwrap_or_default())
    };
    prop_oneof![
        3 => line(16, 48),
        1 => proptest::collection::vec(line(16, 64), 2..5).prop_map(|l| l.join("\n")),
    ]
    // Layer 1 takes values by what they look like: a random draw that is not
    // credential-like (`/AAAAAAAAAAAAAAA`) is rightly kept.
    .prop_filter("credential-like", |s| is_credential_like(s))
}

fn stream(r: &Redactor, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut s = StreamRedactor::new(r);
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    for cut in cuts.into_iter().chain([input.len()]) {
        if cut > at {
            s.push(&input[at..cut], &mut |b| out.extend_from_slice(b));
            at = cut;
        }
    }
    s.finish(&mut |b| out.extend_from_slice(b));
    out
}

fn windows_survive(out: &[u8], secrets: &[String]) -> Option<String> {
    let windows: std::collections::HashSet<&[u8]> = secrets
        .iter()
        .flat_map(|s| s.as_bytes().windows(12))
        .collect();
    out.windows(12)
        .find(|w| windows.contains(w))
        .map(|w| String::from_utf8_lossy(w).into_owned())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn no_window_of_a_secret_survives_any_chunking(
        secrets in proptest::collection::vec(secret(), 1..4),
        pieces in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..64), 0usize..4), 1..12),
        cuts in proptest::collection::vec(any::<usize>(), 0..24),
    ) {
        let env: Vec<(String, String)> = secrets
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("NOTE_{i}"), s.clone()))
            .collect();
        let r = Redactor::new(&Secrets::from_env(env.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
        let mut input = Vec::new();
        for (noise, which) in &pieces {
            input.extend_from_slice(noise);
            if let Some(s) = secrets.get(*which) {
                input.extend_from_slice(s.as_bytes());
            }
        }
        let out = stream(&r, &input, &cuts);
        prop_assert_eq!(windows_survive(&out, &secrets), None);
    }

    #[test]
    fn without_secrets_the_stream_equals_one_shot_redaction(
        input in proptest::collection::vec(prop_oneof![any::<u8>(), Just(b'\n'), proptest::sample::select(ALNUM)], 0..4096),
        cuts in proptest::collection::vec(any::<usize>(), 0..24),
    ) {
        let r = Redactor::new(&Secrets::from_env([("NOTE", "Zq8vW3xY5tU7rS9pQ1oN2mL4kJ6hG~~")]));
        let one_shot = r.redact_bytes(&input).into_owned();
        prop_assert_eq!(stream(&r, &input, &cuts), one_shot);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Lines longer than MAX_PENDING are released in pieces: never through a secret.
    #[test]
    fn a_secret_in_a_line_longer_than_the_pending_cap_survives_no_cut(
        s in secret().prop_filter("one line", |s| !s.contains('\n')),
        at in 0usize..(3 * MAX_PENDING),
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let r = Redactor::new(&Secrets::from_env([("NOTE", s.as_str())]));
        let mut input = vec![b'.'; 3 * MAX_PENDING];
        input.splice(at..at, s.bytes());
        let out = stream(&r, &input, &cuts);
        prop_assert_eq!(windows_survive(&out, std::slice::from_ref(&s)), None);
        prop_assert!(out.windows(12).any(|w| w == b"[REDACTED:NO"));
    }
}
