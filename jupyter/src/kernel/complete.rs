//! What the kernel answers about code being typed: completions, the documentation under the
//! cursor, and whether the input is complete.
//!
//! Completions come from the session itself: every documented function (from the engine's
//! metadata, through `help::function_docs`), the variables in scope, the script functions
//! defined so far and Rhai's keywords. After a `.`, only methods and properties are offered,
//! and when the receiver is a variable, only those whose first parameter takes its type.
//! Positions are in characters (Unicode code points), as protocol 5.2 and later count them.

use crate::cells::is_rust_cell;
use crate::repl;
use noyau_scripting::help::{function_docs, help_for, FnDoc};
use noyau_scripting::values::display_value;
use noyau_scripting::Session;

/// Matches for the word ending at the cursor, with their kinds, and the character range they replace.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub matches: Vec<String>,
    /// For each match: its kind (`function`, `property`, `instance`, `keyword`), as IPython
    /// names them in `_jupyter_types_experimental`, and its signature (empty when it has none).
    pub kinds: Vec<(&'static str, String)>,
    pub cursor_start: usize,
    pub cursor_end: usize,
}

const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "do", "until", "break", "continue", "return",
    "throw", "try", "catch", "switch", "true", "false", "import", "export", "as", "private", "this", "global",
];

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The start of the identifier ending at `end`.
fn word_start(chars: &[char], end: usize) -> usize {
    let mut k = end;
    while k > 0 && is_ident(chars[k - 1]) {
        k -= 1;
    }
    k
}

/// A candidate: its text, kind and signature.
type Candidate = (String, &'static str, String);

/// Completions at `cursor_pos` (a character offset) in `code`.
///
/// After `value.`, the methods and properties of the value's type come first, then those that
/// merely accept any value (`print`, `to_string`...); an unknown receiver gets every method.
/// Within a group, names are in case-insensitive order, each once.
pub fn complete(session: &Session, code: &str, cursor_pos: usize) -> Completion {
    let chars: Vec<char> = code.chars().collect();
    let end = cursor_pos.min(chars.len());
    let start = word_start(&chars, end);
    let prefix: String = chars[start..end].iter().collect();
    let docs = function_docs(session.engine());
    let groups: Vec<Vec<Candidate>> = if start > 0 && chars[start - 1] == '.' {
        let receiver: String = chars[word_start(&chars, start - 1)..start - 1].iter().collect();
        // A number before the dot (`1.5`) is not a receiver.
        if receiver.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            Vec::new()
        } else {
            let ty = session
                .scope()
                .get_value::<rhai::Dynamic>(&receiver)
                .map(|v| session.engine().map_type_name(v.type_name()).to_string());
            methods(&docs, ty.as_deref())
        }
    } else {
        let functions = docs
            .iter()
            .filter(|d| d.name.starts_with(|c: char| c.is_alphabetic() || c == '_') && d.signature.contains('('))
            .map(|d| (d.name.clone(), "function", d.signature.clone()));
        let variables = session.scope().iter_raw().map(|(name, _, v)| {
            (name.to_string(), "instance", session.engine().map_type_name(v.type_name()).to_string())
        });
        let script_functions = session.script_functions().into_iter().map(|f| (f, "function", String::new()));
        let declared = declared_names(code).into_iter().map(|n| (n, "instance", String::new()));
        let keywords = KEYWORDS.iter().map(|k| (k.to_string(), "keyword", String::new()));
        vec![functions.chain(variables).chain(script_functions).chain(declared).chain(keywords).collect()]
    };
    let mut matches = Vec::new();
    let mut kinds = Vec::new();
    for mut group in groups {
        group.retain(|(n, _, _)| n.starts_with(&prefix) && is_ident_str(n));
        group.sort_by(|a, b| (a.0.to_lowercase(), &a.0).cmp(&(b.0.to_lowercase(), &b.0)));
        for (name, kind, signature) in group {
            if !matches.contains(&name) {
                matches.push(name);
                kinds.push((kind, signature));
            }
        }
    }
    Completion { matches, kinds, cursor_start: start, cursor_end: end }
}

/// The methods and properties for a receiver of type `ty`: those of the type itself, then those
/// taking any value; for an unknown type, all of them in one group.
fn methods(docs: &[FnDoc], ty: Option<&str>) -> Vec<Vec<Candidate>> {
    let candidate = |d: &FnDoc| {
        let kind = if d.signature.contains('(') { "function" } else { "property" };
        (d.name.clone(), kind, d.signature.clone())
    };
    let receivers = docs.iter().filter_map(|d| receiver_type(d).map(|t| (d, t)));
    let Some(ty) = ty else { return vec![receivers.map(|(d, _)| candidate(d)).collect()] };
    let (mut own, mut generic) = (Vec::new(), Vec::new());
    for (d, t) in receivers {
        match accepts(&t, ty) {
            Some(Accepts::Exactly) => own.push(candidate(d)),
            Some(Accepts::AnyValue) => generic.push(candidate(d)),
            None => {}
        }
    }
    vec![own, generic]
}

