//! Evaluating policies: build every instance of every target (with the span each finding would
//! point at), then evaluate the CEL conditions in a worker thread under a wall-clock budget.
//! CEL has no loops, but nested comprehensions are polynomial and cel-rust has no cost limit:
//! the budget is what guarantees a careless policy cannot hang a CI run.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;

use super::entities::{self, Instance, Vars, node_at, node_value};
use super::{Entity, Policy, Target};
use crate::capacity::Budget;
use crate::diag::Diagnostic;
use crate::input::LoadedFile;
use crate::model::Model;
use crate::model::objects::{self, Object};
use crate::source::{SourceDb, Span};

/// Wall-clock budget for evaluating every policy of a run; `POOLGUARD_POLICY_BUDGET_MS`
/// overrides it.
pub fn budget() -> Duration {
    std::env::var("POOLGUARD_POLICY_BUDGET_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(20))
}

/// A piece of a message template.
pub enum Part<'a> {
    /// Literal text.
    Text(&'a str),
    /// An expression between `{{` and `}}`.
    Expr(&'a str),
}

/// Splits `a {{ x }} b` into text and expressions.
pub fn template_parts(s: &str) -> Vec<Part<'_>> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        let Some(j) = rest[i + 2..].find("}}") else {
            break;
        };
        if i > 0 {
            out.push(Part::Text(&rest[..i]));
        }
        out.push(Part::Expr(rest[i + 2..i + 2 + j].trim()));
        rest = &rest[i + 2 + j + 2..];
    }
    if !rest.is_empty() {
        out.push(Part::Text(rest));
    }
    out
}

/// Visits every node of a CEL expression (iteratively: deep expressions cannot overflow).
pub fn walk(root: &cel::IdedExpr, f: &mut dyn FnMut(&cel::IdedExpr)) {
    use cel::common::ast::{EntryExpr, Expr};
    let mut stack = vec![root];
    while let Some(e) = stack.pop() {
        f(e);
        match &e.expr {
            Expr::Call(c) => {
                stack.extend(c.target.as_deref());
                stack.extend(c.args.iter());
            }
            Expr::Comprehension(c) => {
                stack.extend([
                    &c.iter_range,
                    &c.accu_init,
                    &c.loop_cond,
                    &c.loop_step,
                    &c.result,
                ]);
            }
            Expr::List(l) => stack.extend(l.elements.iter()),
            Expr::Map(m) => {
                for entry in &m.entries {
                    match &entry.expr {
                        EntryExpr::StructField(s) => stack.push(&s.value),
                        EntryExpr::MapEntry(me) => {
                            stack.push(&me.key);
                            stack.push(&me.value);
                        }
                    }
                }
            }
            Expr::Select(s) => stack.push(&s.operand),
            Expr::Struct(s) => {
                for entry in &s.entries {
                    if let EntryExpr::StructField(sf) = &entry.expr {
                        stack.push(&sf.value);
                    }
                }
            }
            Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
        }
    }
}

