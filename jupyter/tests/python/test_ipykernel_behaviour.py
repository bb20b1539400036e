"""What a user coming from ipykernel expects, over the real protocol (jupyter_client): Run All
stopping at the first error (stop_on_error), the input history across sessions, completion
with type metadata, and Rust compile errors with rustc's whole diagnostic.

Each test starts its own kernel, so that the queue, the history file and the scope are its own.
"""

import os
import tempfile
import time
from contextlib import contextmanager

from jupyter_client.manager import start_new_kernel

TIMEOUT = 60
# A first Rust cell that compiles the engine: minutes on a small machine.
RUST_TIMEOUT = 1200


@contextmanager
def kernel(**env):
    """A fresh Noyau kernel (with extra environment variables) and its blocking client."""
    km, kc = start_new_kernel(kernel_name="noyau", startup_timeout=TIMEOUT, env={**os.environ, **env})
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def replies(kc, msg_ids, timeout=TIMEOUT):
    """The shell replies to `msg_ids`, in that order (other replies are skipped)."""
    found = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(msg_ids):
        msg = kc.get_shell_msg(timeout=max(1, deadline - time.monotonic()))
        parent = msg["parent_header"].get("msg_id")
        if parent in msg_ids:
            found[parent] = msg
    return [found[i] for i in msg_ids]


def iopub_until_idle(kc, msg_ids):
    """The iopub messages of each request of `msg_ids`, up to its idle status."""
    found = {i: [] for i in msg_ids}
    idle = set()
    deadline = time.monotonic() + TIMEOUT
    while idle != set(msg_ids):
        msg = kc.get_iopub_msg(timeout=max(1, deadline - time.monotonic()))
        parent = msg["parent_header"].get("msg_id")
        if parent in found:
            found[parent].append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                idle.add(parent)
    return found


def run(kc, code, **kwargs):
    """Executes `code` and returns its reply."""
    return replies(kc, [kc.execute(code, **kwargs)])[0]


def test_run_all_stops_at_the_first_error_as_ipykernel():
    with kernel() as kc:
        # Run All: every cell is sent at once; the failing one aborts those queued behind it.
        ids = [
            kc.execute("let before = 1;"),
            kc.execute("let bad = ones(2, 3).sum(9);"),
            kc.execute("let after = 2;"),
            kc.execute("print(\"not run\");"),
        ]
        got = replies(kc, ids)
        assert [r["content"]["status"] for r in got] == ["ok", "error", "aborted", "aborted"]
        assert got[2]["content"] == {"status": "aborted"}
        assert got[2]["header"]["msg_type"] == "execute_reply"
        # An aborted request is framed by busy and idle, and runs nothing (no execute_input).
        outputs = iopub_until_idle(kc, ids)
        for aborted in ids[2:]:
            assert [m["msg_type"] for m in outputs[aborted]] == ["status", "status"], outputs[aborted]
        # The queue has drained: a new request runs, and `after` was never set.
        reply = run(kc, "after")
        assert reply["content"]["status"] == "error"
        assert "after" in reply["content"]["evalue"]
        # Aborted cells never ran: they took no execution count.
        assert reply["content"]["execution_count"] == got[1]["content"]["execution_count"] + 1
        assert run(kc, "before + 1")["content"]["status"] == "ok"
        # stop_on_error=False (and silent requests) do not abort what follows.
        ids = [kc.execute("let bad = ones(2, 3).sum(9);", stop_on_error=False), kc.execute("let after = 3;")]
        assert [r["content"]["status"] for r in replies(kc, ids)] == ["error", "ok"]
        ids = [kc.execute("let bad = ones(2, 3).sum(9);", silent=True), kc.execute("after + 1")]
        assert [r["content"]["status"] for r in replies(kc, ids)] == ["error", "ok"]


def history(kc, **request):
    """The history entries answering `request`."""
    reply = replies(kc, [kc.history(raw=True, **request)])[0]
    assert reply["content"]["status"] == "ok"
    return reply["content"]["history"]


