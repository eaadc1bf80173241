//! An etcd-election point (etcd's `concurrency` election recipe, measured by the etcd-election
//! mechanism) in the one knob it has: `concurrency.NewSession(cli, concurrency.WithTTL(n))`.
//! Sources: etcd `client/v3/concurrency/session.go` (`WithTTL` takes whole seconds; a TTL ≤ 0
//! keeps the 60 s default), `client/v3/lease.go` (keep-alive due TTL/3 after each response, sent
//! by a loop that runs every 500 ms; `deadlineLoop` closes the channel a second at most after
//! the deadline), `server/lease/lessor.go` (`minLeaseTTL`, expiry checked every 500 ms) and
//! `server/etcdserver/server.go` (`minTTL` = ⌈1.5 × election timeout⌉).

use std::time::Duration;

use super::knobs::{KnobSnippet, NotTranslated, Translation, SYSTEMS};
use crate::duration::format_duration;
use crate::election::raft::Flavor;

/// The system name etcd-election knobs are given under.
pub const ETCD_ELECTION: &str = "etcd election (clientv3 concurrency)";

/// A session TTL in the knob that sets it, with its caveats; every Raft and lease system is
/// left out (they measure something else).
pub fn translate_session(ttl: Duration, flavor: Flavor) -> Translation {
    let not_translated = SYSTEMS
        .iter()
        .map(|&(system, _)| NotTranslated {
            system: system.to_string(),
            why: "measured with etcd's election recipe (a session lease kept alive by the client, \
                  lowest create revision leads), whose timing is neither a Raft election's nor a \
                  client-go lease's; sweep a profile of that mechanism to translate into it"
                .to_string(),
        })
        .collect();
    Translation {
        flavor,
        snippets: vec![session_snippet(ttl)],
        not_translated,
    }
}

fn session_snippet(ttl: Duration) -> KnobSnippet {
    let secs = ttl.as_secs().max(1);
    let mut caveats = Vec::new();
    if ttl.subsec_nanos() != 0 || ttl < Duration::from_secs(1) {
        caveats.push(format!(
            "WithTTL takes whole seconds: {} written as {secs}",
            format_duration(ttl)
        ));
    }
    caveats.push(if secs < 2 {
        format!(
            "the server grants at least ⌈1.5 × --election-timeout⌉ seconds (lessor minLeaseTTL): \
             with etcd's default 1000 ms a {secs} s session silently gets 2 s; run etcd with \
             --election-timeout of at most 666 ms for it"
        )
    } else {
        "the server grants at least ⌈1.5 × --election-timeout⌉ seconds (lessor minLeaseTTL: 2 s \
         with etcd's default 1000 ms); a shorter TTL silently becomes that"
            .to_string()
    });
    caveats.push(
        "fencing only if the protected resource checks the token: pass election.Rev() (the \
         leader key's create revision) and have the resource refuse lower ones, or guard writes \
         with a txn If(CreateRevision(election.Key()) == election.Rev()); the recipe itself \
         fences nothing"
            .to_string(),
    );
    caveats.push(format!(
        "the leader learns that its lease is gone only on its own clock: session.Done() closes \
         when the last keep-alive response is {secs} s old, seen by the client's deadline check \
         (every second), or on a keep-alive answered with TTL 0 — while the server deletes the \
         key on its clock; a leader cut from etcd, paused, or with a slow clock can keep acting \
         after another member leads (the dual-leadership time measured here)"
    ));
    caveats.push(format!(
        "a dead leader is replaced about {secs} s after its last keep-alive reached etcd, plus up \
         to 500 ms (the server's expiry check); each member sends a keep-alive every TTL/3 \
         rounded up to the client's 500 ms pass"
    ));
    KnobSnippet {
        system: ETCD_ELECTION.to_string(),
        snippet: format!(
            "session, err := concurrency.NewSession(cli, concurrency.WithTTL({secs}))\n\
             election := concurrency.NewElection(session, \"/my-service/leader\")\n\
             err = election.Campaign(ctx, myID) // leads from here until <-session.Done()\n\
             token := election.Rev()            // fencing token for the protected resource"
        ),
        caveats,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ttl_is_given_in_with_ttl_seconds_with_the_fencing_and_clock_caveats() {
        let t = translate_session(Duration::from_secs(5), Flavor::Etcd);
        assert_eq!(t.snippets.len(), 1);
        let s = &t.snippets[0];
        assert!(
            s.snippet.contains("concurrency.WithTTL(5)"),
            "{}",
            s.snippet
        );
        let caveats = s.caveats.join("\n");
        for needle in ["minLeaseTTL", "election.Rev()", "own clock", "TTL 0"] {
            assert!(caveats.contains(needle), "{needle}: {caveats}");
        }
        assert!(!caveats.contains("whole seconds:"));
        // every Raft and lease system is left out with the reason
        assert_eq!(t.not_translated.len(), SYSTEMS.len());
        let odd = translate_session(Duration::from_millis(2500), Flavor::Etcd);
        assert!(odd.snippets[0].snippet.contains("WithTTL(2)"));
        assert!(odd.snippets[0].caveats[0].contains("2.5s written as 2"));
        let one = translate_session(Duration::from_secs(1), Flavor::Etcd);
        assert!(one.snippets[0].caveats[0].contains("silently gets 2 s"));
    }
}
