//! A lease owner's id: which worker holds a job, and on which host it runs.
//!
//! `KIND@HOST:PID:NONCE` — the worker's kind, the host it runs on, its
//! process id and a random suffix, so two workers never share an id even
//! when a pid is reused. The host part is how the store scopes a host-local
//! block (a missing CLI, a bad credential on one machine) to that host.

/// The lease-owner id of a worker.
pub fn lease_owner(kind: &str, host: &str, pid: u32, nonce: &str) -> String {
    format!("{kind}@{host}:{pid}:{nonce}")
}

/// The host of a lease-owner id, when it has the `KIND@HOST:…` shape; an id
/// of another shape (a test's `w1`) is its own host, which no incident names.
pub fn host_of(owner: &str) -> &str {
    let after_kind = owner.split_once('@').map_or(owner, |(_, rest)| rest);
    after_kind.split(':').next().unwrap_or(after_kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    #[test_case("local@build-01:4242:9f3a" => "build-01"; "a worker's id")]
    #[test_case("gpu@gpu.example.com:1:x" => "gpu.example.com"; "a dotted host")]
    #[test_case("w1" => "w1"; "another shape is its own host")]
    #[test_case("" => ""; "empty")]
    fn the_host_of_an_owner(owner: &str) -> &str {
        host_of(owner)
    }

    #[test]
    fn an_owner_round_trips_its_host() {
        let owner = lease_owner("ci", "runner-7", 99, "abc");
        assert_eq!(owner, "ci@runner-7:99:abc");
        assert_eq!(host_of(&owner), "runner-7");
    }
}
