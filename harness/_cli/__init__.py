"""harness/_cli"""
