"""The LLM client against a local chat-completions server, through the real ``openai`` SDK."""

from __future__ import annotations

import json
import logging
import time

import pytest
from distill_secrets import AZURE_SECRET, SECRET
from support.openai_server import FakeOpenAIServer, Hang, Reply, Status

from skillrl.distill.llm import (
    ChatReply,
    JSONExtractionError,
    LLMClient,
    LLMConfig,
    LLMConfigError,
    LLMOutputError,
    LLMStatusError,
    LLMTimeoutError,
    LLMUnavailableError,
    OpenAIChatModel,
    TokenUsage,
    client_for,
    extract_json,
    redact,
)
from skillrl.distill.llm_distiller import validate_skills

MSGS = [{"role": "user", "content": "give me skills"}]
SKILLS = '[{"skill_id": "gen_001", "title": "Look first", "principle": "Inspect before acting.", "when_to_apply": "always"}]'


def fast(**kw) -> LLMConfig:
    return LLMConfig(**{"model": "test-model", "timeout_s": 5.0, "max_retries": 2, **kw})


# -- JSON extraction ------------------------------------------------------------------------


@pytest.mark.parametrize("text,expected", [
    ('{"a": 1}', {"a": 1}),
    ('```json\n{"a": [1, 2]}\n```', {"a": [1, 2]}),
    ('Sure, here it is:\n```\n[{"x": "y"}]\n```\nAnything else?', [{"x": "y"}]),
    ('The answer is [1, 2, 3] as requested.', [1, 2, 3]),
    ('noise {"k": "v"} trailing', {"k": "v"}),
])
def test_extract_json_reads_fenced_and_bare_values(text, expected):
    assert extract_json(text) == expected


@pytest.mark.parametrize("text,reason", [
    ("", "empty"),
    ("no json here", "no JSON object or array"),
    ('{"a": 1,,}', "invalid JSON at line 1"),
])
def test_extract_json_failures_say_why(text, reason):
    with pytest.raises(JSONExtractionError, match=reason):
        extract_json(text)


# -- happy path, usage and cost -----------------------------------------------------------


def test_reply_is_validated_and_usage_costed(fake_openai, tmp_path):
    fake_openai.push(Reply(f"```json\n{SKILLS}\n```", prompt_tokens=1000, completion_tokens=500))
    record = tmp_path / "calls.jsonl"
    client = client_for(fast(price_input_per_1m=2.0, price_output_per_1m=8.0), record_path=record)
    skills = client.complete_json(MSGS, validate_skills, purpose="general_skills")
    assert [s.title for s in skills] == ["Look first"]
    assert client.totals.calls == 1 and client.totals.input_tokens == 1000 and client.totals.output_tokens == 500
    assert client.totals.cost_usd == pytest.approx(1000 * 2 / 1e6 + 500 * 8 / 1e6)
    call = client.calls[0]
    assert call.purpose == "general_skills" and call.model == "test-model" and call.attempt == 0
    assert call.messages[0]["content"] == "give me skills" and "Look first" in call.reply
    line = json.loads(record.read_text().splitlines()[0])
    assert line["usage"] == {"input_tokens": 1000, "output_tokens": 500} and line["reply"] == call.reply
    req = fake_openai.requests[0]
    assert req.path == "/v1/chat/completions" and req.body["model"] == "test-model"
    assert req.body["max_completion_tokens"] == 4096 and "temperature" not in req.body
    assert "1 calls" in client.usage_line() and "$0.0060" in client.usage_line()


def test_malformed_json_then_repair_succeeds(fake_openai):
    fake_openai.push(Reply('[{"skill_id": "gen_001", "title": "Look first",'), Reply(SKILLS))
    client = client_for(fast())
    skills = client.complete_json(MSGS, validate_skills, purpose="general_skills")
    assert len(skills) == 1 and len(fake_openai.requests) == 2
    repair = fake_openai.requests[1].messages
    assert repair[-2]["role"] == "assistant" and repair[-2]["content"].startswith('[{"skill_id"')
    assert "could not be used" in repair[-1]["content"] and "JSON" in repair[-1]["content"]
    assert [c.attempt for c in client.calls] == [0, 1]


def test_schema_error_is_sent_back_with_its_json_path(fake_openai):
    fake_openai.push(Reply('[{"skill_id": "a", "title": "No principle"}]'), Reply(SKILLS))
    client = client_for(fast())
    client.complete_json(MSGS, validate_skills, purpose="general_skills")
    assert "[0].principle: missing required field" in fake_openai.requests[1].last_user


def test_second_bad_reply_raises_typed_error_after_exactly_one_repair(fake_openai):
    fake_openai.push(Reply("not json"), Reply('{"still": "wrong shape"}'))
    client = client_for(fast())
    with pytest.raises(LLMOutputError) as err:
        client.complete_json(MSGS, validate_skills, purpose="general_skills")
    assert len(fake_openai.requests) == 2
    assert "after one repair" in str(err.value) and "expected a JSON array" in err.value.reason
    assert err.value.reply == '{"still": "wrong shape"}'


# -- transport failures: the SDK's retries, our typed errors --------------------------------


def test_429_then_success_is_retried_by_the_sdk(fake_openai):
    fake_openai.push(Status(429, "rate limited", retry_after_ms=20), Reply(SKILLS))
    client = client_for(fast())
    assert client.complete_json(MSGS, validate_skills, purpose="p")
    assert len(fake_openai.requests) == 2  # one logical call, retried inside the SDK
    assert client.totals.calls == 1 and client.totals.failed_calls == 0


