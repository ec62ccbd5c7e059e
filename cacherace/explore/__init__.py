"""Choosing schedules: the Hypothesis machine, tiers, applying actions, replay."""
