"""nbclient runs kernel_tour.ipynb: streams, rich values, a figure, an error, an interrupted cell, and Rust cells."""

import shutil
import tempfile
import time
import unittest
from pathlib import Path

import nbformat
import notebooks  # scripts/notebooks.py, through conftest.py
from nbclient import NotebookClient

HERE = Path(__file__).parent
INTERRUPT_AFTER = 3


def timeout_for(cell):
    if "interrupt" in cell.metadata.get("tags", []):
        return INTERRUPT_AFTER
    return notebooks.timeout_for(cell)


class KernelTour(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = Path(tempfile.mkdtemp(prefix="noyau-nbclient-"))
        shutil.copy(HERE / "kernel_tour.ipynb", cls.dir)
        cls.nb = nbformat.read(cls.dir / "kernel_tour.ipynb", as_version=4)
        client = NotebookClient(
            cls.nb,
            kernel_name="noyau",
            timeout_func=timeout_for,
            interrupt_on_timeout=True,
            resources={"metadata": {"path": str(cls.dir)}},
        )
        start = time.monotonic()
        client.execute()
        cls.seconds = time.monotonic() - start
        # The executed notebook, for a look when a test fails.
        nbformat.write(cls.nb, cls.dir / "executed.ipynb")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def outputs(self, k):
        return self.nb.cells[k].outputs

    def of_type(self, k, output_type):
        return [o for o in self.outputs(k) if o.output_type == output_type]

    def test_streams_and_tensor_values(self):
        streams = self.of_type(1, "stream")
        self.assertEqual(streams[0].name, "stdout")
        self.assertEqual(streams[0].text, "points: [200, 2]\n")
        result = self.of_type(1, "execute_result")[0]
        self.assertTrue(result.data["text/plain"].startswith("tensor(["))
        self.assertIn("[2] float32", result.data["text/html"])

    def test_a_figure_is_displayed_mid_cell_and_as_the_value(self):
        shown = self.of_type(2, "display_data")[0]
        value = self.of_type(2, "execute_result")[0]
        for data in (shown.data, value.data):
            self.assertTrue(data["image/png"].startswith("iVBORw0KGgo"))  # base64 of the PNG magic

    def test_a_lazy_tensor_shows_its_formula(self):
        data = self.of_type(3, "execute_result")[0].data
        self.assertIn("LazyTensor", data["text/plain"])
        self.assertIn("\\exp\\left(", data["text/latex"])

    def test_the_error_cell_has_a_traceback_with_a_caret(self):
        error = self.of_type(4, "error")[0]
        self.assertEqual(error.ename, "ScriptError")
        self.assertRegex(error.traceback[0], r"^In\[\d+\]:2:\d+: sum\(dim=7\)")
        self.assertEqual(error.traceback[1], "    let y = x.sum(7);")
        self.assertTrue(error.traceback[2].endswith("^"))

    def test_the_long_cell_was_interrupted_and_the_state_kept(self):
        self.assertEqual(self.of_type(5, "error")[0].ename, "Interrupted")
        self.assertEqual(self.of_type(6, "stream")[0].text, "still here: [200, 2]\n")
        self.assertTrue((self.dir / "points.npy").exists())

    def test_a_rust_cell_reads_what_rhai_saved(self):
        rhai_sum = float(self.of_type(6, "execute_result")[0].data["text/plain"].split("(")[1].split(",")[0])
        self.assertIn("rust sees [200, 2]", "".join(o.text for o in self.of_type(7, "stream")))
        rust_sum = float(self.of_type(7, "execute_result")[0].data["text/plain"])
        self.assertAlmostEqual(rust_sum, rhai_sum, places=3)

    def test_a_rust_compile_error_points_at_the_cell_line(self):
        error = self.of_type(8, "error")[0]
        self.assertEqual(error.ename, "CompilationError")
        self.assertRegex(error.traceback[0], r"^In\[\d+\]:2:\d+: error\[E0308\]")
        self.assertIn('let wrong: i32 = "text";', error.traceback[1])
        self.assertIn("^", error.traceback[2])


if __name__ == "__main__":
    unittest.main()
