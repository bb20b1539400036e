//! Elementwise ops: one table of unary ops (tensor–scalar arithmetic included) and one of binary ops with broadcasting.
//!
//! Each op is a variant with its scalar function and its backward rule, written with tensor
//! ops so that gradients can be differentiated again. Tensor–scalar arithmetic is unary (the
//! scalar is part of the op), which is why it cannot fail and can have operator overloads.

use super::broadcast::{broadcast_shapes, promote, zip_map};
use super::{with_dtype, Elem, Tensor};
use crate::error::Result;
use crate::real::Real;

/// Elementwise functions of one tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Unary {
    Neg,
    Exp,
    Log,
    Sqrt,
    Sin,
    Cos,
    Abs,
    /// −1, 0 or 1; its derivative is zero almost everywhere, so it records nothing.
    Sign,
    AddS(f64),
    MulS(f64),
    DivS(f64),
    /// s / x.
    RDivS(f64),
    PowS(f64),
}

impl Unary {
    fn name(self) -> &'static str {
        match self {
            Unary::Neg => "neg",
            Unary::Exp => "exp",
            Unary::Log => "log",
            Unary::Sqrt => "sqrt",
            Unary::Sin => "sin",
            Unary::Cos => "cos",
            Unary::Abs => "abs",
            Unary::Sign => "sign",
            Unary::AddS(_) => "add_scalar",
            Unary::MulS(_) => "mul_scalar",
            Unary::DivS(_) => "div_scalar",
            Unary::RDivS(_) => "rdiv_scalar",
            Unary::PowS(_) => "pow_scalar",
        }
    }

    fn apply<T: Real>(self, x: T) -> T {
        let s = |v: f64| T::from_f64(v);
        match self {
            Unary::Neg => -x,
            Unary::Exp => x.exp(),
            Unary::Log => x.ln(),
            Unary::Sqrt => x.sqrt(),
            Unary::Sin => x.sin(),
            Unary::Cos => x.cos(),
            Unary::Abs => x.abs(),
            Unary::Sign if x.is_nan() => x,
            Unary::Sign if x == T::zero() => x,
            Unary::Sign => x.signum(),
            Unary::AddS(v) => x + s(v),
            Unary::MulS(v) => x * s(v),
            Unary::DivS(v) => x / s(v),
            Unary::RDivS(v) => s(v) / x,
            Unary::PowS(2.0) => x * x,
            Unary::PowS(v) if v.fract() == 0.0 && v.abs() <= 64.0 => x.powi(v as i32),
            Unary::PowS(v) => x.powf(s(v)),
        }
    }

    /// The gradient with respect to x, given the input, the output and the output's gradient.
    fn backward(self, x: &Tensor, out: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(match self {
            Unary::Neg => -g,
            Unary::Exp => g.mul(out)?,
            Unary::Log => g.div(x)?,
            Unary::Sqrt => g.div(out)? * 0.5,
            Unary::Sin => g.mul(&x.cos())?,
            Unary::Cos => -&g.mul(&x.sin())?,
            Unary::Abs => g.mul(&x.sign())?,
            Unary::Sign => return Ok(None),
            Unary::AddS(_) => g.clone(),
            Unary::MulS(v) => g * v,
            Unary::DivS(v) => g / v,
            Unary::RDivS(_) => -&g.mul(out)?.div(x)?,
            Unary::PowS(0.0) => return Ok(None),
            Unary::PowS(v) => g.mul(&x.pow_scalar(v - 1.0))? * v,
        }))
    }
}

/// Elementwise functions of two broadcast tensors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Binary {
    fn name(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
            Binary::Pow => "pow",
            Binary::Lt => "lt",
            Binary::Le => "le",
            Binary::Gt => "gt",
            Binary::Ge => "ge",
            Binary::Eq => "eq",
            Binary::Ne => "ne",
        }
    }

    fn apply<T: Real>(self, x: T, y: T) -> T {
        let bool = |b: bool| if b { T::one() } else { T::zero() };
        match self {
            Binary::Add => x + y,
            Binary::Sub => x - y,
            Binary::Mul => x * y,
            Binary::Div => x / y,
            Binary::Pow => x.powf(y),
            Binary::Lt => bool(x < y),
            Binary::Le => bool(x <= y),
            Binary::Gt => bool(x > y),
            Binary::Ge => bool(x >= y),
            Binary::Eq => bool(x == y),
            Binary::Ne => bool(x != y),
        }
    }

    /// The gradients with respect to both operands, before summing over broadcast dimensions.
    fn backward(self, a: &Tensor, b: &Tensor, out: &Tensor, g: &Tensor, needs: &[bool]) -> Result<[Option<Tensor>; 2]> {
        let need = |k: usize| needs.get(k).copied().unwrap_or(false);
        let (ga, gb) = match self {
            Binary::Add => (Some(g.clone()), Some(g.clone())),
            Binary::Sub => (Some(g.clone()), Some(-g)),
            Binary::Mul => (need(0).then(|| g.mul(b)).transpose()?, need(1).then(|| g.mul(a)).transpose()?),
            Binary::Div => {
                (need(0).then(|| g.div(b)).transpose()?, need(1).then(|| Ok(-&g.mul(out)?.div(b)?)).transpose()?)
            }
            Binary::Pow => {
                let ga = need(0).then(|| g.mul(b)?.mul(&a.pow(&(b - 1.0))?)).transpose()?;
                // d(a^b)/db = a^b ln a, taken as 0 where a = 0 (the limit for b > 0), as PyTorch does.
                let gb = need(1).then(|| g.mul(out)?.mul(&a.add(&a.eq(&a.zeros_like())?)?.log())).transpose()?;
                (ga, gb)
            }
            Binary::Lt | Binary::Le | Binary::Gt | Binary::Ge | Binary::Eq | Binary::Ne => (None, None),
        };
        Ok([ga, gb])
    }

    fn differentiable(self) -> bool {
        matches!(self, Binary::Add | Binary::Sub | Binary::Mul | Binary::Div | Binary::Pow)
    }
}

