//! `klartext quickstart`: the main job end to end on the embedded default, from nothing.

use crate::cli::DataAdd;
use crate::project::Project;
use anyhow::{Context, Result};
use klartext_data::generate::{generate, GenerateParams, EXAMPLE_USECASE};
use std::path::Path;

pub fn run(dir: &Path, rows: usize, seed: u64) -> Result<()> {
    let p = if dir.join(crate::project::CONFIG_FILE).exists() {
        println!("Using the existing project in {}", dir.display());
        Project::find(Some(dir))?
    } else {
        let p = Project::init(dir)?;
        println!(
            "1. Created project `{}` in {}",
            p.config.project.name,
            dir.display()
        );
        p
    };
    let uc_path = p.usecase_dir().join("churn.toml");
    if !uc_path.exists() {
        std::fs::write(&uc_path, EXAMPLE_USECASE)
            .with_context(|| format!("cannot write {}", uc_path.display()))?;
    }
    println!("2. Use case `churn` is defined in {}", uc_path.display());

    let data_dir = p.root.join("data");
    std::fs::create_dir_all(&data_dir)?;
    let file = data_dir.join("churn.csv");
    let g = generate(&GenerateParams {
        rows,
        seed,
        pii: true,
        ..GenerateParams::default()
    });
    super::data::write_frame(&file, &g.frame, &g.schema)?;
    println!(
        "3. Generated {} customers with known churn probabilities in {} (seed {seed})",
        g.frame.n_rows,
        file.display()
    );
    println!("4. Registering the data (e-mail and phone are pseudonymised before storage):\n");
    let add = DataAdd {
        file,
        usecase: "churn".into(),
        pseudonymise: Vec::new(),
        pseudonymise_pii: true,
        delimiter: None,
        no_header: false,
        json: false,
    };
    let id = super::data::add(&p, &add)?;

    println!("\n5. Training: cross-validating a logistic baseline and gradient-boosted trees, then judging the choice on held-out rows:\n");
    let version = super::train::run(&p, "churn", Some(&id), seed, false)?;
    let store = p.open_store()?;
    let model = klartext_store::Store::model(&store, "churn", &version)?
        .context("the model just trained is registered")?;
    let card_path = p.root.join(format!("model-card-churn-{version}.md"));
    std::fs::write(&card_path, &model.card)
        .with_context(|| format!("cannot write {}", card_path.display()))?;
    println!(
        "6. The model card is in {}; its summary:\n",
        card_path.display()
    );
    for line in model.card.lines().skip(2).take(3).filter(|l| !l.is_empty()) {
        println!("   {line}");
    }
    let shown = dir.display();
    println!("\nNext steps:");
    println!("  klartext --project {shown} data show {id}");
    println!("  klartext --project {shown} models list churn");
    println!("  klartext --project {shown} card churn@{version}");
    println!("  klartext --project {shown} audit verify");
    Ok(())
}
