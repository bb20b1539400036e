//! Machine code for a kernel: the vector code, allocated, encoded for AVX-512 or AVX2 with iced-x86 inside a loop over tiles.
//!
//! The function takes a pointer to [`super::Args`]. Callee-saved registers hold the loop's
//! state, so that call-outs keep them: rbx the current vectors of the reduced side's tile,
//! r12 the tiles left, r13 the broadcast row values, r14 the vector groups left in the tile,
//! r15 the map output (or, in a masked kernel, which lanes of its one tile are points), rbp the
//! arguments. Constants sit after the code, read rip-relative.
//! Accumulators occupy the top registers; the last register is the scratch that takes a
//! memory operand where the encoding needs a register.
//!
//! A tile holds 64 points; an iteration handles `U` vectors of it (`U·W` points), so the
//! inner loop runs 64/(U·W) times per tile. Layout of a tile: component k of the reduced side
//! at byte (k·64)·size, as in the interpreter.

use super::lower::{FoldKind, Lowered};
use super::regalloc::Allocation;
use super::vir::{Bin, Dst, Inst, Int, MaskOp, Pred, RoundMode, Src, Un};
use super::{callout::CallOuts, Elem, Isa, Pool};
use crate::cpu::interp::program::L;
use iced_x86::code_asm::*;
use iced_x86::IcedError;

/// Where an operand is, for the encoder.
#[derive(Clone, Copy)]
enum Op {
    R(u8),
    M(AsmMemoryOperand),
}

const ZMM: [AsmRegisterZmm; 32] = [
    zmm0, zmm1, zmm2, zmm3, zmm4, zmm5, zmm6, zmm7, zmm8, zmm9, zmm10, zmm11, zmm12, zmm13, zmm14, zmm15, zmm16, zmm17,
    zmm18, zmm19, zmm20, zmm21, zmm22, zmm23, zmm24, zmm25, zmm26, zmm27, zmm28, zmm29, zmm30, zmm31,
];
const YMM: [AsmRegisterYmm; 16] =
    [ymm0, ymm1, ymm2, ymm3, ymm4, ymm5, ymm6, ymm7, ymm8, ymm9, ymm10, ymm11, ymm12, ymm13, ymm14, ymm15];
const KREG: [AsmRegisterK; 8] = [k0, k1, k2, k3, k4, k5, k6, k7];

fn z(r: u8) -> AsmRegisterZmm {
    ZMM[r as usize]
}
fn y(r: u8) -> AsmRegisterYmm {
    YMM[r as usize]
}
fn kr(r: u8) -> AsmRegisterK {
    KREG[r as usize]
}

/// `zmm(r){k}`: a destination written under mask k.
fn zk(r: u8, k: u8) -> AsmRegisterZmm {
    let z = z(r);
    match k {
        1 => z.k1(),
        2 => z.k2(),
        3 => z.k3(),
        4 => z.k4(),
        5 => z.k5(),
        6 => z.k6(),
        _ => z.k7(),
    }
}

/// A ps/pd instruction `d, a, b` with a register or memory `b`.
macro_rules! rrm {
    ($s:expr, $ps:ident, $pd:ident, $d:expr, $a:expr, $b:expr) => {{
        let (d, a, b) = ($d, $a, $b);
        match ($s.isa, $s.elem, b) {
            (Isa::Avx512, Elem::F32, Op::R(b)) => $s.a.$ps(z(d), z(a), z(b)),
            (Isa::Avx512, Elem::F32, Op::M(m)) => $s.a.$ps(z(d), z(a), m),
            (Isa::Avx512, Elem::F64, Op::R(b)) => $s.a.$pd(z(d), z(a), z(b)),
            (Isa::Avx512, Elem::F64, Op::M(m)) => $s.a.$pd(z(d), z(a), m),
            (Isa::Avx2, Elem::F32, Op::R(b)) => $s.a.$ps(y(d), y(a), y(b)),
            (Isa::Avx2, Elem::F32, Op::M(m)) => $s.a.$ps(y(d), y(a), m),
            (Isa::Avx2, Elem::F64, Op::R(b)) => $s.a.$pd(y(d), y(a), y(b)),
            (Isa::Avx2, Elem::F64, Op::M(m)) => $s.a.$pd(y(d), y(a), m),
        }
    }};
}

