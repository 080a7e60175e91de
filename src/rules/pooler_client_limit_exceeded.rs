//! `pooler-client-limit-exceeded`: the applications behind a pooler can open more client
//! connections than the pooler accepts.

use super::{Ctx, Rule};
use crate::capacity::{self, ClientNumbers};
use crate::diag::{Diagnostic, Severity};
use crate::report::Origin;

/// The rule.
pub static RULE: Rule = Rule {
    id: "pooler-client-limit-exceeded",
    severity: Severity::Error,
    summary: "clients of a pooler can open more connections than it accepts (max_client_conn × pods)",
    docs: DOCS,
    run: Some(run),
};

const DOCS: &str = "\
## What it checks
For every PgBouncer (a Deployment running PgBouncer, a CloudNativePG `Pooler`, Zalando's or
Crunchy's pooler), the connections its application clients can open — their pools at the
rollout peak, summed like a database's S1 — against `max_client_conn` × the pooler's pods
(PgBouncer's default `max_client_conn` is 100 per process).

## Why it matters
A pooler protects the database by multiplexing, but it refuses clients beyond its own limit:
`no more connections allowed (max_client_conn)`. Application pools in front of a pooler are
usually sized generously, because the database no longer sees them.

## Example that fails
Two PgBouncer pods with the default `max_client_conn` (200 client slots) in front of 12 app
pods with Hikari pools of 20 (240 connections; 300 at the rollout peak).

## How to fix
Raise `max_client_conn` (it is cheap: client connections are not server connections), add
pooler replicas, or lower the application pools.
";

fn run(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let m = ctx.model;
    for (pi, p) in m.poolers.iter().enumerate() {
        let clients: Vec<(usize, ClientNumbers)> = m
            .pooler_clients
            .iter()
            .enumerate()
            .filter(|(_, c)| c.database == pi)
            .map(|(i, c)| {
                let w = &m.workloads[c.workload];
                (
                    i,
                    ClientNumbers {
                        client: i,
                        pods_steady: capacity::pods_steady(w),
                        pods_peak: capacity::pods_peak(w),
                        conn_pod: capacity::conn_pod(c),
                        counted: true,
                    },
                )
            })
            .collect();
        if clients.is_empty() {
            continue;
        }
        let numbers: Vec<ClientNumbers> = clients.iter().map(|(_, n)| n.clone()).collect();
        let (s0, s1, _) = capacity::sums(&numbers);
        let pw = &m.workloads[p.workload];
        let Some(pods) = capacity::pods_steady(pw) else {
            continue;
        };
        let limit = p.max_client_conn.value.saturating_mul(pods);
        if s1.bounded <= limit {
            continue;
        }
        let span = p.max_client_conn.span().unwrap_or(p.span);
        let msg = format!(
            "clients of {} can open {}{} connections at a rollout peak ({} steady), {} over its {limit} client slots",
            p.id,
            if s1.complete { "" } else { "at least " },
            s1.bounded,
            s0.bounded,
            s1.bounded.saturating_sub(limit)
        );
        let mut d = Diagnostic::new(RULE.id, RULE.severity, span, msg)
            .with_label(format!("max_client_conn {}", p.max_client_conn.value))
            .workload(p.id.clone());
        if let Some(db) = p.database {
            d = d.database(m.databases[db].id.clone());
        }
        if let Origin::Default(why) = p.max_client_conn.origin {
            d = d.note(format!(
                "max_client_conn {} ({why})",
                p.max_client_conn.value
            ));
        }
        match pw.replicas.span() {
            Some(s) => d = d.related(s, format!("{pods} pooler pods")),
            None => d = d.note(format!("{pods} pooler pod(s)")),
        }
        for (i, n) in &clients {
            let c = &m.pooler_clients[*i];
            let w = &m.workloads[c.workload];
            let f = |o: Option<i64>| o.map_or("?".to_string(), |v| v.to_string());
            d = d.note(format!(
                "{}: steady {} pods × {} = {}, peak {} pods × {} = {}",
                w.id,
                f(n.pods_steady),
                f(n.conn_pod),
                f(n.steady()),
                f(n.pods_peak),
                f(n.conn_pod),
                f(n.peak())
            ));
            if let Some(s) = c
                .containers
                .first()
                .and_then(|k| k.pool_max.as_ref())
                .and_then(|f| f.span())
            {
                d = d.related(s, format!("pool of {}", w.name));
            }
        }
        d = d.help(format!(
            "raise max_client_conn to at least {} (client connections are cheap), add pooler replicas, or lower the application pools",
            s1.bounded.saturating_add(pods - 1) / pods.max(1)
        ));
        out.push(d);
    }
}
