"""Measures taken around a trial: timings, tokens, memory, energy, hardware."""
