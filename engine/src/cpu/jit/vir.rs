//! The JIT's vector code: straight-line instructions on whole SIMD vectors, before register allocation.
//!
//! One loop iteration of a kernel is a list of [`Inst`]s over virtual vector registers
//! ([`VReg`], SSA: each defined once), mask registers ([`MReg`]) and accumulators (pinned
//! registers that live across iterations). Operands may also be memory: a row value broadcast
//! to a whole vector ([`Src::Uni`]), a constant of the pool ([`Src::Pool`]), a vector of the
//! reduced side's tile ([`Src::Inner`]), or which of its lanes are points ([`Src::Valid`]).
//! The code is independent of the instruction set: the emitter maps each instruction to AVX-512
//! or AVX2 encodings.

/// A virtual vector register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VReg(pub u32);

/// A virtual mask register (a k register with AVX-512, a vector with AVX2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MReg(pub u32);

/// An accumulator: a vector register pinned for the whole kernel, loaded before the loop and
/// stored after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Acc(pub u32);

/// Where an operand comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Src {
    V(VReg),
    A(Acc),
    /// Broadcast slot `slot` of row copy `row` (a row or parameter value's component).
    Uni {
        row: u32,
        slot: u32,
    },
    /// Constant `k` of the pool.
    Pool(u32),
    /// Component `comp` (counted over all reduced-side variables, in tile order), vector `sub`
    /// of the current tile.
    Inner {
        comp: u32,
        sub: u32,
    },
    /// Which lanes of vector `sub` of the current tile hold points (1) or padding (0): read by
    /// the masked kernels that fold a slice's last, partial tile.
    Valid {
        sub: u32,
    },
}

impl Src {
    pub fn is_mem(self) -> bool {
        matches!(self, Src::Uni { .. } | Src::Pool(_) | Src::Inner { .. } | Src::Valid { .. })
    }
}

/// Where a result goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dst {
    V(VReg),
    A(Acc),
}

impl Dst {
    pub fn src(self) -> Src {
        match self {
            Dst::V(v) => Src::V(v),
            Dst::A(a) => Src::A(a),
        }
    }
}

/// Floating-point binary operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    /// x86 semantics: the second operand when either is NaN.
    Min,
    Max,
    And,
    Or,
    Xor,
    /// (!a) & b, bitwise.
    AndNot,
    /// a·2^floor(b) (AVX-512 only).
    Scalef,
}

/// Integer lane operations (32-bit lanes for f32, 64-bit for f64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Int {
    Add,
    Sub,
}

/// Unary operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Un {
    Sqrt,
    /// Round to an integer value: nearest-even, floor, ceil or truncate.
    Round(RoundMode),
    /// Shifts of the integer lanes by an immediate.
    Shl(u8),
    Shr(u8),
    /// Arithmetic shift right (32-bit lanes only on AVX2).
    Sar(u8),
    /// The exponent as a float, floor(log2 |x|) (AVX-512 only).
    GetExp,
    /// The mantissa in [1, 2) (AVX-512 only).
    GetMant,
    /// Signed integer lanes to floats.
    IntToFloat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoundMode {
    Nearest,
    Floor,
    Ceil,
    Trunc,
}

/// Comparison predicates, with IEEE semantics: ordered ones are false when an operand is NaN,
/// `Neq` and `Unord` are true then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pred {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
    /// Not equal, or unordered.
    Neq,
    /// Either operand is NaN.
    Unord,
    /// Neither is NaN.
    Ord,
    /// The integer lanes are equal.
    IntEq,
}

/// Mask operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaskOp {
    And,
    Or,
    /// (!a) & b.
    AndNot,
}

/// One instruction of the vector code.
#[derive(Debug, Clone, PartialEq)]
pub enum Inst {
    Bin {
        op: Bin,
        dst: Dst,
        a: Src,
        b: Src,
    },
    Int {
        op: Int,
        dst: Dst,
        a: Src,
        b: Src,
    },
    Un {
        op: Un,
        dst: Dst,
        a: Src,
    },
    /// dst = ±(a·b) + c.
    Fma {
        neg: bool,
        dst: Dst,
        a: Src,
        b: Src,
        c: Src,
    },
    Cmp {
        pred: Pred,
        dst: MReg,
        a: Src,
        b: Src,
    },
    /// dst = m ? t : f.
    Blend {
        dst: Dst,
        m: MReg,
        t: Src,
        f: Src,
    },
    MaskBin {
        op: MaskOp,
        dst: MReg,
        a: MReg,
        b: MReg,
    },
    /// dst = a (a copy, or a load of a memory operand).
    Mov {
        dst: Dst,
        a: Src,
    },
    /// Writes a vector of the map output: row copy `row`, component `comp`, vector `sub`.
    Store {
        src: Src,
        row: u32,
        comp: u32,
        sub: u32,
    },
    /// Computes op `op` of the kernel's call-out table lane by lane in Rust: operands' components
    /// in order, results into `outs`.
    CallOut {
        op: u32,
        ins: Vec<Src>,
        outs: Vec<VReg>,
    },
}

