"""brownout's judges: rubric-based LLM-as-judge evaluators."""

__all__: list[str] = []
