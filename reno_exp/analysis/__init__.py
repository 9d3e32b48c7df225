"""How ReNO changes the noise, and what the optimisation looks like: ``python -m reno_exp.analysis DIR``.

Reads only what runs wrote (records, noises, images, evaluation scores); builds no model.
"""
