//! Register allocation for the JIT's straight-line vector code: a linear scan without spilling.
//!
//! Every virtual register lives from its definition to its last use. Walking the instructions
//! in order, the registers of operands that die at an instruction are freed before its result
//! is placed, preferring one of them (so that destructive encodings such as FMA need no copy).
//! When the code needs more registers than the machine has, allocation fails and the caller
//! tries a smaller register blocking, or leaves the formula to the interpreter.

use super::vir::{Code, Dst, Inst, MReg, Src, VReg};

/// Where the virtual registers went.
#[derive(Debug, Clone)]
pub struct Allocation {
    /// Physical vector register of each virtual one.
    pub vreg: Vec<u8>,
    /// Physical mask register of each mask (a k register with AVX-512, a vector register with AVX2).
    pub mreg: Vec<u8>,
    /// For each instruction: the physical vector and mask registers live across it (defined
    /// before, used after), which a call-out must preserve.
    pub live_across: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The registers the allocator may hand out.
pub struct Budget {
    /// Vector registers, in order of preference.
    pub vectors: Vec<u8>,
    /// Mask registers; `None` when masks are vectors taken from `vectors` (AVX2).
    pub masks: Option<Vec<u8>>,
}

/// Fails with the number of registers that were missing at the worst point.
pub fn allocate(code: &Code, budget: &Budget) -> Result<Allocation, usize> {
    let n = code.insts.len();
    let (nv, nm) = (code.vregs() as usize, code.mregs() as usize);
    let mut last_v = vec![usize::MAX; nv];
    let mut last_m = vec![usize::MAX; nm];
    let mut reads = Vec::new();
    for (i, ins) in code.insts.iter().enumerate() {
        ins.reads(&mut reads);
        for s in &reads {
            if let Src::V(v) = s {
                last_v[v.0 as usize] = i;
            }
        }
        for m in ins.mask_reads() {
            last_m[m.0 as usize] = i;
        }
    }
    let mut free_v: Vec<u8> = budget.vectors.iter().rev().copied().collect();
    let mut free_m: Vec<u8> = budget.masks.as_ref().map(|m| m.iter().rev().copied().collect()).unwrap_or_default();
    let shared = budget.masks.is_none();
    let mut vreg = vec![u8::MAX; nv];
    let mut mreg = vec![u8::MAX; nm];
    let mut live_v: Vec<VReg> = Vec::new();
    let mut live_m: Vec<MReg> = Vec::new();
    let mut live_across = Vec::with_capacity(n);
    let mut missing = 0;
    for (i, ins) in code.insts.iter().enumerate() {
        // Registers dying here are free for this instruction's result.
        let mut dying: Vec<u8> = Vec::new();
        live_v.retain(|v| {
            let keep = last_v[v.0 as usize] > i;
            if !keep {
                dying.push(vreg[v.0 as usize]);
            }
            keep
        });
        let mut dying_m: Vec<u8> = Vec::new();
        live_m.retain(|m| {
            let keep = last_m[m.0 as usize] > i;
            if !keep {
                dying_m.push(mreg[m.0 as usize]);
            }
            keep
        });
        live_across.push((
            live_v.iter().map(|v| vreg[v.0 as usize]).collect::<Vec<u8>>(),
            if shared { vec![] } else { live_m.iter().map(|m| mreg[m.0 as usize]).collect() },
        ));
        if shared {
            live_across[i].0.extend(live_m.iter().map(|m| mreg[m.0 as usize]));
        }
        // The first operand's register is the preferred destination (destructive encodings).
        let preferred = first_vreg(ins).map(|v| vreg[v.0 as usize]).filter(|r| dying.contains(r));
        if let Some(p) = preferred {
            dying.retain(|&r| r != p);
            dying.push(p);
        }
        let defs: Vec<VReg> = match ins {
            Inst::CallOut { outs, .. } => outs.clone(),
            _ => match ins.def() {
                Some(Dst::V(v)) => vec![v],
                _ => vec![],
            },
        };
        let mdef = ins.mask_def();
        // Dead registers go back to the pool; the result may reuse them.
        if shared {
            free_v.extend(dying_m.iter().copied());
        } else {
            free_m.extend(dying_m.iter().copied());
        }
        free_v.extend(dying.iter().copied());
        for v in defs {
            match free_v.pop() {
                Some(r) => vreg[v.0 as usize] = r,
                None => {
                    missing += 1;
                    continue;
                }
            }
            if last_v[v.0 as usize] == usize::MAX {
                // Never read: its register is free again at once.
                free_v.push(vreg[v.0 as usize]);
            } else {
                live_v.push(v);
            }
        }
        if let Some(m) = mdef {
            let pool = if shared { &mut free_v } else { &mut free_m };
            match pool.pop() {
                Some(r) => mreg[m.0 as usize] = r,
                None => {
                    missing += 1;
                    continue;
                }
            }
            if last_m[m.0 as usize] == usize::MAX {
                pool.push(mreg[m.0 as usize]);
            } else {
                live_m.push(m);
            }
        }
    }
    if missing > 0 {
        return Err(missing);
    }
    Ok(Allocation { vreg, mreg, live_across })
}

/// The virtual register a destructive encoding would like to overwrite: the first operand.
fn first_vreg(ins: &Inst) -> Option<VReg> {
    let s = match ins {
        Inst::Bin { a, .. } | Inst::Int { a, .. } | Inst::Un { a, .. } | Inst::Mov { a, .. } => *a,
        Inst::Fma { a, c, .. } => {
            // FMA overwrites a (213 form) or c (231 form): prefer c, the accumulating operand.
            if let Src::V(_) = c {
                *c
            } else {
                *a
            }
        }
        Inst::Blend { f, .. } => *f,
        _ => return None,
    };
    match s {
        Src::V(v) => Some(v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::jit::vir::{Bin, Code, Pred, Src};

    #[test]
    fn registers_are_reused_when_values_die() {
        let mut c = Code::default();
        let mut x = c.mov(Src::Pool(0));
        for _ in 0..100 {
            x = c.bin(Bin::Add, x, Src::Pool(1));
        }
        let m = c.cmp(Pred::Lt, x, Src::Pool(0));
        let _ = c.blend(m, x, Src::Pool(2));
        let budget = Budget { vectors: vec![0, 1], masks: Some(vec![1]) };
        let a = allocate(&c, &budget).unwrap();
        assert!(a.vreg.iter().all(|&r| r <= 1));
        assert!(allocate(&c, &Budget { vectors: vec![], masks: Some(vec![1]) }).is_err());
    }

    #[test]
    fn too_many_live_values_fail() {
        let mut c = Code::default();
        let xs: Vec<Src> = (0..5).map(|k| c.mov(Src::Pool(k))).collect();
        let mut s = xs[0];
        for &x in &xs[1..] {
            s = c.bin(Bin::Add, s, x);
        }
        assert_eq!(allocate(&c, &Budget { vectors: vec![0, 1, 2], masks: None }).unwrap_err(), 2);
        assert!(allocate(&c, &Budget { vectors: vec![0, 1, 2, 3, 4], masks: None }).is_ok());
    }
}
