"""harness/_log"""
