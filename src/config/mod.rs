//! `poolguard.yaml`: read into a spanned tree, then validated into [`Config`], reporting every
//! problem with file:line at once.

pub mod instances;

use globset::{Glob, GlobMatcher};

use crate::parse::{self, Format, Limits, Node};
use crate::report::Fact;
use crate::source::{FileId, SourceDb, Span};

/// Database engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
}

impl Engine {
    /// `postgres` or `mysql`.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        }
    }
}

/// Which sum gates errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Scenario {
    /// S0: steady state.
    Steady,
    /// S1: one rollout at a time (default).
    #[default]
    Rollout,
    /// S2: everything rolls at once.
    AllRollouts,
}

impl Scenario {
    /// Parses `steady`, `rollout` or `all-rollouts`.
    pub fn parse(s: &str) -> Option<Scenario> {
        match s {
            "steady" => Some(Scenario::Steady),
            "rollout" => Some(Scenario::Rollout),
            "all-rollouts" => Some(Scenario::AllRollouts),
            _ => None,
        }
    }
}

/// A database declared in config.
#[derive(Clone, Debug)]
pub struct DeclaredDatabase {
    /// Database id.
    pub name: String,
    /// Where the entry is.
    pub span: Span,
    /// Engine.
    pub engine: Engine,
    /// `max_connections`, when declared.
    pub max_connections: Option<Fact>,
    /// `reserved`, when declared.
    pub reserved: Option<Fact>,
    /// `headroom`, when declared.
    pub headroom: Option<Fact>,
    /// Host globs that link to this database.
    pub hosts: Vec<GlobMatcher>,
}

/// Facts about workloads the manifests cannot tell.
#[derive(Clone, Debug)]
pub struct WorkloadOverride {
    /// Glob over workload ids.
    pub id: GlobMatcher,
    /// Where the entry is.
    pub span: Span,
    /// Database id to link to.
    pub database: Option<(String, Span)>,
    /// Per-process pool maximum.
    pub pool_max: Option<Fact>,
    /// Processes per container.
    pub processes: Option<Fact>,
    /// Connections per pod, outright.
    pub connections_per_pod: Option<Fact>,
    /// Repo-relative service config files attached to the workload.
    pub config: Vec<(String, Span)>,
}

/// Severity override for a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleLevel {
    /// Rule disabled.
    Off,
    /// Report as note.
    Note,
    /// Report as warning.
    Warning,
    /// Report as error.
    Error,
}

/// A suppression entry from `ignore_findings`.
#[derive(Clone, Debug)]
pub struct IgnoreFinding {
    /// Rule id.
    pub rule: String,
    /// Path glob.
    pub path: GlobMatcher,
    /// Why.
    pub reason: Option<String>,
    /// Expiry date `YYYY-MM-DD`.
    pub expires: Option<String>,
    /// Where the entry is.
    pub span: Span,
}

/// Validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The config file, when one was read.
    pub file: Option<FileId>,
    /// Declared databases.
    pub databases: Vec<DeclaredDatabase>,
    /// Workload overrides.
    pub workloads: Vec<WorkloadOverride>,
    /// Warning threshold as a fraction of capacity.
    pub warn_utilization: f64,
    /// Gating scenario.
    pub scenario: Scenario,
    /// Rule severity overrides.
    pub rules: Vec<(String, RuleLevel)>,
    /// Path globs not to read.
    pub ignore: Vec<String>,
    /// Suppressions.
    pub ignore_findings: Vec<IgnoreFinding>,
    /// Node count, for DaemonSets.
    pub node_count: Option<Fact>,
    /// Node CPUs, for CPU-derived defaults.
    pub node_cpus: Option<Fact>,
    /// Parser limits.
    pub limits: Limits,
    /// Extra policy files or directories (relative to the config file).
    pub policies: Vec<(String, Span)>,
    /// In-house stacks, tried before the built-in ones.
    pub stacks: Vec<DeclaredStack>,
}

