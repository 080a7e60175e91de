//! Property tests (issue 7): the capacity math of SPEC §4 is monotonic and matches the
//! formula, suggested pool sizes pass when applied and one more fails, and splicing a value
//! into a YAML scalar at the span the parser reports changes that value and nothing else.
//!
//! Models are built in process from generated manifests through the same functions the CLI
//! runs (`input::load` → `model::build` → `capacity::evaluate`), so a case costs well under a
//! millisecond and every property holds for what users actually write, not for hand-made
//! structs.

use std::path::Path;

use poolguard::capacity::{self, Budget, ClientNumbers};
use poolguard::config::{self, Config, Scenario};
use poolguard::input::{self, Source};
use poolguard::model::{self, Model, Strategy as PodStrategy, Surge, Workload};
use poolguard::parse::{self, Format, Limits, Node, Value};
use poolguard::report::{Fact, Status};
use poolguard::source::{FileId, SourceDb};
use proptest::prelude::*;

/// Cases per property: `PROPTEST_CASES` when set (for longer local runs), else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------------
// Generated repositories.

#[derive(Clone, Copy, Debug, PartialEq)]
enum Rollout {
    /// `maxSurge: N`.
    Count(i64),
    /// `maxSurge: "P%"`.
    Percent(i64),
    /// No strategy: the default 25 %.
    Default,
    /// `strategy: {type: Recreate}`.
    Recreate,
    /// A StatefulSet.
    StatefulSet,
}

#[derive(Clone, Copy, Debug)]
struct Spec {
    replicas: i64,
    rollout: Rollout,
    pool: i64,
    processes: i64,
}

impl Spec {
    fn pods_peak(&self) -> i64 {
        let r = self.replicas;
        r + match self.rollout {
            Rollout::Count(n) => n,
            Rollout::Percent(p) => (r * p + 99) / 100,
            Rollout::Default => (r * 25 + 99) / 100,
            Rollout::Recreate | Rollout::StatefulSet => 0,
        }
    }

    fn conn_pod(&self) -> i64 {
        self.pool * self.processes
    }
}

/// `(S0, S1, S2)` by SPEC §4, independently of poolguard's code.
fn spec_sums(ws: &[Spec]) -> (i64, i64, i64) {
    let s0: i64 = ws.iter().map(|w| w.replicas * w.conn_pod()).sum();
    let s2: i64 = ws.iter().map(|w| w.pods_peak() * w.conn_pod()).sum();
    let d = ws
        .iter()
        .map(|w| (w.pods_peak() - w.replicas) * w.conn_pod())
        .max()
        .unwrap_or(0);
    (s0, s0 + d, s2)
}

fn manifest(i: usize, w: &Spec) -> String {
    let (kind, strategy) = match w.rollout {
        Rollout::Count(n) => (
            "Deployment",
            format!("  strategy:\n    rollingUpdate: {{maxSurge: {n}}}\n"),
        ),
        Rollout::Percent(p) => (
            "Deployment",
            format!("  strategy:\n    rollingUpdate: {{maxSurge: \"{p}%\"}}\n"),
        ),
        Rollout::Default => ("Deployment", String::new()),
        Rollout::Recreate => ("Deployment", "  strategy: {type: Recreate}\n".to_string()),
        Rollout::StatefulSet => ("StatefulSet", format!("  serviceName: w{i}\n")),
    };
    format!(
        "apiVersion: apps/v1
kind: {kind}
metadata: {{name: w{i}, namespace: p}}
spec:
  replicas: {r}
{strategy}  template:
    metadata:
      annotations:
        poolguard.dev/pool-max: \"{pool}\"
        poolguard.dev/processes: \"{procs}\"
    spec:
      containers:
        - name: app
          image: app:1
          env:
            - name: DATABASE_URL
              value: postgres://app@db.prop.internal:5432/app
",
        r = w.replicas,
        pool = w.pool,
        procs = w.processes
    )
}