/// Dotted paths rooted at `roots` in an expression's text, in order of appearance.
fn paths_in(text: &str, roots: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if (i == 0 || !ident(bytes[i - 1]) && bytes[i - 1] != b'.')
            && let Some(root) = roots.iter().find(|r| text[i..].starts_with(**r))
        {
            let mut j = i + root.len();
            if j < bytes.len() && bytes[j] == b'.' {
                while j < bytes.len()
                    && (ident(bytes[j]) || bytes[j] == b'.' || bytes[j] == b'[' || bytes[j] == b']')
                {
                    j += 1;
                }
                out.push(text[i..j].trim_end_matches('.').to_string());
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// One evaluation: owned data only, so it can move to the worker thread.
struct Job {
    policy: usize,
    vars: Vars,
    /// `each` items with the span of each; `None` when the policy has no `each`.
    items: Option<Vec<(Json, Span)>>,
    span: Span,
    workload: Option<String>,
    database: Option<String>,
}

/// Where to point: the `at` path, else the first path in the condition that resolves, else
/// the instance's default. `item` (when given) is the current `each` item's node or span.
fn locate(policy: &Policy, inst: &Instance, item: Option<(&Node0, Span)>) -> Span {
    let roots = [
        "item",
        "object",
        "config",
        "workload",
        "database",
        "container",
    ];
    let candidates: Vec<String> = match &policy.at {
        Some(a) => vec![a.clone()],
        None => paths_in(&policy.condition, &roots),
    };
    let mut best: Option<Span> = None;
    for path in &candidates {
        if let Some((span, exact)) = resolve(path, inst, item) {
            if exact {
                return span;
            }
            best.get_or_insert(span);
        }
    }
    best.or(item.map(|(_, s)| s)).unwrap_or(inst.default_span)
}

type Node0 = crate::parse::Node;

/// Resolves a path to a span: entity field spans first, then node paths.
fn resolve(path: &str, inst: &Instance, item: Option<(&Node0, Span)>) -> Option<(Span, bool)> {
    if let Some((_, s)) = inst.spans.iter().find(|(k, _)| k == path) {
        return Some((*s, true));
    }
    let (root, rest): (&Node0, &str) = if let Some(r) = path.strip_prefix("item") {
        (item?.0, r)
    } else {
        let (name, node) = inst
            .nodes
            .iter()
            .filter(|(n, _)| path.starts_with(n))
            .max_by_key(|(n, _)| n.len())?;
        (*node, &path[name.len()..])
    };
    let segs: Vec<&str> = rest.split('.').filter(|s| !s.is_empty()).collect();
    let (n, exact) = node_at(root, &segs);
    // A map's span is its whole body; point at its key when we can.
    Some((n.span, exact))
}

/// Builds every job for the policies.
fn jobs(
    policies: &[Policy],
    model: &Model,
    budgets: &[Budget],
    files: &[LoadedFile],
    db: &SourceDb,
) -> Vec<Job> {
    let idx = objects::index(files);
    let objects: &[Object] = &idx.objects;
    let mut workloads = None;
    let mut databases = None;
    let mut containers = None;
    let mut out = Vec::new();
    for (pi, p) in policies.iter().enumerate() {
        // Entity lists are built once and shared by every policy on them.
        let owned: Vec<Instance>;
        let instances: &[Instance] = match &p.target {
            Target::Entity(Entity::Workload) => {
                workloads.get_or_insert_with(|| entities::workloads(model, objects))
            }
            Target::Entity(Entity::Database) => {
                databases.get_or_insert_with(|| entities::databases(model, budgets))
            }
            Target::Entity(Entity::Pooler) => {
                owned = entities::poolers(model);
                &owned
            }
            Target::Entity(Entity::Container) => {
                containers.get_or_insert_with(|| entities::containers(model, budgets, objects))
            }
            Target::Objects {
                kinds,
                api_version,
                namespace,
                labels,
            } => {
                owned = objects
                    .iter()
                    .filter(|o| kinds.is_empty() || kinds.iter().any(|k| k == o.kind))
                    .filter(|o| api_version.as_deref().is_none_or(|a| a == o.api_version))
                    .filter(|o| namespace.as_ref().is_none_or(|g| g.is_match(o.namespace)))
                    .filter(|o| {
                        let l = objects::string_map(o.node.path(&["metadata", "labels"]));
                        labels.iter().all(|(k, v)| {
                            l.iter().any(|(lk, lv)| lk == k && lv.as_str() == Some(v))
                        })
                    })
                    .map(|o| Instance {
                        vars: Vars::from([("object", node_value(o.node))]),
                        spans: Vec::new(),
                        nodes: vec![("object", o.node)],
                        default_span: o.name_span,
                        workload: None,
                        database: None,
                    })
                    .collect();
                &owned
            }
            Target::Files(globs) => {
                owned = files
                    .iter()
                    .filter(|f| globs.is_match(&db.get(f.file).path))
                    .flat_map(|f| {
                        f.docs.iter().map(move |d| Instance {
                            vars: Vars::from([
                                ("config", node_value(d)),
                                ("path", Json::String(db.get(f.file).path.clone())),
                            ]),
                            spans: Vec::new(),
                            nodes: vec![("config", d)],
                            default_span: Span::file_start(f.file),
                            workload: None,
                            database: None,
                        })
                    })
                    .collect();
                &owned
            }
        };
        for inst in instances {
            let items = p.each.as_ref().map(|each| each_items(each, inst));
            let span = locate(p, inst, None);
            let items = items.map(|list| {
                list.into_iter()
                    .map(|(v, node, span)| {
                        let at = match node {
                            Some(n) => locate(p, inst, Some((n, span))),
                            None => span,
                        };
                        (v, at)
                    })
                    .collect()
            });
            out.push(Job {
                policy: pi,
                vars: inst.vars.clone(),
                items,
                span,
                workload: inst.workload.clone(),
                database: inst.database.clone(),
            });
        }
    }
    out
}

/// The items of an `each` path: from a node when the path runs through one (so every item
/// has its own span), else from the variable's value.
fn each_items<'a>(each: &str, inst: &Instance<'a>) -> Vec<(Json, Option<&'a Node0>, Span)> {
    if let Some((name, node)) = inst
        .nodes
        .iter()
        .filter(|(n, _)| each.starts_with(n))
        .max_by_key(|(n, _)| n.len())
    {
        let segs: Vec<&str> = each[name.len()..]
            .split('.')
            .filter(|s| !s.is_empty())
            .collect();
        let (n, exact) = node_at(node, &segs);
        if !exact {
            return Vec::new();
        }
        return match n.as_seq() {
            Some(items) => items
                .iter()
                .map(|i| (node_value(i), Some(i), i.span))
                .collect(),
            None => n
                .as_map()
                .map(|m| {
                    m.iter()
                        .map(|(_, v)| (node_value(v), Some(v), v.span))
                        .collect()
                })
                .unwrap_or_default(),
        };
    }
    let mut segs = each.split('.');
    let root = segs.next().unwrap_or("");
    let Some((_, mut v)) = inst
        .vars
        .iter()
        .find(|(n, _)| *n == root)
        .map(|(n, v)| (*n, v))
    else {
        return Vec::new();
    };
    for s in segs {
        match v.get(s) {
            Some(x) => v = x,
            None => return Vec::new(),
        }
    }
    match v {
        Json::Array(a) => a
            .iter()
            .map(|x| (x.clone(), None, inst.default_span))
            .collect(),
        _ => Vec::new(),
    }
}

/// Converts JSON to a CEL value with integers as `int` (serde's conversion would make them
/// `uint`, and `uint + int` is a type error in CEL).
pub fn to_cel(v: &Json) -> cel::Value {
    match v {
        Json::Null => cel::Value::Null,
        Json::Bool(b) => cel::Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => cel::Value::Int(i),
            None => cel::Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => cel::Value::String(Arc::new(s.clone())),
        Json::Array(a) => cel::Value::List(Arc::new(a.iter().map(to_cel).collect())),
        Json::Object(m) => {
            let map: HashMap<String, cel::Value> =
                m.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect();
            cel::Value::from(map)
        }
    }
}

fn show(v: &cel::Value) -> String {
    match v {
        cel::Value::Int(i) => i.to_string(),
        cel::Value::UInt(u) => u.to_string(),
        cel::Value::Float(f) => {
            if f.fract() == 0.0 {
                format!("{f:.0}")
            } else {
                format!("{f:.2}")
            }
        }
        cel::Value::String(s) => s.to_string(),
        cel::Value::Bool(b) => b.to_string(),
        cel::Value::Null => "null".into(),
        cel::Value::List(l) => format!("[{}]", l.iter().map(show).collect::<Vec<_>>().join(", ")),
        other => format!("{other:?}"),
    }
}

/// What the worker sends back for one finding.
struct Hit {
    policy: usize,
    span: Span,
    message: String,
    workload: Option<String>,
    database: Option<String>,
}

/// Evaluates every policy. Runtime errors other than a missing key make the policy report a
/// `policy-error` finding; exceeding [`budget`] is an `Err` (the run cannot be trusted).
pub fn evaluate(
    policies: &[Policy],
    model: &Model,
    budgets: &[Budget],
    files: &[LoadedFile],
    db: &SourceDb,
) -> Result<Vec<Diagnostic>, String> {
    if policies.is_empty() {
        return Ok(Vec::new());
    }
    let jobs = jobs(policies, model, budgets, files, db);
    let sources: Vec<(String, String, Vec<String>)> = policies
        .iter()
        .map(|p| {
            let exprs = template_parts(&p.message)
                .into_iter()
                .filter_map(|part| match part {
                    Part::Expr(e) => Some(e.to_string()),
                    Part::Text(_) => None,
                })
                .collect();
            (p.condition.clone(), p.message.clone(), exprs)
        })
        .collect();
    let ids: Vec<String> = policies.iter().map(|p| p.id.clone()).collect();
    let (tx, rx) = std::sync::mpsc::channel::<Result<(Vec<Hit>, Vec<(usize, String)>), usize>>();
    let progress = Arc::new(std::sync::atomic::AtomicUsize::new(usize::MAX));
    let progress_w = progress.clone();
    std::thread::spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_jobs(&sources, jobs, &progress_w)
        }));
        let _ = tx.send(result.map_err(|_| progress_w.load(std::sync::atomic::Ordering::Relaxed)));
    });
    let budget = budget();
    let (hits, errors) = match rx.recv_timeout(budget) {
        Ok(Ok(r)) => r,
        Ok(Err(p)) => {
            let id = ids.get(p).cloned().unwrap_or_default();
            return Err(format!("policy `{id}` crashed the expression evaluator"));
        }
        Err(_) => {
            let p = progress.load(std::sync::atomic::Ordering::Relaxed);
            let id = ids.get(p).cloned().unwrap_or_else(|| "?".into());
            return Err(format!(
                "policy evaluation exceeded its {} ms budget (in policy `{id}`); simplify its condition",
                budget.as_millis()
            ));
        }
    };
    let mut out = Vec::new();
    for h in hits {
        let p = &policies[h.policy];
        let mut d =
            Diagnostic::new(&p.id, p.severity, h.span, h.message).with_label(p.summary.clone());
        d.workload = h.workload;
        d.database = h.database;
        d = d.related(p.condition_span, format!("condition of policy `{}`", p.id));
        if !p.remediation.is_empty() {
            d = d.help(p.remediation.trim().to_string());
        }
        out.push(d);
    }
    for (pi, msg) in errors {
        let p = &policies[pi];
        out.push(
            Diagnostic::new(
                "policy-error",
                crate::diag::Severity::Warning,
                p.condition_span,
                format!("policy `{}` failed to evaluate: {msg}", p.id),
            )
            .with_label("this condition")
            .help("guard optional fields with `has(…)` and compare values of one type"),
        );
    }
    Ok(out)
}

