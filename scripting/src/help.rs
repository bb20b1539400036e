//! `help(name)` and the documented function list used by help, completion and inspection.
//!
//! Documentation lives in the engine's metadata, not in a table of this module: every function
//! is registered through [`doc`], which attaches its signature and doc comment, and `help` reads
//! them back with `Engine::gen_fn_metadata_to_json`. So the functions of every module, those
//! registered later included, are found without being listed here.

use crate::context::{Context, Event};
use rhai::{Engine, FuncRegistration, ImmutableString, NativeCallContext};
use std::rc::Rc;

/// A registration carrying its signature and doc comment, to be finished with
/// `.register_into_engine(engine, f)`: one call per documented function.
///
/// `signature` is written as in the docs, `"sum(x: Tensor, dim: int) -> Tensor"`: the name, the
/// parameters (`name: type`, as many as `f` takes) and an optional return type. Property getters
/// are named `get$name`, indexers `index$get$`, operators by their symbol.
pub fn doc(signature: &str, text: &str) -> FuncRegistration {
    let (name, rest) = signature.split_once('(').unwrap_or((signature, ")"));
    let (params, ret) = rest.rsplit_once(')').unwrap_or((rest, ""));
    let mut info: Vec<&str> = params.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    if let Some(r) = ret.trim().strip_prefix("->") {
        info.push(r.trim());
    }
    let comment = text.lines().map(|l| format!("/// {l}").trim_end().to_string()).collect::<Vec<_>>().join("\n");
    FuncRegistration::new(name.trim()).with_params_info(info).with_comments([comment])
}

/// One overload of a function, for help, completion and inspection.
#[derive(Debug, Clone, PartialEq)]
pub struct FnDoc {
    /// The name as written in scripts (`shape` for the property `x.shape`, `[]` for indexing).
    pub name: String,
    /// The signature as written in scripts, e.g. `sum(x: Tensor, dim: int) -> Tensor` or `Tensor.shape -> array`.
    pub signature: String,
    /// The doc comment, without its `///` markers (empty if the function has none).
    pub doc: String,
}

/// Every function of `engine`, Rhai's standard library included, in name order.
pub fn function_docs(engine: &Engine) -> Vec<FnDoc> {
    let mut docs: Vec<FnDoc> = collect(engine, true).0.into_iter().map(|f| f.doc).collect();
    docs.sort_by(|a, b| a.name.cmp(&b.name));
    docs
}

/// A function as read from the metadata, with the type of its first parameter (for grouping).
struct Entry {
    doc: FnDoc,
    first_type: Option<String>,
    kind: Kind,
    /// From Rhai's standard library rather than Noyau.
    std: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Function,
    Property,
    Operator,
    Indexer,
}

/// The functions of `engine` (Noyau's first, then Rhai's when `include_std`) and the names of its custom types.
fn collect(engine: &Engine, include_std: bool) -> (Vec<Entry>, Vec<String>) {
    let read = |std: bool| -> serde_json::Value {
        serde_json::from_str(&engine.gen_fn_metadata_to_json(std).unwrap_or_default()).unwrap_or_default()
    };
    let ours = read(false);
    let types = ours["customTypes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["displayName"].as_str())
        .map(str::to_string);
    let types: Vec<String> = types.collect();
    let hashes = |v: &serde_json::Value| -> Vec<u64> {
        v["functions"].as_array().into_iter().flatten().filter_map(|f| f["fullHash"].as_u64()).collect()
    };
    let our_hashes = hashes(&ours);
    let all = if include_std { read(true) } else { ours };
    let mut entries: Vec<Entry> = all["functions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| entry(f, !f["fullHash"].as_u64().is_some_and(|h| our_hashes.contains(&h))))
        .collect();
    // Rhai's metadata comes out of hash maps, in an order that changes between runs: sorted, the
    // overloads of a name are always listed alike (in help, tooltips and completion).
    entries.sort_by(|a, b| (a.std, &a.doc.name, &a.doc.signature).cmp(&(b.std, &b.doc.name, &b.doc.signature)));
    (entries, types)
}

fn entry(f: &serde_json::Value, std: bool) -> Option<Entry> {
    let raw = f["name"].as_str()?;
    if f["isAnonymous"].as_bool() == Some(true) || raw.starts_with("set$") || raw.starts_with("index$set") {
        return None;
    }
    let params: Vec<(String, String)> = f["params"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| (p["name"].as_str().unwrap_or("_").to_string(), p["type"].as_str().unwrap_or("?").to_string()))
                .collect()
        })
        .unwrap_or_default();
    let ret = f["returnType"].as_str().filter(|r| !r.is_empty()).map(|r| format!(" -> {r}")).unwrap_or_default();
    let first_type = params.first().map(|p| p.1.clone());
    let this = first_type.clone().unwrap_or_default();
    let (name, signature, kind) = if let Some(p) = raw.strip_prefix("get$") {
        (p.to_string(), format!("{this}.{p}{ret}"), Kind::Property)
    } else if raw == "index$get$" {
        let i = params.get(1).map(|(n, t)| format!("{n}: {t}")).unwrap_or_default();
        ("[]".to_string(), format!("{this}[{i}]{ret}"), Kind::Indexer)
    } else {
        let kind = if raw.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_') {
            Kind::Function
        } else {
            Kind::Operator
        };
        let args: Vec<String> = params.iter().map(|(n, t)| format!("{n}: {t}")).collect();
        (raw.to_string(), format!("{raw}({}){ret}", args.join(", ")), kind)
    };
    let doc = f["docComments"]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c.as_str()).map(strip_comment).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default();
    Some(Entry { doc: FnDoc { name, signature, doc }, first_type, kind, std })
}

