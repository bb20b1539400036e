//! The CPU backend: a plan's row part once per output row, its pair part folded by a pair engine, over rayon tasks.
//!
//! Work is a grid of tasks: blocks of output rows (`OB` or a few times more) × slices of the
//! reduced axis. When the
//! output rows alone cannot keep every thread busy, the reduced axis is cut into slices whose
//! partial states (`state.rs`) are combined at the end; otherwise there is one slice. Each task
//! computes its rows' row values (`rows.rs`), folds its slice with the interpreter
//! (`interp/`), and leaves one partial state per row; post-scaling (Σ u·L = u·Σ L) and
//! finalizing happen on those states. Memory is O(N + M).
//!
//! The task body is one generic function compiled three times: for AVX-512, for AVX2+FMA and
//! for the x86-64 baseline, the first that the CPU supports being used.

pub mod interp;
#[cfg(target_arch = "x86_64")]
pub mod jit;
pub mod rows;
pub mod sparse;

use crate::error::{Error, Result};
use crate::expr::Expr;
use crate::plan::{self, KernelPlan};
use crate::real::{DType, Real};
use crate::reduction::{Axis, Reduction, SumScheme};
use crate::spec::{Options, Reduce};
use crate::state::{Family, Partial, StateLayout};
use interp::fold::Folder;
use interp::program::{Program, L};
use interp::{Job, TPB};
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use rows::RowLayout;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};

/// Output rows per rayon task, at least (a multiple of every JIT blocking's rows).
const OB: usize = 32;
/// Output rows per rayon task, at most: tasks grow up to this when rows are plentiful, so that
/// a small call (10³ rows) pays its per-task costs (buffers, scheduling) a few times only.
const MAX_OB: usize = 8 * OB;
/// Each thread should get at least this many tasks, so that uneven tasks still balance.
const TASKS_PER_THREAD: usize = 4;
/// A slice of the reduced axis spans at least this many tiles (a few thousand points).
const MIN_SLICE_TILES: usize = 4 * TPB;

/// The instruction sets the CPU backend is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimdLevel {
    Portable,
    Avx2,
    Avx512,
}

impl SimdLevel {
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Portable => "portable",
            SimdLevel::Avx2 => "avx2+fma",
            SimdLevel::Avx512 => "avx512",
        }
    }

    /// The best level this CPU supports; `NOYAU_SIMD=portable|avx2|avx512` caps it.
    pub fn detect() -> SimdLevel {
        static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
        *LEVEL.get_or_init(|| {
            let best = detect_cpu();
            let cap = match std::env::var("NOYAU_SIMD").as_deref() {
                Ok("portable") => SimdLevel::Portable,
                Ok("avx2") => SimdLevel::Avx2,
                _ => SimdLevel::Avx512,
            };
            if (cap as u8) < (best as u8) {
                cap
            } else {
                best
            }
        })
    }

    /// The levels this CPU can run, for tests that compare them.
    pub fn available() -> Vec<SimdLevel> {
        let best = detect_cpu();
        [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512]
            .into_iter()
            .filter(|l| *l as u8 <= best as u8)
            .collect()
    }
}