/// Builds the model of `ws` against a declared database `db` and evaluates its budget.
fn evaluate(ws: &[Spec], max_connections: i64) -> (Model, Budget) {
    let mut db = SourceDb::default();
    let cfg_file = db.add(
        "poolguard.yaml".into(),
        format!(
            "databases:\n  - name: db\n    engine: postgres\n    max_connections: {max_connections}\n    hosts: [\"*.prop.internal\"]\n"
        )
        .into(),
    );
    let cfg: Config = config::load(&db, cfg_file).expect("valid config");
    let stream: Vec<String> = ws.iter().enumerate().map(|(i, w)| manifest(i, w)).collect();
    let inputs = input::load(
        vec![Source::Stdin(stream.join("---\n"))],
        Path::new("/"),
        &cfg.limits,
        &mut db,
    );
    assert!(inputs.diagnostics.is_empty(), "{:?}", inputs.diagnostics);
    let m = model::build(&inputs.files, &mut db, &cfg);
    let budgets = capacity::evaluate(&m, &cfg);
    let b = budgets
        .into_iter()
        .find(|b| m.databases[b.database].id == "db")
        .expect("budget of db");
    assert_eq!(b.clients.len(), ws.len(), "every workload links to db");
    (m, b)
}

fn values(b: &Budget) -> (i64, i64, i64) {
    (
        b.steady.value().unwrap(),
        b.rollout.value().unwrap(),
        b.all_rollouts.value().unwrap(),
    )
}

