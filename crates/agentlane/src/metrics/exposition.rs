//! One scrape's text: the store's gauges and, in a process that hosts
//! workers, their counters — in the OpenMetrics text format that
//! `prometheus-client` writes and Prometheus reads natively.

use prometheus_client::encoding::text::{encode_eof, encode_registry};

use super::{store_gauges, WorkerMetrics};
use crate::model::MetricsSnapshot;

/// The content type of [`render`]'s text (OpenMetrics 1.0).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The exposition: the store's gauges (`None`: the store did not answer,
/// shown as `agentlane_store_up 0`) and the process's metrics, when it has
/// any, ended by `# EOF`.
pub fn render(
    snapshot: Option<&MetricsSnapshot>,
    process: Option<&WorkerMetrics>,
) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    encode_registry(&mut out, &store_gauges(snapshot))?;
    if let Some(p) = process {
        encode_registry(&mut out, p.registry())?;
    }
    encode_eof(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::class::Class;
    use crate::model::{LaneStateCount, PreflightLatest, Step, WorkerSeen};

    fn snapshot() -> MetricsSnapshot {
        MetricsSnapshot {
            jobs: vec![LaneStateCount {
                lane: "default".into(),
                state: "queued".into(),
                count: 3,
            }],
            preflight: vec![PreflightLatest {
                route: "claude".into(),
                cli_resolves: false,
                cli_ready: true,
                route_allowed: true,
            }],
            workers: vec![WorkerSeen {
                host: "build-01".into(),
                kind: "local".into(),
                lane: "default".into(),
                last_seen: 1_765_000_000.5,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn every_state_of_a_lane_is_shown_with_zeros() {
        let text = render(Some(&snapshot()), None).unwrap();
        assert!(
            text.contains("agentlane_jobs{lane=\"default\",state=\"queued\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("agentlane_jobs{lane=\"default\",state=\"parked\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("agentlane_store_up 1\n"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn preflight_checks_are_zero_or_one_and_heartbeats_are_unix_seconds() {
        let text = render(Some(&snapshot()), None).unwrap();
        assert!(text
            .contains("agentlane_preflight_passed{route=\"claude\",check=\"cli_resolves\"} 0\n"));
        assert!(
            text.contains("agentlane_preflight_passed{route=\"claude\",check=\"cli_ready\"} 1\n")
        );
        assert!(text.contains("# TYPE agentlane_worker_last_seen_timestamp_seconds gauge\n"));
        assert!(text.contains("# UNIT agentlane_worker_last_seen_timestamp_seconds seconds\n"));
        assert!(text.contains(
            "agentlane_worker_last_seen_timestamp_seconds{host=\"build-01\",kind=\"local\",lane=\"default\"} 1765000000.5\n"
        ), "{text}");
    }

    #[test]
    fn a_store_that_did_not_answer_shows_down_and_the_process_counters_still() {
        let m = WorkerMetrics::new();
        m.dispatched("claude", Class::Ok, Duration::from_millis(1500));
        m.decided(Class::Timeout, Step::Park);
        let text = render(None, Some(&m)).unwrap();
        assert!(text.contains("agentlane_store_up 0\n"));
        assert!(!text.contains("agentlane_jobs"));
        assert!(
            text.contains("agentlane_dispatches_total{route=\"claude\",class=\"ok\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("agentlane_dispatch_duration_seconds_count{route=\"claude\"} 1\n"));
        assert!(text.contains("agentlane_retries_total{class=\"timeout\",action=\"park\"} 1\n"));
        // A family with no sample yet is left out (nothing was claimed).
        assert!(!text.contains("agentlane_claim_latency"), "{text}");
    }
}
