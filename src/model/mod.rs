//! The model: workloads, databases and the links between them, every number with its origin.
//!
//! Built from the parsed inputs by [`build`]; rules and the capacity math read only this.

pub mod database;
pub mod endpoint;
pub mod env;
pub mod link;
pub mod mounts;
pub mod objects;
pub mod operators;
pub mod pooler;
pub mod workload;

use crate::config::{Config, Engine};
use crate::diag::Diagnostic;
use crate::input::LoadedFile;
use crate::report::Fact;
use crate::source::{SourceDb, Span};

/// How a workload replaces its pods.
#[derive(Clone, Debug, PartialEq)]
pub enum Strategy {
    /// Deployment RollingUpdate or Argo canary without traffic routing: `R + surge`.
    Rolling {
        /// `maxSurge`.
        surge: Surge,
    },
    /// No extra pods during a rollout (Recreate, StatefulSet, Job, CronJob, Pod).
    NoSurge {
        /// Why (`Recreate strategy`, `StatefulSet replaces pods one by one`).
        why: &'static str,
        /// Where the strategy is written, if anywhere.
        span: Option<Span>,
    },
    /// Argo Rollouts blueGreen: `R + preview`.
    BlueGreen {
        /// `previewReplicaCount`, else R.
        preview: Option<Fact>,
        /// Where `blueGreen` is written.
        span: Span,
    },
    /// Argo canary with traffic routing and no `dynamicStableScale`: `2R`.
    FullCanary {
        /// Where `trafficRouting` is written.
        span: Span,
    },
}

/// `maxSurge`: an absolute count or a percentage of R.
#[derive(Clone, Debug, PartialEq)]
pub struct Surge {
    /// The number written (count or percent).
    pub value: Fact,
    /// Whether `value` is a percentage.
    pub percent: bool,
}

/// An autoscaler targeting a workload.
#[derive(Clone, Debug, PartialEq)]
pub struct Autoscaler {
    /// `HorizontalPodAutoscaler` or `ScaledObject`.
    pub kind: &'static str,
    /// Its id.
    pub id: String,
    /// `maxReplicas` / `maxReplicaCount`.
    pub max: Fact,
}

/// One pod template with its replica behaviour.
#[derive(Clone, Debug)]
pub struct Workload {
    /// `namespace/Kind/name`.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Span of `metadata.name`.
    pub span: Span,
    /// `spec.replicas` (default 1), or `parallelism` for Jobs.
    pub replicas: Fact,
    /// Autoscaler, when one targets the workload.
    pub autoscaler: Option<Autoscaler>,
    /// Rollout behaviour.
    pub strategy: Strategy,
    /// Why the pod count has no bound (DaemonSet without a node count), if so.
    pub unbounded: Option<(Span, String)>,
    /// For a CronJob that may overlap itself without bound (`concurrencyPolicy: Allow`, the
    /// default, and no `activeDeadlineSeconds`): where that is decided.
    pub cron_overlap: Option<Span>,
}

/// A container's demand on one database.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerDemand {
    /// Container name.
    pub container: String,
    /// Span of the container's name.
    pub span: Span,
    /// Whether it is a classic init container (runs before the others, not beside them).
    pub init: bool,
    /// The stack that supplied the pool size (`spring-hikari`, `annotation`, `config`).
    pub stack: &'static str,
    /// Per-process pool maximum; `None` when unknown.
    pub pool_max: Option<Fact>,
    /// Processes per container.
    pub processes: Fact,
    /// Where the endpoint that links it is written.
    pub endpoint: Span,
    /// Other pool settings the stack read (for rules beyond the maximum).
    pub settings: Vec<crate::stacks::Setting>,
    /// Where the container logs in as a superuser, if it does (and why we think so).
    pub superuser: Option<(Span, String)>,
}

/// A workload's demand on one database (or, in [`Model::pooler_clients`], on one pooler).
#[derive(Clone, Debug, PartialEq)]
pub struct Client {
    /// Index into [`Model::workloads`].
    pub workload: usize,
    /// Index into [`Model::databases`] (into [`Model::poolers`] in `pooler_clients`).
    pub database: usize,
    /// The pooler it goes through: such clients are listed with the database but count
    /// against the pooler's client limit, not the database.
    pub via: Option<usize>,
    /// How `conn_pod_override` was computed, when it was (poolers).
    pub explain: Option<String>,
    /// Per-container demands.
    pub containers: Vec<ContainerDemand>,
    /// `poolguard.dev/connections-per-pod` or config `connections_per_pod`.
    pub conn_pod_override: Option<Fact>,
}

