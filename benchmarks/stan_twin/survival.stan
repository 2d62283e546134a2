// Stan twin of the rhcc_bayes default survival model (benchmark and correctness cross-check only).
//
// Mirrors src/rhcc_bayes/survival/{model,likelihood,secondary,pooling}.py and
// hazards/piecewise.py block by block, with the same parameterisation: non-centred treatment
// deviations centred within class, PyMC's zero-sum transform for ZeroSumNormal, Gamma(2, 2/m)
// between-group SDs, half-normal monotone covariate steps. Data come from
// benchmarks/stan_twin/export.py (1-based indices; index 0 means "none").
// Target for Stan 2.35 (httpstan 4.13): no sum_to_zero_vector, so the zero-sum transform is
// written out (the same isometric map as pymc.distributions.transforms.ZeroSumTransform).
functions {
  // PyMC ZeroSumTransform.backward (extend_axis): n-1 free values -> n values summing to 0,
  // an isometry onto the zero-sum plane (constant Jacobian).
  vector zero_sum(vector y) {
    int n = num_elements(y) + 1;
    real s = sum(y);
    real norm = s / (sqrt(n) + n);
    real fill = norm - s / sqrt(n);
    return append_row(y, fill) - norm;
  }

  // ZeroSumNormal(sigma) log density of a zero-sum vector x (PyMC's zerosumnormal_logp).
  real zero_sum_normal_lpdf(vector x, real sigma) {
    int n = num_elements(x);
    return -0.5 * dot_self(x) / square(sigma) - (n - 1) * (0.5 * log(2 * pi()) + log(sigma));
  }

  // z minus its class mean (pooling.centred_within_class).
  // mean of each secondary outcome's study deviates z (flat vector, outcome of each entry)
  vector sec_z_mean(vector z, array[] int outcome, int n_outcome) {
    vector[n_outcome] total = rep_vector(0, n_outcome);
    vector[n_outcome] count = rep_vector(0, n_outcome);
    for (k in 1:num_elements(z)) {
      total[outcome[k]] += z[k];
      count[outcome[k]] += 1;
    }
    return total ./ count;
  }
  vector centred_within_class(vector z, array[] int cls, int n_class) {
    int n = num_elements(z);
    vector[n_class] total = rep_vector(0, n_class);
    vector[n_class] count = rep_vector(0, n_class);
    vector[n] out;
    for (j in 1:n) {
      total[cls[j]] += z[j];
      count[cls[j]] += 1;
    }
    for (j in 1:n) out[j] = z[j] - total[cls[j]] / count[cls[j]];
    return out;
  }

  // Time at which the piecewise cumulative hazard reaches level (Piecewise.inverse_cumhaz_pt:
  // sum of the in-segment candidates, exactly one for a monotone H).
  real inverse_cumhaz(real theta, vector gamma, vector lo, vector hi, vector width, real level) {
    int n_seg = num_elements(gamma);
    real h_at_cut = 0;
    real out = 0;
    for (k in 1:n_seg) {
      real h = exp(gamma[k] + theta);
      real t_cand = lo[k] + (level - h_at_cut) / h;
      if (h_at_cut <= level && (k == n_seg || t_cand <= hi[k])) out += t_cand;
      h_at_cut += h * width[k];
    }
    return out;
  }

  // logit q_obs ~ N(logit q_model, 1 / (R q~ (1 - q~))), q~ continuity corrected (likelihood._logit_normal).
  real logit_normal_lpdf(vector q_obs, vector q_model, vector at_risk) {
    vector[num_elements(q_obs)] q_cc = (at_risk .* q_obs + 0.5) ./ (at_risk + 1.0);
    vector[num_elements(q_obs)] sd = inv_sqrt(at_risk .* q_cc .* (1 - q_cc));
    return normal_lpdf(logit(q_cc) | logit(q_model), sd);
  }

  vector clip(vector x, real lo, real hi) {
    return fmin(fmax(x, lo), hi);
  }
}

