//! Facts about the host this process runs on. Kept apart so the dispatcher
//! (which stamps the host on every prepare event) needs neither preflight
//! nor anything above it.

/// The host name, for per-host results: `AGENTLANE_HOST` when set (a stable
/// name for containers whose hostname is random), else the kernel's.
pub fn host_name() -> String {
    if let Some(name) = std::env::var("AGENTLANE_HOST")
        .ok()
        .filter(|h| !h.trim().is_empty())
    {
        return name.trim().to_string();
    }
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}
