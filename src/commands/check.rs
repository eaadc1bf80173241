//! `electune check PROFILE`: validate and print the resolved profile.

use std::path::Path;

use electune::sweep::plan::{plan, GridOverride};

use super::Failure;

pub fn run(path: &Path) -> Result<(), Failure> {
    let profile = electune::profile::load(path).map_err(Failure::bad_input)?;
    for w in profile.warnings() {
        eprintln!("warning: {}: {w}", path.display());
    }
    for w in grid_warnings(&profile) {
        eprintln!("warning: {}: {w}", path.display());
    }
    let yaml = serde_yaml::to_string(&profile).map_err(Failure::environment)?;
    println!("# {} is valid; resolved:", path.display());
    print!("{yaml}");
    println!("# members:");
    for (name, region) in profile.members() {
        println!("#   {name}  {region}");
    }
    Ok(())
}

/// What `electune sweep` of the profile's own grid would warn about (points skipped, repeated,
/// or run other than as written), per mechanism of a comparison. A grid the plan refuses is
/// left to `sweep` to explain.
fn grid_warnings(profile: &electune::profile::Profile) -> Vec<String> {
    if profile.sweep.is_none() {
        return Vec::new();
    }
    let all = profile.cluster.protocol.all();
    if !profile.cluster.protocol.is_comparison() {
        return plan(profile, &GridOverride::default())
            .map(|(_, w)| w)
            .unwrap_or_default();
    }
    all.iter()
        .flat_map(|&m| {
            plan(&profile.for_mechanism(m), &GridOverride::default())
                .map(|(_, w)| w)
                .unwrap_or_default()
                .into_iter()
                .map(move |w| format!("as {} sweeps it: {w}", m.name()))
        })
        .collect()
}
