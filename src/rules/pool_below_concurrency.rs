//! `pool-below-concurrency`: fewer connections than the threads that share them.

use super::{Ctx, Rule};
use crate::diag::{Diagnostic, Severity};
use crate::stacks::SettingKind;

/// The rule.
pub static RULE: Rule = Rule {
    id: "pool-below-concurrency",
    severity: Severity::Warning,
    summary: "a pool is smaller than the threads that share it (Puma threads, Sidekiq concurrency)",
    docs: DOCS,
    run: Some(run),
};

const DOCS: &str = "\
## What it checks
A process's pool must have at least as many connections as the threads that use it: Rails'
`pool` against Puma's threads (`RAILS_MAX_THREADS`, `-t`) or Sidekiq's concurrency (`-c`).

## Why it matters
Threads beyond the pool wait for a connection and time out
(`ActiveRecord::ConnectionTimeoutError`). The usual \"fix\" is to inflate every pool, which
is what later exhausts the database during a rollout.

## Example that fails
Sidekiq started with `-c 25` while `database.yml` says `pool: 10`.

## How to fix
Size the pool to the concurrency (`pool: <%= ENV.fetch(\"RAILS_MAX_THREADS\") { 5 } %>` and
the same variable for the server), and budget the result against the database.
";

fn run(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let m = ctx.model;
    for c in &m.clients {
        for k in &c.containers {
            let (Some(pool), Some(conc)) = (
                &k.pool_max,
                k.settings
                    .iter()
                    .find(|s| s.kind == SettingKind::Concurrency),
            ) else {
                continue;
            };
            if conc.value.value <= pool.value {
                continue;
            }
            let w = &m.workloads[c.workload];
            let span = pool.span().or(conc.value.span()).unwrap_or(k.endpoint);
            let mut d = Diagnostic::new(
                RULE.id,
                RULE.severity,
                span,
                format!(
                    "container `{}` of {} runs {} threads ({}) on a pool of {}",
                    k.container, w.id, conc.value.value, conc.what, pool.value
                ),
            )
            .with_label("pool")
            .help("size the pool to the concurrency, and budget the result against the database")
            .workload(w.id.clone())
            .database(m.databases[c.database].id.clone());
            if let Some(s) = conc.value.span() {
                d = d.related(s, format!("{} threads", conc.value.value));
            }
            out.push(d);
        }
    }
}
