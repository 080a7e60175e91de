//! `cpu-dependent-pool-size`: a pool size that falls back to a CPU-count default.

use super::{Ctx, Rule};
use crate::diag::{Diagnostic, Severity};
use crate::stacks::SettingKind;

/// The rule.
pub static RULE: Rule = Rule {
    id: "cpu-dependent-pool-size",
    severity: Severity::Warning,
    summary: "a pool size or process count falls back to a CPU-count default",
    docs: DOCS,
    run: Some(run),
};

const DOCS: &str = "\
## What it checks
Pools and process counts that default to the CPU count when nothing is set: pgx
`max(4, NumCPU)`, Prisma `2 × cores + 1`, Celery's worker concurrency, PM2 `-i max`. Inside a
container those read the node's CPUs, not the container's limit.

## Why it matters
The demand then depends on the node type, not on the manifest: moving the same Deployment to
64-core nodes multiplies its connections without any change to review. poolguard uses the
declared `nodes.cpus` when there is one and reports the pool as unknown otherwise.

## Example that fails
`DATABASE_URL: postgres://orders-db/orders` in a pgx service without `pool_max_conns`.

## How to fix
Set the pool explicitly (`?pool_max_conns=10`, `?connection_limit=10`, `celery -c 4`), or at
least declare the node size in poolguard.yaml (`nodes: {cpus: 16}`).
";

fn run(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let m = ctx.model;
    for c in &m.clients {
        for k in &c.containers {
            let Some(s) = k
                .settings
                .iter()
                .find(|s| s.kind == SettingKind::CpuDependentDefault)
            else {
                continue;
            };
            let w = &m.workloads[c.workload];
            let span = s.value.span().unwrap_or(k.endpoint);
            out.push(
                Diagnostic::new(
                    RULE.id,
                    RULE.severity,
                    span,
                    format!(
                        "{} of container `{}` in {} defaults to the node's CPU count ({})",
                        s.what,
                        k.container,
                        w.id,
                        match &k.pool_max {
                            Some(p) => format!("{} with the declared node CPUs", p.value),
                            None => "unknown: no `nodes.cpus` declared".to_string(),
                        }
                    ),
                )
                .with_label("no explicit size")
                .help(
                    "set the pool size explicitly, or declare `nodes: {cpus: N}` in poolguard.yaml",
                )
                .workload(w.id.clone())
                .database(m.databases[c.database].id.clone()),
            );
        }
    }
}
