"""The survival model's declared version, part of every posterior cache key.

Bump ``MODEL_VERSION`` by hand in the same commit as any change to the survival model
code that changes its posterior (likelihood blocks, priors' implementation, design
coding, hazard families): cached fits of the old model are then never reused. Spec,
evidence, sampler settings and seed are hashed separately and need no bump.
"""

MODEL_VERSION = "survival-2026.12.01.11"  # .11: positive steps and scales (HalfNormal covariate steps, sigma_population, the Gamma(2) SDs) sampled on the normal-softplus coordinate instead of the log (survival/pooling.positive_transform; its log-Jacobian via erfc, which numba can cache, not erfcx): same prior and posterior; the default spec then needs target_accept 0.93 and 32-35 leapfrog steps per draw instead of 0.96 and 63 (0 divergences, seeds 1-8 + spec); .10: secondary sub-models sampled as one block over a secondary_outcome dim (same log density, 0.81x gradient time); .9: data-rich size levels (>= 10 arms per band) bounded by the normal softplus instead of the softplus (survival/steps.py: a free coordinate left beyond its bound in warm-up is pulled back), same prior, the bundled evidence's graph unchanged (offsets); .8: secondary sub-models sample the level the data pin (intercept + sigma * mean z_study), same prior; .7: prior treatment coded with resection as the reference (only transplant has an effect); .2: cure median smooth floor; .3: latent n, ranges, pooled results, population bias; .4/.5: disease-stage covariate (advanced: PVTT / extrahepatic spread, normal prior) and centred zero-sum deviations in classes whose treatments all have >= 10 arms (two branches); .6: both merged
