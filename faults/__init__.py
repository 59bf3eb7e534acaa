"""brownout's faults: fault models, fault plans, injectors and the virtual clock."""

from faults._clock import LogicalClock, VirtualClockLoop

__all__ = ["LogicalClock", "VirtualClockLoop"]
