"""How the survival fit scales with the number of arms, on simulated evidence with known truth.

For each size, a synthetic evidence table with the review's reporting mix
(:func:`rhcc_bayes.survival.simulate.synthetic_table`: one- and two-arm studies, landmarks,
medians, hazard-ratio-only arms, size bands) gets observations drawn from the model's own
likelihood at a truth drawn from the prior (the same truth at every size: drawn with the size
effects in offset form), and is fitted with the default spec's sampler settings. One row per
size: compile s, sampling s (wall), CPU s of sampling (all chains), end-to-end s (design,
simulation, compile, sampling), min bulk/tail ESS and max R-hat over the gated parameters
(free parameters + treatment-level deterministics) and the size effects in either form,
divergences, mean leapfrog steps per draw, ESS/s (min bulk ESS per sampling second), ESS per
CPU second, ESS per 1000 gradients (kept draws), the parameter with the lowest ESS; at the end
the fitted growth exponents b of ESS/s ~ arms^b (target: b >= -0.5), ESS/CPU s and ESS/gradient.

    PYTHONPATH=src python benchmarks/scaling.py [--arms 45,170,650,2600] [--draws 2000 --tune 1500]
        [--target-accept 0.98] [--set key=value ...] [--offsets]

The sampler is the default spec's whole ``[sampler]`` table (chains, mass-matrix adaptation)
with the command line's overrides; before 2026-12-01 only draws, tune and target_accept were
taken from it and the mass matrix was nutpie's gradient-based default whatever the spec said.

Model .11 with the default spec's sampler (4 x 1200 draws + 500 tune, target_accept 0.93,
draws-only mass matrix), seed 1, 2026-12-01:

  arms compile s sample s  CPU s  e2e s ESS bulk ESS tail  R-hat  div steps  ESS/s ESS/CPUs ESS/kgrad  gate  lowest ESS   load
   173     116.5     10.8      7    134     1700     2486  1.005    0  15.1  157.3    230.8     23.50  pass  sigma_study  3.4
   669     127.8     28.8     27    160     1896     2314  1.005    0  26.2   65.7     70.9     15.06  pass  sigma_study  3.8
  2587     128.0    142.0     95    276     2437     2407  1.007    0  31.0   17.2     25.7     16.37  pass  sigma_study  4.2
  2587      17.7     48.1     95     71     2437     2407  1.007    0  31.0   50.7     25.6     16.37  pass  sigma_study  1.7  (warm caches)
  growth exponents 173-2587: ESS/s ~ arms^-0.82 (loaded wall), ESS/CPU s ~ arms^-0.81, ESS/gradient ~ arms^-0.13

Model .12's default sampler (4 x 1000 draws + 300 tune, target_accept 0.90; the simulated designs
shift no effect, survival/shift.py, so their graph is model .11's), seed 1, 2026-12-01:

  arms compile s sample s  CPU s  e2e s ESS bulk ESS tail  R-hat  div steps  ESS/s ESS/CPUs ESS/kgrad  gate  lowest ESS   load
   173      72.5     13.6      6    106     1512     2280  1.005    0  15.0  111.2    270.6     25.20  pass  sigma_study  4.6
   660     339.3     50.0     16    422     1934     2098  1.006    0  15.4   38.6    123.6     31.42  pass  sigma_study  5.4
  (compile: cold numba caches under load; at 660 arms 0.90 takes 15.4 steps per draw against 26.2 at 0.93)

The same settings at all four sizes, seed 1, 2026-12-01 (later session; cold numba caches; another
engineer's tests ran beside it from 660 arms on). 173 and 660 arms draw exactly as above (same
ESS), but with 1.7-1.8x the CPU seconds: the same draws of the same graph cost more CPU in this
session (the warm 2587-arm rerun below, model .11's graph at 31 steps, spent 1.05 ms of CPU per
gradient incl. warm-up against 0.45 ms in model .11's warm row; the gradient itself was not
re-timed, benchmarks/gradient.py), so compare ESS/kgrad across blocks, not seconds:

  arms compile s sample s  CPU s  e2e s ESS bulk ESS tail  R-hat  div steps  ESS/s ESS/CPUs ESS/kgrad  gate  lowest ESS   load
    46     103.5      7.0     13    137     1388     1279  1.003   24  55.6  198.3    107.0      6.24  FAIL  sigma_study  1.0
   173     137.1      9.5     10    155     1512     2280  1.005    0  15.0  158.5    155.4     25.20  pass  sigma_study  1.9
   660     126.2     28.2     29    182     1934     2098  1.006    0  15.4   68.6     67.3     31.42  pass  sigma_study  2.3
  2587     127.4    159.2    162    297     1566     1981  1.009    0  31.0    9.8      9.7     12.63  pass  sigma_study  2.6
  2587      38.5     85.6    169    136     1566     1981  1.009    0  31.0   18.3      9.3     12.63  pass  sigma_study  0.0-1.5  (warm caches)
  growth exponents 46-2587 (as printed, cold rows): ESS/s ~ arms^-0.74, ESS/CPU s ~ arms^-0.60, ESS/gradient ~ arms^0.17
              173-2587: ESS/s ~ arms^-1.03 (cold, sampling on ~1 core at 2587) / -0.80 (warm 2587 row),
                        ESS/CPU s ~ arms^-1.03, ESS/gradient ~ arms^-0.26

46 arms fails the gate at target_accept 0.90: 24 divergences (11/6/4/3 by chain), in the upper
tail of tau_treatment (divergent draws' mean 0.87 against 0.51 overall; the lowest tail ESS,
1279, is tau_treatment's too) -- the non-centred treatment effects' funnel, which 46 arms do not
constrain. Tried with --target-accept / --tune (the gate's other figures all pass):

  seed  arms  settings             div  steps  ESS bulk ESS tail  R-hat  sample s  gate  load
     1    46  0.90, tune 300         24   55.6      1388     1279  1.003      7.0  FAIL  1.0
     1    46  0.90, tune 800         19   55.7      1587     1842  1.003     16.6  FAIL  2.3
     1    46  0.95                    1   63.6      1535     1899  1.004     13.1  FAIL  1.7
     1    46  0.98                    0  104.3      1513     2055  1.005     21.2  pass  2.1
     2    45  0.90                    2   34.6      1376     1652  1.004      7.2  FAIL  2.1
     2    45  0.95                    0   53.1      1450     2081  1.006      9.8  pass  2.3
     2    45  0.98                    0   65.2      1429     2062  1.003     13.2  pass  2.3

Model .14 (survival/model._centring_weights): a class whose every treatment has arms samples its
deviations partially centred, tau^(1-w) * ZeroSumNormal(tau^w) with w = I / (I + 1/0.15^2), I = the
least-reported treatment's arms / 0.3^2 (sigma_study's prior mean; 0.15 is tau_treatment's prior
mode), 46 arms: ablation 0.56, transarterial 0.50-0.60; the one-treatment classes have no deviation.
"tau at mean" takes tau at its prior mean 0.3 instead (w 0.80-0.86, this session's first version).
Same prior and posterior (tests/survival/test_model.py); the truth is still drawn with model .13's
treatment block, so every row of a seed fits the same data (posterior mean of tau_treatment, .13 /
.14: 0.513 / 0.510, 0.409 / 0.420, 0.153 / 0.155). Default
sampler (4 x (300 + 1000), 0.90), 2026-12-01, another engineer's tests beside it (load 3.3-8.0;
compare ESS/kgrad = 1000 x min(bulk, tail ESS) / leapfrog steps of the kept draws):

  seed  arms  model               div  steps  ESS bulk ESS tail  R-hat  sample s  ESS/s ESS/kgrad  load  divergent draws
     1    46  .13 (non-centred)    30   54.6      1190     1246  1.003     16.6   71.7      5.45   3.6  tau mean 0.97 (all 0.51)
     1    46  .14 (w 0.56 / 0.60)   0   31.0      1858     2334  1.004     12.9  143.8     15.00   3.5
     1    46  tau at mean (0.83/0.86) 0 30.9      1852     2410  1.005     11.9  156.0     14.96   4.2
     1    46  w = 1 (centred)       0   31.0      1675     2109  1.003     19.6   85.6     13.51   6.1
     1    46  w = 0.6 (fixed)       0   30.9      1815     2288  1.005     19.0   95.5     14.69   7.4
     2    45  .13                   1   36.1      1577     1972  1.004     24.6   64.1     10.92   5.0
     2    45  .14 (w 0.56 / 0.50)   0   31.1      1351     2156  1.004     24.0   56.2     10.86   4.1
     2    45  tau at mean (0.83/0.80) 0 30.9      1664     2476  1.003      9.3  178.1     13.44   4.3
     2    45  w = 1 (centred)       0   31.0      1580     1953  1.003     32.4   48.8     12.74   8.0
     2    45  w = 0.6 (fixed)       0   31.2      1746     2231  1.004     15.6  111.9     13.97   5.7
     3    46  .13                  23   22.1      1903     1575  1.004     11.3  167.9     17.81   4.3  tau at both ends (0.001-0.09, 0.29-0.75)
     3    46  .14 (w 0.56 / 0.50)   0   15.0      2068     1952  1.004     15.6  132.6     32.49   4.1
     3    46  tau at mean (0.83/0.80) 3 15.1      1947     2286  1.003      7.0  277.2     32.25   4.3  tau 0.01, 0.36, 0.46 (mean 0.15)
     3    46  w = 1 (centred)       9   16.9      1658     1819  1.005      6.9  239.3     24.51   4.7
     3    46  w = 0.6 (fixed)       0   15.2      1895     2166  1.004     10.5  180.6     31.27   6.4

The divergences of model .13 (seed 1) sat in the upper tail of tau_treatment, where the data
pin the two-treatment classes' deviations and z is squeezed to (mu - m) / tau. Seed 3's tau is
small (median 0.12) and wide (0.03-0.38): with tau at its prior mean (w 0.80-0.86) 3 divergences
remained, at tau 0.01-0.46; a fixed w = 0.6 and the rule at tau's prior mode (model .14) had none
(model .13 needs 0.98 on seed 1). ESS per gradient: .14 equals .13 on seed 2 (10.9; seed 2's
min bulk ESS, sigma_study's, varied 1351-1746 across the four w) and is 2.8x / 1.8x on seeds 1 / 3.
Seed 2 here: 1 divergence with model .13 (2 in the table above, an earlier session). Rejected: w from the class's mean information (0.33-0.67 on the
bundled evidence, whose classes all have a treatment without arms): the default spec's min bulk /
tail ESS fell from 2110 / 2186 to 630 / 602, both tau_treatment's (ESS/kgrad
17.0 -> 4.9), a prior-only treatment in a partly centred class; with the least-informed rule the
bundled evidence keeps w = 0 and model .13's graph (the default spec's fit: the same draws, 0
divergences, 31 steps, 2110 / 2186, 17.0 ESS/kgrad; its held-out fits are unchanged too: guo_109
and ref_68 keep 1 divergence each at the spec seed, guo_109's at sigma_population 0.008 (the
population-bias term's neck, not the treatment block), ref_68's (its TARE arm is the only one:
TARE prior-only once held out) at tau_treatment 0.49 with the prior-only MWA's mu at -1.46, 3.7 SD
below its mean).

2587 arms passes the gate (lowest ESS sigma_study, R-hat 1.009) but not the 120 s target on this
session: warm, 136 s end to end (38.5 s compile from the index and numba cache, 85.6 s sampling,
169 CPU s) and 166 s for the whole process (/usr/bin/time: 244 s user, load 0.0 before, 1.5 after);
cold, 297 s end to end (the whole four-size run 13:35 wall, 772 s user). At model .11's 0.45 ms
per gradient the same 161k gradients would be ~37 s of sampling on 2 cores. ESS/s still falls
faster than arms^-0.5: per kept draw the steps double (15 -> 31, tree depth 4 -> 5) between 660 and
2587 arms and the gradient's cost grows with the arms.
Model .15 (binomial coefficients looked up, survival/likelihood.binomial_logp): the gradient at
2587 arms takes 0.72x model .14's (alternated A/B, load ~4, benchmarks/gradient.py). One run of
each, one after the other, 2026-12-01, seed 1 (the design has 2572 arms today), load 5.7 both
(other work on the machine; wall seconds ~2x an idle machine's):

  model  arms compile s sample s  CPU s  e2e s ESS bulk ESS tail  R-hat  div steps ESS/kgrad  gate
   .14   2572      53.4    238.7    229    312     1814     1852  1.009    0  31.0     14.63  pass
   .15   2572     112.5    160.7    156    347     1816     1877  1.010    0  31.0     14.64  FAIL (R-hat)

Sampling 0.67x (CPU 0.68x) at the same ESS per gradient; .15's compile was its first (graph
rewrites with a warm numba cache), .14's from the compile index. The draws differ (float order):
.15's max R-hat, 1.010 (sigma_study's), misses the gate's 1.01 where .14's 1.009 passed -- the
same borderline R-hat either way, not a change of the posterior. Extrapolated from the 136 s
warm run above (85.6 s sampling), .15 would take ~58 s of sampling and ~108 s end to end: under
the 120 s target by less than this machine's load noise; not measured warm and idle.
Measured at 17:00 the same day on a near idle machine (load 0.3-1.4), main at .15, twice:

  arms compile s sample s  CPU s  e2e s ESS bulk ESS tail  R-hat  div steps  ESS/s ESS/CPUs ESS/kgrad  gate
  2572      50.5     71.9    136    140     1816     1877  1.010    0  31.0   25.3     13.4     14.64  FAIL
  2572      52.3     75.1    142    146     1816     1877  1.010    0  31.0   24.2     12.8     14.64  FAIL

(whole process 177 / 182 s). Over the 120 s target because the compile is not from the index: this
model got no compile-index entry, so every new process rewrote its graph (~50 s). Why: the
data-rich size levels (survival/steps.py) are bounded by other free variables, so PyMC's
jittered start of their transformed coordinate moved with those variables' jitter and no fixed
rule could replay it (compile_index.initial_point_rule returned None).

Model .16 (2026-12-01, the next session): such a variable starts at its transformed support
point (at the others' support points) plus its own jitter, a rule the index replays; the
2587-arm model now gets an entry. Seed 1, one process after the other, load 0.5-1.5 (this
machine ran ~2.5-3x slower than on earlier days: a pure-Python loop of 1e7 additions took
1.37 s, the default spec's gradient 151 us against 44 us measured at model .10, and model .11's
graph re-timed the same hour 138 us):

  arms compile s sample s  CPU s  e2e s ESS bulk ESS tail  R-hat  div steps  ESS/s ESS/CPUs ESS/kgrad  gate
  2572     128.5     76.0    149    222     1415     1669  1.010    0  31.0   18.6      9.5     11.41  FAIL  (full compile, writes the entry)
  2572       0.6     73.2    144     91     1415     1669  1.010    0  31.0   19.3      9.8     11.41  FAIL  (from the index)

91 s end to end from the index: within the 120 s target. The draws differ from .15's (the
size levels start elsewhere); sigma_study's R-hat is again 1.010 (seed 1), the gate's edge.

Seed 2 (2573 arms) fails the gate, and did before model .16: one chain of four freezes in early
warm-up. Same hour, load 0.4-1.4:

  model / start / mass matrix        compile s sample s  ESS bulk ESS tail  R-hat   div  steps  gate
  .16, draws-only (default)              167.2    240.2         7        4  1.600   913   76.8  FAIL
  .15, PyMC's start, draws-only           50.2    116.5         7       11  1.599  1000   28.0  FAIL
  .16, gradient-based mass matrix          0.7     75.7       682     1367  1.010     0   31.0  FAIL (ESS)

In the .16 default run all 913 divergences are chain 0's: step size 2.8e-7 against 0.164-0.166
for the others (214 steps per draw against 31), at sigma_study 0.008 (others 0.202),
tau_treatment 0.05 (0.29-0.30), size_gt5_level on its bound (-3.434 = size_3to5_level; others
-3.18 vs -3.25) and size_le3_level -5.71 (others -3.40). A chain that leaves the posterior's
bulk in its first steps and adapts its step size to nothing: the pattern model .10 showed at 650
arms. The gradient-based mass matrix keeps all four chains together, at half the ESS per
gradient. A smaller start jitter (``--jitter-scale``: support point + scale x the same
uniform(-1, 1) draws) removes the freeze as well, same hour, load 1.4:

  seed  arms  jitter  compile s sample s  e2e s ESS bulk ESS tail  R-hat  div  steps  gate  lowest ESS
     2  2573     1.0      167.2    240.2    425        7        4  1.600  913   76.8  FAIL  z_study
     2  2573     0.5        0.6     94.0    109      776     1038  1.008    0   31.0  FAIL  size_steps
     2  2573     0.1        0.8    103.2    122      939     1408  1.009    0   31.0  FAIL  size_3to5_level
     1  2587     1.0        0.6     73.2     91     1415     1669  1.010    0   31.0  FAIL  sigma_study
     1  2587     0.1        0.7     85.0    102     1784     1839  1.009    0   31.0  pass  sigma_study

     1    46     1.0       89.0      5.7    103     1652     2179  1.004    0   31.0  pass  sigma_study
     1    46     0.1        0.6      5.3     15     1814     2046  1.005    0   31.0  pass  sigma_study

(the --jitter-scale 0.5 row was run twice, through a scratch wrapper and through the option:
identical). The bundled evidence at 0.1 (benchmarks/seed_sweep.py with the same wrapper, seeds
1-3): 0 divergences, max R-hat 1.0040-1.0056, min bulk ESS 1538-1809 (tau_treatment), all pass;
at 1.0 last session, seeds 1-4: 1592-1932. Not adopted yet: a smaller jitter also makes the chains' starts less overdispersed,
which is what lets R-hat see a second mode; it needs the seed sweep at every size and on the
bundled evidence (whose draws it changes) before it becomes the default. Seed 2's ESS stays
under 1000 (the size effects) even without the frozen chain.

Model .17 (bounded levels jittered by their transform's length scale c, NormalSoftplusBound.start_jitter;
the default spec's first warm-up step 0.01 instead of nutpie's 0.1, [sampler] initial_step),
2026-12-01, default sampler, load 1.3-3.1 (two runs at a time):

  seed  arms  settings                       ESS bulk ESS tail  R-hat  div steps ESS/kgrad  gate  lowest ESS
     2  2573  .16 (jitter 1, first step 0.1)        7        4  1.600  913  76.8       --  FAIL  (frozen chain)
     2  2573  c jitter, first step 0.1              7        4  1.598  381 182.4     0.01  FAIL  (frozen chain)
     2  2573  .17                                 784     1287  1.009    0  31.0     6.33  FAIL  beta_size
     1  2587  .17                                1584     1729  1.009    0  31.0    12.77  pass  sigma_study
     3  2599  .17                                1544     1859  1.010    0  31.0    12.45  pass  sigma_study
     3  2599  c jitter, first step 0.1           1686     1895  1.011    0  31.0    13.60  FAIL  sigma_study
     2   632  .17 with first step 0.1               7       10  1.598  721  93.1     0.02  FAIL  (frozen chain)
     2   632  .17                                 763     1028  1.007    0  24.3     7.85  FAIL  beta_size
     2   170  .17                                 673      889  1.005    0  20.8     8.09  FAIL  gamma_first
     2   170  .17 with first step 0.1             927     1478  1.009    0  24.9     9.31  FAIL  gamma
     2    45  .17                                1783     1994  1.005    0  31.1    14.34  pass  sigma_study

Four chains of seed 2 at 2573 arms run by hand (warm-up saved, 300 + 200 draws): with the levels'
PyMC jitter and the first step 0.01, chain 0 froze (step size 4.5e-4 at warm-up draw 10, 0 by 50;
sigma_study 0.004); with c jitter and the first step 0.1, chain 3 jumped in its first five
transitions to the le3 level on its bound (gamma_first -4.64 -> -2.89) and froze. Both together:
none (step size 0.17-0.37 by draw 50). Seed 2's remaining low ESS is mixing, not a stuck chain
(gamma_first correlated -0.74 with size_3to5_offset at 170 arms; the baseline and size levels
also trade off with the mean of the study effects). nutpie's low-rank mass matrix
(--set low_rank_mass_matrix=true --set grad_based_mass_matrix=true), same hour:

  seed  arms  ESS bulk ESS tail  R-hat  div steps ESS/kgrad  gate
     2   170      1462     1677  1.005    0  15.0     24.37  pass
     2   632      1089     1132  1.006    0  15.2     17.95  pass
     2  2573      1373     1936  1.011    0  31.0     11.07  FAIL  (R-hat, sigma_study)
     3  2599      1570     1921  1.009    0  31.0     12.67  pass  (first step 0.1)
     1  2587      1407     1818  1.009    0  31.0     11.35  pass

The seed sweep of model .17 at every size (default sampler; min bulk ESS, all 0 divergences,
max R-hat <= 1.010): seed 1 at 46 / 173 / 660 / 2587 arms 1806 / 1605 / 1713 / 1584, all pass;
seed 3 at 41 / 162 / 635 / 2599: 2370 / 1182 / 1107 / 1544, all pass; seed 2 at 45 / 170 / 632 /
2573: 1783 / 673 / 763 / 784, three below the 1000 of the issue's target (above the gate's 400).
Low-rank on seeds 1 / 3 at the three smaller sizes: 1175 (tail 930, FAIL) / 1586 / 1371 and
2123 / 1515 / 1164: better than the diagonal on seed 2 only, so the diagonal stays the default.

Model .18 (the free study effects sampled as their mean and the zero-sum rest, survival/shift.py
unit_normals; same log density), 2026-12-02, default sampler, load 1.1-3.0 (two runs at a time).
Seed 2, 170 arms, model .17: corr(gamma_first, mean z_study) -0.48 and bulk ESS 673 / 679 for
the two; .18: the mean's ESS ~3700, gamma_first's 1338. Min bulk ESS, .17 -> .18:

  seed  arms  .17 bulk  .18 bulk  .18 tail  R-hat  div steps ESS/kgrad  gate  lowest ESS
     2    45      1783      1711      2305  1.005    0  31.0     13.78  pass  sigma_study
     2   170       673      1014      1535  1.004    0  28.1      9.04  pass  beta_size
     2   632       763       962      1499  1.004    0  27.2      8.83  FAIL  beta_size
     2  2573       784       818      1373  1.010    0  31.0      6.60  FAIL  beta_size
     1    46      1806      1905      2053  1.003    0  31.1     15.30  pass  sigma_study
     1   173      1605      1348      2025  1.005    0  15.0     22.46  pass  sigma_study
     1   660      1713      1587      1861  1.007    0  15.4     25.71  pass  sigma_study
     1  2587      1584      1758      1479  1.009    0  31.0     14.18  pass  sigma_study
     3    41      2370      1866      1646  1.003    0  15.2     30.73  pass  sigma_study
     3   162      1182      1323      1486  1.006    0  15.0     22.04  pass  sigma_study
     3   635      1107      1482      1820  1.006    0  15.4     24.09  pass  sigma_study
     3  2599      1544      1529      1766  1.008    0  31.0     12.33  pass  sigma_study

Seed 2 still misses the issue's 1000 at 632 and 2573 arms: the size levels (and gamma_first)
each trade off -0.39 to -0.47 with the study effects' mean (632 arms), several pinned sums
sharing one coordinate. Tried and dropped: sampling the baseline and the size levels where the
data pin them (free gamma_first' = gamma_first + sigma_study * mean z with its prior mean shifted
by the same, the levels anchored on it, study effects sigma_study * the zero-sum rest; a scratch
build of the simulated model): seed 2, 170 arms, min bulk ESS 608 (gamma_first' 763) against 877
for the split in the same script (one run each).

Model .19 (where the size effects are levels, the study effects' mean split per group of studies
with the same size bands, shift.grouped_unit_normals; same log density), 2026-12-02, default
sampler, load 1.1-4.3 (two runs at a time). 45 / 46 / 41 arms keep .18's graph (fewer than 10
arms in some band: offsets, one group) and its draws:

  seed  arms  .18 bulk  .19 bulk  .19 tail  R-hat  div steps ESS/kgrad  gate  lowest ESS
     2   170      1014      1108      1692  1.005    0  30.4      9.10  pass  sigma_study
     2   632       962      1332      2129  1.006    0  31.0     10.72  pass  sigma_study
     2  2573       818       891      1573  1.008    0  31.0      7.18  FAIL  sigma_study
     1   173      1348      1424      1683  1.006    0  15.0     23.74  pass  sigma_study
     1   660      1587      1553      1630  1.007    0  15.5     25.11  pass  sigma_study
     1  2587      1758      1549      1792  1.011    0  31.0     12.49  FAIL  sigma_study (R-hat)
     3   162      1323      1018      1305  1.004    0  15.0     16.96  pass  sigma_study
     3   635      1482      1321      1736  1.004    0  15.3     21.60  pass  sigma_study
     3  2599      1529      1626      1846  1.007    0  31.0     13.12  pass  sigma_study

beta_size no longer limits any run; sigma_study does, everywhere. At ~2600 arms its R-hat sits
at 1.007-1.011 on every seed and in every version since .9 at 4 x 1000 draws, and seed 2's ESS
is 891. Partial centring of the study effects (u = sigma^(1-w) v, v ~ N(0, sigma^w), one w per
group; scratch) raised seed 2 at 2573 arms to 1948 / 2016 / 1976 bulk ESS at w = 0.25 / 0.5 / 1
(16 ESS per 1000 gradients against 7), but at w = 0.75 one chain froze (730 divergences, R-hat
1.60), and w from the groups' median study information (0.72 here) halved seed 1 at 173 arms
(1348 -> 609, sigma_study): not adopted (as the per-study weights of an earlier session, which
froze a chain at 660 arms, README). What does close the gate there is more draws, at linear
cost: --draws 2000 (4 x 2000), seeds 1 / 2 at 2587 / 2573 arms: min bulk ESS 3121 / 1759 (tail
4163 / 3365), R-hat 1.004 / 1.005, 0 divergences, sampling 252 / 286 s (load 2.6-3.3, two runs
at a time; the compile came from the index, 1 s).

Model .11 block: compile seconds of the first three rows are cold numba caches. The warm rerun
(same seed, the same draws: identical ESS) takes 71 s end to end for 2587 arms (85 s for the whole process with
imports, /usr/bin/time): within the 120 s target. ESS/s still falls faster than arms^-0.5:
the cost per gradient grows with the arms (CPU s per kept draw x4 from 669 to 2587 arms).
Model .10 at these settings (log-scale steps and scales) failed at ~650 arms on seeds 1 and 2:
one chain of four froze in early warm-up (step size adapted to 0 at a log density ~2000 below
the other chains', R-hat 1.6, 400-1000 divergences; tune 1000 did not help), while nutpie's
gradient-based mass matrix passed; the normal-softplus coordinate of model .11 passes both.

Model .9 (size levels bounded by the normal softplus, survival/steps.py) with the default
spec's sampler (4 x 3000 draws + 1500 tune, target_accept 0.95), 2026-11-30, on a shared
2-core machine at load 4.4-7.0 (wall seconds 2-3x an idle machine's; CPU s and ESS per
gradient are the comparable figures):

  seed  arms compile s sample s  CPU s  e2e s ESS bulk ESS tail  R-hat  div steps  ESS/s ESS/CPUs ESS/kgrad  gate  lowest ESS     load
     1   173      53.9     25.4     16     83     3359     3641  1.002    0  19.4  132.1    210.6     14.39  pass  sigma_study     5.6
     1   660      43.5     82.8     60    128     5860     5534  1.003    0  31.0   70.8     97.6     15.75  pass  sigma_study     6.0
     1  2587      49.2    298.4    194    354     4753     4281  1.002    0  31.0   15.9     24.4     12.78  pass  sigma_study     7.0
     2  2573      56.8    321.1    219    382     1332     2469  1.005    0  31.0    4.1      6.1      3.58  pass  size_steps      6.5
     3  2599      59.2    301.7    228    372     4055     3935  1.003    0  31.0   13.4     17.8     10.90  pass  sigma_study     4.4
  growth exponents, seed 1, 173-2587 arms: ESS/s ~ arms^-0.78 (wall time at load 5.6-7.0; target
  >= -0.5 not met), ESS/CPU s ~ arms^-0.80, ESS/gradient ~ arms^-0.04 (flat: the cost is the
  gradient's, arms^0.76, and the tree depth, 19 -> 31 steps, not the geometry); 173-660:
  ESS/s ~ arms^-0.47

Compile seconds are cold numba caches. 2587 arms is not within 120 s end to end as measured
(354 s at load 7); its 194 CPU s of sampling over 2 idle cores would be about 100 s of sampling
before design, simulation and compile. Seed 2 is a different design (the seed also draws it):
its lowest ESS is the size effects', with the plain softplus too (min bulk ESS 1362, beta_size,
R-hat 1.006, ESS/kgrad 3.66 at load 8.2): a property of that design, not of the bound.

Why model .8 failed at 2587 arms, seed 1 (the plain softplus bound; reproduced with the start
rule before e443cc8, nutpie's warm-up and unconstrained draws saved): chain 0 started inside
the bound (size_steps[0] = 0.04, 2.3 scales c = 0.017), but nutpie's initial mass matrix gave the
le3 level's free coordinate y a variance of 3e-6 (its initial gradient was -2.8e5) while the
3to5 level, its bound, fell 2.7 in the first 50 warm-up draws. The bound passed y, leaving it
90-150 scales beyond: x - bound ~ c exp(-|t|) (0 in double precision), the likelihood's gradient
on y gone, only the log-Jacobian's constant slope 1/c = 60 pulling it back, at about 0.25 per
1000 draws with the mass matrix adapted to the stuck chain (inverse 2e-6 against 3e-4 in the
others). So the le3 level sat on the 3to5 level (both -5.83, against -6.25 / -5.58 in the other
chains), the study effects absorbed the difference (sigma_study 0.26 against 0.18): a trap, not
a mode -- the chain's mean log density was 174 below the other three's (-14758 against
-14584), no divergence, R-hat 1.59. The scale c is not badly chosen (0.017 against a
posterior SD of 0.024 for the step; a larger c only shortens the stranding in scales, 2.5 / c,
with the same constant slope: not tried), and the start was inside the bound. The normal softplus's log-Jacobian
log Phi(t) ~ -t^2/2 pulls y along with the bound (slope |t|/c): on the same seeds and start
the chain reached step 0.001 at warm-up draw 20 and was back at 0.87 by draw 50 (R-hat 1.00,
all four chains' mean log density within 5). The start rule since e443cc8 (each variable's
support point at the others' unjittered support points) can start a level up to 1 (60 scales)
beyond its bound (y - bound = -1 + U1 - U2 for two unit jitters): the same trap from draw 0 with
the plain softplus, pulled back here.

Measured 2026-11-30, seed 1, 4 x 2000 draws + 1500 tune, target_accept 0.98 (models/default.toml).
The machine (2 cores) was shared, load average 5-7: wall seconds are 2-3x what an idle
machine gives (compile seconds include cold numba caches); CPU s and ESS per gradient are the
trustworthy figures.

Size effects as levels where data-rich (survival/steps.py; 46 arms: offsets, too few arms per band):

  arms compile s sample s  CPU s  e2e s ESS bulk ESS tail  R-hat  div steps  ESS/s ESS/CPUs ESS/kgrad  gate  lowest ESS
    46      12.0     53.8     22     76     1867     1815  1.003    0  81.8   34.7     85.3      2.85  pass  z_treatment
   173     108.9     38.1     19    152     2338     3081  1.003    0  31.0   61.3    124.2      9.43  pass  sigma_study
   660       8.3    137.6     48    148     2763     2351  1.002    0  31.9   20.1     58.2     10.82  pass  sigma_study
  2587      76.3    560.1    318    643     3506     3666  1.004    0  63.0    6.3     11.0      6.96  pass  sigma_study
  growth exponents (4 sizes): ESS/s ~ arms^-0.47, ESS/CPU s ~ arms^-0.52, ESS/gradient ~ arms^0.21
                  (173-2587): ESS/s ~ arms^-0.84, ESS/CPU s ~ arms^-0.90, ESS/gradient ~ arms^-0.11

Size effects as offsets at every size (``--offsets``, the parameterisation before levels):

  arms compile s sample s  CPU s  e2e s ESS bulk ESS tail  R-hat  div steps  ESS/s ESS/CPUs ESS/kgrad  gate  lowest ESS
    46      (the same fit as above: 46 arms already use offsets)
   173      59.9     38.7     19    104     1491     2305  1.003    0  31.0   38.5     79.1      6.01  pass  size_3to5_offset
   660       7.6    103.4     49    113     1170     1351  1.004    0  32.9   11.3     23.9      4.44  pass  size_3to5_offset
  2587      80.5    555.7    306    651     3099     3477  1.004    0  63.0    5.6     10.1      6.15  pass  size_3to5_offset
  growth exponents (4 sizes): ESS/s ~ arms^-0.50, ESS/CPU s ~ arms^-0.57, ESS/gradient ~ arms^0.15

Levels give 1.6x / 2.4x / 1.1x the ESS per CPU second at 173 / 660 / 2587 arms (660 arms at
4 x 1000 draws: min bulk / tail ESS 621 / 617 with offsets, 1217 / 1090 with levels). On an
idle machine 2587 arms would take about 318 / 2 = 160 s of sampling plus a warm compile: the
120 s end-to-end target is not met at target_accept 0.98 (see below).

Where the cost goes above ~170 arms is no longer the geometry. The gradient (logp + dlogp,
numba, one core) costs 0.026 / 0.044 / 0.106 / 0.345 ms at 46 / 173 / 660 / 2587 arms (about
arms^0.76 above 173; model .15 takes 0.82x / 0.72x of model .14's at 660 / 2587 arms, the
binomial coefficients looked up instead of three gammaln per count row: benchmarks/gradient.py),
and NUTS's step size shrinks with dimension as d^-1/4: on a standard
normal of the same dimension nutpie at target_accept 0.98 takes step 0.129 / 31 steps (464
dimensions, the 660-arm model: 0.113 / 31.9) and 0.092 / 61 steps (1764 dimensions, the
2587-arm model: 63). The tree depth doubles between 660 and 2587 arms whatever the
parameterisation; at target_accept 0.9 the same normal takes 31 steps at 1764 dimensions.
All-centred study effects (u_s ~ N(0, sigma) for every study) were worse on 660 arms (4 x 1000
draws: min bulk ESS 114, R-hat 1.04, 57 steps): the simulated studies are not data-rich against
sigma_study (posterior SD of z_study 0.49-1.0, median 0.79), so study effects stay non-centred.
"""

