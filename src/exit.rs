//! Exit codes (docs/design.md, "Output layout and exit codes"): the binary maps errors to these.

/// Success.
pub const SUCCESS: i32 = 0;
/// An invariant was violated; the evidence is in the output directory.
pub const INVARIANT_VIOLATED: i32 = 1;
/// Bad input or usage.
pub const BAD_INPUT: i32 = 2;
/// The environment failed: proxy unreachable, a port in use, a process could not start.
pub const ENVIRONMENT: i32 = 3;
/// Interrupted by Ctrl-C.
pub const INTERRUPTED: i32 = 130;