data {
  // treatments and classes
  int<lower=1> T;
  int<lower=2> M;
  array[T] int<lower=1, upper=M> class_idx;
  vector[T] is_ablation;
  // piecewise baseline: segments [lo_k, hi_k); the last one is open (hi, width unused)
  int<lower=1> S;
  vector[S] seg_lo;
  vector[S] seg_hi;
  vector[S] seg_width;
  // arms (study arms and population-level pseudo-arms)
  int<lower=1> A;
  int<lower=1> N_study;
  array[A] int<lower=1, upper=T> arm_t;
  array[A] int<lower=1, upper=N_study> arm_s;
  vector[A] arm_mask;                     // 1 study arm, 0 population-level pseudo-arm
  int<lower=0> P;                          // bias populations (primary, mixed)
  array[A] int<lower=0, upper=P> arm_pop;  // 0 = recurrent
  // covariate levels, 1-based, last level = "nr" (effect 0)
  array[A] int<lower=1, upper=4> x_size;
  array[A] int<lower=1, upper=3> x_nod;
  array[A] int<lower=1, upper=3> x_rec;
  int<lower=1> K_prior;                    // prior-treatment effect levels (survival.covariates.PRIOR_LEVELS)
  array[A] int<lower=1, upper=K_prior+1> x_prior;
  array[A] int<lower=1, upper=2> x_stage;
  // latent arm sizes
  int<lower=0> L;
  array[L] int<lower=0, upper=2> lat_kind;  // 0 Dirichlet share, 1 lognormal prior, 2 fixed
  array[L] int<lower=0> lat_group;
  array[L] int<lower=0> lat_pos;
  array[L] int<lower=0> lat_z;
  vector[L] lat_const;
  int<lower=0> G;                           // share groups (all with K members)
  int<lower=0> K;
  vector[G] group_total;
  real<lower=0> share_concentration;
  int<lower=0> N_lognormal;
  real lat_log_mean;
  real<lower=0> lat_log_sd;
  // landmarks with a known n: binomial deaths in (t_prev, t]
  int<lower=0> N_lm;
  array[N_lm] int<lower=1, upper=A> lm_arm;
  matrix[N_lm, S] lm_dexp;                  // exposure(t) - exposure(t_prev)
  array[N_lm] int<lower=0> lm_at_risk;
  array[N_lm] int<lower=0> lm_deaths;
  // landmarks with a latent n: logit-normal on the conditional survival
  int<lower=0> N_lml;
  array[N_lml] int<lower=1, upper=A> lml_arm;
  matrix[N_lml, S] lml_dexp;
  array[N_lml] int<lower=1, upper=L> lml_latent;
  vector[N_lml] lml_factor;                 // s_prev * censor
  vector[N_lml] lml_cond;
  // medians without CI, known n: binomial alive at the median
  int<lower=0> N_med;
  array[N_med] int<lower=1, upper=A> med_arm;
  matrix[N_med, S] med_exp;
  array[N_med] int<lower=0> med_at_risk;
  array[N_med] int<lower=0> med_alive;
  // medians without CI, latent n
  int<lower=0> N_medl;
  array[N_medl] int<lower=1, upper=A> medl_arm;
  matrix[N_medl, S] medl_exp;
  array[N_medl] int<lower=1, upper=L> medl_latent;
  vector[N_medl] medl_censor;
  // medians with a 95% CI: log median ~ N(log model median, se)
  int<lower=0> N_medci;
  array[N_medci] int<lower=1, upper=A> medci_arm;
  vector[N_medci] medci_log_time;
  vector<lower=0>[N_medci] medci_se;
  // hazard ratios (within study, or pooled contrasts that add sigma_study^2)
  int<lower=0> N_hr;
  array[N_hr] int<lower=1, upper=A> hr_arm;
  array[N_hr] int<lower=1, upper=A> hr_comp;
  vector[N_hr] hr_log;
  vector<lower=0>[N_hr] hr_se;
  vector[N_hr] hr_add;
  // pooled landmarks: log(-log S) ~ N(log H(theta_pop, t), v(n) + add sigma_study^2 / k)
  int<lower=0> N_pl;
  array[N_pl] int<lower=1, upper=A> pl_arm;
  matrix[N_pl, S] pl_exp;
  vector[N_pl] pl_x;                        // log(-log s)
  vector[N_pl] pl_v_unit;                   // (1 - s) / (s log(s)^2): v = pl_v_unit / n_eff
  vector[N_pl] pl_n;                        // known n (unused where latent)
  array[N_pl] int<lower=0, upper=L> pl_latent;
  vector[N_pl] pl_censor;
  vector<lower=1>[N_pl] pl_k;
  real<lower=0> add_between_study;
  // ranges across k studies: min/max order statistics
  int<lower=0> N_rg;
  array[N_rg] int<lower=1, upper=A> rg_arm;
  matrix[N_rg, S] rg_exp;
  vector[N_rg] rg_x_high;                   // log(-log high)
  vector[N_rg] rg_x_low;
  vector[N_rg] rg_v;
  vector<lower=2>[N_rg] rg_k;
  // secondary outcomes (logit-binomial sub-models)
  int<lower=0> O;
  int<lower=0> N_sec_study;                 // sum over outcomes of their studies
  int<lower=0> N_sec;
  array[N_sec] int<lower=1> sec_outcome;
  array[N_sec] int<lower=1, upper=T> sec_t;
  array[N_sec] int<lower=1> sec_study;      // flat index into the outcomes' study effects
  array[N_sec_study] int<lower=1> sec_study_outcome;  // the outcome of each flat study effect
  array[N_sec] int<lower=0, upper=L> sec_latent;  // 0 = known n
  array[N_sec] int<lower=0> sec_n;
  array[N_sec] int<lower=0> sec_events;
  vector[N_sec] sec_p_obs;
  // length of stay (normal on reported means)
  int<lower=0, upper=1> has_los;
  int<lower=0> N_los;
  array[N_los] int<lower=1, upper=T> los_t;
  vector[N_los] los_mean;
  vector<lower=0>[N_los] los_se;
  // priors
  real baseline_log_hazard_mean;
  real<lower=0> baseline_log_hazard_sd;
  real<lower=0> segment_step_sd;
  real<lower=0> class_effect_sd;
  real<lower=0> treatment_sd;
  real<lower=0> study_sd;
  real<lower=0> covariate_sd;
  real advanced_stage_mean;
  real<lower=0> advanced_stage_sd;
  real<lower=0> population_bias_sd;
  real<lower=0> secondary_intercept_sd;
  real<lower=0> secondary_effect_sd;
}

