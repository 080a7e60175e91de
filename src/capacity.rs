//! The arithmetic of SPEC §4, as pure functions over the model.

use crate::config::{Config, Scenario};
use crate::model::{Client, ContainerDemand, Database, Model, Strategy, Surge, Workload};
use crate::report::{ClientReport, DatabaseReport, Status};

/// `ceil(a × b / 100)` without floating point.
pub fn ceil_pct(a: i64, pct: i64) -> i64 {
    let p = a.saturating_mul(pct);
    if p <= 0 {
        return p / 100;
    }
    p / 100 + i64::from(p % 100 != 0)
}

/// Extra pods a rolling update adds: an integer `maxSurge` as is, a percentage rounded up.
pub fn surge_pods(r: i64, surge: &Surge) -> i64 {
    if surge.percent {
        ceil_pct(r, surge.value.value)
    } else {
        surge.value.value
    }
    .max(0)
}

/// R: the autoscaler's maximum when one targets the workload, else `spec.replicas`.
pub fn replicas(w: &Workload) -> i64 {
    w.autoscaler
        .as_ref()
        .map_or(w.replicas.value, |a| a.max.value)
        .max(0)
}

/// Pods in steady state; `None` when unbounded.
pub fn pods_steady(w: &Workload) -> Option<i64> {
    w.unbounded.is_none().then(|| replicas(w))
}

/// Pods at the workload's own rollout peak; `None` when unbounded.
pub fn pods_peak(w: &Workload) -> Option<i64> {
    let r = pods_steady(w)?;
    Some(match &w.strategy {
        Strategy::Rolling { surge } => r.saturating_add(surge_pods(r, surge)),
        Strategy::NoSurge { .. } => r,
        Strategy::BlueGreen { preview, .. } => {
            r.saturating_add(preview.as_ref().map_or(r, |p| p.value.max(0)))
        }
        Strategy::FullCanary { .. } => r.saturating_mul(2),
    })
}

/// Connections one container may open: `processes × pool_max`.
pub fn container_conns(c: &ContainerDemand) -> Option<i64> {
    Some(c.processes.value.saturating_mul(c.pool_max.as_ref()?.value))
}

/// Connections one pod may open to the client's database: the override, else the larger of
/// the main containers' sum and the largest classic init container (which run before them).
pub fn conn_pod(client: &Client) -> Option<i64> {
    if let Some(o) = &client.conn_pod_override {
        return Some(o.value);
    }
    let mut main = 0i64;
    // Per init container (a container with several datasources is several demands), then
    // the largest: init containers run one at a time.
    let mut init: Vec<(&str, i64)> = Vec::new();
    for c in &client.containers {
        let n = container_conns(c)?;
        if c.init {
            match init.iter_mut().find(|(name, _)| *name == c.container) {
                Some((_, sum)) => *sum = sum.saturating_add(n),
                None => init.push((&c.container, n)),
            }
        } else {
            main = main.saturating_add(n);
        }
    }
    Some(init.iter().fold(main, |m, (_, n)| m.max(*n)))
}

/// A scenario sum: the bounded part and whether every term was known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sum {
    /// Sum of the known terms.
    pub bounded: i64,
    /// Whether no term was unknown.
    pub complete: bool,
}

impl Sum {
    /// The value when complete.
    pub fn value(&self) -> Option<i64> {
        self.complete.then_some(self.bounded)
    }
}

/// One client's numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientNumbers {
    /// Index into `Model::clients`.
    pub client: usize,
    /// Pods in steady state.
    pub pods_steady: Option<i64>,
    /// Pods at peak.
    pub pods_peak: Option<i64>,
    /// Connections per pod.
    pub conn_pod: Option<i64>,
    /// Whether it counts toward the database's sums (false for clients behind a pooler).
    pub counted: bool,
}

impl ClientNumbers {
    /// `pods_steady × conn_pod`.
    pub fn steady(&self) -> Option<i64> {
        Some(self.pods_steady?.saturating_mul(self.conn_pod?))
    }

    /// `pods_peak × conn_pod`.
    pub fn peak(&self) -> Option<i64> {
        Some(self.pods_peak?.saturating_mul(self.conn_pod?))
    }
}