/// The text of a doc comment (`/// ...` lines or a `/** ... */` block).
fn strip_comment(c: &str) -> String {
    let c = c.trim();
    if let Some(block) = c.strip_prefix("/**").and_then(|b| b.strip_suffix("*/")) {
        return block.trim().to_string();
    }
    c.lines()
        .map(|l| {
            let l = l.trim_start().trim_start_matches("///");
            l.strip_prefix(' ').unwrap_or(l).to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What `help()` prints: how to use help, then Noyau's names grouped by the type they act on.
pub fn overview(engine: &Engine) -> String {
    let (entries, types) = collect(engine, false);
    let mut groups: Vec<(String, Vec<String>)> = types.iter().map(|t| (t.clone(), Vec::new())).collect();
    let (mut functions, mut operators) = (Vec::new(), Vec::new());
    for e in &entries {
        let group = groups.iter_mut().find(|(t, _)| Some(t) == e.first_type.as_ref());
        match (e.kind, group) {
            (Kind::Operator, _) => operators.push(e.doc.name.clone()),
            (_, Some((t, names))) => names.push(shown_name(e, t)),
            (_, None) => functions.push(e.doc.name.clone()),
        }
    }
    // A name listed under a type is not repeated among the functions (`add(array, Tensor)`).
    let listed: Vec<&String> = groups.iter().flat_map(|(_, names)| names).collect();
    functions.retain(|f| !listed.contains(&f));
    let mut out = String::from(
        "Noyau: tensors, LazyTensor, kernel reductions and checks in Rhai.\n\
         help(\"name\") shows the signatures and documentation of a function; help(\"Tensor\") lists a type's methods.\n",
    );
    for (ty, names) in groups.iter().filter(|(_, n)| !n.is_empty()) {
        out += &format!("\n{ty} (x.f(...) is f(x, ...)):\n{}", wrap(names));
    }
    out += &format!("\nFunctions:\n{}", wrap(&functions));
    if !operators.is_empty() {
        out += &format!("\nOperators:\n{}", wrap(&operators));
    }
    out
}

/// How a function acting on type `t` is listed: `.shape` for a property, `Tensor[i]` for indexing.
fn shown_name(e: &Entry, t: &str) -> String {
    match e.kind {
        Kind::Property => format!(".{}", e.doc.name),
        Kind::Indexer => format!("{t}[i]"),
        _ => e.doc.name.clone(),
    }
}

/// Names, deduplicated, sorted and wrapped at 80 columns with an indent.
fn wrap(names: &[String]) -> String {
    let mut names = names.to_vec();
    names.sort();
    names.dedup();
    let mut lines = vec![String::from(" ")];
    for n in names {
        if lines.last().is_some_and(|l| l.len() + n.len() + 1 > 80) {
            lines.push(String::from(" "));
        }
        if let Some(l) = lines.last_mut() {
            l.push(' ');
            l.push_str(&n);
        }
    }
    lines.join("\n") + "\n"
}

/// What `help(name)` prints: every overload of `name` with its documentation, the methods of a
/// type when `name` is one, or (as the error) close names when nothing matches.
pub fn help_for(engine: &Engine, name: &str) -> Result<String, String> {
    let (entries, types) = collect(engine, true);
    // A name can be both a function and a type (`LazyTensor(x)` builds a `LazyTensor`): show both.
    let sections: Vec<String> = [
        functions_text(&entries, name),
        types.iter().any(|t| t == name).then(|| type_text(&entries, name)),
        formula_text(name),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !sections.is_empty() {
        return Ok(sections.join("\n\n"));
    }
    let suggestions = close_names(entries.iter().map(|e| e.doc.name.as_str()), name);
    Err(if suggestions.is_empty() {
        format!("no function named `{name}` (help() lists them all)")
    } else {
        format!("no function named `{name}`; did you mean {}?", suggestions.join(", "))
    })
}

/// `name` as an operation of formula strings (Genred, KernelSolve), from the engine's table of
/// operations; `help("formulas")` lists them all.
fn formula_text(name: &str) -> Option<String> {
    if name == "formulas" {
        let mut names: Vec<&str> = noyau_engine::UnaryOp::ALL.iter().map(|u| u.name()).collect();
        names.extend(noyau_engine::BinaryOp::ALL.iter().map(|b| b.name()));
        let templates = noyau_engine::Op::templates();
        names.extend(templates.iter().map(|op| op.name()));
        return Some(format!(
            "The operations of formula strings (Genred, KernelSolve), besides + - * / | ** and numbers:\n{}\n\
             help(\"Name\") shows how one is written.",
            wrap(&names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
        ));
    }
    let op = noyau_engine::Op::by_name(name)?;
    Some(format!(
        "{}\n    An operation of formula strings (Genred, KernelSolve): f, g, h are formulas{}.",
        op.call_text(),
        if op.syntax().params.is_empty() { "" } else { ", the other arguments integers ([...]: a list)" }
    ))
}

/// Every overload of the function `name` with its doc, or None if there is no such function.
fn functions_text(entries: &[Entry], name: &str) -> Option<String> {
    let found: Vec<&Entry> = entries.iter().filter(|e| e.doc.name == name).collect();
    // Rhai's own overloads of a Noyau name (`+` on ints, ...) are counted, not listed.
    let ours = found.iter().filter(|e| !e.std).count();
    let listed = if ours > 0 { &found[..ours] } else { &found[..] };
    if listed.is_empty() {
        return None;
    }
    let mut out = String::new();
    for (k, e) in listed.iter().enumerate() {
        out += &format!("{}\n", e.doc.signature);
        // Consecutive overloads documented alike show their text once, after the last of them.
        let next_same = listed.get(k + 1).is_some_and(|n| n.doc.doc == e.doc.doc);
        if !next_same && !e.doc.doc.is_empty() {
            out += &format!("    {}\n\n", e.doc.doc.replace('\n', "\n    "));
        }
    }
    if found.len() > listed.len() {
        out += &format!("(and {} overload(s) from Rhai's standard library)\n", found.len() - listed.len());
    }
    Some(out.trim_end().to_string())
}

/// The methods and properties of the type `name`, one line each.
fn type_text(entries: &[Entry], name: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for e in entries.iter().filter(|e| e.first_type.as_deref() == Some(name) && e.kind != Kind::Operator) {
        let line = format!("  {:<16} {}", shown_name(e, name), first_sentence(&e.doc.doc));
        if !lines.iter().any(|l| l.split_whitespace().next() == line.split_whitespace().next()) {
            lines.push(line);
        }
    }
    lines.sort();
    format!("{name}: its methods and properties (help(\"name\") for details)\n{}", lines.join("\n"))
}

/// The first sentence of a doc, on one line.
fn first_sentence(doc: &str) -> String {
    let text = doc.replace('\n', " ");
    match text.find(". ") {
        Some(k) => text[..=k].to_string(),
        None => text,
    }
}

/// Up to five known names close to `name`: within a small edit distance, or containing it.
fn close_names<'a>(names: impl Iterator<Item = &'a str>, name: &str) -> Vec<String> {
    let limit = (name.chars().count() / 3).max(1);
    let mut scored: Vec<(usize, &str)> = names
        .filter_map(|n| {
            let d = edit_distance(n, name);
            (d <= limit || (name.len() >= 3 && n.contains(name))).then_some((d, n))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(5).map(|(_, n)| n.to_string()).collect()
}

/// Levenshtein distance, over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Registers `help()` and `help(name)`, which print through the session's sink.
pub fn register(engine: &mut Engine, ctx: &Rc<Context>) {
    let c = ctx.clone();
    doc("help()", "Prints an overview of Noyau's functions, grouped by the type they act on.")
        .register_into_engine(engine, move |call: NativeCallContext| c.emit(Event::Stdout(overview(call.engine()))));
    let c = ctx.clone();
    doc(
        "help(name: string)",
        "Prints the signatures and documentation of every overload of `name` (e.g. help(\"sum\")),\n\
         or the functions of a type (help(\"Tensor\")).",
    )
    .register_into_engine(engine, move |call: NativeCallContext, name: ImmutableString| {
        // An unknown name is answered with suggestions, not an error: help is for exploring.
        let text = help_for(call.engine(), name.as_str()).unwrap_or_else(|e| e);
        c.emit(Event::Stdout(text));
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Session;

    #[test]
    fn every_noyau_function_is_documented_with_named_parameters() {
        let session = Session::new();
        let json = session.engine().gen_fn_metadata_to_json(false).unwrap();
        let meta: serde_json::Value = serde_json::from_str(&json).unwrap();
        let mut bad = Vec::new();
        for f in meta["functions"].as_array().unwrap() {
            let params = f["params"].as_array().map(Vec::len).unwrap_or(0);
            let named = f["params"]
                .as_array()
                .is_some_and(|ps| ps.iter().all(|p| p["name"].is_string() && p["type"].is_string()));
            let documented = f["docComments"].as_array().is_some_and(|c| !c.is_empty());
            if params as u64 != f["numParams"].as_u64().unwrap() || !(named || params == 0) || !documented {
                bad.push(f["signature"].as_str().unwrap_or("?").to_string());
            }
        }
        assert!(
            bad.is_empty(),
            "undocumented functions or parameter counts that differ from the closure's:\n{}",
            bad.join("\n")
        );
    }

    #[test]
    fn formula_operations_are_described_from_the_engine_table() {
        let session = Session::new();
        let text = help_for(session.engine(), "ElemT").unwrap();
        assert!(text.starts_with("ElemT(f, dimension, index)"), "{text}");
        let text = help_for(session.engine(), "TensorDot").unwrap();
        assert!(text.contains("TensorDot(f, g, [first shape], [second shape]"), "{text}");
        // The formula name (Floor) beside the LazyTensor method (floor).
        let text = help_for(session.engine(), "Floor").unwrap();
        assert!(text.contains("Floor(f)"), "{text}");
        let text = help_for(session.engine(), "formulas").unwrap();
        assert!(text.contains("SqDist") && text.contains("Floor") && text.contains("Kron"), "{text}");
    }

    #[test]
    fn a_name_that_is_a_function_and_a_type_shows_both() {
        let session = Session::new();
        let text = help_for(session.engine(), "LazyTensor").unwrap();
        assert!(text.contains("LazyTensor(x: Tensor"), "the constructor's overloads:\n{text}");
        assert!(text.contains("LazyTensor: its methods and properties"), "the type's methods:\n{text}");
        assert!(text.contains("sqnorm2"), "a method of LazyTensor:\n{text}");
    }

    #[test]
    fn overloads_are_listed_in_a_fixed_order() {
        let session = Session::new();
        let text = help_for(session.engine(), "sum").unwrap();
        let signatures: Vec<&str> = text.lines().filter(|l| l.starts_with("sum(")).collect();
        assert!(signatures.len() > 1, "{text}");
        let mut sorted = signatures.clone();
        sorted.sort();
        assert_eq!(signatures, sorted, "overloads in signature order, the same in every run");
        assert_eq!(text, help_for(Session::new().engine(), "sum").unwrap());
    }

    #[test]
    fn distances_and_suggestions() {
        assert_eq!(edit_distance("sqnorm2", "sqnrm2"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(close_names(["sum", "sqnorm2", "mean"].into_iter(), "sun"), vec!["sum".to_string()]);
    }
}
