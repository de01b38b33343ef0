//! Loading a use-case file: the checks every kind shares (klartext-core), then its
//! kind's own (gates, `[<kind>]` table, data roles). A kind this build has no module
//! for loads with the common checks only; it is refused where it would be trained or
//! answered.

use crate::kind_of;
use klartext_core::{UseCase, UseCaseError};

/// Parse and check a use-case file. `file` names it in errors; `expected_id` is the id
/// its file name implies.
pub fn load(file: &str, text: &str, expected_id: Option<&str>) -> Result<UseCase, UseCaseError> {
    let uc = UseCase::parse(file, text, expected_id)?;
    if let Ok(kind) = kind_of(uc.kind) {
        kind.check(&uc, file, text)?;
    }
    Ok(uc)
}

#[cfg(test)]
mod tests {
    use super::load;

    /// The use-case file users' scripts write, as `docs/usecase.md` shows it (a core
    /// test keeps the page equal to the contract's example): it must always load.
    fn product_example() -> &'static str {
        let doc = include_str!("../../../docs/usecase.md");
        let start = doc.find("```toml\n").expect("the page has a TOML example") + 8;
        let end = start + doc[start..].find("```").expect("the example ends");
        &doc[start..end]
    }

    #[test]
    fn product_example_loads_with_its_kind_checks() {
        let uc = load("usecases/churn.toml", product_example(), Some("churn")).unwrap();
        assert_eq!(uc.gates.number("min_auc"), Some(0.75));
    }

    #[test]
    fn an_unknown_gate_names_itself_its_place_and_the_kind_s_gates() {
        let text = product_example().replace("min_auc = 0.75", "min_acu = 0.75");
        let err = load("u.toml", &text, None).unwrap_err();
        assert_eq!((err.line, err.column), (20, 1), "{err}");
        assert!(err.message.contains("unknown field `min_acu`"), "{err}");
        assert!(err.message.contains("min_auc"), "{err}");
    }

    #[test]
    fn a_gate_of_another_kind_is_refused() {
        let text = product_example().replace("min_auc = 0.75", "max_rmse = 3");
        let err = load("u.toml", &text, None).unwrap_err();
        assert_eq!(err.line, 20, "{err}");
        assert!(
            err.message
                .contains("a classification use case's gates are"),
            "{err}"
        );
        let regression = "id = \"v\"\ntitle = \"t\"\ngoal = \"g\"\nkind = \"regression\"\nowner = \"o\"\nrisk = \"minimal\"\n[data]\ntarget = \"x\"\n[gates]\nmin_auc = 0.7\n";
        let err = load("v.toml", regression, None).unwrap_err();
        assert_eq!(err.line, 10, "{err}");
    }

    #[test]
    fn gate_values_are_checked_where_they_are_written() {
        let text = product_example().replace("min_auc = 0.75", "min_auc = 1.75");
        let err = load("u.toml", &text, None).unwrap_err();
        assert_eq!((err.line, err.column), (20, 1), "{err}");
        assert!(err.message.contains("between 0 and 1"), "{err}");
        let text = product_example().replace("min_auc = 0.75", "min_auc = true");
        let err = load("u.toml", &text, None).unwrap_err();
        assert!(err.message.contains("must be a number"), "{err}");
        let text = product_example().replace("min_auc = 0.75", "no_leakage = 1");
        let err = load("u.toml", &text, None).unwrap_err();
        assert!(err.message.contains("true or false"), "{err}");
    }

    #[test]
    fn the_target_is_required_and_placed() {
        let text = product_example().replace("target = \"churn\"", "target = \"\"");
        let err = load("u.toml", &text, None).unwrap_err();
        assert_eq!(err.line, 12, "{err}");
        assert!(err.message.contains("needs `data.target`"), "{err}");
    }

    #[test]
    fn the_kind_table_takes_no_unknown_key() {
        let text = format!(
            "{}\n[classification]\nthreshold_policy = \"top\"\n",
            product_example()
        );
        let err = load("u.toml", &text, None).unwrap_err();
        assert_eq!((err.line, err.column), (31, 1), "{err}");
        assert!(
            err.message.contains("unknown field `threshold_policy`"),
            "{err}"
        );
        let text = format!("{}\n[classification]\n", product_example());
        assert!(load("u.toml", &text, None).is_ok());
    }

    #[test]
    fn a_kind_without_a_module_loads_with_the_common_checks() {
        let text = "id = \"seg\"\ntitle = \"t\"\ngoal = \"g\"\nkind = \"segmentation\"\nowner = \"o\"\nrisk = \"minimal\"\n\n[segmentation]\nk = 4\n";
        let uc = load("seg.toml", text, Some("seg")).unwrap();
        assert_eq!(uc.settings.get("k").and_then(|v| v.as_integer()), Some(4));
    }
}