/// A ps/pd instruction `d, a` with a register or memory `a`, and optionally an immediate.
macro_rules! rm {
    ($s:expr, $ps:ident, $pd:ident, $d:expr, $a:expr $(, $imm:expr)?) => {{
        let (d, a) = ($d, $a);
        match ($s.isa, $s.elem, a) {
            (Isa::Avx512, Elem::F32, Op::R(a)) => $s.a.$ps(z(d), z(a) $(, $imm)?),
            (Isa::Avx512, Elem::F32, Op::M(m)) => $s.a.$ps(z(d), m $(, $imm)?),
            (Isa::Avx512, Elem::F64, Op::R(a)) => $s.a.$pd(z(d), z(a) $(, $imm)?),
            (Isa::Avx512, Elem::F64, Op::M(m)) => $s.a.$pd(z(d), m $(, $imm)?),
            (Isa::Avx2, Elem::F32, Op::R(a)) => $s.a.$ps(y(d), y(a) $(, $imm)?),
            (Isa::Avx2, Elem::F32, Op::M(m)) => $s.a.$ps(y(d), m $(, $imm)?),
            (Isa::Avx2, Elem::F64, Op::R(a)) => $s.a.$pd(y(d), y(a) $(, $imm)?),
            (Isa::Avx2, Elem::F64, Op::M(m)) => $s.a.$pd(y(d), m $(, $imm)?),
        }
    }};
}

struct Emitter<'a> {
    a: CodeAssembler,
    l: &'a Lowered,
    alloc: &'a Allocation,
    elem: Elem,
    isa: Isa,
    first_acc: u8,
    scratch: u8,
    pool_labels: Vec<CodeLabel>,
    /// Bytes per vector.
    vb: i64,
    /// Frame layout: the save area of registers across call-outs, then the staging area.
    save: i64,
    kmask_save: i64,
    staging: i64,
    /// Row values and constants held in registers for the whole call (loaded before the loop),
    /// in registers the allocation left free.
    hoisted: std::collections::HashMap<Src, u8>,
}

/// Encodes a lowered, allocated kernel; `first_acc` is the first accumulator register.
pub fn emit(
    l: &Lowered,
    alloc: &Allocation,
    pool: &Pool,
    elem: Elem,
    isa: Isa,
    first_acc: u8,
) -> Result<Vec<u8>, IcedError> {
    let vb = isa.vector_bytes() as i64;
    let nregs = isa.registers() as i64;
    let staging_vectors = l
        .code
        .insts
        .iter()
        .map(|i| match i {
            Inst::CallOut { ins, outs, .. } => ins.len() + outs.len(),
            _ => 0,
        })
        .max()
        .unwrap_or(0) as i64;
    let save = 0;
    let kmask_save = nregs * vb;
    let staging = kmask_save + 8 * 8;
    // The frame keeps rsp 16-byte aligned at calls: 6 pushes leave it at 8 mod 16.
    let frame = (staging + staging_vectors * vb + 15) / 16 * 16 + 8;
    let mut e = Emitter {
        a: CodeAssembler::new(64)?,
        l,
        alloc,
        elem,
        isa,
        first_acc,
        scratch: (nregs - 1) as u8,
        pool_labels: vec![],
        vb,
        save,
        kmask_save,
        staging,
        hoisted: hoist(l, alloc, isa, first_acc),
    };
    for _ in &pool.entries {
        let lbl = e.a.create_label();
        e.pool_labels.push(lbl);
    }
    e.prologue(frame)?;
    e.body()?;
    e.epilogue(frame)?;
    // The constants after the code, each a whole vector (read with unaligned loads).
    let bytes = pool.bytes(elem, isa);
    let mut labels = std::mem::take(&mut e.pool_labels);
    for (k, lbl) in labels.iter_mut().enumerate() {
        e.a.set_label(lbl)?;
        e.a.db(&bytes[k * vb as usize..(k + 1) * vb as usize])?;
    }
    e.a.assemble(0)
}

