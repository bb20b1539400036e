"""The Noyau kernel against jupyter_kernel_test's protocol suite (messages validated against spec 5.x)."""

import unittest

import jupyter_kernel_test


class NoyauKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "noyau"
    language_name = "rhai"
    file_extension = ".rhai"

    code_hello_world = 'print("hello, world")'
    code_stderr = 'debug("to stderr")'

    completion_samples = [
        {"text": "sqnor", "matches": {"sqnorm2"}},
        {"text": "let zz_unique = 1; zz_uni", "matches": {"zz_unique"}},
    ]
    complete_code_samples = ["let a = 1;", "fn f(x) { x + 1 }", "print(1)"]
    incomplete_code_samples = ["fn f(x) {", "let a = [1, 2,", "print(\"a\","]
    invalid_code_samples = ["let = 3;", "1 + 2)"]

    code_generate_error = "let y = ones(2, 3).sum(4);"
    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "tensor([1.0, 2.0]).sum()", "result": "tensor(3., dtype=float32)"},
        {"code": "tensor([1.0, 2.0])", "mime": "text/html"},
        {"code": "Vi(tensor([[1.0], [2.0]])).exp()", "mime": "text/latex"},
        {"code": "scatter(tensor([[0.0, 1.0], [1.0, 0.0]]))", "mime": "image/png"},
    ]
    code_display_data = [
        {"code": "show(scatter(tensor([[0.0, 1.0], [1.0, 0.0]])))", "mime": "image/png"},
        {"code": 'display(#{"text/html": "<b>hi</b>", "text/plain": "hi"})', "mime": "text/html"},
    ]
    code_inspect_sample = "sqnorm2"

    # The suite's history test (tail and range; its search requests leave out fields that the
    # protocol requires, see test_ipykernel_behaviour.py for search).
    supported_history_operations = ("tail", "range")

    def test_state_survives_errors(self):
        """Variables and functions live across cells, and an error keeps them."""
        self.flush_channels()
        reply, _ = self.execute_helper("let kept = 20; fn twice(v) { 2 * v }")
        self.assertEqual(reply["content"]["status"], "ok")
        reply, output = self.execute_helper("let z = kept.no_such_method();")
        self.assertEqual(reply["content"]["status"], "error")
        reply, output = self.execute_helper("twice(kept) + 2")
        self.assertEqual(reply["content"]["status"], "ok")
        results = [m for m in output if m["msg_type"] == "execute_result"]
        self.assertEqual(results[0]["content"]["data"]["text/plain"], "42")

    def test_error_traceback_shows_the_line_and_a_caret(self):
        self.flush_channels()
        reply, output = self.execute_helper("let a = 1;\nlet y = ones(2, 3).sum(4);")
        content = reply["content"]
        self.assertEqual(content["status"], "error")
        self.assertEqual(content["ename"], "ScriptError")
        self.assertIn("dim must be", content["evalue"])
        tb = content["traceback"]
        self.assertRegex(tb[0], r"^In\[\d+\]:2:\d+: sum\(dim=4\)")
        self.assertEqual(tb[1], "    let y = ones(2, 3).sum(4);")
        self.assertEqual(tb[2].strip(), "^")
        errors = [m for m in output if m["msg_type"] == "error"]
        self.assertEqual(errors[0]["content"]["traceback"], tb)

    def test_method_completion_after_a_dot(self):
        self.flush_channels()
        self.execute_helper("let pts = randn(3, 2);")
        self.kc.complete("pts.sq", 6)
        reply = self.get_non_kernel_info_reply(timeout=10)
        matches = reply["content"]["matches"]
        self.assertIn("sqrt", matches)
        self.assertNotIn("randn", matches)
        self.assertEqual((reply["content"]["cursor_start"], reply["content"]["cursor_end"]), (4, 6))

    def test_is_complete_gives_an_indent(self):
        self.flush_channels()
        self.kc.is_complete("fn f(x) {\n")
        reply = self.get_non_kernel_info_reply(timeout=10)
        self.assertEqual(reply["content"], {"status": "incomplete", "indent": "    "})


if __name__ == "__main__":
    unittest.main()
