"""A config's parts, built: the generator, the reward set and the transfer model, placed on a device and compiled."""