/// S0, S1, S2 over a set of clients.
pub fn sums(clients: &[ClientNumbers]) -> (Sum, Sum, Sum) {
    let mut s0 = Sum {
        bounded: 0,
        complete: true,
    };
    let mut s2 = s0;
    let mut max_delta = 0i64;
    for c in clients.iter().filter(|c| c.counted) {
        match (c.steady(), c.peak()) {
            (Some(s), Some(p)) => {
                s0.bounded = s0.bounded.saturating_add(s);
                s2.bounded = s2.bounded.saturating_add(p);
                max_delta = max_delta.max(p - s);
            }
            _ => {
                s0.complete = false;
                s2.complete = false;
            }
        }
    }
    let s1 = Sum {
        bounded: s0.bounded.saturating_add(max_delta),
        complete: s0.complete,
    };
    (s0, s1, s2)
}

/// `max_connections − reserved − headroom`.
pub fn capacity(d: &Database) -> i64 {
    d.max_connections
        .value
        .saturating_sub(d.reserved())
        .saturating_sub(d.headroom.as_ref().map_or(0, |h| h.value))
}

/// One database's computed budget.
#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    /// Index into `Model::databases`.
    pub database: usize,
    /// Usable connections.
    pub capacity: i64,
    /// Clients, in workload-id order.
    pub clients: Vec<ClientNumbers>,
    /// S0.
    pub steady: Sum,
    /// S1.
    pub rollout: Sum,
    /// S2.
    pub all_rollouts: Sum,
    /// Verdict.
    pub status: Status,
}

/// The sum a scenario gates on.
pub fn gate(scenario: Scenario, b: &Budget) -> Sum {
    match scenario {
        Scenario::Steady => b.steady,
        Scenario::Rollout => b.rollout,
        Scenario::AllRollouts => b.all_rollouts,
    }
}

/// Numbers of one client.
pub fn client_numbers(model: &Model, i: usize) -> ClientNumbers {
    let c = &model.clients[i];
    let w = &model.workloads[c.workload];
    ClientNumbers {
        client: i,
        pods_steady: pods_steady(w),
        pods_peak: pods_peak(w),
        conn_pod: conn_pod(c),
        counted: c.via.is_none(),
    }
}

/// Budgets of every database that has clients or was found in the manifests.
pub fn evaluate(model: &Model, config: &Config) -> Vec<Budget> {
    let mut out: Vec<Budget> = Vec::new();
    // Clients grouped by database once (a scan of every client per database was quadratic:
    // 81 ms of a 20,000-service run).
    let mut by_database: Vec<Vec<usize>> = vec![Vec::new(); model.databases.len()];
    for (i, c) in model.clients.iter().enumerate() {
        if let Some(list) = by_database.get_mut(c.database) {
            list.push(i);
        }
    }
    let mut budgeted: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for (di, d) in model.databases.iter().enumerate() {
        let mut clients: Vec<ClientNumbers> = by_database[di]
            .iter()
            .map(|&i| client_numbers(model, i))
            .collect();
        if clients.is_empty() && d.source == crate::model::DatabaseSource::OperatorReplicas {
            continue;
        }
        dedupe_by_workload_id(model, &mut clients);
        // A database defined again (kustomize overlays, copies) gets its clients through the
        // first definition; the copies are reported as duplicate-object, not budgeted again.
        if clients.is_empty() && budgeted.contains(d.id.as_str()) {
            continue;
        }
        budgeted.insert(&d.id);
        clients.sort_by(|a, b| {
            let wa = &model.workloads[model.clients[a.client].workload].id;
            let wb = &model.workloads[model.clients[b.client].workload].id;
            wa.cmp(wb)
        });
        let (steady, rollout, all_rollouts) = sums(&clients);
        let cap = capacity(d);
        let mut b = Budget {
            database: di,
            capacity: cap,
            clients,
            steady,
            rollout,
            all_rollouts,
            status: Status::Ok,
        };
        b.status = status(&b, config);
        out.push(b);
    }
    out.sort_by(|a, b| {
        model.databases[a.database]
            .id
            .cmp(&model.databases[b.database].id)
    });
    out
}

/// `s` as a whole percentage of `cap`, rounded to nearest (every output uses this one).
pub fn percent(s: i64, cap: i64) -> i64 {
    if cap <= 0 {
        return 100;
    }
    ((s as f64) * 100.0 / cap as f64).round() as i64
}