from __future__ import annotations

import argparse
import time
import warnings

TREATMENTS = {"TACE": "transarterial", "TARE": "transarterial", "RFA": "ablation", "MWA": "ablation",
              "SBRT": "radiation", "REPEAT-RESECTION": "surgery", "TACE-RFA": "combination"}


def simulated_design(n_arms: int, seed: int):
    """A synthetic design of about ``n_arms`` arms with simulated observations, and its spec.

    The truth is drawn with the size effects in their offset form, model .13's treatment
    block (no partial centring) and model .17's plain study effects at every size, so that it
    does not depend on which parameterisation the fit picks (the prior is the same, but PyMC's
    random streams follow the variables).
    """
    from unittest import mock

    import numpy as np

    from rhcc_bayes.evidence.table import Evidence
    from rhcc_bayes.evidence.taxonomy import Taxonomy
    from rhcc_bayes.specs import parse_spec
    from rhcc_bayes.survival.design import make_design
    from rhcc_bayes.survival.simulate import simulate_design, synthetic_table

    table = synthetic_table(max(1, round(n_arms / 1.5)), list(TREATMENTS), np.random.default_rng(seed))
    spec = parse_spec({"model": {"name": "scaling"}, "evidence": {"censoring": "none"}}, "scaling.toml")
    design = make_design(Evidence(table, Taxonomy.open_world(TREATMENTS), ("simulated",)), spec)
    from rhcc_bayes.survival import model

    # model .13's treatment block (centred only classes of >= CENTRED_MIN_ARMS arms per treatment)
    model13 = lambda d, s: model._centred_classes(d, s).astype(float)  # noqa: E731
    with mock.patch("rhcc_bayes.survival.steps.LEVELS_MIN_ARMS", 10**9), \
            mock.patch("rhcc_bayes.survival.shift.SPLIT_MIN_STUDIES", 10**9), \
            mock.patch.object(model, "_centring_weights", model13):
        _, simulated = simulate_design(design, spec, seed=seed)
    return simulated, spec