type Compiled = (cel::Program, Vec<Result<cel::Program, String>>, String);

fn run_jobs(
    sources: &[(String, String, Vec<String>)],
    jobs: Vec<Job>,
    progress: &std::sync::atomic::AtomicUsize,
) -> (Vec<Hit>, Vec<(usize, String)>) {
    let compiled: Vec<Option<Compiled>> = sources
        .iter()
        .map(|(cond, msg, exprs)| {
            let c = cel::Program::compile(cond).ok()?;
            let parts = exprs
                .iter()
                .map(|e| cel::Program::compile(e).map_err(|e| e.to_string()))
                .collect();
            Some((c, parts, msg.clone()))
        })
        .collect();
    let mut hits = Vec::new();
    let mut errors: Vec<(usize, String)> = Vec::new();
    // The standard library is registered once; each job is a scope inside it.
    let root = cel::Context::default();
    // Every policy on an entity gets the same (shared) variables: convert them once. The
    // entry keeps its `Vars` alive, so an address cannot be reused while it is a key.
    let mut converted: HashMap<*const (&'static str, Json), (Vars, Vec<cel::Value>)> =
        HashMap::new();
    for job in jobs {
        progress.store(job.policy, std::sync::atomic::Ordering::Relaxed);
        let Some((cond, parts, msg)) = &compiled[job.policy] else {
            continue;
        };
        let mut ctx = root.new_inner_scope();
        let (_, values) = converted.entry(job.vars.as_ptr()).or_insert_with(|| {
            let values = job.vars.iter().map(|(_, v)| to_cel(v)).collect();
            (Arc::clone(&job.vars), values)
        });
        for ((name, _), v) in job.vars.iter().zip(values.iter()) {
            ctx.add_variable_from_value(*name, v.clone());
        }
        let items: Vec<(Option<&Json>, Span)> = match &job.items {
            None => vec![(None, job.span)],
            Some(list) => list.iter().map(|(v, s)| (Some(v), *s)).collect(),
        };
        for (item, span) in items {
            let mut inner = ctx.new_inner_scope();
            if let Some(v) = item {
                inner.add_variable_from_value("item", to_cel(v));
            }
            match cond.execute(&inner) {
                Ok(cel::Value::Bool(true)) => {
                    let mut text = String::new();
                    let mut pi = 0;
                    for part in template_parts(msg) {
                        match part {
                            Part::Text(t) => text.push_str(t),
                            Part::Expr(_) => {
                                let v = parts
                                    .get(pi)
                                    .and_then(|p| p.as_ref().ok())
                                    .map(|p| p.execute(&inner));
                                pi += 1;
                                match v {
                                    Some(Ok(v)) => text.push_str(&show(&v)),
                                    _ => text.push('?'),
                                }
                            }
                        }
                    }
                    hits.push(Hit {
                        policy: job.policy,
                        span,
                        message: text,
                        workload: job.workload.clone(),
                        database: job.database.clone(),
                    });
                }
                Ok(cel::Value::Bool(false)) | Err(cel::ExecutionError::NoSuchKey(_)) => {}
                Ok(other) => {
                    if !errors.iter().any(|(p, _)| *p == job.policy) {
                        errors.push((
                            job.policy,
                            format!("the condition gave {other:?}, not a bool"),
                        ));
                    }
                }
                Err(e) => {
                    if !errors.iter().any(|(p, _)| *p == job.policy) {
                        errors.push((job.policy, e.to_string()));
                    }
                }
            }
        }
    }
    (hits, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_into_text_and_expressions() {
        let parts = template_parts("{{ a.b }} is {{c}}%");
        let shown: Vec<String> = parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => format!("T({t})"),
                Part::Expr(e) => format!("E({e})"),
            })
            .collect();
        assert_eq!(shown, ["E(a.b)", "T( is )", "E(c)", "T(%)"]);
    }

    #[test]
    fn paths_are_found_in_order() {
        assert_eq!(
            paths_in(
                "!has(item.resources.limits) || object.spec.replicas < 2",
                &["item", "object"]
            ),
            ["item.resources.limits", "object.spec.replicas"]
        );
        assert_eq!(
            paths_in("myobject.x + object", &["object"]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn integers_stay_ints() {
        let v = to_cel(&serde_json::json!({"a": 1}));
        let mut ctx = cel::Context::default();
        ctx.add_variable_from_value("x", v);
        let p = cel::Program::compile("x.a + 1 == 2").unwrap();
        assert_eq!(p.execute(&ctx), Ok(cel::Value::Bool(true)));
    }
}
