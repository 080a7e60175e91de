//! Custom policies (SPEC §7): data files with an id, a severity, a message, a target, a CEL
//! condition and embedded tests. Loaded and validated before anything runs; a policy with an
//! error is rejected with file:line (exit 2).

pub mod entities;
pub mod eval;
pub mod test;

use std::path::{Path, PathBuf};

use crate::diag::Severity;
use crate::parse::{self, Format, Limits, Node};
use crate::source::{FileId, SourceDb, Span};

/// What a policy applies to.
#[derive(Clone, Debug)]
pub enum Target {
    /// A model entity: `workload`, `database` or `container`.
    Entity(Entity),
    /// Kubernetes objects.
    Objects {
        /// Kinds (empty: any).
        kinds: Vec<String>,
        /// `apiVersion` (exact), if given.
        api_version: Option<String>,
        /// Namespace glob, if given.
        namespace: Option<globset::GlobMatcher>,
        /// Labels that must all match.
        labels: Vec<(String, String)>,
    },
    /// Service-config files by path glob.
    Files(globset::GlobSet),
}

/// Model entities a policy can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entity {
    /// A workload (`workload` variable).
    Workload,
    /// A database (`database` variable).
    Database,
    /// One container's demand on one database (`container` and `workload` variables).
    Container,
    /// A connection pooler (`pooler` variable).
    Pooler,
}

impl Entity {
    /// The variable name.
    pub fn var(self) -> &'static str {
        match self {
            Entity::Workload => "workload",
            Entity::Database => "database",
            Entity::Container => "container",
            Entity::Pooler => "pooler",
        }
    }

    /// Fields the entity's variable has (checked statically).
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Entity::Workload => entities::WORKLOAD_FIELDS,
            Entity::Database => entities::DATABASE_FIELDS,
            Entity::Container => entities::CONTAINER_FIELDS,
            Entity::Pooler => entities::POOLER_FIELDS,
        }
    }
}

/// An embedded test case.
#[derive(Clone, Debug)]
pub struct TestCase {
    /// Name.
    pub name: String,
    /// Where the case is written.
    pub span: Span,
    /// Inline files (name → text).
    pub files: Vec<(String, String)>,
    /// A fixture directory, relative to the policy file.
    pub fixture: Option<PathBuf>,
    /// Findings the case must produce, in order of (file, line).
    pub expect: Vec<Expect>,
}

/// One expected finding.
#[derive(Clone, Debug, PartialEq)]
pub struct Expect {
    /// File name (as written in `files`), if checked.
    pub file: Option<String>,
    /// Line, if checked.
    pub line: Option<usize>,
    /// Substring of the message, if checked.
    pub message: Option<String>,
}

/// A validated policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Rule id.
    pub id: String,
    /// Default severity.
    pub severity: Severity,
    /// One-line summary.
    pub summary: String,
    /// Message template with `{{ expr }}` parts.
    pub message: String,
    /// Longer description (What it checks / Why it matters).
    pub description: String,
    /// How to fix.
    pub remediation: String,
    /// Target.
    pub target: Target,
    /// `each`: a path whose items are checked one by one as `item`.
    pub each: Option<String>,
    /// The condition; true means the policy fires.
    pub condition: String,
    /// Where the condition is written.
    pub condition_span: Span,
    /// `at`: the path to point findings at.
    pub at: Option<String>,
    /// The policy file.
    pub file: FileId,
    /// Span of the id.
    pub span: Span,
    /// Embedded tests.
    pub tests: Vec<TestCase>,
    /// Directory of the policy file (fixture paths are relative to it).
    pub dir: PathBuf,
}

/// Longest condition or message accepted; a policy is a predicate, not a program.
pub const MAX_EXPRESSION: usize = 4096;
/// Most comprehension macros (`all`, `exists`, `map`, `filter`, …) in one expression: each
/// nests a loop over its input, so their number bounds the evaluation's polynomial degree.
pub const MAX_COMPREHENSIONS: usize = 4;

/// Keys of a policy.
pub const KEYS: &[&str] = &[
    "id",
    "severity",
    "summary",
    "message",
    "description",
    "remediation",
    "target",
    "each",
    "condition",
    "at",
    "tests",
];

