"""Drivers compose a whole run for the CLI: the local pipeline, the progress
display, and the laptop-side Cloud Run driver that reuses the operator's
controller. Only the CLI imports them.
"""
