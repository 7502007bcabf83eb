//! Byte sizes written by people: `64MiB`, `512 KiB`, `10MB`, `4096`.
//!
//! One parser for the configuration and the command line, so both accept
//! the same spellings. Binary units (`KiB`, `MiB`, `GiB`, `TiB`, and the
//! bare `K`, `M`, `G`, `T` as `ulimit` and `dd` read them) are powers of
//! 1024; decimal units (`kB`, `MB`, `GB`, `TB`) are powers of 1000. Pure.

/// What a size looks like, for error messages.
pub const EXAMPLES: &str = "a byte count like 4096, 512KiB, 64MiB or 1GiB";

/// Parses a size into bytes; the error says what is wrong (without the value's origin).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    if digits.is_empty() {
        return Err(format!("\"{text}\" is not a size: write {EXAMPLES}"));
    }
    let multiplier: u64 = match unit.trim_start() {
        "" | "B" | "b" => 1,
        "K" | "k" | "KiB" | "kiB" => 1 << 10,
        "M" | "m" | "MiB" => 1 << 20,
        "G" | "g" | "GiB" => 1 << 30,
        "T" | "t" | "TiB" => 1 << 40,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "\"{text}\": unknown unit \"{other}\": write {EXAMPLES} (KiB/MiB/GiB are powers of 1024, kB/MB/GB of 1000)"
            ))
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| {
            format!(
                "\"{text}\" is too large: the largest size is {} bytes",
                u64::MAX
            )
        })
}

/// Renders a byte count for people: exact binary units where they divide it (`64 MiB`), else bytes.
pub fn format_size(bytes: u64) -> String {
    for (unit, size) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if bytes >= size && bytes % size == 0 {
            return format!("{} {unit}", bytes / size);
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    #[test_case("4096" => Ok(4096); "plain bytes")]
    #[test_case("0" => Ok(0); "zero parses, callers refuse it")]
    #[test_case("100B" => Ok(100); "bytes unit")]
    #[test_case("64MiB" => Ok(64 << 20); "mebibytes")]
    #[test_case("64 MiB" => Ok(64 << 20); "space before the unit")]
    #[test_case(" 1GiB " => Ok(1 << 30); "surrounding space")]
    #[test_case("512K" => Ok(512 << 10); "bare k is binary")]
    #[test_case("1m" => Ok(1 << 20); "lower-case m is binary")]
    #[test_case("10MB" => Ok(10_000_000); "megabytes are decimal")]
    #[test_case("3kB" => Ok(3000); "kilobytes are decimal")]
    #[test_case("2TiB" => Ok(2 << 40); "tebibytes")]
    fn parses(text: &str) -> Result<u64, String> {
        parse_size(text)
    }

    #[test_case(""; "empty")]
    #[test_case("MiB"; "no number")]
    #[test_case("-1"; "negative")]
    #[test_case("1.5MiB"; "fractions")]
    #[test_case("12 parsecs"; "unknown unit")]
    #[test_case("99999999999999999999"; "overflowing digits")]
    #[test_case("20000000TiB"; "overflowing product")]
    fn refuses(text: &str) {
        let err = parse_size(text).unwrap_err();
        assert!(err.contains(&format!("\"{text}\"")), "{err}");
    }

    #[test_case(64 << 20 => "64 MiB"; "whole mebibytes")]
    #[test_case(1536 => "1536 bytes"; "not a whole unit")]
    #[test_case(0 => "0 bytes"; "zero")]
    fn formats(bytes: u64) -> String {
        format_size(bytes)
    }
}
