//! `unbounded-pool`: a term of a database's sum has no finite bound.

use super::{Ctx, Rule};
use crate::diag::{Diagnostic, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    id: "unbounded-pool",
    severity: Severity::Error,
    summary: "a pool or pod count with no finite bound feeds a database",
    docs: DOCS,
    run: Some(run),
};

const DOCS: &str = "\
## What it checks
Every client of a database must have a finite worst case. A DaemonSet runs one pod per node,
so without a declared node count (`nodes.count` in poolguard.yaml) its pods have no bound; a
pool without a maximum (SQLAlchemy `max_overflow: -1`, Go `database/sql` without
`SetMaxOpenConns`) has none either.

## Why it matters
An unbounded term means the worst case is unknown: the cluster autoscaler adds nodes, each
runs another pod with another pool, and the database fails without any manifest change.

## Example that fails
A DaemonSet log shipper that writes to Postgres, in a repository without `nodes: {count: N}`.

## How to fix
Declare the maximum node count in poolguard.yaml (`nodes: {count: 40}`), or bound the pool.
";

fn run(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let m = ctx.model;
    for c in &m.clients {
        for k in &c.containers {
            let Some(s) = k
                .settings
                .iter()
                .find(|s| s.kind == crate::stacks::SettingKind::Unbounded)
            else {
                continue;
            };
            let w = &m.workloads[c.workload];
            out.push(
                Diagnostic::new(
                    RULE.id,
                    RULE.severity,
                    s.value.span().unwrap_or(k.endpoint),
                    format!(
                        "the pool of container `{}` in {} has no upper bound ({})",
                        k.container, w.id, s.what
                    ),
                )
                .with_label("unbounded")
                .help("set a finite maximum (SQLAlchemy `max_overflow`, `SetMaxOpenConns`)")
                .database(m.databases[c.database].id.clone())
                .workload(w.id.clone()),
            );
        }
    }
    for c in &m.clients {
        let w = &m.workloads[c.workload];
        let Some((span, why)) = &w.unbounded else {
            continue;
        };
        let db = &m.databases[c.database];
        out.push(
            Diagnostic::new(
                RULE.id,
                RULE.severity,
                *span,
                format!(
                    "{} connects to {} but its pod count has no bound: {why}",
                    w.id, db.id
                ),
            )
            .with_label("unbounded")
            .help("declare `nodes: {count: N}` in poolguard.yaml")
            .database(db.id.clone())
            .workload(w.id.clone()),
        );
    }
}