#[cfg(target_arch = "x86_64")]
fn detect_cpu() -> SimdLevel {
    if is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("fma")
    {
        SimdLevel::Avx512
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        SimdLevel::Avx2
    } else {
        SimdLevel::Portable
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect_cpu() -> SimdLevel {
    SimdLevel::Portable
}

/// A reduction compiled for the CPU: its plan, where row values live, the interpreter's
/// program, and the JIT's kernels per element type and instruction set (compiled on first use).
pub struct Compiled {
    pub plan: Arc<KernelPlan>,
    pub rows: RowLayout,
    pub program: Program,
    #[cfg(target_arch = "x86_64")]
    jit: Mutex<HashMap<(jit::Elem, jit::Isa, bool), JitSlot>>,
}

/// The JIT's kernels of one element type and instruction set, or `None` when it cannot compile them.
#[cfg(target_arch = "x86_64")]
type JitSlot = Option<Arc<jit::Kernels>>;

/// Which pair engine runs a reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The JIT where it can (x86-64 with AVX2 or AVX-512, the formula and options supported,
    /// executable memory granted; `NOYAU_JIT=0` turns it off), else the interpreter.
    Auto,
    /// The tile interpreter, always.
    Interpreter,
}

impl Compiled {
    /// The JIT's kernels for this element type and level (in map mode when `mapped`), if the
    /// JIT runs it.
    #[cfg(target_arch = "x86_64")]
    pub fn jit_kernels(
        &self,
        layout: &StateLayout,
        dtype: DType,
        level: SimdLevel,
        mapped: bool,
    ) -> Result<Arc<jit::Kernels>, String> {
        let isa = match level {
            SimdLevel::Avx512 => jit::Isa::Avx512,
            SimdLevel::Avx2 => jit::Isa::Avx2,
            SimdLevel::Portable => return Err("no JIT for the portable level".into()),
        };
        let elem = jit::Elem::of(dtype);
        let mut map = self.jit.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = map.get(&(elem, isa, mapped)) {
            return k.clone().ok_or_else(|| "the JIT could not compile this formula".into());
        }
        let built = jit::compile(&self.plan, &self.rows, layout, elem, isa, mapped).map(Arc::new);
        map.insert((elem, isa, mapped), built.as_ref().ok().cloned());
        built
    }
}

/// Whether the JIT is allowed at all (`NOYAU_JIT=0` turns it off).
fn jit_enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("NOYAU_JIT").map_or(true, |v| v != "0"))
}

/// The compiled form of a reduction, cached by formula, weight, reduction and axis (it serves
/// every element type and option).
pub fn compiled(spec: &Reduce) -> Arc<Compiled> {
    type Key = (Vec<Expr>, Reduction, Axis);
    static CACHE: Mutex<Option<HashMap<Key, Arc<Compiled>>>> = Mutex::new(None);
    let key: Key = (spec.roots(), spec.reduction, spec.axis);
    if let Some(c) = CACHE.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|m| m.get(&key)) {
        return c.clone();
    }
    let plan = plan::cached(spec);
    let rows = RowLayout::new(&plan);
    let program = Program::compile(&plan, &rows);
    let c = Arc::new(Compiled {
        plan,
        rows,
        program,
        #[cfg(target_arch = "x86_64")]
        jit: Mutex::new(HashMap::new()),
    });
    let mut guard = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    // A bounded cache: a script generating endless distinct formulas must not grow memory forever.
    if map.len() >= 4096 {
        map.clear();
    }
    map.insert(key, c.clone());
    c
}

/// The layout of a reduction's partial states under these options.
pub fn state_layout(spec: &Reduce, scheme: SumScheme) -> StateLayout {
    StateLayout::new(spec.reduction, spec.formula.dim(), spec.weight.as_ref().map_or(1, Expr::dim), scheme)
}

/// Runs a checked reduction on the CPU (`n_out` output rows, `n_in` reduced points).
pub fn reduce<T: Real>(
    spec: &Reduce,
    inputs: &[ArrayView2<T>],
    n_out: usize,
    n_in: usize,
    opts: &Options,
) -> Result<Array2<T>> {
    reduce_with(spec, inputs, n_out, n_in, opts, SimdLevel::detect())
}

/// [`reduce`] at a given SIMD level (which the CPU must support: see [`SimdLevel::available`]).
pub fn reduce_with<T: Real>(
    spec: &Reduce,
    inputs: &[ArrayView2<T>],
    n_out: usize,
    n_in: usize,
    opts: &Options,
    level: SimdLevel,
) -> Result<Array2<T>> {
    if let Some(ranges) = &opts.ranges {
        return sparse::reduce(spec, inputs, n_out, n_in, opts, ranges, level, Engine::Auto);
    }
    if n_in == 0 {
        return empty_output(spec, n_out);
    }
    Ok(partial_with(spec, inputs, n_out, 0..n_in, opts, level)?.finalize(spec.out_dim))
}

