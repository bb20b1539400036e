//! Snapshots of the error messages of bad calls, and proof that a session survives each error.
//!
//! Every case runs in one session through `Session::eval`; after each error, the variables and
//! functions defined before it must still work. Update the snapshots with `UPDATE_EXPECT=1`.

use expect_test::{expect, Expect};
use noyau_scripting::{Error, Event, Session};
use std::rc::Rc;

/// A session whose output is discarded, with `x` (shape [2, 3]) and a function `twice` defined.
fn session() -> Session {
    let mut s = Session::with_sink(Rc::new(|_: Event| {}));
    s.eval("let x = arange(6).reshape(2, 3);\nfn twice(v) { v * 2 }", "setup").map(drop).expect("setup runs");
    s
}

/// Runs `source` as cell `name`, which must fail with the snapshot `expected`; then checks that the session still works.
fn check(s: &mut Session, name: &str, source: &str, expected: Expect) {
    match s.eval(source, name) {
        Ok(v) => panic!("{name}: expected an error, got {v}"),
        Err(Error::Script(e)) => expected.assert_eq(&e.to_string()),
        Err(e) => panic!("{name}: not a script error: {e}"),
    }
    let after =
        s.eval("twice(x).sum().item()", "after").unwrap_or_else(|e| panic!("the session broke after {name}: {e}"));
    assert_eq!(after.as_float().ok(), Some(30.0), "state lost after {name}");
}

