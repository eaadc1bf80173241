//! `electune check PROFILE`: validate and print the resolved profile.

use std::path::Path;

use super::Failure;

pub fn run(path: &Path) -> Result<(), Failure> {
    let profile = electune::profile::load(path).map_err(Failure::bad_input)?;
    for w in profile.warnings() {
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