/// Every row's value when it reduces over no point (the reduction's identity, or -1 for indices).
pub(crate) fn empty_output<T: Real>(spec: &Reduce, n_out: usize) -> Result<Array2<T>> {
    let empty = spec.reduction.empty_output(spec.formula.dim(), spec.out_dim);
    let row: Vec<T> = empty.iter().map(|&v| T::from_f64(v)).collect();
    Array2::from_shape_vec((n_out, spec.out_dim), row.repeat(n_out)).map_err(|e| Error::Data(e.to_string()))
}

/// [`reduce_with`] with a given pair engine: what tests compare.
pub fn reduce_on<T: Real>(
    spec: &Reduce,
    inputs: &[ArrayView2<T>],
    n_out: usize,
    n_in: usize,
    opts: &Options,
    level: SimdLevel,
    engine: Engine,
) -> Result<Array2<T>> {
    if let Some(ranges) = &opts.ranges {
        return sparse::reduce(spec, inputs, n_out, n_in, opts, ranges, level, engine);
    }
    if n_in == 0 {
        return reduce_with(spec, inputs, n_out, n_in, opts, level);
    }
    Ok(partial_on(spec, inputs, n_out, 0..n_in, opts, level, engine)?.finalize(spec.out_dim))
}

/// The partial states of every output row over the slice `range` of the reduced axis (indices
/// in the states are absolute): combine them with other slices' (`Partial::combine`).
pub fn partial<T: Real>(
    spec: &Reduce,
    inputs: &[ArrayView2<T>],
    n_out: usize,
    range: Range<usize>,
    opts: &Options,
) -> Result<Partial> {
    partial_with(spec, inputs, n_out, range, opts, SimdLevel::detect())
}

/// [`partial`] at a given SIMD level.
pub fn partial_with<T: Real>(
    spec: &Reduce,
    inputs: &[ArrayView2<T>],
    n_out: usize,
    range: Range<usize>,
    opts: &Options,
    level: SimdLevel,
) -> Result<Partial> {
    partial_on(spec, inputs, n_out, range, opts, level, Engine::Auto)
}