def test_history_is_kept_across_sessions_and_answers_tail_range_and_search():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "history.jsonl")
        first = ["let hist_a = 1;", "let hist_b = hist_a + 1;", "hist_b * 10"]
        with kernel(NOYAU_HISTORY=path) as kc:
            for code in first:
                assert run(kc, code)["content"]["status"] == "ok"
            run(kc, "let not_kept = 1;", store_history=False)
            tail = history(kc, hist_access_type="tail", n=3, output=False)
            assert [h[2] for h in tail] == first
            session = tail[0][0]
            assert [h[1] for h in tail] == [1, 2, 3]
        with kernel(NOYAU_HISTORY=path) as kc:
            run(kc, "let hist_c = 3;")
            # A new session, numbered after the first; its cells and the earlier ones, in order.
            tail = history(kc, hist_access_type="tail", n=10, output=False)
            assert [h[2] for h in tail] == first + ["let hist_c = 3;"]
            assert [h[0] for h in tail] == [session] * 3 + [session + 1]
            with_output = history(kc, hist_access_type="tail", n=1, output=True)
            assert with_output == [[session + 1, 1, ["let hist_c = 3;", None]]]
            # range: session 0 is the current one, -1 the one before; stop 0 is the end.
            assert history(kc, hist_access_type="range", session=0, start=1, stop=0, output=False) == [
                [session + 1, 1, "let hist_c = 3;"]
            ]
            previous = history(kc, hist_access_type="range", session=-1, start=2, stop=3, output=False)
            assert previous == [[session, 2, "let hist_b = hist_a + 1;"]]
            assert history(kc, hist_access_type="range", session=session, start=1, stop=0, output=False)[2][2] == first[2]
            # search: a glob on the whole cell; n keeps the last matches, unique each source once.
            found = history(kc, hist_access_type="search", pattern="let hist_*", n=0, unique=False, output=False)
            assert [h[2] for h in found] == [first[0], first[1], "let hist_c = 3;"]
            last = history(kc, hist_access_type="search", pattern="let hist_*", n=1, unique=False, output=False)
            assert [h[2] for h in last] == ["let hist_c = 3;"]
            run(kc, "hist_b * 10")
            unique = history(kc, hist_access_type="search", pattern="hist_b [*] 10", n=0, unique=True, output=False)
            assert unique == [[session + 1, 2, "hist_b * 10"]]


def test_completion_lists_the_types_methods_first_with_types_in_the_metadata():
    with kernel() as kc:
        run(kc, "let pts = randn(3, 2);")
        reply = replies(kc, [kc.complete("pts.", 4)])[0]["content"]
        matches = reply["matches"]
        types = reply["metadata"]["_jupyter_types_experimental"]
        assert [t["text"] for t in types] == matches
        assert all((t["start"], t["end"]) == (4, 4) for t in types)
        kind = {t["text"]: t["type"] for t in types}
        assert kind["shape"] == "property" and kind["sum"] == "function"
        signature = {t["text"]: t["signature"] for t in types}
        assert signature["sum"].startswith("sum(")
        # The tensor's own methods, then what accepts any value (debug, print...), each group in
        # case-insensitive order.
        generic = min(matches.index("debug"), matches.index("print"))
        assert matches.index("sum") < generic and matches.index("shape") < generic
        own = matches[:generic]
        assert own == sorted(own, key=str.lower)
        top = replies(kc, [kc.complete("pt", 2)])[0]["content"]
        assert top["metadata"]["_jupyter_types_experimental"][0] == {
            "start": 0,
            "end": 2,
            "text": "pts",
            "type": "instance",
            "signature": "Tensor",
        }


def test_a_rust_compile_error_shows_rustcs_whole_diagnostic():
    # The first Rust cell starts evcxr (and compiles the engine unless NOYAU_RUST_CELLS_DIR
    # already holds it, as in the test command).
    with kernel() as kc:
        reply = replies(kc, [kc.execute('%%rust\nlet x: i32 = "a";\nx')], timeout=RUST_TIMEOUT)[0]["content"]
        assert reply["status"] == "error" and reply["ename"] == "CompilationError", reply
        assert reply["traceback"] == [
            "In[1]:2:14: error[E0308]: mismatched types",
            '2 | let x: i32 = "a";',
            "  |              ^^^ expected `i32`, found `&str`",
            "  |        --- expected due to this",
            "(rustc --explain E0308 explains this error)",
        ], reply["traceback"]
        # The Rust state survives the error, and Rhai cells still run.
        assert run(kc, "%%rust\nlet v: Vec<f64> = vec![1.0, 2.0];\nv.iter().sum::<f64>()")["content"]["status"] == "ok"
        assert run(kc, "1 + 1")["content"]["status"] == "ok"
