"""Ship ``conf/`` (the Hydra configs) inside the wheel as ``sim/conf``.

Why a build step and not a move: ``conf/`` stays where users and the docs expect it (at the
top of a checkout, ``exsim --config-dir``-style), while a non-editable install finds the same
files next to the code (``sim.api.CONF_DIR`` looks in ``sim/conf`` first, then ``../conf``).
Everything else is declared in ``pyproject.toml``.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithConf(build_py):
    def run(self) -> None:
        super().run()
        src = Path(__file__).resolve().parent / "conf"
        dst = Path(self.build_lib) / "sim" / "conf"
        for f in sorted(src.rglob("*.yaml")):
            target = dst / f.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            self.copy_file(str(f), str(target))


setup(cmdclass={"build_py": BuildPyWithConf})
