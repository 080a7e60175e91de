//! Workloads: pod templates with replicas, autoscalers and rollout strategy.

use std::collections::HashMap;

use super::objects::{Index, Object};
use super::{Autoscaler, Model, Strategy, Surge, Workload};
use crate::config::Config;
use crate::parse::Node;
use crate::report::Fact;

/// A workload with the nodes linking needs.
#[derive(Debug)]
pub struct Source<'a> {
    /// Index into [`Model::workloads`].
    pub index: usize,
    /// The object.
    pub object: &'a Object<'a>,
    /// Pod template metadata (labels, annotations).
    pub pod_meta: Option<&'a Node>,
    /// Pod spec.
    pub pod_spec: &'a Node,
}

impl Source<'_> {
    /// Pod labels.
    pub fn labels(&self) -> Vec<(&str, &Node)> {
        super::objects::string_map(self.pod_meta.and_then(|m| m.get("labels")))
    }

    /// An annotation from the pod template, else from the workload's own metadata.
    pub fn annotation(&self, key: &str) -> Option<&Node> {
        self.pod_meta
            .and_then(|m| m.path(&["annotations", key]))
            .or_else(|| self.object.node.path(&["metadata", "annotations", key]))
    }
}

const WORKLOAD_KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "Pod",
    "Rollout",
];

/// Collects every workload object into the model.
pub fn collect<'a>(idx: &'a Index<'a>, config: &Config, model: &mut Model) -> Vec<Source<'a>> {
    let scalers = autoscalers(idx);
    let mut out = Vec::new();
    for o in &idx.objects {
        if !WORKLOAD_KINDS.contains(&o.kind) {
            continue;
        }
        if o.kind == "Rollout" && o.group() != "argoproj.io" {
            continue;
        }
        let spec = o.node.get("spec");
        let template = match o.kind {
            "Pod" => Some(o.node),
            "CronJob" => spec.and_then(|s| s.path(&["jobTemplate", "spec", "template"])),
            _ => spec.and_then(|s| s.get("template")),
        };
        let Some(template) = template else { continue };
        let Some(pod_spec) = (if o.kind == "Pod" {
            spec
        } else {
            template.get("spec")
        }) else {
            continue;
        };
        let index = model.workloads.len();
        model.workloads.push(workload(o, spec, &scalers, config));
        out.push(Source {
            index,
            object: o,
            pod_meta: template.get("metadata"),
            pod_spec,
        });
    }
    out
}

fn workload(o: &Object, spec: Option<&Node>, scalers: &Scalers, config: &Config) -> Workload {
    let int_at = |n: Option<&Node>| n.and_then(|n| n.as_i64().map(|v| Fact::at(v, n.span)));
    let replicas = match o.kind {
        "Job" => int_at(spec.and_then(|s| s.get("parallelism")))
            .unwrap_or_else(|| Fact::default(1, "Job parallelism default")),
        "CronJob" => int_at(spec.and_then(|s| s.path(&["jobTemplate", "spec", "parallelism"])))
            .unwrap_or_else(|| Fact::default(1, "Job parallelism default")),
        "Pod" => Fact::default(1, "a bare Pod is one pod"),
        "DaemonSet" => config
            .node_count
            .clone()
            .unwrap_or_else(|| Fact::default(1, "DaemonSet without a declared node count")),
        _ => int_at(spec.and_then(|s| s.get("replicas")))
            .unwrap_or_else(|| Fact::default(1, "spec.replicas default")),
    };
    let unbounded = (o.kind == "DaemonSet" && config.node_count.is_none()).then(|| {
        (
            o.name_span,
            "a DaemonSet runs one pod per node and no node count is declared (`nodes.count` in poolguard.yaml)".to_string(),
        )
    });
    let strategy = strategy(o, spec);
    let autoscaler = autoscaler(o, scalers);
    Workload {
        id: o.id(),
        kind: o.kind.to_string(),
        namespace: o.namespace.to_string(),
        name: o.name.to_string(),
        span: o.name_span,
        replicas,
        autoscaler,
        strategy,
        unbounded,
        cron_overlap: cron_overlap(o, spec),
    }
}

fn surge_of(n: Option<&Node>, default_pct: i64, what: &'static str) -> Surge {
    if let Some(n) = n {
        if let Some(v) = n.as_i64() {
            return Surge {
                value: Fact::at(v, n.span),
                percent: false,
            };
        }
        if let Some(p) = n.as_str().and_then(|s| s.trim().strip_suffix('%'))
            && let Some(v) = crate::parse::parse_int(p.trim())
        {
            return Surge {
                value: Fact::at(v, n.span),
                percent: true,
            };
        }
    }
    Surge {
        value: Fact::default(default_pct, what),
        percent: true,
    }
}

