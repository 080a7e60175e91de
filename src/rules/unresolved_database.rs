//! `unresolved-database`: an endpoint that matches no known database.

use super::Rule;
use crate::diag::Severity;

/// The rule. Findings come from linking (see `model::link`).
pub static RULE: Rule = Rule {
    id: "unresolved-database",
    severity: Severity::Warning,
    summary: "a container has a database endpoint that matches no known database or pooler",
    docs: DOCS,
    run: None,
};

const DOCS: &str = "\
## What it checks
Every database endpoint in a container (URLs, JDBC URLs, libpq and ADO.NET strings, `*_HOST`
variables, Spring `spring.datasource.url`) must resolve — through a Service, an operator's
service name or a declared host glob — to a database poolguard knows. Endpoints whose value is
in a Secret or ConfigMap that is not in the scanned files are reported too.

## Why it matters
Connections to an unknown database are counted nowhere: its budget may already be exhausted.

## Example that fails
`DATABASE_URL: postgres://orders.abc.eu-west-1.rds.amazonaws.com/orders` with no `databases:`
entry whose `hosts` match.

## How to fix
Declare the database in poolguard.yaml (`databases: [{name, engine, max_connections, hosts}]`),
or annotate the pod template with `poolguard.dev/database: <id>`.
";
