"""brownout's scenarios: fault-plan strategies and the reference multi-agent systems."""

__all__: list[str] = []
