//! `cronjob-unbounded-overlap`: a database-using CronJob whose runs can pile up.

use super::{Ctx, Rule};
use crate::diag::{Diagnostic, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    id: "cronjob-unbounded-overlap",
    severity: Severity::Warning,
    summary: "a database-using CronJob allows overlapping runs with no deadline",
    docs: DOCS,
    run: Some(run),
};

const DOCS: &str = "\
## What it checks
A CronJob that connects to a database must not let runs pile up: `concurrencyPolicy: Allow`
(the default) with no `activeDeadlineSeconds` on its job template lets a slow run overlap the
next, and the next, each with its own pool.

## Why it matters
The budget counts one run (`parallelism` pods). When a run slows down — often because the
database is already busy — overlapping runs multiply its connections exactly when there is
least room.

## Example that fails
```yaml
kind: CronJob
spec:
  schedule: \"*/5 * * * *\"
  jobTemplate:
    spec:
      template: …   # uses DATABASE_URL
```

## How to fix
Set `concurrencyPolicy: Forbid` (or `Replace`), or an `activeDeadlineSeconds` shorter than
the schedule's period.
";

fn run(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let m = ctx.model;
    let mut seen = Vec::new();
    for c in &m.clients {
        let w = &m.workloads[c.workload];
        let Some(span) = w.cron_overlap else { continue };
        if seen.contains(&c.workload) {
            continue;
        }
        seen.push(c.workload);
        out.push(
            Diagnostic::new(
                RULE.id,
                RULE.severity,
                span,
                format!(
                    "{} uses {} and allows overlapping runs with no deadline: its demand has no bound",
                    w.id, m.databases[c.database].id
                ),
            )
            .with_label("concurrencyPolicy: Allow (the default)")
            .help("set `concurrencyPolicy: Forbid` or `Replace`, or `activeDeadlineSeconds` on the job template")
            .workload(w.id.clone())
            .database(m.databases[c.database].id.clone()),
        );
    }
}
