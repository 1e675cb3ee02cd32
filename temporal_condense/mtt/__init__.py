"""Trajectory matching (MTT) for synthetic video sets: experts, functional student, matching loss."""
