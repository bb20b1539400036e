//! The scalar operation tables: one row per elementwise op with its formula name, CPU code and CUDA spelling.
//!
//! Adding an elementwise operation is one row here (plus its derivative rule in `diff/rules.rs`
//! and its LazyTensor method in the scripting layer). The
//! CPU code is generic over [`Real`]; the CUDA spelling is a C expression template where `{0}`
//! and `{1}` stand for the operands and `T` for the element type.

use crate::real::Real;

macro_rules! unary_table {
    ($( $variant:ident $name:literal $cuda:literal $domain:ident |$x:ident| $body:expr; )*) => {
        /// Elementwise functions of one operand.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum UnaryOp { $($variant),* }

        impl UnaryOp {
            pub const ALL: &'static [UnaryOp] = &[$(UnaryOp::$variant),*];

            /// The name in the formula language.
            pub fn name(self) -> &'static str {
                match self { $(UnaryOp::$variant => $name),* }
            }

            /// The CUDA C expression template, `{0}` being the operand.
            pub fn cuda(self) -> &'static str {
                match self { $(UnaryOp::$variant => $cuda),* }
            }

            /// Where the function is defined and smooth.
            pub fn domain(self) -> Domain {
                match self { $(UnaryOp::$variant => Domain::$domain),* }
            }

            /// The CPU code: the exact (libm) value of the function.
            #[inline(always)]
            pub fn apply<T: Real>(self, operand: T) -> T {
                match self { $(UnaryOp::$variant => { let $x = operand; $body }),* }
            }

            pub fn from_name(name: &str) -> Option<UnaryOp> {
                match name { $($name => Some(UnaryOp::$variant),)* _ => None }
            }

            /// `out[k] = op(a[k])` with the op fixed per arm, so that each loop vectorises.
            #[inline(always)]
            pub fn map_slice<T: Real>(self, a: &[T], out: &mut [T]) {
                match self {
                    $(UnaryOp::$variant => {
                        for (o, &x) in out.iter_mut().zip(a) {
                            *o = UnaryOp::$variant.apply_fast(x);
                        }
                    })*
                }
            }
        }
    };
}

macro_rules! binary_table {
    ($( $variant:ident $name:literal $infix:literal $cuda:literal $domain:ident |$a:ident, $b:ident| $body:expr; )*) => {
        /// Elementwise functions of two operands; a dimension-1 operand broadcasts against the other.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum BinaryOp { $($variant),* }

        impl BinaryOp {
            pub const ALL: &'static [BinaryOp] = &[$(BinaryOp::$variant),*];

            /// The name in the formula language (function-call form).
            pub fn name(self) -> &'static str {
                match self { $(BinaryOp::$variant => $name),* }
            }

            /// The infix spelling, or "" when the op is written as a function call.
            pub fn infix(self) -> &'static str {
                match self { $(BinaryOp::$variant => $infix),* }
            }

            /// The CUDA C expression template, `{0}` and `{1}` being the operands.
            pub fn cuda(self) -> &'static str {
                match self { $(BinaryOp::$variant => $cuda),* }
            }

            /// Where the function is defined and smooth, for both operands.
            pub fn domain(self) -> Domain {
                match self { $(BinaryOp::$variant => Domain::$domain),* }
            }

            /// The CPU code.
            #[inline(always)]
            pub fn apply<T: Real>(self, left: T, right: T) -> T {
                match self { $(BinaryOp::$variant => { let ($a, $b) = (left, right); $body }),* }
            }

            pub fn from_name(name: &str) -> Option<BinaryOp> {
                match name { $($name => Some(BinaryOp::$variant),)* _ => None }
            }

            /// `out[k] = op(a[k], b[k])`, each arm its own vectorisable loop.
            #[inline(always)]
            pub fn map_slices<T: Real>(self, a: &[T], b: &[T], out: &mut [T]) {
                match self {
                    $(BinaryOp::$variant => {
                        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                            *o = BinaryOp::$variant.apply(x, y);
                        }
                    })*
                }
            }

            /// `out[k] = op(a[k], b)`: the right operand is the same for every element.
            #[inline(always)]
            pub fn map_slice_scalar<T: Real>(self, a: &[T], b: T, out: &mut [T]) {
                match self {
                    $(BinaryOp::$variant => {
                        for (o, &x) in out.iter_mut().zip(a) {
                            *o = BinaryOp::$variant.apply(x, b);
                        }
                    })*
                }
            }

            /// `out[k] = op(a, b[k])`: the left operand is the same for every element.
            #[inline(always)]
            pub fn map_scalar_slice<T: Real>(self, a: T, b: &[T], out: &mut [T]) {
                match self {
                    $(BinaryOp::$variant => {
                        for (o, &y) in out.iter_mut().zip(b) {
                            *o = BinaryOp::$variant.apply(a, y);
                        }
                    })*
                }
            }
        }
    };
}

/// Where an elementwise function is defined and smooth: what tests draw its arguments from, and
/// where a finite difference may be compared with its derivative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// Every real number.
    All,
    /// Every real number, with a kink or a special value at 0 (Abs, Step, sin(x)/x).
    KinkAtZero,
    /// x > 0.
    Positive,
    /// |x| < 1.
    Unit,
    /// Every real number, piecewise constant with jumps (Floor at the integers).
    Steps,
}

#[inline(always)]
fn bool_to<T: Real>(c: bool) -> T {
    if c {
        T::one()
    } else {
        T::zero()
    }
}

