//! The validated configuration of a lease elector: client-go's `LeaderElectionConfig` timing,
//! checked as `NewLeaderElector` checks it.

use std::time::Duration;

use crate::duration::format_duration;
use crate::election::NodeId;

/// client-go's `JitterFactor`: a candidate waits `RetryPeriod × (1 + 1.2 × U[0, 1))` between
/// attempts (`wait.Jitter`), and a RenewDeadline must leave room for one such wait.
pub const JITTER_FACTOR: f64 = 1.2;

/// The rule every error names, as client-go's `NewLeaderElector` enforces it.
const RULE: &str = "LeaseDuration > RenewDeadline > 1.2 × RetryPeriod";

/// Everything a lease elector needs to know; build it with [`LeaseConfig::new`], then call
/// [`LeaseConfig::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseConfig {
    /// This member's id, its `holderIdentity` in the record. Must not be 0 (the store's address,
    /// and the empty identity in a record).
    pub id: NodeId,
    /// LeaseDuration: how long a candidate waits, on its own clock, after it last saw the record
    /// change before it may take the lease over. It is written into the record
    /// (`leaseDurationSeconds`), and candidates time the lease with the *holder's* value.
    /// Kubernetes components default to 15 s.
    pub lease_duration: Duration,
    /// RenewDeadline: how long the leader keeps retrying a renewal, counted from the start of
    /// each renewal round, before it gives up leading. Kubernetes components default to 10 s.
    pub renew_deadline: Duration,
    /// RetryPeriod: the wait between a leader's renewal rounds and between its retries within a
    /// round, and the base of a candidate's jittered wait between acquisition attempts
    /// (`RetryPeriod × (1 + 1.2 × U[0, 1))`). Kubernetes components default to 2 s.
    pub retry_period: Duration,
    /// How long one request to the store may take before the member gives up on it: the
    /// leader-election client's HTTP timeout. client-go's `resourcelock.NewFromKubeconfig` sets
    /// it to `max(1s, RenewDeadline / 2)` ([`LeaseConfig::kubeconfig_timeout`]);
    /// [`LeaseConfig::new`] uses `RenewDeadline / 2` without the floor, so that a profile scaled
    /// down in time keeps the proportions of its full-size original. A request blackholed by the
    /// network hangs this long, and a renewal round that meets two of them (a failed optimistic
    /// update, then its read) has used up its RenewDeadline.
    pub request_timeout: Duration,
    /// How long a member that gave up leading waits before it tries to acquire again. client-go's
    /// `Run` returns when leadership is lost and Kubernetes components then exit; electune treats
    /// that as a process restarted by its supervisor after this delay, with a fresh elector that
    /// remembers nothing it observed.
    pub rejoin_delay: Duration,
    /// Whether the member's `holderIdentity` survives a restart ([`LeaseIdentity`]).
    pub identity: LeaseIdentity,
}

/// How a lease member names itself in the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeaseIdentity {
    /// A new identity at every start of the process, as Kubernetes components take
    /// `hostname + "_" + uuid` (kube-controller-manager's `Run`, kube-scheduler's
    /// `makeLeaderElectionConfig`, controller-runtime's `NewResourceLock`): a restarted leader
    /// does not recognise the record of its previous run (client-go's `IsLeader` compares
    /// `HolderIdentity` with its own) and waits the lease out like any other candidate.
    #[default]
    PerProcess,
    /// The same identity across restarts (e.g. a pod name): a restarted leader that finds its
    /// own record takes it back at once, keeping `leaseTransitions` (`tryAcquireOrRenew` copies
    /// them when `IsLeader`).
    Stable,
}

impl LeaseIdentity {
    /// The name profiles use.
    pub fn name(self) -> &'static str {
        match self {
            LeaseIdentity::PerProcess => "per-process",
            LeaseIdentity::Stable => "stable",
        }
    }
}

/// Why a configuration was refused, with what would be valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseConfigError {
    #[error("member id 0 is reserved for the store; number members from 1")]
    ZeroId,
    #[error("{0} must be above zero")]
    Zero(&'static str),
    #[error("LeaseDuration {lease} must be greater than RenewDeadline {renew} ({RULE}, as client-go's NewLeaderElector requires); try a LeaseDuration of {suggest}")]
    LeaseNotAboveRenewDeadline {
        lease: String,
        renew: String,
        suggest: String,
    },
    #[error("RenewDeadline {renew} must be greater than 1.2 × RetryPeriod {retry} = {jittered} ({RULE}, as client-go's NewLeaderElector requires); try a RetryPeriod of {suggest}")]
    RenewDeadlineNotAboveJitteredRetry {
        renew: String,
        retry: String,
        jittered: String,
        suggest: String,
    },
}

impl LeaseConfig {
    /// A configuration with client-go's timing triple, a request timeout of RenewDeadline / 2 and
    /// an immediate rejoin after giving up.
    pub fn new(
        id: NodeId,
        lease_duration: Duration,
        renew_deadline: Duration,
        retry_period: Duration,
    ) -> Self {
        Self {
            id,
            lease_duration,
            renew_deadline,
            retry_period,
            request_timeout: renew_deadline / 2,
            rejoin_delay: Duration::ZERO,
            identity: LeaseIdentity::default(),
        }
    }

