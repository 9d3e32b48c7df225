"""Where weights come from: the hub (one clear error when they are missing), seeded random initialisation, offline tokenizers, and the checkpoints a config needs."""
