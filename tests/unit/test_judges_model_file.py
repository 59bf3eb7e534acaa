"""Assembling the judge model from its slices: verified, atomic, cached; on a small synthetic split."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from judges import QWEN_JUDGE, JudgeConfigError, JudgeModelError, JudgeModelFile, assemble_judge_model


def _split(tmp_path: Path, data: bytes, parts: int) -> tuple[JudgeModelFile, list[Path]]:
    size = -(-len(data) // parts)
    paths = []
    for n in range(parts):
        path = tmp_path / "slices" / f"part{n + 1:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data[n * size : (n + 1) * size])
        paths.append(path)
    model = JudgeModelFile(
        name="tiny",
        file_name="tiny.gguf",
        packages=tuple(f"tiny_part{n}" for n in range(parts)),
        slice_paths=tuple("data/x.bin" for _ in range(parts)),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        install="pip install tiny",
    )
    return model, paths


def test_slices_assemble_in_order_into_the_verified_file_once(tmp_path: Path) -> None:
    data = b"GGUF" + bytes(range(256)) * 300
    model, slices = _split(tmp_path, data, 5)
    cache = tmp_path / "cache"
    path = assemble_judge_model(model, cache_dir=cache, slices=slices)
    assert path.read_bytes() == data
    assert (cache / "tiny.gguf.sha256").read_text().strip() == model.sha256
    # Found in the cache: the slices are not read again.
    assert assemble_judge_model(model, cache_dir=cache, slices=[]) == path


def test_a_hash_mismatch_is_a_clear_error_and_leaves_nothing_behind(tmp_path: Path) -> None:
    data = b"GGUF" + bytes(range(256)) * 300
    model, slices = _split(tmp_path, data, 4)
    slices[1].write_bytes(b"\x00" + slices[1].read_bytes()[1:])  # one damaged byte
    cache = tmp_path / "cache"
    with pytest.raises(
        JudgeModelError, match=r"assemble to [\d,]+ bytes with sha256 [0-9a-f]{64}.*reinstall"
    ):
        assemble_judge_model(model, cache_dir=cache, slices=slices)
    assert list(cache.iterdir()) == []  # no half-written or unverified file


def test_slices_out_of_order_do_not_verify(tmp_path: Path) -> None:
    data = bytes(range(256)) * 64
    model, slices = _split(tmp_path, data, 3)
    with pytest.raises(JudgeModelError):
        assemble_judge_model(model, cache_dir=tmp_path / "cache", slices=[slices[1], slices[0], slices[2]])


def test_a_missing_slice_package_names_it_and_the_install_command() -> None:
    missing = JudgeModelFile(
        name="absent", file_name="a.gguf", packages=("no_such_slice_package_xyz",), slice_paths=("a.bin",),
        size=1, sha256="0" * 64, install="pip install 'brownout[judge-model]'",
    )  # fmt: skip
    with pytest.raises(
        JudgeConfigError, match=r"no_such_slice_package_xyz.*pip install 'brownout\[judge-model\]'"
    ):
        missing.slices()


def test_the_qwen_judge_is_22_slices_of_the_published_model() -> None:
    assert len(QWEN_JUDGE.packages) == 22 and QWEN_JUDGE.slice_paths[21] == "data/part22.bin"
    assert QWEN_JUDGE.size == 1_117_320_768
    assert QWEN_JUDGE.sha256.startswith("cc324af070c2")
