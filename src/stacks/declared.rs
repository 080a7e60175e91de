//! In-house stacks declared under `stacks:` in poolguard.yaml: a match on env names, image or
//! args, and CEL expressions (the policy language) for the pool per process and the processes.
//! They are tried before the built-in stacks: a team knows its own framework best.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Ctx, Pool};
use crate::config::DeclaredStack;
use crate::report::Fact;
use crate::source::Span;

/// The first declared stack that matches the container.
pub fn detect(ctx: &Ctx, stacks: &[DeclaredStack]) -> Option<Pool> {
    let s = stacks.iter().find(|s| matches(ctx, s))?;
    let env: HashMap<String, cel::Value> = ctx
        .env
        .vars
        .iter()
        .filter_map(|v| {
            Some((
                v.name.clone(),
                cel::Value::String(Arc::new(v.value.clone()?)),
            ))
        })
        .collect();
    let args: Vec<cel::Value> = ctx
        .args
        .iter()
        .flat_map(|a| {
            a.text
                .split_whitespace()
                .map(|w| cel::Value::String(Arc::new(w.to_string())))
        })
        .collect();
    let mut cel_ctx = cel::Context::default();
    cel_ctx.add_variable_from_value("env", cel::Value::from(env));
    cel_ctx.add_variable_from_value("args", cel::Value::List(Arc::new(args)));
    cel_ctx.add_variable_from_value("image", cel::Value::String(Arc::new(ctx.image.to_string())));
    let (pool_max, unknown) = match eval(ctx, &cel_ctx, &s.pool_max) {
        Ok(f) => (Some(f), None),
        Err(why) => (
            None,
            Some((s.pool_max.1, format!("stack `{}`: pool_max {why}", s.name))),
        ),
    };
    let processes = match &s.processes {
        None => Fact::default(1, "one process per container"),
        Some(p) => match eval(ctx, &cel_ctx, p) {
            Ok(f) => f,
            Err(_) => Fact::default(
                1,
                "declared stack's processes expression failed; one process assumed",
            ),
        },
    };
    Some(Pool {
        stack: "declared",
        pool_max,
        processes,
        endpoints: Vec::new(),
        unknown,
        settings: Vec::new(),
    })
}

fn matches(ctx: &Ctx, s: &DeclaredStack) -> bool {
    s.env.iter().all(|n| ctx.env.get(n).is_some())
        && s.image.as_ref().is_none_or(|g| g.is_match(ctx.image))
        && s.args
            .as_ref()
            .is_none_or(|w| ctx.args.iter().any(|a| a.text.contains(w.as_str())))
}

/// Evaluates an expression to a non-negative integer. The number points at the env value it
/// came from when the expression reads exactly one variable and returns it, else at the
/// expression in poolguard.yaml.
fn eval(ctx: &Ctx, cel_ctx: &cel::Context, (expr, span): &(String, Span)) -> Result<Fact, String> {
    let program = cel::Program::compile(expr).map_err(|e| format!("does not compile: {e}"))?;
    let value = match program.execute(cel_ctx) {
        Ok(cel::Value::Int(i)) => i,
        Ok(cel::Value::UInt(u)) => i64::try_from(u).map_err(|_| "is too large".to_string())?,
        Ok(other) => return Err(format!("gave {other:?}, not an integer")),
        Err(cel::ExecutionError::NoSuchKey(k)) => {
            return Err(format!("reads `{k}`, which the container does not set"));
        }
        Err(e) => return Err(format!("failed: {e}")),
    };
    if value < 0 {
        return Err(format!("gave {value}, a negative size"));
    }
    let read: Vec<&str> = ctx
        .env
        .vars
        .iter()
        .filter(|v| {
            expr.contains(&format!("env.{}", v.name))
                || expr.contains(&format!("env[\"{}\"]", v.name))
        })
        .map(|v| v.name.as_str())
        .collect();
    if let [one] = read.as_slice()
        && let Some(v) = ctx.env.get(one)
        && v.value
            .as_deref()
            .and_then(|t| crate::parse::parse_int(t.trim()))
            == Some(value)
    {
        return Ok(Fact::at(value, v.span));
    }
    Ok(Fact::at(value, *span))
}
