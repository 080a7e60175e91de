//! The factor chain behind a capacity finding: every operand with its own label.

use crate::capacity::{self, Budget};
use crate::diag::{Diagnostic, Severity, Suggestion};
use crate::model::{Model, Strategy};
use crate::report::{Fact, Origin};
use crate::source::Span;

/// Describes a fact for a label or note: `replicas 6` or `replicas 1 (spec.replicas default)`.
pub fn describe(what: &str, f: &Fact) -> String {
    match f.origin {
        Origin::At(_) => format!("{what}: {}", f.value),
        Origin::Default(d) => format!("{what}: {} ({d})", f.value),
    }
}

/// Adds `f` as a related label when it has a span, else as a note.
fn operand(d: Diagnostic, what: &str, f: &Fact) -> Diagnostic {
    match f.origin {
        Origin::At(s) => d.related(s, describe(what, f)),
        Origin::Default(_) => d.note(describe(what, f)),
    }
}

/// The line a user changes to fix the client: its (first known) pool size, else the
/// connections-per-pod override, else the workload's name.
pub fn fix_site(model: &Model, b: &Budget, ci: usize) -> (Span, String) {
    let c = &model.clients[b.clients[ci].client];
    let w = &model.workloads[c.workload];
    if let Some(o) = &c.conn_pod_override
        && let Some(s) = o.span()
    {
        return (s, format!("{} connections per pod", o.value));
    }
    for k in &c.containers {
        if let (Some(p), Some(s)) = (&k.pool_max, k.processes.span())
            && p.span().is_none()
        {
            return (
                s,
                format!(
                    "{} processes in container `{}`",
                    k.processes.value, k.container
                ),
            );
        }
        if let Some(p) = &k.pool_max {
            match p.span() {
                Some(s) => {
                    return (
                        s,
                        format!("pool size {} in container `{}`", p.value, k.container),
                    );
                }
                None => {
                    return (
                        k.endpoint,
                        format!(
                            "pool size {} by default ({}); this links `{}` to the database",
                            p.value,
                            default_of(p),
                            k.container
                        ),
                    );
                }
            }
        }
    }
    (w.span, w.id.clone())
}

fn default_of(f: &Fact) -> &'static str {
    match f.origin {
        Origin::Default(d) => d,
        Origin::At(_) => "",
    }
}

/// Adds the client's and database's operands to a finding.
pub fn with_chain(
    mut d: Diagnostic,
    model: &Model,
    b: &Budget,
    ci: usize,
    primary: Span,
) -> Diagnostic {
    let n = &b.clients[ci];
    let c = &model.clients[n.client];
    let w = &model.workloads[c.workload];
    // Pods.
    match &w.autoscaler {
        Some(a) => {
            let key = if a.kind == "ScaledObject" {
                "maxReplicaCount"
            } else {
                "maxReplicas"
            };
            d = operand(d, &format!("{} {key} of {}", a.kind, w.name), &a.max)
        }
        None => d = operand(d, &format!("replicas of {}", w.name), &w.replicas),
    }
    let r = capacity::replicas(w);
    match &w.strategy {
        Strategy::Rolling { surge } => {
            let pods = capacity::surge_pods(r, surge);
            let what = if surge.percent {
                format!(
                    "maxSurge {}% of {r} → {pods} extra {} (rounded up)",
                    surge.value.value,
                    pods_word(pods)
                )
            } else {
                format!("maxSurge → {pods} extra {}", pods_word(pods))
            };
            d = match surge.value.origin {
                Origin::At(s) => d.related(s, what),
                Origin::Default(why) => d.note(format!("{what} ({why})")),
            };
        }
        Strategy::NoSurge { why, span } => {
            d = match span {
                Some(s) => d.related(*s, format!("no extra pods during a rollout: {why}")),
                None => d.note(format!("no extra pods during a rollout: {why}")),
            }
        }
        Strategy::BlueGreen { preview, span } => {
            let p = preview.as_ref().map_or(r, |f| f.value);
            d = d.related(
                *span,
                format!("blue-green: {p} preview pods beside {r} active"),
            );
        }
        Strategy::FullCanary { span } => {
            d = d.related(
                *span,
                format!(
                    "canary with traffic routing keeps {r} stable pods beside up to {r} canary pods"
                ),
            );
        }
    }
    // Pool per container.
    if let Some(e) = &c.explain {
        d = d.note(e.clone());
    }
    match &c.conn_pod_override {
        Some(o) => d = operand(d, "connections per pod", o),
        None => {
            for k in &c.containers {
                if let Some(p) = &k.pool_max {
                    let what = format!("pool size of `{}` ({})", k.container, k.stack);
                    if p.span() != Some(primary) {
                        d = operand(d, &what, p);
                    }
                }
                if (k.processes.value != 1 || k.processes.span().is_some())
                    && k.processes.span() != Some(primary)
                {
                    d = operand(d, &format!("processes in `{}`", k.container), &k.processes);
                }
            }
        }
    }
    // The database.
    let db = &model.databases[b.database];
    d = operand(
        d,
        &format!("max_connections of {}", db.id),
        &db.max_connections,
    );
    d = operand(d, "superuser_reserved_connections", &db.superuser_reserved);
    if let Some(rc) = &db.reserved_connections {
        d = operand(d, "reserved_connections", rc);
    }
    if let Some(h) = &db.headroom {
        d = operand(d, "headroom", h);
    }
    d
}