impl Emitter<'_> {
    fn prologue(&mut self, frame: i64) -> Result<(), IcedError> {
        let a = &mut self.a;
        for r in [rbp, rbx, r12, r13, r14, r15] {
            a.push(r)?;
        }
        a.sub(rsp, frame as i32)?;
        a.mov(rbp, rdi)?;
        a.mov(rbx, qword_ptr(rbp))?;
        a.mov(r12, qword_ptr(rbp + 8))?;
        a.mov(r13, qword_ptr(rbp + 16))?;
        a.mov(r15, qword_ptr(rbp + 32))?;
        a.mov(rax, qword_ptr(rbp + 24))?;
        for k in 0..self.l.accs.len() {
            let r = self.first_acc + k as u8;
            let m = self.vmem(rax + (k as i64 * self.vb) as i32);
            self.load(r, m)?;
        }
        let mut hoisted: Vec<(Src, u8)> = self.hoisted.iter().map(|(&s, &r)| (s, r)).collect();
        hoisted.sort_by_key(|&(_, r)| r);
        for (s, r) in hoisted {
            let m = self.memory(s);
            self.load(r, m)?;
        }
        Ok(())
    }

    fn epilogue(&mut self, frame: i64) -> Result<(), IcedError> {
        self.a.mov(rax, qword_ptr(rbp + 24))?;
        for k in 0..self.l.accs.len() {
            let r = self.first_acc + k as u8;
            let m = self.vmem(rax + (k as i64 * self.vb) as i32);
            self.store(m, r)?;
        }
        let a = &mut self.a;
        a.vzeroupper()?;
        a.add(rsp, frame as i32)?;
        for r in [r15, r14, r13, r12, rbx, rbp] {
            a.pop(r)?;
        }
        a.ret()
    }

    /// The loop over tiles, and inside over groups of U vectors.
    fn body(&mut self) -> Result<(), IcedError> {
        let lanes = self.elem.lanes(self.isa) as i64;
        let group = self.l.subs as i64 * lanes;
        let groups = L as i64 / group;
        let size = self.elem.size() as i64;
        let mut done = self.a.create_label();
        let mut outer = self.a.create_label();
        let mut inner = self.a.create_label();
        self.a.test(r12, r12)?;
        self.a.jz(done)?;
        self.a.set_label(&mut outer)?;
        self.a.mov(r14, groups)?;
        self.a.set_label(&mut inner)?;
        for i in 0..self.l.code.insts.len() {
            self.inst(i)?;
        }
        self.a.add(rbx, (group * size) as i32)?;
        let map = self.l.fold == FoldKind::Map;
        if map || self.l.masked {
            self.a.add(r15, (group * size) as i32)?;
        }
        self.a.dec(r14)?;
        self.a.jnz(inner)?;
        // From the end of this tile's first component to the next tile.
        let tile = self.l.inner_width as i64 * L as i64 * size;
        if tile - L as i64 * size != 0 {
            self.a.add(rbx, (tile - L as i64 * size) as i32)?;
        }
        if map {
            let out_tile = (self.l.rows * self.l.out_comps) as i64 * L as i64 * size;
            if out_tile - L as i64 * size != 0 {
                self.a.add(r15, (out_tile - L as i64 * size) as i32)?;
            }
        }
        self.a.dec(r12)?;
        self.a.jnz(outer)?;
        self.a.set_label(&mut done)?;
        Ok(())
    }

    // ---- operands ----

    fn vmem(&self, m: AsmMemoryOperand) -> AsmMemoryOperand {
        match self.isa {
            Isa::Avx512 => zmmword_ptr(m),
            Isa::Avx2 => ymmword_ptr(m),
        }
    }

    fn vreg_of(&self, s: Src) -> Option<u8> {
        match s {
            Src::V(v) => Some(self.alloc.vreg[v.0 as usize]),
            Src::A(a) => Some(self.first_acc + a.0 as u8),
            s => self.hoisted.get(&s).copied(),
        }
    }

    fn dst(&self, d: Dst) -> u8 {
        match d {
            Dst::V(v) => self.alloc.vreg[v.0 as usize],
            Dst::A(a) => self.first_acc + a.0 as u8,
        }
    }

    fn op(&self, s: Src) -> Op {
        match self.vreg_of(s) {
            Some(r) => Op::R(r),
            None => Op::M(self.memory(s)),
        }
    }

    /// The memory operand of a row value, constant or tile vector.
    fn memory(&self, s: Src) -> AsmMemoryOperand {
        let size = self.elem.size() as i64;
        match s {
            Src::Uni { row, slot } => {
                let k = row as i64 * self.l.uni.len() as i64 + slot as i64;
                self.vmem(r13 + (k * self.vb) as i32)
            }
            Src::Pool(k) => self.vmem(AsmMemoryOperand::from(self.pool_labels[k as usize])),
            Src::Inner { comp, sub } => {
                let lanes = self.elem.lanes(self.isa) as i64;
                let off = (comp as i64 * L as i64 + sub as i64 * lanes) * size;
                self.vmem(rbx + off as i32)
            }
            Src::Valid { sub } => {
                let lanes = self.elem.lanes(self.isa) as i64;
                self.vmem(r15 + (sub as i64 * lanes * size) as i32)
            }
            // Registers have no memory operand; never asked for.
            Src::V(_) | Src::A(_) => self.vmem(rsp + 0),
        }
    }

    /// The operand in a register: its own, or loaded into `into` (when it is memory).
    fn reg(&mut self, s: Src, into: u8) -> Result<u8, IcedError> {
        match self.op(s) {
            Op::R(r) => Ok(r),
            Op::M(m) => {
                self.load(into, m)?;
                Ok(into)
            }
        }
    }

    fn load(&mut self, r: u8, m: AsmMemoryOperand) -> Result<(), IcedError> {
        match self.isa {
            Isa::Avx512 => self.a.vmovups(z(r), m),
            Isa::Avx2 => self.a.vmovups(y(r), m),
        }
    }

    fn store(&mut self, m: AsmMemoryOperand, r: u8) -> Result<(), IcedError> {
        match self.isa {
            Isa::Avx512 => self.a.vmovups(m, z(r)),
            Isa::Avx2 => self.a.vmovups(m, y(r)),
        }
    }

    fn mov(&mut self, d: u8, a: u8) -> Result<(), IcedError> {
        if d == a {
            return Ok(());
        }
        match self.isa {
            Isa::Avx512 => self.a.vmovaps(z(d), z(a)),
            Isa::Avx2 => self.a.vmovaps(y(d), y(a)),
        }
    }

    /// A register for a first operand that must be a register: `d` itself when writing `d`
    /// first does not clobber an operand read later, else the scratch.
    fn first(&mut self, a: Src, d: u8, later: &[Src]) -> Result<u8, IcedError> {
        if let Some(r) = self.vreg_of(a) {
            return Ok(r);
        }
        let clobbers = later.iter().any(|&s| self.vreg_of(s) == Some(d));
        let into = if clobbers { self.scratch } else { d };
        self.reg(a, into)
    }

    // ---- instructions ----

    fn inst(&mut self, i: usize) -> Result<(), IcedError> {
        let ins = self.l.code.insts[i].clone();
        match ins {
            Inst::Bin { op, dst, a, b } => self.bin(op, self.dst(dst), a, b),
            Inst::Int { op, dst, a, b } => self.int(op, self.dst(dst), a, b),
            Inst::Un { op, dst, a } => self.un(op, self.dst(dst), a),
            Inst::Fma { neg, dst, a, b, c } => self.fma(neg, self.dst(dst), a, b, c),
            Inst::Cmp { pred, dst, a, b } => self.cmp(pred, self.alloc.mreg[dst.0 as usize], a, b),
            Inst::Blend { dst, m, t, f } => self.blend(self.dst(dst), self.alloc.mreg[m.0 as usize], t, f),
            Inst::MaskBin { op, dst, a, b } => {
                let (d, a, b) =
                    (self.alloc.mreg[dst.0 as usize], self.alloc.mreg[a.0 as usize], self.alloc.mreg[b.0 as usize]);
                match (self.isa, op) {
                    (Isa::Avx512, MaskOp::And) => self.a.kandw(kr(d), kr(a), kr(b)),
                    (Isa::Avx512, MaskOp::Or) => self.a.korw(kr(d), kr(a), kr(b)),
                    (Isa::Avx512, MaskOp::AndNot) => self.a.kandnw(kr(d), kr(a), kr(b)),
                    (Isa::Avx2, MaskOp::And) => self.a.vandps(y(d), y(a), y(b)),
                    (Isa::Avx2, MaskOp::Or) => self.a.vorps(y(d), y(a), y(b)),
                    (Isa::Avx2, MaskOp::AndNot) => self.a.vandnps(y(d), y(a), y(b)),
                }
            }
            Inst::Mov { dst, a } => {
                let d = self.dst(dst);
                match self.op(a) {
                    Op::R(r) => self.mov(d, r),
                    Op::M(m) => self.load(d, m),
                }
            }
            Inst::Store { src, row, comp, sub } => {
                let r = self.reg(src, self.scratch)?;
                let size = self.elem.size() as i64;
                let lanes = self.elem.lanes(self.isa) as i64;
                let off =
                    (((row as i64 * self.l.out_comps as i64 + comp as i64) * L as i64) + sub as i64 * lanes) * size;
                let m = self.vmem(r15 + off as i32);
                self.store(m, r)
            }
            Inst::CallOut { op, ins, outs } => self.callout(i, op, &ins, &outs),
        }
    }

    fn bin(&mut self, op: Bin, d: u8, a: Src, b: Src) -> Result<(), IcedError> {
        let commutes = matches!(op, Bin::Add | Bin::Mul | Bin::And | Bin::Or | Bin::Xor);
        // A memory first operand of a commutative op swaps with a register second one.
        let (a, b) = if commutes && a.is_mem() && !b.is_mem() { (b, a) } else { (a, b) };
        let ra = self.first(a, d, &[b])?;
        let b = self.op(b);
        match op {
            Bin::Add => rrm!(self, vaddps, vaddpd, d, ra, b),
            Bin::Sub => rrm!(self, vsubps, vsubpd, d, ra, b),
            Bin::Mul => rrm!(self, vmulps, vmulpd, d, ra, b),
            Bin::Div => rrm!(self, vdivps, vdivpd, d, ra, b),
            Bin::Min => rrm!(self, vminps, vminpd, d, ra, b),
            Bin::Max => rrm!(self, vmaxps, vmaxpd, d, ra, b),
            Bin::And => rrm!(self, vandps, vandpd, d, ra, b),
            Bin::Or => rrm!(self, vorps, vorpd, d, ra, b),
            Bin::Xor => rrm!(self, vxorps, vxorpd, d, ra, b),
            Bin::AndNot => rrm!(self, vandnps, vandnpd, d, ra, b),
            Bin::Scalef => match (self.elem, b) {
                (Elem::F32, Op::R(b)) => self.a.vscalefps(z(d), z(ra), z(b)),
                (Elem::F32, Op::M(m)) => self.a.vscalefps(z(d), z(ra), m),
                (Elem::F64, Op::R(b)) => self.a.vscalefpd(z(d), z(ra), z(b)),
                (Elem::F64, Op::M(m)) => self.a.vscalefpd(z(d), z(ra), m),
            },
        }
    }

    fn int(&mut self, op: Int, d: u8, a: Src, b: Src) -> Result<(), IcedError> {
        let (a, b) = if op == Int::Add && a.is_mem() && !b.is_mem() { (b, a) } else { (a, b) };
        let ra = self.first(a, d, &[b])?;
        let b = self.op(b);
        match op {
            Int::Add => rrm!(self, vpaddd, vpaddq, d, ra, b),
            Int::Sub => rrm!(self, vpsubd, vpsubq, d, ra, b),
        }
    }

    fn un(&mut self, op: Un, d: u8, a: Src) -> Result<(), IcedError> {
        let imm = |m: RoundMode| match m {
            RoundMode::Nearest => 0x08,
            RoundMode::Floor => 0x09,
            RoundMode::Ceil => 0x0A,
            RoundMode::Trunc => 0x0B,
        };
        match op {
            Un::Sqrt => rm!(self, vsqrtps, vsqrtpd, d, self.op(a)),
            Un::Round(m) => match self.isa {
                Isa::Avx512 => rm!(self, vrndscaleps, vrndscalepd, d, self.op(a), imm(m)),
                Isa::Avx2 => match (self.elem, self.op(a)) {
                    (Elem::F32, Op::R(r)) => self.a.vroundps(y(d), y(r), imm(m)),
                    (Elem::F32, Op::M(mm)) => self.a.vroundps(y(d), mm, imm(m)),
                    (Elem::F64, Op::R(r)) => self.a.vroundpd(y(d), y(r), imm(m)),
                    (Elem::F64, Op::M(mm)) => self.a.vroundpd(y(d), mm, imm(m)),
                },
            },
            Un::GetExp => rm!(self, vgetexpps, vgetexppd, d, self.op(a)),
            Un::GetMant => rm!(self, vgetmantps, vgetmantpd, d, self.op(a), 0),
            Un::IntToFloat => rm!(self, vcvtdq2ps, vcvtqq2pd, d, self.op(a)),
            Un::Shl(n) | Un::Shr(n) | Un::Sar(n) => {
                // The VEX shifts take a register source only.
                let ra = self.reg(a, d)?;
                let n = n as i32;
                match op {
                    Un::Shl(_) => rm!(self, vpslld, vpsllq, d, Op::R(ra), n),
                    Un::Shr(_) => rm!(self, vpsrld, vpsrlq, d, Op::R(ra), n),
                    _ => rm!(self, vpsrad, vpsraq, d, Op::R(ra), n),
                }
            }
        }
    }

    /// d = ±(a·b) + c, with the encoding that overwrites whichever operand shares d's register.
    fn fma(&mut self, neg: bool, d: u8, a: Src, b: Src, c: Src) -> Result<(), IcedError> {
        let scratch = self.scratch;
        if self.vreg_of(c) == Some(d) {
            // Form 231: d = a·b + d.
            let (a, b) = if a.is_mem() { (b, a) } else { (a, b) };
            let ra = self.reg(a, scratch)?;
            let b = self.op(b);
            return self.fma_form(231, neg, d, ra, b);
        }
        // The product commutes: let `a` be the operand held in d, if one is.
        let (a, b) = if self.vreg_of(b) == Some(d) { (b, a) } else { (a, b) };
        if self.vreg_of(a) == Some(d) {
            // Form 213: d = d·b + c, or 132: d = d·c + b when only c is a register.
            return match (self.op(b), self.op(c)) {
                (Op::R(rb), c) => self.fma_form(213, neg, d, rb, c),
                (b, Op::R(rc)) => self.fma_form(132, neg, d, rc, b),
                (Op::M(mb), c) => {
                    self.load(scratch, mb)?;
                    self.fma_form(213, neg, d, scratch, c)
                }
            };
        }
        // d holds none of the operands (a and b were checked above, c too): c goes there, then
        // form 231.
        match self.op(c) {
            Op::R(r) => self.mov(d, r)?,
            Op::M(m) => self.load(d, m)?,
        }
        let (a, b) = if a.is_mem() { (b, a) } else { (a, b) };
        let ra = self.reg(a, scratch)?;
        let b = self.op(b);
        self.fma_form(231, neg, d, ra, b)
    }

    fn fma_form(&mut self, form: u32, neg: bool, d: u8, x: u8, m: Op) -> Result<(), IcedError> {
        match (form, neg) {
            (132, false) => rrm!(self, vfmadd132ps, vfmadd132pd, d, x, m),
            (213, false) => rrm!(self, vfmadd213ps, vfmadd213pd, d, x, m),
            (231, false) => rrm!(self, vfmadd231ps, vfmadd231pd, d, x, m),
            (132, true) => rrm!(self, vfnmadd132ps, vfnmadd132pd, d, x, m),
            (213, true) => rrm!(self, vfnmadd213ps, vfnmadd213pd, d, x, m),
            _ => rrm!(self, vfnmadd231ps, vfnmadd231pd, d, x, m),
        }
    }

    fn cmp(&mut self, pred: Pred, k: u8, a: Src, b: Src) -> Result<(), IcedError> {
        // A memory first operand swaps with a register second one, mirroring the predicate.
        let (pred, a, b) = if a.is_mem() && !b.is_mem() { (mirror(pred), b, a) } else { (pred, a, b) };
        let ra = self.reg(a, self.scratch)?;
        let b = self.op(b);
        let imm: i32 = match pred {
            Pred::Eq => 0x00,
            Pred::Lt => 0x11,
            Pred::Le => 0x12,
            Pred::Unord => 0x03,
            Pred::Neq => 0x04,
            Pred::Ord => 0x07,
            Pred::Ge => 0x1D,
            Pred::Gt => 0x1E,
            Pred::IntEq => -1,
        };
        match (self.isa, self.elem, b, pred == Pred::IntEq) {
            (Isa::Avx512, Elem::F32, Op::R(b), false) => self.a.vcmpps(kr(k), z(ra), z(b), imm),
            (Isa::Avx512, Elem::F32, Op::M(m), false) => self.a.vcmpps(kr(k), z(ra), m, imm),
            (Isa::Avx512, Elem::F64, Op::R(b), false) => self.a.vcmppd(kr(k), z(ra), z(b), imm),
            (Isa::Avx512, Elem::F64, Op::M(m), false) => self.a.vcmppd(kr(k), z(ra), m, imm),
            (Isa::Avx512, Elem::F32, Op::R(b), true) => self.a.vpcmpeqd(kr(k), z(ra), z(b)),
            (Isa::Avx512, Elem::F32, Op::M(m), true) => self.a.vpcmpeqd(kr(k), z(ra), m),
            (Isa::Avx512, Elem::F64, Op::R(b), true) => self.a.vpcmpeqq(kr(k), z(ra), z(b)),
            (Isa::Avx512, Elem::F64, Op::M(m), true) => self.a.vpcmpeqq(kr(k), z(ra), m),
            (Isa::Avx2, Elem::F32, Op::R(b), false) => self.a.vcmpps(y(k), y(ra), y(b), imm),
            (Isa::Avx2, Elem::F32, Op::M(m), false) => self.a.vcmpps(y(k), y(ra), m, imm),
            (Isa::Avx2, Elem::F64, Op::R(b), false) => self.a.vcmppd(y(k), y(ra), y(b), imm),
            (Isa::Avx2, Elem::F64, Op::M(m), false) => self.a.vcmppd(y(k), y(ra), m, imm),
            (Isa::Avx2, Elem::F32, Op::R(b), true) => self.a.vpcmpeqd(y(k), y(ra), y(b)),
            (Isa::Avx2, Elem::F32, Op::M(m), true) => self.a.vpcmpeqd(y(k), y(ra), m),
            (Isa::Avx2, Elem::F64, Op::R(b), true) => self.a.vpcmpeqq(y(k), y(ra), y(b)),
            (Isa::Avx2, Elem::F64, Op::M(m), true) => self.a.vpcmpeqq(y(k), y(ra), m),
        }
    }

    /// d = m ? t : f.
    fn blend(&mut self, d: u8, m: u8, t: Src, f: Src) -> Result<(), IcedError> {
        match self.isa {
            Isa::Avx512 => {
                if self.vreg_of(f) == Some(d) {
                    // A merge-masked move: d keeps f where m is clear.
                    return match (self.elem, self.op(t)) {
                        (Elem::F32, Op::R(r)) => self.a.vmovaps(zk(d, m), z(r)),
                        (Elem::F32, Op::M(mm)) => self.a.vmovups(zk(d, m), mm),
                        (Elem::F64, Op::R(r)) => self.a.vmovapd(zk(d, m), z(r)),
                        (Elem::F64, Op::M(mm)) => self.a.vmovupd(zk(d, m), mm),
                    };
                }
                let rf = self.first(f, d, &[t])?;
                match (self.elem, self.op(t)) {
                    (Elem::F32, Op::R(r)) => self.a.vblendmps(zk(d, m), z(rf), z(r)),
                    (Elem::F32, Op::M(mm)) => self.a.vblendmps(zk(d, m), z(rf), mm),
                    (Elem::F64, Op::R(r)) => self.a.vblendmpd(zk(d, m), z(rf), z(r)),
                    (Elem::F64, Op::M(mm)) => self.a.vblendmpd(zk(d, m), z(rf), mm),
                }
            }
            Isa::Avx2 => {
                // The mask is a vector register: it must survive loading f into d.
                let rf = match self.vreg_of(f) {
                    Some(r) => r,
                    None => {
                        let into = if d == m || self.vreg_of(t) == Some(d) { self.scratch } else { d };
                        self.reg(f, into)?
                    }
                };
                match (self.elem, self.op(t)) {
                    (Elem::F32, Op::R(r)) => self.a.vblendvps(y(d), y(rf), y(r), y(m)),
                    (Elem::F32, Op::M(mm)) => self.a.vblendvps(y(d), y(rf), mm, y(m)),
                    (Elem::F64, Op::R(r)) => self.a.vblendvpd(y(d), y(rf), y(r), y(m)),
                    (Elem::F64, Op::M(mm)) => self.a.vblendvpd(y(d), y(rf), mm, y(m)),
                }
            }
        }
    }

    /// Saves the live registers, stages the operands, calls the helper, restores, and loads the results.
    fn callout(&mut self, i: usize, op: u32, ins: &[Src], outs: &[super::vir::VReg]) -> Result<(), IcedError> {
        let (live_v, live_m) = self.alloc.live_across[i].clone();
        let accs: Vec<u8> = (0..self.l.accs.len()).map(|k| self.first_acc + k as u8).collect();
        let hoisted: Vec<u8> = self.hoisted.values().copied().collect();
        let saved: Vec<u8> = live_v.iter().chain(&accs).chain(&hoisted).copied().collect();
        for &r in &saved {
            let m = self.vmem(rsp + (self.save + r as i64 * self.vb) as i32);
            self.store(m, r)?;
        }
        for &k in &live_m {
            self.a.kmovq(qword_ptr(rsp + (self.kmask_save + k as i64 * 8) as i32), kr(k))?;
        }
        for (j, &s) in ins.iter().enumerate() {
            let r = self.reg(s, self.scratch)?;
            let m = self.vmem(rsp + (self.staging + j as i64 * self.vb) as i32);
            self.store(m, r)?;
        }
        self.a.lea(rdi, qword_ptr(rsp + self.staging as i32))?;
        self.a.mov(rsi, op as u64)?;
        self.a.mov(rdx, rbp)?;
        self.a.vzeroupper()?;
        self.a.mov(rax, CallOuts::helper(self.elem))?;
        self.a.call(rax)?;
        for &r in &saved {
            let m = self.vmem(rsp + (self.save + r as i64 * self.vb) as i32);
            self.load(r, m)?;
        }
        for &k in &live_m {
            self.a.kmovq(kr(k), qword_ptr(rsp + (self.kmask_save + k as i64 * 8) as i32))?;
        }
        for (j, o) in outs.iter().enumerate() {
            let r = self.alloc.vreg[o.0 as usize];
            let m = self.vmem(rsp + (self.staging + (ins.len() + j) as i64 * self.vb) as i32);
            self.load(r, m)?;
        }
        Ok(())
    }
}

