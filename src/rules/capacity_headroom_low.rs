//! `capacity-headroom-low`: within capacity, but close to it.

use super::{Ctx, Rule, chain};
use crate::capacity;
use crate::diag::{Diagnostic, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    id: "capacity-headroom-low",
    severity: Severity::Warning,
    summary: "the rollout peak is above the warning threshold, or all rollouts at once exceed capacity",
    docs: DOCS,
    run: Some(run),
};

const DOCS: &str = "\
## What it checks
For each database that does not already fail: the rollout sum S1 against `warn_utilization`
× capacity (default 80 %), and the all-rollouts sum S2 (every client at its peak at once, as in
a cluster upgrade or a mass GitOps sync) against capacity.

## Why it matters
A database at 90 % of its slots has no room for an admin session, a migration, a monitoring
agent or the next feature's pool; a node drain that restarts everything at once exhausts it.

## Example that fails
Capacity 197, steady 120, the largest rollout adds 40: S1 = 160 is 81 % of capacity.

## How to fix
Lower pool sizes (most pools are larger than their peak concurrency), lower maxSurge, add a
pooler, or raise `warn_utilization` in poolguard.yaml if the margin is deliberate.
";

fn run(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let warn = ctx.config.warn_utilization;
    for b in ctx.budgets {
        let gate = capacity::gate(ctx.config.scenario, b);
        if b.steady.bounded > b.capacity || gate.bounded > b.capacity {
            continue;
        }
        let m = ctx.model;
        let db = &m.databases[b.database];
        let high_s1 = capacity::above(b.rollout.bounded, warn, b.capacity);
        let high_s2 = b.all_rollouts.bounded > b.capacity;
        if !high_s1 && !high_s2 {
            continue;
        }
        let Some(ci) = chain::tipping_rollout(b) else {
            continue;
        };
        let (span, label) = chain::fix_site(m, b, ci);
        let pct = capacity::percent(b.rollout.bounded, b.capacity);
        let msg = if high_s1 {
            format!(
                "a rollout takes {} to {} connections, {pct}% of its capacity of {} (warning above {:.0}%)",
                db.id,
                b.rollout.bounded,
                b.capacity,
                warn * 100.0
            )
        } else {
            format!(
                "if every client rolls at once {} needs {} connections, {} over its capacity of {}",
                db.id,
                b.all_rollouts.bounded,
                b.all_rollouts.bounded.saturating_sub(b.capacity),
                b.capacity
            )
        };
        let mut d =
            chain::finding(RULE.id, RULE.severity, span, msg, m, b, Some(ci)).with_label(label);
        d = chain::with_chain(d, m, b, ci, span);
        d = d.note(format!(
            "steady {}, one rollout {}, all rollouts {}",
            b.steady.bounded, b.rollout.bounded, b.all_rollouts.bounded
        ));
        d = d.note(chain::capacity_line(m, b));
        d = d.help("lower the largest pools or maxSurge, or add a pooler; raise `warn_utilization` if this margin is deliberate");
        out.push(d);
    }
}
