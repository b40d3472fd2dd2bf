"""``archivist flow run|resume|show FILE``: exit codes, parameters, workers, resume."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from archivist import ArtifactCatalog, Run
from archivist.cli import app

FLOW_FILE = textwrap.dedent('''
    import os
    from pathlib import Path

    from archivist import Flow, Parameter, step
    from helper_module import double  # a module next to the flow file


    class FileFlow(Flow):
        """A flow living in a file, as users write them."""

        size = Parameter("size", default=3, help="how many items")
        label: str = "x"
        log: str = ""
        fail_flag: str = ""

        @step
        def start(self):
            self.items = list(range(self.size))
            self.next(self.work, foreach="items")

        @step
        def work(self):
            if self.log:
                with open(self.log, "a") as f:
                    f.write(f"work {self.input}\\n")
            if self.fail_flag and Path(self.fail_flag).exists() and self.input == 1:
                raise ValueError("work item 1 failed")
            self.result = double(self.input)
            self.pid = os.getpid()
            self.next(self.join)

        @step
        def join(self, inputs):
            self.results = [i.result for i in inputs]
            self.pids = sorted({i.pid for i in inputs})
            self.next(self.end)

        @step
        def end(self):
            self.summary = f"{self.label}: {sum(self.results)}"
''')


@pytest.fixture
def flow_file(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "helper_module.py").write_text("def double(x):\n    return 2 * x\n")
    path = folder / "flow.py"
    path.write_text(FLOW_FILE)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def _cli(home: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--home", str(home), *args])


def _one_error(result: Result) -> str:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def test_run_with_params_and_workers(flow_file: Path, home: Path) -> None:
    result = _cli(home, "flow", "run", str(flow_file), "--param", "size=4",
                  "--param", "label=total", "--max-workers", "2")
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    assert result.stdout.strip() == "FileFlow/1 succeeded: 7 tasks, 16 versions"
    with ArtifactCatalog(home) as catalog:
        run = Run("FileFlow/1", catalog=catalog)
        assert run.parameters == {"size": 4, "label": "total", "log": "", "fail_flag": ""}
        assert run["end"].task.data.summary == "total: 12"
        assert len(run["join"].task.data.pids) >= 1


def test_show_prints_the_graph(flow_file: Path, home: Path) -> None:
    result = _cli(home, "flow", "show", str(flow_file))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "flow FileFlow", "  start (foreach over 'items') -> work", "  work (linear) -> join",
        "  join (join) -> end", "  end (end)",
        "  parameter size (default 3) — how many items", "  parameter label (default 'x')",
        "  parameter log (default '')", "  parameter fail_flag (default '')"]
    shown = json.loads(_cli(home, "flow", "show", str(flow_file), "--json").stdout)
    assert [s["name"] for s in shown["steps"]] == ["start", "work", "join", "end"]
    assert shown["parameters"]["size"] == 3


def test_refusals_exit_1_with_one_line(flow_file: Path, home: Path, tmp_path: Path) -> None:
    assert "no parameter 'nope'" in _one_error(
        _cli(home, "flow", "run", str(flow_file), "--param", "nope=1"))
    assert "expects a int" in _one_error(
        _cli(home, "flow", "run", str(flow_file), "--param", "size=many"))
    assert "does not exist" in _one_error(_cli(home, "flow", "run", str(tmp_path / "no.py")))
    broken = tmp_path / "broken.py"
    broken.write_text("from archivist import Flow, step\n\nclass Bad(Flow):\n"
                      "    @step\n    def start(self):\n        self.next(self.nowhere)\n\n"
                      "    @step\n    def end(self):\n        pass\n")
    assert "'nowhere', which is not a step" in _one_error(_cli(home, "flow", "run", str(broken)))
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    assert "defines no Flow subclass" in _one_error(_cli(home, "flow", "show", str(empty)))
    assert "SyntaxError" in _one_error(_cli(home, "flow", "show", str(_write(tmp_path))))


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "syntax.py"
    path.write_text("def broken(:\n")
    return path


def test_usage_errors_exit_2(flow_file: Path, home: Path) -> None:
    for args in (["--param", "size"], ["--max-workers", "0"], ["--nope"]):
        result = _cli(home, "flow", "run", str(flow_file), *args)
        assert result.exit_code == 2, (args, result.stderr)


def test_a_failed_step_then_resume(flow_file: Path, home: Path, tmp_path: Path) -> None:
    log, flag = tmp_path / "log.txt", tmp_path / "fail"
    flag.touch()
    line = _one_error(_cli(home, "flow", "run", str(flow_file), "--param", f"log={log}",
                           "--param", f"fail_flag={flag}"))
    assert "run FileFlow/1 failed: ValueError: work item 1 failed" in line
    assert f"archivist flow resume {flow_file} --run FileFlow/1" in line
    flag.unlink()
    log.write_text("")
    result = _cli(home, "flow", "resume", str(flow_file), "--run", "FileFlow/1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "FileFlow/2 succeeded: 6 tasks, 2 reused, 14 versions"
    assert log.read_text().split() == ["work", "1", "work", "2"]
    missing = _one_error(_cli(home, "flow", "resume", str(flow_file), "--run", "FileFlow/9"))
    assert "FileFlow/9" in missing
    log.write_text("")
    result = _cli(home, "flow", "resume", str(flow_file), "--run", "FileFlow/2",
                  "--step", "end")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip().startswith("FileFlow/3 succeeded: 6 tasks, 5 reused")


def test_the_console_script_runs_a_flow_file_in_workers(flow_file: Path, home: Path) -> None:
    exe = Path(sys.executable).with_name("archivist")
    done = subprocess.run([str(exe), "--home", str(home), "flow", "run", str(flow_file),
                           "--max-workers", "2", "--json"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["pathspec"] == "FileFlow/1" and record["status"] == "succeeded"
    pids = {t["details"]["pid"] for t in record["tasks"] if t["step"] == "work"}
    assert pids and all(isinstance(p, int) for p in pids)


def test_a_file_with_several_flows_needs_flow(flow_file: Path, home: Path) -> None:
    flow_file.write_text(FLOW_FILE + textwrap.dedent('''

        class OtherFlow(Flow):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                self.done = True
    '''))
    assert "several flows (FileFlow, OtherFlow)" in _one_error(
        _cli(home, "flow", "show", str(flow_file)))
    result = _cli(home, "flow", "run", str(flow_file), "--flow", "OtherFlow")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("OtherFlow/1 succeeded")
    assert "no flow 'Nope'" in _one_error(_cli(home, "flow", "show", str(flow_file),
                                               "--flow", "Nope"))