transformed data {
  real log_2pi = log(2 * pi());
}

parameters {
  real gamma_first;
  vector[S - 1] gamma_steps;
  vector[M - 1] class_effect_free;
  real<lower=0> tau_treatment;
  vector[T] z_treatment;
  real size_3to5_offset;
  vector<lower=0>[2] size_steps;
  vector<lower=0>[2] ablation_size_steps;
  vector<lower=0>[2] nodularity_steps;
  vector<lower=0>[2] recurrence_steps;
  vector[K_prior] beta_prior;
  vector[1] beta_stage;
  real<lower=0> sigma_study;
  vector[N_study] z_study;
  vector<lower=0>[P > 0 ? 1 : 0] sigma_population;
  vector[P] z_population;
  array[G] simplex[K] n_share;
  vector[N_lognormal] z_latent_n;
  vector[O] sec_level;                      // intercept + sigma * mean(z_study): what the data pin
  array[O] vector[M - 1] sec_class_free;
  vector<lower=0>[O] sec_tau_treatment;
  array[O] vector[T] sec_z_treatment;
  vector<lower=0>[O] sec_sigma_study;
  vector[N_sec_study] sec_z_study;
  vector[has_los] los_log_intercept;
  array[has_los] vector[M - 1] los_class_free;
  vector<lower=0>[has_los] los_tau_treatment;
  array[has_los] vector[T] los_z_treatment;
}

