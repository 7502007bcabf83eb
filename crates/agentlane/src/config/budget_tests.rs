//! `[budgets] per_job_usd` and a lane's `budget_usd_per_day` (issue 17):
//! read as dollars, and refused with file:line:column when they are not.

use std::path::Path;

use super::*;
use test_case::test_case;

fn parse_str(text: &str) -> Result<Config, ConfigError> {
    parse(Path::new("/etc/agentlane/agentlane.toml"), text)
}

const ROUTE: &str = "[routes.r]\nprofile = \"claude\"\n";

#[test]
fn budgets_are_read_in_dollars() {
    let cfg = parse_str(&format!(
        "{ROUTE}[budgets]\nper_job_usd = 2.0\n[lanes.fast]\nroutes = [\"r\"]\nbudget_usd_per_day = 5\n[lanes.free]\nroutes = [\"r\"]\n"
    ))
    .unwrap();
    assert_eq!(cfg.budgets.per_job_usd, Some(2.0));
    assert_eq!(
        cfg.lanes["fast"].budget_usd_per_day,
        Some(5.0),
        "an integer is dollars too"
    );
    assert_eq!(cfg.lanes["free"].budget_usd_per_day, None);
}

#[test]
fn no_budgets_is_no_limit() {
    let cfg = parse_str(ROUTE).unwrap();
    assert_eq!(cfg.budgets, Budgets::default());
}

#[test_case("[budgets]\nper_job_usd = 0\n", 2, 15, "`budgets.per_job_usd` = 0 is not a budget" ; "zero per job")]
#[test_case("[budgets]\nper_job_usd = -1.5\n", 2, 15, "`budgets.per_job_usd` = -1.5 is not a budget" ; "negative per job")]
#[test_case("[budgets]\nper_job_usd = nan\n", 2, 15, "is not a budget" ; "not a number")]
#[test_case("[budgets]\nper_job_usd = \"2\"\n", 2, 15, "" ; "a string")]
#[test_case("[budgets]\nper_day = 2\n", 2, 1, "per_day" ; "an unknown key")]
#[test_case("[lanes.fast]\nbudget_usd_per_day = 0.0\n", 2, 22, "`lanes.fast.budget_usd_per_day` = 0 is not a budget" ; "zero per lane")]
fn a_bad_budget_names_its_place(text: &str, line: usize, column: usize, says: &str) {
    let e = parse_str(&format!("{text}{ROUTE}")).unwrap_err();
    assert_eq!((e.line, e.column), (line, column), "{e}");
    assert!(e.to_string().contains(says), "{e}");
    assert!(e.to_string().contains("agentlane.toml:"), "{e}");
}