    /// The timeout client-go's `resourcelock.NewFromKubeconfig` gives the leader-election client:
    /// `max(1s, renew_deadline / 2)`, "to keep a single hung request from forcing a leader loss".
    pub fn kubeconfig_timeout(renew_deadline: Duration) -> Duration {
        (renew_deadline / 2).max(Duration::from_secs(1))
    }

    /// `RetryPeriod × 1.2`, truncated to whole nanoseconds as Go's
    /// `time.Duration(JitterFactor * float64(RetryPeriod))` truncates it.
    pub fn jittered_retry(&self) -> Duration {
        Duration::from_nanos((JITTER_FACTOR * self.retry_period.as_nanos() as f64) as u64)
    }

    /// Checks the configuration as client-go's `NewLeaderElector` does; every error names the
    /// rule and suggests a value that satisfies it.
    pub fn validate(&self) -> Result<(), LeaseConfigError> {
        if self.id == 0 {
            return Err(LeaseConfigError::ZeroId);
        }
        for (name, d) in [
            ("LeaseDuration", self.lease_duration),
            ("RenewDeadline", self.renew_deadline),
            ("RetryPeriod", self.retry_period),
            ("the store request timeout", self.request_timeout),
        ] {
            if d.is_zero() {
                return Err(LeaseConfigError::Zero(name));
            }
        }
        if self.lease_duration <= self.renew_deadline {
            // client-go's defaults keep LeaseDuration at 1.5 × RenewDeadline (15 s / 10 s).
            let suggest =
                (self.renew_deadline * 3 / 2).max(self.renew_deadline + Duration::from_nanos(1));
            return Err(LeaseConfigError::LeaseNotAboveRenewDeadline {
                lease: format_duration(self.lease_duration),
                renew: format_duration(self.renew_deadline),
                suggest: format_duration(suggest),
            });
        }
        let jittered = self.jittered_retry();
        if self.renew_deadline <= jittered {
            // client-go's defaults keep RetryPeriod at RenewDeadline / 5 (2 s / 10 s).
            return Err(LeaseConfigError::RenewDeadlineNotAboveJitteredRetry {
                renew: format_duration(self.renew_deadline),
                retry: format_duration(self.retry_period),
                jittered: format_duration(jittered),
                suggest: format_duration(self.renew_deadline / 5),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn client_go_defaults_are_valid() {
        let c = LeaseConfig::new(1, ms(15_000), ms(10_000), ms(2_000));
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.request_timeout, ms(5_000));
        assert_eq!(LeaseConfig::kubeconfig_timeout(ms(667)), ms(1_000));
        assert_eq!(LeaseConfig::kubeconfig_timeout(ms(10_000)), ms(5_000));
    }

    #[test]
    fn validation_names_the_rule_and_a_fix() {
        let err = LeaseConfig::new(1, ms(10_000), ms(10_000), ms(2_000))
            .validate()
            .unwrap_err();
        assert!(matches!(
            err,
            LeaseConfigError::LeaseNotAboveRenewDeadline { .. }
        ));
        let text = err.to_string();
        assert!(
            text.contains("LeaseDuration > RenewDeadline > 1.2 × RetryPeriod"),
            "{text}"
        );
        assert!(text.contains("try a LeaseDuration of 15s"), "{text}");
        let fixed = LeaseConfig::new(1, ms(15_000), ms(10_000), ms(2_000));
        assert_eq!(fixed.validate(), Ok(()));

        // 1.2 × 500ms = 600ms is not below a 600ms RenewDeadline: client-go refuses equality too
        let err = LeaseConfig::new(1, ms(1_000), ms(600), ms(500))
            .validate()
            .unwrap_err();
        assert!(matches!(
            err,
            LeaseConfigError::RenewDeadlineNotAboveJitteredRetry { .. }
        ));
        let text = err.to_string();
        assert!(text.contains("= 600ms"), "{text}");
        assert!(text.contains("try a RetryPeriod of 120ms"), "{text}");
        assert!(
            text.contains("LeaseDuration > RenewDeadline > 1.2 × RetryPeriod"),
            "{text}"
        );
        assert_eq!(
            LeaseConfig::new(1, ms(1_000), ms(600), ms(120)).validate(),
            Ok(())
        );
        // just inside the rule
        assert_eq!(
            LeaseConfig::new(1, ms(1_000), ms(601), ms(500)).validate(),
            Ok(())
        );

        let mut zero = LeaseConfig::new(1, ms(1_000), ms(600), ms(0));
        assert_eq!(zero.validate(), Err(LeaseConfigError::Zero("RetryPeriod")));
        zero.retry_period = ms(100);
        zero.request_timeout = ms(0);
        assert!(zero.validate().unwrap_err().to_string().contains("timeout"));
        zero.id = 0;
        assert_eq!(zero.validate(), Err(LeaseConfigError::ZeroId));
    }
}
