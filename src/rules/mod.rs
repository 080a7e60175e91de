//! Built-in rules: one file each, registered in [`RULES`].

mod chain;

pub mod capacity_exceeded;
pub mod capacity_headroom_low;
pub mod cpu_dependent_pool_size;
pub mod cronjob_unbounded_overlap;
pub mod duplicate_key;
pub mod duplicate_object;
pub mod ineffective_suppression;
pub mod invalid_file;
pub mod missing_acquire_timeout;
pub mod pod_exceeds_capacity;
pub mod policy_error;
pub mod pool_below_concurrency;
pub mod pool_min_exceeds_max;
pub mod pooler_client_limit_exceeded;
pub mod rollout_capacity_exceeded;
pub mod superuser_connection;
pub mod suppression_without_reason;
pub mod unbounded_pool;
pub mod unresolved_database;
pub mod unresolved_pool_size;

use crate::capacity::Budget;
use crate::config::Config;
use crate::diag::{Diagnostic, Severity};
use crate::model::Model;

/// What a rule's `run` sees.
pub struct Ctx<'a> {
    /// The model.
    pub model: &'a Model,
    /// Per-database budgets.
    pub budgets: &'a [Budget],
    /// Configuration.
    pub config: &'a Config,
}

/// A built-in rule.
pub struct Rule {
    /// Id (kebab-case, public).
    pub id: &'static str,
    /// Default severity.
    pub severity: Severity,
    /// One-line summary.
    pub summary: &'static str,
    /// Documentation with the headings *What it checks*, *Why it matters*, *Example that
    /// fails*, *How to fix*.
    pub docs: &'static str,
    /// Runs over the model. Rules whose findings come from an earlier stage (parsing,
    /// linking) have none.
    pub run: Option<fn(&Ctx, &mut Vec<Diagnostic>)>,
}

/// Every built-in rule.
pub static RULES: &[&Rule] = &[
    &capacity_exceeded::RULE,
    &rollout_capacity_exceeded::RULE,
    &capacity_headroom_low::RULE,
    &pod_exceeds_capacity::RULE,
    &unbounded_pool::RULE,
    &pooler_client_limit_exceeded::RULE,
    &pool_min_exceeds_max::RULE,
    &missing_acquire_timeout::RULE,
    &cpu_dependent_pool_size::RULE,
    &pool_below_concurrency::RULE,
    &cronjob_unbounded_overlap::RULE,
    &superuser_connection::RULE,
    &unresolved_pool_size::RULE,
    &unresolved_database::RULE,
    &invalid_file::RULE,
    &duplicate_key::RULE,
    &duplicate_object::RULE,
    &ineffective_suppression::RULE,
    &suppression_without_reason::RULE,
    &policy_error::RULE,
];

/// Rule ids reserved by the specification that this version does not check yet. Config may
/// name them (so a shared `poolguard.yaml` stays valid); they never fire.
pub const RESERVED: &[&str] = &["cpu-dependent-pool-size", "pool-below-concurrency"];

/// Looks a rule up by id.
pub fn get(id: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|r| r.id == id)
}

/// Whether config may name `id`.
pub fn is_known(id: &str) -> bool {
    get(id).is_some() || RESERVED.contains(&id)
}

/// Runs every rule over the model.
pub fn run(ctx: &Ctx) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in RULES {
        if let Some(run) = r.run {
            run(ctx, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_the_four_doc_sections_and_a_unique_id() {
        for r in RULES {
            for h in [
                "## What it checks",
                "## Why it matters",
                "## Example that fails",
                "## How to fix",
            ] {
                assert!(r.docs.contains(h), "{} lacks `{h}`", r.id);
            }
            assert_eq!(RULES.iter().filter(|x| x.id == r.id).count(), 1);
            assert!(!r.summary.is_empty());
        }
    }

    #[test]
    fn every_rule_has_pass_and_fail_fixtures() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rules");
        for r in RULES {
            for kind in ["pass", "fail"] {
                let dir = root.join(r.id).join(kind);
                assert!(dir.is_dir(), "missing fixture folder {}", dir.display());
            }
        }
    }
}
