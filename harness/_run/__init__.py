"""harness/_run"""
