"""Measuring root-cause analysis on labelled cases: importers, the replay through the real pipeline, scores."""