/// Where a database was discovered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatabaseSource {
    /// Declared in `poolguard.yaml`.
    Declared,
    /// An operator cluster's primary (CloudNativePG, Zalando, Crunchy).
    OperatorPrimary,
    /// An operator cluster's replicas (`-ro`, `-repl`, `-replicas` services); capacity is per replica
    /// and all read-only demand is counted against one, conservatively.
    OperatorReplicas,
    /// A StatefulSet/Deployment running a database server image.
    ServerWorkload,
}

/// One database server instance.
#[derive(Clone, Debug)]
pub struct Database {
    /// Id (`namespace/name`, or the declared name).
    pub id: String,
    /// Engine.
    pub engine: Engine,
    /// Where it is defined.
    pub span: Span,
    /// `max_connections`.
    pub max_connections: Fact,
    /// `superuser_reserved_connections` (postgres) — or a declared `reserved` total.
    pub superuser_reserved: Fact,
    /// `reserved_connections` (postgres ≥ 16), when not folded into a declared `reserved`.
    pub reserved_connections: Option<Fact>,
    /// Configured headroom.
    pub headroom: Option<Fact>,
    /// How it was found.
    pub source: DatabaseSource,
    /// Service names (namespace, name) that reach it.
    pub services: Vec<(String, String)>,
    /// Workload index of the server itself, for server workloads.
    pub server_workload: Option<usize>,
}

impl Database {
    /// Reserved slots in total.
    pub fn reserved(&self) -> i64 {
        self.superuser_reserved
            .value
            .saturating_add(self.reserved_connections.as_ref().map_or(0, |f| f.value))
    }
}

/// A connection pooler (PgBouncer and operator-managed poolers).
#[derive(Clone, Debug)]
pub struct Pooler {
    /// Id (its workload's id).
    pub id: String,
    /// `pgbouncer`, `cnpg-pooler`, `zalando-pooler`, `pgo-pgbouncer`.
    pub kind: &'static str,
    /// Its own workload (replicas and strategy).
    pub workload: usize,
    /// The database it routes to, once resolved.
    pub database: Option<usize>,
    /// Service names (namespace, name) that reach it.
    pub services: Vec<(String, String)>,
    /// Where it is defined.
    pub span: Span,
    /// Upstream hosts it connects to, with where they are written.
    pub upstream: Vec<(String, Span)>,
    /// `default_pool_size`.
    pub default_pool_size: Fact,
    /// `reserve_pool_size`.
    pub reserve_pool_size: Fact,
    /// `max_client_conn` (per pooler process).
    pub max_client_conn: Fact,
    /// `max_db_connections`, when set.
    pub max_db_connections: Option<Fact>,
    /// A total for the whole pooler (Zalando `maxDBConnections`), overriding the formula.
    pub total: Option<Fact>,
    /// (user, database) pairs its clients log in with; unknown parts are `?`.
    pub pairs: Vec<(String, String)>,
}

/// The whole model.
#[derive(Debug, Default)]
pub struct Model {
    /// Workloads (clients and servers), in input order.
    pub workloads: Vec<Workload>,
    /// Databases.
    pub databases: Vec<Database>,
    /// Workload → database demands.
    pub clients: Vec<Client>,
    /// Findings from building the model (`unresolved-database`, `unresolved-pool-size`,
    /// `unbounded-pool`).
    pub diagnostics: Vec<Diagnostic>,
    /// `poolguard.dev/ignore` annotations on objects.
    pub suppressions: Vec<crate::diag::suppress::Annotation>,
    /// Connection poolers.
    pub poolers: Vec<Pooler>,
    /// Workload → pooler demands (`database` is the pooler's index).
    pub pooler_clients: Vec<Client>,
}

/// Annotation that suppresses findings on an object (SPEC §8).
pub const ANN_IGNORE: &str = "poolguard.dev/ignore";