fn strategy(o: &Object, spec: Option<&Node>) -> Strategy {
    match o.kind {
        "Deployment" => {
            let st = spec.and_then(|s| s.get("strategy"));
            let ty = st.and_then(|s| s.get("type"));
            if ty.and_then(Node::as_str) == Some("Recreate") {
                return Strategy::NoSurge {
                    why: "Recreate strategy stops old pods before starting new ones",
                    span: ty.map(|t| t.span),
                };
            }
            Strategy::Rolling {
                surge: surge_of(
                    st.and_then(|s| s.path(&["rollingUpdate", "maxSurge"])),
                    25,
                    "Deployment maxSurge default 25%",
                ),
            }
        }
        "Rollout" => {
            let st = spec.and_then(|s| s.get("strategy"));
            if let Some(bg) = st.and_then(|s| s.get("blueGreen")) {
                let preview = bg
                    .get("previewReplicaCount")
                    .and_then(|n| n.as_i64().map(|v| Fact::at(v, n.span)));
                return Strategy::BlueGreen {
                    preview,
                    span: st
                        .and_then(|s| s.get_entry("blueGreen"))
                        .map(|(k, _)| k.span)
                        .unwrap_or(bg.span),
                };
            }
            let canary = st.and_then(|s| s.get("canary"));
            if let Some(c) = canary
                && let Some((k, _)) = c.get_entry("trafficRouting")
                && c.get("dynamicStableScale").and_then(Node::as_bool) != Some(true)
            {
                return Strategy::FullCanary { span: k.span };
            }
            Strategy::Rolling {
                surge: surge_of(
                    canary.and_then(|c| c.get("maxSurge")),
                    25,
                    "Argo Rollouts canary maxSurge default 25%",
                ),
            }
        }
        "StatefulSet" => Strategy::NoSurge {
            why: "a StatefulSet replaces each pod only after the old one is gone",
            span: None,
        },
        "DaemonSet" => Strategy::Rolling {
            surge: surge_of(
                spec.and_then(|s| s.path(&["updateStrategy", "rollingUpdate", "maxSurge"])),
                0,
                "DaemonSet maxSurge default 0",
            ),
        },
        "Job" | "CronJob" => Strategy::NoSurge {
            why: "Jobs are not rolled",
            span: None,
        },
        _ => Strategy::NoSurge {
            why: "not rolled by a controller",
            span: None,
        },
    }
}

/// An autoscaler object with what it reads.
struct Scaler<'a> {
    object: &'a Object<'a>,
    kind: &'static str,
    max_key: &'static str,
    spec: Option<&'a Node>,
}

/// Autoscalers by the (namespace, kind, name) of the workload they target, each list in input
/// order.
type Scalers<'a> = HashMap<(&'a str, &'a str, &'a str), Vec<Scaler<'a>>>;

fn autoscalers<'a>(idx: &'a Index<'a>) -> Scalers<'a> {
    let mut out: Scalers = HashMap::new();
    for a in &idx.objects {
        let (kind, default_kind, max_key) = match (a.kind, a.group()) {
            ("HorizontalPodAutoscaler", "autoscaling") => {
                ("HorizontalPodAutoscaler", None, "maxReplicas")
            }
            ("ScaledObject", "keda.sh") => ("ScaledObject", Some("Deployment"), "maxReplicaCount"),
            _ => continue,
        };
        let spec = a.node.get("spec");
        let target = spec.and_then(|s| s.get("scaleTargetRef"));
        let tname = target.and_then(|t| t.get("name")).and_then(Node::as_str);
        let tkind = target
            .and_then(|t| t.get("kind"))
            .and_then(Node::as_str)
            .or(default_kind);
        let (Some(tname), Some(tkind)) = (tname, tkind) else {
            continue;
        };
        out.entry((a.namespace, tkind, tname))
            .or_default()
            .push(Scaler {
                object: a,
                kind,
                max_key,
                spec,
            });
    }
    out
}

fn autoscaler(o: &Object, scalers: &Scalers) -> Option<Autoscaler> {
    let mut found: Option<Autoscaler> = None;
    for a in scalers.get(&(o.namespace, o.kind, o.name))? {
        let (kind, max_key, spec) = (a.kind, a.max_key, a.spec);
        let max_node = spec.and_then(|s| s.get(max_key));
        let max = match max_node.and_then(|n| n.as_i64().map(|v| Fact::at(v, n.span))) {
            Some(f) => f,
            None if kind == "ScaledObject" => Fact::default(100, "KEDA maxReplicaCount default"),
            None => continue,
        };
        // Two autoscalers on one workload fight each other; the larger maximum is the
        // worst case.
        if found
            .as_ref()
            .is_some_and(|prev| prev.max.value >= max.value)
        {
            continue;
        }
        found = Some(Autoscaler {
            kind,
            id: a.object.id(),
            max,
        });
    }
    found
}

/// A CronJob whose runs may pile up: `concurrencyPolicy: Allow` (the default) with no
/// `activeDeadlineSeconds` to end a run.
fn cron_overlap(o: &Object, spec: Option<&Node>) -> Option<crate::source::Span> {
    if o.kind != "CronJob" {
        return None;
    }
    let policy = spec.and_then(|s| s.get("concurrencyPolicy"));
    if policy.and_then(Node::as_str).is_some_and(|p| p != "Allow") {
        return None;
    }
    let deadline = spec.and_then(|s| s.path(&["jobTemplate", "spec", "activeDeadlineSeconds"]));
    if deadline.is_some() {
        return None;
    }
    Some(policy.map_or(o.name_span, |p| p.span))
}
