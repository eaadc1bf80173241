//! Which backend runs trials. Both return the same [`crate::analysis::Timeline`]; everything
//! downstream is shared. `process` runs real node processes through toxiproxy (`crate::harness`);
//! `sim` runs the same drivers in virtual time (`crate::sim`).

use serde::{Deserialize, Serialize};

/// Which backend ran (or runs) a sweep's trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// One OS process per member, every byte through toxiproxy, real time.
    #[default]
    Process,
    /// The same members in virtual time on one thread, with costs measured on this machine.
    Sim,
}

impl BackendKind {
    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Process => "process",
            BackendKind::Sim => "sim",
        }
    }

    /// What the report says the numbers rest on.
    pub fn describe(self) -> &'static str {
        match self {
            BackendKind::Process => {
                "real node processes, every message through toxiproxy, in real time"
            }
            BackendKind::Sim => {
                "the simulator: the same election code in virtual time, with fsync, timer and proxy costs measured on this machine (`electune calibrate`); confirm the chosen point on real processes"
            }
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
