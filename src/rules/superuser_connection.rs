//! `superuser-connection`: an application logs in as a superuser.

use super::{Ctx, Rule};
use crate::diag::{Diagnostic, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    id: "superuser-connection",
    severity: Severity::Warning,
    summary: "an application connects as a superuser (`postgres`, `root`, an operator's superuser Secret)",
    docs: DOCS,
    run: Some(run),
};

const DOCS: &str = "\
## What it checks
No application's endpoint logs in as `postgres` (PostgreSQL) or `root` (MySQL), and no
application takes its credentials from an operator's superuser Secret (CloudNativePG
`<cluster>-superuser`, Zalando `postgres.<cluster>.credentials…`).

## Why it matters
`superuser_reserved_connections` keeps the last slots for administrators precisely for the
moment the database is exhausted. An application that logs in as a superuser eats that
reserve, and during the incident nobody can get in to fix it.

## Example that fails
```yaml
env:
  - name: DATABASE_URL
    valueFrom: {secretKeyRef: {name: orders-db-superuser, key: uri}}
```

## How to fix
Use the application role (CNPG `<cluster>-app`, a dedicated Zalando user, a PGO user).
";

fn run(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let m = ctx.model;
    for c in &m.clients {
        let w = &m.workloads[c.workload];
        let Some((span, why)) = c.containers.iter().find_map(|k| k.superuser.clone()) else {
            continue;
        };
        out.push(
            Diagnostic::new(
                RULE.id,
                RULE.severity,
                span,
                format!(
                    "{} connects to {} as a superuser: {why}",
                    w.id, m.databases[c.database].id
                ),
            )
            .with_label("superuser credentials")
            .note("superusers can take the slots reserved for administrators")
            .help("use the application role (CNPG `<cluster>-app`, a dedicated user)")
            .workload(w.id.clone())
            .database(m.databases[c.database].id.clone()),
        );
    }
}