/// [`partial`] at a given SIMD level with a given engine: what tests compare.
pub fn partial_on<T: Real>(
    spec: &Reduce,
    inputs: &[ArrayView2<T>],
    n_out: usize,
    range: Range<usize>,
    opts: &Options,
    level: SimdLevel,
    engine: Engine,
) -> Result<Partial> {
    if level as u8 > detect_cpu() as u8 {
        return Err(Error::Backend { backend: "cpu".into(), msg: format!("this CPU cannot run {}", level.name()) });
    }
    if u32::try_from(range.end).is_err() {
        return Err(Error::Backend {
            backend: "cpu".into(),
            msg: format!("{} points reduced over: the CPU backend indexes them with 32-bit integers", range.end),
        });
    }
    let c = compiled(spec);
    let layout = state_layout(spec, opts.sum_scheme);
    let width = layout.width();
    let mut result = Partial::empty(layout, n_out);
    if n_out == 0 || range.is_empty() || width == 0 {
        return Ok(result);
    }
    let plan = &c.plan;
    let inner = interp::transpose(inputs, &c.program.inner_args, range.clone());
    let job = Job {
        prog: &c.program,
        folder: Folder { layout },
        inner: &inner,
        n_in: range.len(),
        j0: range.start,
        block_scheme: opts.sum_scheme == SumScheme::Block,
    };
    let ntiles = range.len().div_ceil(L);
    let ob = task_rows(n_out);
    let slices = slices(n_out, ntiles);
    #[cfg(target_arch = "x86_64")]
    let kernels = (engine == Engine::Auto && jit_enabled())
        .then(|| {
            let mapped = jit::rust_folds(opts, &layout, jit::Elem::of(T::DTYPE));
            c.jit_kernels(&layout, T::DTYPE, level, mapped).ok()
        })
        .flatten();
    #[cfg(target_arch = "x86_64")]
    let jit_job = kernels.as_ref().map(|k| jit::run::Job {
        kernels: k,
        layout,
        inner: &inner,
        n_in: range.len(),
        j0: range.start,
        block_scheme: opts.sum_scheme == SumScheme::Block,
    });
    let outer = spec.axis.outer();
    let ulen = c.rows.len;
    let f64_acc = opts.accumulate_f64 && T::DTYPE == DType::F32;
    let cancelled = || opts.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed));
    let progress = crate::progress::Reporter::new(opts.progress.as_ref(), "reduction", (n_out * slices.len()) as u64);
    let mut parts: Vec<Partial> = (0..slices.len()).map(|_| Partial::empty(layout, n_out)).collect();
    let run = parts.par_iter_mut().zip(&slices).try_for_each(|(part, tiles)| {
        part.data.par_chunks_mut(ob * width).enumerate().try_for_each(|(b, states)| -> Result<()> {
            if cancelled() {
                return Err(Error::Interrupted);
            }
            let row0 = b * ob;
            let nrows = states.len() / width;
            let mut ubufs = vec![T::zero(); nrows * ulen];
            for (r, ubuf) in ubufs.chunks_mut(ulen.max(1)).enumerate().take(nrows) {
                c.rows.fill(plan, inputs, outer, row0 + r, ubuf);
            }
            let tiles = tiles.clone();
            #[cfg(target_arch = "x86_64")]
            if let Some(jit_job) = &jit_job {
                // SAFETY: kernels exist only for AVX-512 or AVX2, and `level` was checked
                // against the running CPU above.
                unsafe {
                    match (level, f64_acc) {
                        (SimdLevel::Avx512, false) => {
                            jit_avx512::<T, T>(jit_job, &ubufs, ulen, tiles, states, &cancelled)
                        }
                        (SimdLevel::Avx512, true) => {
                            jit_avx512::<T, f64>(jit_job, &ubufs, ulen, tiles, states, &cancelled)
                        }
                        (_, false) => jit_avx2::<T, T>(jit_job, &ubufs, ulen, tiles, states, &cancelled),
                        (_, true) => jit_avx2::<T, f64>(jit_job, &ubufs, ulen, tiles, states, &cancelled),
                    }
                }?;
                progress.advance(nrows as u64);
                return Ok(());
            }
            // SAFETY: `level` was checked against the running CPU above.
            unsafe {
                match (level, f64_acc) {
                    (SimdLevel::Avx512, false) => fold_avx512::<T, T>(&job, &ubufs, ulen, tiles, states, &cancelled),
                    (SimdLevel::Avx512, true) => fold_avx512::<T, f64>(&job, &ubufs, ulen, tiles, states, &cancelled),
                    (SimdLevel::Avx2, false) => fold_avx2::<T, T>(&job, &ubufs, ulen, tiles, states, &cancelled),
                    (SimdLevel::Avx2, true) => fold_avx2::<T, f64>(&job, &ubufs, ulen, tiles, states, &cancelled),
                    (SimdLevel::Portable, false) => {
                        interp::fold_rows::<T, T>(&job, &ubufs, ulen, tiles, states, &cancelled)
                    }
                    (SimdLevel::Portable, true) => {
                        interp::fold_rows::<T, f64>(&job, &ubufs, ulen, tiles, states, &cancelled)
                    }
                }
            }?;
            progress.advance(nrows as u64);
            Ok(())
        })
    });
    progress.finish();
    run?;
    for part in &parts {
        result.combine(part)?;
    }
    post_scale(&c, &mut result, inputs, outer)?;
    Ok(result)
}

/// For a Sum lowered as u·Σ L: multiplies each row's sums (and compensations) by its u.
fn post_scale<T: Real>(
    c: &Compiled,
    states: &mut Partial,
    inputs: &[ArrayView2<T>],
    outer: crate::expr::Cat,
) -> Result<()> {
    let Some(u) = c.plan.post_scale else { return Ok(()) };
    if states.layout.family() != Family::Sum {
        return Err(Error::Backend { backend: "cpu".into(), msg: "internal error: a post-scale outside a Sum".into() });
    }
    let (d, width) = (states.layout.d, states.layout.width());
    let mut ubuf = vec![T::zero(); c.rows.len];
    for (r, s) in states.data.chunks_mut(width).enumerate() {
        c.rows.fill(&c.plan, inputs, outer, r, &mut ubuf);
        let scale = c.rows.slot(&c.plan, &ubuf, u).unwrap_or(&[]);
        for (k, v) in s.iter_mut().enumerate() {
            let f = scale.get(if scale.len() == 1 { 0 } else { k % d }).map_or(1.0, |x| x.as_f64());
            *v *= f;
        }
    }
    Ok(())
}