transformed parameters {
  vector[S] gamma = append_row(rep_vector(gamma_first, 1), gamma_first + cumulative_sum(gamma_steps));
  vector[M] class_effect = zero_sum(class_effect_free);
  vector[T] mu = class_effect[class_idx] + tau_treatment * centred_within_class(z_treatment, class_idx, M);
  vector[3] beta_size = [size_3to5_offset - size_steps[1], size_3to5_offset, size_3to5_offset + size_steps[2]]';
  vector[3] beta_size_ablation = [-ablation_size_steps[1], 0, ablation_size_steps[2]]';
  vector[2] beta_nodularity = [-nodularity_steps[1], nodularity_steps[2]]';
  vector[2] beta_recurrence = [recurrence_steps[1], -recurrence_steps[2]]';
  vector[P] delta_population;
  vector[L] latent_n;
  vector[A] theta;
  if (P > 0) delta_population = sigma_population[1] * z_population;
  for (i in 1:L) {
    if (lat_kind[i] == 0) latent_n[i] = group_total[lat_group[i]] * n_share[lat_group[i]][lat_pos[i]];
    else if (lat_kind[i] == 1) latent_n[i] = exp(lat_log_mean + lat_log_sd * z_latent_n[lat_z[i]]);
    else latent_n[i] = lat_const[i];
  }
  {
    vector[4] size_pad = append_row(beta_size, 0);
    vector[4] abl_pad = append_row(beta_size_ablation, 0);
    vector[3] nod_pad = append_row(beta_nodularity, 0);
    vector[3] rec_pad = append_row(beta_recurrence, 0);
    vector[K_prior + 1] prior_pad = append_row(beta_prior, 0);
    vector[2] stage_pad = append_row(beta_stage, 0);
    vector[P + 1] pop_pad = append_row(rep_vector(0, 1), delta_population);
    theta = mu[arm_t] + size_pad[x_size] + is_ablation[arm_t] .* abl_pad[x_size] + nod_pad[x_nod]
            + rec_pad[x_rec] + prior_pad[x_prior] + stage_pad[x_stage]
            + arm_mask .* (sigma_study * z_study[arm_s]);
    for (a in 1:A) theta[a] += pop_pad[arm_pop[a] + 1];
  }
}

