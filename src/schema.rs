//! JSON Schemas (2020-12) for poolguard.yaml and policy files, for editors. Generated here and
//! committed under `schema/`; a test fails when the committed files are stale or when a key
//! the validators accept is missing from a schema.

use serde_json::{Value, json};

fn string(desc: &str) -> Value {
    json!({"type": "string", "description": desc})
}

fn int(desc: &str, min: i64) -> Value {
    json!({"anyOf": [{"type": "integer", "minimum": min}, {"type": "string", "pattern": "^[0-9]+$"}], "description": desc})
}

fn strings(desc: &str) -> Value {
    json!({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}], "description": desc})
}

fn object(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "additionalProperties": false, "properties": props, "required": required})
}

/// Schema of poolguard.yaml.
pub fn config() -> Value {
    let rule_ids: Vec<&str> = crate::rules::RULES
        .iter()
        .map(|r| r.id)
        .chain(crate::rules::RESERVED.iter().copied())
        .collect();
    let database = object(
        json!({
            "name": string("Database id, used in findings and by `workloads[].database`."),
            "engine": {"enum": ["postgres", "postgresql", "mysql", "mariadb", "aurora-postgresql", "aurora-mysql"], "description": "Engine (default postgres); the aurora engines select AWS's documented Aurora tables for instance_class."},
            "max_connections": int("Server max_connections (default: the engine's, postgres 100, mysql 151).", 1),
            "instance_class": string("Managed instance class (db.r6g.large, Standard_D2s_v3): max_connections from the provider's documented table, else its formula (an estimate, said so in findings)."),
            "reserved": int("Slots reserved for superusers and reserved roles (default: postgres 3, mysql 0).", 0),
            "headroom": int("Slots kept free for admins, monitoring, migrations (default 0).", 0),
            "hosts": strings("Host globs that link endpoints to this database."),
        }),
        &["name"],
    );
    let workload = object(
        json!({
            "id": string("Workload id glob: `namespace/Kind/name`."),
            "database": string("Database id to link when the endpoint cannot be resolved."),
            "pool_max": int("Per-process pool maximum.", 0),
            "processes": int("Processes per container.", 1),
            "connections_per_pod": int("Connections per pod, outright.", 0),
            "config": strings("Repository-relative service config files attached to the workload."),
        }),
        &["id"],
    );
    let ignore_finding = object(
        json!({
            "rule": string("Rule id to suppress."),
            "path": string("Path glob of the finding's file (default: all)."),
            "reason": string("Why (required in spirit: a missing reason is a warning)."),
            "expires": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "description": "YYYY-MM-DD after which the entry no longer suppresses."},
        }),
        &["rule"],
    );
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "poolguard.yaml",
        "type": ["object", "null"],
        "additionalProperties": false,
        "properties": {
            "databases": {"type": "array", "items": database, "description": "Databases the manifests cannot tell (managed databases, overrides)."},
            "workloads": {"type": "array", "items": workload, "description": "Facts about workloads the manifests cannot tell."},
            "stacks": {"type": "array", "items": object(json!({
                "name": string("Stack name (shown in findings)."),
                "match": object(json!({
                    "env": strings("Env variables that must all be set."),
                    "image": string("Image glob."),
                    "args": string("A word that must appear in command/args."),
                }), &[]),
                "pool_max": string("CEL over env, args, image (e.g. `int(env.DB_POOL_SIZE) + int(env.DB_MAX_OVERFLOW)`): pool per process."),
                "processes": string("CEL: processes per container (default 1)."),
            }), &["name", "match", "pool_max"]), "description": "In-house stacks, tried before the built-in ones."},
            "warn_utilization": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "description": "Warning threshold as a fraction of capacity (default 0.8)."},
            "scenario": {"enum": ["steady", "rollout", "all-rollouts"], "description": "Which sum gates errors (default rollout)."},
            "rules": {"type": "object", "propertyNames": {"enum": rule_ids}, "additionalProperties": {"enum": ["off", "note", "warning", "error", false]}, "description": "Severity overrides by rule id."},
            "ignore": strings("Path globs not to read."),
            "ignore_findings": {"type": "array", "items": ignore_finding, "description": "Suppressions with reason and expiry."},
            "nodes": object(json!({"count": int("Maximum node count (bounds DaemonSets).", 1), "cpus": int("CPUs per node (CPU-derived pool defaults).", 1)}), &[]),
            "max_file_size": int("Largest file read, in bytes (default 64 MiB).", 1),
            "policies": strings("Extra policy files or directories, relative to this file."),
        },
    })
}

