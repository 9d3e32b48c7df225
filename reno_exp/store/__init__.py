"""What a run leaves on disk and how it is read back: run.yaml and the directory's lock, whole-or-absent records, the checks of a run directory, and what the records add up to."""
