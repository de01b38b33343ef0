//! `klartext quickstart`: the main job end to end on the embedded default, from nothing.

use crate::cli::DataAdd;
use crate::project::Project;
use anyhow::{Context, Result};
use klartext_data::generate::{generate, GenerateParams, EXAMPLE_USECASE};
use std::path::Path;

/// `serve`: the address to serve on at the end; `None` (`--no-serve`) stops after training.
pub fn run(dir: &Path, rows: usize, seed: u64, serve: Option<&str>) -> Result<()> {
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
    let Some(addr) = serve else {
        println!("  klartext --project {shown} serve");
        return Ok(());
    };

    // 7. Serve it, with a fresh scorer key and a real customer in a ready-to-paste call.
    let (key, secret) =
        klartext_govern::keys::new_key(klartext_store::KeyRole::Scorer, &crate::project::actor())?;
    klartext_store::Store::create_key(&store, &key)?;
    let artifact = klartext_kinds::supervised::payload::Supervised::from_bytes(
        &klartext_store::Store::model_bytes(&store, &model)?,
    )
    .context("the model just trained loads")?;
    let id_column = p.usecase("churn").map(|u| u.data.id).unwrap_or_default();
    let body = example_request(&g.frame, &artifact, &id_column);
    drop(store);
    println!(
        "\n7. Serving the model over HTTP with a new scorer key ({}); this is `klartext serve`:\n",
        key.id
    );
    super::serve::run(
        Some(&p.root),
        addr,
        klartext_server::ServerConfig::default(),
        Some(super::serve::Example {
            usecase: "churn".into(),
            key: secret,
            body,
        }),
    )
}

/// A request for the first generated customer: its features as the model reads them.
fn example_request(
    frame: &klartext_core::Frame,
    artifact: &klartext_kinds::supervised::payload::Supervised,
    id_column: &str,
) -> serde_json::Value {
    use klartext_core::frame::ColumnData;
    use klartext_core::ColumnKind;
    let mut features = serde_json::Map::new();
    for f in &artifact.header.encoder.features {
        let Some(col) = frame.column(&f.name) else {
            continue;
        };
        let v = match &col.data {
            ColumnData::Num(x) if x[0].is_nan() => continue,
            ColumnData::Num(x) if f.kind == ColumnKind::Boolean => (x[0] != 0.0).into(),
            // Dates and whole numbers as a CRM would send them.
            ColumnData::Num(x) if f.kind == ColumnKind::Datetime => {
                klartext_data::datetime::format_datetime(
                    x[0],
                    klartext_data::datetime::is_midnight(x[0]),
                )
                .into()
            }
            ColumnData::Num(x) if x[0].fract() == 0.0 && x[0].abs() < 1e15 => (x[0] as i64).into(),
            ColumnData::Num(x) => {
                serde_json::Number::from_f64(x[0]).map_or(serde_json::Value::Null, Into::into)
            }
            ColumnData::Str(s) => match s.get(0) {
                Some(v) => v.into(),
                None => continue,
            },
        };
        features.insert(f.name.clone(), v);
    }
    let subject = frame
        .column(id_column)
        .and_then(|c| c.data.display(0))
        .unwrap_or_else(|| "customer-1".into());
    serde_json::json!({ "subject_id": subject, "features": features })
}