/// Output rows per task: `TASKS_PER_THREAD` tasks per thread, in multiples of `OB` rows, from
/// `OB` to `MAX_OB`.
fn task_rows(n_out: usize) -> usize {
    let want = rayon::current_num_threads() * TASKS_PER_THREAD;
    (n_out.div_ceil(want).div_ceil(OB) * OB).clamp(OB, MAX_OB)
}

/// The slices of the reduced axis (ranges of tiles): one, unless the output rows alone give
/// the threads too few tasks; slices are whole tile blocks, so that the block sum scheme sees
/// the same blocks as without slicing.
fn slices(n_out: usize, ntiles: usize) -> Vec<Range<usize>> {
    let tasks = n_out.div_ceil(task_rows(n_out));
    let want = rayon::current_num_threads() * TASKS_PER_THREAD;
    let by_rows = want.div_ceil(tasks.max(1));
    let by_size = (ntiles / MIN_SLICE_TILES).max(1);
    let n = by_rows.min(by_size).max(1);
    let blocks = ntiles.div_ceil(TPB);
    let per = blocks.div_ceil(n) * TPB;
    (0..ntiles).step_by(per.max(1)).map(|t| t..(t + per).min(ntiles)).collect()
}

#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw,avx2,fma"))]
unsafe fn fold_avx512<T: Real, A: Real>(
    job: &Job<T>,
    ubufs: &[T],
    ulen: usize,
    tiles: Range<usize>,
    states: &mut [f64],
    cancelled: &dyn Fn() -> bool,
) -> Result<()> {
    interp::fold_rows::<T, A>(job, ubufs, ulen, tiles, states, cancelled)
}

#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
unsafe fn fold_avx2<T: Real, A: Real>(
    job: &Job<T>,
    ubufs: &[T],
    ulen: usize,
    tiles: Range<usize>,
    states: &mut [f64],
    cancelled: &dyn Fn() -> bool,
) -> Result<()> {
    interp::fold_rows::<T, A>(job, ubufs, ulen, tiles, states, cancelled)
}

/// The JIT's driver (its Rust folds and flushes) compiled for AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")]
unsafe fn jit_avx512<T: Real, A: Real>(
    job: &jit::run::Job<T>,
    ubufs: &[T],
    ulen: usize,
    tiles: Range<usize>,
    states: &mut [f64],
    cancelled: &dyn Fn() -> bool,
) -> Result<()> {
    jit::run::fold_rows::<T, A>(job, ubufs, ulen, tiles, states, cancelled)
}

/// The JIT's driver compiled for AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn jit_avx2<T: Real, A: Real>(
    job: &jit::run::Job<T>,
    ubufs: &[T],
    ulen: usize,
    tiles: Range<usize>,
    states: &mut [f64],
    cancelled: &dyn Fn() -> bool,
) -> Result<()> {
    jit::run::fold_rows::<T, A>(job, ubufs, ulen, tiles, states, cancelled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_cover_the_axis_in_whole_blocks() {
        for (n_out, ntiles) in [(1, 1), (1, 10_000), (5, 157), (100_000, 1563), (7, 64)] {
            let s = slices(n_out, ntiles);
            assert_eq!(s.first().unwrap().start, 0);
            assert_eq!(s.last().unwrap().end, ntiles);
            for w in s.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert_eq!(w[0].start % TPB, 0);
            }
        }
        assert_eq!(slices(100_000, 1563).len(), 1);
        assert!(slices(3, 10_000).len() > 1);
    }
}
