//! The JIT compiles every operation of the catalogue, under every reduction family, for each
//! instruction set this CPU runs — so that the other tests, which compare the default engine
//! with the reference, really test JIT code and not a silent fallback to the interpreter.
//! Also: its generated code for the Gaussian convolution stays in registers (no stores in the
//! loop), and a formula too large for the registers is left to the interpreter with a reason.

#![cfg(target_arch = "x86_64")]

mod common;

use common::catalog::{rows, Pool, FIXED_D};
use noyau_engine::cpu::{self, SimdLevel};
use noyau_engine::{Axis, Cat, DType, Expr, Reduce, Reduction, SumScheme, VarDecl};

fn levels() -> Vec<SimdLevel> {
    SimdLevel::available().into_iter().filter(|l| *l != SimdLevel::Portable).collect()
}

fn spec(pool: Pool, f: &Expr, red: Reduction, weight: Option<Expr>) -> Reduce {
    let declared: Vec<VarDecl> = (0..Pool::LEN)
        .map(|index| {
            let (dim, cat) = pool.decl(index);
            VarDecl { name: format!("v{index}"), index, dim, cat }
        })
        .collect();
    Reduce::with_vars(f.clone(), weight, red, Axis::J, &declared).unwrap()
}

#[test]
fn every_catalogue_row_compiles_under_every_reduction_family() {
    let pool = Pool { d: FIXED_D };
    let mut failures = Vec::new();
    for row in rows(FIXED_D) {
        let mut specs = vec![
            spec(pool, &row.f, Reduction::Sum, None),
            spec(pool, &row.f, Reduction::MaxArgMax, None),
            spec(pool, &row.f, Reduction::ArgKMin(2), None),
        ];
        if row.f.dim() == 1 {
            specs.push(spec(pool, &row.f, Reduction::LogSumExp, None));
            specs.push(spec(pool, &row.f, Reduction::SumSoftMaxWeight, Some(pool.var(7))));
        }
        for s in &specs {
            let layout = cpu::state_layout(s, SumScheme::Block);
            for level in levels() {
                for dtype in [DType::F32, DType::F64] {
                    for mapped in [false, true] {
                        if let Err(e) = cpu::compiled(s).jit_kernels(&layout, dtype, level, mapped) {
                            failures.push(format!(
                                "{} under {} ({}, {}, mapped {mapped}): {e}",
                                row.label,
                                s.reduction,
                                level.name(),
                                dtype.name()
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} kernels did not compile:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_gaussian_convolution_keeps_its_pairs_in_registers() {
    let x = Expr::var(0, 3, Cat::I).unwrap();
    let y = Expr::var(1, 3, Cat::J).unwrap();
    let b = Expr::var(2, 1, Cat::J).unwrap();
    let f = x.sqdist(y).unwrap().neg().unwrap().exp().unwrap().mul(b).unwrap();
    let s = Reduce::new(f, None, Reduction::Sum, Axis::J).unwrap();
    let layout = cpu::state_layout(&s, SumScheme::Block);
    for level in levels() {
        let k = cpu::compiled(&s).jit_kernels(&layout, DType::F32, level, false).unwrap();
        let asm = k.main.whole.disassembly();
        let body: Vec<&str> =
            asm.lines().skip_while(|l| !l.starts_with("mov r14")).take_while(|l| !l.starts_with("dec r14")).collect();
        assert!(!body.is_empty(), "{asm}");
        // Nothing is written to memory inside the loop: every value stays in a register.
        let stores: Vec<&&str> = body.iter().filter(|l| l.contains("],")).collect();
        assert!(stores.is_empty(), "{}: stores in the loop: {stores:?}\n{asm}", level.name());
        // One exponential per pair vector: a scaling (AVX-512) or the exponent bits (AVX2).
        assert!(body.iter().any(|l| l.starts_with("vscalefps") || l.starts_with("vpslld")), "{asm}");
    }
}

#[test]
fn a_formula_too_large_for_the_registers_is_left_to_the_interpreter() {
    // 48 live components at once (a product of two vectors of dimension 48, summed at the end).
    let x = Expr::var(0, 48, Cat::I).unwrap();
    let y = Expr::var(1, 48, Cat::J).unwrap();
    let z = Expr::var(2, 48, Cat::J).unwrap();
    let f = x.clone().mul(y.clone()).unwrap().concat(x.mul(z).unwrap()).unwrap();
    let s = Reduce::new(f, None, Reduction::Sum, Axis::J).unwrap();
    let layout = cpu::state_layout(&s, SumScheme::Block);
    if let Some(&level) = levels().first() {
        let err = cpu::compiled(&s).jit_kernels(&layout, DType::F64, level, false).err().unwrap();
        assert!(err.contains("registers") || err.contains("accumulators"), "{err}");
    }
}