def test_500_then_success_is_retried(fake_openai):
    fake_openai.push(Status(500, "boom", retry_after_ms=10), Reply(SKILLS))
    assert client_for(fast()).complete(MSGS, purpose="p") == SKILLS
    assert len(fake_openai.requests) == 2


def test_500_after_all_retries_is_a_status_error_naming_the_endpoint(fake_openai):
    fake_openai.push(*[Status(500, "upstream exploded", retry_after_ms=5)] * 3)
    client = client_for(fast(max_retries=2))
    with pytest.raises(LLMStatusError) as err:
        client.complete(MSGS, purpose="p")
    assert err.value.status == 500 and len(fake_openai.requests) == 3
    assert fake_openai.base_url in str(err.value) and "upstream exploded" in str(err.value)
    assert client.totals.failed_calls == 1 and client.calls[0].error


def test_timeout_is_bounded_by_the_configured_timeout(fake_openai):
    fake_openai.push(Hang(5.0))
    client = client_for(fast(timeout_s=0.4, max_retries=0))
    t0 = time.monotonic()
    with pytest.raises(LLMTimeoutError, match="timed out after 0.4s"):
        client.complete(MSGS, purpose="p")
    assert time.monotonic() - t0 < 3.0


def test_unreachable_endpoint_is_unavailable(monkeypatch):
    srv = FakeOpenAIServer().start()
    url = srv.base_url
    srv.stop()
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    with pytest.raises(LLMUnavailableError, match="cannot connect"):
        client_for(fast(max_retries=0)).complete(MSGS, purpose="p")


def test_missing_configuration_is_a_clear_error(monkeypatch):
    with pytest.raises(LLMConfigError, match="OPENAI_API_KEY is not set"):
        OpenAIChatModel(fast())
    with pytest.raises(LLMConfigError, match="AZURE_OPENAI_API_KEY and AZURE_OPENAI_ENDPOINT"):
        OpenAIChatModel(fast(provider="azure"))
    with pytest.raises(LLMConfigError, match="unknown LLM provider 'bedrock'"):
        OpenAIChatModel(fast(provider="bedrock"))
    with pytest.raises(ValueError, match=r"timeout_s: 0 \(allowed: a number > 0\)"):
        LLMConfig(timeout_s=0)


def test_local_server_needs_no_key(monkeypatch):
    with FakeOpenAIServer([Reply("hi")]) as srv:
        model = OpenAIChatModel(fast(base_url=srv.base_url))
        assert model.chat(MSGS).text == "hi"
        assert srv.requests[0].had_credentials  # the SDK still sends a placeholder key


def test_azure_endpoint_deployment_and_api_version(fake_azure):
    fake_azure.push(Reply(SKILLS))
    client = client_for(fast(provider="azure", model="my-deployment"))
    assert client.complete(MSGS, purpose="p") == SKILLS
    req = fake_azure.requests[0]
    assert req.path == "/openai/deployments/my-deployment/chat/completions"
    assert req.query["api-version"] == "2024-06-01" and req.had_credentials


# -- keys never leak ------------------------------------------------------------------------


def test_keys_never_appear_in_errors_logs_records_or_reprs(fake_openai, fake_azure, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, the SDK's and httpx's included
    record = tmp_path / "calls.jsonl"
    texts = []
    for provider, srv in (("openai", fake_openai), ("azure", fake_azure)):
        srv.push(Status(401, "bad credentials", echo_credentials=True))
        config = fast(provider=provider, max_retries=0)
        client = client_for(config, record_path=record)
        with pytest.raises(LLMStatusError) as err:
            client.complete(MSGS, purpose="leak-test")
        assert err.value.status == 401 and "credentials: " in str(err.value)
        texts += [str(err.value), repr(err.value), repr(client), repr(client.model), repr(config), str(client.calls)]
        assert err.value.__cause__ is None and err.value.__suppress_context__
    texts += [record.read_text(), caplog.text]
    for text in texts:
        assert SECRET not in text and AZURE_SECRET not in text
    assert "***" in texts[0]


def test_redact_hides_key_shapes_and_registered_values(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    assert redact(f"x {SECRET} y") == "x *** y"
    assert redact("Authorization: Bearer abcdefghijklmnop") == "Authorization: Bearer ***"
    assert redact("key sk-proj-ABCDEFGHIJKLMNOP") == "key ***"
    assert redact("api-key: 0123456789abcdef") == "api-key: ***"


# -- the ChatModel protocol: the policy as distiller -----------------------------------------


class PolicyAsChatModel:
    """A stand-in for the local policy: answers from a table and reports token ids."""

    model_name = "local-policy"

    def chat(self, messages):
        return ChatReply(text=SKILLS, usage=TokenUsage(3, 2), prompt_ids=(1, 2, 3), response_ids=(7, 8))


def test_any_chat_model_plugs_in_and_its_token_ids_are_recorded(tmp_path):
    record = tmp_path / "policy_calls.jsonl"
    client = LLMClient(PolicyAsChatModel(), record_path=record)
    skills = client.complete_json(MSGS, validate_skills, purpose="general_skills")
    assert skills[0].skill_id == "gen_001"
    line = json.loads(record.read_text())
    assert line["prompt_ids"] == [1, 2, 3] and line["response_ids"] == [7, 8] and line["model"] == "local-policy"
    assert line["messages"] == MSGS and line["cost_usd"] is None