/// Chooses the row values and constants to keep in registers for the whole call: the most
/// used first, in the vector registers that no virtual register and no mask was given.
fn hoist(l: &Lowered, alloc: &Allocation, isa: Isa, first_acc: u8) -> std::collections::HashMap<Src, u8> {
    let mut used = vec![false; isa.registers() as usize];
    for &r in &alloc.vreg {
        if let Some(u) = used.get_mut(r as usize) {
            *u = true;
        }
    }
    if isa == Isa::Avx2 {
        for &r in &alloc.mreg {
            if let Some(u) = used.get_mut(r as usize) {
                *u = true;
            }
        }
    }
    let free: Vec<u8> = (0..first_acc).filter(|&r| !used[r as usize]).collect();
    // A memory operand in the last position is folded into the instruction; in a first
    // position it costs a load of its own: those uses weigh more.
    let mut count: std::collections::HashMap<Src, usize> = std::collections::HashMap::new();
    let mut reads = Vec::new();
    for ins in &l.code.insts {
        ins.reads(&mut reads);
        let first = match ins {
            Inst::Bin { a, .. } | Inst::Int { a, .. } | Inst::Cmp { a, .. } | Inst::Fma { a, .. } => Some(*a),
            Inst::Blend { f, .. } => Some(*f),
            _ => None,
        };
        for &s in &reads {
            if matches!(s, Src::Pool(_) | Src::Uni { .. }) {
                *count.entry(s).or_insert(0) += if Some(s) == first { 3 } else { 1 };
            }
        }
    }
    let mut by_use: Vec<(Src, usize)> = count.into_iter().collect();
    // Most used first; ties in a fixed order so that the code is the same from run to run.
    by_use.sort_by_key(|&(s, n)| (std::cmp::Reverse(n), format!("{s:?}")));
    by_use.into_iter().zip(free).map(|((s, _), r)| (s, r)).collect()
}

/// The predicate with its operands swapped.
fn mirror(p: Pred) -> Pred {
    match p {
        Pred::Lt => Pred::Gt,
        Pred::Gt => Pred::Lt,
        Pred::Le => Pred::Ge,
        Pred::Ge => Pred::Le,
        p => p,
    }
}