/// An in-house stack: when it matches a container, CEL expressions over `env` (a map of the
/// resolved environment), `args` (command and args) and `image` give the pool per process and
/// the processes per container.
#[derive(Clone, Debug)]
pub struct DeclaredStack {
    /// Stack name.
    pub name: String,
    /// Where it is declared.
    pub span: Span,
    /// Env variables that must all be present.
    pub env: Vec<String>,
    /// Image glob, if given.
    pub image: Option<GlobMatcher>,
    /// A word that must appear in command/args, if given.
    pub args: Option<String>,
    /// Pool maximum per process (expression and where it is written).
    pub pool_max: (String, Span),
    /// Processes per container (expression and where it is written), default 1.
    pub processes: Option<(String, Span)>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            file: None,
            databases: Vec::new(),
            workloads: Vec::new(),
            warn_utilization: 0.8,
            scenario: Scenario::Rollout,
            rules: Vec::new(),
            ignore: Vec::new(),
            ignore_findings: Vec::new(),
            node_count: None,
            node_cpus: None,
            limits: Limits::default(),
            policies: Vec::new(),
            stacks: Vec::new(),
        }
    }
}

/// A config problem with its location, already formatted as `path:line:col: message`.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<String>);

impl Config {
    /// The severity override for a rule, if any.
    pub fn rule_level(&self, rule: &str) -> Option<RuleLevel> {
        self.rules
            .iter()
            .rev()
            .find(|(r, _)| r == rule)
            .map(|(_, l)| *l)
    }
}

/// Top-level keys of poolguard.yaml.
pub const TOP_KEYS: &[&str] = &[
    "databases",
    "workloads",
    "stacks",
    "warn_utilization",
    "scenario",
    "rules",
    "ignore",
    "ignore_findings",
    "nodes",
    "max_file_size",
    "policies",
];
/// Keys of a `databases` entry.
pub const DATABASE_KEYS: &[&str] = &[
    "name",
    "engine",
    "max_connections",
    "instance_class",
    "reserved",
    "headroom",
    "hosts",
];
/// Keys of a `workloads` entry.
pub const WORKLOAD_KEYS: &[&str] = &[
    "id",
    "database",
    "pool_max",
    "processes",
    "connections_per_pod",
    "config",
];
/// Keys of a `stacks` entry.
pub const STACK_KEYS: &[&str] = &["name", "match", "pool_max", "processes"];
/// Keys of a stack's `match`.
pub const STACK_MATCH_KEYS: &[&str] = &["env", "image", "args"];
/// Keys of `nodes`.
pub const NODES_KEYS: &[&str] = &["count", "cpus"];
/// Keys of an `ignore_findings` entry.
pub const IGNORE_FINDING_KEYS: &[&str] = &["rule", "path", "reason", "expires"];

struct Validator<'a> {
    db: &'a SourceDb,
    errors: Vec<String>,
}

impl Validator<'_> {
    fn err(&mut self, span: Span, msg: impl AsRef<str>) {
        self.errors
            .push(format!("{}: {}", self.db.location(span), msg.as_ref()));
    }

    /// Checks that a mapping only has `allowed` keys.
    fn keys<'n>(&mut self, node: &'n Node, what: &str, allowed: &[&str]) -> &'n [(Node, Node)] {
        let Some(entries) = node.as_map() else {
            self.err(node.span, format!("{what} must be a mapping"));
            return &[];
        };
        for (k, _) in entries {
            let key = k.as_str().unwrap_or("");
            if !allowed.contains(&key) {
                self.err(
                    k.span,
                    format!(
                        "unknown key `{key}` in {what} (expected one of: {})",
                        allowed.join(", ")
                    ),
                );
            }
        }
        entries
    }

    fn int(&mut self, node: &Node, what: &str, min: i64) -> Option<Fact> {
        match node.as_i64() {
            Some(v) if v >= min => Some(Fact::at(v, node.span)),
            _ => {
                self.err(node.span, format!("{what} must be an integer ≥ {min}"));
                None
            }
        }
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.as_str() {
            Some(s) if node.as_map().is_none() => Some(s.to_string()),
            _ => {
                self.err(node.span, format!("{what} must be a string"));
                None
            }
        }
    }

    fn glob(&mut self, node: &Node, what: &str) -> Option<GlobMatcher> {
        let s = self.string(node, what)?;
        match Glob::new(&s) {
            Ok(g) => Some(g.compile_matcher()),
            Err(e) => {
                self.err(node.span, format!("{what}: invalid glob: {e}"));
                None
            }
        }
    }

    fn strings(&mut self, node: &Node, what: &str) -> Vec<(String, Span)> {
        match node.as_seq() {
            Some(items) => items
                .iter()
                .filter_map(|i| self.string(i, what).map(|s| (s, i.span)))
                .collect(),
            None => self
                .string(node, what)
                .map(|s| vec![(s, node.span)])
                .unwrap_or_default(),
        }
    }
}

