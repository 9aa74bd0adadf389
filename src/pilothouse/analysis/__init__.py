"""Pure functions over model records: no I/O, no clock, no environment."""
