//! `missing-acquire-timeout`: a pool that waits forever for a connection.

use super::{Ctx, Rule};
use crate::diag::{Diagnostic, Severity};
use crate::stacks::SettingKind;

/// The rule.
pub static RULE: Rule = Rule {
    id: "missing-acquire-timeout",
    severity: Severity::Warning,
    summary: "a pool's acquire timeout is disabled: exhaustion hangs instead of failing fast",
    docs: DOCS,
    run: Some(run),
};

const DOCS: &str = "\
## What it checks
A pool's acquire (borrow) timeout must not be 0: Hikari `connection-timeout: 0`, Prisma
`pool_timeout=0`, Agroal `acquisition-timeout: 0`.

## Why it matters
When the database or the pool is exhausted, a request that waits forever holds its thread;
threads pile up, health checks time out, pods are restarted and reconnect — the restart storm
makes the exhaustion worse. A timeout makes the failure fast and visible.

## Example that fails
```properties
spring.datasource.hikari.connection-timeout=0
```

## How to fix
Set a timeout shorter than the request timeout, e.g. 3000 ms.
";

fn run(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let m = ctx.model;
    for c in &m.clients {
        for k in &c.containers {
            for s in &k.settings {
                if s.kind != SettingKind::AcquireTimeoutMs || s.value.value != 0 {
                    continue;
                }
                let Some(span) = s.value.span() else { continue };
                let w = &m.workloads[c.workload];
                out.push(
                    Diagnostic::new(
                        RULE.id,
                        RULE.severity,
                        span,
                        format!(
                            "`{}` is 0 for container `{}` of {}: waiting for a connection never times out",
                            s.what, k.container, w.id
                        ),
                    )
                    .with_label("disabled")
                    .help("set a timeout shorter than the request timeout, e.g. 3000 ms")
                    .workload(w.id.clone())
                    .database(m.databases[c.database].id.clone()),
                );
            }
        }
    }
}
