//! Every operation's descriptor is complete: its table row rebuilds it, its formulas print and parse back, and it evaluates and differentiates.
//!
//! An operation is declared by its row of the operation table (`expr/table.rs`: name, arity,
//! parameters, dimension rule), its row in `ops.rs` for elementwise functions, and one arm in
//! each exhaustive match of evaluation, derivative and CUDA code (which the compiler enforces).
//! This test walks every node of the catalogue, whose coverage of every operation is checked
//! by name, and fails naming the operation and the piece that is missing or inconsistent. The
//! CUDA piece is checked per row by `cuda_codegen.rs` (NVRTC compiles every row).

use noyau_engine::diff::diff;
use noyau_engine::reference::eval_point;
use noyau_engine::{parse_formula, print, Expr, Op, VarTable};

mod common;
use common::catalog::{assert_covers_every_op, every_op_name, rows, FIXED_D};

/// What is wrong with the descriptor of `n`'s operation, if anything.
fn descriptor_problems(n: &Expr) -> Vec<String> {
    let op = n.op();
    let name = op.name();
    let mut problems = Vec::new();
    if op.arity() != n.args().len() {
        problems.push(format!("{name}: arity {} but {} operands", op.arity(), n.args().len()));
    }
    if op.params().len() != op.syntax().params.len() {
        problems.push(format!(
            "{name}: {} parameter values for {} declared",
            op.params().len(),
            op.syntax().params.len()
        ));
    }
    // Variables and constants are written otherwise (`Vi(0,3)`, `2.5`); every other operation
    // is found by its name and rebuilt from its parameters, as the parser and simplifier do.
    if !matches!(op, Op::Var { .. } | Op::Const(_)) {
        match Op::by_name(name).map(|t| t.with_params(&op.params())) {
            Some(Some(back)) if &back == op => {}
            other => problems.push(format!("{name}: its table row rebuilds {other:?}")),
        }
    }
    let values = eval_point(std::slice::from_ref(n), &|i| vec![0.5; dim_of(n, i)]);
    if values.first().map(Vec::len) != Some(n.dim()) {
        problems.push(format!("{name}: evaluation gives {values:?} for a node of dimension {}", n.dim()));
    }
    for (index, dim, cat) in Expr::variables(std::slice::from_ref(n)) {
        let v = Expr::var(index, dim, cat).unwrap();
        // The directional derivative along the variable itself: any direction of its dimension.
        if let Err(e) = diff(n, &v, &v) {
            problems.push(format!("{name}: no derivative with respect to variable {index}: {e}"));
        }
    }
    problems
}

/// The dimension of variable `index` in `f`.
fn dim_of(f: &Expr, index: usize) -> usize {
    Expr::variables(std::slice::from_ref(f)).into_iter().find(|v| v.0 == index).map_or(1, |v| v.1)
}

#[test]
fn every_operation_has_every_piece() {
    let table = rows(FIXED_D);
    assert_covers_every_op(&table);
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in &table {
        for n in Expr::topo_order(std::slice::from_ref(&r.f)) {
            if seen.insert(n.clone()) {
                problems.extend(descriptor_problems(&n));
            }
        }
        match parse_formula(&print::to_string(&r.f), &VarTable::new()) {
            Ok(back) if back == r.f => {}
            other => problems.push(format!("{}: does not print and parse back ({other:?})", r.label)),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_callable_name_is_a_distinct_operation() {
    let names = every_op_name();
    let distinct: std::collections::BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(distinct.len(), names.len(), "two operations share a name: {names:?}");
    for name in names.iter().filter(|n| !matches!(**n, "Var" | "Const")) {
        let op = Op::by_name(name).unwrap_or_else(|| panic!("{name} is not found by name"));
        assert_eq!(op.name(), *name);
        assert!(op.with_params(&op.params()).is_some(), "{name}: default parameters do not rebuild it");
    }
}
