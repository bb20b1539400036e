//! The CPU backend's JIT: x86-64 machine code generated per formula, keeping a pair's whole chain in vector registers.
//!
//! A plan's pair instructions become vector code for `R` output rows × `U` vectors of the
//! reduced side at once (`lower.rs`, `math.rs`), registers are allocated by a linear scan
//! (`regalloc.rs`), and `emit.rs` encodes it for AVX-512 or AVX2 with iced-x86 into a loop over
//! whole 64-point tiles, in the interpreter's data layout; `memory.rs` maps it executable. The
//! fold of Sum, the log-sum-exp family and Max/Min happens in registers; KMin's values are
//! stored for Rust to fold. Operations without vector code are call-outs to `eval_op`
//! (`callout.rs`). `run.rs` drives kernels over blocks of rows and tiles; a slice's last,
//! partial tile goes to a masked variant of the kernel that folds its points only. No C
//! compiler is involved; where the system refuses executable memory, or a formula needs more
//! registers than the machine has, the interpreter runs the plan instead.

pub mod callout;
pub mod emit;
pub mod lower;
pub mod math;
pub mod memory;
pub mod regalloc;
pub mod run;
pub mod vir;

use crate::cpu::rows::RowLayout;
use crate::plan::KernelPlan;
use crate::real::DType;
use crate::spec::Options;
use crate::state::StateLayout;
use lower::{AccInit, FoldKind, Lowered};
use memory::ExecMemory;
use std::collections::HashMap;
use vir::Src;

/// The element type of a kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Elem {
    F32,
    F64,
}

impl Elem {
    pub fn of(d: DType) -> Elem {
        match d {
            DType::F32 => Elem::F32,
            DType::F64 => Elem::F64,
        }
    }

    /// Bytes per value.
    pub fn size(self) -> usize {
        match self {
            Elem::F32 => 4,
            Elem::F64 => 8,
        }
    }

    /// Values per vector.
    pub fn lanes(self, isa: Isa) -> usize {
        isa.vector_bytes() / self.size()
    }

    /// The sign bit of a lane.
    pub fn sign_bit(self) -> u64 {
        match self {
            Elem::F32 => 0x8000_0000,
            Elem::F64 => 0x8000_0000_0000_0000,
        }
    }
}

/// The instruction sets the JIT emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// AVX-512 F, DQ, BW and VL: 32 registers of 64 bytes, mask registers.
    Avx512,
    /// AVX2 and FMA: 16 registers of 32 bytes.
    Avx2,
}

impl Isa {
    pub fn vector_bytes(self) -> usize {
        match self {
            Isa::Avx512 => 64,
            Isa::Avx2 => 32,
        }
    }

    /// Vector registers (one is kept as the emitter's scratch).
    pub fn registers(self) -> u8 {
        match self {
            Isa::Avx512 => 32,
            Isa::Avx2 => 16,
        }
    }
}

/// A constant of the pool: a float, raw lane bits, or an integer lane value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolVal {
    F(u64),
    Bits(u64),
    Int(i64),
}

/// The constants a kernel reads, each broadcast to a whole vector in the code's data.
#[derive(Debug, Default)]
pub struct Pool {
    pub entries: Vec<PoolVal>,
    index: HashMap<PoolVal, u32>,
}

impl Pool {
    fn get(&mut self, v: PoolVal) -> Src {
        let next = self.entries.len() as u32;
        let k = *self.index.entry(v).or_insert(next);
        if k == next {
            self.entries.push(v);
        }
        Src::Pool(k)
    }

    /// A float constant (normalised so that 0 and −0 stay distinct, NaN is one NaN).
    pub fn f(&mut self, x: f64) -> Src {
        self.get(PoolVal::F(if x.is_nan() { f64::NAN.to_bits() } else { x.to_bits() }))
    }

    /// Raw lane bits.
    pub fn bits(&mut self, b: u64) -> Src {
        self.get(PoolVal::Bits(b))
    }

    /// An integer in every lane (32-bit lanes for f32 kernels, 64-bit for f64).
    pub fn int(&mut self, i: i64) -> Src {
        self.get(PoolVal::Int(i))
    }

