//! `capacity-exceeded`: steady-state demand is above what the database accepts.

use super::{Ctx, Rule, chain};
use crate::diag::{Diagnostic, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    id: "capacity-exceeded",
    severity: Severity::Error,
    summary: "steady-state connections of all clients exceed the database's capacity",
    docs: DOCS,
    run: Some(run),
};

const DOCS: &str = "\
## What it checks
For each database, the steady-state sum S0 = Σ pods × connections per pod over every client
(using the autoscaler's maximum when one targets a workload), against capacity =
max_connections − reserved − headroom.

## Why it matters
When S0 is above capacity the database refuses connections without any rollout at all: as
soon as the autoscaler reaches its maximum, or pools fill under load, clients get
`FATAL: sorry, too many clients already`.

## Example that fails
A Postgres with `max_connections: 100` (97 usable) and a Deployment with 10 replicas whose
Spring Boot pool is `SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE: \"10\"`: 10 × 10 = 100 > 97.

## How to fix
Lower the pool size of the largest client (the finding suggests the largest size that fits),
lower replicas or the HPA maximum, put PgBouncer in front, or raise max_connections.
";

fn run(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    for b in ctx.budgets {
        if b.steady.bounded <= b.capacity {
            continue;
        }
        let m = ctx.model;
        let db = &m.databases[b.database];
        let Some(ci) = chain::largest_steady(b) else {
            continue;
        };
        let (span, label) = chain::fix_site(m, b, ci);
        let over = b.steady.bounded.saturating_sub(b.capacity);
        let at_least = if b.steady.complete { "" } else { "at least " };
        let msg = format!(
            "{} needs {at_least}{} connections in steady state, {over} over its capacity of {}",
            db.id, b.steady.bounded, b.capacity
        );
        let mut d =
            chain::finding(RULE.id, RULE.severity, span, msg, m, b, Some(ci)).with_label(label);
        d = chain::with_chain(d, m, b, ci, span);
        d = d.note(chain::capacity_line(m, b));
        for i in (0..b.clients.len()).filter(|&i| b.clients[i].counted) {
            d = d.note(chain::client_line(m, b, i));
        }
        d = chain::with_fix(d, m, b, ci, ctx.config.scenario);
        out.push(d);
    }
}