/// Reads and validates a config file already added to `db`.
pub fn load(db: &SourceDb, file: FileId) -> Result<Config, ConfigErrors> {
    let text = db.get(file).text.clone();
    let parsed = parse::parse(Format::Yaml, file, &text, &Limits::default());
    let mut v = Validator {
        db,
        errors: Vec::new(),
    };
    if let Some(e) = &parsed.error {
        v.err(e.span, format!("invalid YAML: {}", e.message));
        return Err(ConfigErrors(v.errors));
    }
    for d in &parsed.duplicates {
        v.err(d.span, format!("duplicate key `{}`", d.key));
    }
    let mut cfg = Config {
        file: Some(file),
        ..Config::default()
    };
    let Some(root) = parsed.docs.first() else {
        return Ok(cfg);
    };
    if root.is_null() {
        return Ok(cfg);
    }
    for (k, val) in v.keys(root, "poolguard.yaml", TOP_KEYS) {
        match k.as_str().unwrap_or("") {
            "databases" => read_databases(&mut v, val, &mut cfg),
            "workloads" => read_workloads(&mut v, val, &mut cfg),
            "stacks" => read_stacks(&mut v, val, &mut cfg),
            "warn_utilization" => match val.as_str().and_then(|s| s.trim().parse::<f64>().ok()) {
                Some(f) if f > 0.0 && f <= 1.0 => cfg.warn_utilization = f,
                _ => v.err(val.span, "warn_utilization must be a number in (0, 1]"),
            },
            "scenario" => match val.as_str().and_then(Scenario::parse) {
                Some(s) => cfg.scenario = s,
                None => v.err(
                    val.span,
                    "scenario must be one of: steady, rollout, all-rollouts",
                ),
            },
            "rules" => {
                if val.as_map().is_none() {
                    v.err(val.span, "rules must be a mapping of rule id to level");
                }
                for (rk, rv) in val.as_map().unwrap_or(&[]) {
                    let rule = rk.as_str().unwrap_or("").to_string();
                    if !crate::rules::is_known(&rule) {
                        v.err(rk.span, format!("unknown rule `{rule}`"));
                        continue;
                    }
                    let level = match rv.as_str() {
                        Some("off") => RuleLevel::Off,
                        Some("note") => RuleLevel::Note,
                        Some("warning") => RuleLevel::Warning,
                        Some("error") => RuleLevel::Error,
                        _ if rv.as_bool() == Some(false) => RuleLevel::Off,
                        _ => {
                            v.err(
                                rv.span,
                                "rule level must be one of: off, note, warning, error",
                            );
                            continue;
                        }
                    };
                    cfg.rules.push((rule, level));
                }
            }
            "ignore" => {
                for (g, span) in v.strings(val, "ignore") {
                    if let Err(e) = Glob::new(&g) {
                        v.err(span, format!("invalid glob: {e}"));
                    } else {
                        cfg.ignore.push(g);
                    }
                }
            }
            "ignore_findings" => read_ignore_findings(&mut v, val, &mut cfg),
            "policies" => cfg.policies = v.strings(val, "policies"),
            "nodes" => {
                for (nk, nv) in v.keys(val, "nodes", NODES_KEYS) {
                    match nk.as_str() {
                        Some("count") => cfg.node_count = v.int(nv, "nodes.count", 1),
                        Some("cpus") => cfg.node_cpus = v.int(nv, "nodes.cpus", 1),
                        _ => {}
                    }
                }
            }
            "max_file_size" => {
                if let Some(f) = v.int(val, "max_file_size", 1) {
                    cfg.limits.max_file_bytes = f.value as u64;
                }
            }
            _ => {}
        }
    }
    if v.errors.is_empty() {
        Ok(cfg)
    } else {
        Err(ConfigErrors(v.errors))
    }
}