/// Names the code being typed declares (`let x`, `const N`, `fn f`): not run yet, so not in scope.
fn declared_names(code: &str) -> Vec<String> {
    let words: Vec<&str> = code.split(|c: char| !is_ident(c)).filter(|w| !w.is_empty()).collect();
    words.windows(2).filter(|w| matches!(w[0], "let" | "const" | "fn")).map(|w| w[1].to_string()).collect()
}

fn is_ident_str(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_ident)
}

/// The type a method or property is called on: the first parameter of `f(x: T, ...)`, or `T`
/// of a property `T.name`; None for functions of no argument.
fn receiver_type(d: &FnDoc) -> Option<String> {
    let (head, rest) = d.signature.split_once('(').unwrap_or((&d.signature, ""));
    if let Some((ty, _)) = head.split_once('.').filter(|_| rest.is_empty()) {
        return Some(ty.to_string());
    }
    let first = rest.split([',', ')']).next()?.trim();
    let ty = first.split_once(':').map_or(first, |(_, t)| t).trim();
    (!ty.is_empty()).then(|| ty.to_string())
}

/// How a parameter takes a value: as its own type, or as any value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Accepts {
    Exactly,
    AnyValue,
}

/// Whether (and how) a parameter typed `param` (as documented: `Tensor`, `&mut Figure`,
/// `Tensor | array`, Rhai's `&mut Array`, `i64`, `Dynamic`...) takes a value of type `value`.
fn accepts(param: &str, value: &str) -> Option<Accepts> {
    let norm = |t: &str| -> String {
        let t = t.trim().trim_start_matches("&mut ").trim_start_matches('&').trim().to_lowercase();
        match t.as_str() {
            "immutablestring" | "str" | "string" => "string".into(),
            "i64" | "int" => "int".into(),
            "f64" | "float" => "float".into(),
            _ => t,
        }
    };
    let value = norm(value);
    let kinds: Vec<String> = param.split('|').map(norm).collect();
    if kinds.contains(&value) {
        Some(Accepts::Exactly)
    } else if kinds.iter().any(|p| p == "dynamic" || p == "?") {
        Some(Accepts::AnyValue)
    } else {
        None
    }
}

/// The documentation for the name under the cursor (or of the call the cursor is in): a
/// variable's type and value, or `help_for` of a function. None when there is nothing known.
pub fn inspect(session: &Session, code: &str, cursor_pos: usize) -> Option<String> {
    let chars: Vec<char> = code.chars().collect();
    let pos = cursor_pos.min(chars.len());
    let mut end = pos;
    while end < chars.len() && is_ident(chars[end]) {
        end += 1;
    }
    let start = word_start(&chars, end);
    let mut name: String = chars[start..end].iter().collect();
    if name.is_empty() {
        name = enclosing_call(&chars[..pos])?;
    }
    if let Some(v) = session.scope().get_value::<rhai::Dynamic>(&name) {
        let ty = session.engine().map_type_name(v.type_name());
        return Some(format!("{name}: {ty}\n{}", display_value(session.engine(), &v).unwrap_or_default()));
    }
    help_for(session.engine(), &name).ok()
}

/// The function whose parentheses the end of `before` is inside: `foo` in `foo(a, b`.
fn enclosing_call(before: &[char]) -> Option<String> {
    let mut depth = 0;
    for k in (0..before.len()).rev() {
        match before[k] {
            ')' => depth += 1,
            '(' if depth > 0 => depth -= 1,
            '(' => {
                let start = word_start(before, k);
                return (start < k).then(|| before[start..k].iter().collect());
            }
            _ => {}
        }
    }
    None
}

/// Whether an input can run.
#[derive(Debug, Clone, PartialEq)]
pub enum Completeness {
    Complete,
    /// Brackets are open or the parser wants more; the next line's indent.
    Incomplete(String),
    /// A syntax error that more input cannot fix (running it shows the error).
    Invalid,
}