impl Tensor {
    fn unary(&self, op: Unary) -> Tensor {
        let data = with_dtype!(data self.data(), a => Elem::wrap(a.mapv(|x| op.apply(x)).into_shared()));
        if op == Unary::Sign {
            return Tensor::from_data(data);
        }
        Tensor::record(data, op.name(), vec![self.clone()], move |b| {
            Ok(vec![op.backward(&b.inputs[0], b.out, b.grad)?])
        })
    }

    fn binary(&self, other: &Tensor, op: Binary) -> Result<Tensor> {
        let (a, b) = promote(self, other);
        let shape = broadcast_shapes(op.name(), a.shape(), b.shape())?;
        super::checked_alloc(op.name(), &shape, a.dtype())?;
        let data = with_dtype!(a.dtype(), T => {
            let (x, y) = (a.data().get::<T>(op.name())?, b.data().get::<T>(op.name())?);
            T::wrap(zip_map(op.name(), x, y, &shape, |x, y| op.apply(x, y))?)
        });
        if !op.differentiable() {
            return Ok(Tensor::from_data(data));
        }
        Ok(Tensor::record(data, op.name(), vec![a, b], move |bw| {
            let (a, b) = (&bw.inputs[0], &bw.inputs[1]);
            let [ga, gb] = op.backward(a, b, bw.out, bw.grad, bw.needs)?;
            Ok(vec![ga.map(|g| g.sum_to(a.shape())).transpose()?, gb.map(|g| g.sum_to(b.shape())).transpose()?])
        }))
    }
}

/// Methods for the binary ops, which broadcast and may fail; documented once here.
macro_rules! binary_methods {
    ($($(#[$doc:meta])* $name:ident => $op:ident,)*) => {
        impl Tensor {
            $($(#[$doc])* pub fn $name(&self, other: &Tensor) -> Result<Tensor> {
                self.binary(other, Binary::$op)
            })*
        }
    };
}

binary_methods! {
    /// Elementwise sum with broadcasting.
    add => Add,
    sub => Sub,
    mul => Mul,
    div => Div,
    /// self ** other, elementwise.
    pow => Pow,
    /// 1 where self < other, else 0 (in the promoted dtype; no gradient).
    lt => Lt,
    le => Le,
    gt => Gt,
    ge => Ge,
    eq => Eq,
    ne => Ne,
}

impl Tensor {
    pub fn exp(&self) -> Tensor {
        self.unary(Unary::Exp)
    }
    pub fn log(&self) -> Tensor {
        self.unary(Unary::Log)
    }
    pub fn sqrt(&self) -> Tensor {
        self.unary(Unary::Sqrt)
    }
    pub fn sin(&self) -> Tensor {
        self.unary(Unary::Sin)
    }
    pub fn cos(&self) -> Tensor {
        self.unary(Unary::Cos)
    }
    pub fn abs(&self) -> Tensor {
        self.unary(Unary::Abs)
    }
    /// −1, 0 or 1 (NaN stays NaN); not differentiable (the result does not require gradients).
    pub fn sign(&self) -> Tensor {
        self.unary(Unary::Sign)
    }
    pub fn neg(&self) -> Tensor {
        self.unary(Unary::Neg)
    }
    /// self ** p for a constant p.
    pub fn pow_scalar(&self, p: f64) -> Tensor {
        self.unary(Unary::PowS(p))
    }
    pub fn square(&self) -> Tensor {
        self.unary(Unary::PowS(2.0))
    }
}

/// Operator overloads for `Tensor` and `&Tensor` with an `f64` on either side: `&x * 2.0`, `1.0 - &x`.
macro_rules! scalar_ops {
    ($($Trait:ident $method:ident: |$t:ident, $s:ident| $fwd:expr, |$s2:ident, $t2:ident| $rev:expr;)*) => {$(
        impl std::ops::$Trait<f64> for &Tensor {
            type Output = Tensor;
            fn $method(self, $s: f64) -> Tensor {
                let $t = self;
                $fwd
            }
        }
        impl std::ops::$Trait<f64> for Tensor {
            type Output = Tensor;
            fn $method(self, s: f64) -> Tensor {
                std::ops::$Trait::$method(&self, s)
            }
        }
        impl std::ops::$Trait<&Tensor> for f64 {
            type Output = Tensor;
            fn $method(self, $t2: &Tensor) -> Tensor {
                let $s2 = self;
                $rev
            }
        }
        impl std::ops::$Trait<Tensor> for f64 {
            type Output = Tensor;
            fn $method(self, t: Tensor) -> Tensor {
                std::ops::$Trait::$method(self, &t)
            }
        }
    )*};
}

scalar_ops! {
    Add add: |t, s| t.unary(Unary::AddS(s)), |s, t| t.unary(Unary::AddS(s));
    Sub sub: |t, s| t.unary(Unary::AddS(-s)), |s, t| t.neg().unary(Unary::AddS(s));
    Mul mul: |t, s| t.unary(Unary::MulS(s)), |s, t| t.unary(Unary::MulS(s));
    Div div: |t, s| t.unary(Unary::DivS(s)), |s, t| t.unary(Unary::RDivS(s));
}

impl std::ops::Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        self.unary(Unary::Neg)
    }
}

impl std::ops::Neg for Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        self.unary(Unary::Neg)
    }
}
