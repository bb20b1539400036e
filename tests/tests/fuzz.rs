//! A time-bounded fuzzing run: formula text, `.npy` and CSV bytes, script sessions, and the kernel's request handling never panic.
//!
//! Each target draws random inputs with proptest for its share of `NOYAU_FUZZ_SECONDS` (10 s
//! in all when unset; the test command gives more). A failing input is shrunk and its seed
//! saved in `tests/fuzz-regressions/<target>.txt`, which every later run tries first: commit
//! the file, and fix the crash, and the case stays a regression test. Everything runs on a
//! thread with the sessions' stack, under a memory budget of 1 GiB, so that deep and huge
//! inputs meet the limits that `noyau run` and the kernel have.

use noyau_engine::{parse_aliases, parse_formula, DType, Tensor};
use noyau_jupyter::kernel::complete;
use noyau_scripting::io::{parse_csv, parse_npy, write_npy};
use noyau_scripting::session::STACK_SIZE;
use noyau_scripting::Session;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseResult, TestRunner};
use serde_json::Value;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Runs `test` on inputs drawn from `strategy` for `budget`, in rounds of fresh random cases.
fn fuzz<S: Strategy>(target: &str, budget: Duration, strategy: S, test: impl Fn(S::Value) -> TestCaseResult)
where
    S::Value: std::fmt::Debug,
{
    let path = format!("{}/tests/fuzz-regressions/{target}.txt", env!("CARGO_MANIFEST_DIR"));
    let persistence = FileFailurePersistence::Direct(Box::leak(path.into_boxed_str()));
    let start = Instant::now();
    let ran = std::cell::Cell::new(0usize);
    // Past the budget the remaining cases of a round pass at once (shrinking a failure, which
    // replays cases, still runs them: it only happens after a failure).
    let guarded = |v: S::Value| {
        if start.elapsed() > budget {
            return Ok(());
        }
        ran.set(ran.get() + 1);
        test(v)
    };
    while start.elapsed() < budget {
        let config = Config { cases: 32, failure_persistence: Some(Box::new(persistence)), ..Config::default() };
        if let Err(e) = TestRunner::new(config).run(&strategy, guarded) {
            panic!("fuzz target {target}: {e}");
        }
    }
    println!("fuzz {target}: {} cases in {:.1} s", ran.get(), start.elapsed().as_secs_f64());
}

/// Rhai text built from tokens of the API and the language (no loops and no file functions,
/// so that a case ends and touches nothing outside).
fn script_soup() -> impl Strategy<Value = String> {
    const TOKENS: &[&str] = &[
        "let x = ",
        "let y = ",
        "x",
        "y",
        "t",
        ";",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ".",
        "+",
        "-",
        "*",
        "/",
        "**",
        "%",
        "==",
        "<",
        "|",
        "if ",
        "else ",
        "fn f(a) ",
        "f(",
        "return ",
        "0",
        "1",
        "3",
        "-1",
        "2.5",
        "1e10",
        "9223372036854775807",
        "1e308",
        "\"float64\"",
        "\"Sum\"",
        "\"x = Vi(2)\"",
        "\"y = Vj(2)\"",
        "\"SqNorm2(x-y)\"",
        "tensor(",
        "zeros(",
        "ones(",
        "randn(",
        "eye(",
        "arange(",
        "linspace(",
        "Vi(",
        "Vj(",
        "Pm(",
        "Genred(",
        ".call(",
        ".sum(",
        ".logsumexp(",
        ".argmin(",
        ".Kmin(",
        ".sqnorm2()",
        ".exp()",
        ".T",
        ".reshape(",
        ".shape",
        ".to_array()",
        "grad(",
        ".requires_grad()",
        "samples_loss(",
        "set_dtype(",
        "assert_close(",
        "eval(",
        "print(",
        "exit(",
        "#{blur: 0.5}",
        "\"sinkhorn\"",
        "\n",
    ];
    prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.concat())
}

/// Well-formed programs from a small grammar: tensors and LazyTensors combined and reduced,
/// with sizes that include empty, huge and negative ones.
fn script_program() -> impl Strategy<Value = String> {
    let size = prop::sample::select(vec!["0", "1", "2", "3", "5", "-1", "4294967296", "9223372036854775807"]);
    let tensor = (prop::sample::select(vec!["randn", "zeros", "ones", "rand"]), size.clone(), size)
        .prop_map(|(f, n, d)| format!("{f}({n}, {d})"));
    let leaf = prop_oneof![
        tensor.clone(),
        tensor.clone().prop_map(|t| format!("Vi({t})")),
        tensor.prop_map(|t| format!("Vj({t})")),
        prop::sample::select(vec!["0.5", "-2", "1e300", "0"]).prop_map(str::to_string),
    ];
    let expr = leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), prop::sample::select(vec!["+", "-", "*", "/"]), inner.clone())
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (inner.clone(), prop::sample::select(vec!["exp()", "sqnorm2()", "sqrt()", "log()", "T", "abs()"]))
                .prop_map(|(a, m)| format!("{a}.{m}")),
            (
                inner,
                prop::sample::select(vec!["sum(1)", "sum(0)", "logsumexp(1)", "min(0)", "argmin(1)", "Kmin(2, 1)"])
            )
                .prop_map(|(a, r)| format!("{a}.{r}")),
        ]
    });
    prop::collection::vec(expr, 1..4).prop_map(|lines| lines.join(";\n") + ";")
}

