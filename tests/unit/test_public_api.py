"""The public surface is deliberate: every package's ``__all__`` is pinned here.

Adding a public name means adding it here too; everything else lives in ``_private`` modules.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

PINNED: dict[str, set[str]] = {
    "harness": {
        "AnyEvent", "Budget", "CassetteError", "CassetteMiss", "Channel", "ChannelEmpty", "ChaosSettings",
        "ConfigError", "HarnessError", "NotInRun", "ReplayDivergence", "Run", "RunHooks", "RunLog",
        "RunLogError", "StaleFencingToken", "StateStore", "Versioned", "Violation", "WorkerKilled", "agent",
        "checker", "constraint", "current_run", "dead_letter", "escalate", "handoff", "instrument",
        "llm_call", "load_profile", "postcondition", "record", "redundant", "register_profile",
        "register_semantic_check", "run_checks", "run_system", "spawn", "tool",
        # crash and restart
        "ProcessCrashed", "run_dir",
    },
    "faults": {
        "AckLost", "Bandwidth", "Chance", "ContextLengthExceeded", "Corrupt", "DeadlineCancelled", "Delay",
        "Disconnect", "Down", "Drop", "Duplicate", "EFFECTS", "Effect", "EffectBase", "EmptyResponse",
        "EmptyResult", "Fault", "FaultError", "FaultPlan", "FaultPlanError", "Hang", "Kill", "Latency",
        "LimitData", "LogicalClock", "LostAck", "LostWrite", "MalformedResponse", "MalformedResult",
        "NetworkFaultError", "PlanHooks", "RateLimit", "Reorder", "ResetPeer", "SITES", "ServerError",
        "Slicer", "SlowClose", "SlowThenSucceed", "StaleRead", "Timeout", "ToolError", "TruncatedResponse",
        "VirtualClockLoop", "effect_kinds", "patched_time", "real_monotonic", "register_effect",
        # plausible-but-wrong answers (opt-in effects)
        "AlteredField", "DroppedItem", "PerturbedValue", "StaleResult",
        # shared-budget faults
        "Balloon", "Shrink",
        # crash-restart kill points
        "KILL_POINTS", "CrashAfterCheckpoint", "CrashAfterEffect", "CrashBeforeEffect", "CrashMidCall",
        "CrashMidStream",
    },
    "judges": {
        "QWEN_JUDGE", "JudgeModelError", "JudgeModelFile", "assemble_judge_model", "judge_model_cache",
        "CONSTRAINT_RUBRIC", "Calibration", "CalibrationError", "Criterion", "CriterionScore", "Ensemble",
        "Judge", "JudgeCallError", "JudgeConfigError", "JudgeError", "JudgeSpec", "LabelledExample",
        "Rubric", "RubricError", "ScoreSpread", "Verdict", "VerdictCache", "VerdictFailed", "calibrate",
        "cohen_kappa", "WorkedExample",
        "configure_semantic_checks", "constraint_check", "judge", "labelled_set", "register_judge",
        "rubric_postcondition",
    },
    "scenarios": {
        "CallSite", "DEFAULT_MODEL_ALIAS", "FAULTS", "LLMServerError", "LocalLLMServer", "REFERENCE_RUNS",
        "ReferenceRun", "ScenarioConfigError", "ScenarioError", "ServiceCallError", "ServiceError",
        "ServiceUnavailable", "call_sites", "cassette_dir", "effects_for",
        "fault_plans", "fault_strategy", "find_model_file", "find_reference", "parse_kinds", "run_reference",
    },
    # Public extension modules: what other packages and users build on.
    "harness.hooks": {
        "Frame", "LLMSite", "MessageSite", "RunContext", "RunHooks", "StateSite", "ToolSite", "WorkerSite",
        "current_frame", "current_run", "require_run",
        # decisions a hook returns, and the executors that carry them out
        "BudgetSite", "BudgetDecision", "ShrinkBudget", "InflateUse",
        "PROCEED", "Proceed", "Wait", "Fail", "Block", "RunThenWait", "RunThenFail", "Reshape",
        "RewriteReply", "Respond", "StepDecision", "DropMessage", "DuplicateMessage", "DelayMessage",
        "HoldMessage", "MessageDecision", "ServeStale", "CorruptWrite", "LoseWrite", "StateDecision",
        "DeadlineCancelled", "carry_out", "acarry_out",
        # crash and restart: a step cut off part-way, a write whose ack is lost, the crash itself
        "Interrupt", "WriteThenFail", "crash_process",
    },
    "harness.checkers": {
        "Checker", "CheckerSpec", "ConstraintJudge", "HandoffRubricJudge", "Violation", "checker",
        "get_checkers", "register_semantic_check", "run_checks", "semantic_checks",
        "unregister_semantic_check",
    },
    "harness.cassettes": {"Cassette", "load_cassette_file", "write_atomically"},
    "harness.secrets": {
        "REDACTED", "ScrubConfigError", "add_pattern", "add_secret", "add_secret_name", "configure",
        "is_secret_name", "keep_field", "reset", "scrub", "scrub_json_text", "scrub_query", "scrub_sse",
        "scrub_text", "scrub_values",
    },
    "harness.cli": {"COMMANDS", "main"},
}  # fmt: skip


@pytest.mark.parametrize("package", sorted(PINNED))
def test_all_is_pinned_and_every_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) == PINNED[package], (
        f"{package}.__all__ changed: added {sorted(set(module.__all__) - PINNED[package])}, "
        f"removed {sorted(PINNED[package] - set(module.__all__))}. Update PINNED if this is deliberate."
    )
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.__all__ names {name!r}, which {package} does not define"


@pytest.mark.parametrize("package", ["harness", "faults", "judges", "scenarios"])
def test_every_module_is_private_or_declares_its_public_names(package: str) -> None:
    module = importlib.import_module(package)
    for info in pkgutil.iter_modules(module.__path__):
        if info.name.startswith("_"):
            continue
        public = importlib.import_module(f"{package}.{info.name}")
        assert hasattr(public, "__all__"), f"{package}.{info.name} is public but has no __all__"