fn rollout() -> impl Strategy<Value = Rollout> {
    prop_oneof![
        (0i64..6).prop_map(Rollout::Count),
        (0i64..=150).prop_map(Rollout::Percent),
        Just(Rollout::Default),
        Just(Rollout::Recreate),
        Just(Rollout::StatefulSet),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (0i64..12, rollout(), 0i64..30, 1i64..5).prop_map(|(replicas, rollout, pool, processes)| Spec {
        replicas,
        rollout,
        pool,
        processes,
    })
}

/// One parameter of one workload made larger.
#[derive(Clone, Copy, Debug)]
enum Bump {
    Replicas(i64),
    Pool(i64),
    Processes(i64),
    Surge(i64),
}

fn bump() -> impl Strategy<Value = Bump> {
    prop_oneof![
        (1i64..5).prop_map(Bump::Replicas),
        (1i64..10).prop_map(Bump::Pool),
        (1i64..3).prop_map(Bump::Processes),
        (1i64..50).prop_map(Bump::Surge),
    ]
}

fn apply(w: &mut Spec, b: Bump) {
    match b {
        Bump::Replicas(k) => w.replicas += k,
        Bump::Pool(k) => w.pool += k,
        Bump::Processes(k) => w.processes += k,
        Bump::Surge(k) => match &mut w.rollout {
            Rollout::Count(n) => *n += k,
            Rollout::Percent(p) => *p += k,
            // Surge has no meaning here; the default becomes an explicit, larger percentage.
            Rollout::Default => w.rollout = Rollout::Percent(25 + k),
            Rollout::Recreate | Rollout::StatefulSet => {}
        },
    }
}

/// A client's numbers taken from a real budget, so the test does not depend on every field
/// of `ClientNumbers` (fields are set by assignment below).
fn template_numbers() -> ClientNumbers {
    let (_, b) = evaluate(
        &[Spec {
            replicas: 1,
            rollout: Rollout::Default,
            pool: 1,
            processes: 1,
        }],
        100,
    );
    b.clients[0].clone()
}

fn template_workload() -> Workload {
    let (m, _) = evaluate(
        &[Spec {
            replicas: 1,
            rollout: Rollout::Default,
            pool: 1,
            processes: 1,
        }],
        100,
    );
    m.workloads
        .into_iter()
        .find(|w| w.name == "w0")
        .expect("w0")
}

fn surge(value: i64, percent: bool) -> Surge {
    Surge {
        value: Fact::default(value, "test"),
        percent,
    }
}

/// Small numbers mostly, and now and then numbers near `i64::MAX`, where the sums saturate.
fn count() -> impl Strategy<Value = i64> {
    prop_oneof![8 => 0i64..200, 1 => 0i64..=i64::MAX, 1 => (i64::MAX - 1000)..=i64::MAX]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(128), ..ProptestConfig::default() })]

    /// Through the whole pipeline: poolguard's S0/S1/S2 are SPEC §4's, S0 ≤ S1 ≤ S2, and
    /// more replicas, larger pools, more processes or a larger surge never lower any of them.
    #[test]
    fn pipeline_sums_match_the_spec_and_never_drop_when_a_workload_grows(
        ws in prop::collection::vec(spec(), 1..5),
        which in any::<prop::sample::Index>(),
        b in bump(),
    ) {
        let (_, before) = evaluate(&ws, 10_000);
        let (s0, s1, s2) = values(&before);
        prop_assert_eq!((s0, s1, s2), spec_sums(&ws));
        prop_assert!(s0 <= s1 && s1 <= s2, "{} {} {}", s0, s1, s2);
        let mut grown = ws.clone();
        apply(&mut grown[which.index(ws.len())], b);
        let (_, after) = evaluate(&grown, 10_000);
        let (t0, t1, t2) = values(&after);
        prop_assert_eq!((t0, t1, t2), spec_sums(&grown));
        prop_assert!(t0 >= s0 && t1 >= s1 && t2 >= s2,
            "{:?} lowered ({}, {}, {}) to ({}, {}, {})", b, s0, s1, s2, t0, t1, t2);
    }

    /// `capacity::sums` directly, with numbers up to `i64::MAX`: growing steady pods, extra
    /// pods or connections per pod of one client never lowers S0, S1 or S2 (saturation
    /// included), and S0 ≤ S1 ≤ S2.
    #[test]
    fn sums_are_monotonic_even_when_they_saturate(
        clients in prop::collection::vec((count(), count(), count()), 1..6),
        which in any::<prop::sample::Index>(),
        field in 0usize..3,
        by in count(),
    ) {
        let t = template_numbers();
        let numbers = |cs: &[(i64, i64, i64)]| -> Vec<ClientNumbers> {
            cs.iter()
                .map(|&(r, extra, conn)| {
                    let mut n = t.clone();
                    n.pods_steady = Some(r);
                    n.pods_peak = Some(r.saturating_add(extra));
                    n.conn_pod = Some(conn);
                    n
                })
                .collect()
        };
        let (a0, a1, a2) = capacity::sums(&numbers(&clients));
        prop_assert!(a0.bounded <= a1.bounded && a1.bounded <= a2.bounded);
        let mut grown = clients.clone();
        let c = &mut grown[which.index(clients.len())];
        match field {
            0 => c.0 = c.0.saturating_add(by),
            1 => c.1 = c.1.saturating_add(by),
            _ => c.2 = c.2.saturating_add(by),
        }
        let (b0, b1, b2) = capacity::sums(&numbers(&grown));
        prop_assert!(b0.bounded >= a0.bounded, "S0 {} → {}", a0.bounded, b0.bounded);
        prop_assert!(b1.bounded >= a1.bounded, "S1 {} → {}", a1.bounded, b1.bounded);
        prop_assert!(b2.bounded >= a2.bounded, "S2 {} → {}", a2.bounded, b2.bounded);
    }

    /// `surge_pods` and `pods_peak`: more replicas or a larger surge never means fewer pods at
    /// the peak, for every strategy, and the peak is never below steady state.
    #[test]
    fn peak_pods_are_monotonic_in_replicas_and_surge(
        r in count(),
        dr in count(),
        s in count(),
        ds in count(),
        percent in any::<bool>(),
        kind in 0usize..4,
    ) {
        // A percentage surge is `ceil(r × pct / 100)`; keep `r × pct` below saturation, where
        // `capacity::ceil_pct` overflows (tests/regressions.rs, `huge_percentage_surge…`).
        let (r, dr, s, ds) = if percent {
            (r % (1 << 40), dr % (1 << 40), s % (1 << 20), ds % (1 << 20))
        } else {
            (r, dr, s, ds)
        };
        let base = template_workload();
        let with = |r: i64, s: i64| {
            let mut w = base.clone();
            w.replicas = Fact::default(r, "test");
            w.autoscaler = None;
            w.strategy = match kind {
                0 => PodStrategy::Rolling { surge: surge(s, percent) },
                1 => PodStrategy::NoSurge { why: "test", span: None },
                2 => PodStrategy::BlueGreen {
                    preview: (!percent).then(|| Fact::default(s, "test")),
                    span: Default::default(),
                },
                _ => PodStrategy::FullCanary { span: Default::default() },
            };
            w
        };
        let peak = |r, s| capacity::pods_peak(&with(r, s)).unwrap();
        let steady = capacity::pods_steady(&with(r, s)).unwrap();
        prop_assert!(peak(r, s) >= steady);
        prop_assert!(peak(r.saturating_add(dr), s) >= peak(r, s));
        prop_assert!(peak(r, s.saturating_add(ds)) >= peak(r, s));
        let sp = |r, s| capacity::surge_pods(r, &surge(s, percent));
        prop_assert!(sp(r, s) >= 0);
        prop_assert!(sp(r.saturating_add(dr), s) >= sp(r, s));
        prop_assert!(sp(r, s.saturating_add(ds)) >= sp(r, s));
    }

    /// The suggested pool size, written back into the manifest, passes the gate; one more
    /// fails it (when the suggestion is below the current size, so "one more" is a real
    /// alternative); and no suggestion means not even a pool of 0 fits.
    #[test]
    fn suggested_pool_passes_when_applied_and_one_more_fails(
        ws in prop::collection::vec(spec(), 1..4),
        slack in -40i64..10,
    ) {
        let (_, _, s2) = spec_sums(&ws);
        // Around the demand, so most cases are over capacity; at least one usable slot.
        let max_connections = (s2 + 3 + slack).max(4);
        let (m, b) = evaluate(&ws, max_connections);
        let fails = |ws: &[Spec]| evaluate(ws, max_connections).1.status == Status::Error;
        for ci in 0..b.clients.len() {
            let client = &m.clients[b.clients[ci].client];
            let name = &m.workloads[client.workload].name;
            let i: usize = name.trim_start_matches('w').parse().unwrap();
            let current = ws[i].pool;
            let with_pool = |p: i64| {
                let mut ws2 = ws.clone();
                ws2[i].pool = p;
                ws2
            };
            match capacity::suggest_pool(&m, &b, ci, Scenario::Rollout) {
                Some(p) => {
                    prop_assert!((0..=current).contains(&p), "suggested {} for pool {}", p, current);
                    prop_assert!(!fails(&with_pool(p)), "{}: suggested pool {} still fails", name, p);
                    if p < current {
                        prop_assert!(fails(&with_pool(p + 1)),
                            "{}: pool {} also passes, so {} is not the largest", name, p + 1, p);
                    }
                }
                None => prop_assert!(fails(&with_pool(0)),
                    "{}: no suggestion, yet pool 0 passes", name),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Splicing into YAML at a scalar's span.

/// A generated YAML value.
#[derive(Clone, Debug)]
enum Y {
    /// A scalar: its decoded text and how it is written.
    Scalar(String, Repr),
    Map(Vec<(String, Y)>),
    Seq(Vec<Y>),
    /// A flow mapping of scalars, `{a: 1, b: "x"}`.
    Flow(Vec<(String, String, Repr)>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Repr {
    Plain,
    Double,
    Single,
}

/// How `text` is written in YAML with `repr`.
fn render_scalar(text: &str, repr: Repr) -> String {
    match repr {
        Repr::Plain => text.to_string(),
        Repr::Double => {
            let mut s = String::from("\"");
            for c in text.chars() {
                match c {
                    '"' => s.push_str("\\\""),
                    '\\' => s.push_str("\\\\"),
                    '\t' => s.push_str("\\t"),
                    _ => s.push(c),
                }
            }
            s.push('"');
            s
        }
        Repr::Single => format!("'{}'", text.replace('\'', "''")),
    }
}

fn plain_text() -> impl Strategy<Value = String> {
    // Plain scalars that stay strings or integers wherever they are put, flow context included.
    prop_oneof![
        "[0-9]{1,6}",
        "[a-z][a-z0-9_]{0,8}",
        "[a-zé☕][a-z0-9é☕]{0,5}"
    ]
}

fn quoted_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 \"'\\\\:#,{}\\[\\]é☕\t-]{0,12}"
}

fn scalar() -> impl Strategy<Value = (String, Repr)> {
    prop_oneof![
        plain_text().prop_map(|t| (t, Repr::Plain)),
        quoted_text().prop_map(|t| (t, Repr::Double)),
        quoted_text().prop_map(|t| (t, Repr::Single)),
    ]
}

fn key() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_é]{0,6}"
}

fn unique<T>(entries: Vec<(String, T)>) -> Vec<(String, T)> {
    let mut seen = std::collections::HashSet::new();
    entries
        .into_iter()
        .filter(|(k, _)| seen.insert(k.clone()))
        .collect()
}

fn yaml_value() -> impl Strategy<Value = Y> {
    let leaf = prop_oneof![
        4 => scalar().prop_map(|(t, r)| Y::Scalar(t, r)),
        1 => prop::collection::vec((key(), scalar()), 1..4).prop_map(|es| {
            Y::Flow(unique(es).into_iter().map(|(k, (t, r))| (k, t, r)).collect())
        }),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec((key(), inner.clone()), 1..4).prop_map(|es| Y::Map(unique(es))),
            prop::collection::vec(inner, 1..4).prop_map(Y::Seq),
        ]
    })
}

