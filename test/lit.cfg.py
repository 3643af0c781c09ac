"""lit configuration: IR tests of the intar dialect, its passes and intar-opt."""
# ruff: noqa: F821  (lit injects config and lit_config)

import os
import shutil
import sys

import lit.formats

config.name = "intar"
config.test_format = lit.formats.ShTest()
config.suffixes = [".mlir", ".test"]
config.excludes = ["python", "lit.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
root = os.path.dirname(config.test_source_root)
config.test_exec_root = os.path.join(root, "build", "test")

# Tools come from the environment the tests run in (the project's venv).
bindir = os.path.dirname(sys.executable)
config.environment["PATH"] = os.pathsep.join([bindir, os.environ.get("PATH", "")])
for var in ("HOME", "INTAR_DEBUG", "PYTHONPATH"):
    if var in os.environ:
        config.environment[var] = os.environ[var]

filecheck = shutil.which("filecheck", path=config.environment["PATH"])
if filecheck is None:
    lit_config.fatal("filecheck not found: pip install -e '.[test]'")
config.substitutions.append(("FileCheck", filecheck))
config.substitutions.append(("%examples", os.path.join(root, "examples")))