unary_table! {
    Minus    "Minus"    "(-{0})"                                  All        |x| -x;
    Inv      "Inv"      "((T)1/{0})"                              Positive   |x| x.recip();
    Exp      "Exp"      "exp({0})"                                All        |x| x.exp();
    Log      "Log"      "log({0})"                                Positive   |x| x.ln();
    XLogX    "XLogX"    "({0}==(T)0?(T)0:{0}*log({0}))"           Positive   |x| if x == T::zero() { T::zero() } else { x * x.ln() };
    Sin      "Sin"      "sin({0})"                                All        |x| x.sin();
    Cos      "Cos"      "cos({0})"                                All        |x| x.cos();
    SinXDivX "SinXDivX" "({0}==(T)0?(T)1:sin({0})/{0})"           KinkAtZero |x| if x == T::zero() { T::one() } else { x.sin() / x };
    Asin     "Asin"     "asin({0})"                               Unit       |x| x.asin();
    Acos     "Acos"     "acos({0})"                               Unit       |x| x.acos();
    Atan     "Atan"     "atan({0})"                               All        |x| x.atan();
    Square   "Square"   "({0}*{0})"                               All        |x| x * x;
    Sqrt     "Sqrt"     "sqrt({0})"                               Positive   |x| x.sqrt();
    Rsqrt    "Rsqrt"    "({0}==(T)0?(T)0:rsqrt({0}))"             Positive   |x| if x == T::zero() { T::zero() } else { x.sqrt().recip() };
    Abs      "Abs"      "fabs({0})"                               KinkAtZero |x| x.abs();
    Sign     "Sign"     "({0}>(T)0?(T)1:({0}<(T)0?(T)-1:{0}*(T)0))" KinkAtZero |x| if x > T::zero() { T::one() } else if x < T::zero() { -T::one() } else { x * T::zero() };
    Step     "Step"     "({0}<(T)0?(T)0:(isnan({0})?{0}:(T)1))"   KinkAtZero |x| if x < T::zero() { T::zero() } else if x.is_nan() { x } else { T::one() };
    ReLU     "ReLU"     "({0}<(T)0?(T)0:{0})"                     KinkAtZero |x| if x < T::zero() { T::zero() } else { x };
    Floor    "Floor"    "floor({0})"                              Steps      |x| x.floor();
}

binary_table! {
    Add       "Add"       "+"  "({0}+{1})"                 All      |a, b| a + b;
    Sub       "Subtract"  "-"  "({0}-{1})"                 All      |a, b| a - b;
    Mul       "Mult"      "*"  "({0}*{1})"                 All      |a, b| a * b;
    Div       "Divide"    "/"  "({0}/{1})"                 Positive |a, b| a / b;
    Powf      "Powf"      ""   "pow({0},{1})"              Positive |a, b| a.powf(b);
    Atan2     "Atan2"     ""   "atan2({0},{1})"            All      |a, b| a.atan2(b);
    Less      "Less"      "<"  "({0}<{1}?(T)1:(T)0)"       All      |a, b| bool_to(a < b);
    LessEq    "LessEq"    "<=" "({0}<={1}?(T)1:(T)0)"      All      |a, b| bool_to(a <= b);
    Greater   "Greater"   ">"  "({0}>{1}?(T)1:(T)0)"       All      |a, b| bool_to(a > b);
    GreaterEq "GreaterEq" ">=" "({0}>={1}?(T)1:(T)0)"      All      |a, b| bool_to(a >= b);
    Equal     "Equal"     "==" "({0}=={1}?(T)1:(T)0)"      All      |a, b| bool_to(a == b);
    NotEqual  "NotEqual"  "!=" "({0}!={1}?(T)1:(T)0)"      All      |a, b| bool_to(a != b);
}

impl UnaryOp {
    /// The CPU code used in vectorised loops: like [`UnaryOp::apply`], with exp and log replaced
    /// by their branch-free versions.
    #[inline(always)]
    pub fn apply_fast<T: Real>(self, x: T) -> T {
        match self {
            UnaryOp::Exp => x.vexp(),
            UnaryOp::Log => x.vlog(),
            op => op.apply(x),
        }
    }
}

impl BinaryOp {
    /// Comparisons produce 0/1 values: their derivative is zero almost everywhere.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Less
                | BinaryOp::LessEq
                | BinaryOp::Greater
                | BinaryOp::GreaterEq
                | BinaryOp::Equal
                | BinaryOp::NotEqual
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &op in UnaryOp::ALL {
            assert_eq!(UnaryOp::from_name(op.name()), Some(op));
        }
        for &op in BinaryOp::ALL {
            assert_eq!(BinaryOp::from_name(op.name()), Some(op));
        }
    }

    #[test]
    fn special_values() {
        assert_eq!(UnaryOp::Rsqrt.apply(0.0f64), 0.0);
        assert_eq!(UnaryOp::SinXDivX.apply(0.0f64), 1.0);
        assert_eq!(UnaryOp::XLogX.apply(0.0f64), 0.0);
        assert_eq!(UnaryOp::Step.apply(0.0f64), 1.0);
        assert_eq!(UnaryOp::Sign.apply(-3.0f64), -1.0);
        assert!(UnaryOp::Sign.apply(f64::NAN).is_nan());
        assert_eq!(BinaryOp::Less.apply(1.0f64, 2.0), 1.0);
        assert_eq!(UnaryOp::Exp.apply_fast(1.0f32), 1.0f32.exp());
    }
}