/// Keys of a policy's `target`.
pub const TARGET_KEYS: &[&str] = &[
    "entity",
    "kind",
    "apiVersion",
    "namespace",
    "labels",
    "files",
];
/// Keys of an embedded test.
pub const TEST_KEYS: &[&str] = &["name", "files", "fixture", "expect"];
/// Keys of an expected finding.
pub const EXPECT_KEYS: &[&str] = &["file", "line", "message"];

/// Variables a policy may name, by target.
pub fn variables(target: &Target, each: bool) -> Vec<&'static str> {
    let mut v = match target {
        Target::Entity(Entity::Workload) => vec!["workload"],
        Target::Entity(Entity::Database) => vec!["database"],
        Target::Entity(Entity::Container) => vec!["container", "workload", "database"],
        Target::Entity(Entity::Pooler) => vec!["pooler"],
        Target::Objects { .. } => vec!["object"],
        Target::Files(_) => vec!["config", "path"],
    };
    if each {
        v.push("item");
    }
    v
}

/// Finds policy files: `*.yaml`/`*.yml` in each directory (not recursive), or the file itself.
pub fn discover(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|f| {
                    f.is_file()
                        && matches!(f.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
                })
                .collect();
            files.sort();
            out.extend(files);
        } else if p.is_file() {
            out.push(p.clone());
        }
    }
    out
}

/// Loads and validates policy files, adding them to `db`. Every problem is reported at once
/// as `path:line:col: message`.
pub fn load(paths: &[PathBuf], db: &mut SourceDb, cwd: &Path) -> Result<Vec<Policy>, Vec<String>> {
    let mut policies = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        let file = db.add(crate::input::display_path(&abs, cwd), text.into());
        let dir = abs.parent().map(Path::to_path_buf).unwrap_or_default();
        let text = db.get(file).text.clone();
        let parsed = parse::parse(Format::Yaml, file, &text, &Limits::default());
        let mut v = Validator {
            db,
            errors: Vec::new(),
        };
        if let Some(e) = &parsed.error {
            v.err(e.span, format!("invalid YAML: {}", e.message));
        }
        for d in &parsed.duplicates {
            v.err(d.span, format!("duplicate key `{}`", d.key));
        }
        for doc in &parsed.docs {
            if let Some(p) = v.policy(doc, file, &dir) {
                policies.push(p);
            }
        }
        errors.extend(v.errors);
    }
    let builtin: Vec<&str> = crate::rules::RULES.iter().map(|r| r.id).collect();
    for (i, p) in policies.iter().enumerate() {
        if builtin.contains(&p.id.as_str()) || crate::rules::RESERVED.contains(&p.id.as_str()) {
            errors.push(format!(
                "{}: policy id `{}` is a built-in rule id",
                db.location(p.span),
                p.id
            ));
        }
        if policies[..i].iter().any(|q| q.id == p.id) {
            errors.push(format!(
                "{}: policy id `{}` is defined twice",
                db.location(p.span),
                p.id
            ));
        }
    }
    if errors.is_empty() {
        Ok(policies)
    } else {
        Err(errors)
    }
}

struct Validator<'a> {
    db: &'a SourceDb,
    errors: Vec<String>,
}