fn read_databases(v: &mut Validator, val: &Node, cfg: &mut Config) {
    let Some(items) = val.as_seq() else {
        v.err(val.span, "databases must be a list");
        return;
    };
    for item in items {
        let entries = v.keys(item, "a database", DATABASE_KEYS);
        let mut d = DeclaredDatabase {
            name: String::new(),
            span: item.span,
            engine: Engine::Postgres,
            max_connections: None,
            reserved: None,
            headroom: None,
            hosts: Vec::new(),
        };
        let mut instance_class = None;
        let mut aurora = false;
        for (k, val) in entries {
            match k.as_str().unwrap_or("") {
                "name" => d.name = v.string(val, "name").unwrap_or_default(),
                "engine" => match val.as_str() {
                    Some("postgres" | "postgresql") => d.engine = Engine::Postgres,
                    Some("mysql" | "mariadb") => d.engine = Engine::Mysql,
                    Some("aurora-postgresql") => {
                        d.engine = Engine::Postgres;
                        aurora = true;
                    }
                    Some("aurora-mysql") => {
                        d.engine = Engine::Mysql;
                        aurora = true;
                    }
                    _ => v.err(
                        val.span,
                        "engine must be postgres, mysql, mariadb, aurora-postgresql or aurora-mysql",
                    ),
                },
                "max_connections" => d.max_connections = v.int(val, "max_connections", 1),
                "instance_class" => instance_class = Some(val),
                "reserved" => d.reserved = v.int(val, "reserved", 0),
                "headroom" => d.headroom = v.int(val, "headroom", 0),
                "hosts" => {
                    let globs = v.strings(val, "hosts");
                    for (g, span) in globs {
                        match Glob::new(&g.to_ascii_lowercase()) {
                            Ok(g) => d.hosts.push(g.compile_matcher()),
                            Err(e) => v.err(span, format!("invalid glob: {e}")),
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(ic) = instance_class {
            if d.max_connections.is_some() {
                v.err(ic.span, "give max_connections or instance_class, not both");
            } else {
                let class = ic.as_str().unwrap_or("");
                match instances::lookup(class, d.engine, aurora) {
                    Some(m) => {
                        d.max_connections =
                            Some(crate::report::Fact::default(m.max_connections, m.source));
                        if m.provider_reserved > 0 && d.reserved.is_none() {
                            d.reserved = Some(crate::report::Fact::default(
                                m.provider_reserved,
                                "connections the provider reserves for replication and monitoring",
                            ));
                        }
                    }
                    None => v.err(
                        ic.span,
                        format!(
                            "unknown instance_class `{class}` for {}: declare max_connections",
                            d.engine.as_str()
                        ),
                    ),
                }
            }
        }
        if d.name.is_empty() {
            v.err(item.span, "a database needs a `name`");
            continue;
        }
        cfg.databases.push(d);
    }
}

fn read_stacks(v: &mut Validator, val: &Node, cfg: &mut Config) {
    let Some(items) = val.as_seq() else {
        v.err(val.span, "stacks must be a list");
        return;
    };
    for item in items {
        let entries = v.keys(item, "a stack", STACK_KEYS);
        let mut name = String::new();
        let mut env = Vec::new();
        let mut image = None;
        let mut args = None;
        let mut pool_max = None;
        let mut processes = None;
        for (k, val) in entries {
            match k.as_str().unwrap_or("") {
                "name" => name = v.string(val, "name").unwrap_or_default(),
                "match" => {
                    for (mk, mv) in v.keys(val, "a stack's match", STACK_MATCH_KEYS) {
                        match mk.as_str().unwrap_or("") {
                            "env" => {
                                env = v.strings(mv, "env").into_iter().map(|(s, _)| s).collect()
                            }
                            "image" => image = v.glob(mv, "image"),
                            "args" => args = v.string(mv, "args"),
                            _ => {}
                        }
                    }
                }
                "pool_max" => pool_max = stack_expr(v, val, "pool_max"),
                "processes" => processes = stack_expr(v, val, "processes"),
                _ => {}
            }
        }
        if name.is_empty() {
            v.err(item.span, "a stack needs a `name`");
        }
        if env.is_empty() && image.is_none() && args.is_none() {
            v.err(
                item.span,
                "a stack needs a `match` with `env`, `image` or `args`",
            );
        }
        let Some(pool_max) = pool_max else {
            v.err(item.span, "a stack needs `pool_max`");
            continue;
        };
        cfg.stacks.push(DeclaredStack {
            name,
            span: item.span,
            env,
            image,
            args,
            pool_max,
            processes,
        });
    }
}

/// A stack expression: a number, or CEL over `env`, `args` and `image`, checked now.
fn stack_expr(v: &mut Validator, val: &Node, what: &str) -> Option<(String, Span)> {
    let text = v.string(val, what)?;
    match cel::Program::compile(&text) {
        Ok(p) => {
            let refs = p.references();
            for var in refs.variables() {
                if !["env", "args", "image"].contains(&var) {
                    v.err(
                        val.span,
                        format!(
                            "`{what}` names unknown variable `{var}` (available: env, args, image)"
                        ),
                    );
                }
            }
            Some((text, val.span))
        }
        Err(e) => {
            for pe in &e.errors {
                v.err(
                    val.span,
                    format!(
                        "`{what}` does not compile at column {}: {}",
                        pe.pos.1.max(0) + 1,
                        pe.msg
                    ),
                );
            }
            None
        }
    }
}

fn read_workloads(v: &mut Validator, val: &Node, cfg: &mut Config) {
    let Some(items) = val.as_seq() else {
        v.err(val.span, "workloads must be a list");
        return;
    };
    for item in items {
        let entries = v.keys(item, "a workload", WORKLOAD_KEYS);
        let mut id = None;
        let mut w = WorkloadOverride {
            id: Glob::new("*").expect("static glob").compile_matcher(),
            span: item.span,
            database: None,
            pool_max: None,
            processes: None,
            connections_per_pod: None,
            config: Vec::new(),
        };
        for (k, val) in entries {
            match k.as_str().unwrap_or("") {
                "id" => id = v.glob(val, "id"),
                "database" => w.database = v.string(val, "database").map(|s| (s, val.span)),
                "pool_max" => w.pool_max = v.int(val, "pool_max", 0),
                "processes" => w.processes = v.int(val, "processes", 1),
                "connections_per_pod" => {
                    w.connections_per_pod = v.int(val, "connections_per_pod", 0)
                }
                "config" => w.config = v.strings(val, "config"),
                _ => {}
            }
        }
        match id {
            Some(g) => {
                w.id = g;
                cfg.workloads.push(w);
            }
            None => v.err(item.span, "a workload entry needs an `id`"),
        }
    }
}

fn read_ignore_findings(v: &mut Validator, val: &Node, cfg: &mut Config) {
    let Some(items) = val.as_seq() else {
        v.err(val.span, "ignore_findings must be a list");
        return;
    };
    for item in items {
        let entries = v.keys(item, "an ignore_findings entry", IGNORE_FINDING_KEYS);
        let mut rule = None;
        let mut path = None;
        let mut reason = None;
        let mut expires = None;
        for (k, val) in entries {
            match k.as_str().unwrap_or("") {
                "rule" => rule = v.string(val, "rule"),
                "path" => path = v.glob(val, "path"),
                "reason" => reason = v.string(val, "reason"),
                "expires" => {
                    let s = v.string(val, "expires");
                    if let Some(s) = &s
                        && !is_date(s)
                    {
                        v.err(val.span, "expires must be a date YYYY-MM-DD");
                    }
                    expires = s;
                }
                _ => {}
            }
        }
        let Some(rule) = rule else {
            v.err(item.span, "an ignore_findings entry needs a `rule`");
            continue;
        };
        cfg.ignore_findings.push(IgnoreFinding {
            rule,
            path: path.unwrap_or_else(|| Glob::new("**").expect("static glob").compile_matcher()),
            reason,
            expires,
            span: item.span,
        });
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}
