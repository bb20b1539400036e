//! The kernel's input history: every executed cell, kept per user in a file that outlives the
//! kernel, and the answers to `history_request` (`tail`, `range`, `search`) as ipykernel gives them.
//!
//! The file holds one JSON object per line (`{"session": 3, "line": 1, "source": "..."}`), under
//! the user's data folder (`$XDG_DATA_HOME/noyau/history.jsonl`, `NOYAU_HISTORY` overrides the
//! path and an empty `NOYAU_HISTORY` keeps the history in memory only). Each kernel process is a
//! new session, numbered one past the highest in the file; the number is taken, and the file
//! trimmed to its last [`MAX_ENTRIES`] cells, under an exclusive lock, so that kernels starting
//! together get distinct sessions. Cells are appended as they run (one `write` each, in append
//! mode), so what another kernel ran is visible too. A file that cannot be read or written only
//! costs persistence: the session's own cells are also kept in memory.
//!
//! Sessions and lines follow IPython's numbering: lines count executions from 1 within a
//! session; in a range request, a session ≤ 0 is relative to the current one, a negative start
//! or stop counts from the session's end and a stop of 0 means its end. Outputs are not stored
//! (ipykernel's default), so an `output: true` request gets `[input, null]` pairs.

use crate::filelock::FileLock;
use jupyter_protocol::{HistoryRequest, JupyterMessageContent, UnknownMessage};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::path::PathBuf;

/// Cells kept in the file: older ones are dropped when a kernel starts.
pub const MAX_ENTRIES: usize = 10_000;

/// One executed cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub session: usize,
    pub line: usize,
    pub source: String,
}

impl Entry {
    fn to_json(&self) -> Value {
        json!({"session": self.session, "line": self.line, "source": self.source})
    }

    fn from_json(v: &Value) -> Option<Entry> {
        Some(Entry {
            session: v["session"].as_u64()? as usize,
            line: v["line"].as_u64()? as usize,
            source: v["source"].as_str()?.to_string(),
        })
    }
}

/// The history of this kernel's user, with this kernel's session number.
pub struct History {
    path: Option<PathBuf>,
    session: usize,
    /// This session's cells, for when the file cannot be used.
    own: Vec<Entry>,
}

/// The history file of this user, or None when it is disabled or there is no home folder.
pub fn default_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NOYAU_HISTORY") {
        return (!p.is_empty()).then(|| PathBuf::from(p));
    }
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let data = env("XDG_DATA_HOME").or_else(|| env("HOME").map(|h| h.join(".local/share")))?;
    Some(data.join("noyau/history.jsonl"))
}

impl History {
    /// Opens the history at `path` (None: memory only) and starts a new session in it.
    pub fn open(path: Option<PathBuf>) -> History {
        let mut history = History { path, session: 1, own: Vec::new() };
        match history.start_session() {
            Ok(session) => history.session = session,
            Err(e) => {
                if let Some(p) = &history.path {
                    eprintln!("noyau kernel: history file {}: {e} (history kept in memory only)", p.display());
                }
                history.path = None;
            }
        }
        history
    }

    pub fn session(&self) -> usize {
        self.session
    }