/// `pods × conn = total` for a client.
pub fn client_line(model: &Model, b: &Budget, ci: usize) -> String {
    let n = &b.clients[ci];
    let w = &model.workloads[model.clients[n.client].workload];
    let f = |o: Option<i64>| o.map_or("?".to_string(), |v| v.to_string());
    format!(
        "{}: steady {} pods × {} = {}, peak {} pods × {} = {}",
        w.id,
        f(n.pods_steady),
        f(n.conn_pod),
        f(n.steady()),
        f(n.pods_peak),
        f(n.conn_pod),
        f(n.peak())
    )
}

/// `capacity C = max_connections M − reserved R − headroom H`.
pub fn capacity_line(model: &Model, b: &Budget) -> String {
    let db = &model.databases[b.database];
    format!(
        "capacity {} = max_connections {} − reserved {} − headroom {}",
        b.capacity,
        db.max_connections.value,
        db.reserved(),
        db.headroom.as_ref().map_or(0, |h| h.value)
    )
}

/// The client whose own rollout adds the most (the one that defines S1).
pub fn tipping_rollout(b: &Budget) -> Option<usize> {
    (0..b.clients.len())
        .filter(|&i| b.clients[i].counted && b.clients[i].peak().is_some())
        .max_by_key(|&i| {
            (
                b.clients[i].peak().unwrap_or(0) - b.clients[i].steady().unwrap_or(0),
                b.clients[i].steady(),
            )
        })
}

/// The client with the largest steady share.
pub fn largest_steady(b: &Budget) -> Option<usize> {
    (0..b.clients.len())
        .filter(|&i| b.clients[i].counted && b.clients[i].steady().is_some())
        .max_by_key(|&i| b.clients[i].steady())
}

/// Adds the computed fix (pool size or surge) to a finding.
pub fn with_fix(
    mut d: Diagnostic,
    model: &Model,
    b: &Budget,
    ci: usize,
    scenario: crate::config::Scenario,
) -> Diagnostic {
    let w = &model.workloads[model.clients[b.clients[ci].client].workload];
    let pool = capacity::suggest_fix(model, b, ci, scenario);
    let surge = capacity::suggest_surge(model, b, ci, scenario);
    let mut help = Vec::new();
    match pool {
        Some(Suggestion::PoolMax(p)) => {
            help.push(format!(
                "set the pool size of {} to {p} or less (the largest that fits)",
                w.name
            ));
            d.suggestion = Some(Suggestion::PoolMax(p));
        }
        Some(Suggestion::Processes(p)) => {
            help.push(format!(
                "set the processes per pod of {} to {p} or fewer (the largest that fits)",
                w.name
            ));
            d.suggestion = Some(Suggestion::Processes(p));
        }
        _ => {}
    }
    if let Some(s) = surge {
        help.push(format!("set maxSurge of {} to {s}", w.name));
        if d.suggestion.is_none() {
            d.suggestion = Some(Suggestion::MaxSurge(s));
        }
    }
    if help.is_empty() {
        help.push(format!(
            "no pool size for {} fits: lower other clients, add a pooler, or raise max_connections",
            w.name
        ));
    }
    d.help(help.join("; or "))
}

/// A finding about a database with the usual fields set.
pub fn finding(
    rule: &str,
    sev: Severity,
    span: Span,
    message: String,
    model: &Model,
    b: &Budget,
    ci: Option<usize>,
) -> Diagnostic {
    let mut d =
        Diagnostic::new(rule, sev, span, message).database(model.databases[b.database].id.clone());
    if let Some(ci) = ci {
        d = d.workload(
            model.workloads[model.clients[b.clients[ci].client].workload]
                .id
                .clone(),
        );
    }
    d
}

fn pods_word(n: i64) -> &'static str {
    if n == 1 { "pod" } else { "pods" }
}
