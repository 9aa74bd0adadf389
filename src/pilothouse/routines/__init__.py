"""The team's routines: a daily, weekly, monthly and quarterly report composed from
the data functions the other commands print (`score`, `cost`, `cost alerts`,
`flaky`, `report`, `changes`, ...), with what needs a human flagged."""
