//! `electune sweep`: plan a grid of timing points, run trials at each, stream results to disk.

pub mod model;

pub use model::{PointResult, SweepResults};
