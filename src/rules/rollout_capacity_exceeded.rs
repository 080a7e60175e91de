//! `rollout-capacity-exceeded`: steady state fits, the rollout peak does not.

use super::{Ctx, Rule, chain};
use crate::capacity;
use crate::config::Scenario;
use crate::diag::{Diagnostic, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    id: "rollout-capacity-exceeded",
    severity: Severity::Error,
    summary: "the database fits steady state but not the peak of a rollout",
    docs: DOCS,
    run: Some(run),
};

const DOCS: &str = "\
## What it checks
For each database whose steady-state sum S0 fits, the rollout sum S1 = S0 + the largest
(peak − steady) of any one client: during a RollingUpdate a Deployment runs R + maxSurge pods
(a percentage rounds up), a blue-green Rollout runs two full ReplicaSets. With
`--scenario all-rollouts` the gate is S2, every client at its peak at once.

## Why it matters
This is the auth-service outage: the new version's surge pods open their pools, the database
answers \"too many clients\", logins fail, and rolling back does not help because a rollback
is another rollout with the same peak.

## Example that fails
`max_connections: \"200\"` (197 usable). auth: 6 replicas, `maxSurge: 50%`, pool 20; other
clients hold 56. Steady 176 fits; at the peak 9 × 20 + 56 = 236 > 197.

## How to fix
Set the pool size the finding suggests (the largest that fits the peak), or lower maxSurge
(0 with maxUnavailable 1 adds no pods), or front the database with PgBouncer.
";

fn run(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let scenario = ctx.config.scenario;
    if scenario == Scenario::Steady {
        return;
    }
    for b in ctx.budgets {
        let g = capacity::gate(scenario, b);
        if b.steady.bounded > b.capacity || g.bounded <= b.capacity {
            continue;
        }
        let m = ctx.model;
        let db = &m.databases[b.database];
        let Some(ci) = chain::tipping_rollout(b) else {
            continue;
        };
        let w = &m.workloads[m.clients[b.clients[ci].client].workload];
        let (span, label) = chain::fix_site(m, b, ci);
        let over = g.bounded.saturating_sub(b.capacity);
        let at_least = if g.complete { "" } else { "at least " };
        let msg = match scenario {
            Scenario::AllRollouts => format!(
                "with every client at its rollout peak {} needs {at_least}{} connections, {over} over its capacity of {}",
                db.id, g.bounded, b.capacity
            ),
            _ => format!(
                "rolling out {} takes {} to {at_least}{} connections, {over} over its capacity of {}",
                w.id, db.id, g.bounded, b.capacity
            ),
        };
        let mut d =
            chain::finding(RULE.id, RULE.severity, span, msg, m, b, Some(ci)).with_label(label);
        d = chain::with_chain(d, m, b, ci, span);
        let n = &b.clients[ci];
        d = d.note(format!(
            "S1 = steady {} + rollout of {} ({} − {} = {}) = {}",
            b.steady.bounded,
            w.name,
            n.peak().unwrap_or(0),
            n.steady().unwrap_or(0),
            n.peak().unwrap_or(0) - n.steady().unwrap_or(0),
            b.rollout.bounded
        ));
        d = d.note(chain::capacity_line(m, b));
        for i in (0..b.clients.len()).filter(|&i| b.clients[i].counted) {
            d = d.note(chain::client_line(m, b, i));
        }
        d = d.note("a rollback is another rollout with the same peak");
        d = chain::with_fix(d, m, b, ci, scenario);
        out.push(d);
    }
}
