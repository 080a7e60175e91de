//! Per-framework pool extraction. Each stack is one file with one [`Stack`] entry in
//! [`STACKS`]; the first stack that recognises a container supplies its pool size.

pub mod common;
pub mod declared;
pub mod ecto;
pub mod hikari;
pub mod micronaut;
pub mod npgsql;
pub mod pgx;
pub mod phpfpm;
pub mod prisma;
pub mod python;
pub mod quarkus;
pub mod rails;

use crate::model::env::Env;
use crate::model::mounts::ConfigFile;
use crate::report::Fact;
use crate::source::Span;

/// A command-line word of a container (`command` then `args`), `$(VAR)`-expanded.
#[derive(Clone, Debug)]
pub struct Arg {
    /// The expanded text.
    pub text: String,
    /// Where it is written.
    pub span: Span,
}

/// What a stack sees of a container.
pub struct Ctx<'a> {
    /// Resolved environment.
    pub env: &'a Env,
    /// `command` and `args`.
    pub args: &'a [Arg],
    /// Config files visible to the container (mounted and attached).
    pub files: &'a [ConfigFile],
    /// Container image.
    pub image: &'a str,
    /// CPUs per node (`nodes.cpus` in poolguard.yaml), for CPU-count defaults.
    pub node_cpus: Option<Fact>,
}

/// A database endpoint a stack found in its own configuration (not in plain env).
#[derive(Clone, Debug)]
pub struct ConfigEndpoint {
    /// The value (a URL or connection string).
    pub value: String,
    /// Where it is written.
    pub span: Span,
    /// The key it was read from (`spring.datasource.url`).
    pub key: String,
    /// For stacks with named datasources (Micronaut, Quarkus): the datasource this URL
    /// belongs to. A container with several datasources opens each one's pool, so two
    /// pointing at the same database add up there — [`Pool::pool_max`] is only the largest.
    pub datasource: Option<Datasource>,
}

/// A named datasource: its own pool and settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Datasource {
    /// Its name (`default`, `audit`).
    pub name: String,
    /// Its pool maximum (`None` when it cannot be known).
    pub pool: Option<Fact>,
    /// Its other settings (a subset of [`Pool::settings`]).
    pub settings: Vec<Setting>,
}

/// What a pool setting means, for rules that check more than the maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingKind {
    /// Minimum / idle connections kept open (`minimum-idle`, `pool_min_conns`, …).
    MinIdle,
    /// Acquire timeout in milliseconds; 0 means wait forever.
    AcquireTimeoutMs,
    /// Threads (or other concurrency) sharing one process's pool (Puma threads, Sidekiq `-c`).
    Concurrency,
    /// The pool maximum fell back to a CPU-count default (pgx, Prisma).
    CpuDependentDefault,
    /// The pool has no upper bound (SQLAlchemy `max_overflow: -1`, Go `database/sql`).
    Unbounded,
}

/// A pool setting other than the maximum, with where it is written.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// What it is.
    pub kind: SettingKind,
    /// Its value and origin.
    pub value: Fact,
    /// Human description (`spring.datasource.hikari.minimum-idle`).
    pub what: String,
}

/// A stack's reading of a container.
#[derive(Clone, Debug)]
pub struct Pool {
    /// Stack id (`spring-hikari`).
    pub stack: &'static str,
    /// Per-process pool maximum (`None` when it cannot be known).
    pub pool_max: Option<Fact>,
    /// Processes per container.
    pub processes: Fact,
    /// Endpoints found in the stack's config files.
    pub endpoints: Vec<ConfigEndpoint>,
    /// Why `pool_max` is unknown.
    pub unknown: Option<(Span, String)>,
    /// Other settings rules look at (minimum idle, acquire timeout, concurrency).
    pub settings: Vec<Setting>,
}

/// A supported stack.
pub struct Stack {
    /// Stack id.
    pub name: &'static str,
    /// Reads a container; `None` when the container is not this stack.
    pub detect: fn(&Ctx) -> Option<Pool>,
}

/// Every built-in stack, tried in order: specific detectors before generic ones. Quarkus and
/// Micronaut come before Spring because Spring also claims any JVM container with a JDBC URL
/// or an `application.*` file; they only claim containers with their own keys or env.
pub static STACKS: &[&Stack] = &[
    &quarkus::STACK,
    &micronaut::STACK,
    &hikari::STACK,
    &rails::STACK,
    &ecto::STACK,
    &phpfpm::STACK,
    &npgsql::STACK,
    &prisma::STACK,
    &pgx::STACK,
    &python::STACK,
];

/// The first stack that recognises the container.
pub fn detect(ctx: &Ctx) -> Option<Pool> {
    STACKS.iter().find_map(|s| (s.detect)(ctx))
}
