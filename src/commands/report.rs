//! `electune report DIR` and `electune recommend DIR`: decide and write the report again from a
//! sweep's saved results, without re-running anything. The pipeline is the library's
//! [`electune::sweep::saved::report`], which `electune sweep` calls too.

use std::path::PathBuf;

use electune::report::ReportOptions;
use electune::sweep::saved::{self, SavedError};

use super::Failure;

impl From<SavedError> for Failure {
    fn from(e: SavedError) -> Self {
        if e.is_bad_input() {
            Failure::bad_input(e)
        } else {
            Failure::environment(e)
        }
    }
}

/// `electune report DIR`.
pub fn report(dir: PathBuf) -> Result<i32, Failure> {
    saved::report(&dir, &ReportOptions::default())?;
    println!("report: {}", dir.join("report.html").display());
    println!("        {}", dir.join("report.md").display());
    Ok(electune::exit::SUCCESS)
}

/// `electune recommend DIR`.
pub fn recommend_again(
    dir: PathBuf,
    max_fp_per_day: Option<f64>,
    max_flaps_per_hour: Option<f64>,
) -> Result<i32, Failure> {
    let options = ReportOptions {
        max_false_promotions_per_day: non_negative(
            max_fp_per_day,
            "--max-false-promotions-per-day",
        )?,
        max_flaps_per_hour: non_negative(max_flaps_per_hour, "--max-flaps-per-hour")?,
    };
    let built = saved::report(&dir, &options)?;
    println!("{}", built.recommendation.markdown());
    Ok(electune::exit::SUCCESS)
}

/// A budget given on the command line must be a number ≥ 0.
fn non_negative(v: Option<f64>, flag: &str) -> Result<Option<f64>, Failure> {
    match v {
        Some(x) if !(x >= 0.0 && x.is_finite()) => Err(Failure::bad_input(anyhow::anyhow!(
            "{flag} must be a number ≥ 0"
        ))),
        _ => Ok(v),
    }
}