/// Renders block YAML at `indent`; `comments` adds a trailing comment after scalars.
fn render(y: &Y, indent: usize, out: &mut String, comments: bool) {
    let pad = " ".repeat(indent);
    match y {
        Y::Map(es) => {
            for (k, v) in es {
                out.push_str(&pad);
                out.push_str(k);
                out.push(':');
                render_child(v, indent, out, comments);
            }
        }
        Y::Seq(items) => {
            for v in items {
                out.push_str(&pad);
                out.push('-');
                render_child(v, indent, out, comments);
            }
        }
        Y::Scalar(..) | Y::Flow(..) => {
            out.push_str(&pad);
            render_child(y, indent, out, comments);
        }
    }
}

fn render_child(v: &Y, indent: usize, out: &mut String, comments: bool) {
    match v {
        Y::Scalar(t, r) => {
            out.push(' ');
            out.push_str(&render_scalar(t, *r));
            if comments {
                out.push_str("  # note: ☕ \"x\"");
            }
            out.push('\n');
        }
        Y::Flow(es) => {
            let items: Vec<String> = es
                .iter()
                .map(|(k, t, r)| format!("{k}: {}", render_scalar(t, *r)))
                .collect();
            out.push_str(&format!(" {{{}}}\n", items.join(", ")));
        }
        Y::Map(_) | Y::Seq(_) => {
            out.push('\n');
            render(v, indent + 2, out, comments);
        }
    }
}

