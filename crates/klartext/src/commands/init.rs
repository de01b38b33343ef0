//! `klartext init`: a new project folder.

use crate::project::Project;
use anyhow::Result;
use std::path::Path;

pub fn run(dir: Option<&Path>) -> Result<()> {
    let dir = dir.unwrap_or(Path::new("."));
    let p = Project::init(dir)?;
    println!(
        "Created klartext project `{}` in {}",
        p.config.project.name,
        dir.display()
    );
    println!("  use cases: {}", p.usecase_dir().display());
    println!("  store:     {} (SQLite)", p.store_dir().display());
    println!("Next: write usecases/<id>.toml, then `klartext data add FILE --usecase <id>`.");
    Ok(())
}