    /// The bytes of the pool: each entry as a whole vector.
    pub fn bytes(&self, elem: Elem, isa: Isa) -> Vec<u8> {
        let lanes = elem.lanes(isa);
        let mut out = Vec::with_capacity(self.entries.len() * isa.vector_bytes());
        for &e in &self.entries {
            let lane: Vec<u8> = match (e, elem) {
                (PoolVal::F(b), Elem::F32) => (f64::from_bits(b) as f32).to_bits().to_le_bytes().to_vec(),
                (PoolVal::F(b), Elem::F64) => b.to_le_bytes().to_vec(),
                (PoolVal::Bits(b), Elem::F32) => (b as u32).to_le_bytes().to_vec(),
                (PoolVal::Bits(b), Elem::F64) => b.to_le_bytes().to_vec(),
                (PoolVal::Int(i), Elem::F32) => (i as i32).to_le_bytes().to_vec(),
                (PoolVal::Int(i), Elem::F64) => i.to_le_bytes().to_vec(),
            };
            for _ in 0..lanes {
                out.extend_from_slice(&lane);
            }
        }
        out
    }
}

/// A compiled kernel: its code and what the driver needs to call it.
pub struct Kernel {
    mem: ExecMemory,
    /// The machine code (kept for `disassembly`).
    code: Vec<u8>,
    pub elem: Elem,
    pub isa: Isa,
    /// Output rows per call.
    pub rows: usize,
    /// Vectors of the reduced side per iteration.
    pub subs: usize,
    pub fold: FoldKind,
    /// Folds only the lanes that the validity vector given as `out` marks (one tile per call).
    pub masked: bool,
    pub accs: Vec<AccInit>,
    /// The accumulators' initial vectors (lane indices from 0), copied in before a group of rows.
    pub acc_init: Vec<u64>,
    /// Broadcast slots: slot k holds scalar `uni[k]` of a row's buffer.
    pub uni: Vec<usize>,
    /// Components per tile of the reduced side.
    pub inner_width: usize,
    /// The formula's dimension.
    pub d: usize,
    /// Components stored per row and tile in map mode (formula, then weight).
    pub out_comps: usize,
    pub callouts: callout::CallOuts,
}

/// The arguments of a kernel call, read by the generated code at these offsets.
#[repr(C)]
pub struct Args {
    /// The first tile of the reduced side (interpreter layout).
    pub inner: *const u8,
    /// Whole tiles to process.
    pub ntiles: u64,
    /// The broadcast row values: `rows × uni.len()` vectors.
    pub uni: *const u8,
    /// Accumulators, one vector each, loaded before the loop and stored after it.
    pub acc: *mut u8,
    /// Map output: per tile, row and component, 64 values. In a masked kernel: 64 values, 1
    /// where the tile holds a point, 0 where it holds padding.
    pub out: *mut u8,
    /// The call-out table.
    pub callouts: *const callout::CallOuts,
}

impl Kernel {
    /// Runs the kernel.
    ///
    /// # Safety
    /// The pointers of `args` must cover what the kernel reads and writes: `ntiles` tiles of
    /// `inner_width` components, `rows × uni.len()` broadcast vectors, `accs.len()` accumulator
    /// vectors and, in map mode, `ntiles × rows × out_comps × 64` output values (masked: one
    /// tile, and 64 validity values); the CPU must support the kernel's instruction set.
    pub unsafe fn call(&self, args: &Args) {
        let f: unsafe extern "sysv64" fn(*const Args) = std::mem::transmute(self.mem.at(0));
        f(args)
    }

    /// Lanes per vector.
    pub fn lanes(&self) -> usize {
        self.elem.lanes(self.isa)
    }

    /// The code in Intel syntax, one instruction per line (the constants after `ret` decode as
    /// whatever they look like): for debugging and for tests that look at what was generated.
    pub fn disassembly(&self) -> String {
        use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter, Mnemonic};
        let mut decoder = Decoder::with_ip(64, &self.code, 0, DecoderOptions::NONE);
        let mut formatter = IntelFormatter::new();
        let mut out = String::new();
        for ins in &mut decoder {
            let mut line = String::new();
            formatter.format(&ins, &mut line);
            out.push_str(&line);
            out.push('\n');
            if ins.mnemonic() == Mnemonic::Ret {
                break;
            }
        }
        out
    }
}

