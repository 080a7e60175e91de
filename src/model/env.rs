//! Container environment, resolved exactly as the kubelet does it.
//!
//! `envFrom` sources in order (later wins, `prefix` prepended), then `env` entries in order
//! (they win over `envFrom`), `configMapKeyRef` / `secretKeyRef` looked up in the same
//! namespace, and `$(VAR)` expanded against what is defined so far (`$$` escapes).

use super::objects::{Data, Index};
use super::operators;
use crate::parse::Node;
use crate::source::Span;

/// One resolved environment variable.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// Value; `None` when it cannot be known from the repository.
    pub value: Option<String>,
    /// Where the value is written (the literal, or the ConfigMap/Secret value).
    pub span: Span,
    /// Where the variable is declared in the container (the `env` entry's name, or the
    /// `envFrom` source).
    pub decl: Span,
    /// Whether the value comes from a Secret.
    pub secret: bool,
    /// Why the value is unknown, when it is.
    pub unknown_reason: Option<String>,
    /// Name of the Secret it came from, when it did.
    pub secret_name: Option<String>,
}

/// The resolved environment of a container, in definition order.
#[derive(Clone, Debug, Default)]
pub struct Env {
    /// Variables; names are unique (a redefinition replaces the earlier entry in place).
    pub vars: Vec<EnvVar>,
}

impl Env {
    /// The variable `name`.
    pub fn get(&self, name: &str) -> Option<&EnvVar> {
        self.vars.iter().find(|v| v.name == name)
    }

    /// The value of `name` when known.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.value.as_deref())
    }

    fn set(&mut self, var: EnvVar) {
        match self.vars.iter_mut().find(|v| v.name == var.name) {
            Some(slot) => *slot = var,
            None => self.vars.push(var),
        }
    }
}