impl Validator<'_> {
    fn err(&mut self, span: Span, msg: impl AsRef<str>) {
        self.errors
            .push(format!("{}: {}", self.db.location(span), msg.as_ref()));
    }

    fn string(&mut self, n: &Node, what: &str) -> Option<String> {
        match n.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.err(n.span, format!("`{what}` must be a string"));
                None
            }
        }
    }

    fn policy(&mut self, doc: &Node, file: FileId, dir: &Path) -> Option<Policy> {
        let Some(entries) = doc.as_map() else {
            self.err(doc.span, "a policy must be a mapping");
            return None;
        };
        for (k, _) in entries {
            let key = k.as_str().unwrap_or("");
            if !KEYS.contains(&key) {
                self.err(
                    k.span,
                    format!("unknown key `{key}` (expected one of: {})", KEYS.join(", ")),
                );
            }
        }
        let before = self.errors.len();
        let req = |v: &mut Self, key: &str| -> Option<&Node> {
            let n = doc.get(key);
            if n.is_none() {
                v.err(doc.span, format!("a policy needs `{key}`"));
            }
            n
        };
        let id_node = req(self, "id")?;
        let id = self.string(id_node, "id")?;
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            self.err(id_node.span, "`id` must be kebab-case (a-z, 0-9, -)");
        }
        let severity = match req(self, "severity").and_then(Node::as_str) {
            Some("error") => Severity::Error,
            Some("warning") => Severity::Warning,
            Some("note") => Severity::Note,
            _ => {
                self.err(
                    doc.get("severity").map_or(doc.span, |n| n.span),
                    "`severity` must be error, warning or note",
                );
                Severity::Warning
            }
        };
        let summary = req(self, "summary")
            .and_then(|n| self.string(n, "summary"))
            .unwrap_or_default();
        let message_node = req(self, "message");
        let message = message_node
            .and_then(|n| self.string(n, "message"))
            .unwrap_or_default();
        let description = doc
            .get("description")
            .and_then(|n| self.string(n, "description"))
            .unwrap_or_default();
        let remediation = doc
            .get("remediation")
            .and_then(|n| self.string(n, "remediation"))
            .unwrap_or_default();
        let target = req(self, "target").and_then(|n| self.target(n));
        let each_node = doc.get("each");
        let each = each_node.and_then(|n| self.string(n, "each"));
        let at_node = doc.get("at");
        let at = at_node.and_then(|n| self.string(n, "at"));
        let cond_node = req(self, "condition");
        let condition = cond_node
            .and_then(|n| self.string(n, "condition"))
            .unwrap_or_default();
        let condition_span = cond_node.map_or(doc.span, |n| n.span);
        let tests = doc.get("tests").map(|n| self.tests(n)).unwrap_or_default();
        let target = target?;
        let vars = variables(&target, each.is_some());
        if let (Some(e), Some(n)) = (&each, each_node) {
            self.path(e, n.span, &target, &variables(&target, false), "each");
        }
        if let (Some(a), Some(n)) = (&at, at_node) {
            self.path(a, n.span, &target, &vars, "at");
        }
        if let Some(n) = cond_node {
            self.expression(&condition, n.span, &target, &vars, "condition");
        }
        if let Some(n) = message_node {
            for part in eval::template_parts(&message) {
                if let eval::Part::Expr(e) = part {
                    self.expression(e, n.span, &target, &vars, "message");
                }
            }
        }
        if self.errors.len() > before {
            return None;
        }
        Some(Policy {
            id,
            severity,
            summary,
            message,
            description,
            remediation,
            target,
            each,
            condition,
            condition_span,
            at,
            file,
            span: id_node.span,
            tests,
            dir: dir.to_path_buf(),
        })
    }

    fn target(&mut self, n: &Node) -> Option<Target> {
        let Some(entries) = n.as_map() else {
            self.err(n.span, "`target` must be a mapping");
            return None;
        };
        for (k, _) in entries {
            let key = k.as_str().unwrap_or("");
            if !TARGET_KEYS.contains(&key) {
                self.err(
                    k.span,
                    format!(
                        "unknown key `{key}` in target (expected one of: {})",
                        TARGET_KEYS.join(", ")
                    ),
                );
            }
        }
        let has = |k: &str| n.get(k).is_some();
        let kinds_given = has("kind") || has("apiVersion") || has("namespace") || has("labels");
        match (has("entity"), kinds_given, has("files")) {
            (true, false, false) => {
                let e = n.get("entity")?;
                match e.as_str() {
                    Some("workload") => Some(Target::Entity(Entity::Workload)),
                    Some("database") => Some(Target::Entity(Entity::Database)),
                    Some("container") => Some(Target::Entity(Entity::Container)),
                    Some("pooler") => Some(Target::Entity(Entity::Pooler)),
                    _ => {
                        self.err(
                            e.span,
                            "`entity` must be workload, database, container or pooler",
                        );
                        None
                    }
                }
            }
            (false, true, false) => {
                let kinds = match n.get("kind") {
                    None => Vec::new(),
                    Some(k) => match k.as_seq() {
                        Some(items) => items
                            .iter()
                            .filter_map(|i| self.string(i, "kind"))
                            .collect(),
                        None => self.string(k, "kind").into_iter().collect(),
                    },
                };
                let api_version = n
                    .get("apiVersion")
                    .and_then(|a| self.string(a, "apiVersion"));
                let namespace = n.get("namespace").and_then(|ns| {
                    let s = self.string(ns, "namespace")?;
                    match globset::Glob::new(&s) {
                        Ok(g) => Some(g.compile_matcher()),
                        Err(e) => {
                            self.err(ns.span, format!("invalid glob: {e}"));
                            None
                        }
                    }
                });
                let labels = crate::model::objects::string_map(n.get("labels"))
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.as_str().unwrap_or("").to_string()))
                    .collect();
                Some(Target::Objects {
                    kinds,
                    api_version,
                    namespace,
                    labels,
                })
            }
            (false, false, true) => {
                let f = n.get("files")?;
                let globs: Vec<(String, Span)> = match f.as_seq() {
                    Some(items) => items
                        .iter()
                        .filter_map(|i| self.string(i, "files").map(|s| (s, i.span)))
                        .collect(),
                    None => self
                        .string(f, "files")
                        .map(|s| vec![(s, f.span)])
                        .unwrap_or_default(),
                };
                let mut b = globset::GlobSetBuilder::new();
                for (g, span) in globs {
                    match globset::Glob::new(&g) {
                        Ok(g) => {
                            b.add(g);
                        }
                        Err(e) => self.err(span, format!("invalid glob: {e}")),
                    }
                }
                b.build().ok().map(Target::Files)
            }
            _ => {
                self.err(n.span, "`target` takes exactly one of: `entity`, object selectors (`kind`, `apiVersion`, `namespace`, `labels`), or `files`");
                None
            }
        }
    }

    /// Checks a dotted path (`object.spec.replicas`, `item.image`, `database.max_connections`).
    fn path(&mut self, path: &str, span: Span, target: &Target, vars: &[&str], what: &str) {
        let root = path.split(['.', '[']).next().unwrap_or("");
        if !vars.contains(&root) {
            self.err(
                span,
                format!("`{what}` must start with one of: {}", vars.join(", ")),
            );
            return;
        }
        self.fields_of(root, path.split('.').nth(1), span, target);
    }

    fn fields_of(&mut self, root: &str, field: Option<&str>, span: Span, target: &Target) {
        let Some(field) = field else { return };
        let field = field.split('[').next().unwrap_or(field);
        let known: Option<&[&str]> = match (root, target) {
            ("workload", _) => Some(entities::WORKLOAD_FIELDS),
            ("database", _) => Some(entities::DATABASE_FIELDS),
            ("container", _) => Some(entities::CONTAINER_FIELDS),
            ("pooler", _) => Some(entities::POOLER_FIELDS),
            _ => None,
        };
        if let Some(known) = known
            && !known.contains(&field)
        {
            self.err(
                span,
                format!(
                    "`{root}` has no field `{field}` (fields: {})",
                    known.join(", ")
                ),
            );
        }
    }

    /// Compiles an expression and checks its variables and entity fields.
    fn expression(&mut self, expr: &str, span: Span, target: &Target, vars: &[&str], what: &str) {
        if expr.len() > MAX_EXPRESSION {
            self.err(
                span,
                format!("`{what}` is longer than {MAX_EXPRESSION} characters"),
            );
            return;
        }
        let program = match cel::Program::compile(expr) {
            Ok(p) => p,
            Err(e) => {
                for pe in &e.errors {
                    let (line, col) = (pe.pos.0.max(1), pe.pos.1.max(0) + 1);
                    self.err(
                        span,
                        format!(
                            "`{what}` does not compile at expression line {line}, column {col}: {}",
                            pe.msg
                        ),
                    );
                }
                return;
            }
        };
        let mut idents = Vec::new();
        let mut iter_vars = Vec::new();
        let mut selects = Vec::new();
        let mut comprehensions = 0;
        eval::walk(program.expression(), &mut |e| match &e.expr {
            cel::common::ast::Expr::Ident(n) => idents.push(n.clone()),
            cel::common::ast::Expr::Comprehension(c) => {
                comprehensions += 1;
                iter_vars.push(c.iter_var.clone());
                iter_vars.extend(c.iter_var2.clone());
                iter_vars.push(c.accu_var.clone());
            }
            cel::common::ast::Expr::Select(s) => {
                if let cel::common::ast::Expr::Ident(root) = &s.operand.expr {
                    selects.push((root.clone(), s.field.clone()));
                }
            }
            _ => {}
        });
        if comprehensions > MAX_COMPREHENSIONS {
            self.err(span, format!("`{what}` uses {comprehensions} comprehensions; at most {MAX_COMPREHENSIONS} are allowed"));
        }
        const TYPES: &[&str] = &[
            "int",
            "uint",
            "double",
            "string",
            "bool",
            "bytes",
            "list",
            "map",
            "null_type",
            "type",
            "dyn",
        ];
        let mut reported = Vec::new();
        for id in idents {
            if id.starts_with('@')
                || iter_vars.contains(&id)
                || vars.contains(&id.as_str())
                || TYPES.contains(&id.as_str())
            {
                continue;
            }
            if !reported.contains(&id) {
                self.err(
                    span,
                    format!(
                        "`{what}` names unknown variable `{id}` (available: {})",
                        vars.join(", ")
                    ),
                );
                reported.push(id);
            }
        }
        for (root, field) in selects {
            if iter_vars.contains(&root) {
                continue;
            }
            self.fields_of(&root, Some(&field), span, target);
        }
    }

    fn tests(&mut self, n: &Node) -> Vec<TestCase> {
        let Some(items) = n.as_seq() else {
            self.err(n.span, "`tests` must be a list");
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let Some(entries) = item.as_map() else {
                self.err(item.span, "a test must be a mapping");
                continue;
            };
            for (k, _) in entries {
                let key = k.as_str().unwrap_or("");
                if !TEST_KEYS.contains(&key) {
                    self.err(
                        k.span,
                        format!(
                            "unknown key `{key}` in a test (expected: name, files, fixture, expect)"
                        ),
                    );
                }
            }
            let name = item
                .get("name")
                .and_then(|x| self.string(x, "name"))
                .unwrap_or_else(|| format!("case {}", out.len() + 1));
            let files: Vec<(String, String)> = crate::model::objects::string_map(item.get("files"))
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.as_str().unwrap_or("").to_string()))
                .collect();
            let fixture = item
                .get("fixture")
                .and_then(|x| self.string(x, "fixture"))
                .map(PathBuf::from);
            if files.is_empty() && fixture.is_none() {
                self.err(item.span, "a test needs `files` or `fixture`");
            }
            let mut expect = Vec::new();
            match item.get("expect") {
                None => self.err(
                    item.span,
                    "a test needs `expect` (a list; empty means no finding)",
                ),
                Some(e) => match e.as_seq() {
                    Some(list) => {
                        for x in list {
                            if x.as_map().is_none() {
                                self.err(
                                    x.span,
                                    "an expected finding is a mapping of file, line, message",
                                );
                                continue;
                            }
                            for (k, _) in x.as_map().unwrap_or(&[]) {
                                let key = k.as_str().unwrap_or("");
                                if !EXPECT_KEYS.contains(&key) {
                                    self.err(k.span, format!("unknown key `{key}` in an expected finding (expected: file, line, message)"));
                                }
                            }
                            expect.push(Expect {
                                file: x.get("file").and_then(Node::as_str).map(str::to_string),
                                line: x.get("line").and_then(Node::as_i64).map(|l| l as usize),
                                message: x
                                    .get("message")
                                    .and_then(Node::as_str)
                                    .map(str::to_string),
                            });
                        }
                    }
                    None => self.err(e.span, "`expect` must be a list"),
                },
            }
            out.push(TestCase {
                name,
                span: item.span,
                files,
                fixture,
                expect,
            });
        }
        out
    }
}
