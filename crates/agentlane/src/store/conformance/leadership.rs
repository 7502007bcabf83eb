//! Conformance case for leadership: one leader at a time, taken over on expiry.

use super::*;

/// One leader at a time; the leader renews; another takes over once its lease expires.
pub(crate) async fn case_leadership(store: &dyn Store) {
    use std::time::Duration;
    let lease = Duration::from_millis(800);
    assert!(
        store
            .try_lead("maintenance", "A", lease)
            .await
            .expect("lead"),
        "the first asks, the first leads"
    );
    assert!(
        !store
            .try_lead("maintenance", "B", lease)
            .await
            .expect("lead"),
        "B may not lead while A's lease holds"
    );
    assert!(
        store
            .try_lead("maintenance", "A", lease)
            .await
            .expect("lead"),
        "A renews"
    );
    assert!(
        store.try_lead("other", "B", lease).await.expect("lead"),
        "leaderships are per name"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        store
            .try_lead("maintenance", "B", lease)
            .await
            .expect("lead"),
        "B takes over an expired lease"
    );
    assert!(
        !store
            .try_lead("maintenance", "A", lease)
            .await
            .expect("lead"),
        "A has lost it"
    );
}
