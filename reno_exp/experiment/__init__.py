"""One experiment: for each batch of (prompt, seed) items, noise -> method -> records, with the batch size, out-of-memory recovery, progress and loggers; the SLURM launcher's job states."""
