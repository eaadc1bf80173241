//! What a cluster does with its store: outages (toxics on every member's proxy to it, and the
//! store told when the first starts and the last ends) and the load of the measured window.

use super::{Cluster, STORE_NAME};
use crate::harness::error::HarnessError;
use crate::harness::network::ToxiproxyServer;
use crate::toxiproxy::ToxicAttributes;

impl Cluster {
    /// Starts (`down`) or ends a store outage: nothing a member sends reaches the store meanwhile
    /// (a `timeout` toxic that never closes), so its requests hang until its client gives them
    /// up, as in the simulator; answers already on their way still arrive. The built-in proxy
    /// holds what it stops and delivers it when the toxic goes (the simulator loses it, and
    /// Shopify's toxiproxy drops it, which on a member's long-lived etcd-election connection
    /// breaks the framing: the store then closes the connection and the member reconnects).
    /// The store hears when the first outage starts (before the toxics go on) and when
    /// the last ends (after they are off), as the simulator's store does: the etcd-like store
    /// stops expiring leases meanwhile (`lessor.Demote`) and extends them after (`Promote`).
    pub async fn store_outage(
        &self,
        net: &ToxiproxyServer,
        toxic: &str,
        down: bool,
    ) -> Result<(), HarnessError> {
        let mut outages = self.outages.lock().await;
        let was_down = !outages.is_empty();
        match down {
            true => outages.insert(toxic.to_string()),
            false => outages.remove(toxic),
        };
        let is_down = !outages.is_empty();
        if down && !was_down {
            self.store_available(false).await;
        }
        for name in self.node_names() {
            match down {
                true => {
                    self.add_link_toxic(
                        net,
                        &name,
                        STORE_NAME,
                        toxic,
                        ToxicAttributes::Timeout { timeout: 0 },
                    )
                    .await?
                }
                false => {
                    self.remove_link_toxic(net, &name, STORE_NAME, toxic)
                        .await?
                }
            }
        }
        if was_down && !is_down {
            self.store_available(true).await;
        }
        Ok(())
    }

    async fn store_available(&self, available: bool) {
        if let Some(s) = self.store.lock().await.as_mut() {
            s.set_available(available).await;
        }
    }

    /// The measured window starts: the store (if any) counts its load from now on.
    pub async fn store_measure(&self) {
        if let Some(s) = self.store.lock().await.as_mut() {
            s.measure().await;
        }
    }

    /// Asks the store (if any) to report its load since [`Cluster::store_measure`].
    pub async fn store_report(&self) -> bool {
        match self.store.lock().await.as_mut() {
            Some(s) => {
                s.report().await;
                true
            }
            None => false,
        }
    }

    /// Members of the store (etcd members; 1 for the built-in store; `None` without a store).
    pub async fn store_member_count(&self) -> Option<usize> {
        self.store
            .lock()
            .await
            .as_ref()
            .map(|s| s.upstreams().len())
    }

    /// SIGKILL etcd member `j` of the store (nothing for other stores).
    pub async fn store_member_crash(&self, j: usize) {
        if let Some(c) = self
            .store
            .lock()
            .await
            .as_ref()
            .and_then(|s| s.etcd_cluster())
        {
            c.crash(j).await;
        }
    }

    /// Restarts etcd member `j` from its data dir.
    pub async fn store_member_restart(&self, j: usize) -> Result<(), HarnessError> {
        match self
            .store
            .lock()
            .await
            .as_ref()
            .and_then(|s| s.etcd_cluster())
        {
            Some(c) => c.restart(j).map_err(|e| HarnessError::Etcd(Box::new(e))),
            None => Ok(()),
        }
    }

    /// SIGSTOP etcd member `j`; whether this call stopped it.
    pub async fn store_member_pause(&self, j: usize) -> bool {
        match self
            .store
            .lock()
            .await
            .as_ref()
            .and_then(|s| s.etcd_cluster())
        {
            Some(c) => c.pause(j),
            None => false,
        }
    }

    /// SIGCONT etcd member `j`.
    pub async fn store_member_resume(&self, j: usize) {
        if let Some(c) = self
            .store
            .lock()
            .await
            .as_ref()
            .and_then(|s| s.etcd_cluster())
        {
            c.resume(j);
        }
    }
}
