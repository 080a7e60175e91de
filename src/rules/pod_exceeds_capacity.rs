//! `pod-exceeds-capacity`: one pod alone takes (half) the database.

use super::{Ctx, Rule, chain};
use crate::diag::{Diagnostic, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    id: "pod-exceeds-capacity",
    severity: Severity::Error,
    summary: "one pod's connections alone exceed the database's capacity (warning at 50 %)",
    docs: DOCS,
    run: Some(run),
};

const DOCS: &str = "\
## What it checks
For each client, the connections one pod may open (processes × pool size, summed over its
containers) against the database's capacity: an error above capacity, a warning at 50 % or
more.

## Why it matters
A single pod that can take half the database starves every other tenant the moment its pool
fills, and any surge pod during a rollout is fatal.

## Example that fails
An Npgsql client with the default `Maximum Pool Size` of 100 against a Postgres with the
default `max_connections` of 100 (97 usable).

## How to fix
Set an explicit pool size well below capacity (most services need far fewer connections than
threads), or put PgBouncer in front.
";

fn run(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let m = ctx.model;
    for b in ctx.budgets {
        for (ci, n) in b.clients.iter().enumerate() {
            let Some(conn) = n.conn_pod.filter(|_| n.counted) else {
                continue;
            };
            let sev = if conn > b.capacity {
                Severity::Error
            } else if conn.saturating_mul(2) >= b.capacity && conn > 0 {
                Severity::Warning
            } else {
                continue;
            };
            let db = &m.databases[b.database];
            let w = &m.workloads[m.clients[n.client].workload];
            let (span, label) = chain::fix_site(m, b, ci);
            let msg = format!(
                "one pod of {} may open {conn} connections to {}, {}% of its capacity of {}",
                w.id,
                db.id,
                if b.capacity > 0 {
                    conn * 100 / b.capacity
                } else {
                    100
                },
                b.capacity
            );
            let mut d = chain::finding(RULE.id, sev, span, msg, m, b, Some(ci)).with_label(label);
            d = chain::with_chain(d, m, b, ci, span);
            d = d.note(chain::capacity_line(m, b));
            d = d.help(
                "set an explicit pool size well below the database's capacity, or add a pooler",
            );
            out.push(d);
        }
    }
}