    /// Under an exclusive lock: the next session number, a marker line taking it, and the file
    /// trimmed to its last MAX_ENTRIES cells.
    fn start_session(&self) -> std::io::Result<usize> {
        let Some(path) = &self.path else { return Ok(1) };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new().read(true).append(true).create(true).open(path)?;
        let lock = FileLock::lock(file)?;
        let mut file = lock.file();
        let lines = read_lines(file)?;
        let session = lines.iter().filter_map(|v| v["session"].as_u64()).max().unwrap_or(0) as usize + 1;
        let cells = lines.iter().filter(|v| v["line"].as_u64().is_some_and(|l| l > 0)).count();
        if cells > MAX_ENTRIES {
            // Rewritten through a new file and a rename, so that a crash leaves one or the other.
            let keep: Vec<&Value> = {
                let mut skip = cells - MAX_ENTRIES;
                lines
                    .iter()
                    .filter(|v| {
                        let is_cell = v["line"].as_u64().is_some_and(|l| l > 0);
                        let dropped = is_cell && skip > 0;
                        skip -= usize::from(dropped);
                        !dropped && is_cell
                    })
                    .collect()
            };
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            let mut text = String::new();
            for v in keep {
                text += &format!("{v}\n");
            }
            text += &format!("{}\n", json!({"session": session, "line": 0}));
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, path)?;
        } else {
            writeln!(file, "{}", json!({"session": session, "line": 0}))?;
        }
        Ok(session)
    }

    /// Records cell `line` of this session.
    pub fn record(&mut self, line: usize, source: &str) {
        let entry = Entry { session: self.session, line, source: source.to_string() };
        if let Some(path) = &self.path {
            let written = std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(format!("{}\n", entry.to_json()).as_bytes()));
            if let Err(e) = written {
                eprintln!("noyau kernel: history file {}: {e} (history kept in memory only)", path.display());
                self.path = None;
            }
        }
        self.own.push(entry);
    }

    /// Every recorded cell of every session, in (session, line) order.
    pub fn entries(&self) -> Vec<Entry> {
        let from_file = self.path.as_ref().and_then(|p| {
            let file = std::fs::File::open(p).ok()?;
            let lines = read_lines(&file).ok()?;
            Some(lines.iter().filter_map(Entry::from_json).filter(|e| e.line > 0).collect::<Vec<_>>())
        });
        let mut all = match from_file {
            Some(all) => all,
            None => self.own.clone(),
        };
        all.sort_by_key(|e| (e.session, e.line));
        all
    }

    /// The reply to a `history_request`.
    pub fn reply(&self, request: &HistoryRequest) -> JupyterMessageContent {
        let (found, output) = match request {
            HistoryRequest::Tail { n, output, .. } => (tail(self.entries(), *n), *output),
            HistoryRequest::Range { session, start, stop, output, .. } => {
                (range(self.entries(), self.session, session.unwrap_or(0), *start, *stop), *output)
            }
            HistoryRequest::Search { pattern, unique, n, output, .. } => {
                (search(self.entries(), pattern, *unique, *n), *output)
            }
        };
        let history: Vec<Value> = found
            .into_iter()
            .map(|e| {
                if output {
                    json!([e.session, e.line, [e.source, null]])
                } else {
                    json!([e.session, e.line, e.source])
                }
            })
            .collect();
        // The protocol crate's entry type cannot say that an output is absent (null), hence raw JSON.
        UnknownMessage { msg_type: "history_reply".into(), content: json!({"status": "ok", "history": history}) }.into()
    }
}

/// The JSON lines of the file; lines that do not parse (a torn write) are skipped.
fn read_lines(file: &std::fs::File) -> std::io::Result<Vec<Value>> {
    let mut out = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        if let Ok(v) = serde_json::from_str::<Value>(&line?) {
            out.push(v);
        }
    }
    Ok(out)
}

/// The last `n` cells of all sessions (ipykernel's `get_tail` with the latest included).
fn tail(all: Vec<Entry>, n: i32) -> Vec<Entry> {
    let n = n.max(0) as usize;
    let skip = all.len().saturating_sub(n);
    all.into_iter().skip(skip).collect()
}

/// Cells `start..stop` of a session (IPython's `get_range`).
fn range(all: Vec<Entry>, current: usize, session: i32, start: i32, stop: i32) -> Vec<Entry> {
    let session = if session <= 0 { current as i64 + session as i64 } else { session as i64 };
    let of_session: Vec<Entry> = all.into_iter().filter(|e| e.session as i64 == session).collect();
    let n = of_session.iter().map(|e| e.line).max().unwrap_or(0) as i64 + 1;
    let start = if start < 0 { start as i64 + n } else { start as i64 };
    let stop = match stop as i64 {
        0 => n,
        s if s > n => n,
        s if s < 0 => s + n,
        s => s,
    };
    of_session.into_iter().filter(|e| (start..stop).contains(&(e.line as i64))).collect()
}