#: Size effects read in every parameterisation (free in one, deterministic in the other): gated here
#: too, so that rows are comparable whichever form the fit picks (survival/steps.py).
SIZE_EFFECTS = ("beta_size", "beta_size_ablation", "size_3to5_offset", "size_steps", "ablation_size_steps")


def run(n_arms: int, settings, seed: int) -> dict:
    import arviz as az

    from rhcc_bayes.inference.sampling import compile_model, sample
    from rhcc_bayes.survival.metadata import attach_metadata
    from rhcc_bayes.survival.model import build_survival_model
    from rhcc_bayes.synthesis import gate_var_names

    t0 = time.perf_counter()
    design, spec = simulated_design(n_arms, seed)
    model = build_survival_model(design, spec)
    compiled = compile_model(model)
    cpu1 = time.process_time()
    idata = sample(model, settings, seed=seed, compiled=compiled, log_likelihood=False, posterior_predictive=False)
    cpu_sampling = time.process_time() - cpu1  # nutpie's threads are this process's: CPU of all chains
    end_to_end = time.perf_counter() - t0
    attach_metadata(idata, design, spec, "simulated")
    names = list(dict.fromkeys([n for n in gate_var_names(idata) if n in idata.posterior]
                               + [n for n in SIZE_EFFECTS if n in idata.posterior]))
    bulk, tail, rhat = az.ess(idata, var_names=names), az.ess(idata, var_names=names, method="tail"), \
        az.rhat(idata, var_names=names)
    worst = min(names, key=lambda n: float(bulk[n].min()))
    sampling_s = float(idata.attrs["wall_time_sampling_s"])
    min_bulk = min(float(bulk[n].min()) for n in names)
    stats = idata.sample_stats
    return {"arms": len(design.arms), "compile_s": compiled.compile_seconds, "sampling_s": sampling_s,
            "cpu_s": cpu_sampling, "end_to_end_s": end_to_end,
            "bulk": min_bulk, "tail": min(float(tail[n].min()) for n in names),
            "rhat": max(float(rhat[n].max()) for n in names),
            "div": int(stats["diverging"].values.sum()), "worst": worst,
            "steps": float(stats["n_steps"].mean()), "step_size": float(stats["step_size"].mean()),
            "ess_s": min_bulk / sampling_s, "ess_cpu_s": min_bulk / cpu_sampling,
            "ess_per_kgrad": 1000 * min_bulk / float(stats["n_steps"].sum())}