model {
  vector[S] h0 = exp(gamma);
  // --- priors -------------------------------------------------------------------------
  gamma_first ~ normal(baseline_log_hazard_mean, baseline_log_hazard_sd);
  gamma_steps ~ normal(0, segment_step_sd);
  class_effect ~ zero_sum_normal(class_effect_sd);
  tau_treatment ~ gamma(2, 2 / treatment_sd);
  z_treatment ~ std_normal();
  size_3to5_offset ~ normal(0, covariate_sd);
  size_steps ~ normal(0, covariate_sd);
  ablation_size_steps ~ normal(0, covariate_sd);
  nodularity_steps ~ normal(0, covariate_sd);
  recurrence_steps ~ normal(0, covariate_sd);
  beta_prior ~ normal(0, covariate_sd);
  beta_stage ~ normal(advanced_stage_mean, advanced_stage_sd);
  sigma_study ~ gamma(2, 2 / study_sd);
  z_study ~ std_normal();
  sigma_population ~ normal(0, population_bias_sd);
  z_population ~ std_normal();
  for (g in 1:G) n_share[g] ~ dirichlet(rep_vector(share_concentration, K));
  z_latent_n ~ std_normal();

  // --- survival likelihood ------------------------------------------------------------
  if (N_lm > 0) {
    vector[N_lm] d_h = exp(theta[lm_arm]) .* (lm_dexp * h0);
    lm_deaths ~ binomial(lm_at_risk, clip(-expm1(-d_h), 1e-12, 1 - 1e-12));
  }
  if (N_lml > 0) {
    vector[N_lml] d_h = exp(theta[lml_arm]) .* (lml_dexp * h0);
    target += logit_normal_lpdf(lml_cond | clip(exp(-d_h), 1e-9, 1 - 1e-9),
                                latent_n[lml_latent] .* lml_factor);
  }
  if (N_med > 0) {
    vector[N_med] surv = exp(-exp(theta[med_arm]) .* (med_exp * h0));
    med_alive ~ binomial(med_at_risk, clip(surv, 1e-12, 1 - 1e-12));
  }
  if (N_medl > 0) {
    vector[N_medl] surv = clip(exp(-exp(theta[medl_arm]) .* (medl_exp * h0)), 1e-9, 1 - 1e-9);
    target += logit_normal_lpdf(rep_vector(0.5, N_medl) | surv, latent_n[medl_latent] .* medl_censor);
  }
  for (i in 1:N_medci) {
    real m = inverse_cumhaz(theta[medci_arm[i]], gamma, seg_lo, seg_hi, seg_width, log(2));
    medci_log_time[i] ~ normal(log(m), medci_se[i]);
  }
  if (N_hr > 0)
    hr_log ~ normal(theta[hr_arm] - theta[hr_comp], sqrt(square(hr_se) + hr_add * square(sigma_study)));
  if (N_pl > 0) {
    vector[N_pl] n = pl_n;
    for (i in 1:N_pl) if (pl_latent[i] > 0) n[i] = latent_n[pl_latent[i]];
    vector[N_pl] var_pl = pl_v_unit ./ (n .* pl_censor) + add_between_study * square(sigma_study) ./ pl_k;
    target += normal_lpdf(pl_x | theta[pl_arm] + log(pl_exp * h0), sqrt(var_pl));
  }
  if (N_rg > 0) {
    vector[N_rg] log_h0 = log(rg_exp * h0);            // H(t) at theta = 0 (proportional hazards)
    vector[N_rg] sd = sqrt(square(sigma_study) + rg_v);
    vector[N_rg] th = theta[rg_arm];
    vector[N_rg] za = (rg_x_high - log_h0 - th) ./ sd;  // highest survival = smallest theta
    vector[N_rg] zb = (rg_x_low - log_h0 - th) ./ sd;
    for (i in 1:N_rg) {
      target += log(rg_k[i] * (rg_k[i] - 1)) + std_normal_lpdf(za[i]) + std_normal_lpdf(zb[i]) - 2 * log(sd[i]);
      if (rg_k[i] > 2)
        target += (rg_k[i] - 2) * log(fmin(fmax(Phi(zb[i]) - Phi(za[i]), 1e-300), 1.0));
    }
  }

  // --- secondary outcomes -------------------------------------------------------------
  {
    array[O] vector[T] eff;
    for (o in 1:O) {
      vector[M] cls = zero_sum(sec_class_free[o]);
      cls ~ zero_sum_normal(secondary_effect_sd);
      eff[o] = cls[class_idx] + sec_tau_treatment[o] * centred_within_class(sec_z_treatment[o], class_idx, M);
      sec_z_treatment[o] ~ std_normal();
    }
    vector[O] z_mean = sec_z_mean(sec_z_study, sec_study_outcome, O);
    // intercept = level - sigma * mean(z) ~ N(0, sd), as a prior on the level (exact, Jacobian 1)
    sec_level ~ normal(sec_sigma_study .* z_mean, secondary_intercept_sd);
    sec_tau_treatment ~ gamma(2, 2 / treatment_sd);
    sec_sigma_study ~ gamma(2, 2 / (2 * study_sd));
    sec_z_study ~ std_normal();
    for (i in 1:N_sec) {
      int o = sec_outcome[i];
      real logit_p = sec_level[o] + eff[o][sec_t[i]]
                     + sec_sigma_study[o] * (sec_z_study[sec_study[i]] - z_mean[o]);
      if (sec_latent[i] == 0) {
        sec_events[i] ~ binomial_logit(sec_n[i], logit_p);
      } else {
        real n = latent_n[sec_latent[i]];
        real q = (n * sec_p_obs[i] + 0.5) / (n + 1.0);
        target += normal_lpdf(logit(q) | logit_p, inv_sqrt(n * q * (1 - q)));
      }
    }
  }
  if (has_los) {
    vector[M] cls = zero_sum(los_class_free[1]);
    cls ~ zero_sum_normal(secondary_effect_sd);
    los_log_intercept ~ normal(log(7.0), 1.0);
    los_tau_treatment ~ gamma(2, 2 / treatment_sd);
    los_z_treatment[1] ~ std_normal();
    vector[T] days = exp(los_log_intercept[1] + cls[class_idx]
                         + los_tau_treatment[1] * centred_within_class(los_z_treatment[1], class_idx, M));
    los_mean ~ normal(days[los_t], los_se);
  }
}

generated quantities {
  // secondary-outcome class effects and per-treatment probabilities, as PyMC reports them
  array[O] vector[M] sec_class_effect;
  array[O] vector[T] sec_probability;
  vector[O] sec_intercept = sec_level - sec_sigma_study .* sec_z_mean(sec_z_study, sec_study_outcome, O);
  for (o in 1:O) {
    sec_class_effect[o] = zero_sum(sec_class_free[o]);
    sec_probability[o] = inv_logit(sec_intercept[o] + sec_class_effect[o][class_idx]
                                   + sec_tau_treatment[o] * centred_within_class(sec_z_treatment[o], class_idx, M));
  }
}
