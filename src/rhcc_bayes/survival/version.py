"""The survival model's declared version, part of every posterior cache key.

Bump ``MODEL_VERSION`` by hand in the same commit as any change to the survival model
code that changes its posterior (likelihood blocks, priors' implementation, design
coding, hazard families): cached fits of the old model are then never reused. Spec,
evidence, sampler settings and seed are hashed separately and need no bump.
"""


# History (newest first): what each version changed.
# .19: where the size effects are levels (>= 10 arms per band), the free study effects split their
#   mean per group of studies with the same size bands (shift.study_groups, grouped_unit_normals: each
#   group's mean and zero-sum rest, an orthogonal change of variables, same prior and posterior). A
#   band's level traded off with its own studies' mean effect, not only the overall mean's (seed 2,
#   632 simulated arms: corr -0.4 to -0.5 between each level and the overall mean's coordinate).
#   Draws change for such evidence; the bundled evidence (size offsets) keeps model .18's graph
# .18: the free study effects (z_study, or z_study_rest beside shifted effects) are sampled as their
#   mean and the zero-sum rest, z = ZeroSumNormal(1) + N(0, 1) / sqrt(n) (survival/shift.unit_normals):
#   an orthogonal change of variables, same prior and posterior (log density identical, no constant).
#   The mean of ~110-1700 study effects traded off with the baseline level along one dense direction
#   a diagonal mass matrix cannot follow (seed 2, 170 simulated arms: corr(gamma_first, mean z) -0.48,
#   both bulk ESS ~675); now it is one coordinate. Draws change for every evidence base
# .17: those bounded levels' start jitter is uniform(-c, c), c their transform's length scale
#   (survival/transforms.NormalSoftplusBound.start_jitter), not uniform(-1, 1): a start many c past
#   the bound froze one chain of 2573 simulated arms (seed 2) in early warm-up (another chain froze
#   from a first step of 0.1: the default spec's [sampler] initial_step is 0.01, hashed with the
#   sampler). Same posterior; the draws of evidence with >= 10 arms per size band change, the bundled
#   evidence's do not (its draws change through the first step only)
# .16: data-rich size levels (bounded by another free variable) start from their transformed support
#   point at the other variables' support points plus their own jitter
#   (inference/compile_index.initial_point_rule), so such models get a compile-index entry; PyMC's
#   start moved with the bounds' jitter. Same posterior; the draws of evidence with >= 10 arms per
#   size band change, the bundled evidence's do not
# .15: binomial count rows (landmarks, medians) take the binomial coefficient from a log-factorial
#   table (three gathers per row) instead of three gammaln per row and gradient call and check p
#   row-wise (survival/likelihood.binomial_logp, a CustomDist with numpy binomial draws): same log
#   density and gradient (to ~1e-12 in FAST_COMPILE; the same simulated data), 0.72x the gradient
#   time at 2587 simulated arms; the compiled float order differs, so the default spec's draws
#   change (0 divergences at the spec seed)
# .14: treatment deviations of a class whose every treatment has arms partially centred, tau^(1-w) *
#   ZeroSumNormal(tau^w) with w from the least-informed treatment and tau's prior mode
#   (survival/model._centring_weights): same prior and posterior; the bundled evidence's graph
#   unchanged (w = 0: prior-only treatments in every class), simulated 46 arms lose the
#   tau_treatment funnel's divergences
# .13: every likelihood row carries a weight as data (binomial n and count, normal (keep, se, add)
#   terms, potential weights; survival/holdout.py): held-out studies (weight 0) reuse the full
#   evidence's compiled model; weight 1 gives the .12 log density
# .12: normal covariate effects carried by <= 3 studies on all their arms (default spec: beta_stage
#   with peng_106, size_3to5_offset with wan_105 and ref_92_93) sampled jointly with those studies'
#   z_study through a sigma_study-dependent Householder reflection (survival/shift.py): same prior
#   and posterior, beta_stage / size_3to5_offset / z_study now Deterministics
# .11: positive steps and scales (HalfNormal covariate steps, sigma_population, the Gamma(2) SDs)
#   sampled on the normal-softplus coordinate instead of the log
#   (survival/pooling.positive_transform; its log-Jacobian via erfc, which numba can cache, not
#   erfcx): same prior and posterior; the default spec then needs target_accept 0.93 and 32-35
#   leapfrog steps per draw instead of 0.96 and 63 (0 divergences, seeds 1-8 + spec)
# .10: secondary sub-models sampled as one block over a secondary_outcome dim (same log density,
#   0.81x gradient time)
# .9: data-rich size levels (>= 10 arms per band) bounded by the normal softplus instead of the
#   softplus (survival/steps.py: a free coordinate left beyond its bound in warm-up is pulled back),
#   same prior, the bundled evidence's graph unchanged (offsets)
# .8: secondary sub-models sample the level the data pin (intercept + sigma * mean z_study), same
#   prior
# .7: prior treatment coded with resection as the reference (only transplant has an effect)
# .2: cure median smooth floor
# .3: latent n, ranges, pooled results, population bias
# .4/.5: disease-stage covariate (advanced: PVTT / extrahepatic spread, normal prior) and centred
#   zero-sum deviations in classes whose treatments all have >= 10 arms (two branches)
# .6: both merged
MODEL_VERSION = "survival-2026.12.02.19"