/// One client per workload id and pooler: the same object defined in several files is one
/// object. The kept definition is the one with the largest peak, an unknown one if any is
/// unknown (never hide an unknown term behind a known one).
fn dedupe_by_workload_id(model: &Model, clients: &mut Vec<ClientNumbers>) {
    let key = |c: &ClientNumbers| {
        let cl = &model.clients[c.client];
        (model.workloads[cl.workload].id.as_str(), cl.via)
    };
    let rank = |c: &ClientNumbers| c.peak().unwrap_or(i64::MAX);
    let mut kept: Vec<ClientNumbers> = Vec::new();
    let mut at = std::collections::HashMap::new();
    for c in clients.drain(..) {
        match at.get(&key(&c)) {
            Some(&i) if rank(&c) > rank(&kept[i]) => kept[i] = c,
            Some(_) => {}
            None => {
                at.insert(key(&c), kept.len());
                kept.push(c);
            }
        }
    }
    *clients = kept;
}

/// Whether `s` is above `fraction × capacity`.
pub fn above(s: i64, fraction: f64, cap: i64) -> bool {
    (s as f64) > fraction * cap as f64
}

fn status(b: &Budget, config: &Config) -> Status {
    let g = gate(config.scenario, b);
    if b.steady.bounded > b.capacity || g.bounded > b.capacity {
        Status::Error
    } else if !b.steady.complete
        || above(b.rollout.bounded, config.warn_utilization, b.capacity)
        || b.all_rollouts.bounded > b.capacity
    {
        Status::Warning
    } else {
        Status::Ok
    }
}

/// The largest per-process pool for client `ci`'s first container with a known pool such
/// that the gating sum fits; `None` when no pool size (even 0) fits or nothing can be changed.
pub fn suggest_pool(model: &Model, b: &Budget, ci: usize, scenario: Scenario) -> Option<i64> {
    match suggest_fix(model, b, ci, scenario)? {
        crate::diag::Suggestion::PoolMax(p) => Some(p),
        _ => None,
    }
}

