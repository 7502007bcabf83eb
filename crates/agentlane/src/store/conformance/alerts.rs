//! Conformance case for alerts' outcomes: `alert_delivered` / `alert_failed`
//! are events of no dispatch, stored through `DispatchLog::append_event`,
//! read back by kind, and shown with their job when they name one.

use super::*;
use crate::events::Event;
use crate::model::{AlertDelivery, AlertKind};

fn delivery(job_id: Option<String>, status: Option<u16>) -> AlertDelivery {
    AlertDelivery {
        alert: AlertKind::IncidentOpened,
        webhook: "ops".into(),
        key: "incident:fp1".into(),
        class: Some("auth_unavailable".into()),
        job_id,
        attempts: 2,
        status,
        error: status.is_none().then(|| "no answer within 10s".into()),
        suppressed: 3,
    }
}

/// Both outcomes round-trip; one naming a job is among the job's events,
/// one naming none is not.
pub(crate) async fn case_alert_outcomes_are_events(store: &dyn Store) {
    let ids = store
        .enqueue(&[new_job("main", "r", 0)])
        .await
        .expect("enqueue");
    let job = &ids[0];
    let delivered = delivery(Some(job.clone()), Some(200));
    let failed = delivery(None, None);
    store
        .append_event(&Event::AlertDelivered(delivered.clone()))
        .await
        .expect("append");
    store
        .append_event(&Event::AlertFailed(failed.clone()))
        .await
        .expect("append");
    let read = |kind: &'static str| async move {
        store
            .recent_events(kind, 10)
            .await
            .expect("events")
            .into_iter()
            .map(|e| serde_json::from_value::<Event>(e.body).expect("an event"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        read("alert_delivered").await,
        vec![Event::AlertDelivered(delivered)]
    );
    assert_eq!(read("alert_failed").await, vec![Event::AlertFailed(failed)]);
    let of_job: Vec<String> = store
        .job_events(job)
        .await
        .expect("job events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(of_job, vec!["alert_delivered".to_string()]);
}
