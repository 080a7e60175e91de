//! `pool-min-exceeds-max`: a pool's minimum/idle setting above its maximum.

use super::{Ctx, Rule};
use crate::diag::{Diagnostic, Severity};
use crate::stacks::SettingKind;

/// The rule.
pub static RULE: Rule = Rule {
    id: "pool-min-exceeds-max",
    severity: Severity::Error,
    summary: "a pool's minimum / idle setting is above its maximum",
    docs: DOCS,
    run: Some(run),
};

const DOCS: &str = "\
## What it checks
Every pool whose stack reads a minimum (Hikari `minimum-idle`, Agroal `min-size`, pgx
`pool_min_conns`, Npgsql `Minimum Pool Size`) must have it at or below the maximum.

## Why it matters
The intent is unclear and the libraries disagree on what happens: HikariCP silently resets
`minimumIdle` to the maximum (a fixed, eager pool that holds every connection even when idle),
others refuse to start. Either way the reviewed number is not the one that applies.

## Example that fails
```yaml
env:
  - {name: SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE, value: \"10\"}
  - {name: SPRING_DATASOURCE_HIKARI_MINIMUMIDLE, value: \"20\"}
```

## How to fix
Set the minimum at or below the maximum (or leave it unset).
";

fn run(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let m = ctx.model;
    for c in &m.clients {
        for k in &c.containers {
            let (Some(max), Some(min)) = (
                &k.pool_max,
                k.settings.iter().find(|s| s.kind == SettingKind::MinIdle),
            ) else {
                continue;
            };
            if min.value.value <= max.value {
                continue;
            }
            let Some(span) = min.value.span() else {
                continue;
            };
            let w = &m.workloads[c.workload];
            let mut d = Diagnostic::new(
                RULE.id,
                RULE.severity,
                span,
                format!(
                    "`{}` of container `{}` in {} is {}, above the pool maximum {}",
                    min.what, k.container, w.id, min.value.value, max.value
                ),
            )
            .with_label("minimum")
            .help("set the minimum at or below the maximum, or leave it unset")
            .workload(w.id.clone())
            .database(m.databases[c.database].id.clone());
            if let Some(s) = max.span() {
                d = d.related(s, format!("pool maximum {}", max.value));
            }
            out.push(d);
        }
    }
}