/// The fix for client `ci`: the largest pool per process that fits the gate, or — when the
/// pool per process is a fixed default and the process count is written down (PHP-FPM
/// `pm.max_children`) — the largest process count that fits.
pub fn suggest_fix(
    model: &Model,
    b: &Budget,
    ci: usize,
    scenario: Scenario,
) -> Option<crate::diag::Suggestion> {
    let client = &model.clients[b.clients[ci].client];
    if client.conn_pod_override.is_some() {
        return None;
    }
    let k = client
        .containers
        .iter()
        .position(|c| c.pool_max.is_some())?;
    let container = &client.containers[k];
    // When the pool per process is a fixed default (PHP-FPM: one connection per child) and
    // the process count is written down, the process count is the knob.
    let by_processes =
        container.pool_max.as_ref()?.span().is_none() && container.processes.span().is_some();
    let current = if by_processes {
        container.processes.value
    } else {
        container.pool_max.as_ref()?.value
    };
    let fits = |p: i64| {
        let mut c2 = client.clone();
        if by_processes {
            c2.containers[k].processes.value = p;
        } else if let Some(f) = c2.containers[k].pool_max.as_mut() {
            f.value = p;
        }
        let mut clients = b.clients.clone();
        clients[ci].conn_pod = conn_pod(&c2);
        let (s0, s1, s2) = sums(&clients);
        let tmp = Budget {
            steady: s0,
            rollout: s1,
            all_rollouts: s2,
            ..b.clone()
        };
        let g = gate(scenario, &tmp);
        s0.bounded <= b.capacity && g.bounded <= b.capacity
    };
    let floor = if by_processes { 1 } else { 0 };
    if !fits(floor) {
        return None;
    }
    let (mut lo, mut hi) = (floor, current.max(floor));
    while lo < hi {
        let mid = lo + (hi - lo + 1) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(if by_processes {
        crate::diag::Suggestion::Processes(lo)
    } else {
        crate::diag::Suggestion::PoolMax(lo)
    })
}

/// The largest integer `maxSurge` for a rolling workload that makes the gate fit.
pub fn suggest_surge(model: &Model, b: &Budget, ci: usize, scenario: Scenario) -> Option<i64> {
    let client = &model.clients[b.clients[ci].client];
    let w = &model.workloads[client.workload];
    let Strategy::Rolling { surge } = &w.strategy else {
        return None;
    };
    let r = pods_steady(w)?;
    let current = surge_pods(r, surge);
    let fits = |s: i64| {
        let mut clients = b.clients.clone();
        clients[ci].pods_peak = Some(r.saturating_add(s));
        let (s0, s1, s2) = sums(&clients);
        let tmp = Budget {
            steady: s0,
            rollout: s1,
            all_rollouts: s2,
            ..b.clone()
        };
        s0.bounded <= b.capacity && gate(scenario, &tmp).bounded <= b.capacity
    };
    // Binary search: fitting is monotone in the surge, and the surge may be huge.
    if current <= 0 || !fits(0) {
        return None;
    }
    let (mut lo, mut hi) = (0i64, current - 1);
    while lo < hi {
        let mid = lo + (hi - lo + 1) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(lo)
}

/// Converts budgets into the report form.
pub fn to_reports(model: &Model, budgets: &[Budget]) -> Vec<DatabaseReport> {
    budgets
        .iter()
        .map(|b| {
            let d = &model.databases[b.database];
            DatabaseReport {
                id: d.id.clone(),
                engine: d.engine.as_str().to_string(),
                max_connections: d.max_connections.value,
                reserved: d.reserved(),
                headroom: d.headroom.as_ref().map_or(0, |h| h.value),
                capacity: b.capacity,
                steady: b.steady.value(),
                rollout: b.rollout.value(),
                all_rollouts: b.all_rollouts.value(),
                status: b.status,
                clients: b
                    .clients
                    .iter()
                    .map(|c| ClientReport {
                        workload: model.workloads[model.clients[c.client].workload].id.clone(),
                        via: model.clients[c.client]
                            .via
                            .map(|p| model.poolers[p].id.clone()),
                        pods_steady: c.pods_steady,
                        pods_peak: c.pods_peak,
                        conn_pod: c.conn_pod,
                        steady: c.steady(),
                        peak: c.peak(),
                    })
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Fact;

    fn surge(v: i64, percent: bool) -> Surge {
        Surge {
            value: Fact::default(v, "test"),
            percent,
        }
    }

    #[test]
    fn percent_surge_rounds_up_and_integer_surge_is_taken_as_is() {
        assert_eq!(surge_pods(6, &surge(50, true)), 3);
        assert_eq!(surge_pods(4, &surge(25, true)), 1);
        assert_eq!(surge_pods(2, &surge(25, true)), 1); // ceil(0.5)
        assert_eq!(surge_pods(1, &surge(25, true)), 1);
        assert_eq!(surge_pods(10, &surge(33, true)), 4); // ceil(3.3)
        assert_eq!(surge_pods(10, &surge(0, true)), 0);
        assert_eq!(surge_pods(10, &surge(3, false)), 3);
        assert_eq!(surge_pods(0, &surge(25, true)), 0);
    }

    fn n(steady: i64, peak: i64, conn: i64) -> ClientNumbers {
        ClientNumbers {
            client: 0,
            pods_steady: Some(steady),
            pods_peak: Some(peak),
            conn_pod: Some(conn),
            counted: true,
        }
    }

    #[test]
    fn incident_sums_match_the_postmortem() {
        // auth 6→9 pods × 20, accounts 4→5 × 10, admin 2→3 × 8 (domain.md §8).
        let c = [n(6, 9, 20), n(4, 5, 10), n(2, 3, 8)];
        let (s0, s1, s2) = sums(&c);
        assert_eq!(s0.value(), Some(176));
        assert_eq!(s1.value(), Some(236));
        assert_eq!(s2.value(), Some(254));
    }

    #[test]
    fn an_unknown_term_keeps_the_bounded_part() {
        let mut c = vec![n(2, 3, 10)];
        c.push(ClientNumbers {
            conn_pod: None,
            ..n(1, 1, 0)
        });
        let (s0, s1, _) = sums(&c);
        assert_eq!(
            s0,
            Sum {
                bounded: 20,
                complete: false
            }
        );
        assert_eq!(s1.bounded, 30);
        assert_eq!(s1.value(), None);
    }

    #[test]
    fn percentage_math_never_uses_floats() {
        assert_eq!(ceil_pct(3, 34), 2); // 1.02 → 2
        assert_eq!(ceil_pct(100, 1), 1);
        assert!(above(161, 0.8, 200));
        assert!(!above(160, 0.8, 200));
    }
}
