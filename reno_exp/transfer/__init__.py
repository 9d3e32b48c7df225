"""Noise transfer: the initial and the best noise of a ReNO run rendered, without gradient, by a multi-step
pipeline (the authors' ``--enable_multi_apply``). One class per target family; ``transfer=`` picks one."""
