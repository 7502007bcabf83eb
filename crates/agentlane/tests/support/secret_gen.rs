//! Random secrets from the corpus's generator templates (`{charset:n}`),
//! shared by the library's corpus test and the binary's end-to-end test.
#![allow(dead_code)]

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

pub fn seed() -> u64 {
    if let Ok(s) = std::env::var("REDACTION_SEED") {
        return s.parse().expect("REDACTION_SEED is a u64");
    }
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).expect("getrandom");
    u64::from_le_bytes(b)
}

pub fn charset(name: &str) -> &'static str {
    match name {
        "alnum" => "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "hex" => "0123456789abcdef",
        "HEX" => "0123456789ABCDEF",
        "lower" | "letters_lower" => "abcdefghijklmnopqrstuvwxyz",
        "upper" => "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "letters" => "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "digits" => "0123456789",
        "b64" => "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        "b64url" => "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
        "b32" => "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
        "lowalnum" => "abcdefghijklmnopqrstuvwxyz0123456789",
        "upalnum" => "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "bech32" => "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",
        other => panic!("corpus: unknown charset {other}"),
    }
}

/// A value from a template, and which of its bytes are random.
pub fn generate(template: &str, rng: &mut Rng) -> (String, Vec<bool>) {
    let (mut out, mut random) = (String::new(), Vec::new());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        random.extend(std::iter::repeat_n(false, open));
        let close = rest[open..].find('}').expect("closed placeholder") + open;
        let (cs, n) = rest[open + 1..close].split_once(':').expect("{charset:n}");
        let cs = charset(cs).as_bytes();
        let n: usize = n.parse().expect("length");
        out.extend((0..n).map(|_| cs[rng.below(cs.len())] as char));
        random.extend(std::iter::repeat_n(true, n));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    random.extend(std::iter::repeat_n(false, rest.len()));
    (out, random)
}

/// The 12-byte windows of `value` that hold a random byte (windows of the
/// literal parts — a prefix, a URL's host — are not secret).
pub fn secret_windows(value: &str, random: &[bool]) -> Vec<String> {
    let b = value.as_bytes();
    if b.len() < 12 {
        return vec![value.to_string()];
    }
    (0..=b.len() - 12)
        .filter(|&i| random[i..i + 12].iter().any(|&r| r))
        .map(|i| String::from_utf8_lossy(&b[i..i + 12]).into_owned())
        .collect()
}

/// The value as it appears inside a JSON string, with its random mask.
pub fn json_escaped(value: &str, random: &[bool]) -> (String, Vec<bool>) {
    let (mut out, mut mask) = (String::new(), Vec::new());
    for (i, ch) in value.char_indices() {
        let e = serde_json::to_string(&ch.to_string()).unwrap();
        let e = &e[1..e.len() - 1];
        out.push_str(e);
        mask.extend(std::iter::repeat_n(random[i], e.len()));
    }
    (out, mask)
}