/// Expands `$(VAR)` references against `env`; `$$` is a literal `$`. Unknown references are
/// left as written (kubelet behaviour). Returns `None` when a referenced variable's value is
/// unknown.
pub fn expand(input: &str, env: &Env) -> Option<String> {
    if !input.contains('$') {
        return Some(input.to_string());
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(a) = after.strip_prefix('$') {
            out.push('$');
            rest = a;
        } else if let Some(body) = after.strip_prefix('(')
            && let Some(end) = body.find(')')
        {
            let name = &body[..end];
            match env.get(name) {
                Some(v) => out.push_str(v.value.as_deref()?),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Some(out)
}

/// Looks up a ConfigMap or Secret, falling back to operator-generated Secrets.
fn lookup<'i>(
    idx: &'i Index,
    generated: &'i [operators::GeneratedSecret],
    ns: &str,
    name: &str,
    secret: bool,
) -> Option<&'i Data> {
    idx.data(ns, name, secret).or_else(|| {
        secret
            .then(|| {
                generated
                    .iter()
                    .find(|g| g.namespace == ns && g.name == name)
                    .map(|g| &g.data)
            })
            .flatten()
    })
}

/// Resolves a container's environment.
pub fn resolve(
    container: &Node,
    ns: &str,
    idx: &Index,
    generated: &[operators::GeneratedSecret],
) -> Env {
    let mut env = Env::default();
    for src in container
        .get("envFrom")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
    {
        let prefix = src.get("prefix").and_then(Node::as_str).unwrap_or("");
        let (r, secret) = match (src.get("configMapRef"), src.get("secretRef")) {
            (Some(r), _) => (r, false),
            (None, Some(r)) => (r, true),
            _ => continue,
        };
        let name_node = r.get("name");
        let name = name_node.and_then(Node::as_str).unwrap_or("");
        let decl = name_node.map(|n| n.span).unwrap_or(src.span);
        let Some(data) = lookup(idx, generated, ns, name, secret) else {
            // A missing source only matters for the variables it would have defined, which
            // are unknowable; linking reports endpoints it cannot resolve.
            continue;
        };
        for (key, v) in &data.entries {
            if !valid_env_name(key) {
                continue;
            }
            env.set(EnvVar {
                name: format!("{prefix}{key}"),
                value: v.text.clone(),
                span: v.span,
                decl,
                secret,
                unknown_reason: v
                    .text
                    .is_none()
                    .then(|| format!("value of `{key}` in `{name}` is not readable")),
                secret_name: secret.then(|| name.to_string()),
            });
        }
    }
    for e in container.get("env").and_then(Node::as_seq).unwrap_or(&[]) {
        let Some(name_node) = e.get("name") else {
            continue;
        };
        let Some(name) = name_node.as_str() else {
            continue;
        };
        let var = if let Some(v) = e.get("value") {
            let raw = v.as_str().unwrap_or("");
            let value = expand(raw, &env);
            EnvVar {
                name: name.to_string(),
                unknown_reason: value
                    .is_none()
                    .then(|| "refers to a variable whose value is unknown".to_string()),
                value,
                span: v.span,
                decl: name_node.span,
                secret: false,
                secret_name: None,
            }
        } else if let Some(vf) = e.get("valueFrom") {
            resolve_value_from(name, name_node.span, vf, ns, idx, generated)
        } else {
            EnvVar {
                name: name.to_string(),
                value: Some(String::new()),
                span: name_node.span,
                decl: name_node.span,
                secret: false,
                unknown_reason: None,
                secret_name: None,
            }
        };
        env.set(var);
    }
    env
}

fn resolve_value_from(
    name: &str,
    decl: Span,
    vf: &Node,
    ns: &str,
    idx: &Index,
    generated: &[operators::GeneratedSecret],
) -> EnvVar {
    let unknown = |span: Span, reason: String, secret: Option<String>| EnvVar {
        name: name.to_string(),
        value: None,
        span,
        decl,
        secret: secret.is_some(),
        unknown_reason: Some(reason),
        secret_name: secret,
    };
    let (r, secret) = match (vf.get("configMapKeyRef"), vf.get("secretKeyRef")) {
        (Some(r), _) => (r, false),
        (None, Some(r)) => (r, true),
        _ => {
            let what = vf
                .as_map()
                .and_then(|m| m.first())
                .and_then(|(k, _)| k.as_str())
                .unwrap_or("valueFrom");
            return unknown(vf.span, format!("set at run time by `{what}`"), None);
        }
    };
    let obj_name = r.get("name").and_then(Node::as_str).unwrap_or("");
    let key = r.get("key").and_then(Node::as_str).unwrap_or("");
    let kind = if secret { "Secret" } else { "ConfigMap" };
    let secret_name = secret.then(|| obj_name.to_string());
    let Some(data) = lookup(idx, generated, ns, obj_name, secret) else {
        return unknown(
            r.span,
            format!("{kind} `{obj_name}` is not in the scanned files"),
            secret_name,
        );
    };
    match data.get(key) {
        Some(v) => EnvVar {
            name: name.to_string(),
            value: v.text.clone(),
            span: v.span,
            decl,
            secret,
            unknown_reason: v
                .text
                .is_none()
                .then(|| format!("`{key}` of {kind} `{obj_name}` is not readable")),
            secret_name,
        },
        None => unknown(
            r.span,
            format!("{kind} `{obj_name}` has no key `{key}`"),
            secret_name,
        ),
    }
}

/// Kubernetes' rule for names taken from `envFrom` keys (C_IDENTIFIER-like, plus `.` and `-`).
fn valid_env_name(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    fn var(name: &str, value: Option<&str>) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: value.map(Into::into),
            span: Span::file_start(FileId(0)),
            decl: Span::file_start(FileId(0)),
            secret: false,
            unknown_reason: None,
            secret_name: None,
        }
    }

    #[test]
    fn expansion_follows_the_kubelet() {
        let mut env = Env::default();
        env.set(var("HOST", Some("db")));
        env.set(var("SECRET", None));
        assert_eq!(expand("$(HOST):5432", &env).as_deref(), Some("db:5432"));
        assert_eq!(expand("$$(HOST)", &env).as_deref(), Some("$(HOST)"));
        assert_eq!(expand("$(NOPE)", &env).as_deref(), Some("$(NOPE)"));
        assert_eq!(expand("a$b", &env).as_deref(), Some("a$b"));
        assert_eq!(expand("$(SECRET)", &env), None);
    }

    #[test]
    fn redefinition_keeps_position_and_takes_new_value() {
        let mut env = Env::default();
        env.set(var("A", Some("1")));
        env.set(var("B", Some("2")));
        env.set(var("A", Some("3")));
        assert_eq!(env.vars.len(), 2);
        assert_eq!(env.value("A"), Some("3"));
    }
}