#[test]
fn shapes_and_dims() {
    let mut s = session();
    check(
        &mut s,
        "broadcast",
        "x + tensor([1.0, 2.0, 3.0, 4.0])",
        expect![[r#"
        broadcast:1:3: add: shapes [2, 3] and [4] cannot be broadcast together
            x + tensor([1.0, 2.0, 3.0, 4.0])
              ^"#]],
    );
    check(
        &mut s,
        "matmul",
        "let y = x @ x;",
        expect![[r#"
        matmul:1:11: matmul: shapes [2, 3] and [2, 3] do not match: 3 column(s) against 2 row(s)
            let y = x @ x;
                      ^"#]],
    );
    check(
        &mut s,
        "dim",
        "x.sum(2)",
        expect![[r#"
        dim:1:3: sum(dim=2): dim must be 0 or 1 (or -2 or -1) for a tensor of shape [2, 3]
            x.sum(2)
              ^"#]],
    );
    check(
        &mut s,
        "reshape",
        "x.reshape(4, 2)",
        expect![[r#"
        reshape:1:3: reshape: cannot reshape a tensor of shape [2, 3] to [4, 2]
            x.reshape(4, 2)
              ^"#]],
    );
    check(
        &mut s,
        "index",
        "x[5]",
        expect![[r#"
        index:1:2: index: index 5 is out of range for dimension 0 of shape [2, 3]
            x[5]
             ^"#]],
    );
    check(
        &mut s,
        "item",
        "x.item()",
        expect![[r#"
        item:1:3: item: only one-element tensors have an item, got shape [2, 3]
            x.item()
              ^"#]],
    );
    check(
        &mut s,
        "cat",
        "cat([x, x.t()], 0)",
        expect![[r#"
        cat:1:1: cat: tensor 1 has shape [3, 2] but tensor 0 has shape [2, 3] (they may differ only in dimension 0)
            cat([x, x.t()], 0)
            ^"#]],
    );
    check(
        &mut s,
        "ragged",
        "tensor([[1.0], [2.0, 3.0]])",
        expect![[r#"
        ragged:1:1: tensor: rows of different lengths (1 and 2): the array is not rectangular
            tensor([[1.0], [2.0, 3.0]])
            ^"#]],
    );
    check(
        &mut s,
        "negative size",
        "zeros(2, -1)",
        expect![[r#"
        negative size:1:1: zeros: sizes must be non-negative, got -1
            zeros(2, -1)
            ^"#]],
    );
    check(
        &mut s,
        "not a shape",
        "zeros([2, \"3\"])",
        expect![[r#"
        not a shape:1:1: zeros: expected an array of integers, found a string in it
            zeros([2, "3"])
            ^"#]],
    );
}

#[test]
fn names_and_settings() {
    let mut s = session();
    check(
        &mut s,
        "unknown function",
        "sqnorm(x)",
        expect![[r#"
        unknown function:1:1: no function sqnorm (Tensor): check the name and the types of the arguments (see help())
            sqnorm(x)
            ^"#]],
    );
    check(
        &mut s,
        "wrong argument types",
        "x.sum(\"0\")",
        expect![[r#"
        wrong argument types:1:3: no function sum (Tensor, &str | ImmutableString | String): check the name and the types of the arguments (see help())
            x.sum("0")
              ^"#]],
    );
    check(
        &mut s,
        "dtype",
        "set_dtype(\"float16\")",
        expect![[r#"
        dtype:1:1: set_dtype: unknown dtype "float16": use "float32" or "float64"
            set_dtype("float16")
            ^"#]],
    );
    check(
        &mut s,
        "device",
        "set_device(\"tpu\")",
        expect![[r#"
        device:1:1: set_device: backend tpu: unknown backend: use auto, cpu, gpu, cuda:N (KeOps' CPU and GPU_1D also)
            set_device("tpu")
            ^"#]],
    );
    check(
        &mut s,
        "grad of a constant",
        "grad(x.sum(), [x])",
        expect![[r#"
        grad of a constant:1:1: grad: input 0 (shape [2, 3]) does not require grad: make it with .requires_grad()
            grad(x.sum(), [x])
            ^"#]],
    );
    check(
        &mut s,
        "grad of a vector",
        "let w = x.requires_grad(); grad(w * 2, [w])",
        expect![[r#"
        grad of a vector:1:28: grad: the output has shape [2, 3]: without grad_output it must have a single element
            let w = x.requires_grad(); grad(w * 2, [w])
                                       ^"#]],
    );
    check(
        &mut s,
        "missing file",
        "load_npy(\"no/such/file.npy\")",
        expect![[r#"
        missing file:1:1: load_npy("no/such/file.npy"): No such file or directory (os error 2)
            load_npy("no/such/file.npy")
            ^"#]],
    );
}

#[test]
fn checks_and_positions() {
    let mut s = session();
    check(
        &mut s,
        "assert",
        "let a = 1;\nassert(a > 2, \"a is too small\");",
        expect![[r#"
        assert:2:1: assertion failed: a is too small
            assert(a > 2, "a is too small");
            ^"#]],
    );
    check(
        &mut s,
        "assert_close",
        "assert_close(x, [[0.0, 1.0, 2.0], [3.0, 4.5, 5.0]])",
        expect![[r#"
        assert_close:1:1: assert_close: 1 of 6 element(s) differ; the worst, at index [1, 1]: 4 vs 4.5 (abs error 5.000e-1, rel error 1.111e-1; rtol=1e-5, atol=1e-8)
            assert_close(x, [[0.0, 1.0, 2.0], [3.0, 4.5, 5.0]])
            ^"#]],
    );
    check(
        &mut s,
        "assert_close shapes",
        "assert_close(x, [1.0, 2.0])",
        expect![[r#"
        assert_close shapes:1:1: assert_close: shapes [2, 3] and [2] cannot be broadcast together
            assert_close(x, [1.0, 2.0])
            ^"#]],
    );
    check(
        &mut s,
        "parse",
        "let y = 1;\nlet z = (y + ;\n",
        expect![[r#"
        parse:2:14: syntax error: Unexpected ';'
            let z = (y + ;
                         ^"#]],
    );
    check(
        &mut s,
        "help is not an error",
        "help(\"sqnorm\"); undefined_variable",
        expect![[r#"
        help is not an error:1:17: Variable not found: undefined_variable
            help("sqnorm"); undefined_variable
                            ^"#]],
    );
    check(
        &mut s,
        "in a function",
        "fn inner(a) {\n    let b = a * 2;\n    b.sum(5)\n}\ninner(x)",
        expect![[r#"
        in a function:3:7: sum(dim=5): dim must be 0 or 1 (or -2 or -1) for a tensor of shape [2, 3] (in function inner)
                b.sum(5)
                  ^"#]],
    );
}

#[test]
fn help_for_an_unknown_name_suggests_close_names() {
    let out = Rc::new(std::cell::RefCell::new(Vec::new()));
    let o = out.clone();
    let mut s = Session::with_sink(Rc::new(move |e: Event| o.borrow_mut().push(e)));
    s.eval("help(\"sumn\"); help(\"zzzzzz\")", "help").map(drop).expect("help never fails");
    let printed: Vec<Event> = out.borrow().clone();
    expect![[r#"
        [
            Stdout(
                "no function named `sumn`; did you mean sum?",
            ),
            Stdout(
                "no function named `zzzzzz` (help() lists them all)",
            ),
        ]
    "#]]
    .assert_debug_eq(&printed);
}
