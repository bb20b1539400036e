//! Error messages of LazyTensor and Genred in scripts: each names the operation, the operands and the problem.

mod lazy_support;

use expect_test::expect;
use lazy_support::{randn, Runner};
use noyau_engine::DType;

/// Runs each script and lists `script => message`.
fn errors(cases: &[&str]) -> String {
    let mut r = Runner::new();
    r.set("x", &randn(1, &[1000, 3], DType::F32)).set("y", &randn(2, &[500, 3], DType::F32));
    r.set("z", &randn(3, &[1000, 2], DType::F32)).set("w", &randn(4, &[3], DType::F32));
    cases.iter().map(|src| format!("{src}\n    => {}\n", r.error(src))).collect()
}

#[test]
fn lazytensor_errors() {
    let got = errors(&[
        "Vi(x).sum(3)",
        "Vi(x).logsumexp(-1)",
        "(Vi(x) - Vj(y)).sqnorm2().Kmin(0, 1)",
        "(Vi(x) - Vj(y)).sqnorm2().argKmin(600, 1)",
        "let x_i = Vi(x); let y_j = Vj(z); x_i - y_j",
        "(Vi(x).exp() + 1.5) * Vj(z)",
        "Vi(x).sqdist(Vj(z))",
        "Vi(x) + Vi(y)",
        "Vi(x).logsumexp(1)",
        "let F = Vi(x).exp(); F.grad(Vi(x).exp(), Vi(x))",
        "Vi(x).sum(1, #{backend: \"tpu\"})",
        "Vi(x).sum(1, #{dtype_acc: \"float16\"})",
        "Vi(x).sum(1, #{tol: 1e-3})",
        "Vi(x).sum(1, #{ranges: [0, 1]})",
        "Vi(x).sum(1, #{backend: \"GPU_2D\"})",
        "Vi(x).sum(1, #{backend: \"cpu\", device_id: 1})",
        "Vi(x).sum(1, #{enable_chunks: 1})",
        "LazyTensor(x)",
        "LazyTensor(x, 3)",
        "Pm(x)",
        "Vi(x)[3]",
        "Vi(x)[1..5]",
        "Vi(x)[-9223372036854775808..9223372036854775807]",
        "Vi(x) ** 9223372036854775807",
        "Vi(x).norm(0)",
        "Vi(x).one_hot(4)",
        "Vi(x).weightedsqnorm(Pm(w).concat(Pm(w)))",
        "(-Vi(x).sqdist(Vj(y))).exp().solve(w, 0.1)",
        "let K = (-Vi(x).sqdist(Vj(y))).exp(); K @ z",
        "Vi(x) @ w",
    ]);
    expect![[r#"
        Vi(x).sum(3)
            => sum(dim=3): dim must be 0 (reduce over i) or 1 (reduce over j); -1 (or 2) gives the operation along the vector dimension (a LazyTensor)
        Vi(x).logsumexp(-1)
            => logsumexp(dim=-1): dim must be 0 (reduce over i) or 1 (reduce over j)
        (Vi(x) - Vj(y)).sqnorm2().Kmin(0, 1)
            => Kmin(K=0, dim=1): K must be a positive integer
        (Vi(x) - Vj(y)).sqnorm2().argKmin(600, 1)
            => argKmin(K=600, dim=1): K = 600 is larger than the number of points reduced over (500)
        let x_i = Vi(x); let y_j = Vj(z); x_i - y_j
            => x_i - y_j: dimensions 3 and 2 differ
        (Vi(x).exp() + 1.5) * Vj(z)
            => (Exp(x_i) + 1.5) * y_j: dimensions 3 and 2 differ
        Vi(x).sqdist(Vj(z))
            => x_i.sqdist(y_j): dimensions 3 and 2 differ
        Vi(x) + Vi(y)
            => x_i + u_i: x_i has 1000 rows but u_i has 500, and both are i-indexed
        Vi(x).logsumexp(1)
            => logsumexp(dim=1): the formula must have dimension 1, it has dimension 3
        let F = Vi(x).exp(); F.grad(Vi(x).exp(), Vi(x))
            => Exp(x_i).grad(..): can only differentiate with respect to a variable made by Vi, Vj or Pm, not Exp(x_i)
        Vi(x).sum(1, #{backend: "tpu"})
            => sum(dim=1): backend tpu: unknown backend: use auto, cpu, gpu, cuda:N (KeOps' CPU and GPU_1D also)
        Vi(x).sum(1, #{dtype_acc: "float16"})
            => sum(dim=1): dtype_acc must be auto, float32 or float64, got float16
        Vi(x).sum(1, #{tol: 1e-3})
            => sum(dim=1): unknown option `tol`: the options are backend, device_id, dtype_acc, sum_scheme, use_double_acc, enable_chunks, ranges
        Vi(x).sum(1, #{ranges: [0, 1]})
            => sum(dim=1): ranges must hold 6 tensors (KeOps' tuple), got 2
        Vi(x).sum(1, #{backend: "GPU_2D"})
            => sum(dim=1): backend GPU_2D: KeOps' 2-D GPU scheme is not built yet: use GPU_1D (or gpu), which runs every reduction
        Vi(x).sum(1, #{backend: "cpu", device_id: 1})
            => sum(dim=1): option device_id = 1 names a GPU, not the backend chosen
        Vi(x).sum(1, #{enable_chunks: 1})
            => sum(dim=1): option enable_chunks must be true or false
        LazyTensor(x)
            => LazyTensor: a 2-D tensor (shape [1000, 3]) needs an axis: Vi(x) or LazyTensor(x, 0) for an i-indexed variable, Vj(x) or LazyTensor(x, 1) for a j-indexed one
        LazyTensor(x, 3)
            => LazyTensor: axis must be 0 (Vi), 1 (Vj) or 2 (Pm), got 3
        Pm(x)
            => Pm: expected a number, a 1-D tensor of length D or a 1×D tensor, got shape [1000, 3]
        Vi(x)[3]
            => x_i[3]: index 3 is out of range for dimension 3
        Vi(x)[1..5]
            => x_i.extract(1, 4): components 1..5 out of range for a vector of dimension 3
        Vi(x)[-9223372036854775808..9223372036854775807]
            => x_i.extract(-9223372036854775808, 9223372036854775807): the start must be a non-negative integer, got -9223372036854775808
        Vi(x) ** 9223372036854775807
            => x_i ** 9223372036854775807: the exponent is too large
        Vi(x).norm(0)
            => x_i.norm(0): LazyTensors have norms along their last dimension only: use norm(-1)
        Vi(x).one_hot(4)
            => x_i.one_hot(4): the one-hot encoding is of a scalar, this formula has dimension 3
        Vi(x).weightedsqnorm(Pm(w).concat(Pm(w)))
            => x_i.weightedsqnorm(Concat(p, p)): the weight has dimension 6 but the vectors have dimension 3: it must be 1, 3 or 9
        (-Vi(x).sqdist(Vj(y))).exp().solve(w, 0.1)
            => solve: K must be square to be inverted, it is 1000×500
        let K = (-Vi(x).sqdist(Vj(y))).exp(); K @ z
            => K @ v: y_j has 500 rows but v_j has 1000, and both are j-indexed
        Vi(x) @ w
            => K @ v: K must have dimension 1 to act as a matrix, it has dimension 3
    "#]].assert_eq(&got);
}

#[test]
fn genred_errors() {
    let g = r#"Genred("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(6)"], "Sum", 0)"#;
    let got = errors(&[
        &format!("{g}.call(x, x, x)"),
        &format!("{g}.call(x, y)"),
        &format!("{g}.call(x, y, w)"),
        r#"Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "Summ", 0)"#,
        r#"KernelSolve("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "c", 1)"#,
        r#"KernelSolve("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vi(1)"], "b", 1)"#,
        r#"KernelSolve("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "b", 1).call(x, x, x.sum(1, true))"#,
        r#"KernelSolve("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "b", 1).call(x, y, y.sum(1, true), #{alpha: 1})"#,
        r#"Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "ArgKMin", 1)"#,
        r#"Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "ArgKMin(0)", 1)"#,
        r#"Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "KMin", 1, #{K: -2})"#,
        r#"Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "KMin(3)", 1, #{K: 2})"#,
        r#"Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "Sum", 2)"#,
        r#"Genred("SqDist(x,y) +", ["x = Vi(3)", "y = Vj(3)"], "Sum", 1)"#,
        r#"Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(2)"], "Sum", 1)"#,
        r#"Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "SumSoftMaxWeight", 1)"#,
        r#"Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "Sum", 1, #{formula3: "x"})"#,
    ]);
    expect![[r#"
        Genred("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(6)"], "Sum", 0).call(x, x, x)
            => Genred: variable b is declared Vj(6) but got a tensor of shape [1000, 3]: it needs 6 column(s)
        Genred("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(6)"], "Sum", 0).call(x, y)
            => Genred: expected 3 argument(s) (x = Vi(3), y = Vj(3), b = Vj(6)), got 2
        Genred("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(6)"], "Sum", 0).call(x, y, w)
            => Genred: variable b is declared Vj(6) but got a tensor of shape [3]: it needs 6 column(s)
        Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "Summ", 0)
            => Genred: Summ: unknown reduction: use Sum, Max, Min, ArgMax, ArgMin, Max_ArgMax, Min_ArgMin, KMin, ArgKMin, KMin_ArgKMin, LogSumExp, LogSumExpWeight, Max_SumShiftExp(Weight) or SumSoftMaxWeight
        KernelSolve("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "c", 1)
            => KernelSolve: varinvalias `c` is not one of the aliases ["x", "y", "b"]
        KernelSolve("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vi(1)"], "b", 1)
            => KernelSolve: the unknown `b` = Vi(1) must be indexed by the reduced side and have the formula's dimension 1: the formula maps it to a vector of its own shape
        KernelSolve("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "b", 1).call(x, x, x.sum(1, true))
            => KernelSolve: alpha is needed: Kinv.call(x, y, b, #{alpha: 0.1})
        KernelSolve("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "b", 1).call(x, y, y.sum(1, true), #{alpha: 1})
            => KernelSolve: the kernel must be square to be inverted: N = 1000 but M = 500
        Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "ArgKMin", 1)
            => Genred: ArgKMin needs K: write "ArgKMin(10)" or pass #{K: 10}
        Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "ArgKMin(0)", 1)
            => Genred: K must be a positive integer, got 0
        Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "KMin", 1, #{K: -2})
            => Genred: K must be a positive integer, got -2
        Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "KMin(3)", 1, #{K: 2})
            => Genred: K is 3 in `KMin(3)` but 2 in the options
        Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "Sum", 2)
            => Genred: axis must be 0 (reduce over i) or 1 (reduce over j), got 2
        Genred("SqDist(x,y) +", ["x = Vi(3)", "y = Vj(3)"], "Sum", 1)
            => Genred: column 14: expected a formula, found the end of the text
            SqDist(x,y) +
                         ^
        Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(2)"], "Sum", 1)
            => Genred: column 1: SqDist: dimensions 3 and 2 differ
            SqDist(x,y)
            ^
        Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "SumSoftMaxWeight", 1)
            => Genred: SumSoftMaxWeight: needs a weight formula
        Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "Sum", 1, #{formula3: "x"})
            => Genred: unknown option `formula3`: the options are backend, device_id, dtype_acc, sum_scheme, use_double_acc, enable_chunks, ranges, K, formula2
    "#]].assert_eq(&got);
}
