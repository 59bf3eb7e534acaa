"""harness/_pytest"""
