//! A signal agentlane received while dispatching, forwarded to the agent.

use tokio::sync::watch;

/// A signal agentlane received while dispatching, to forward to the agent.
#[derive(Debug, Clone)]
pub struct Interrupt(watch::Receiver<Option<i32>>);

impl Interrupt {
    /// An interrupt that never fires, and its trigger.
    pub fn channel() -> (watch::Sender<Option<i32>>, Interrupt) {
        let (tx, rx) = watch::channel(None);
        (tx, Interrupt(rx))
    }

    /// An interrupt that never fires.
    pub fn never() -> Interrupt {
        Interrupt::channel().1
    }

    /// Waits until a signal number is sent.
    pub async fn fired(&mut self) -> i32 {
        loop {
            if let Some(sig) = *self.0.borrow_and_update() {
                return sig;
            }
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
