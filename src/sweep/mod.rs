//! `electune sweep`: plan a grid of timing points, run trials at each, stream results to disk.

pub mod compare;
pub mod evidence;
pub mod load;
pub mod load_probe;
pub mod plan;
pub mod probe;
pub mod runner;
pub mod saved;
pub mod scale;
pub mod store;

pub use crate::results::{PointResult, SweepResults};
