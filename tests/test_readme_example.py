"""The README's Python example runs as a plain script, as a user saves and runs it.

It has no ``if __name__ == "__main__":`` guard on purpose: generation must not need one.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs_as_a_script(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README.md has no Python example"
    script = tmp_path / "example.py"
    script.write_text(blocks[0])
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert (tmp_path / "data" / "darcy.h5").exists()
    assert (tmp_path / "runs" / "darcy-fno").is_dir()
