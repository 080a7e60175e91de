//! `unresolved-pool-size`: a linked container's pool size cannot be determined.

use super::Rule;
use crate::diag::Severity;

/// The rule. Findings come from linking (see `model::link`).
pub static RULE: Rule = Rule {
    id: "unresolved-pool-size",
    severity: Severity::Warning,
    summary: "a container linked to a database has a pool size poolguard cannot determine",
    docs: DOCS,
    run: None,
};

const DOCS: &str = "\
## What it checks
Every container linked to a database must have a known pool size: from a recognised stack
(Spring Boot / HikariCP, …), an annotation (`poolguard.dev/pool-max`,
`poolguard.dev/connections-per-pod`) or `workloads:` in poolguard.yaml.

## Why it matters
An unknown term makes the database's sum unknown. poolguard never passes silently: the
bounded part is still reported, and this finding says what is missing.

## Example that fails
A Go service with `DATABASE_URL: postgres://orders-db/orders` and no pool setting poolguard
can read.

## How to fix
Annotate the pod template with `poolguard.dev/pool-max: \"N\"` (and `poolguard.dev/processes`
when it forks workers), or declare `pool_max` for the workload in poolguard.yaml.
";