def _scale_start_jitter(scale: float) -> None:
    """Chains start at support point + ``scale`` x PyMC's uniform(-1, 1) jitter (same RNG streams):
    the compile index's start rule, used by a full compile and by the index alike (a model without
    a rule keeps PyMC's start)."""
    import functools

    from rhcc_bayes.inference import compile_index

    compile_index.make_initial_point_func = functools.partial(compile_index.make_initial_point_func,
                                                              jitter_scale=scale)


def main() -> None:
    import os

    import numpy as np

    from seed_sweep import parse_overrides

    from rhcc_bayes.inference.sampling import SamplerSettings
    from rhcc_bayes.specs import load_spec

    default = load_spec("default").sampler
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default="45,170,650,2600")
    parser.add_argument("--draws", type=int, default=default["draws"])
    parser.add_argument("--tune", type=int, default=default["tune"])
    parser.add_argument("--target-accept", type=float, default=default["target_accept"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override another [sampler] setting (TOML value), e.g. --set grad_based_mass_matrix=true")
    parser.add_argument("--offsets", action="store_true",
                        help="fit the size effects in offset form at every size (the parameterisation before levels)")
    parser.add_argument("--jitter-scale", type=float, default=1.0,
                        help="scale the start's uniform(-1, 1) jitter (an experiment; the package uses 1)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.offsets:
        from rhcc_bayes.survival import steps

        steps.LEVELS_MIN_ARMS = 10**9
    if args.jitter_scale != 1.0:
        _scale_start_jitter(args.jitter_scale)
    # The default spec's whole [sampler] table (mass-matrix adaptation too), then the command line's overrides.
    settings = SamplerSettings.from_mapping({**default, "draws": args.draws, "tune": args.tune,
                                             "target_accept": args.target_accept, **parse_overrides(args.set)},
                                            source="--set")
    print(f"simulated evidence, {settings.chains} x {settings.draws} draws (+{settings.tune} tune), "
          f"target_accept {settings.target_accept}, grad-based mass matrix {settings.grad_based_mass_matrix}, "
          f"seed {args.seed}{', size effects as offsets' if args.offsets else ''}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    header = (f"{'arms':>6}{'compile s':>10}{'sample s':>9}{'CPU s':>7}{'e2e s':>7}{'ESS bulk':>9}{'ESS tail':>9}"
              f"{'R-hat':>7}{'div':>5}{'steps':>6}{'ESS/s':>7}{'ESS/CPUs':>9}{'ESS/kgrad':>10}  gate  lowest ESS")
    print(header)
    print("-" * len(header))
    rows = []
    for n in (int(a) for a in args.arms.split(",")):
        r = run(n, settings, args.seed)
        gate = r["bulk"] >= 1000 and r["tail"] >= 1000 and r["rhat"] <= 1.01 and r["div"] == 0
        rows.append(r)
        print(f"{r['arms']:>6}{r['compile_s']:>10.1f}{r['sampling_s']:>9.1f}{r['cpu_s']:>7.0f}{r['end_to_end_s']:>7.0f}"
              f"{r['bulk']:>9.0f}{r['tail']:>9.0f}{r['rhat']:>7.3f}{r['div']:>5}{r['steps']:>6.1f}{r['ess_s']:>7.1f}"
              f"{r['ess_cpu_s']:>9.1f}{r['ess_per_kgrad']:>10.2f}  {'pass' if gate else 'FAIL'}  {r['worst']}"
              f"   (load {os.getloadavg()[0]:.1f})", flush=True)
    if len(rows) > 1:
        arms = np.log([r["arms"] for r in rows])
        for key, label in (("ess_s", "ESS/s"), ("ess_cpu_s", "ESS per CPU s"), ("ess_per_kgrad", "ESS per gradient")):
            slope = np.polyfit(arms, np.log([r[key] for r in rows]), 1)[0]
            print(f"growth exponent: {label} ~ arms^{slope:.2f}" + (" (target >= -0.5)" if key == "ess_s" else ""))


if __name__ == "__main__":
    main()
