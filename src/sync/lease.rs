//! Per-instance leases: at most one process syncs a connector instance at a time, whether the
//! other is the daemon, an `okno sync` by hand or an overlapping cron job.
//!
//! A run claims the instance's `sync_lease` row, renews it every third of its time to live while
//! it works, and deletes it when done. A holder that died leaves a row that expires; on the same
//! host a dead holder is recognised at once by its process id, so a restart after a crash or a
//! `kill -9` does not wait for the expiry.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::store::{Fence, Store, StoreError};

/// How long a lease lasts without renewal.
/// The default lease lifetime (`[store] lease_ttl_secs`); each store carries its own.
pub const LEASE_TTL: Duration = Duration::from_secs(60);

/// Another holder has the instance.
#[derive(Debug, Clone)]
pub struct Busy {
    pub holder: String,
    pub until: DateTime<Utc>,
}

/// A held lease. Its token is cancelled if the lease is lost, which stops the run between pages.
pub struct LeaseGuard {
    store: Store,
    source: String,
    holder: String,
    epoch: i64,
    token: CancellationToken,
    heartbeat: JoinHandle<()>,
}

impl LeaseGuard {
    /// Cancelled on shutdown or when the lease is lost.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// What the run's page commits carry to prove the lease is still theirs.
    pub fn fence(&self) -> Fence {
        Fence {
            source: self.source.clone(),
            holder: self.holder.clone(),
            epoch: self.epoch,
        }
    }

    /// Stops renewing and deletes the lease row.
    pub async fn release(self) {
        self.heartbeat.abort();
        if let Err(e) = self.store.release_lease(&self.source, &self.holder).await {
            tracing::warn!(instance = %self.source, error = %e, "could not release the lease; it expires by itself");
        }
    }
}

/// Claims `source` for this process, or says who holds it.
pub async fn acquire(
    store: &Store,
    source: &str,
    shutdown: &CancellationToken,
) -> Result<Result<LeaseGuard, Busy>, StoreError> {
    let holder = new_holder();
    let ttl = store.lease_ttl();
    let mut claim = store.claim_lease(source, &holder, None, ttl).await?;
    if let Err((current, _)) = &claim {
        if holder_is_dead(current) {
            tracing::info!(instance = source, previous = %current, "taking over the lease of a process that is gone");
            claim = store
                .claim_lease(source, &holder, Some(current), ttl)
                .await?;
        }
    }
    let epoch = match claim {
        Ok(epoch) => epoch,
        Err((holder, until)) => return Ok(Err(Busy { holder, until })),
    };
    let token = shutdown.child_token();
    let heartbeat = tokio::spawn(renew(
        store.clone(),
        source.to_string(),
        holder.clone(),
        token.clone(),
    ));
    Ok(Ok(LeaseGuard {
        store: store.clone(),
        source: source.to_string(),
        holder,
        epoch,
        token,
        heartbeat,
    }))
}

async fn renew(store: Store, source: String, holder: String, token: CancellationToken) {
    let mut last_renewed = tokio::time::Instant::now();
    loop {
        let ttl = store.lease_ttl();
        tokio::time::sleep(ttl / 3).await;
        match store.renew_lease(&source, &holder, ttl).await {
            Ok(true) => last_renewed = tokio::time::Instant::now(),
            Ok(false) => {
                tracing::error!(instance = %source, "lease lost to another process; stopping this run");
                token.cancel();
                return;
            }
            Err(e) => {
                tracing::warn!(instance = %source, error = %e, "could not renew the lease");
                // Stop before the lease can expire under us.
                if last_renewed.elapsed() > store.lease_ttl() * 2 / 3 {
                    tracing::error!(instance = %source, "lease about to expire; stopping this run");
                    token.cancel();
                    return;
                }
            }
        }
    }
}

/// `host:pid:nonce`: unique per claim, and enough to tell whether a local holder still lives.
pub(crate) fn new_holder() -> String {
    format!(
        "{}:{}:{:08x}",
        hostname(),
        std::process::id(),
        rand::random::<u32>()
    )
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// A holder on this host whose process no longer exists.
pub(crate) fn holder_is_dead(holder: &str) -> bool {
    let mut parts = holder.rsplitn(3, ':');
    let (Some(_nonce), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    if host != hostname() || !cfg!(target_os = "linux") {
        return false;
    }
    match pid.parse::<u32>() {
        Ok(pid) => {
            pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_holder_is_dead_when_its_process_is_gone() {
        let me = new_holder();
        assert!(!holder_is_dead(&me), "this process is alive");
        let gone = format!("{}:{}:0000", hostname(), u32::MAX - 1);
        assert!(holder_is_dead(&gone));
        let elsewhere = format!("other-host-{}:1:0000", hostname());
        assert!(
            !holder_is_dead(&elsewhere),
            "another host's processes are not ours to judge"
        );
    }
}