/// Schema of a policy file.
pub fn policy() -> Value {
    let expect = object(
        json!({
            "file": string("File name as written in `files`."),
            "line": {"type": "integer", "minimum": 1, "description": "1-based line of the finding."},
            "message": string("Substring of the message."),
        }),
        &[],
    );
    let test = object(
        json!({
            "name": string("Case name."),
            "files": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Inline files: name → content."},
            "fixture": string("Fixture directory relative to the policy file."),
            "expect": {"type": "array", "items": expect, "description": "Exactly the findings of this policy the case must produce ([] for none)."},
        }),
        &["expect"],
    );
    let target = object(
        json!({
            "entity": {"enum": ["workload", "database", "container", "pooler"], "description": "A model entity."},
            "kind": strings("Kubernetes kinds."),
            "apiVersion": string("Exact apiVersion."),
            "namespace": string("Namespace glob."),
            "labels": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Labels that must all match."},
            "files": strings("Service-config path globs."),
        }),
        &[],
    );
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "poolguard policy",
        "type": "object",
        "additionalProperties": false,
        "required": ["id", "severity", "summary", "message", "target", "condition"],
        "properties": {
            "id": {"type": "string", "pattern": "^[a-z0-9-]+$", "description": "Rule id (kebab-case; not a built-in id)."},
            "severity": {"enum": ["error", "warning", "note"]},
            "summary": string("One line for `poolguard rules`."),
            "message": string("Finding message; `{{ expr }}` parts are CEL over the same variables."),
            "description": string("What it checks and why it matters."),
            "remediation": string("How to fix; shown as help under each finding."),
            "target": target,
            "each": string("A path whose items are checked one by one as `item`."),
            "condition": {"type": "string", "maxLength": crate::policy::MAX_EXPRESSION, "description": "CEL; true means the policy fires."},
            "at": string("Path of the node or field to point findings at."),
            "tests": {"type": "array", "items": test},
        },
    })
}

/// Pretty JSON with a trailing newline, as committed.
pub fn render(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        k.sort();
        k
    }

    fn sorted(k: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = k.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn schemas_cover_exactly_the_keys_the_validators_accept() {
        let c = config();
        assert_eq!(keys(&c), sorted(crate::config::TOP_KEYS));
        assert_eq!(
            keys(&c["properties"]["databases"]["items"]),
            sorted(crate::config::DATABASE_KEYS)
        );
        assert_eq!(
            keys(&c["properties"]["workloads"]["items"]),
            sorted(crate::config::WORKLOAD_KEYS)
        );
        assert_eq!(
            keys(&c["properties"]["nodes"]),
            sorted(crate::config::NODES_KEYS)
        );
        assert_eq!(
            keys(&c["properties"]["ignore_findings"]["items"]),
            sorted(crate::config::IGNORE_FINDING_KEYS)
        );
        let p = policy();
        assert_eq!(keys(&p), sorted(crate::policy::KEYS));
        assert_eq!(
            keys(&p["properties"]["target"]),
            sorted(crate::policy::TARGET_KEYS)
        );
        assert_eq!(
            keys(&p["properties"]["tests"]["items"]),
            sorted(crate::policy::TEST_KEYS)
        );
        assert_eq!(
            keys(&p["properties"]["tests"]["items"]["properties"]["expect"]["items"]),
            sorted(crate::policy::EXPECT_KEYS)
        );
    }

    #[test]
    fn committed_schema_files_are_fresh() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema");
        for (name, v) in [
            ("poolguard.schema.json", config()),
            ("policy.schema.json", policy()),
        ] {
            let committed = std::fs::read_to_string(root.join(name)).unwrap_or_default();
            assert_eq!(
                committed,
                render(&v),
                "schema/{name} is stale: run `cargo run -- schema {} > schema/{name}`",
                if name.starts_with("policy") {
                    "policy"
                } else {
                    "config"
                }
            );
        }
    }
}
