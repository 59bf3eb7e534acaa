"""harness/_cassette"""