/// Whether `code` is complete, incomplete or invalid.
pub fn is_complete(session: &Session, code: &str) -> Completeness {
    let depth = repl::open_brackets(code);
    if depth > 0 {
        return Completeness::Incomplete("    ".repeat(depth as usize));
    }
    if is_rust_cell(code) || code.trim().is_empty() {
        return Completeness::Complete;
    }
    if repl::is_incomplete(session.engine(), code) {
        return Completeness::Incomplete(String::new());
    }
    match session.engine().compile(code) {
        Ok(_) => Completeness::Complete,
        Err(_) => Completeness::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        let mut s = Session::new();
        let _unit = s.eval("let points = randn(5, 2); let count = 3; fn my_kernel(a) { a }", "setup").unwrap();
        s
    }

    fn matches(s: &Session, code: &str) -> Vec<String> {
        complete(s, code, code.chars().count()).matches
    }

    #[test]
    fn names_from_metadata_scope_and_script_functions() {
        let s = session();
        let m = matches(&s, "let y = sqn");
        assert!(m.contains(&"sqnorm2".to_string()), "{m:?}");
        assert_eq!(matches(&s, "poi"), ["points"]);
        assert_eq!(matches(&s, "my_k"), ["my_kernel"]);
        assert!(matches(&s, "whi").contains(&"while".to_string()));
        assert_eq!(matches(&s, "let zz_unique = 1; fn zz_f() {} zz_"), ["zz_f", "zz_unique"]);
        // Case-insensitive order: `LazyTensor` among the l's, not before every lower-case name.
        let l = matches(&s, "l");
        let mut sorted = l.clone();
        sorted.sort_by_key(|n| n.to_lowercase());
        assert_eq!(l, sorted);
        let c = complete(&s, "poi", 3);
        assert_eq!(c.kinds, [("instance", "Tensor".to_string())]);
        let c = complete(&s, "x = ra", 6);
        assert_eq!((c.cursor_start, c.cursor_end), (4, 6));
        assert!(c.matches.contains(&"randn".to_string()) && c.matches.contains(&"rand".to_string()));
    }

    #[test]
    fn after_a_dot_methods_of_the_receivers_type() {
        let s = session();
        let m = matches(&s, "points.");
        assert!(m.contains(&"sum".to_string()) && m.contains(&"shape".to_string()), "{m:?}");
        assert!(!m.contains(&"randn".to_string()), "randn takes no tensor: {m:?}");
        let on_int = matches(&s, "count.");
        assert!(!on_int.contains(&"shape".to_string()), "{on_int:?}");
        assert!(matches(&s, "1.").is_empty());
        // The tensor's own methods first, then what takes any value (print...), each group in
        // case-insensitive order.
        let position = |name: &str| m.iter().position(|n| n == name).unwrap_or_else(|| panic!("{name}: {m:?}"));
        let generic = ["debug", "print"].map(position).into_iter().min().unwrap();
        assert!(position("sum") < generic && position("shape") < generic, "{m:?}");
        let own: Vec<&String> = m[..generic].iter().collect();
        let mut sorted = own.clone();
        sorted.sort_by_key(|n| n.to_lowercase());
        assert_eq!(own, sorted);
        let c = complete(&s, "points.", 7);
        assert_eq!(c.kinds.len(), c.matches.len());
        assert_eq!(c.kinds[position("shape")].0, "property");
        assert_eq!(c.kinds[position("sum")].0, "function");
        assert!(c.kinds[position("sum")].1.starts_with("sum("), "{:?}", c.kinds[position("sum")]);
        // Characters, not bytes: the position after "é." is 8.
        assert_eq!(complete(&s, "\"é\"; points.sh", 14).cursor_start, 12);
    }

    #[test]
    fn inspection_of_functions_variables_and_calls() {
        let s = session();
        let doc = inspect(&s, "x.sqnorm2()", 4).unwrap();
        assert!(doc.contains("sqnorm2("), "{doc}");
        assert!(inspect(&s, "points", 2).unwrap().starts_with("points: Tensor\n"));
        assert!(inspect(&s, "randn(3, ", 9).unwrap().contains("randn("));
        assert_eq!(inspect(&s, "no_such_thing", 3), None);
    }

    #[test]
    fn complete_incomplete_and_invalid_inputs() {
        let s = session();
        assert_eq!(is_complete(&s, "let a = 1;"), Completeness::Complete);
        assert_eq!(is_complete(&s, "fn f(x) {\n"), Completeness::Incomplete("    ".into()));
        assert_eq!(is_complete(&s, "let a = [[1,"), Completeness::Incomplete("        ".into()));
        assert_eq!(is_complete(&s, "let a = ;"), Completeness::Invalid);
        assert_eq!(is_complete(&s, "%%rust\nlet v = 1;"), Completeness::Complete);
    }
}