/// The kernels of a plan for one element type and instruction set: `main` for `rows` rows at a
/// time, `single` for the remaining rows one by one (with the same vectors per iteration).
pub struct Kernels {
    pub main: Group,
    pub single: Group,
}

/// The kernels of one group of rows: `whole` over whole tiles and, when it folds in registers,
/// `last`, the same fold over a slice's last, partial tile that skips its padding lanes and
/// continues from `whole`'s accumulators (same blocking, same accumulators). In map mode
/// `whole` computes the partial tile too and Rust folds its points only.
pub struct Group {
    pub whole: Kernel,
    pub last: Option<Kernel>,
}

/// The register blockings tried, best first: (rows, vectors per iteration).
const BLOCKINGS: [(usize, usize); 6] = [(4, 4), (2, 4), (1, 4), (2, 2), (1, 2), (1, 1)];

/// Whether Rust must fold the values under these options (map mode): Kahan compensation and
/// float64 accumulation of float32 data are not done in registers.
pub fn rust_folds(opts: &Options, layout: &StateLayout, elem: Elem) -> bool {
    let f64_sums = opts.accumulate_f64 && elem == Elem::F32;
    layout.kahan || f64_sums
}

/// Compiles the kernels of a plan (in map mode when `mapped`), or says why not.
pub fn compile(
    plan: &KernelPlan,
    rows: &RowLayout,
    layout: &StateLayout,
    elem: Elem,
    isa: Isa,
    mapped: bool,
) -> Result<Kernels, String> {
    // Folds in registers when the accumulators fit, else the values are stored for Rust.
    let folds: &[FoldKind] = if mapped { &[FoldKind::Map] } else { &[FoldKind::of(layout.family()), FoldKind::Map] };
    let mut last_err = String::new();
    for (&fold, (r, u)) in folds.iter().flat_map(|f| BLOCKINGS.iter().map(move |b| (f, *b))) {
        let group = |r| -> Result<Group, String> {
            let shape = |masked| lower::Shape { elem, isa, rows: r, subs: u, fold, masked };
            let whole = build(plan, rows, shape(false))?;
            let last = if fold == FoldKind::Map { None } else { Some(build(plan, rows, shape(true))?) };
            Ok(Group { whole, last })
        };
        // The masked kernels need a little more than the others: a blocking that does not fit
        // them is given up for a smaller one.
        match group(r).and_then(|main| Ok(Kernels { main, single: group(1)? })) {
            Ok(k) => return Ok(k),
            Err(e) => last_err = e,
        }
    }
    Err(last_err)
}

/// Lowers, allocates, emits and maps one kernel.
fn build(plan: &KernelPlan, rows: &RowLayout, shape: lower::Shape) -> Result<Kernel, String> {
    let (elem, isa) = (shape.elem, shape.isa);
    let mut pool = Pool::default();
    let l: Lowered = lower::lower(plan, rows, shape, &mut pool).map_err(|e| e.0)?;
    let naccs = l.accs.len();
    // The top registers are the accumulators', the last one the emitter's scratch.
    let total = isa.registers() as usize;
    if naccs + 2 > total {
        return Err(format!("{naccs} accumulators do not fit in {total} registers"));
    }
    let first_acc = total - 1 - naccs;
    let budget = regalloc::Budget {
        vectors: (0..first_acc as u8).collect(),
        masks: match isa {
            Isa::Avx512 => Some((1..8).collect()),
            Isa::Avx2 => None,
        },
    };
    let alloc = regalloc::allocate(&l.code, &budget).map_err(|missing| format!("{missing} registers short"))?;
    let code = emit::emit(&l, &alloc, &pool, elem, isa, first_acc as u8).map_err(|e| format!("assembler: {e}"))?;
    let mem = ExecMemory::new(&code)?;
    Ok(Kernel {
        mem,
        code,
        elem,
        isa,
        rows: l.rows,
        subs: l.subs,
        fold: l.fold,
        masked: l.masked,
        acc_init: run::initial_accumulators(&l.accs, elem, elem.lanes(isa)),
        accs: l.accs,
        uni: l.uni,
        inner_width: l.inner_width,
        d: l.d,
        out_comps: l.out_comps,
        callouts: callout::CallOuts::new(l.callouts, elem.lanes(isa)),
    })
}