impl Inst {
    /// The vector registers (and accumulators) read.
    pub fn reads(&self, out: &mut Vec<Src>) {
        out.clear();
        match self {
            Inst::Bin { a, b, .. } | Inst::Int { a, b, .. } | Inst::Cmp { a, b, .. } => out.extend([*a, *b]),
            Inst::Un { a, .. } | Inst::Mov { a, .. } => out.push(*a),
            Inst::Fma { a, b, c, .. } => out.extend([*a, *b, *c]),
            Inst::Blend { t, f, .. } => out.extend([*t, *f]),
            Inst::Store { src, .. } => out.push(*src),
            Inst::CallOut { ins, .. } => out.extend(ins.iter().copied()),
            Inst::MaskBin { .. } => {}
        }
    }

    /// The masks read.
    pub fn mask_reads(&self) -> Vec<MReg> {
        match self {
            Inst::Blend { m, .. } => vec![*m],
            Inst::MaskBin { a, b, .. } => vec![*a, *b],
            _ => vec![],
        }
    }

    /// The vector register defined, if any.
    pub fn def(&self) -> Option<Dst> {
        match self {
            Inst::Bin { dst, .. }
            | Inst::Int { dst, .. }
            | Inst::Un { dst, .. }
            | Inst::Fma { dst, .. }
            | Inst::Blend { dst, .. }
            | Inst::Mov { dst, .. } => Some(*dst),
            _ => None,
        }
    }

    /// The mask defined, if any.
    pub fn mask_def(&self) -> Option<MReg> {
        match self {
            Inst::Cmp { dst, .. } | Inst::MaskBin { dst, .. } => Some(*dst),
            _ => None,
        }
    }
}

/// A builder of vector code: fresh registers and a growing instruction list.
#[derive(Debug, Default)]
pub struct Code {
    pub insts: Vec<Inst>,
    next_v: u32,
    next_m: u32,
}

impl Code {
    pub fn vreg(&mut self) -> VReg {
        self.next_v += 1;
        VReg(self.next_v - 1)
    }

    pub fn mreg(&mut self) -> MReg {
        self.next_m += 1;
        MReg(self.next_m - 1)
    }

    pub fn vregs(&self) -> u32 {
        self.next_v
    }

    pub fn mregs(&self) -> u32 {
        self.next_m
    }

    pub fn bin(&mut self, op: Bin, a: Src, b: Src) -> Src {
        let d = self.vreg();
        self.insts.push(Inst::Bin { op, dst: Dst::V(d), a, b });
        Src::V(d)
    }

    pub fn int(&mut self, op: Int, a: Src, b: Src) -> Src {
        let d = self.vreg();
        self.insts.push(Inst::Int { op, dst: Dst::V(d), a, b });
        Src::V(d)
    }

    pub fn un(&mut self, op: Un, a: Src) -> Src {
        let d = self.vreg();
        self.insts.push(Inst::Un { op, dst: Dst::V(d), a });
        Src::V(d)
    }

    /// a·b + c.
    pub fn fma(&mut self, a: Src, b: Src, c: Src) -> Src {
        let d = self.vreg();
        self.insts.push(Inst::Fma { neg: false, dst: Dst::V(d), a, b, c });
        Src::V(d)
    }

    /// c − a·b.
    pub fn fnma(&mut self, a: Src, b: Src, c: Src) -> Src {
        let d = self.vreg();
        self.insts.push(Inst::Fma { neg: true, dst: Dst::V(d), a, b, c });
        Src::V(d)
    }

    pub fn cmp(&mut self, pred: Pred, a: Src, b: Src) -> MReg {
        let m = self.mreg();
        self.insts.push(Inst::Cmp { pred, dst: m, a, b });
        m
    }

    /// m ? t : f.
    pub fn blend(&mut self, m: MReg, t: Src, f: Src) -> Src {
        let d = self.vreg();
        self.insts.push(Inst::Blend { dst: Dst::V(d), m, t, f });
        Src::V(d)
    }

    pub fn mask(&mut self, op: MaskOp, a: MReg, b: MReg) -> MReg {
        let m = self.mreg();
        self.insts.push(Inst::MaskBin { op, dst: m, a, b });
        m
    }

    /// The operand in a register of its own (a load when it is memory).
    pub fn mov(&mut self, a: Src) -> Src {
        let d = self.vreg();
        self.insts.push(Inst::Mov { dst: Dst::V(d), a });
        Src::V(d)
    }
}
