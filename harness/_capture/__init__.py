"""harness/_capture"""