/// Builds the model; marks Secret values as secret in `db` so renderers mask them.
pub fn build(files: &[LoadedFile], db: &mut SourceDb, config: &Config) -> Model {
    let idx = objects::index(files);
    for s in &idx.secret_spans {
        db.add_secret(*s);
    }
    let mut model = Model::default();
    for o in &idx.objects {
        if let Some(n) = o.node.path(&["metadata", "annotations", ANN_IGNORE])
            && let Some(text) = n.as_str()
        {
            let (rules, reason) = crate::diag::suppress::parse_spec(text);
            model.suppressions.push(crate::diag::suppress::Annotation {
                object: o.node.span,
                ids: vec![o.id(), format!("{}/{}", o.namespace, o.name)],
                span: n.span,
                rules,
                reason,
            });
        }
    }
    let ops = operators::discover(&idx, &mut model);
    database::declared(config, &mut model);
    let workloads = workload::collect(&idx, config, &mut model);
    database::servers(&idx, &workloads, db, &mut model);
    let pooler_workloads = pooler::discover(&idx, &workloads, db, config, &mut model);
    link::link(
        files,
        db,
        &idx,
        &ops,
        &workloads,
        &pooler_workloads,
        config,
        &mut model,
    );
    pooler::finish(&mut model);
    report_duplicates(&mut model);
    narrow_spans(&mut model, db);
    model
}

/// The same object defined in several files (kustomize bases and overlays, per-environment
/// folders, copies) is one object to Kubernetes. Its clients are counted once — the largest
/// of the definitions, see `capacity::evaluate` — and the duplication is reported, because the
/// honest answer is to check each rendered environment on its own.
fn report_duplicates(model: &mut Model) {
    use std::collections::HashMap;
    let mut by_id: HashMap<&str, Vec<Span>> = HashMap::new();
    for w in &model.workloads {
        by_id.entry(&w.id).or_default().push(w.span);
    }
    let mut db_ids: HashMap<&str, Vec<Span>> = HashMap::new();
    for d in &model.databases {
        db_ids.entry(&d.id).or_default().push(d.span);
    }
    let mut diags = Vec::new();
    for (id, spans) in by_id.into_iter().chain(db_ids) {
        if spans.len() < 2 {
            continue;
        }
        let mut d = Diagnostic::new(
            "duplicate-object",
            crate::diag::Severity::Warning,
            spans[1],
            format!(
                "{id} is defined {} times; it is counted once, with the largest demand of its definitions",
                spans.len()
            ),
        )
        .with_label("defined again here")
        .related(spans[0], "first defined here")
        .help("check each environment's rendered manifests on their own (`kustomize build overlays/prod | poolguard check -`), or `ignore` the copies");
        for s in &spans[2..] {
            d = d.related(*s, "and here");
        }
        diags.push(d);
    }
    diags.sort_by_key(|d| (d.primary.span.file, d.primary.span.start));
    model.diagnostics.extend(diags);
}

/// Points every number at the digits themselves rather than the whole value around them, so
/// findings underline `20` in `"20"` and `25` in `-Dspring…maximum-pool-size=25`.
fn narrow_spans(model: &mut Model, db: &SourceDb) {
    let fix = |f: &mut Fact| {
        if let Some(s) = f.span() {
            f.origin = crate::report::Origin::At(db.narrow(s, &f.value.to_string()));
        }
    };
    for w in &mut model.workloads {
        fix(&mut w.replicas);
        if let Some(a) = &mut w.autoscaler {
            fix(&mut a.max);
        }
    }
    for d in &mut model.databases {
        fix(&mut d.max_connections);
        fix(&mut d.superuser_reserved);
        d.reserved_connections.iter_mut().for_each(fix);
        d.headroom.iter_mut().for_each(fix);
    }
    for p in &mut model.poolers {
        fix(&mut p.default_pool_size);
        fix(&mut p.reserve_pool_size);
        fix(&mut p.max_client_conn);
        p.max_db_connections.iter_mut().for_each(fix);
        p.total.iter_mut().for_each(fix);
    }
    for c in model
        .clients
        .iter_mut()
        .chain(model.pooler_clients.iter_mut())
    {
        c.conn_pod_override.iter_mut().for_each(fix);
        for k in &mut c.containers {
            k.pool_max.iter_mut().for_each(fix);
            fix(&mut k.processes);
        }
    }
}
