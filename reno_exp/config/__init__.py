"""The config: every group's schema and value rules, composition from overrides, the preflight of a launch, what a result depends on, and how bad input ends (one line, exit code 2)."""