/// A random JSON value whose object keys are fields of Jupyter requests.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        let key = prop::sample::select(vec![
            "code",
            "cursor_pos",
            "silent",
            "store_history",
            "user_expressions",
            "allow_stdin",
            "stop_on_error",
            "detail_level",
            "hist_access_type",
            "restart",
            "output",
            "raw",
            "n",
            "pattern",
            "unique",
            "comm_id",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(key.prop_map(str::to_string), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A session whose output goes nowhere.
fn quiet_session() -> Session {
    Session::with_sink(Rc::new(|_| {}))
}

fn run_all(budget: Duration) {
    // Formula text: errors, never panics; what parses prints to text that parses back to it.
    let vars = parse_aliases(&["x = Vi(0,3)", "y = Vj(1,3)", "s = Pm(2,1)"]).expect("aliases");
    fuzz("formulas", budget, "[A-Za-z0-9_()+*/,|=.\\[\\] -]{0,60}", |src| {
        if let Ok(e) = parse_formula(&src, &vars) {
            let printed = vars.print(&e);
            prop_assert_eq!(parse_formula(&printed, &vars).map_err(|e| e.to_string()), Ok(e), "{}", printed);
        }
        Ok(())
    });

    // .npy bytes: a valid file of a random tensor, then edited (bytes changed, cut or added).
    let npy = (
        prop::collection::vec(-1e3f64..1e3, 0..24),
        1usize..4,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        any::<prop::sample::Index>(),
    );
    fuzz("npy", budget, npy, |(values, cols, edits, cut)| {
        let rows = values.len() / cols;
        let t = Tensor::from_vec(values[..rows * cols].to_vec(), &[rows, cols]).expect("a tensor");
        let mut bytes = write_npy(&t).map_err(TestCaseError::fail)?;
        let valid = bytes.clone();
        for (at, b) in &edits {
            let k = at.index(bytes.len());
            bytes[k] = *b;
        }
        if edits.is_empty() {
            let back = parse_npy(&bytes, DType::F64).map_err(TestCaseError::fail)?;
            prop_assert_eq!(back.to_vec_f64(), t.to_vec_f64());
        }
        let _ = parse_npy(&bytes, DType::F64);
        let _ = parse_npy(&valid[..cut.index(valid.len() + 1)], DType::F32);
        Ok(())
    });

    // CSV text from its alphabet (separators, quotes, a byte-order mark, exponents).
    fuzz("csv", budget, "[0-9 ,;\t.eE+\\-\n\"a-z\u{feff}]{0,80}", |text| {
        let _ = parse_csv(&text, DType::F32);
        Ok(())
    });

    // Script sessions: token soup and grammar programs, each in a fresh session (a long-lived
    // one would accumulate every case's variables).
    fuzz("script-tokens", budget, script_soup(), |src| {
        let _ = quiet_session().eval(&src, "<fuzz>");
        Ok(())
    });
    fuzz("script-programs", budget, script_program(), |src| {
        let _ = quiet_session().eval(&src, "<fuzz>");
        Ok(())
    });

    // The kernel's request handling: completion, inspection and is_complete at any cursor
    // position (past the end, inside a multi-byte character), and the decoding of contents.
    let kernel_session = quiet_session();
    fuzz("kernel-requests", budget, (".{0,40}", 0usize..60), |(code, cursor)| {
        let _ = complete::complete(&kernel_session, &code, cursor);
        let _ = complete::inspect(&kernel_session, &code, cursor);
        let _ = complete::is_complete(&kernel_session, &code);
        Ok(())
    });
    let types = prop::sample::select(vec![
        "execute_request",
        "complete_request",
        "inspect_request",
        "is_complete_request",
        "history_request",
        "kernel_info_request",
        "comm_info_request",
        "shutdown_request",
        "interrupt_request",
        "unknown_request",
    ]);
    fuzz("kernel-messages", budget, (types, json()), |(msg_type, content)| {
        let _ = jupyter_protocol::JupyterMessageContent::from_type_and_content(msg_type, content);
        Ok(())
    });
}

/// The number of `fuzz` calls in `run_all`, which share the budget.
const TARGETS: f64 = 7.0;

#[test]
fn fuzzing_finds_nothing_in_its_budget() {
    let total: f64 = std::env::var("NOYAU_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let budget = Duration::from_secs_f64(total / TARGETS);
    // This test binary holds only this test, so the variable is set before any other thread reads it.
    std::env::set_var(noyau_engine::budget::LIMIT_VAR, "1G");
    let runner = std::thread::Builder::new().name("fuzz".into()).stack_size(STACK_SIZE).spawn(move || run_all(budget));
    if let Err(panic) = runner.expect("the fuzz thread starts").join() {
        std::panic::resume_unwind(panic);
    }
}