/// A step into a node.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every scalar of a parsed tree with its path (mapping values only, not keys).
fn scalars(n: &Node) -> Vec<(Vec<Step>, Node)> {
    let mut out = Vec::new();
    let mut stack = vec![(Vec::new(), n)];
    while let Some((path, n)) = stack.pop() {
        match &n.value {
            Value::Scalar(_) => out.push((path, n.clone())),
            Value::Seq(items) => {
                for (i, v) in items.iter().enumerate() {
                    let mut p = path.clone();
                    p.push(Step::Index(i));
                    stack.push((p, v));
                }
            }
            Value::Map(es) => {
                for (k, v) in es {
                    let mut p = path.clone();
                    p.push(Step::Key(k.as_str().unwrap_or("").to_string()));
                    stack.push((p, v));
                }
            }
        }
    }
    out.sort_by_key(|(_, n)| n.span.start);
    out
}

/// A scalar's decoded text (null and numbers included).
fn text_of(n: &Node) -> Option<&str> {
    n.as_scalar().map(|s| s.text.as_str())
}

fn parse_yaml(text: &str) -> Node {
    let p = parse::parse(Format::Yaml, FileId(0), text, &Limits::default());
    assert!(p.error.is_none(), "{:?} in\n{text}", p.error);
    assert_eq!(p.docs.len(), 1, "{text}");
    p.docs.into_iter().next().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), ..ProptestConfig::default() })]

    /// Replacing the bytes of one scalar's span with a new scalar and re-parsing yields the
    /// new value at the same path, the span covers exactly the written scalar (quotes
    /// included) before and after, and every other scalar keeps its value and its bytes
    /// (shifted by the length difference when after the splice).
    #[test]
    fn splicing_a_scalar_at_its_span_changes_only_that_value(
        doc in prop::collection::vec((key(), yaml_value()), 1..5),
        comments in any::<bool>(),
        which in any::<prop::sample::Index>(),
        (new_text, new_repr) in scalar(),
        crlf in any::<bool>(),
    ) {
        let mut text = String::new();
        render(&Y::Map(unique(doc)), 0, &mut text, comments);
        if crlf {
            text = text.replace('\n', "\r\n");
        }
        let tree = parse_yaml(&text);
        let before = scalars(&tree);
        prop_assume!(!before.is_empty());
        let (path, target) = &before[which.index(before.len())];
        let (s, e) = (target.span.start as usize, target.span.end as usize);
        prop_assert!(text.is_char_boundary(s) && text.is_char_boundary(e));
        // The span is the scalar as written: re-parsing that text alone gives the same value.
        let written = &text[s..e];
        let alone = parse_yaml(&format!("k: {written}\n"));
        prop_assert_eq!(
            alone.get("k").and_then(text_of),
            text_of(target),
            "span {}..{} = {:?}", s, e, written
        );
        let new = render_scalar(&new_text, new_repr);
        let spliced = format!("{}{}{}", &text[..s], new, &text[e..]);
        let after = scalars(&parse_yaml(&spliced));
        prop_assert_eq!(after.len(), before.len(), "{}", spliced);
        let delta = new.len() as i64 - (e - s) as i64;
        let shift = |x: u32| if x as usize >= e { (x as i64 + delta) as u32 } else { x };
        for ((p0, n0), (p1, n1)) in before.iter().zip(&after) {
            prop_assert_eq!(p0, p1);
            if p0 == path {
                prop_assert_eq!(text_of(n1), Some(new_text.as_str()));
                prop_assert_eq!((n1.span.start, n1.span.end), (s as u32, (s + new.len()) as u32));
            } else {
                prop_assert_eq!(text_of(n1), text_of(n0));
                prop_assert_eq!((n1.span.start, n1.span.end), (shift(n0.span.start), shift(n0.span.end)));
                prop_assert_eq!(
                    &spliced[n1.span.start as usize..n1.span.end as usize],
                    &text[n0.span.start as usize..n0.span.end as usize]
                );
            }
        }
    }
}
