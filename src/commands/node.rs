//! `electune node --config FILE` (internal): one cluster member.

use std::path::Path;

use anyhow::Context;

use super::Failure;

pub fn run(config: &Path) -> Result<(), Failure> {
    let text = std::fs::read(config)
        .with_context(|| format!("reading node config {}", config.display()))
        .map_err(Failure::bad_input)?;
    let cfg: electune::node::NodeConfig = serde_json::from_slice(&text)
        .with_context(|| format!("parsing node config {}", config.display()))
        .map_err(Failure::bad_input)?;
    electune::node::run(cfg).map_err(Failure::environment)
}