/// Cells whose source matches the glob `pattern` (IPython's `search`): with `unique`, each
/// source once at its latest run; with `n` > 0, the last `n` matches. Oldest first.
fn search(all: Vec<Entry>, pattern: &str, unique: bool, n: i32) -> Vec<Entry> {
    let pattern: Vec<char> = pattern.chars().collect();
    let mut found: Vec<Entry> = all.into_iter().filter(|e| glob(&pattern, &e.source)).collect();
    if unique {
        let mut latest: std::collections::HashMap<String, (usize, usize)> = std::collections::HashMap::new();
        for e in &found {
            latest.insert(e.source.clone(), (e.session, e.line));
        }
        found.retain(|e| latest.get(&e.source) == Some(&(e.session, e.line)));
    }
    if n > 0 {
        let skip = found.len().saturating_sub(n as usize);
        found.drain(..skip);
    }
    found
}

/// Whether `text` matches the whole glob (SQLite's GLOB, which IPython uses): `*` any run of
/// characters, `?` one character, `[abc]`, `[a-z]` and `[^abc]` a class; case-sensitive.
/// Iterative, with one backtracking point (the last `*`), so linear in practice.
pub fn glob(pattern: &[char], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        let step = match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some('?') => Some(p + 1),
            Some('[') => class(pattern, p, text[t]),
            Some(&c) if c == text[t] => Some(p + 1),
            _ => None,
        };
        match (step, star) {
            (Some(next), _) => {
                p = next;
                t += 1;
            }
            (None, Some((sp, st))) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            (None, None) => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class starting at `pattern[open] == '['`: the position after its
/// `]` when it matches, None otherwise (an unclosed `[` matches itself literally).
fn class(pattern: &[char], open: usize, c: char) -> Option<usize> {
    let mut k = open + 1;
    let negate = pattern.get(k) == Some(&'^');
    if negate {
        k += 1;
    }
    let mut matched = false;
    let mut first = true;
    while let Some(&x) = pattern.get(k) {
        if x == ']' && !first {
            return (matched != negate).then_some(k + 1);
        }
        if pattern.get(k + 1) == Some(&'-') && pattern.get(k + 2).is_some_and(|&y| y != ']') {
            matched |= (x..=pattern[k + 2]).contains(&c);
            k += 3;
        } else {
            matched |= x == c;
            k += 1;
        }
        first = false;
    }
    (c == '[').then_some(open + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("noyau-history-{}-{name}/h.jsonl", std::process::id()));
        let _ = std::fs::remove_dir_all(p.parent().unwrap());
        p
    }

    fn sources(v: &[Entry]) -> Vec<&str> {
        v.iter().map(|e| e.source.as_str()).collect()
    }

    #[test]
    fn sessions_persist_and_are_numbered_in_turn() {
        let path = temp_file("sessions");
        let mut first = History::open(Some(path.clone()));
        assert_eq!(first.session(), 1);
        first.record(1, "let a = 1;");
        first.record(2, "a + 1");
        let mut second = History::open(Some(path.clone()));
        assert_eq!(second.session(), 2);
        second.record(1, "a * 2");
        let all = second.entries();
        assert_eq!(sources(&all), ["let a = 1;", "a + 1", "a * 2"]);
        assert_eq!((all[2].session, all[2].line), (2, 1));
        // What the first kernel runs now is seen by the second.
        first.record(3, "late");
        // In (session, line) order, as IPython sorts.
        assert_eq!(sources(&tail(second.entries(), 2)), ["late", "a * 2"]);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn the_file_is_bounded() {
        let path = temp_file("bounded");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text: String = (1..=MAX_ENTRIES + 5)
            .map(|k| format!("{}\n", json!({"session": 1, "line": k, "source": format!("c{k}")})))
            .collect();
        std::fs::write(&path, text).unwrap();
        let h = History::open(Some(path.clone()));
        assert_eq!(h.session(), 2);
        let all = h.entries();
        assert_eq!(all.len(), MAX_ENTRIES);
        assert_eq!(all[0].source, "c6");
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn an_unusable_file_keeps_the_history_in_memory() {
        let mut h = History::open(Some(PathBuf::from("/proc/no/such/dir/history.jsonl")));
        h.record(1, "x");
        assert_eq!(sources(&h.entries()), ["x"]);
        let mut memory = History::open(None);
        memory.record(1, "y");
        assert_eq!(sources(&memory.entries()), ["y"]);
    }

    fn entries(spec: &[(usize, usize, &str)]) -> Vec<Entry> {
        spec.iter().map(|&(session, line, s)| Entry { session, line, source: s.into() }).collect()
    }

    #[test]
    fn tail_range_and_search_as_ipython() {
        let all = entries(&[(1, 1, "a = 1"), (1, 2, "print(a)"), (2, 1, "b = 2"), (2, 2, "print(a)"), (2, 3, "c")]);
        assert_eq!(sources(&tail(all.clone(), 2)), ["print(a)", "c"]);
        assert!(tail(all.clone(), 0).is_empty());
        assert_eq!(sources(&tail(all.clone(), 99)).len(), 5);
        // Session 0 is the current one (2), -1 the one before; stop 0 is the end, negatives count back.
        assert_eq!(sources(&range(all.clone(), 2, 0, 1, 0)), ["b = 2", "print(a)", "c"]);
        assert_eq!(sources(&range(all.clone(), 2, -1, 1, 2)), ["a = 1"]);
        assert_eq!(sources(&range(all.clone(), 2, 1, 2, 3)), ["print(a)"]);
        assert_eq!(sources(&range(all.clone(), 2, 0, -1, 0)), ["c"]);
        assert_eq!(sources(&range(all.clone(), 2, 0, 1, -1)), ["b = 2", "print(a)"]);
        assert!(range(all.clone(), 2, 7, 1, 0).is_empty());
        assert_eq!(sources(&search(all.clone(), "print*", false, 0)), ["print(a)", "print(a)"]);
        let unique = search(all.clone(), "print*", true, 0);
        assert_eq!((unique.len(), unique[0].session, unique[0].line), (1, 2, 2));
        assert_eq!(sources(&search(all.clone(), "*", false, 2)), ["print(a)", "c"]);
        assert!(search(all, "Print*", false, 0).is_empty(), "case-sensitive");
    }

    #[test]
    fn globs_as_sqlite() {
        let g = |p: &str, t: &str| glob(&p.chars().collect::<Vec<_>>(), t);
        assert!(g("*", "") && g("*", "anything\nat all"));
        assert!(g("a?c", "abc") && !g("a?c", "ac"));
        assert!(g("*.sum(*)", "x.sum(1)") && !g("*.sum(*)", "x.mean(1)"));
        assert!(g("[a-c]x", "bx") && !g("[a-c]x", "dx") && g("[^a-c]x", "dx"));
        assert!(g("[]]", "]") && g("a[", "a["));
        assert!(g("*a*b*c", "xaxbxbxc") && !g("*a*b*c", "xaxbxbx"));
        assert!(g("é*", "été"));
    }

    #[test]
    fn replies_as_ipykernel() {
        let mut h = History::open(None);
        h.record(1, "let a = 1;");
        let reply = h.reply(&HistoryRequest::Tail { n: 5, output: true, raw: true });
        let JupyterMessageContent::UnknownMessage(m) = reply else { panic!("raw reply") };
        assert_eq!(m.msg_type, "history_reply");
        assert_eq!(m.content, json!({"status": "ok", "history": [[1, 1, ["let a = 1;", null]]]}));
    }
}
