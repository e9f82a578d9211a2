"""Planning core: normalize, diff, priorities, the planner and the plan document (pure, no I/O)."""
