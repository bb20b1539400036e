"""Interrupts through the control channel stop loops and reductions and keep the state; a restart starts afresh."""

import time
import unittest

from jupyter_client.manager import start_new_kernel


class InterruptAndRestart(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_new_kernel(kernel_name="noyau")

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel()

    def run_cell(self, code, timeout=60):
        return self.kc.execute_interactive(code, timeout=timeout, output_hook=lambda msg: None)

    def interrupted_after(self, code, delay):
        """Runs `code`, interrupts it after `delay` seconds; returns the reply and the seconds it took to stop."""
        msg_id = self.kc.execute(code)
        time.sleep(delay)
        self.assertEqual(self.km.kernel_spec.interrupt_mode, "message")
        start = time.monotonic()
        self.km.interrupt_kernel()
        while True:
            reply = self.kc.get_shell_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply, time.monotonic() - start

    def value_of(self, code):
        outputs = []
        reply = self.kc.execute_interactive(code, timeout=60, output_hook=outputs.append)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        results = [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"]
        return results[0]

    def test_a_loop_is_stopped_and_the_state_kept(self):
        self.assertEqual(self.run_cell("let kept = 7; fn f(v) { v + 1 }")["content"]["status"], "ok")
        reply, stop = self.interrupted_after("let n = 0;\nloop { n += 1; }", 1.0)
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "Interrupted")
        self.assertLess(stop, 5.0)
        self.assertEqual(self.value_of("f(kept)"), "8")

    def test_a_reduction_is_stopped_between_tiles(self):
        # 2·10¹¹ kernel evaluations: minutes of work if the interrupt did not stop it.
        code = (
            "let x = randn(400000, 3); let y = randn(500000, 3);\n"
            "let K = (-((Vi(x) - Vj(y)) ** 2).sum(-1)).exp();\n"
            "let s = K.sum(1);"
        )
        reply, stop = self.interrupted_after(code, 2.0)
        self.assertEqual(reply["content"]["ename"], "Interrupted", reply["content"])
        self.assertLess(stop, 10.0)
        self.assertEqual(self.value_of("x.shape"), "[400000, 3]")

    def test_restart_gives_a_fresh_session(self):
        self.run_cell("let before_restart = 1;")
        self.km.restart_kernel()
        self.kc.wait_for_ready(timeout=30)
        reply = self.run_cell("before_restart")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(self.value_of("1 + 1"), "2")


if __name__ == "__main__":
    unittest.main()
